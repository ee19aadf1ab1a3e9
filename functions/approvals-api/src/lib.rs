//! The host's HTTP API: signed requests to create approvals, read them, route channels and
//! manage the tenant's Slack connection. Every route sits behind the v1 signature check.

mod audit;
mod comments;
mod files;
mod host_decisions;
mod listing;
mod notifications;
mod reminders;
mod users;

use std::sync::Arc;

use approvals_aws::dynamo::DynamoStore;
use approvals_aws::secrets::CachedSecrets;
use approvals_aws::sqs::SqsDecisionQueue;
use approvals_aws::SdkConfig;
use approvals_core::config::{AppSecrets, ConfigError, FixedSecrets, LiveSecrets, RequestSecrets};
use approvals_core::domain::{
    check_identifier, looks_like_approval_id, Approval, ApprovalRequest, ConnectionStatus,
    CopyRole, TenantLink,
};
use approvals_core::files::AllowedFileUrls;
use approvals_core::machine::Actor;
use approvals_core::outbox::{OutboxEntry, Outgoing};
use approvals_core::ports::{
    ApprovalStore, AuditTrail, BotTokens, CleanupQueue, CommentStore, DeadlineStore, DigestStore,
    EffectsQueue, HostNotifier, InboxStore, InstallFlowStore, InstallFollowUp, NotificationStore,
    ReminderSettings, SlackApi, SlackChannels, SlackDirectory, SlackOAuth, TenantStore,
    UserDirectory,
};
use approvals_core::signing::{
    verify_host_request_with, HostRequest, SignatureError, SignedWith, MAX_SKEW_SECS,
};
use approvals_core::time::{rfc3339, unix_now};
use approvals_core::usecases::connection::disconnect_tenant;
use approvals_core::usecases::create_approval::{
    approver_statuses, CreateApproval, CreateApprovalError, Created,
};
use approvals_core::usecases::install::{InstallError, InstallFlow, InstallSettings};
use approvals_core::usecases::set_channel::{RouteChannel, SetChannelError};
use approvals_core::usecases::tokens::RotatingTokens;
use approvals_lambda::env::{
    file_urls_from_env, install_settings_from_env, required_env, secret_cache, slack_api_base_url,
};
use approvals_lambda::http::{
    error_response, header, internal_error, json_response, request_target, with_json_fallbacks,
    ApiError,
};
use approvals_outbound::slack_api::{RetryPolicy, SlackHttpClient};
use approvals_outbound::slack_oauth::SlackOAuthClient;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, RawQuery, Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use serde_json::{json, Value};
use tracing::Instrument as _;

/// The largest body the API reads; API Gateway's own limit is lower still.
const MAX_BODY_BYTES: usize = 6 * 1024 * 1024;

/// Where the function's resources are; [`Settings::from_env`] reads them, tests set them.
pub struct Settings {
    pub table: String,
    pub queue_url: String,
    pub slack_api_base_url: String,
    pub slack_retry: RetryPolicy,
    pub install: InstallSettings,
    /// `HOST_FILE_URL_PREFIXES`: where attachments may be fetched from.
    pub file_urls: AllowedFileUrls,
}

impl Settings {
    /// `APP_TABLE`, `DECISION_QUEUE_URL`, `SLACK_API_BASE_URL`, `HOST_FILE_URL_PREFIXES`
    /// and the install settings.
    pub fn from_env(secrets: &AppSecrets) -> Result<Self, ConfigError> {
        Ok(Self {
            table: required_env("APP_TABLE")?,
            queue_url: required_env("DECISION_QUEUE_URL")?,
            slack_api_base_url: slack_api_base_url(),
            slack_retry: RetryPolicy::default(),
            install: install_settings_from_env(secrets)?,
            file_urls: file_urls_from_env()?,
        })
    }
}

