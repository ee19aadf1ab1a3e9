//! Slack's Events API request URL: verify, deduplicate, act, answer fast. It needs the
//! table and the queue, never a Slack client: `team_join` and `user_change` carry the user,
//! and a thread reply is told to the host through the queue.

use std::sync::Arc;

use approvals_aws::dynamo::DynamoStore;
use approvals_aws::sqs::SqsDecisionQueue;
use approvals_aws::SdkConfig;
use approvals_core::config::{AppSecrets, ConfigError};
use approvals_core::ports::{
    ApprovalStore, CommentStore, HomeQueue, HostNotifier, TenantStore, UserDirectory,
};
use approvals_core::signing::verify_slack;
use approvals_core::time::unix_now;
use approvals_core::usecases::slack_events::{EventsAnswer, EventsError, SlackEvents};
use approvals_lambda::env::required_env;
use approvals_lambda::http::{
    empty_response, error_response, header, json_response, with_json_fallbacks,
};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde_json::json;

/// Where the function's resources are; [`Settings::from_env`] reads them, tests set them.
pub struct Settings {
    pub table: String,
    pub queue_url: String,
}

impl Settings {
    /// `APP_TABLE` and `DECISION_QUEUE_URL`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table: required_env("APP_TABLE")?,
            queue_url: required_env("DECISION_QUEUE_URL")?,
        })
    }
}

pub struct SlackEventsEndpoint {
    pub guards: Arc<dyn ApprovalStore>,
    pub tenants: Arc<dyn TenantStore>,
    pub notifier: Arc<dyn HostNotifier>,
    pub directory: Arc<dyn UserDirectory>,
    pub homes: Arc<dyn HomeQueue>,
    pub comments: Arc<dyn CommentStore>,
    signing_secret: Vec<u8>,
}

impl SlackEventsEndpoint {
    /// Cold-start wiring: the table, the queue and the signing secret, built once.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let settings = Settings::from_env()?;
        let aws = approvals_aws::aws_config().await;
        let secrets = approvals_aws::secrets::load(&aws, &required_env("APP_SECRET_ID")?).await?;
        Self::new(&aws, settings, &secrets)
    }

    pub fn new(
        aws: &SdkConfig,
        settings: Settings,
        secrets: &AppSecrets,
    ) -> Result<Self, ConfigError> {
        let store = Arc::new(DynamoStore::from_secrets(aws, settings.table, secrets)?);
        let queue = Arc::new(SqsDecisionQueue::from_config(aws, settings.queue_url));
        Ok(Self {
            guards: store.clone(),
            tenants: store.clone(),
            comments: store.clone(),
            directory: store,
            notifier: queue.clone(),
            homes: queue,
            signing_secret: secrets.slack_signing_secret.as_bytes().to_vec(),
        })
    }

    /// `POST /slack/events`, as `template.yaml` routes it.
    pub fn router(self: Arc<Self>) -> Router {
        with_json_fallbacks(Router::new().route("/slack/events", post(event))).with_state(self)
    }
}

async fn event(
    State(endpoint): State<Arc<SlackEventsEndpoint>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = unix_now();
    if let Err(error) = verify_slack(
        &endpoint.signing_secret,
        header(&headers, "x-slack-request-timestamp"),
        header(&headers, "x-slack-signature"),
        &body,
        now,
    ) {
        tracing::warn!(%error, "refused an unsigned or badly signed event");
        return error_response(401, "invalid_signature", error.to_string());
    }
    let events = SlackEvents {
        guards: endpoint.guards.as_ref(),
        tenants: endpoint.tenants.as_ref(),
        notifier: endpoint.notifier.as_ref(),
        directory: endpoint.directory.as_ref(),
        homes: endpoint.homes.as_ref(),
        comments: endpoint.comments.as_ref(),
    };
    match events.handle(&body, now).await {
        Ok(EventsAnswer::Challenge(challenge)) => {
            json_response(200, &json!({"challenge": challenge}))
        }
        Ok(answer) => {
            tracing::info!(
                ?answer,
                retry = header(&headers, "x-slack-retry-num"),
                "event handled"
            );
            empty_response(200)
        }
        Err(EventsError::Malformed(reason)) => error_response(400, "invalid_event", reason),
        Err(error @ (EventsError::Store(_) | EventsError::Queue(_))) => {
            tracing::error!(%error, "event processing failed; Slack will retry");
            error_response(500, "internal_error", "retry later")
        }
    }
}
