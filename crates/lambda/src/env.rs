//! Configuration from environment variables: the one place the functions read them.

use approvals_core::config::{AppSecrets, ConfigError};
use approvals_core::usecases::install::{
    InstallSettings, DEFAULT_AUTHORIZE_URL, DEFAULT_BOT_SCOPES,
};

/// Default Web API base; overridden by `SLACK_API_BASE_URL` for the sandbox and tests.
pub const DEFAULT_SLACK_API_BASE_URL: &str = "https://slack.com/api";

/// A required variable; the error names it so a misconfigured stack says what is missing.
pub fn required_env(name: &'static str) -> Result<String, ConfigError> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(ConfigError::MissingVariable(name)),
    }
}

/// An optional variable with its documented default.
pub fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// The longest retry horizon the template's receive budget covers.
pub const MAX_RETRY_HORIZON_HOURS: i64 = 72;

/// `RETRY_HORIZON_HOURS` (default 24, at most 72): how long a failing effect is retried
/// before it is given up on and its command dead-lettered. The queue's receive budget
/// (`maxReceiveCount` 200 in the template) covers 72 hours of capped backoff.
pub fn retry_horizon_hours() -> Result<i64, ConfigError> {
    let raw = env_or("RETRY_HORIZON_HOURS", "24");
    match raw.trim().parse::<i64>() {
        Ok(hours) if (1..=MAX_RETRY_HORIZON_HOURS).contains(&hours) => Ok(hours),
        _ => Err(ConfigError::InvalidVariable(
            "RETRY_HORIZON_HOURS",
            format!("{raw:?} is not a whole number of hours from 1 to {MAX_RETRY_HORIZON_HOURS}"),
        )),
    }
}

/// `SLACK_API_BASE_URL` without a trailing slash.
pub fn slack_api_base_url() -> String {
    env_or("SLACK_API_BASE_URL", DEFAULT_SLACK_API_BASE_URL)
        .trim_end_matches('/')
        .to_owned()
}

/// The install flow's settings: `PUBLIC_BASE_URL`, `SLACK_OAUTH_AUTHORIZE_URL`, `SLACK_BOT_SCOPES`.
pub fn install_settings_from_env(secrets: &AppSecrets) -> Result<InstallSettings, ConfigError> {
    Ok(InstallSettings {
        public_base_url: required_env("PUBLIC_BASE_URL")?
            .trim_end_matches('/')
            .to_owned(),
        authorize_url: env_or("SLACK_OAUTH_AUTHORIZE_URL", DEFAULT_AUTHORIZE_URL),
        client_id: secrets.slack_client_id.clone(),
        bot_scopes: env_or("SLACK_BOT_SCOPES", DEFAULT_BOT_SCOPES),
    })
}

/// `HOST_FILE_URL_PREFIXES` (comma-separated `https://` prefixes; empty: no attachments).
pub fn file_urls_from_env() -> Result<approvals_core::files::AllowedFileUrls, ConfigError> {
    approvals_core::files::AllowedFileUrls::parse(&env_or("HOST_FILE_URL_PREFIXES", ""))
        .map_err(|error| ConfigError::InvalidVariable("HOST_FILE_URL_PREFIXES", error.to_string()))
}

/// `SECRET_CACHE_SECONDS` (default 300, 0 to 3600): how long the signing secrets read from
/// Secrets Manager are trusted before they are read again.
pub fn secret_cache() -> Result<std::time::Duration, ConfigError> {
    let raw = env_or("SECRET_CACHE_SECONDS", "300");
    match raw.trim().parse::<u64>() {
        Ok(secs) if secs <= 3600 => Ok(std::time::Duration::from_secs(secs)),
        _ => Err(ConfigError::InvalidVariable(
            "SECRET_CACHE_SECONDS",
            format!("{raw:?} is not a whole number of seconds from 0 to 3600"),
        )),
    }
}