/// The API's ports, built once per cold start.
pub struct ApprovalsApi {
    pub approvals: Arc<dyn ApprovalStore>,
    pub tenants: Arc<dyn TenantStore>,
    pub install_flow: Arc<dyn InstallFlowStore>,
    pub notifier: Arc<dyn HostNotifier>,
    pub follow_up: Arc<dyn InstallFollowUp>,
    pub cleanup: Arc<dyn CleanupQueue>,
    pub later: Arc<dyn EffectsQueue>,
    pub slack: Arc<dyn SlackApi>,
    pub channels: Arc<dyn SlackChannels>,
    pub directory: Arc<dyn UserDirectory>,
    pub inbox: Arc<dyn InboxStore>,
    pub reminder_settings: Arc<dyn ReminderSettings>,
    pub digests: Arc<dyn DigestStore>,
    pub deadlines: Arc<dyn DeadlineStore>,
    pub audit: Arc<dyn AuditTrail>,
    pub comments: Arc<dyn CommentStore>,
    pub notifications: Arc<dyn NotificationStore>,
    pub slack_directory: Arc<dyn SlackDirectory>,
    pub oauth: Arc<dyn SlackOAuth>,
    pub tokens: Arc<dyn BotTokens>,
    pub install: InstallSettings,
    pub file_urls: AllowedFileUrls,
    /// The host API secrets, current and previous; re-read after a rotation.
    pub secrets: Arc<dyn LiveSecrets>,
}

impl ApprovalsApi {
    /// Cold-start wiring: the SDK clients, the secret and the Slack clients, built once.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let aws = approvals_aws::aws_config().await;
        let (live, secrets) =
            CachedSecrets::load(&aws, &required_env("APP_SECRET_ID")?, secret_cache()?).await?;
        let settings = Settings::from_env(&secrets)?;
        let mut api = Self::new(&aws, settings, &secrets)?;
        api.secrets = Arc::new(live);
        Ok(api)
    }

    pub fn new(
        aws: &SdkConfig,
        settings: Settings,
        secrets: &AppSecrets,
    ) -> Result<Self, ConfigError> {
        let store = Arc::new(DynamoStore::from_secrets(aws, settings.table, secrets)?);
        let queue = Arc::new(SqsDecisionQueue::from_config(aws, settings.queue_url));
        let slack = Arc::new(SlackHttpClient::with_retry(
            &settings.slack_api_base_url,
            settings.slack_retry,
        ));
        let oauth = Arc::new(SlackOAuthClient::from_secrets(
            slack.as_ref().clone(),
            secrets,
        ));
        let tokens = Arc::new(RotatingTokens::new(
            store.clone(),
            oauth.clone(),
            queue.clone(),
        ));
        Ok(Self {
            approvals: store.clone(),
            tenants: store.clone(),
            install_flow: store.clone(),
            directory: store.clone(),
            inbox: store.clone(),
            reminder_settings: store.clone(),
            digests: store.clone(),
            deadlines: store.clone(),
            audit: store.clone(),
            comments: store.clone(),
            notifications: store,
            notifier: queue.clone(),
            follow_up: queue.clone(),
            cleanup: queue.clone(),
            later: queue,
            slack: slack.clone(),
            channels: slack.clone(),
            slack_directory: slack,
            oauth,
            tokens,
            install: settings.install,
            file_urls: settings.file_urls,
            secrets: Arc::new(FixedSecrets::of(secrets)),
        })
    }

    /// The routes of `template.yaml`'s `/v1/{proxy+}`, each behind the signature check.
    pub fn router(self: Arc<Self>) -> Router {
        let routes = Router::new()
            .route("/v1/approvals", post(create).get(listing::list))
            .route("/v1/approvals/{id}", get(read))
            .route("/v1/approvals/{id}/events", get(audit::events))
            .route("/v1/approvals/{id}/comments", post(comments::post))
            .route("/v1/approvals/{id}/files", post(files::attach))
            .route("/v1/approvals/{id}/cancel", post(host_decisions::cancel))
            .route("/v1/approvals/{id}/decision", post(host_decisions::decide))
            .route("/v1/notifications", post(notifications::notify))
            .route(
                "/v1/tenants/{tenant_id}/channels/{kind}",
                put(route_channel),
            )
            .route(
                "/v1/tenants/{tenant_id}/users",
                put(users::put_users).get(users::list_users),
            )
            .route(
                "/v1/tenants/{tenant_id}/users/{user_id}",
                put(users::put_user),
            )
            .route(
                "/v1/tenants/{tenant_id}/reminders",
                put(reminders::put_tenant_reminders),
            )
            .route(
                "/v1/tenants/{tenant_id}/users/{user_id}/reminders",
                put(reminders::put_user_reminders),
            )
            .route(
                "/v1/tenants/{tenant_id}/kinds/{kind}",
                put(reminders::put_kind),
            )
            .route(
                "/v1/tenants/{tenant_id}/slack/install-links",
                post(create_install_link),
            )
            .route(
                "/v1/tenants/{tenant_id}/slack",
                get(connection_status).delete(disconnect),
            );
        with_json_fallbacks(routes)
            .layer(middleware::from_fn_with_state(
                self.clone(),
                verify_signature,
            ))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(self)
    }

    fn install_flow(&self) -> InstallFlow<'_> {
        InstallFlow {
            flow: self.install_flow.as_ref(),
            tenants: self.tenants.as_ref(),
            oauth: self.oauth.as_ref(),
            notifier: self.notifier.as_ref(),
            follow_up: self.follow_up.as_ref(),
            settings: &self.install,
        }
    }
}

