//! Undertaking's settings. Shared ones are in `hotline_common::config`.

use hotline_common::config::{CommonConfig, Env, ServiceName};
use hotline_common::feed::FeedConfig;
use hotline_common::startup::ServiceConfig;

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// `HOTLINE_SUPERVISION_URL`: where supervision is reached (to show a
    /// unit its urges and cases).
    pub supervision_url: String,
    /// `HOTLINE_DISPATCH_URL`: where dispatch is reached (to check the
    /// departments a whistle summons against the catalogue).
    pub dispatch_url: String,
    /// `HOTLINE_INTAKE_URL`: where intake is reached (to attach the media
    /// of handling records to their tickets).
    pub intake_url: String,
    /// The feed units watch: retention, watchers, poll, heartbeat
    /// (`HOTLINE_FEED_RETENTION_SECONDS`, `HOTLINE_WATCH_*`).
    pub feed: FeedConfig,
}

impl ServiceConfig for Config {
    const SERVICE: ServiceName = ServiceName::Undertaking;

    fn from_env(env: &mut Env) -> Config {
        Config {
            common: CommonConfig::from_env(env, Self::SERVICE),
            supervision_url: CommonConfig::peer_url(env, ServiceName::Supervision),
            dispatch_url: CommonConfig::peer_url(env, ServiceName::Dispatch),
            intake_url: CommonConfig::peer_url(env, ServiceName::Intake),
            feed: FeedConfig::from_env(env),
        }
    }

    fn common(&self) -> &CommonConfig {
        &self.common
    }
}
