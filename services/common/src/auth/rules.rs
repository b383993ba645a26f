//! The rule table: which roles may call which RPC, assembled per port from
//! the service's own rows and the common ones, and checked against the
//! contract's descriptor set.

use std::collections::HashMap;

use super::Role::{self, *};

/// One row of the rule table: an RPC (`/package.Service/Method`) and the
/// roles that may call it.
pub type Rule = (&'static str, &'static [Role]);

/// What one server answers: the gRPC services it serves (full names, for
/// reflection) and its rows of the rule table. Each service crate declares
/// its own in `rules.rs`; the gate assembles them with [`COMMON_RULES`].
#[derive(Debug, Clone, Copy)]
pub struct Served {
    /// Full names of the hotline services on this port, e.g.
    /// `hotline.intake.v1.IntakeService`.
    pub services: &'static [&'static str],
    /// The rows for those services' methods.
    pub rules: &'static [Rule],
    /// Whether the port also serves [`CLOCK_SERVICE`] (it owns clocks).
    pub clocks: bool,
}

impl Served {
    /// Panics, naming every problem, unless [`check_rules`] finds the rows
    /// in step with the contract: the test each service runs on its table.
    pub fn assert_matches_contract(&self) {
        if let Err(problems) = check_rules(self) {
            panic!(
                "rule table out of step with the contract:\n{}",
                problems.join("\n")
            );
        }
    }
}

/// The service every server carries: the audit trail.
pub const AUDIT_SERVICE: &str = "hotline.common.v1.AuditService";
/// The service of every clock owner: supervision asks it about clocks.
pub const CLOCK_SERVICE: &str = "hotline.common.v1.ClockService";

/// The rows of the services that live in `common`.
pub const COMMON_RULES: &[Rule] = &[
    ("/hotline.common.v1.ClockService/CheckClocks", &[Service]),
    (
        "/hotline.common.v1.AuditService/ListAuditEntries",
        &[Auditor],
    ),
    (
        "/hotline.common.v1.AuditService/VerifyAudit",
        &[Auditor, Ops],
    ),
    (
        "/hotline.common.v1.AuditService/GetAuditSeal",
        &[Auditor, Ops],
    ),
];

/// Paths served without identity.
pub(super) const OPEN: &[&str] = &[
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// The rule table one server enforces: its own rows and the common ones.
#[derive(Debug, Clone, Default)]
pub struct RuleTable {
    rows: HashMap<&'static str, &'static [Role]>,
}

impl RuleTable {
    pub fn new(served: &Served) -> RuleTable {
        let rows = served
            .rules
            .iter()
            .chain(COMMON_RULES)
            .map(|(p, r)| (*p, *r))
            .collect();
        RuleTable { rows }
    }

    pub fn allowed(&self, path: &str) -> Option<&'static [Role]> {
        self.rows.get(path).copied()
    }
}

/// Checks a server's rows against the contract's descriptor set: every
/// method of every service it serves has exactly one row, and no row names
/// a method that is not served. Returns every problem at once.
pub fn check_rules(served: &Served) -> Result<(), Vec<String>> {
    let with_clock = served.clocks;
    use prost::Message;
    let fds = prost_types::FileDescriptorSet::decode(hotline_proto::FILE_DESCRIPTOR_SET)
        .map_err(|e| vec![format!("descriptor set: {e}")])?;
    let mut names: Vec<&str> = served.services.to_vec();
    names.push(AUDIT_SERVICE);
    if with_clock {
        names.push(CLOCK_SERVICE);
    }
    let mut methods = std::collections::BTreeSet::new();
    for file in &fds.file {
        for svc in &file.service {
            let full = format!("{}.{}", file.package(), svc.name());
            if names.contains(&full.as_str()) {
                for m in &svc.method {
                    methods.insert(format!("/{full}/{}", m.name()));
                }
            }
        }
    }
    let mut problems = Vec::new();
    let rows: Vec<&str> = served
        .rules
        .iter()
        .chain(
            COMMON_RULES
                .iter()
                .filter(|(p, _)| with_clock || !p.starts_with(&format!("/{CLOCK_SERVICE}/"))),
        )
        .map(|(p, _)| *p)
        .collect();
    for m in &methods {
        match rows.iter().filter(|p| **p == m).count() {
            1 => {}
            0 => problems.push(format!("{m} has no rule")),
            n => problems.push(format!("{m} has {n} rules")),
        }
    }
    for p in &rows {
        if !methods.contains(*p) {
            problems.push(format!("{p} is not a method this server serves"));
        }
    }
    for (p, roles) in served.rules {
        if roles.is_empty() {
            problems.push(format!("{p} allows no role"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}
