//! What every hotline service shares, so that the four services look alike:
//!
//! - [`config`]: settings from environment variables, every error at once;
//! - [`telemetry`]: structured `tracing` logs;
//! - [`startup`]: the gRPC server with health, reflection and graceful
//!   shutdown, and the `--health-check` probe;
//! - [`audit`]: the append-only, hash-chained audit trail;
//! - [`auth`]: identity on every call, the table of who may call what;
//! - [`error`]: one error type mapped to `tonic::Code`;
//! - [`reason`]: the stable reasons errors carry (`google.rpc.ErrorInfo`);
//! - [`idempotency`]: idempotency keys of state-changing calls;
//! - [`validate`]: field checks that name the field;
//! - [`ids`]: typed identifiers parsed once at the edge;
//! - [`grpc`]: the one shape of a unary handler, and of a streaming one;
//! - [`feed`]: the event feed units watch, in commit-safe order by cursor;
//! - [`db`]: the PostgreSQL pool on the service's own schema, migrations;
//! - [`bus`]: RabbitMQ connection, deadline topology, confirmed publishing;
//! - [`clock`]: time-limit clocks, their timers and the deadline scheduler;
//! - [`events`]: ticket lifecycle events: recorded, published, consumed once;
//! - [`outbox`]: the transactional outbox and its relay loop;
//! - [`privacy`]: who sees requesters' names and phones, masking;
//! - [`paging`]: page tokens and sizes of the list RPCs;
//! - [`retry`]: the one retry and back-off schedule;
//! - [`status`]: a ticket's status, derived from what the services hold;
//! - [`time`]: timestamps between chrono and protobuf;
//! - [`convert`]: the shared enums between proto and the domain.

pub mod audit;
pub mod auth;
pub mod bus;
pub mod clock;
pub mod config;
pub mod convert;
pub mod db;
pub mod enums;
pub mod error;
pub mod events;
pub mod feed;
pub mod grpc;
pub mod idempotency;
pub mod ids;
pub mod ops;
pub mod outbox;
pub mod paging;
pub mod privacy;
pub mod reason;
pub mod retry;
pub mod startup;
pub mod status;
pub mod summons;
pub mod telemetry;
pub mod time;
pub mod validate;

pub use error::{ApiError, ErrorCode};
pub use reason::Reason;
