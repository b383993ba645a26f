//! Intake (受理): takes requests in from every channel, 7×24, stores them
//! durably with an outbox row, hands them to dispatch, and reads back a
//! ticket's timeline.
//!
//! - `domain`: what a well-formed request is (pure)
//! - `store`: tickets, idempotency, outbox (SQL and migrations)
//! - `api`: the gRPC layer
//! - `relay`: outbox → dispatch
//! - `codes`: category and area codes from dispatch's catalogue

pub mod api;
pub mod codes;
pub mod config;
pub mod domain;
pub mod relay;
pub mod rules;
pub mod startup;
pub mod store;
