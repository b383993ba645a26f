//! Supervision's settings. Shared ones are in `hotline_common::config`.

use hotline_common::config::{CommonConfig, Env, ServiceName};
use hotline_common::startup::ServiceConfig;

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// `HOTLINE_INTAKE_URL`: intake, owner of dispatch clocks.
    pub intake_url: String,
    /// `HOTLINE_DISPATCH_URL`: dispatch, owner of the manual queue's clocks.
    pub dispatch_url: String,
    /// `HOTLINE_UNDERTAKING_URL`: undertaking, owner of sign-off and
    /// feedback clocks.
    pub undertaking_url: String,
    /// `HOTLINE_DEADLINE_PREFETCH`: deadline events taken from RabbitMQ at
    /// once, and the largest batch handled in one transaction (default 1000).
    pub prefetch: u16,
    /// `HOTLINE_FEED_RETENTION_SECONDS`: how long the feed of urges and
    /// cases keeps them for undertaking to copy (default a week).
    pub feed_retention: std::time::Duration,
}

impl ServiceConfig for Config {
    const SERVICE: ServiceName = ServiceName::Supervision;

    fn from_env(env: &mut Env) -> Config {
        let common = CommonConfig::from_env(env, Self::SERVICE);
        let prefetch = env.parse("HOTLINE_DEADLINE_PREFETCH", 1000u16);
        if prefetch == 0 {
            env.error("HOTLINE_DEADLINE_PREFETCH: must be at least 1".into());
        }
        let feed_retention = env.seconds(
            hotline_common::feed::ENV_RETENTION,
            hotline_common::feed::DEFAULT_RETENTION,
        );
        Config {
            feed_retention,
            intake_url: CommonConfig::peer_url(env, ServiceName::Intake),
            dispatch_url: CommonConfig::peer_url(env, ServiceName::Dispatch),
            undertaking_url: CommonConfig::peer_url(env, ServiceName::Undertaking),
            prefetch,
            common,
        }
    }

    fn common(&self) -> &CommonConfig {
        &self.common
    }
}
