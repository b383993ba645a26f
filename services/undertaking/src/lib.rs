//! Undertaking (承办): the handling units' side. Units list what they were
//! sent, sign for it and give feedback within the limits.
//!
//! - `domain`: the assignment state machine and feedback rules (pure)
//! - `store`: assignments (SQL and migrations)
//! - `api`: the gRPC layer

pub mod api;
pub mod config;
pub mod domain;
pub mod rules;
pub mod startup;
pub mod store;
