//! Signed decision webhooks to the host over HTTP.

use async_trait::async_trait;

use std::sync::Arc;

use approvals_core::config::{FixedSecrets, LiveSecrets, RequestSecrets, SigningKeys};
use approvals_core::counters::{WEBHOOKS_DELIVERED, WEBHOOK_FAILURES};
use approvals_core::ports::{HostEvent, WebhookError, WebhookSink};
use approvals_core::signing::sign_webhook;
use metrics::counter;

pub struct HttpWebhookSink {
    http: reqwest::Client,
    url: String,
    /// Signs with the current webhook secret, re-read after a rotation.
    secrets: Arc<dyn LiveSecrets>,
}

impl HttpWebhookSink {
    pub fn new(url: impl Into<String>, secret: impl Into<String>) -> Self {
        let secrets = RequestSecrets {
            host_webhook: SigningKeys::from(secret.into().into_bytes()),
            ..RequestSecrets::default()
        };
        Self {
            http: crate::http_client(),
            url: url.into(),
            secrets: Arc::new(FixedSecrets(Arc::new(secrets))),
        }
    }

    /// The secrets of the deployed function, which follow a rotation.
    pub fn with_secrets(mut self, secrets: Arc<dyn LiveSecrets>) -> Self {
        self.secrets = secrets;
        self
    }
}

#[async_trait]
impl WebhookSink for HttpWebhookSink {
    async fn deliver(&self, event: &HostEvent) -> Result<(), WebhookError> {
        let body = serde_json::to_vec(event).expect("a HostEvent always serialises");
        let timestamp = approvals_core::time::unix_now();
        let secrets = self.secrets.request_secrets().await;
        let signature = sign_webhook(secrets.host_webhook.current(), timestamp, &body);
        let answer = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("x-approvals-timestamp", timestamp.to_string())
            .header("x-approvals-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                counter!(WEBHOOK_FAILURES).increment(1);
                WebhookError::Transport(e.without_url().to_string())
            })?;
        if answer.status().is_success() {
            counter!(WEBHOOKS_DELIVERED).increment(1);
            Ok(())
        } else {
            counter!(WEBHOOK_FAILURES).increment(1);
            if answer.status().is_redirection() {
                // Following it would turn the POST into a bodiless GET that "succeeds".
                tracing::warn!(
                    status = answer.status().as_u16(),
                    location = answer
                        .headers()
                        .get("location")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default(),
                    "the host webhook redirected; not followed, the delivery failed"
                );
            }
            Err(WebhookError::Status(answer.status().as_u16()))
        }
    }
}
