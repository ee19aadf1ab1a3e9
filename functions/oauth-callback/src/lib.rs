//! The install routes the admin's browser visits: `GET /slack/install` and
//! `GET /slack/oauth/callback`. Never a 500 for the user's mistake; refusals store nothing.
//! It needs the table, the queue (for the host's `slack.connected`, and the worker's
//! greeting of the installer) and Slack's OAuth
//! endpoint, never the Web API client or the token rotation.

use std::sync::Arc;

use approvals_aws::dynamo::DynamoStore;
use approvals_aws::sqs::SqsDecisionQueue;
use approvals_aws::SdkConfig;
use approvals_core::config::{AppSecrets, ConfigError};
use approvals_core::ports::{
    HostNotifier, InstallFlowStore, InstallFollowUp, SlackOAuth, TenantStore,
};
use approvals_core::time::unix_now;
use approvals_core::usecases::install::{
    cookie_value, single_valued_query, BeginInstall, CallbackOutcome, CallbackParams, InstallError,
    InstallFlow, InstallSettings, FLOW_TTL_SECS, STATE_COOKIE,
};
use approvals_lambda::env::{install_settings_from_env, required_env, slack_api_base_url};
use approvals_lambda::http::{html_response, redirect};
use approvals_outbound::slack_api::SlackHttpClient;
use approvals_outbound::slack_oauth::SlackOAuthClient;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

/// Where the function's resources are; [`Settings::from_env`] reads them, tests set them.
pub struct Settings {
    pub table: String,
    pub queue_url: String,
    pub slack_api_base_url: String,
    pub install: InstallSettings,
}

impl Settings {
    /// `APP_TABLE`, `DECISION_QUEUE_URL`, `SLACK_API_BASE_URL`, `PUBLIC_BASE_URL`,
    /// `SLACK_OAUTH_AUTHORIZE_URL` and `SLACK_BOT_SCOPES`. No retry policy: the OAuth
    /// client's calls are never retried beyond a 429.
    pub fn from_env(secrets: &AppSecrets) -> Result<Self, ConfigError> {
        Ok(Self {
            table: required_env("APP_TABLE")?,
            queue_url: required_env("DECISION_QUEUE_URL")?,
            slack_api_base_url: slack_api_base_url(),
            install: install_settings_from_env(secrets)?,
        })
    }
}

pub struct OAuthCallback {
    pub flow: Arc<dyn InstallFlowStore>,
    pub tenants: Arc<dyn TenantStore>,
    pub oauth: Arc<dyn SlackOAuth>,
    pub notifier: Arc<dyn HostNotifier>,
    pub follow_up: Arc<dyn InstallFollowUp>,
    pub install: InstallSettings,
}

impl OAuthCallback {
    /// Cold-start wiring: the table, the queue, the secret and the OAuth client, built once.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let aws = approvals_aws::aws_config().await;
        let secrets = approvals_aws::secrets::load(&aws, &required_env("APP_SECRET_ID")?).await?;
        let settings = Settings::from_env(&secrets)?;
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
            flow: store.clone(),
            tenants: store,
            oauth: Arc::new(SlackOAuthClient::from_secrets(
                // OAuth calls spend one-time codes and tokens: only a 429 is ever retried.
                SlackHttpClient::new(&settings.slack_api_base_url),
                secrets,
            )),
            notifier: queue.clone(),
            follow_up: queue,
            install: settings.install,
        })
    }

    /// The two routes `template.yaml` gives this function; anything else is a plain 404 page.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/slack/install", get(begin))
            .route("/slack/oauth/callback", get(callback))
            .fallback(|| async { error_page(404, "Not found.") })
            .method_not_allowed_fallback(|| async { error_page(404, "Not found.") })
            .with_state(self)
    }

    /// Where the browser sends the state cookie back: the install routes under the public
    /// base URL's own path, so a REST API's `/Prod/slack/…` gets it too.
    fn cookie_path(&self) -> String {
        let base_path = url::Url::parse(&self.install.public_base_url)
            .map(|url| url.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        format!("{base_path}/slack")
    }

    fn install_flow(&self) -> InstallFlow<'_> {
        InstallFlow {
            flow: self.flow.as_ref(),
            tenants: self.tenants.as_ref(),
            oauth: self.oauth.as_ref(),
            notifier: self.notifier.as_ref(),
            follow_up: self.follow_up.as_ref(),
            settings: &self.install,
        }
    }
}