type Api = State<Arc<ApprovalsApi>>;

/// Refuses any request, routed or not, whose v1 signature does not cover its method, path,
/// query and raw body; the body is read here once and handed on unchanged.
async fn verify_signature(State(api): Api, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return error_response(413, "invalid_body", "body: larger than the API accepts");
    };
    let target = request_target(&parts);
    let now = unix_now();
    let verify = |secrets: &RequestSecrets| {
        let keys = secrets.host_api.all();
        let mut outcome = Err(SignatureError::Mismatch);
        for signed_path in target.signable() {
            let request = HostRequest {
                method: parts.method.as_str(),
                path_and_query: signed_path,
                raw_body: &body,
            };
            outcome = verify_host_request_with(
                &keys,
                header(&parts.headers, "x-approvals-timestamp"),
                header(&parts.headers, "x-approvals-signature"),
                &request,
                now,
            );
            if outcome.is_ok() {
                break;
            }
        }
        outcome
    };
    let mut outcome = verify(api.secrets.request_secrets().await.as_ref());
    if outcome == Err(SignatureError::Mismatch) {
        if let Some(fresh) = api.secrets.reread_after_refusal().await {
            outcome = verify(&fresh);
        }
    }
    match outcome {
        Ok(SignedWith::Current) => {}
        Ok(SignedWith::Previous(n)) => tracing::warn!(previous = n,
            "a host request was signed with a previous host API secret; finish the rotation in the host"),
        Err(error) => return error_response(401, "invalid_signature", error.to_string()),
    }
    // Every body is JSON; one declared as something else was sent by mistake (a form, a
    // file), so it is refused rather than read as JSON. A body without a declared type is
    // read as JSON.
    let declared = header(&parts.headers, "content-type").map(|value| {
        value
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    });
    if !body.is_empty()
        && declared
            .as_deref()
            .is_some_and(|kind| kind != "application/json")
    {
        return error_response(
            415,
            "unsupported_media_type",
            "content-type: the body must be application/json",
        );
    }
    // A captured request must not work twice: a replayed install-link request would hand
    // out a fresh link to the tenant's Slack connection. Reads are harmless, and a repeated
    // create (approval or notification) is already idempotent by `external_id`, so both
    // stay repeatable; so do a comment and a file, idempotent by `comment_id` and `file_id`.
    let path = target.stage_relative.as_str();
    let idempotent_create = matches!(path, "/v1/approvals" | "/v1/notifications")
        || (path.starts_with("/v1/approvals/")
            && (path.ends_with("/comments") || path.ends_with("/files")));
    let replay_guard = (parts.method != Method::GET && !idempotent_create)
        .then(|| header(&parts.headers, "x-approvals-signature"))
        .flatten()
        .map(|signature| format!("HOSTSIG#{signature}"));
    if let Some(guard) = &replay_guard {
        match api
            .approvals
            .claim_once(guard, now, now + 2 * MAX_SKEW_SECS)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                return error_response(
                    401,
                    "replayed",
                    "this signed request was already accepted; sign each request anew",
                )
            }
            Err(error) => return internal_error(&error),
        }
    }
    // Every line logged for the call names it, and the request and tenant where the path
    // or the query names them.
    let span = tracing::info_span!(
        "host_call",
        method = parts.method.as_str(),
        path = path,
        approval_id = tracing::field::Empty,
        tenant_id = tracing::field::Empty,
    );
    let segment_after = |prefix: &str| {
        path.strip_prefix(prefix)
            .and_then(|rest| rest.split('/').next())
            .filter(|segment| !segment.is_empty())
    };
    if let Some(approval_id) = segment_after("/v1/approvals/") {
        span.record("approval_id", approval_id);
    }
    let tenant_id = segment_after("/v1/tenants/")
        .map(str::to_owned)
        .or_else(|| tenant_in_query(parts.uri.query()));
    if let Some(tenant_id) = &tenant_id {
        span.record("tenant_id", tenant_id.as_str());
    }
    let answer = next
        .run(Request::from_parts(parts, Body::from(body)))
        .instrument(span)
        .await;
    if let Some(guard) = replay_guard.filter(|_| answer.status().is_server_error()) {
        // Nothing was done: the same request may be sent again.
        if let Err(error) = api.approvals.release_claim(&guard).await {
            tracing::warn!(%error, "could not release a replay guard after a failure");
        }
    }
    answer
}

