//! The outbound HTTP adapters: Slack's Web API and OAuth endpoints, the host's signed
//! webhook, all over one bounded `reqwest` client per process, and the host's documents
//! (over a client of their own).
//!
//! Our own thin client on purpose: the Rust Slack crates cannot parse org-wide installs
//! (`"team": null`) or rotating tokens.

pub mod host_files;
pub mod slack_api;
pub mod slack_oauth;
pub mod webhook;

/// The outbound HTTP client, bounded so a hung peer cannot eat a Lambda's whole timeout.
/// Building one loads the TLS roots (milliseconds, see the cold-start bench), so every
/// adapter of a process shares one: `reqwest::Client` is a handle to a shared pool.
pub(crate) fn http_client() -> reqwest::Client {
    static SHARED: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    SHARED.get_or_init(build_http_client).clone()
}

/// A fresh client; use the shared one unless a separate pool is the point.
pub fn build_http_client() -> reqwest::Client {
    client_builder()
        .build()
        .expect("a reqwest client with timeouts builds")
}

/// Every outbound client's bounds. Redirects are never followed: neither Slack's Web API
/// nor a `response_url` redirects, and a host webhook that does would have its signed POST
/// turned into a bodiless GET that looks delivered.
fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .connect_timeout(std::time::Duration::from_secs(3))
        .redirect(reqwest::redirect::Policy::none())
}
