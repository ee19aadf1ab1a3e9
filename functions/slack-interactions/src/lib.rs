//! Slack's interactivity request URL: verify, enqueue, answer 200. No Slack call here, and
//! nothing but the queue and the signing secret is built: this is the latency users feel.

use std::sync::Arc;

use approvals_aws::sqs::SqsDecisionQueue;
use approvals_core::config::ConfigError;
use approvals_core::ports::DecisionQueue;
use approvals_core::signing::verify_slack;
use approvals_core::time::unix_now;
use approvals_core::usecases::ack_click::{ack_click, AckError};
use approvals_lambda::env::required_env;
use approvals_lambda::http::{empty_response, error_response, header, with_json_fallbacks};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use axum::Router;

pub struct SlackInteractions {
    signing_secret: Vec<u8>,
    queue: Arc<dyn DecisionQueue>,
}

impl SlackInteractions {
    pub fn new(signing_secret: impl Into<Vec<u8>>, queue: Arc<dyn DecisionQueue>) -> Self {
        Self {
            signing_secret: signing_secret.into(),
            queue,
        }
    }

    /// Cold-start wiring: the SQS client and the signing secret, read once.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let queue_url = required_env("DECISION_QUEUE_URL")?;
        let aws = approvals_aws::aws_config().await;
        let secrets = approvals_aws::secrets::load(&aws, &required_env("APP_SECRET_ID")?).await?;
        let queue = SqsDecisionQueue::from_config(&aws, queue_url);
        Ok(Self::new(secrets.slack_signing_secret, Arc::new(queue)))
    }

    /// `POST /slack/interactions`, as `template.yaml` routes it.
    pub fn router(self: Arc<Self>) -> Router {
        with_json_fallbacks(Router::new().route("/slack/interactions", post(interaction)))
            .with_state(self)
    }

    /// The ack path: the signature over the raw body, the payload, the enqueue.
    pub async fn handle_at(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Response {
        if let Err(error) = verify_slack(
            &self.signing_secret,
            header(headers, "x-slack-request-timestamp"),
            header(headers, "x-slack-signature"),
            body,
            now,
        ) {
            tracing::warn!(%error, "refused an unsigned or badly signed interaction");
            return error_response(401, "invalid_signature", error.to_string());
        }
        match ack_click(self.queue.as_ref(), body).await {
            Ok(queued) => {
                tracing::info!(queued, "interaction acknowledged");
                empty_response(200)
            }
            Err(AckError::MalformedPayload(reason)) => {
                error_response(400, "invalid_payload", format!("payload: {reason}"))
            }
            Err(error @ AckError::Queue(_)) => {
                tracing::error!(%error, "could not enqueue the decision");
                error_response(
                    500,
                    "queue_unavailable",
                    "the decision could not be queued; try again",
                )
            }
        }
    }
}

async fn interaction(
    State(interactions): State<Arc<SlackInteractions>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    interactions.handle_at(&headers, &body, unix_now()).await
}
