//! Slack's interactivity request URL: verify, enqueue, answer 200. An Approve (or a Reject
//! that needs no reason) makes no Slack call and reads nothing: this is the latency users
//! feel. A Reject that asks for a reason opens the modal here, inside the click's 3 s,
//! which needs the workspace's bot token; its submission is queued like any click.

use std::sync::Arc;

use approvals_aws::dynamo::DynamoStore;
use approvals_aws::secrets::CachedSecrets;
use approvals_aws::sqs::SqsDecisionQueue;
use approvals_aws::SdkConfig;
use approvals_core::blocks::reject_reason_view;
use approvals_core::config::{
    AppSecrets, ConfigError, FixedSecrets, LiveSecrets, RequestSecrets, SigningKeys,
};
use approvals_core::counters::{CLICKS_ACKED, UNAUTHORIZED_CLICKS};
use approvals_core::machine::{apply, Command};
use approvals_core::ports::{ApprovalStore, BotTokens, DecisionQueue, SlackViews, TenantStore};
use approvals_core::time::unix_now;
use approvals_core::usecases::ack_click::{
    enqueue_all, interaction, reason_missing_answer, AckError, AskReason, Interaction,
};
use approvals_core::usecases::tokens::RotatingTokens;
use approvals_lambda::env::{required_env, secret_cache, slack_api_base_url};
use approvals_lambda::http::{
    empty_response, error_response, json_response, verify_slack_request, with_json_fallbacks,
};
use approvals_outbound::slack_api::{RetryPolicy, SlackHttpClient};
use approvals_outbound::slack_oauth::SlackOAuthClient;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use metrics::counter;
use tracing::Instrument as _;

/// Where the function's resources are; [`Settings::from_env`] reads them, tests set them.
pub struct Settings {
    pub table: String,
    pub queue_url: String,
    pub slack_api_base_url: String,
}

impl Settings {
    /// `APP_TABLE`, `DECISION_QUEUE_URL` and `SLACK_API_BASE_URL`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table: required_env("APP_TABLE")?,
            queue_url: required_env("DECISION_QUEUE_URL")?,
            slack_api_base_url: slack_api_base_url(),
        })
    }
}

/// What opening a modal needs: the workspace's installation and token, and `views.open`.
pub struct Modals {
    pub approvals: Arc<dyn ApprovalStore>,
    pub tenants: Arc<dyn TenantStore>,
    pub tokens: Arc<dyn BotTokens>,
    pub views: Arc<dyn SlackViews>,
}

pub struct SlackInteractions {
    /// The signing secrets, current and previous; re-read after a rotation.
    secrets: Arc<dyn LiveSecrets>,
    queue: Arc<dyn DecisionQueue>,
    modals: Option<Modals>,
}

impl SlackInteractions {
    /// The ack path alone: without [`Modals`], a Reject that asks for a reason does nothing.
    pub fn new(signing_secret: impl Into<Vec<u8>>, queue: Arc<dyn DecisionQueue>) -> Self {
        let secrets = RequestSecrets {
            slack_signing: SigningKeys::from(signing_secret.into()),
            ..RequestSecrets::default()
        };
        Self {
            secrets: Arc::new(FixedSecrets(Arc::new(secrets))),
            queue,
            modals: None,
        }
    }

    /// Signing secrets that follow a rotation (the deployed function's).
    pub fn with_secrets(mut self, secrets: Arc<dyn LiveSecrets>) -> Self {
        self.secrets = secrets;
        self
    }

    pub fn with_modals(mut self, modals: Modals) -> Self {
        self.modals = Some(modals);
        self
    }

