//! Slack approvals backend: the domain core, its use cases, ports and AWS/Slack adapters.
//!
//! The Lambda binaries in `functions/` only build the adapters once per cold start and hand
//! events to the entrypoints in [`http`] and [`worker`]. Nothing below `domain`, `usecases`
//! and `ports` knows about AWS or HTTP types.

pub mod adapters;
pub mod backend;
pub mod blocks;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod http;
pub mod ports;
pub mod signing;
pub mod telemetry;
pub mod usecases;
pub mod worker;

#[cfg(test)]
pub(crate) mod fakes;

/// Seconds since the Unix epoch; the one clock the core reads.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or_default()
}
