//! Supervision (督办): turns the clock owners' deadline events from
//! RabbitMQ into urges (催办) and supervision cases (督办), and lists them.
//!
//! Cut by feature; each feature folder holds its pure rules, its SQL and
//! its handlers:
//!
//! - `deadlines`: urges and cases from deadline events
//! - `evaluation`: the three-rate evaluation (三率考评) of units, a read
//!   model of the lifecycle events
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
pub mod rules;
pub mod scope;
pub mod startup;
