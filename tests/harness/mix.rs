//! What the load driver submits: the kinds of request it rotates through
//! and the units the catalogue in force routes each to.

use hotline_proto::common::v1::{Channel as IntakeChannel, Location, Requester, UrgencyTier};
use hotline_proto::intake::v1::SubmitRequest;

/// One kind of request and the units the catalogue in force
/// (`services/dispatch/catalogue/beijing.toml`) routes it to.
#[derive(Debug, Clone)]
pub struct Kind {
    pub category: &'static str,
    pub district: &'static str,
    pub street: &'static str,
    pub lead: &'static str,
    pub co: &'static [&'static str],
}

/// The requests the driver rotates through: 14 units; 6 of 11 kinds with
/// a co-unit.
pub fn mix() -> Vec<Kind> {
    let k = |category, district, street, lead, co| Kind {
        category,
        district,
        street,
        lead,
        co,
    };
    vec![
        k(
            "heating",
            "110105",
            "",
            "bj-heating-group",
            &["bj-cmc"] as &[&str],
        ),
        k("social-insurance", "110108", "", "bj-hrss", &[]),
        k("gas-supply", "110106", "", "bj-gas-group", &["bj-cmc"]),
        k("health", "110102", "", "bj-health", &[]),
        k("power-supply", "110107", "", "bj-power", &["bj-cmc"]),
        k("market-regulation", "110105", "", "bj-amr", &[]),
        k(
            "water-supply",
            "110105",
            "",
            "bj-water-group",
            &["bj-water-authority"],
        ),
        k(
            "medical-insurance",
            "110108",
            "",
            "bj-healthcare-security",
            &[],
        ),
        k(
            "traffic-signals",
            "110106",
            "",
            "bj-traffic-police",
            &["bj-transport"],
        ),
        k("price", "110102", "", "bj-amr", &[]),
        k(
            "noise",
            "110105",
            "110105001",
            "street-110105001",
            &["bj-urban-enforcement"],
        ),
    ]
}

impl Kind {
    pub fn units(&self) -> Vec<&'static str> {
        std::iter::once(self.lead)
            .chain(self.co.iter().copied())
            .collect()
    }

    pub fn request(&self, key: &str) -> SubmitRequest {
        SubmitRequest {
            idempotency_key: key.to_string(),
            channel: IntakeChannel::Phone as i32,
            requester: Some(Requester {
                anonymous: false,
                name: "李先生".into(),
                phone: "13900139000".into(),
                return_visit_consent: true,
                confidential: false,
            }),
            content: format!("{}：市民来电反映问题，请尽快核实处理。", self.category),
            location: Some(Location {
                district_code: self.district.into(),
                street_code: self.street.into(),
                address: "某小区1号楼".into(),
                ..Default::default()
            }),
            category_code: self.category.into(),
            tier: UrgencyTier::General as i32,
            complex: false,
            attachments: vec![],
            ..Default::default()
        }
    }
}

/// Every unit of the mix, once.
pub fn mix_units() -> Vec<&'static str> {
    let mut units: Vec<&'static str> = mix().iter().flat_map(Kind::units).collect();
    units.sort_unstable();
    units.dedup();
    units
}
