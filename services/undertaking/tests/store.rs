//! The SQL that decides things, against a fresh database: a new hop's
//! withdrawal, parts, returns, and one lead answer per round.

mod support;

use hotline_common::ErrorCode;
use hotline_common::audit::Entry;
use hotline_common::outbox::Tx;
use hotline_proto::common::v1::{Feedback, FeedbackOutcome, TicketStatus};
use hotline_undertaking::assignments::rules::{
    Assignment, NewAssignment, Role, State, ticket_status,
};
use hotline_undertaking::assignments::store as assignments;
use hotline_undertaking::feedback::store::{self as feedback, Answer};
use hotline_undertaking::hops::rules::InForce;
use hotline_undertaking::hops::{self, store as hops_store};
use hotline_undertaking::returns::rules::{NewReturn, ReturnReason, ReturnState};
use hotline_undertaking::returns::store as returns;
use sqlx::{PgPool, Row};
use support::*;

/// Records a hop's units (lead first) as CreateAssignments does for a
/// ticket without a hop in force yet, or at the hop in force.
async fn record_hop(db: &TestDb, no: &str, hop: i32, units: &[(&str, Role)]) -> Vec<Assignment> {
    let ctx = db.ctx();
    let at = now();
    let mut tx = db.pool.begin().await.unwrap();
    let in_force = hops_store::lock_or_begin(&mut tx, &ticket_no(no), hop, units.is_empty(), at)
        .await
        .unwrap();
    for (u, role) in units {
        let new = NewAssignment {
            unit_id: unit(u),
            role: *role,
            sign_deadline: at + minutes(60),
            feedback_deadline: at + minutes(600),
        };
        let inserted = assignments::insert(
            &mut tx,
            &ctx.policy,
            &ticket(no, at - minutes(5)),
            &ticket_no(no),
            hop,
            in_force.map_or(1, |f| f.round),
            at,
            &new,
        )
        .await
        .unwrap();
        assert!(inserted);
    }
    let mut all = assignments::by_ticket(&mut tx, &ticket_no(no))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    all.retain(|a| a.hop == hop);
    all
}

