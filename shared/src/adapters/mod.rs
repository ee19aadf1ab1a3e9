//! Adapters: the ports implemented over DynamoDB, SQS, Secrets Manager and HTTP.

pub mod dynamo;
pub mod secrets;
pub mod slack_http;
pub mod slack_oauth;
pub mod sqs;
pub mod webhook_http;

/// The SDK configuration from the standard environment (`AWS_REGION`, `AWS_ENDPOINT_URL`, …).
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// The outbound HTTP client, bounded so a hung peer cannot eat a Lambda's whole timeout.
/// Building one loads the TLS roots (milliseconds, see `benches/cold_start.rs`), so every
/// adapter of a process shares one: `reqwest::Client` is a handle to a shared pool.
pub(crate) fn http_client() -> reqwest::Client {
    static SHARED: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    SHARED.get_or_init(build_http_client).clone()
}

/// A fresh client; use [`http_client`] unless a separate pool is the point.
pub fn build_http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .connect_timeout(std::time::Duration::from_secs(3))
        .build()
        .expect("a reqwest client with timeouts builds")
}

/// Keeps the full SDK error chain in the message, which `Display` alone drops.
pub(crate) fn sdk_error_text<E: std::error::Error>(error: &E) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
