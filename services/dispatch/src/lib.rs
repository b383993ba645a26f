//! Dispatch (派单): routes each ticket by category (分类派单) with the
//! dispatch catalogue and hands the assignments to undertaking.
//!
//! - `catalogue`: the catalogue file and the routing rules (pure)
//! - `routing`: a ticket → a routing with deadlines (pure)
//! - `store`: routings and the outbox (SQL and migrations)
//! - `api`: the gRPC layer
//! - `relay`: outbox → undertaking

pub mod api;
pub mod catalogue;
pub mod config;
pub mod relay;
pub mod routing;
pub mod rules;
pub mod startup;
pub mod store;
