//! A load driver: tickets through their whole lifecycle over the public
//! gRPC contract only, as the centre and the handling units would drive
//! them.
//!
//! One lifecycle: intake `Submit` → routed (every unit the catalogue names
//! finds its assignment in its inbox: undertaking `ListAssignments`
//! polled per unit, or each unit's `WatchUnitEvents` stream; [`Feed`]) →
//! each unit `SignAssignment` → each co-unit
//! `SubmitPart` → the lead unit `SubmitFeedback`. The requests rotate
//! through [`mix`]: fourteen units, co-units on about half the tickets.
//!
//! Pacing is closed loop (a fixed number of lifecycles in flight) or open
//! loop (lifecycles started at a fixed rate, whatever the answers; submit
//! latency then counts from the planned start, so a driver that falls
//! behind does not hide the wait).
//!
//! Every call's latency goes to an HDR histogram per RPC and every answer's
//! gRPC code is counted per RPC (retries included: each try is a call).
//! [`Driver::verify`] then reads every ticket back through the contract.
//!
//! ## The client's retry rule
//!
//! - `UNAVAILABLE`: nothing was done, or (a commit whose answer was lost)
//!   it was done: retry after the RetryInfo delay (at most 1 s; 50 ms
//!   doubling when none). A state move retried after it was in fact done
//!   answers `FAILED_PRECONDITION` with the current state: the driver then
//!   reads the assignment back and counts it done when it is in the state
//!   the move leads to.
//! - `UNKNOWN`, `CANCELLED`, `DEADLINE_EXCEEDED` or a cut connection (the
//!   call may or may not have happened): every call the driver makes that
//!   changes state carries an idempotency key (`Submit`, and the sign, part
//!   and answer, keyed by their assignment) and is repeated with the same
//!   key, which returns the first call's answer if it landed. A state move
//!   without a key would be read back first and repeated only if the
//!   assignment has not moved.
//! - Anything else is an answer, not retried.
//!
//! Calls give up after [`Driver::patience`].

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use hotline_proto::common::v1::{AssignmentRole, Feedback, FeedbackOutcome};
use hotline_proto::intake::v1::SubmitRequest;
use hotline_proto::intake::v1::intake_service_client::IntakeServiceClient;
use hotline_proto::undertaking::v1::undertaking_service_client::UndertakingServiceClient;
use hotline_proto::undertaking::v1::{
    Assignment, AssignmentState, ListTicketAssignmentsRequest, SignAssignmentRequest,
    SubmitFeedbackRequest, SubmitPartRequest,
};
use tonic::{Code, Status};

pub use crate::inbox::Feed;
use crate::inbox::{Feeder, Inbox};
pub use crate::mix::{Kind, mix, mix_units};
pub use crate::stats::{
    Codes, Stats, code_name, codes_since, format_codes, format_latencies, percentiles_ms,
};
use crate::{Authed, CENTRE, System};

/// How lifecycles are started.
#[derive(Debug, Clone, Copy)]
pub enum Pace {
    /// This many lifecycles in flight, each started when one ends.
    Closed { in_flight: usize },
    /// Started at this rate, whatever the answers (at most 20,000 in
    /// flight: past that the driver waits, and says so).
    Open { per_second: f64 },
}

/// A ticket intake accepted, and the kind of request it was.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub ticket_no: String,
    pub kind: usize,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Run {
    pub elapsed: Duration,
    /// Lifecycles that went through to the lead's answer.
    pub completed: usize,
    /// Tickets intake accepted (answered or not).
    pub accepted: Vec<Accepted>,
    /// Lifecycles that stopped, and why (first 20 kept).
    pub failures: Vec<String>,
    pub failed: usize,
    /// Open loop: how long the starter ran behind its plan at worst.
    pub max_start_lag: Duration,
}

/// What reading every ticket back found.
#[derive(Debug, Default)]
pub struct Verification {
    /// The lead answered once, every co-unit's part is in, the units are
    /// the catalogue's and none is there twice.
    pub answered_once: usize,
    /// Not answered yet; its assignments open (pending or signed).
    pub open: Vec<String>,
    /// Anything else: a unit missing or doubled, two answers, …
    pub problems: Vec<String>,
}

