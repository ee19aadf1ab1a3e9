//! Local hosting of the Lambda handlers: an API Gateway (HTTP API, payload v2) stand-in
//! and an SQS event source mapping stand-in. The handlers are the very ones the Lambda
//! binaries run, over the same AWS SDK code paths.

pub mod demo_host;
pub mod esm;
pub mod gateway;
pub mod runtime_api;
pub mod scheduler;
