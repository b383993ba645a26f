//! Supervision (督办): turns the clock owners' deadline events from
//! RabbitMQ into urges (催办) and supervision cases (督办), and lists them.
//!
//! Cut by feature; each feature folder holds its pure rules, its SQL and
//! its handlers:
//!
//! - `deadlines`: urges and cases from deadline events
//! - `evaluation`: the three-rate evaluation (三率考评) of units, a read
//!   model of the lifecycle events
//! - `reports`: special reports (专报) and the units' written feedback
//!   (书面反馈), on supervision's own clocks
//! - `shirking`: cases opened by hand for passing the buck (推诿扯皮)
//! - `onsite`: on-site divisions (现场核分): units summoned by a time, the
//!   division recorded and the ticket re-dispatched
//! - `inspections`: special inspections (专项督查) of the units ranking
//!   lowest or where cases concentrate, with a rectification clock
//! - `meetings`: consultation meetings (会议协商): candidates, invited units
//!   by a start, minutes whose resolutions re-dispatch or set actions
//! - `notices`: public notices (通报) of a period, generated from the cases
//!   and divisions
//! - `steps`: the steps of those workflows that reach units, published
//!   for the tickets' timelines
//!
//! Beside them: `grpc` (the gRPC surface, delegating only), `ids`
//! (supervision's identifiers), `scope` (who sees which unit's records),
//! `config` and `startup` (wiring).

pub mod config;
pub mod deadlines;
pub mod evaluation;
pub mod feed;
pub mod grpc;
pub mod ids;
pub mod inspections;
pub mod lists;
pub mod meetings;
pub mod notices;
pub mod onsite;
pub mod reports;
pub mod rules;
pub mod scope;
pub mod shirking;
pub mod startup;
pub mod steps;
pub mod workflows;