/// Drives lifecycles against a [`System`]. Cheap to clone.
#[derive(Clone)]
pub struct Driver {
    intake: IntakeServiceClient<Authed>,
    centre: UndertakingServiceClient<Authed>,
    units: Arc<HashMap<&'static str, UndertakingServiceClient<Authed>>>,
    pub stats: Arc<Stats>,
    inbox: Arc<Inbox>,
    pollers: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    /// Ids start with this (idempotency keys: `<run>-<n>`).
    pub run_id: String,
    next: Arc<AtomicUsize>,
    /// How long one call (with its retries) or the wait for routing may
    /// take before the lifecycle is given up.
    pub patience: Duration,
    /// A unit's inbox is polled at least this often.
    pub poll_every: Duration,
}

impl Driver {
    /// Clients for the centre and for each unit of the mix (each unit on a
    /// connection of its own, as separate offices would be), and one
    /// inbox poller per unit.
    pub async fn new(sys: &System) -> Driver {
        Driver::with_feed(sys, Feed::Poll).await
    }

    /// As [`Driver::new`], the units learning of their new assignments by
    /// `feed`: polling their inboxes, or watching their event streams.
    pub async fn with_feed(sys: &System, feed: Feed) -> Driver {
        let mut units = HashMap::new();
        for u in mix_units() {
            units.insert(u, sys.undertaking_as(u).await);
        }
        let d = Driver {
            intake: sys.intake().await,
            centre: UndertakingServiceClient::new(
                sys.channel_with("undertaking", sys.token(CENTRE, None))
                    .await,
            ),
            units: Arc::new(units),
            stats: Arc::new(Stats::default()),
            inbox: Arc::new(Inbox::default()),
            pollers: Arc::new(Mutex::new(Vec::new())),
            run_id: format!("load-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
            next: Arc::new(AtomicUsize::new(0)),
            patience: Duration::from_secs(120),
            poll_every: Duration::from_millis(20),
        };
        let handles: Vec<_> = mix_units()
            .into_iter()
            .map(|u| {
                let feeder = Feeder {
                    unit: u,
                    client: d.units[u].clone(),
                    inbox: d.inbox.clone(),
                    stats: d.stats.clone(),
                    every: d.poll_every,
                };
                tokio::spawn(match feed {
                    Feed::Poll => {
                        Box::pin(feeder.poll()) as Pin<Box<dyn Future<Output = ()> + Send>>
                    }
                    Feed::Watch => Box::pin(feeder.watch()),
                })
            })
            .collect();
        d.pollers.lock().expect("pollers").extend(handles);
        d
    }

    /// Stops the inbox feeders.
    pub fn stop(&self) {
        for h in self.pollers.lock().expect("pollers").drain(..) {
            h.abort();
        }
    }

    /// Runs `tickets` lifecycles at `pace`.
    pub async fn run(&self, tickets: usize, pace: Pace) -> Run {
        self.run_while(tickets, pace, Arc::new(AtomicBool::new(true)))
            .await
    }

    /// Runs lifecycles in a closed loop while `going` holds (those started
    /// finish), at most `tickets`.
    pub async fn run_while(&self, tickets: usize, pace: Pace, going: Arc<AtomicBool>) -> Run {
        let started = Instant::now();
        let out = Arc::new(Mutex::new(Run::default()));
        let first = self.next.fetch_add(tickets, Ordering::SeqCst);
        match pace {
            Pace::Closed { in_flight } => {
                let counter = Arc::new(AtomicUsize::new(0));
                let workers = (0..in_flight.max(1)).map(|_| {
                    let (d, counter, out, going) =
                        (self.clone(), counter.clone(), out.clone(), going.clone());
                    tokio::spawn(async move {
                        loop {
                            let i = counter.fetch_add(1, Ordering::SeqCst);
                            if i >= tickets || !going.load(Ordering::SeqCst) {
                                return;
                            }
                            d.one(first + i, None, &out).await;
                        }
                    })
                });
                for w in join_all(workers).await {
                    w.expect("worker");
                }
            }
            Pace::Open { per_second } => {
                let mut set = tokio::task::JoinSet::new();
                let mut max_lag = Duration::ZERO;
                for i in 0..tickets {
                    let planned = started + Duration::from_secs_f64(i as f64 / per_second);
                    tokio::time::sleep_until(planned.into()).await;
                    while set.len() >= 20_000 {
                        set.join_next().await;
                    }
                    max_lag = max_lag.max(planned.elapsed());
                    let (d, out) = (self.clone(), out.clone());
                    set.spawn(async move { d.one(first + i, Some(planned), &out).await });
                    while set.try_join_next().is_some() {}
                }
                while set.join_next().await.is_some() {}
                out.lock().expect("run").max_start_lag = max_lag;
            }
        }
        let mut run = std::mem::take(&mut *out.lock().expect("run"));
        run.elapsed = started.elapsed();
        run
    }

    async fn one(&self, n: usize, planned: Option<Instant>, out: &Mutex<Run>) {
        let kinds = mix();
        let kind_no = n % kinds.len();
        let started = Instant::now();
        let r = self
            .lifecycle(n, kind_no, &kinds[kind_no], planned, out)
            .await;
        let mut o = out.lock().expect("run");
        match r {
            Ok(()) => {
                o.completed += 1;
                drop(o);
                self.stats.span("lifecycle", started.elapsed());
            }
            Err(e) => {
                o.failed += 1;
                if o.failures.len() < 20 {
                    o.failures.push(format!("{e:#}"));
                }
            }
        }
    }

    async fn lifecycle(
        &self,
        n: usize,
        kind_no: usize,
        kind: &Kind,
        planned: Option<Instant>,
        out: &Mutex<Run>,
    ) -> anyhow::Result<()> {
        let req = kind.request(&format!("{}-{n}", self.run_id));
        let submitted = Instant::now();
        let reply = self
            .retry("Submit", true, None, || {
                let (mut c, req) = (self.intake.clone(), req.clone());
                async move { c.submit(req).await }
            })
            .await?;
        if let Some(planned) = planned {
            self.stats
                .span("Submit from its planned start", planned.elapsed());
        }
        let ticket_no = reply.ticket_no;
        out.lock().expect("run").accepted.push(Accepted {
            ticket_no: ticket_no.clone(),
            kind: kind_no,
        });
        let units = kind.units();
        let found = self
            .inbox
            .take(&ticket_no, units.len(), self.patience)
            .await
            .ok_or_else(|| anyhow::anyhow!("{ticket_no}: not routed within {:?}", self.patience))?;
        self.stats
            .span("routed (Submit → every inbox)", submitted.elapsed());
        let mut got: Vec<&str> = found.iter().map(|a| a.unit_id.as_str()).collect();
        got.sort_unstable();
        let mut want = units.clone();
        want.sort_unstable();
        anyhow::ensure!(
            got == want,
            "{ticket_no}: routed to {got:?}, expected {want:?}"
        );

        for r in join_all(found.iter().map(|a| self.sign(a))).await {
            r?;
        }
        let co: Vec<&Assignment> = found
            .iter()
            .filter(|a| a.role == AssignmentRole::Co as i32)
            .collect();
        for r in join_all(co.iter().map(|a| self.part(a))).await {
            r?;
        }
        let lead = found
            .iter()
            .find(|a| a.role == AssignmentRole::Lead as i32)
            .ok_or_else(|| anyhow::anyhow!("{ticket_no}: no lead unit"))?;
        self.answer(lead).await
    }

    /// Submits a request under the retry rule: the ticket number.
    pub async fn submit(&self, req: SubmitRequest) -> anyhow::Result<String> {
        let reply = self
            .retry("Submit", true, None, || {
                let (mut c, req) = (self.intake.clone(), req.clone());
                async move { c.submit(req).await }
            })
            .await?;
        Ok(reply.ticket_no)
    }

    fn unit(&self, a: &Assignment) -> anyhow::Result<UndertakingServiceClient<Authed>> {
        self.units
            .get(a.unit_id.as_str())
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("{}: unexpected unit {}", a.ticket_no, a.unit_id))
    }

