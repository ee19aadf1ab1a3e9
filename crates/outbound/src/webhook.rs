//! Signed decision webhooks to the host over HTTP.

use async_trait::async_trait;

use approvals_core::ports::{HostEvent, WebhookError, WebhookSink};
use approvals_core::signing::sign_webhook;

pub struct HttpWebhookSink {
    http: reqwest::Client,
    url: String,
    secret: String,
}

impl HttpWebhookSink {
    pub fn new(url: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            http: crate::http_client(),
            url: url.into(),
            secret: secret.into(),
        }
    }
}

#[async_trait]
impl WebhookSink for HttpWebhookSink {
    async fn deliver(&self, event: &HostEvent) -> Result<(), WebhookError> {
        let body = serde_json::to_vec(event).expect("a HostEvent always serialises");
        let timestamp = approvals_core::time::unix_now();
        let signature = sign_webhook(self.secret.as_bytes(), timestamp, &body);
        let answer = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("x-approvals-timestamp", timestamp.to_string())
            .header("x-approvals-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| WebhookError::Transport(e.without_url().to_string()))?;
        if answer.status().is_success() {
            Ok(())
        } else {
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
