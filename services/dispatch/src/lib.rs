//! Dispatch (派单): routes each ticket by category (分类派单) with the
//! dispatch catalogue and hands the assignments to undertaking.
//!
//! Features, each with its handlers (`mod.rs`), pure rules and SQL:
//! - `catalogue`: the catalogue, its units' kinds, its versions
//! - `routing`: first routing and re-dispatch, hops, transfers
//! - `queue`: the manual queue and the transferred tickets
//!
//! - `grpc`: the gRPC service, one delegating call per RPC
//! - `relay`: outbox → undertaking

pub mod app;
pub mod catalogue;
pub mod config;
pub mod grpc;
pub mod ids;
pub mod lifecycle;
pub mod queue;
pub mod relay;
pub mod routing;
pub mod rules;
pub mod startup;

/// Dispatch's schema: routings, hops, the outbox, catalogue versions.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
