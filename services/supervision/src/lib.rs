//! Supervision (督办): turns deadline events from RabbitMQ into urges (催办)
//! and supervision cases (督办), and lists them.
//!
//! - `domain`: what an event calls for (pure)
//! - `store`: urges and cases (SQL and migrations)
//! - `bus`: the deadline-event consumer
//! - `api`: the gRPC layer

pub mod api;
pub mod bus;
pub mod config;
pub mod domain;
pub mod rules;
pub mod startup;
pub mod store;
