//! Undertaking's settings. Shared ones are in `hotline_common::config`.

use hotline_common::config::{CommonConfig, Env, ServiceName};
use hotline_common::startup::ServiceConfig;

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
}

impl ServiceConfig for Config {
    const SERVICE: ServiceName = ServiceName::Undertaking;

    fn from_env(env: &mut Env) -> Config {
        Config {
            common: CommonConfig::from_env(env, Self::SERVICE),
        }
    }

    fn common(&self) -> &CommonConfig {
        &self.common
    }
}
