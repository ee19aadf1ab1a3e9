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
/// The longest a re-read may take: a click's acknowledgement waits on it.
const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// At most one re-read forced by a refused signature this often.
const FORCED_EVERY: Duration = Duration::from_secs(10);

/// The application secret's signing secrets, re-read at most every `max_age`. A re-read
/// that fails keeps serving what was read last: an outage of Secrets Manager must not
/// turn every request away.
pub struct CachedSecrets {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    max_age: Duration,
    cached: tokio::sync::Mutex<Cached>,
}

struct Cached {
    secrets: Arc<RequestSecrets>,
    read_at: Instant,
    forced_at: Option<Instant>,
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
            cached: tokio::sync::Mutex::new(Cached {
                secrets: Arc::new(RequestSecrets::from(&secrets)),
                read_at: Instant::now(),
                forced_at: None,
            }),
        };
        Ok((cached, secrets))
    }

    /// Reads the secret into `cached`; true when it changed. A failure (or a read slower
    /// than [`READ_TIMEOUT`]) keeps the last secrets, to be read again after
    /// [`RETRY_AFTER`].
    async fn read_into(&self, cached: &mut Cached) -> bool {
        let read = tokio::time::timeout(
            READ_TIMEOUT,
            load_app_secrets(&self.client, &self.secret_id),
        )
        .await;
        match read {
            Ok(Ok(secrets)) => {
                let fresh = RequestSecrets::from(&secrets);
                let changed = fresh != *cached.secrets;
                if changed {
                    tracing::info!("the application secret changed; new signing secrets in use");
                    cached.secrets = Arc::new(fresh);
                }
                cached.read_at = Instant::now();
                changed
            }
            failed => {
                let error = match failed {
                    Ok(Err(error)) => error.to_string(),
                    _ => format!("no answer within {READ_TIMEOUT:?}"),
                };
                tracing::warn!(%error, "re-reading the application secret failed; keeping the last one");
                let retry_at = Instant::now() + RETRY_AFTER;
                cached.read_at = retry_at.checked_sub(self.max_age).unwrap_or(cached.read_at);
                false
            }
        }
    }
}

#[async_trait::async_trait]
impl LiveSecrets for CachedSecrets {
    async fn request_secrets(&self) -> Arc<RequestSecrets> {
        // One re-read at a time; the others wait for it (at most READ_TIMEOUT) rather
        // than read too.
        let mut cached = self.cached.lock().await;
        if cached.read_at.elapsed() >= self.max_age {
            self.read_into(&mut cached).await;
        }
        cached.secrets.clone()
    }

    async fn reread_after_refusal(&self) -> Option<Arc<RequestSecrets>> {
        let mut cached = self.cached.lock().await;
        if cached
            .forced_at
            .is_some_and(|at| at.elapsed() < FORCED_EVERY)
        {
            return None;
        }
        cached.forced_at = Some(Instant::now());
        self.read_into(&mut cached)
            .await
            .then(|| cached.secrets.clone())
    }
}
