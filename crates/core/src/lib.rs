//! The approvals core: domain, Block Kit rendering, ports and use cases.
//!
//! No AWS, HTTP-server or Slack-client dependency: the compiler keeps this crate pure, and
//! the adapter crates (`approvals-aws`, `approvals-outbound`) and the functions depend on it,
//! never the other way round. Entrypoints pass `now` in; the use cases read the clock
//! ([`time::unix_now`]) only where they wait (a token refresh lease, a disconnect sweep).

pub mod audit;
pub mod blocks;
pub mod config;
pub mod counters;
pub mod domain;
pub mod files;
pub mod inbox;
pub mod machine;
pub mod notification;
pub mod outbox;
pub mod people;
pub mod ports;
pub mod reminders;
pub mod secret;
pub mod signing;
pub mod time;
pub mod usecases;

/// In-memory fakes of every port, for unit tests and benches; never linked into a Lambda.
#[cfg(any(test, feature = "testkit"))]
pub mod fakes;
