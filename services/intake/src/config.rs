//! Intake's settings. Shared ones are in `hotline_common::config`.

use std::sync::Arc;
use std::time::Duration;

use hotline_common::config::{CommonConfig, Env, ServiceName};
use hotline_common::startup::ServiceConfig;

use crate::knowledge::segment::Synonyms;

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
    /// `HOTLINE_MEDIA_STORE_URL`: where media bytes are kept: `file:///dir`
    /// (default `file:///var/lib/hotline/media`) or `s3://bucket/prefix`
    /// (with the `AWS_*` variables of credentials, region and endpoint).
    pub media_store_url: String,
    /// `HOTLINE_SYNONYMS_FILE`: the knowledge search's synonym table, one
    /// `口语词 = 规范词 …` line per word (format of
    /// `knowledge/synonyms.txt`); unset: Beijing's, built in.
    pub synonyms: Arc<Synonyms>,
    /// `HOTLINE_UPLOAD_ABANDONED_AFTER_SECONDS`: an upload unfinished and
    /// untouched this long is dropped with its parts (default a day).
    pub upload_abandoned_after: Duration,
}

pub const ENV_MEDIA_STORE_URL: &str = "HOTLINE_MEDIA_STORE_URL";
pub const DEFAULT_MEDIA_STORE_URL: &str = "file:///var/lib/hotline/media";
pub const ENV_UPLOAD_ABANDONED_AFTER: &str = "HOTLINE_UPLOAD_ABANDONED_AFTER_SECONDS";
pub const DEFAULT_UPLOAD_ABANDONED_AFTER: Duration = Duration::from_secs(86_400);
pub const ENV_SYNONYMS_FILE: &str = "HOTLINE_SYNONYMS_FILE";
/// Unset: Beijing's table, built in.
pub const DEFAULT_SYNONYMS_FILE: &str = "";

/// The synonym table a file gives (the built-in one for no file), every
/// problem of it reported.
fn read_synonyms(env: &mut Env) -> Arc<Synonyms> {
    let path = env.string(ENV_SYNONYMS_FILE, DEFAULT_SYNONYMS_FILE);
    if path.is_empty() {
        return Arc::new(Synonyms::built_in().clone());
    }
    let parsed = std::fs::read_to_string(&path)
        .map_err(|e| vec![e.to_string()])
        .and_then(|text| Synonyms::parse(&text));
    match parsed {
        Ok(table) => Arc::new(table),
        Err(problems) => {
            for p in problems {
                env.error(format!("{ENV_SYNONYMS_FILE}={path:?}: {p}"));
            }
            Arc::default()
        }
    }
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
        let media_store_url = env.string(ENV_MEDIA_STORE_URL, DEFAULT_MEDIA_STORE_URL);
        match url::Url::parse(&media_store_url) {
            Ok(u) if ["file", "s3"].contains(&u.scheme()) => {}
            _ => env.error(format!(
                "{ENV_MEDIA_STORE_URL}={media_store_url:?}: a file:/// or s3:// URL"
            )),
        }
        Config {
            synonyms: read_synonyms(env),
            upload_abandoned_after: env
                .seconds(ENV_UPLOAD_ABANDONED_AFTER, DEFAULT_UPLOAD_ABANDONED_AFTER),
            media_store_url,
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
