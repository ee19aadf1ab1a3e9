//! What every approvals Lambda shares: configuration read from the environment, JSON logs,
//! EMF metrics, and the HTTP plumbing that runs an axum `Router` on `lambda_http`.

pub mod emf;
pub mod env;
#[cfg(feature = "http")]
pub mod http;
pub mod telemetry;
