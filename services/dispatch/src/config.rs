//! Dispatch's settings. Shared ones are in `hotline_common::config`.

use hotline_common::config::{CommonConfig, Env, ServiceName};
use hotline_common::startup::ServiceConfig;

use crate::catalogue::Catalogue;

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// `HOTLINE_UNDERTAKING_URL`: where undertaking is reached.
    pub undertaking_url: String,
    /// `HOTLINE_INTAKE_URL`: where intake is reached (to confirm that a
    /// ticket handed in was accepted).
    pub intake_url: String,
    /// `HOTLINE_CATALOGUE_FILE`: the dispatch catalogue (default: the
    /// Beijing sample compiled in).
    pub catalogue: Catalogue,
}

impl ServiceConfig for Config {
    const SERVICE: ServiceName = ServiceName::Dispatch;

    fn from_env(env: &mut Env) -> Config {
        let common = CommonConfig::from_env(env, Self::SERVICE);
        let catalogue = match env.optional("HOTLINE_CATALOGUE_FILE") {
            None => Catalogue::beijing(),
            Some(path) => match std::fs::read_to_string(&path)
                .map_err(|e| vec![e.to_string()])
                .and_then(|t| Catalogue::from_toml(&t).map_err(|e| e.0))
            {
                Ok(c) => c,
                Err(problems) => {
                    for p in problems {
                        env.error(format!("HOTLINE_CATALOGUE_FILE={path:?}: {p}"));
                    }
                    Catalogue::beijing()
                }
            },
        };
        Config {
            undertaking_url: CommonConfig::peer_url(env, ServiceName::Undertaking),
            intake_url: CommonConfig::peer_url(env, ServiceName::Intake),
            catalogue,
            common,
        }
    }

    fn common(&self) -> &CommonConfig {
        &self.common
    }
}