/// A query string's parameters, every one of them known: a 400 names the first that is not.
pub(crate) struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub(crate) fn parse(query: Option<&str>, known: &[&str]) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
            .map_err(|_| ApiError::invalid("query: not a valid query string"))?;
        if let Some((unknown, _)) = pairs.iter().find(|(key, _)| !known.contains(&key.as_str())) {
            return Err(ApiError::invalid(format!(
                "{unknown}: unknown query parameter, expected one of {}",
                known.join(", ")
            )));
        }
        // Which of two values counts must not be left to chance (a tenant named twice).
        if let Some((twice, _)) = pairs
            .iter()
            .enumerate()
            .find(|(at, (key, _))| pairs[..*at].iter().any(|(earlier, _)| earlier == key))
            .map(|(_, pair)| pair)
        {
            return Err(ApiError::invalid(format!("{twice}: given more than once")));
        }
        Ok(Self(pairs))
    }

    /// The first value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A listing's `limit` query parameter: `default` when absent, else 1 to `max`.
fn page_limit(value: Option<&str>, default: usize, max: usize) -> Result<usize, ApiError> {
    match value {
        None => Ok(default),
        Some(value) => value
            .parse::<usize>()
            .ok()
            .filter(|limit| (1..=max).contains(limit))
            .ok_or_else(|| ApiError::invalid(format!("limit: must be 1 to {max}"))),
    }
}

/// A tenant id from the path, or the 400 that names it.
fn tenant(tenant_id: &str) -> Result<&str, ApiError> {
    check_identifier("tenant_id", tenant_id)
        .map(|_| tenant_id)
        .map_err(|error| ApiError::invalid(error.to_string()))
}

async fn create(State(api): Api, body: Bytes) -> Response {
    let request = match ApprovalRequest::from_json(&body) {
        Ok(request) => request,
        Err(error) => return error_response(400, "invalid_request", error.to_string()),
    };
    if let Err(error) = api.file_urls.check(&request.attachments, "attachments") {
        return error_response(400, "invalid_request", error.to_string());
    }
    let use_case = CreateApproval {
        approvals: api.approvals.as_ref(),
        tenants: api.tenants.as_ref(),
        slack: api.slack.as_ref(),
        channels: api.channels.as_ref(),
        tokens: api.tokens.as_ref(),
        directory: api.directory.as_ref(),
        people: api.people_inbox(),
        deadlines: api.deadlines.as_ref(),
        later: api.later.as_ref(),
    };
    match use_case.run(request, unix_now()).await {
        Ok(Created::New(approval)) => json_response(201, &approval_body(&approval)),
        Ok(Created::Existing(approval)) => json_response(200, &approval_body(&approval)),
        Err(error) => create_error_response(error),
    }
}

