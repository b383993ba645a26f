//! Undertaking (承办): the handling units' side. Units list what they were
//! sent, sign for it, handle it and answer within the limits.
//!
//! One folder per feature, each with its handlers (`mod.rs`), its pure
//! rules (`rules.rs`) and its SQL (`store.rs`):
//!
//! - `assignments`: the units of each routing hop, the state machine, sign-off
//! - `hops`: the hop in force per ticket; a new hop withdraws the earlier ones
//! - `feedback`: the lead unit's answer, co-units' parts
//! - `returns`: 退单 and the centre's decision
//! - `extensions`: 延期
//! - `records`: handling records
//! - `whistles`: 街乡吹哨、部门报到 (summonses: `hotline_common::summons`)
//! - `rehandling`: 重办, a return visit sending the ticket back to its lead
//!   unit in a new handling round (a consumer of intake's `visited` facts)
//! - `watch`: a unit's stream of events (WatchUnitEvents), resumable by
//!   cursor; urges and cases copied in from supervision's feed
//!
//! `lifecycle` (the facts it publishes, hotline.events.v1), `scope` (a unit acts on its own assignment of the hop in force),
//! `window` (when client times may lie) and `grpc` (one line per RPC).

mod enums;

pub mod assignments;
pub mod config;
pub mod context;
pub mod extensions;
pub mod feedback;
pub mod grpc;
pub mod hops;
pub mod lifecycle;
pub mod records;
pub mod rehandling;
pub mod returns;
pub mod rules;
pub mod scope;
pub mod startup;
pub mod unit_supervision;
pub mod watch;
pub mod whistles;
pub mod window;

/// Undertaking's schema.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Every migration set undertaking's schema holds: its own and the shared
/// ones (clocks, audit trail, idempotency keys, feed, lifecycle events).
pub static MIGRATORS: &[&sqlx::migrate::Migrator] = &[
    &MIGRATOR,
    &hotline_common::clock::MIGRATOR,
    &hotline_common::audit::MIGRATOR,
    &hotline_common::idempotency::MIGRATOR,
    &hotline_common::feed::MIGRATOR,
    &hotline_common::events::MIGRATOR,
];
