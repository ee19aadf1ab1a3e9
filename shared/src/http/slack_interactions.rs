//! Slack's interactivity request URL: verify, enqueue, answer 200. No Slack call here.

use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};

use super::{empty_response, error_response, header, raw_body};
use crate::adapters::sqs::SqsDecisionQueue;
use crate::config::{required_env, ConfigError};
use crate::ports::DecisionQueue;
use crate::signing::verify_slack;
use crate::usecases::ack_click::{ack_click, AckError};

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
        let aws = crate::adapters::aws_config().await;
        let secrets = crate::adapters::secrets::load_app_secrets(
            &aws_sdk_secretsmanager::Client::new(&aws),
            &required_env("APP_SECRET_ID")?,
        )
        .await?;
        let queue = SqsDecisionQueue::new(aws_sdk_sqs::Client::new(&aws), queue_url);
        Ok(Self::new(secrets.slack_signing_secret, Arc::new(queue)))
    }

    pub async fn handle(&self, event: &ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
        self.handle_at(event, crate::unix_now()).await
    }

    pub async fn handle_at(
        &self,
        event: &ApiGatewayV2httpRequest,
        now: i64,
    ) -> ApiGatewayV2httpResponse {
        let Ok(body) = raw_body(event) else {
            return error_response(400, "invalid_body", "the body is not valid base64");
        };
        if let Err(error) = verify_slack(
            &self.signing_secret,
            header(event, "x-slack-request-timestamp"),
            header(event, "x-slack-signature"),
            &body,
            now,
        ) {
            tracing::warn!(%error, "refused an unsigned or badly signed interaction");
            return error_response(401, "invalid_signature", error.to_string());
        }
        match ack_click(self.queue.as_ref(), &body).await {
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
