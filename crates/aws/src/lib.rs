//! The AWS adapters: DynamoDB storage (with tokens sealed at rest), the SQS decision
//! queue, and the application secret from Secrets Manager.
//!
//! Each adapter sits behind a cargo feature so a function compiles and links only the SDKs
//! it calls: `slack-interactions` takes `sqs` and `secrets`, never DynamoDB.

#[cfg(feature = "dynamodb")]
pub mod cipher;
#[cfg(feature = "dynamodb")]
pub mod dynamo;
#[cfg(feature = "secrets")]
pub mod secrets;
#[cfg(feature = "sqs")]
pub mod sqs;

pub use aws_config::SdkConfig;

/// The SDK configuration from the standard environment (`AWS_REGION`, `AWS_ENDPOINT_URL`, …).
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
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
