//! Who may do what.
//!
//! Every call carries a signed bearer token (`authorization: Bearer <jwt>`,
//! HS256): issuer, subject, unit, roles, expiry. The keys that sign tokens
//! are named by key id in the file `HOTLINE_AUTH_KEYS_FILE`, which is read
//! again whenever it changes, so keys rotate without a restart. Calls
//! between the services carry the calling service's own identity (role
//! `service`), minted per call.
//!
//! [`RULES`] is the one table of which roles may call which RPC; the
//! [`AuthLayer`] checks it before any handler runs. Handlers narrow further
//! what a unit may see ([`Identity::unit_scope`]). Health checks and server
//! reflection stay open.

//!
//! - [`rules`]: the rule table a port enforces, checked against the contract;
//! - [`tokens`]: key files, minting and verifying tokens;
//! - [`gate`]: the tower layer in front of every service, the limits, the
//!   identity services call each other with.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

pub mod gate;
pub mod rules;
pub mod tokens;

pub use gate::*;
pub use rules::*;
pub use tokens::*;

#[cfg(test)]
mod tests;

/// What a caller is, as far as the rules go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// 话务员: takes requests.
    Operator,
    /// 派单员: routes and re-routes tickets.
    Dispatcher,
    /// A handling unit's staff: only that unit's assignments and tickets.
    UnitStaff,
    /// 督办人员: urges, supervises, decides extensions.
    Supervisor,
    /// 领导: approves special reports.
    Leader,
    /// Operations: surge mode, policy, catalogue.
    Ops,
    /// Read-only oversight, audit trail.
    Auditor,
    /// 回访人员: visits requesters back.
    ReturnVisit,
    /// Another hotline service.
    Service,
}

impl Role {
    pub const ALL: [Role; 9] = [
        Role::Operator,
        Role::Dispatcher,
        Role::UnitStaff,
        Role::Supervisor,
        Role::Leader,
        Role::Ops,
        Role::Auditor,
        Role::ReturnVisit,
        Role::Service,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Dispatcher => "dispatcher",
            Role::UnitStaff => "unit_staff",
            Role::Supervisor => "supervisor",
            Role::Leader => "leader",
            Role::Ops => "ops",
            Role::Auditor => "auditor",
            Role::ReturnVisit => "return_visit",
            Role::Service => "service",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

use Role::*;

/// The claims of a hotline token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    /// The handling unit of unit staff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    pub roles: Vec<String>,
    pub iat: u64,
    pub exp: u64,
}

/// A verified caller, put in each request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub subject: String,
    pub unit: Option<String>,
    pub roles: Vec<Role>,
}

impl Identity {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The unit a caller is confined to: unit staff without any role that
    /// sees across units.
    pub fn unit_scope(&self) -> Option<&str> {
        let wide = self.roles.iter().any(|r| *r != UnitStaff);
        if wide {
            None
        } else {
            Some(self.unit.as_deref().unwrap_or(""))
        }
    }

    /// Keeps what the caller may see: unit staff only their unit's rows.
    pub fn keep_visible<T>(&self, rows: &mut Vec<T>, unit_of: impl Fn(&T) -> &str) {
        if let Some(own) = self.unit_scope() {
            rows.retain(|r| unit_of(r) == own);
        }
    }

    /// May this caller act as `unit_id`?
    pub fn acts_for(&self, unit_id: &str) -> bool {
        self.has(UnitStaff) && self.unit.as_deref() == Some(unit_id)
    }
}

/// The verified identity of a request (set by [`AuthLayer`]).
pub fn identity<T>(req: &tonic::Request<T>) -> Result<Identity, ApiError> {
    req.extensions()
        .get::<Identity>()
        .cloned()
        .ok_or_else(|| ApiError::new(crate::ErrorCode::Unauthenticated, "no identity"))
}
