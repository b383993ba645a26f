//! A ticket's status (工单状态): where a ticket stands, the same wherever a
//! ticket is shown. No service stores it: each reads the durable facts it
//! holds and [`rules::derive`] turns them into a `TicketStatus`.
//!
//! - intake: the ticket is stored; its outbox row to dispatch is still
//!   there (not yet routed) or gone;
//! - dispatch: the routing in force sends the ticket to the manual queue or
//!   to units;
//! - undertaking: the lead unit's assignment of the hop in force (of its
//!   latest handling round), and whether that hop went to the manual queue.

pub mod rules;

pub use rules::{Lead, Routed, closed_or, derive, derive_in_round, lead_of};
