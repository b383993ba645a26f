//! Ticket lifecycle events on RabbitMQ, end to end: one ticket driven over
//! gRPC from submission to the lead's answer yields exactly its facts, each
//! once, with the units and deadlines the services hold, from each
//! service's exchange; an event recorded while the broker cannot be
//! reached is published once it can; a rating and an appeal's decision
//! are published by intake; the idempotent consumer acts once on an event
//! published twice and dead-letters one that does not decode.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use hotline_common::bus::{Outgoing, Publisher};
use hotline_common::events::{self, consume, rules};
use hotline_proto::common::v1::{AssignmentRole, FeedbackOutcome};
use hotline_proto::events::v1::{LifecycleEvent, RoutedBy, Source, lifecycle_event::Fact};
use hotline_tests::{
    Options, SERVICES, System, answer_as_lead, assignments_of, cut_broker_access, eventually,
    heating_request, restore_broker_access,
};
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicGetOptions};
use lapin::types::{AMQPValue, FieldTable};
use prost::Message;

const PATIENCE: Duration = Duration::from_secs(60);

/// One message as the test queue received it.
#[derive(Debug, Clone)]
struct Got {
    exchange: String,
    routing_key: String,
    message_id: String,
    kind: String,
    content_type: String,
    delivery_mode: u8,
    body: Vec<u8>,
}

impl Got {
    fn event(&self) -> LifecycleEvent {
        rules::decode(&self.body).expect("a well-formed lifecycle event")
    }
}

/// A queue of the test's own, bound to every fact of every service.
struct Tap {
    _conn: lapin::Connection,
    _ch: lapin::Channel,
    consumer: lapin::Consumer,
    queue: String,
}

impl Tap {
    async fn open(sys: &System, queue: &str) -> Tap {
        let conn = hotline_common::bus::connect(&sys.amqp_url(), "test-tap")
            .await
            .expect("connect");
        let ch = conn.create_channel().await.expect("channel");
        events::declare_queue(&ch, queue, &events::all_facts())
            .await
            .expect("declare the test queue");
        let consumer = ch
            .basic_consume(
                queue.into(),
                "test-tap".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("consume");
        Tap {
            _conn: conn,
            _ch: ch,
            consumer,
            queue: queue.to_string(),
        }
    }

    async fn next(&mut self) -> Got {
        let d = tokio::time::timeout(PATIENCE, self.consumer.next())
            .await
            .expect("a message within the patience")
            .expect("consumer open")
            .expect("delivery");
        d.ack(BasicAckOptions::default()).await.expect("ack");
        let p = &d.properties;
        let s =
            |v: Option<&lapin::types::ShortString>| v.map(|s| s.to_string()).unwrap_or_default();
        Got {
            exchange: d.exchange.to_string(),
            routing_key: d.routing_key.to_string(),
            message_id: s(p.message_id().as_ref()),
            kind: s(p.kind().as_ref()),
            content_type: s(p.content_type().as_ref()),
            delivery_mode: p.delivery_mode().unwrap_or_default(),
            body: d.data.clone(),
        }
    }

    /// Everything the queue holds up to a sentinel sent once no service
    /// has an event left to publish: the complete stream so far.
    async fn all_so_far(&mut self, sys: &System) -> Vec<Got> {
        outboxes_empty(sys).await;
        let sentinel = uuid::Uuid::new_v4().to_string();
        let publisher = Publisher::with_topology(&sys.amqp_url(), "test-sentinel", events::declare);
        publisher
            .publish_each(&[Outgoing {
                exchange: "",
                routing_key: &self.queue,
                body: b"sentinel",
                message_id: &sentinel,
                kind: "sentinel",
            }])
            .await
            .expect("publish the sentinel")
            .remove(0)
            .expect("sentinel confirmed");
        let mut got = Vec::new();
        loop {
            let m = self.next().await;
            if m.message_id == sentinel {
                return got;
            }
            got.push(m);
        }
    }
}

/// A small pool on one schema of the system's database.
async fn pool(sys: &System, schema: &str) -> sqlx::PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect_with(
            format!("postgres://postgres@127.0.0.1:5432/{}", sys.db_name())
                .parse::<sqlx::postgres::PgConnectOptions>()
                .unwrap()
                .options([("search_path", schema)]),
        )
        .await
        .expect("pool")
}

