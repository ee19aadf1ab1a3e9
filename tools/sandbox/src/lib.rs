//! Offline stand-ins for Slack and for a host application.
//!
//! [`slack::SlackSandbox`] answers Slack's Web API the way Slack does (`ok:false` error
//! codes, HTTP 429 with `Retry-After`, bearer-token checks, Block Kit limits) and sends
//! signed interaction payloads like Slack. [`host::HostStandIn`] receives the decision
//! webhooks and checks their signatures. Nothing here ships in a Lambda.

pub mod host;
pub mod slack;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Hex HMAC-SHA256, the primitive behind both Slack's and the host's signatures.
pub(crate) fn hmac_hex(secret: &[u8], parts: &[&[u8]]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    for part in parts {
        mac.update(part);
    }
    hex::encode(mac.finalize().into_bytes())
}

pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Binds a free loopback port.
pub async fn loopback_listener() -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind("127.0.0.1:0").await
}