    async fn sign(&self, a: &Assignment) -> anyhow::Result<()> {
        let c = self.unit(a)?;
        let req = SignAssignmentRequest {
            assignment_id: a.assignment_id.clone(),
            unit_id: a.unit_id.clone(),
            idempotency_key: format!("sign-{}", a.assignment_id),
        };
        self.retry(
            "SignAssignment",
            true,
            Some((a, AssignmentState::Signed)),
            || {
                let (mut c, req) = (c.clone(), req.clone());
                async move { c.sign_assignment(req).await }
            },
        )
        .await
        .map(drop)
    }

    async fn part(&self, a: &Assignment) -> anyhow::Result<()> {
        let c = self.unit(a)?;
        let req = SubmitPartRequest {
            assignment_id: a.assignment_id.clone(),
            unit_id: a.unit_id.clone(),
            part: format!("{} 已配合核查，情况属实。", a.unit_id),
            idempotency_key: format!("part-{}", a.assignment_id),
        };
        self.retry(
            "SubmitPart",
            true,
            Some((a, AssignmentState::FedBack)),
            || {
                let (mut c, req) = (c.clone(), req.clone());
                async move { c.submit_part(req).await }
            },
        )
        .await
        .map(drop)
    }

    async fn answer(&self, a: &Assignment) -> anyhow::Result<()> {
        let c = self.unit(a)?;
        let req = SubmitFeedbackRequest {
            assignment_id: a.assignment_id.clone(),
            unit_id: a.unit_id.clone(),
            feedback: Some(Feedback {
                outcome: FeedbackOutcome::Resolved as i32,
                summary: "已到现场核实并处理，已电话告知市民处理结果。".into(),
                ..Default::default()
            }),
            idempotency_key: format!("answer-{}", a.assignment_id),
        };
        self.retry(
            "SubmitFeedback",
            true,
            Some((a, AssignmentState::FedBack)),
            || {
                let (mut c, req) = (c.clone(), req.clone());
                async move { c.submit_feedback(req).await }
            },
        )
        .await
        .map(drop)
    }

