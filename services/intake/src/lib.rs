//! Intake (受理): takes requests in from every channel, 7×24, stores them
//! durably with an outbox row, hands them to dispatch, and reads back a
//! ticket's timeline.
//!
//! Features, each with its handlers (`mod.rs`), pure rules and SQL:
//! - `acceptance`: requests from other channels accepted (受理) by an
//!   operator within the policy's limit
//! - `tickets`: submit and read a ticket; the request rules; the
//!   catalogue codes requests are checked against
//! - `timeline`: a ticket's stages, records, returns and whistles
//! - `surge`: surge mode (话务量大量集中)
//! - `knowledge`: the knowledge base (知识库), its search and direct answers
//! - `diversion`: referrals to emergency lines, malicious callers
//! - `clusters`: concentrated requests (集中反映)
//! - `media`: media uploaded, held by SHA-256, downloaded (audited)
//! - `repeats`: repeats (重复件) offered and linked, repeated raising
//! - `own_view`: the requester's own view of a ticket (诉求人查询)
//! - `ratings`: service contacts and their ratings (好差评), check-backs of
//!   bad ratings, units' appeals
//! - `visits`: return visits (回访) of answered tickets: the queue (consent,
//!   all or a reproducible sample), taking visits, attempts, raw answers
//!
//! - `grpc`: the gRPC service, one delegating call per RPC
//! - `relay`: outbox → dispatch
//! - `undertaking`, `dispatch`: what intake reads from its peers

pub mod acceptance;
pub mod app;
pub mod clusters;
pub mod config;
pub mod dispatch;
pub mod diversion;
pub mod grpc;
pub mod knowledge;
pub mod media;
pub mod own_view;
pub mod ratings;
pub mod relay;
pub mod repeats;
pub mod rules;
pub mod startup;
pub mod surge;
pub mod tickets;
pub mod timeline;
pub mod undertaking;
pub mod visits;

/// Intake's schema: tickets, the outbox, the codes cache, surge mode,
/// contacts, ratings, check-backs, appeals and return visits.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
