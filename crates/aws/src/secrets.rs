//! Reads the application secret from Secrets Manager: whole at cold start, and the signing
//! secrets again at most every `SECRET_CACHE_SECONDS`, so a rotation needs no deploy.

use std::sync::Arc;
use std::time::{Duration, Instant};

use approvals_core::config::{AppSecrets, ConfigError, LiveSecrets, RequestSecrets};

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

/// After a failed re-read, how long the secrets last read keep serving before the next try.
const RETRY_AFTER: Duration = Duration::from_secs(30);

/// The application secret's signing secrets, re-read at most every `max_age`. A re-read
/// that fails keeps serving what was read last: an outage of Secrets Manager must not
/// turn every request away.
pub struct CachedSecrets {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    max_age: Duration,
    cached: tokio::sync::Mutex<(Arc<RequestSecrets>, Instant)>,
}

impl CachedSecrets {
    /// Reads the secret once (a cold start fails when it cannot), and answers it whole
    /// for the wiring that needs more than the signing secrets.
    pub async fn load(
        aws: &aws_config::SdkConfig,
        secret_id: &str,
        max_age: Duration,
    ) -> Result<(Self, AppSecrets), ConfigError> {
        let client = aws_sdk_secretsmanager::Client::new(aws);
        let secrets = load_app_secrets(&client, secret_id).await?;
        let cached = Self {
            client,
            secret_id: secret_id.to_owned(),
            max_age,
            cached: tokio::sync::Mutex::new((
                Arc::new(RequestSecrets::from(&secrets)),
                Instant::now(),
            )),
        };
        Ok((cached, secrets))
    }
}

#[async_trait::async_trait]
impl LiveSecrets for CachedSecrets {
    async fn request_secrets(&self) -> Arc<RequestSecrets> {
        // One re-read at a time; the others wait for it rather than read too.
        let mut cached = self.cached.lock().await;
        if cached.1.elapsed() < self.max_age {
            return cached.0.clone();
        }
        match load_app_secrets(&self.client, &self.secret_id).await {
            Ok(secrets) => {
                let fresh = RequestSecrets::from(&secrets);
                if fresh != *cached.0 {
                    tracing::info!("the application secret changed; new signing secrets in use");
                }
                *cached = (Arc::new(fresh), Instant::now());
            }
            Err(error) => {
                tracing::warn!(%error, "re-reading the application secret failed; keeping the last one");
                let retry_at = Instant::now() + RETRY_AFTER;
                cached.1 = retry_at.checked_sub(self.max_age).unwrap_or(cached.1);
            }
        }
        cached.0.clone()
    }
}