/// The first `tenant_id` of the query string; a malformed query reads as none.
fn tenant_in_query(query: Option<&str>) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query.unwrap_or_default())
        .unwrap_or_default()
        .into_iter()
        .find(|(key, value)| key == "tenant_id" && !value.is_empty())
        .map(|(_, value)| value)
}

async fn read(State(api): Api, Path(id): Path<String>, RawQuery(query): RawQuery) -> Response {
    let params = match QueryParams::parse(query.as_deref(), &["tenant_id"]) {
        Ok(params) => params,
        Err(error) => return error.into_response(),
    };
    let Some(tenant_id) = params.get("tenant_id").filter(|t| !t.is_empty()) else {
        return error_response(
            400,
            "invalid_request",
            "tenant_id: query parameter is required",
        );
    };
    if !looks_like_approval_id(&id) {
        return error_response(404, "not_found", format!("no approval {id}"));
    }
    match api.approvals.get(&id).await {
        // Another tenant's approval is reported exactly like a missing one.
        Ok(Some(approval)) if approval.request.tenant_id == tenant_id => {
            let mut body = approval_body(&approval);
            match api.approvals.refusals(&id).await {
                Ok(refusals) => body["refused_clicks"] = json!(refusals),
                Err(error) => return internal_error(&error),
            }
            json_response(200, &body)
        }
        Ok(_) => error_response(
            404,
            "not_found",
            format!("no approval {id} for tenant {tenant_id}"),
        ),
        Err(error) => internal_error(&error),
    }
}

