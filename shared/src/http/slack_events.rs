//! Slack's Events API request URL: verify, deduplicate, act, answer fast.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use serde_json::json;

use super::{empty_response, error_response, header, json_response, raw_body};
use crate::backend::Backend;
use crate::config::ConfigError;
use crate::signing::verify_slack;
use crate::usecases::slack_events::{EventsAnswer, EventsError, SlackEvents};

pub struct SlackEventsEndpoint {
    pub backend: Backend,
}

impl SlackEventsEndpoint {
    pub async fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            backend: Backend::from_env().await?,
        })
    }

    pub async fn handle(&self, event: &ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
        let Ok(body) = raw_body(event) else {
            return error_response(400, "invalid_body", "the body is not valid base64");
        };
        let now = crate::unix_now();
        if let Err(error) = verify_slack(
            self.backend.secrets.slack_signing_secret.as_bytes(),
            header(event, "x-slack-request-timestamp"),
            header(event, "x-slack-signature"),
            &body,
            now,
        ) {
            tracing::warn!(%error, "refused an unsigned or badly signed event");
            return error_response(401, "invalid_signature", error.to_string());
        }
        let events = SlackEvents {
            guards: self.backend.approvals.as_ref(),
            tenants: self.backend.tenants.as_ref(),
            notifier: self.backend.notifier.as_ref(),
        };
        match events.handle(&body, now).await {
            Ok(EventsAnswer::Challenge(challenge)) => {
                json_response(200, &json!({"challenge": challenge}))
            }
            Ok(answer) => {
                tracing::info!(
                    ?answer,
                    retry = header(event, "x-slack-retry-num"),
                    "event handled"
                );
                empty_response(200)
            }
            Err(EventsError::Malformed(reason)) => error_response(400, "invalid_event", reason),
            Err(error @ EventsError::Store(_)) => {
                tracing::error!(%error, "event processing failed; Slack will retry");
                error_response(500, "internal_error", "retry later")
            }
        }
    }
}
