//! Intake's settings. Shared ones are in `hotline_common::config`.

use std::time::Duration;

use hotline_common::config::{CommonConfig, Env, ServiceName};
use hotline_common::startup::ServiceConfig;

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// `HOTLINE_DISPATCH_URL`: where dispatch is reached.
    pub dispatch_url: String,
    /// `HOTLINE_UNDERTAKING_URL`: where undertaking is reached.
    pub undertaking_url: String,
    /// `HOTLINE_TICKET_PREFIX`: letters before the ticket number's digits
    /// (default `BJ`).
    pub ticket_prefix: String,
    /// `HOTLINE_CATALOGUE_REFRESH_SECONDS`: how often the category and area
    /// codes are re-read from dispatch (default 60).
    pub catalogue_refresh: Duration,
}

impl ServiceConfig for Config {
    const SERVICE: ServiceName = ServiceName::Intake;

    fn from_env(env: &mut Env) -> Config {
        let common = CommonConfig::from_env(env, Self::SERVICE);
        let ticket_prefix = env.string("HOTLINE_TICKET_PREFIX", "BJ");
        if ticket_prefix.len() > 8 || !ticket_prefix.chars().all(|c| c.is_ascii_uppercase()) {
            env.error(format!(
                "HOTLINE_TICKET_PREFIX={ticket_prefix:?}: up to 8 uppercase ASCII letters"
            ));
        }
        Config {
            dispatch_url: CommonConfig::peer_url(env, ServiceName::Dispatch),
            undertaking_url: CommonConfig::peer_url(env, ServiceName::Undertaking),
            ticket_prefix,
            catalogue_refresh: env
                .seconds("HOTLINE_CATALOGUE_REFRESH_SECONDS", Duration::from_secs(60)),
            common,
        }
    }

    fn common(&self) -> &CommonConfig {
        &self.common
    }
}