    /// Cold-start wiring: the SQS and DynamoDB clients, the Slack client and the secret,
    /// built once. None of them is called on the Approve path.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let settings = Settings::from_env()?;
        let aws = approvals_aws::aws_config().await;
        let (live, secrets) =
            CachedSecrets::load(&aws, &required_env("APP_SECRET_ID")?, secret_cache()?).await?;
        Ok(Self::wire(&aws, settings, &secrets)?.with_secrets(Arc::new(live)))
    }

    /// Every port from the shared SDK configuration and the application secret.
    pub fn wire(
        aws: &SdkConfig,
        settings: Settings,
        secrets: &AppSecrets,
    ) -> Result<Self, ConfigError> {
        let queue = Arc::new(SqsDecisionQueue::from_config(aws, settings.queue_url));
        let store = Arc::new(DynamoStore::from_secrets(aws, settings.table, secrets)?);
        // One short try: the trigger dies 3 s after the click.
        let slack = SlackHttpClient::with_retry(
            settings.slack_api_base_url,
            RetryPolicy {
                max_attempts: 1,
                ..RetryPolicy::default()
            },
        );
        let oauth = Arc::new(SlackOAuthClient::from_secrets(slack.clone(), secrets));
        let modals = Modals {
            approvals: store.clone(),
            tenants: store.clone(),
            tokens: Arc::new(RotatingTokens::new(store, oauth, queue.clone())),
            views: Arc::new(slack),
        };
        Ok(Self::new(secrets.slack_signing_secret.clone(), queue)
            .with_secrets(Arc::new(FixedSecrets::of(secrets)))
            .with_modals(modals))
    }

    /// `POST /slack/interactions`, as `template.yaml` routes it.
    pub fn router(self: Arc<Self>) -> Router {
        with_json_fallbacks(Router::new().route("/slack/interactions", post(interaction_route)))
            .with_state(self)
    }

    /// The ack path: the signature over the raw body, the payload, the enqueue.
    pub async fn handle_at(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Response {
        if let Err(refused) = verify_slack_request(self.secrets.as_ref(), headers, body, now).await
        {
            counter!(UNAUTHORIZED_CLICKS).increment(1);
            return refused;
        }
        let asked = match interaction(body) {
            Ok(asked) => asked,
            Err(AckError::MalformedPayload(reason)) => {
                return error_response(400, "invalid_payload", format!("payload: {reason}"))
            }
            Err(error @ AckError::Queue(_)) => return queue_failed(&error),
        };
        let span = interaction_span(&asked);
        self.answer(asked, now).instrument(span).await
    }

    /// Queues the decision, or opens the reason modal, or tells the clicker what is missing.
    async fn answer(&self, asked: Interaction, now: i64) -> Response {
        match asked {
            Interaction::Decide(commands) => {
                match enqueue_all(self.queue.as_ref(), &commands).await {
                    Ok(queued) => {
                        counter!(CLICKS_ACKED).increment(queued as u64);
                        tracing::info!(queued, "interaction acknowledged");
                        empty_response(200)
                    }
                    Err(error) => queue_failed(&error),
                }
            }
            Interaction::AskReason(ask) => {
                if self.cannot_count(&ask, now).await {
                    // Decided already, or not theirs to decide: the worker says so at once.
                    return match self.queue.enqueue(&ask.without_reason).await {
                        Ok(()) => empty_response(200),
                        Err(error) => queue_failed(&AckError::Queue(error)),
                    };
                }
                self.open_reason_modal(&ask, now).await;
                empty_response(200)
            }
            Interaction::ReasonMissing => json_response(200, &reason_missing_answer()),
            Interaction::Ignored => empty_response(200),
        }
    }

    /// Whether this Reject would be refused whatever the reason: the request ended, or the
    /// clicker may not decide it. Unknown (no store, a failed read) counts as "may count".
    async fn cannot_count(&self, ask: &AskReason, now: i64) -> bool {
        let Some(modals) = &self.modals else {
            return false;
        };
        let approval = match modals.approvals.get(&ask.context.approval_id).await {
            Ok(Some(approval)) => approval,
            Ok(None) => return false,
            Err(error) => {
                tracing::warn!(%error, "could not read the approval before the modal");
                return false;
            }
        };
        let command = &ask.without_reason;
        let vote = Command::Vote {
            user_id: command.user_id.clone(),
            team_id: command.team_id.clone(),
            decision: command.decision,
            reason: None,
        };
        !command.may_act_on(&approval.installation_id)
            || apply(&approval.state, &vote, now).refusal.is_some()
    }

    /// Opens the reject-reason modal; a failure leaves the request as it was (nothing was
    /// decided) and is logged, since Slack shows the clicker nothing either way.
    async fn open_reason_modal(&self, ask: &AskReason, now: i64) {
        let Some(modals) = &self.modals else {
            tracing::warn!("a reject asks for a reason, but modals are not wired here");
            return;
        };
        let approval_id = &ask.context.approval_id;
        let installation = match modals.tenants.installation(&ask.team_id).await {
            Ok(Some(installation)) => Some(installation),
            Ok(None) => match &ask.enterprise_id {
                Some(enterprise) => modals.tenants.installation(enterprise).await.ok().flatten(),
                None => None,
            },
            Err(error) => {
                tracing::error!(%approval_id, %error, "could not read the installation to open the modal");
                return;
            }
        };
        let Some(installation) = installation else {
            tracing::warn!(%approval_id, team_id = %ask.team_id, "no installation for the clicking workspace; no modal");
            return;
        };
        let token = match modals.tokens.usable_token(&installation, now).await {
            Ok(token) => token,
            Err(error) => {
                tracing::error!(%approval_id, %error, "no usable bot token to open the modal");
                return;
            }
        };
        let metadata = match serde_json::to_string(&ask.context) {
            Ok(metadata) => metadata,
            Err(error) => {
                tracing::error!(%approval_id, %error, "could not encode the modal's metadata");
                return;
            }
        };
        let view = reject_reason_view(&metadata, ask.context.required);
        match modals.views.open_view(&token, &ask.trigger_id, &view).await {
            Ok(()) => tracing::info!(%approval_id, "reject-reason modal opened"),
            Err(error) => {
                tracing::error!(%approval_id, %error, "views.open failed; nothing was decided")
            }
        }
    }
}

fn queue_failed(error: &AckError) -> Response {
    tracing::error!(%error, "could not enqueue the decision");
    error_response(
        500,
        "queue_unavailable",
        "the decision could not be queued; try again",
    )
}

async fn interaction_route(
    State(interactions): State<Arc<SlackInteractions>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    interactions.handle_at(&headers, &body, unix_now()).await
}

/// Every line logged for the click names the request, the command and the workspace.
fn interaction_span(asked: &Interaction) -> tracing::Span {
    let (approval_id, command_id, team_id) = match asked {
        Interaction::Decide(commands) => match commands.first() {
            Some(c) => (
                c.approval_id.as_str(),
                c.command_id.as_str(),
                c.team_id.as_str(),
            ),
            None => ("", "", ""),
        },
        Interaction::AskReason(ask) => (
            ask.context.approval_id.as_str(),
            ask.without_reason.command_id.as_str(),
            ask.team_id.as_str(),
        ),
        Interaction::ReasonMissing | Interaction::Ignored => ("", "", ""),
    };
    tracing::info_span!("click", approval_id, command_id, team_id)
}