pub(crate) async fn route_channel(
    State(api): Api,
    Path((tenant_id, kind)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let tenant_id = tenant(&tenant_id)?;
    let routed = RouteChannel {
        tenants: api.tenants.as_ref(),
        slack: api.channels.as_ref(),
        tokens: api.tokens.as_ref(),
    }
    .set(tenant_id, &kind, &body, unix_now())
    .await;
    let message = routed.as_ref().err().map(ToString::to_string);
    Ok(match routed {
        Ok(channel_id) => json_response(
            200,
            &json!({"tenant_id": tenant_id, "kind": kind, "channel_id": channel_id}),
        ),
        Err(SetChannelError::Invalid(error)) => {
            ApiError::invalid(error.to_string()).into_response()
        }
        Err(SetChannelError::NotInChannel(_)) => {
            error_response(400, "not_in_channel", message.unwrap_or_default())
        }
        Err(SetChannelError::MissingScope(_)) => {
            error_response(409, "missing_scope", message.unwrap_or_default())
        }
        Err(SetChannelError::NotConnected) => {
            error_response(409, "slack_not_connected", message.unwrap_or_default())
        }
        Err(SetChannelError::Token(_) | SetChannelError::Slack(_)) => {
            error_response(503, "slack_unavailable", message.unwrap_or_default())
        }
        Err(SetChannelError::Store(error)) => internal_error(&error),
    })
}

async fn create_install_link(
    State(api): Api,
    Path(tenant_id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let tenant_id = tenant(&tenant_id)?;
    let link = api
        .install_flow()
        .create_link(tenant_id, &body, unix_now())
        .await;
    Ok(match link {
        Ok((url, expires_at)) => {
            json_response(201, &json!({"url": url, "expires_at": rfc3339(expires_at)}))
        }
        Err(InstallError::Invalid(error)) => ApiError::invalid(error.to_string()).into_response(),
        Err(error) => internal_error(&error),
    })
}

async fn connection_status(
    State(api): Api,
    Path(tenant_id): Path<String>,
) -> Result<Response, ApiError> {
    let tenant_id = tenant(&tenant_id)?;
    Ok(match api.tenants.link(tenant_id).await {
        Ok(link) => json_response(200, &status_body(tenant_id, link.as_ref())),
        Err(error) => internal_error(&error),
    })
}

async fn disconnect(State(api): Api, Path(tenant_id): Path<String>) -> Result<Response, ApiError> {
    let tenant_id = tenant(&tenant_id)?;
    let disconnected = disconnect_tenant(
        api.tenants.as_ref(),
        api.cleanup.as_ref(),
        api.notifier.as_ref(),
        tenant_id,
        unix_now(),
    )
    .await;
    Ok(match disconnected {
        Ok(Some(link)) => json_response(200, &status_body(tenant_id, Some(&link))),
        Ok(None) => error_response(
            404,
            "not_connected",
            format!("tenant {tenant_id} never connected Slack"),
        ),
        Err(error) => internal_error(&error),
    })
}

/// Each refusal of the create use case, mapped to HTTP once.
fn create_error_response(error: CreateApprovalError) -> Response {
    let message = error.to_string();
    match error {
        CreateApprovalError::Invalid(_) => error_response(400, "invalid_request", message),
        CreateApprovalError::NotConnected => error_response(409, "slack_not_connected", message),
        CreateApprovalError::NoChannel(_) => {
            error_response(400, "invalid_request", format!("channel_id: {message}"))
        }
        CreateApprovalError::NoRecipient => error_response(422, "no_recipient", message),
        CreateApprovalError::Conflict => error_response(409, "conflict", message),
        CreateApprovalError::InProgress => error_response(409, "in_progress", message),
        CreateApprovalError::ChannelUnavailable(_) => {
            error_response(400, "invalid_request", format!("channel_id: {message}"))
        }
        CreateApprovalError::SlackRejected(_) => error_response(502, "slack_error", message),
        CreateApprovalError::SlackUnavailable(_) | CreateApprovalError::TokenUnavailable(_) => {
            error_response(503, "slack_unavailable", message)
        }
        CreateApprovalError::Store(error) => internal_error(&error),
    }
}

/// The approval as the host sees it: its state, every Slack copy, and each side effect's
/// progress, so a host can see why a message was not updated or an event not delivered.
pub fn approval_body(approval: &Approval) -> Value {
    let ending = approval.state.ending.as_ref();
    let decided_by = ending.and_then(|ending| match &ending.by {
        Some(Actor::Slack { user_id, .. }) => Some(user_id.clone()),
        Some(Actor::Host { user_id, .. }) => user_id.clone(),
        None => None,
    });
    let first_channel_copy = approval
        .copies
        .values()
        .find(|copy| copy.role == CopyRole::Channel);
    let mut effects: Vec<(&String, &OutboxEntry)> = approval.outbox.iter().collect();
    effects.sort_by_key(|(_, entry)| entry.seq);
    json!({
        "id": approval.id,
        "tenant_id": approval.request.tenant_id,
        "external_id": approval.request.external_id,
        "kind": approval.request.kind,
        "title": approval.request.title,
        "fields": approval.request.fields,
        "notes": approval.request.notes,
        "link": approval.request.link,
        "status": approval.status(),
        "created_at": rfc3339(approval.created_at),
        "decided_by": decided_by,
        "decided_at": ending.map(|ending| rfc3339(ending.at)),
        "reason": ending.and_then(|ending| ending.reason.clone()),
        "version": approval.state.version,
        "approvers": approver_statuses(approval).into_iter().map(|(person, status)| json!({
            "user_id": person.user_id, "status": status, "slack_user_id": person.slack_user_id,
        })).collect::<Vec<_>>(),
        "requester": json!({
            "user_id": approval.request.requester.user_id,
            "name": approval.request.requester.name,
            "email": approval.request.requester.email,
            "slack_user_id": approval.audience.requester.as_ref()
                .and_then(|person| person.slack_user_id.clone()),
        }),
        "reject_reason": approval.request.reject_reason,
        // Each document and how its upload into the thread stands (`off` when the kind's
        // attach_files was off at creation).
        "attachments": effects.iter().filter_map(|(_, entry)| match &entry.effect {
            Outgoing::AttachFile { attachment } => Some((attachment, entry.status())),
            _ => None,
        }).chain(approval.request.attachments.iter()
            .filter(|a| !approval.outbox.contains_key(&approvals_core::outbox::attach_file_key(&a.file_id)))
            .map(|a| (a, "off")))
        .map(|(a, status)| json!({"file_id": a.file_id, "filename": a.filename,
                                   "title": a.shown_title(), "status": status}))
        .collect::<Vec<_>>(),
        "votes": approval.state.votes.iter().map(|vote| json!({
            "slack_user_id": vote.user_id, "slack_team_id": vote.team_id,
            "decision": vote.decision.as_str(), "step": vote.step, "voted_at": rfc3339(vote.at),
        })).collect::<Vec<_>>(),
        "expires_at": approval.state.expires_at.map(rfc3339),
        "step": approval.state.step,
        "steps": steps_json(approval),
        "slack": {
            "team_id": approval.installation_id,
            "channel_id": first_channel_copy.map(|copy| copy.channel_id.clone()),
            "message_ts": first_channel_copy.map(|copy| copy.message_ts.clone()),
            "copies": approval.copies.values().map(|copy| json!({
                "channel_id": copy.channel_id, "message_ts": copy.message_ts, "role": copy.role,
            })).collect::<Vec<_>>(),
        },
        "effects": effects.iter().map(|(key, entry)| json!({
            "key": key,
            "kind": effect_kind(&entry.effect),
            "status": entry.status(),
            "attempts": entry.attempts,
            "next_attempt_at": (entry.is_open() && !entry.parked)
                .then(|| rfc3339(entry.next_attempt_at)),
            "last_error": entry.last_error,
            "failed_reason": entry.failed,
        })).collect::<Vec<_>>(),
    })
}

/// Each step: its approvers (the host's ids where it named steps), how many it needs, how
/// many it has, and whether it is `done`, `current` or `waiting`.
fn steps_json(approval: &Approval) -> Vec<Value> {
    let state = &approval.state;
    state
        .policy
        .steps
        .iter()
        .enumerate()
        .map(|(index, step)| {
            let approvers: Vec<Value> = match approval.request.steps.get(index) {
                Some(asked) => asked.approvers.iter().map(|id| json!(id)).collect(),
                None => approval
                    .request
                    .approvers
                    .iter()
                    .map(|id| json!(id))
                    .collect(),
            };
            let standing = match index.cmp(&state.step) {
                std::cmp::Ordering::Less => "done",
                std::cmp::Ordering::Equal if state.status.is_final() => "ended",
                std::cmp::Ordering::Equal => "current",
                std::cmp::Ordering::Greater => "waiting",
            };
            json!({"approvers": approvers, "min_approvals": step.required,
                   "approvals": state.approvals_in(index), "status": standing})
        })
        .collect()
}

fn effect_kind(effect: &Outgoing) -> &'static str {
    match effect {
        Outgoing::UpdateCopy { .. } => "update_copy",
        Outgoing::DeliverEvent { .. } => "deliver_event",
        Outgoing::TellClicker { .. } => "tell_clicker",
        Outgoing::PostDirect { .. } => "post_direct",
        Outgoing::TellRequester { .. } => "tell_requester",
        Outgoing::AddToInbox { .. } => "add_to_inbox",
        Outgoing::RemoveFromInbox { .. } => "remove_from_inbox",
        Outgoing::RefreshHome { .. } => "refresh_home",
        Outgoing::ThreadReply { .. } => "thread_reply",
        Outgoing::AttachFile { .. } => "attach_file",
    }
}

/// The status API's answer.
pub fn status_body(tenant_id: &str, link: Option<&TenantLink>) -> Value {
    match link {
        None => json!({"tenant_id": tenant_id, "status": ConnectionStatus::NotConnected,
                       "team_id": null, "team_name": null, "enterprise_id": null,
                       "installed_at": null, "installed_by": null}),
        Some(link) => json!({
            "tenant_id": tenant_id,
            "status": link.status,
            "team_id": link.team_id.clone().unwrap_or_else(|| link.installation_id.clone()),
            "team_name": link.team_name,
            "enterprise_id": link.enterprise_id,
            "installed_at": rfc3339(link.installed_at),
            "installed_by": link.installed_by,
            "disconnect_reason": link.disconnect_reason,
        }),
    }
}