type Callback = State<Arc<OAuthCallback>>;

/// The page for a link that names a parameter twice ([`single_valued_query`]).
fn named_twice(key: &str) -> Response {
    error_page(400, &format!("This link names {key} more than once."))
}

async fn begin(State(callback): Callback, RawQuery(query): RawQuery) -> Response {
    let query = match single_valued_query(query.as_deref().unwrap_or_default()) {
        Ok(query) => query,
        Err(key) => return named_twice(&key),
    };
    let cookie_path = callback.cookie_path();
    let token = query.get("t").map(String::as_str).unwrap_or_default();
    match callback.install_flow().begin(token, unix_now()).await {
        Ok(BeginInstall::ToSlack {
            authorize_url,
            cookie_value,
        }) => with_cookie(
            redirect(&authorize_url),
            &format!(
                "{STATE_COOKIE}={cookie_value}; Path={cookie_path}; Max-Age={FLOW_TTL_SECS}; Secure; HttpOnly; SameSite=Lax"
            ),
        ),
        Ok(BeginInstall::Refused(CallbackOutcome::Redirect(url))) => redirect(&url),
        Ok(BeginInstall::Refused(CallbackOutcome::ErrorPage(message))) => {
            error_page(400, &message)
        }
        Err(InstallError::Store(error)) => {
            tracing::error!(%error, "install start failed");
            error_page(
                503,
                "Slack install is unavailable right now. Try again in a minute.",
            )
        }
        Err(error) => error_page(400, &error.to_string()),
    }
}

async fn callback(
    State(callback): Callback,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = match single_valued_query(query.as_deref().unwrap_or_default()) {
        Ok(query) => query,
        Err(key) => return named_twice(&key),
    };
    let cookie_path = callback.cookie_path();
    let params = CallbackParams {
        code: query.get("code").cloned(),
        state: query.get("state").cloned(),
        error: query.get("error").cloned(),
    };
    let cookie = request_cookie(&headers, STATE_COOKIE);
    let answer = match callback
        .install_flow()
        .complete(&params, cookie.as_deref(), unix_now())
        .await
    {
        Ok(CallbackOutcome::Redirect(url)) => redirect(&url),
        Ok(CallbackOutcome::ErrorPage(message)) => error_page(400, &message),
        Err(error) => {
            tracing::error!(%error, "install callback failed");
            error_page(
                503,
                "Slack install could not be completed. Start again from your settings page.",
            )
        }
    };
    with_cookie(
        answer,
        &format!("{STATE_COOKIE}=; Path={cookie_path}; Max-Age=0; Secure; HttpOnly; SameSite=Lax"),
    )
}

/// A cookie's value from the `Cookie` header (`lambda_http` folds payload v2's `cookies`
/// into it).
fn request_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    cookie_value(
        headers
            .get_all("cookie")
            .iter()
            .filter_map(|value| value.to_str().ok()),
        name,
    )
}

fn with_cookie(mut answer: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        answer.headers_mut().append("set-cookie", value);
    }
    answer
}

fn error_page(status: u16, message: &str) -> Response {
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    html_response(
        status,
        format!(
            "<!doctype html><html lang=en><meta charset=utf-8><title>Slack install</title>\
             <body style='font-family:system-ui;max-width:40rem;margin:3rem auto'>\
             <h1>Slack install did not complete</h1><p>{escaped}</p></body></html>"
        ),
    )
}