async fn sign(pool: &PgPool, a: &Assignment) {
    let mut tx = pool.begin().await.unwrap();
    assignments::mark_signed(&mut tx, a.id, now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn state_of(pool: &PgPool, a: &Assignment) -> State {
    let mut tx = pool.begin().await.unwrap();
    let s = assignments::lock(&mut tx, a.id)
        .await
        .unwrap()
        .unwrap()
        .state;
    tx.rollback().await.unwrap();
    s
}

async fn clock_running(pool: &PgPool, id: &str) -> bool {
    sqlx::query("SELECT stopped_at IS NULL AS running FROM clocks WHERE clock_id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
        .get("running")
}

/// Begins `hop` (to units) as BeginHop does, in one transaction.
async fn begin(
    pool: &PgPool,
    no: &str,
    hop: i32,
) -> Result<Vec<Assignment>, hotline_common::ApiError> {
    begin_to(pool, no, hop, false).await
}

/// Begins `hop`, to the manual queue or not, as BeginHop does.
async fn begin_to(
    pool: &PgPool,
    no: &str,
    hop: i32,
    manual_queue: bool,
) -> Result<Vec<Assignment>, hotline_common::ApiError> {
    let mut tx: Tx = pool.begin().await.unwrap();
    let at = now();
    let in_force = hops_store::lock_or_begin(&mut tx, &ticket_no(no), hop, manual_queue, at)
        .await?
        .expect("a hop in force");
    let mut entries: Vec<Entry> = Vec::new();
    let withdrawn = hops::advance(
        &mut tx,
        &service(),
        &ticket_no(no),
        in_force,
        hops::NewHop { hop, manual_queue },
        at,
        &mut entries,
    )
    .await?;
    tx.commit().await.unwrap();
    Ok(withdrawn)
}

/// The ticket's status as undertaking derives it in one query.
async fn status_of(pool: &PgPool, no: &str) -> TicketStatus {
    let mut conn = pool.acquire().await.unwrap();
    let facts = hops_store::status_facts(&mut conn, &[no]).await.unwrap();
    assert_eq!(facts.len(), 1, "{no}: {facts:?}");
    let f = facts[0].clone();
    ticket_status(f.manual_queue, f.round, f.lead, f.closed)
}

fn resolved() -> Feedback {
    Feedback {
        outcome: FeedbackOutcome::Resolved as i32,
        summary: "已解决".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_new_hop_withdraws_the_open_assignments_of_earlier_hops() {
    let db = TestDb::fresh().await;
    let hop1 = record_hop(
        &db,
        "HL-W-1",
        1,
        &[
            ("bj-heating-group", Role::Lead),
            ("bj-cmc", Role::Co),
            ("bj-housing", Role::Co),
        ],
    )
    .await;
    let (lead, cmc, housing) = (&hop1[0], &hop1[1], &hop1[2]);
    assert_eq!(lead.unit_id.as_str(), "bj-heating-group");
    // The lead returns it; one co-unit is signed; the other gave its part.
    let mut tx = db.pool.begin().await.unwrap();
    assignments::set_state(&mut tx, lead.id, State::ReturnRequested)
        .await
        .unwrap();
    let ret = returns::insert(
        &mut tx,
        lead,
        &NewReturn {
            reason: ReturnReason::NotOurDuty,
            duty_rule: "三定方案".into(),
            note: String::new(),
        },
        now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    sign(&db.pool, cmc).await;
    sign(&db.pool, housing).await;
    let mut tx = db.pool.begin().await.unwrap();
    feedback::mark_answered(&mut tx, housing.id, now(), Answer::Part("已配合"))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let withdrawn = begin(&db.pool, "HL-W-1", 2).await.expect("hop 2 begins");
    let ids: Vec<_> = withdrawn.iter().map(|a| a.id).collect();
    assert_eq!(ids, vec![lead.id, cmc.id], "the answered part stays");
    assert_eq!(state_of(&db.pool, lead).await, State::Withdrawn);
    assert_eq!(state_of(&db.pool, cmc).await, State::Withdrawn);
    assert_eq!(state_of(&db.pool, housing).await, State::FedBack);
    let ret = returns::get(&mut db.pool.acquire().await.unwrap(), ret.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ret.state, ReturnState::Accepted);
    for (a, stage) in [
        (lead, hotline_sla::Stage::SignOff),
        (lead, hotline_sla::Stage::Feedback),
        (cmc, hotline_sla::Stage::Feedback),
    ] {
        let id = a.clock_id(stage);
        assert!(!clock_running(&db.pool, &id).await, "{id} stopped");
    }
    let mut tx = db.pool.begin().await.unwrap();
    let in_force = hops_store::lock(&mut tx, &ticket_no("HL-W-1"), hops_store::Hold::Share)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(in_force, Some(InForce { hop: 2, round: 1 }));
    // The new hop's units are recorded at the hop in force and run.
    let hop2 = record_hop(&db, "HL-W-1", 2, &[("bj-water-group", Role::Lead)]).await;
    let id = assignments::clock_id(
        &hop2[0].ticket_no,
        hotline_sla::Stage::SignOff,
        &hop2[0].unit_id,
        2,
        1,
    );
    assert!(clock_running(&db.pool, &id).await);
    // Another hop later: nothing of hop 1 is left to withdraw.
    let again = begin(&db.pool, "HL-W-1", 3).await.unwrap();
    assert_eq!(
        again.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![hop2[0].id]
    );
}

#[tokio::test]
async fn a_round_answered_by_its_lead_takes_no_new_hop() {
    let db = TestDb::fresh().await;
    let hop1 = record_hop(&db, "HL-A-1", 1, &[("bj-heating-group", Role::Lead)]).await;
    sign(&db.pool, &hop1[0]).await;
    let mut tx = db.pool.begin().await.unwrap();
    feedback::mark_answered(&mut tx, hop1[0].id, now(), Answer::Feedback(&resolved()))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let e = begin(&db.pool, "HL-A-1", 2).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::FailedPrecondition);
    assert!(
        e.message.contains("answered") && e.message.contains("bj-heating-group"),
        "{}",
        e.message
    );
    let mut tx = db.pool.begin().await.unwrap();
    let in_force = hops_store::lock(&mut tx, &ticket_no("HL-A-1"), hops_store::Hold::Share)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(
        in_force.map(|f| f.hop),
        Some(1),
        "the refused hop left nothing behind"
    );
}

#[tokio::test]
async fn the_lead_waits_for_every_co_units_part() {
    let db = TestDb::fresh().await;
    let hop1 = record_hop(
        &db,
        "HL-P-1",
        1,
        &[
            ("bj-health", Role::Lead),
            ("bj-cdc", Role::Co),
            ("district-gov-110105", Role::Co),
        ],
    )
    .await;
    let missing = |pool: PgPool| async move {
        let mut tx = pool.begin().await.unwrap();
        let m = feedback::parts_missing(&mut tx, &ticket_no("HL-P-1"), 1)
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        m.iter().map(|u| u.to_string()).collect::<Vec<_>>()
    };
    assert_eq!(
        missing(db.pool.clone()).await,
        ["bj-cdc", "district-gov-110105"]
    );
    sign(&db.pool, &hop1[1]).await;
    let mut tx = db.pool.begin().await.unwrap();
    let part = feedback::mark_answered(&mut tx, hop1[1].id, now(), Answer::Part("流调完成"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(part.part.as_deref(), Some("流调完成"));
    assert!(part.feedback.is_none());
    assert_eq!(missing(db.pool.clone()).await, ["district-gov-110105"]);
    // Another hop's co-units are not this hop's parts.
    assert!(hop1.iter().all(|a| a.hop == 1));
    let id = assignments::clock_id(
        &part.ticket_no,
        hotline_sla::Stage::Feedback,
        &part.unit_id,
        1,
        1,
    );
    assert!(
        !clock_running(&db.pool, &id).await,
        "the part stops its feedback clock"
    );
}

/// Waits until some backend of this database waits for a lock: the
/// sentinel that a second transaction is blocked behind the first.
async fn someone_waits_for_a_lock(pool: &PgPool) {
    for _ in 0..200 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the second answer never waited for the first");
}

#[tokio::test]
async fn two_lead_answers_in_one_round_cannot_both_be_stored() {
    let db = TestDb::fresh().await;
    // Two hops whose leads both hold signed assignments: the race that
    // used to leave the old hop open while the new one was recorded.
    let old = record_hop(&db, "HL-R-1", 1, &[("bj-heating-group", Role::Lead)]).await;
    let mut tx = db.pool.begin().await.unwrap();
    sqlx::query("UPDATE ticket_hops SET hop = 2 WHERE ticket_no = 'HL-R-1'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let new = record_hop(&db, "HL-R-1", 2, &[("bj-water-group", Role::Lead)]).await;
    sign(&db.pool, &old[0]).await;
    sign(&db.pool, &new[0]).await;

    let fb = resolved();
    let mut first = db.pool.begin().await.unwrap();
    feedback::mark_answered(&mut first, old[0].id, now(), Answer::Feedback(&fb))
        .await
        .expect("the first answer, not committed yet");
    let pool = db.pool.clone();
    let second_id = new[0].id;
    let second = tokio::spawn(async move {
        let fb = resolved();
        let mut tx = pool.begin().await.unwrap();
        let r = feedback::mark_answered(&mut tx, second_id, now(), Answer::Feedback(&fb)).await;
        if r.is_ok() {
            tx.commit().await.unwrap();
        }
        r
    });
    let mut second = second;
    // Either the second answer waits behind the first (the database holds
    // the round), or it is already through: then nothing held it.
    let done_early = tokio::select! {
        () = someone_waits_for_a_lock(&db.pool) => None,
        r = &mut second => Some(r.unwrap()),
    };
    first.commit().await.unwrap();
    let second = match done_early {
        Some(r) => r,
        None => second.await.unwrap(),
    };
    let e = second.expect_err("one lead answer per round");
    assert_eq!(e.code, ErrorCode::FailedPrecondition);
    assert!(e.message.contains("already answered"), "{}", e.message);
    let answered: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM assignments WHERE ticket_no = 'HL-R-1' AND state = 'fed_back'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(answered, 1);
}

#[tokio::test]
async fn returns_are_accepted_by_the_hop_that_moved_the_ticket_and_listed_in_pages() {
    let db = TestDb::fresh().await;
    let mut rids = Vec::new();
    for no in ["HL-T-1", "HL-T-2", "HL-T-3"] {
        let a = record_hop(&db, no, 1, &[("bj-heating-group", Role::Lead)]).await;
        let mut tx = db.pool.begin().await.unwrap();
        assignments::set_state(&mut tx, a[0].id, State::ReturnRequested)
            .await
            .unwrap();
        let r = returns::insert(
            &mut tx,
            &a[0],
            &NewReturn {
                reason: ReturnReason::WrongCategory,
                duty_rule: "燃气属燃气集团".into(),
                note: String::new(),
            },
            now(),
        )
        .await
        .unwrap();
        // A second pending return of one assignment is a wrong state.
        let twice = returns::insert(
            &mut tx,
            &a[0],
            &NewReturn {
                reason: ReturnReason::WrongCategory,
                duty_rule: "x".into(),
                note: String::new(),
            },
            now(),
        )
        .await
        .unwrap_err();
        assert_eq!(twice.code, ErrorCode::FailedPrecondition);
        tx.rollback().await.unwrap();
        let mut tx = db.pool.begin().await.unwrap();
        assignments::set_state(&mut tx, a[0].id, State::ReturnRequested)
            .await
            .unwrap();
        let r2 = returns::insert(
            &mut tx,
            &a[0],
            &NewReturn {
                reason: ReturnReason::WrongCategory,
                duty_rule: r.duty_rule.clone(),
                note: String::new(),
            },
            now(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        rids.push(r2.id);
    }
    // Every pending one, oldest first, two a page.
    let pending = returns::Filter {
        ticket_no: None,
        unit_id: None,
    };
    let page1 = returns::page(&db.pool, &pending, None, 3).await.unwrap();
    assert_eq!(page1.iter().map(|r| r.id).collect::<Vec<_>>(), rids);
    let after = hotline_common::paging::Cursor::new(page1[1].requested_at, page1[1].id.to_string());
    let page2 = returns::page(&db.pool, &pending, Some(&after), 3)
        .await
        .unwrap();
    assert_eq!(
        page2.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![rids[2]]
    );
    let others = returns::Filter {
        ticket_no: None,
        unit_id: Some("bj-cmc"),
    };
    assert!(
        returns::page(&db.pool, &others, None, 3)
            .await
            .unwrap()
            .is_empty()
    );

    // The centre rejects one; the re-dispatch made for it accepts it after all.
    let mut tx = db.pool.begin().await.unwrap();
    returns::reject(&mut tx, rids[0], "请签收", now())
        .await
        .unwrap();
    assert!(
        returns::accept_for_hop(&mut tx, rids[0], 2, now())
            .await
            .unwrap()
            .is_some_and(|r| r.state == ReturnState::Accepted)
    );
    assert!(
        returns::accept_for_hop(&mut tx, rids[0], 2, now())
            .await
            .unwrap()
            .is_none()
    );
    tx.commit().await.unwrap();
    let r = returns::get(&mut db.pool.acquire().await.unwrap(), rids[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.state, ReturnState::Accepted);
    assert!(r.decision_note.contains("hop 2"), "{}", r.decision_note);
    let one = returns::Filter {
        ticket_no: Some(&ticket_no("HL-T-1")),
        unit_id: None,
    };
    let of_ticket = returns::page(&db.pool, &one, None, 10).await.unwrap();
    assert_eq!(of_ticket.len(), 1, "a ticket's list keeps decided returns");
    let still_pending = returns::page(&db.pool, &pending, None, 10).await.unwrap();
    assert_eq!(still_pending.len(), 2);
}

#[tokio::test]
async fn the_status_follows_the_lead_unit_of_the_hop_in_force() {
    let db = TestDb::fresh().await;
    let no = "HL-S-1";
    let hop1 = record_hop(
        &db,
        no,
        1,
        &[("bj-heating-group", Role::Lead), ("bj-cmc", Role::Co)],
    )
    .await;
    assert_eq!(status_of(&db.pool, no).await, TicketStatus::Routed);
    // A co-unit signing changes nothing; the lead signing does.
    sign(&db.pool, &hop1[1]).await;
    assert_eq!(status_of(&db.pool, no).await, TicketStatus::Routed);
    sign(&db.pool, &hop1[0]).await;
    assert_eq!(status_of(&db.pool, no).await, TicketStatus::Signed);

    // Re-dispatched to the manual queue: the hop in force has no units.
    begin_to(&db.pool, no, 2, true).await.unwrap();
    assert_eq!(
        status_of(&db.pool, no).await,
        TicketStatus::AwaitingManualDispatch
    );
    // To units: routed while their assignments are on their way, then
    // the new lead's state.
    begin(&db.pool, no, 3).await.unwrap();
    assert_eq!(status_of(&db.pool, no).await, TicketStatus::Routed);
    let hop3 = record_hop(&db, no, 3, &[("bj-housing", Role::Lead)]).await;
    sign(&db.pool, &hop3[0]).await;
    let mut tx = db.pool.begin().await.unwrap();
    feedback::mark_answered(&mut tx, hop3[0].id, now(), Answer::Feedback(&resolved()))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(status_of(&db.pool, no).await, TicketStatus::Answered);
}
