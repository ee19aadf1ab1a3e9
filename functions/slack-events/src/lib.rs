//! Slack's Events API request URL: verify, deduplicate, act, answer fast. It needs the
//! table and the queue, never a Slack client: `team_join` and `user_change` carry the user,
//! and a thread reply is told to the host through the queue.

use std::sync::Arc;

use approvals_aws::dynamo::DynamoStore;
use approvals_aws::secrets::CachedSecrets;
use approvals_aws::sqs::SqsDecisionQueue;
use approvals_aws::SdkConfig;
use approvals_core::config::{AppSecrets, ConfigError, FixedSecrets, LiveSecrets};
use approvals_core::ports::{
    ApprovalStore, CommentStore, HomeQueue, HostNotifier, TenantStore, UserDirectory,
};
use approvals_core::time::unix_now;
use approvals_core::usecases::slack_events::{EventsAnswer, EventsError, SlackEvents};
use approvals_lambda::env::{required_env, secret_cache};
use approvals_lambda::http::{
    empty_response, error_response, header, json_response, verify_slack_request,
    with_json_fallbacks,
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
    /// The signing secrets, current and previous; re-read after a rotation.
    pub secrets: Arc<dyn LiveSecrets>,
}

impl SlackEventsEndpoint {
    /// Cold-start wiring: the table, the queue and the signing secret, built once.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let settings = Settings::from_env()?;
        let aws = approvals_aws::aws_config().await;
        let (live, secrets) =
            CachedSecrets::load(&aws, &required_env("APP_SECRET_ID")?, secret_cache()?).await?;
        let mut endpoint = Self::new(&aws, settings, &secrets)?;
        endpoint.secrets = Arc::new(live);
        Ok(endpoint)
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
            secrets: Arc::new(FixedSecrets::of(secrets)),
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
    if let Err(refused) =
        verify_slack_request(endpoint.secrets.as_ref(), &headers, &body, now).await
    {
        return refused;
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