/// Waits until no service has a lifecycle event waiting to be published.
async fn outboxes_empty(sys: &System) {
    for schema in SERVICES {
        let db = pool(sys, schema).await;
        eventually(PATIENCE, &format!("{schema}'s events published"), || {
            let db = db.clone();
            async move {
                let n: i64 = sqlx::query_scalar("SELECT count(*) FROM lifecycle_outbox")
                    .fetch_one(&db)
                    .await
                    .ok()?;
                (n == 0).then_some(())
            }
        })
        .await;
    }
}

fn fact(e: &LifecycleEvent) -> &Fact {
    e.fact.as_ref().expect("a fact")
}

/// Signs every assignment of the lead, has the co-units sign and submit
/// their parts, and the lead answer. Returns the ticket number.
async fn handle_to_the_answer(sys: &System, key: &str) -> String {
    let mut intake = sys.intake().await;
    let no = intake
        .submit(heating_request(key))
        .await
        .expect("submit")
        .into_inner()
        .ticket_no;
    answer_as_lead(
        sys,
        &no,
        "已协调热力站调整供热参数，室温恢复至20度，诉求人认可。",
    )
    .await;
    no
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_handled_to_the_answer_yields_each_of_its_facts_once() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let mut tap = Tap::open(&sys, "test.events.all").await;
    let no = handle_to_the_answer(&sys, "events-0001").await;
    let got = tap.all_so_far(&sys).await;

    // The message properties integrators rely on.
    let mut ids = HashSet::new();
    for m in &got {
        let e = m.event();
        assert_eq!(m.message_id, e.event_id, "{m:?}");
        assert!(ids.insert(e.event_id.clone()), "event {} twice", e.event_id);
        assert_eq!(m.kind, "hotline.events.v1.LifecycleEvent");
        assert_eq!(m.content_type, "application/x-protobuf");
        assert_eq!(m.delivery_mode, 2, "persistent");
        let source = rules::source_name(Source::try_from(e.source).unwrap()).unwrap();
        assert_eq!(m.exchange, format!("hotline.{source}.events"));
        assert_eq!(
            m.routing_key,
            format!("{source}.{}", rules::fact_name(fact(&e)))
        );
        assert_eq!(e.ticket_no, no);
    }

    // Exactly the facts of the path, each once, in each service's order.
    let keys: Vec<&str> = got.iter().map(|m| m.routing_key.as_str()).collect();
    let by_source = |prefix: &str| -> Vec<&str> {
        keys.iter()
            .copied()
            .filter(|k| k.starts_with(prefix))
            .collect()
    };
    assert_eq!(by_source("intake."), ["intake.accepted"]);
    assert_eq!(by_source("dispatch."), ["dispatch.routed"]);
    assert_eq!(
        by_source("undertaking."),
        [
            "undertaking.assigned",
            "undertaking.assigned",
            "undertaking.signed",
            "undertaking.part_submitted",
            "undertaking.signed",
            "undertaking.answered",
        ],
        "{keys:?}"
    );
    assert_eq!(got.len(), 8, "{keys:?}");

    // Each fact carries the units and deadlines the services hold.
    let assignments = assignments_of(&sys, &no).await;
    let held: BTreeMap<&str, _> = assignments
        .iter()
        .map(|a| (a.assignment_id.as_str(), a))
        .collect();
    for m in &got {
        let e = m.event();
        match fact(&e) {
            Fact::Accepted(a) => {
                assert_eq!(a.category_code, "heating");
                assert_eq!(a.district_code, "110105");
                let seconds = |t: &Option<prost_types::Timestamp>| t.as_ref().unwrap().seconds;
                assert!(seconds(&a.dispatch_deadline) > seconds(&a.accepted_at));
                assert_eq!(e.occurred_at, a.accepted_at);
            }
            Fact::Routed(r) => {
                assert_eq!(r.hop, 1);
                assert_eq!(r.routed_by, RoutedBy::Automatic as i32);
                assert!(r.within_limit && !r.manual_queue);
                let units: Vec<(&str, i32)> = r
                    .units
                    .iter()
                    .map(|u| (u.unit_id.as_str(), u.role))
                    .collect();
                assert_eq!(
                    units,
                    [
                        ("bj-heating-group", AssignmentRole::Lead as i32),
                        ("bj-cmc", AssignmentRole::Co as i32)
                    ]
                );
                for u in &r.units {
                    let a = assignments.iter().find(|a| a.unit_id == u.unit_id).unwrap();
                    assert_eq!(u.sign_deadline, a.sign_deadline);
                    assert_eq!(u.feedback_deadline, a.feedback_deadline);
                }
            }
            Fact::Assigned(f) => {
                let a = held[f.assignment_id.as_str()];
                assert_eq!(f.unit_id, a.unit_id);
                assert_eq!(f.role, a.role);
                assert_eq!((f.hop, f.round), (1, 1));
                assert_eq!(f.sign_deadline, a.sign_deadline);
                assert_eq!(f.feedback_deadline, a.feedback_deadline);
                assert_eq!(f.dispatched_at, a.dispatched_at);
            }
            Fact::Signed(f) => {
                let a = held[f.assignment_id.as_str()];
                assert_eq!(f.unit_id, a.unit_id);
                assert_eq!(f.signed_at, a.signed_at);
                assert_eq!(f.sign_deadline, a.sign_deadline);
                assert!(f.within_limit);
            }
            Fact::PartSubmitted(f) => {
                let a = held[f.assignment_id.as_str()];
                assert_eq!(
                    (f.unit_id.as_str(), a.role),
                    ("bj-cmc", AssignmentRole::Co as i32)
                );
                assert_eq!(f.feedback_deadline, a.feedback_deadline);
                assert!(f.within_limit);
            }
            Fact::Answered(f) => {
                let a = held[f.assignment_id.as_str()];
                assert_eq!(f.unit_id, "bj-heating-group");
                assert_eq!(f.feedback_deadline, a.feedback_deadline);
                assert_eq!(f.outcome, FeedbackOutcome::Resolved as i32);
                assert!(f.within_limit);
            }
            other => panic!("unexpected fact {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rating_and_its_appeal_decided_are_published_by_intake() {
    use hotline_common::auth::Role;
    use hotline_proto::intake::v1::intake_service_client::IntakeServiceClient;
    use hotline_proto::intake::v1::{
        AppealRatingRequest, ContactKind, DecideAppealRequest, ListContactsRequest,
        RateContactRequest, SatisfactionLevel,
    };
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let no = handle_to_the_answer(&sys, "events-rated").await;
    // The tap binds once the handling's events are all out: it hears only
    // what follows.
    outboxes_empty(&sys).await;
    let mut tap = Tap::open(&sys, "test.events.rated").await;
    let mut intake = sys.intake().await;
    let contact = intake
        .list_contacts(ListContactsRequest {
            ticket_no: no.clone(),
        })
        .await
        .expect("contacts")
        .into_inner()
        .contacts
        .remove(0);
    let rating = intake
        .rate_contact(RateContactRequest {
            ticket_no: no.clone(),
            contact_id: contact.contact_id.clone(),
            level: SatisfactionLevel::Dissatisfied as i32,
            ..Default::default()
        })
        .await
        .expect("rated")
        .into_inner()
        .rating
        .expect("a rating");
    let lead = assignments_of(&sys, &no)
        .await
        .into_iter()
        .find(|a| a.role == AssignmentRole::Lead as i32)
        .expect("a lead");
    let as_unit = sys.token(&[Role::UnitStaff], Some(&lead.unit_id));
    let appeal = IntakeServiceClient::new(sys.channel_with("intake", as_unit).await)
        .appeal_rating(AppealRatingRequest {
            rating_id: rating.rating_id.clone(),
            reason: "诉求人反映的问题已按政策答复，差评与办理无关。".into(),
            ..Default::default()
        })
        .await
        .expect("appealed")
        .into_inner()
        .appeal
        .expect("an appeal");
    let as_supervisor = sys.token(&[Role::Supervisor], None);
    IntakeServiceClient::new(sys.channel_with("intake", as_supervisor).await)
        .decide_appeal(DecideAppealRequest {
            appeal_id: appeal.appeal_id.clone(),
            uphold: true,
            note: "经核实，差评系误评。".into(),
            ..Default::default()
        })
        .await
        .expect("decided");

    let got = tap.all_so_far(&sys).await;
    let keys: Vec<&str> = got.iter().map(|m| m.routing_key.as_str()).collect();
    assert_eq!(keys, ["intake.rated", "intake.rating_appeal_decided"]);
    match fact(&got[0].event()) {
        Fact::Rated(r) => {
            assert_eq!(r.rating_id, rating.rating_id);
            assert_eq!(r.contact_id, contact.contact_id);
            assert_eq!(r.contact_kind, ContactKind::Intake as i32);
            assert_eq!(r.level, SatisfactionLevel::Dissatisfied as i32);
            assert!(r.rated_at.is_some());
        }
        other => panic!("not a rating: {other:?}"),
    }
    match fact(&got[1].event()) {
        Fact::RatingAppealDecided(d) => {
            assert_eq!(d.rating_id, rating.rating_id);
            assert_eq!(d.appeal_id, appeal.appeal_id);
            assert_eq!(d.unit_id, lead.unit_id);
            assert!(d.upheld);
        }
        other => panic!("not an appeal's decision: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_closed_on_its_answer_publishes_closed_once() {
    use hotline_proto::common::v1::TicketStatus;
    use hotline_proto::events::v1::ClosureCause;
    use hotline_proto::intake::v1::{GetTicketRequest, NotQueuedReason};
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    let mut tap = Tap::open(&sys, "test.events.closed").await;
    // The requester refused return visits: nothing is left to do once the
    // lead answers, so intake closes the ticket (办结) with the answer.
    let mut req = heating_request("events-closed");
    req.requester.as_mut().unwrap().return_visit_consent = false;
    let no = hotline_tests::supervision::submit_request(&sys, req).await;
    answer_as_lead(&sys, &no, "已协调热力站调整供热参数，室温恢复至20度。").await;
    let intake = sys.intake().await;
    eventually(PATIENCE, "the ticket closed", || {
        let mut intake = intake.clone();
        let no = no.clone();
        async move {
            let t = intake
                .get_ticket(GetTicketRequest { ticket_no: no })
                .await
                .ok()?
                .into_inner()
                .ticket?;
            (t.status == TicketStatus::Closed as i32).then_some(())
        }
    })
    .await;
    let got = tap.all_so_far(&sys).await;
    let closed: Vec<_> = got
        .iter()
        .filter(|m| m.routing_key == "intake.closed")
        .map(|m| m.event())
        .collect();
    assert_eq!(closed.len(), 1, "closed once");
    let lead = assignments_of(&sys, &no)
        .await
        .into_iter()
        .find(|a| a.role == AssignmentRole::Lead as i32)
        .expect("a lead");
    match fact(&closed[0]) {
        Fact::Closed(c) => {
            assert_eq!(c.cause, ClosureCause::NotVisited as i32);
            assert_eq!(c.not_queued_reason, NotQueuedReason::ConsentRefused as i32);
            assert_eq!(
                (c.unit_id.as_str(), c.hop, c.round),
                (lead.unit_id.as_str(), 1, 1)
            );
            assert!(!c.visit_id.is_empty());
            assert_eq!(closed[0].occurred_at, c.closed_at);
            let secs = |t: &Option<prost_types::Timestamp>| t.as_ref().unwrap().seconds;
            assert!(secs(&c.closed_at) >= secs(&lead.fed_back_at));
        }
        other => panic!("not a closing: {other:?}"),
    }
    assert_eq!(
        got.last().map(|m| m.routing_key.as_str()),
        Some("intake.closed"),
        "the ticket's last fact"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_default_rating_is_published_as_its_own_fact_once() {
    use hotline_proto::intake::v1::{ContactKind, ListContactsRequest, SatisfactionLevel};
    let policy = r#"
name = "test-default-ratings"
[ratings]
default_after = "1s"
"#;
    let sys = System::start(Options {
        policy: Some(hotline_tests::quiet_policy(policy)),
        ..Default::default()
    })
    .await
    .expect("system starts");
    let mut tap = Tap::open(&sys, "test.events.defaulted").await;
    let no =
        hotline_tests::supervision::submit_request(&sys, heating_request("events-default")).await;
    let intake = sys.intake().await;
    let contact = eventually(PATIENCE, "the default rating", || {
        let mut intake = intake.clone();
        let no = no.clone();
        async move {
            intake
                .list_contacts(ListContactsRequest { ticket_no: no })
                .await
                .ok()?
                .into_inner()
                .contacts
                .into_iter()
                .find(|c| c.defaulted_at.is_some())
        }
    })
    .await;
    let got = tap.all_so_far(&sys).await;
    let defaulted: Vec<_> = got
        .iter()
        .filter(|m| m.routing_key == "intake.rating_defaulted")
        .map(|m| m.event())
        .collect();
    assert_eq!(defaulted.len(), 1, "once");
    assert!(
        !got.iter().any(|m| m.routing_key == "intake.rated"),
        "never as a rating"
    );
    match fact(&defaulted[0]) {
        Fact::RatingDefaulted(d) => {
            assert_eq!(d.contact_id, contact.contact_id);
            assert_eq!(d.contact_kind, ContactKind::Intake as i32);
            assert_eq!(d.level, SatisfactionLevel::Satisfied as i32);
            assert_eq!(d.policy, "test-default-ratings");
            assert_eq!(d.defaulted_at, contact.defaulted_at);
            assert_eq!(defaulted[0].ticket_no, no);
        }
        other => panic!("not a default rating: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_recorded_while_the_broker_is_out_of_reach_is_published_after() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    // The queue exists before the outage, so what is published after it
    // is routed to it.
    drop(Tap::open(&sys, "test.events.outage").await);
    cut_broker_access(&sys).expect("cut the broker off");
    let no = sys
        .intake()
        .await
        .submit(heating_request("events-outage"))
        .await
        .expect("submit works without the broker")
        .into_inner()
        .ticket_no;
    // The accepted event waits in intake's outbox, and publishing it failed.
    let db = pool(&sys, "intake").await;
    let error: String = eventually(PATIENCE, "a failed publish of the event", || {
        let db = db.clone();
        let no = no.clone();
        async move {
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT last_error FROM lifecycle_outbox WHERE ticket_no = $1 AND attempts > 0",
            )
            .bind(&no)
            .fetch_optional(&db)
            .await
            .ok()
            .flatten()
            .flatten()
        }
    })
    .await;
    assert!(!error.is_empty());
    restore_broker_access(&sys).expect("give the broker back");
    // Every service's outbox held its events through the outage and
    // publishes them after it, in no order across services: intake's comes
    // among the others.
    let mut tap = Tap::open(&sys, "test.events.outage").await;
    let mut before = Vec::new();
    let m = loop {
        let m = tap.next().await;
        if m.routing_key == "intake.accepted" {
            break m;
        }
        assert!(before.len() < 20, "no intake.accepted among {before:?}");
        before.push(m.routing_key);
    };
    assert_eq!(m.event().ticket_no, no);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_idempotent_consumer_acts_once_and_dead_letters_what_does_not_decode() {
    let sys = System::start(Options::default())
        .await
        .expect("system starts");
    // A read model in a schema of its own.
    let pool = pool(&sys, "readmodel").await;
    sqlx::query("CREATE SCHEMA readmodel")
        .execute(&pool)
        .await
        .unwrap();
    events::MIGRATOR.run(&pool).await.expect("migrate");
    sqlx::query(
        "CREATE TABLE seen (event_id UUID NOT NULL, fact TEXT NOT NULL, body BYTEA NOT NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let handler: consume::Handler = Arc::new(|tx, e| {
        Box::pin(async move {
            let id = uuid::Uuid::parse_str(&e.event_id).unwrap();
            sqlx::query("INSERT INTO seen (event_id, fact, body) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(rules::fact_name(e.fact.as_ref().unwrap()))
                .bind(rules::encode(e))
                .execute(&mut **tx)
                .await?;
            Ok(())
        })
    });
    let token = tokio_util::sync::CancellationToken::new();
    let consumer = tokio::spawn(consume::run(
        sys.amqp_url(),
        pool.clone(),
        consume::Subscription {
            consumer: "test-readmodel".into(),
            queue: "test.readmodel".into(),
            bindings: vec![(
                "hotline.intake.events".to_string(),
                "intake.accepted".to_string(),
            )],
            prefetch: 10,
        },
        handler,
        token.clone(),
    ));
    let seen = |id: Option<String>| {
        let pool = pool.clone();
        async move {
            let n: i64 = match id {
                Some(id) => sqlx::query_scalar("SELECT count(*) FROM seen WHERE event_id = $1")
                    .bind(uuid::Uuid::parse_str(&id).unwrap())
                    .fetch_one(&pool)
                    .await
                    .unwrap(),
                None => sqlx::query_scalar("SELECT count(*) FROM seen")
                    .fetch_one(&pool)
                    .await
                    .unwrap(),
            };
            n
        }
    };
    // The queue is declared by the consumer; the ticket is submitted once
    // it is bound.
    eventually(PATIENCE, "the consumer's queue", || async {
        let conn = hotline_common::bus::connect(&sys.amqp_url(), "probe")
            .await
            .ok()?;
        let ch = conn.create_channel().await.ok()?;
        let q = ch
            .queue_declare(
                "test.readmodel".into(),
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .ok();
        let _ = conn.close(200, "probe".into()).await;
        q.map(drop)
    })
    .await;
    sys.intake()
        .await
        .submit(heating_request("events-consumer"))
        .await
        .expect("submit");
    eventually(PATIENCE, "the accepted event acted on", || async {
        (seen(None).await == 1).then_some(())
    })
    .await;
    let (id, body): (uuid::Uuid, Vec<u8>) = sqlx::query_as("SELECT event_id, body FROM seen")
        .fetch_one(&pool)
        .await
        .unwrap();
    let again = rules::decode(&body).expect("the event as it was consumed");

    // The same event published again (same message id and body), then
    // garbage, then a new event as the sentinel: the repeat is not acted on.
    let publisher = Publisher::with_topology(&sys.amqp_url(), "test-republisher", events::declare);
    let sentinel = events::event(
        Source::Intake,
        &again.ticket_no,
        chrono::Utc::now(),
        again.fact.clone().unwrap(),
    );
    let (again_body, sentinel_body) = (again.encode_to_vec(), sentinel.encode_to_vec());
    let garbage_id = uuid::Uuid::new_v4().to_string();
    let outcomes = publisher
        .publish_each(&[
            Outgoing {
                exchange: "hotline.intake.events",
                routing_key: "intake.accepted",
                body: &again_body,
                message_id: &again.event_id,
                kind: rules::EVENT_TYPE,
            },
            Outgoing {
                exchange: "hotline.intake.events",
                routing_key: "intake.accepted",
                body: b"\xff\xff not protobuf",
                message_id: &garbage_id,
                kind: rules::EVENT_TYPE,
            },
            Outgoing {
                exchange: "hotline.intake.events",
                routing_key: "intake.accepted",
                body: &sentinel_body,
                message_id: &sentinel.event_id,
                kind: rules::EVENT_TYPE,
            },
        ])
        .await
        .expect("publish");
    assert!(outcomes.iter().all(|o| o.is_ok()), "{outcomes:?}");
    eventually(PATIENCE, "the sentinel acted on", || {
        let id = sentinel.event_id.clone();
        async { (seen(Some(id)).await == 1).then_some(()) }
    })
    .await;
    assert_eq!(seen(Some(id.to_string())).await, 1, "acted on once");
    assert_eq!(seen(None).await, 2);
    let consumed: i64 = sqlx::query_scalar("SELECT count(*) FROM consumed_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(consumed, 2);

    // The garbage went to the dead-letter queue with its reason.
    let conn = hotline_common::bus::connect(&sys.amqp_url(), "test-dead")
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let dead = eventually(PATIENCE, "the dead-lettered message", || async {
        ch.basic_get(
            events::DEAD_LETTER_QUEUE.into(),
            BasicGetOptions { no_ack: true },
        )
        .await
        .ok()
        .flatten()
    })
    .await;
    assert_eq!(
        dead.properties.message_id().as_ref().map(|s| s.to_string()),
        Some(garbage_id)
    );
    let reason = dead
        .properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get("x-hotline-reason").cloned());
    assert!(
        matches!(&reason, Some(AMQPValue::LongString(s)) if s.to_string().contains("not a LifecycleEvent")),
        "{reason:?}"
    );
    token.cancel();
    let _ = consumer.await;
}