    /// A call under the retry rule (module doc). `idempotent`: repeated
    /// after a cut call; `moves`: the assignment and the state the call
    /// moves it to, read back when the outcome is unsure.
    async fn retry<T, F, Fut>(
        &self,
        rpc: &'static str,
        idempotent: bool,
        moves: Option<(&Assignment, AssignmentState)>,
        mut call: F,
    ) -> anyhow::Result<T>
    where
        T: Default,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        let give_up = Instant::now() + self.patience;
        let mut pause = Duration::from_millis(50);
        let mut tried = false;
        loop {
            let started = Instant::now();
            let r = call().await;
            let code = r.as_ref().map_or_else(Status::code, |_| Code::Ok);
            self.stats.call(rpc, started.elapsed(), code);
            let status = match r {
                Ok(reply) => return Ok(reply.into_inner()),
                Err(s) => s,
            };
            let unsure = matches!(
                status.code(),
                Code::Unknown | Code::Cancelled | Code::DeadlineExceeded
            );
            let retry = match status.code() {
                Code::Unavailable => true,
                _ if unsure && idempotent => true,
                _ if unsure || (tried && status.code() == Code::FailedPrecondition) => {
                    match moves {
                        Some((a, target)) => match self.state_of(a, give_up).await? {
                            s if s == target as i32 => return Ok(T::default()),
                            // Not moved: try again, unless it never can.
                            _ if unsure => true,
                            _ => false,
                        },
                        None => false,
                    }
                }
                _ => false,
            };
            if !retry || Instant::now() >= give_up {
                anyhow::bail!("{rpc}: {:?} {}", status.code(), status.message());
            }
            tried = true;
            let hinted = {
                use tonic_types::StatusExt;
                status
                    .get_error_details()
                    .retry_info()
                    .and_then(|r| r.retry_delay)
            };
            tokio::time::sleep(hinted.unwrap_or(pause).min(Duration::from_secs(1))).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }

