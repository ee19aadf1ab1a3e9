//! Reads the application secret from Secrets Manager, once per cold start.

use approvals_core::config::{AppSecrets, ConfigError};

/// Reads and validates the secret named `secret_id` (the function's `APP_SECRET_ID`).
pub async fn load(aws: &aws_config::SdkConfig, secret_id: &str) -> Result<AppSecrets, ConfigError> {
    load_app_secrets(&aws_sdk_secretsmanager::Client::new(aws), secret_id).await
}

pub async fn load_app_secrets(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<AppSecrets, ConfigError> {
    let answer = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| ConfigError::SecretUnavailable(crate::sdk_error_text(&e)))?;
    let json = answer
        .secret_string()
        .ok_or_else(|| ConfigError::MalformedSecret("the secret has no SecretString".into()))?;
    AppSecrets::from_json(json)
}
