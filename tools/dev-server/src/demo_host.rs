//! The demo host application: a settings page with "Connect Slack", and the endpoint behind
//! the sandbox's "Request an approval" form. It calls the signed host API like a real host.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{Form, Query, State};
use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

/// A host's client of our API: every request signed with `host_api_secret`.
pub struct HostApiClient {
    http: reqwest::Client,
    base: String,
    secret: String,
}

impl HostApiClient {
    pub fn new(base: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base.into(),
            secret: secret.into(),
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let raw = body.map(|b| b.to_string()).unwrap_or_default();
        let timestamp = approvals_core::time::unix_now();
        let signature = approvals_core::signing::sign_host_request(
            self.secret.as_bytes(),
            timestamp,
            method,
            path,
            raw.as_bytes(),
        );
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let answer = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .header("x-approvals-timestamp", timestamp.to_string())
            .header("x-approvals-signature", signature)
            .body(raw)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let status = answer.status().as_u16();
        Ok((status, answer.json().await.unwrap_or(Value::Null)))
    }
}

pub struct DemoHost {
    pub api: HostApiClient,
    pub tenant_id: String,
    /// This app's own base URL (the settings page is the OAuth return URL).
    pub base: String,
    /// Where to send the browser after requesting an approval.
    pub sandbox_page: String,
    pub next_request: AtomicU64,
}

pub fn router(host: Arc<DemoHost>) -> Router {
    Router::new()
        .route("/settings", get(settings))
        .route("/settings/connect", post(connect))
        .route("/settings/disconnect", post(disconnect))
        .route("/demo/request", post(request_approval))
        .with_state(host)
}

fn see_other(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, location.to_owned())]).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=en><meta charset=utf-8><title>{0} · Demo host</title>\
         <body style='font-family:system-ui;max-width:44rem;margin:2rem auto;line-height:1.5'>\
         <p><a href=\"/\">Webhook log</a></p><h1>{0}</h1>{1}</body></html>",
        escape(title),
        body
    ))
}

#[derive(Deserialize)]
struct SettingsQuery {
    slack: Option<String>,
    reason: Option<String>,
}

async fn settings(
    State(host): State<Arc<DemoHost>>,
    Query(query): Query<SettingsQuery>,
) -> Html<String> {
    let path = format!("/v1/tenants/{}/slack", host.tenant_id);
    let status = host.api.call("GET", &path, None).await;
    let banner = match (query.slack.as_deref(), query.reason.as_deref()) {
        (Some("connected"), _) => "<p role=status id=banner>Slack is connected.</p>".to_owned(),
        (Some("error"), reason) => format!(
            "<p role=alert id=banner>Slack was not connected: {}</p>",
            escape(reason.unwrap_or("unknown"))
        ),
        _ => String::new(),
    };
    let body = match status {
        Ok((200, connection)) => {
            let state = connection["status"].as_str().unwrap_or("unknown");
            let details = if state == "not_connected" {
                String::new()
            } else {
                format!(
                    "<dl><dt>Workspace</dt><dd id=team-name>{}</dd><dt>Team id</dt><dd id=team-id>{}</dd></dl>",
                    escape(connection["team_name"].as_str().unwrap_or("")),
                    escape(connection["team_id"].as_str().unwrap_or(""))
                )
            };
            let action = if state == "active" {
                "<form method=post action=/settings/disconnect><button type=submit>Disconnect</button></form>"
            } else {
                "<form method=post action=/settings/connect><button type=submit>Connect Slack</button></form>"
            };
            let label = match state {
                "active" => "Active",
                "disconnected" => "Disconnected",
                _ => "Not connected",
            };
            format!(
                "{banner}<p>Slack: <strong id=slack-status>{label}</strong></p>{details}{action}"
            )
        }
        Ok((code, answer)) => format!(
            "{banner}<p role=alert>The API answered {code}: {}</p>",
            escape(&answer.to_string())
        ),
        Err(error) => format!(
            "{banner}<p role=alert>The API is unreachable: {}</p>",
            escape(&error)
        ),
    };
    page("Integrations", &body)
}

async fn connect(State(host): State<Arc<DemoHost>>) -> Response {
    let path = format!("/v1/tenants/{}/slack/install-links", host.tenant_id);
    let body = json!({"return_url": format!("{}/settings", host.base)});
    match host.api.call("POST", &path, Some(&body)).await {
        Ok((201, link)) => see_other(link["url"].as_str().unwrap_or("/settings")),
        Ok((code, answer)) => page(
            "Integrations",
            &format!(
                "<p role=alert>Could not start the install ({code}): {}</p>",
                escape(&answer.to_string())
            ),
        )
        .into_response(),
        Err(error) => page(
            "Integrations",
            &format!("<p role=alert>{}</p>", escape(&error)),
        )
        .into_response(),
    }
}

async fn disconnect(State(host): State<Arc<DemoHost>>) -> Response {
    let path = format!("/v1/tenants/{}/slack", host.tenant_id);
    let _ = host.api.call("DELETE", &path, None).await;
    see_other("/settings")
}

#[derive(Deserialize)]
struct RequestForm {
    title: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    amount: String,
}

async fn request_approval(
    State(host): State<Arc<DemoHost>>,
    Form(form): Form<RequestForm>,
) -> Response {
    let number = host.next_request.fetch_add(1, Ordering::Relaxed);
    let external_id = format!("DR-{}-{number}", approvals_core::time::unix_now());
    let body = json!({
        "tenant_id": host.tenant_id, "external_id": external_id, "kind": "deal_registration",
        "title": form.title,
        "fields": [{"label": "Account", "value": if form.account.is_empty() { "—".into() } else { form.account }},
                   {"label": "Deal value", "value": if form.amount.is_empty() { "—".into() } else { form.amount }}],
        "notes": "Submitted from the sandbox's demo form.",
        "link": format!("{}/settings", host.base),
        "requester": {"name": "Pat Partner", "email": "pat@sandbox.example"},
    });
    match host.api.call("POST", "/v1/approvals", Some(&body)).await {
        Ok((201 | 200, _)) => see_other(&host.sandbox_page),
        Ok((code, answer)) => page(
            "Request an approval",
            &format!(
                "<p role=alert>The API answered {code}: <code>{}</code></p><p>{}</p><p><a href=\"{}\">Back to Slack</a></p>",
                escape(&answer.to_string()),
                if answer["error"] == "slack_not_connected" { "<a href=\"/settings\">Connect Slack first.</a>" } else { "" },
                escape(&host.sandbox_page)
            ),
        )
        .into_response(),
        Err(error) => page("Request an approval", &format!("<p role=alert>{}</p>", escape(&error))).into_response(),
    }
}