    /// The state of an assignment, read back as the centre.
    async fn state_of(&self, a: &Assignment, give_up: Instant) -> anyhow::Result<i32> {
        loop {
            let started = Instant::now();
            let r = self
                .centre
                .clone()
                .list_ticket_assignments(ListTicketAssignmentsRequest {
                    ticket_no: a.ticket_no.clone(),
                    page_size: 500,
                    page_token: String::new(),
                })
                .await;
            let code = r.as_ref().map_or_else(Status::code, |_| Code::Ok);
            self.stats
                .call("ListTicketAssignments", started.elapsed(), code);
            match r {
                Ok(list) => {
                    return list
                        .into_inner()
                        .assignments
                        .into_iter()
                        .find(|x| x.assignment_id == a.assignment_id)
                        .map(|x| x.state)
                        .ok_or_else(|| anyhow::anyhow!("{}: assignment gone", a.ticket_no));
                }
                Err(s) if Instant::now() < give_up => {
                    let _ = s;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(s) => anyhow::bail!("reading back {}: {s}", a.ticket_no),
            }
        }
    }

    /// Reads every ticket back (`ListTicketAssignments` as the centre, 32
    /// at a time): answered exactly once, still open, or wrong.
    pub async fn verify(&self, accepted: &[Accepted]) -> Verification {
        let kinds = mix();
        let next = Arc::new(AtomicUsize::new(0));
        let out = Arc::new(Mutex::new(Verification::default()));
        let accepted = Arc::new(accepted.to_vec());
        let workers = (0..32).map(|_| {
            let (d, next, out, accepted, kinds) = (
                self.clone(),
                next.clone(),
                out.clone(),
                accepted.clone(),
                kinds.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(t) = accepted.get(i) else { return };
                    let verdict = d.check(t, &kinds[t.kind]).await;
                    let mut o = out.lock().expect("verification");
                    match verdict {
                        Verdict::Answered => o.answered_once += 1,
                        Verdict::Open => o.open.push(t.ticket_no.clone()),
                        Verdict::Wrong(why) => o.problems.push(why),
                    }
                }
            })
        });
        for w in join_all(workers).await {
            w.expect("verifier");
        }
        std::mem::take(&mut *out.lock().expect("verification"))
    }

    async fn check(&self, t: &Accepted, kind: &Kind) -> Verdict {
        let give_up = Instant::now() + self.patience;
        let mut all = Vec::new();
        let mut token = String::new();
        loop {
            let r = self
                .centre
                .clone()
                .list_ticket_assignments(ListTicketAssignmentsRequest {
                    ticket_no: t.ticket_no.clone(),
                    page_size: 500,
                    page_token: token.clone(),
                })
                .await;
            match r {
                Ok(page) => {
                    let page = page.into_inner();
                    all.extend(page.assignments);
                    if page.next_page_token.is_empty() {
                        break;
                    }
                    token = page.next_page_token;
                }
                Err(s) if s.code() == Code::Unavailable && Instant::now() < give_up => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(s) => return Verdict::Wrong(format!("{}: not readable: {s}", t.ticket_no)),
            }
        }
        judge(&t.ticket_no, kind, &all)
    }
}

enum Verdict {
    Answered,
    Open,
    Wrong(String),
}

/// The verdict on one ticket's assignments.
fn judge(ticket_no: &str, kind: &Kind, all: &[Assignment]) -> Verdict {
    let mut units: Vec<&str> = all.iter().map(|a| a.unit_id.as_str()).collect();
    units.sort_unstable();
    let mut want = kind.units();
    want.sort_unstable();
    if all.is_empty() {
        return Verdict::Open;
    }
    if units != want {
        return Verdict::Wrong(format!(
            "{ticket_no}: assignments of {units:?}, expected one each of {want:?}"
        ));
    }
    if all.iter().any(|a| a.hop != 1) {
        return Verdict::Wrong(format!("{ticket_no}: a hop other than the first"));
    }
    let fed = |a: &&Assignment| a.state == AssignmentState::FedBack as i32;
    let leads: Vec<&Assignment> = all
        .iter()
        .filter(|a| a.role == AssignmentRole::Lead as i32)
        .collect();
    if leads.len() != 1 || leads[0].unit_id != kind.lead {
        return Verdict::Wrong(format!("{ticket_no}: lead units {leads:?}"));
    }
    let co_done = all
        .iter()
        .filter(|a| a.role == AssignmentRole::Co as i32)
        .all(|a| fed(&a) && !a.part.is_empty());
    if fed(&leads[0]) {
        if !co_done {
            return Verdict::Wrong(format!("{ticket_no}: answered before every part was in"));
        }
        if leads[0].feedback.is_none() {
            return Verdict::Wrong(format!("{ticket_no}: answered without feedback"));
        }
        return Verdict::Answered;
    }
    let open = |a: &Assignment| {
        a.state == AssignmentState::PendingSign as i32
            || a.state == AssignmentState::Signed as i32
            || a.state == AssignmentState::FedBack as i32
    };
    if all.iter().all(open) {
        Verdict::Open
    } else {
        Verdict::Wrong(format!(
            "{ticket_no}: states {:?}",
            all.iter().map(|a| a.state).collect::<Vec<_>>()
        ))
    }
}
