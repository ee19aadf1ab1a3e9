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
        .route("/people", get(people))
        .route("/people/map", post(map_people))
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
         <p><a href=\"/\">Webhook log</a> · <a href=\"/settings\">Integrations</a> · <a href=\"/people\">People</a></p><h1>{0}</h1>{1}</body></html>",
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
    #[serde(default)]
    approvers: String,
    #[serde(default)]
    requester: String,
    #[serde(default)]
    reject_reason: String,
}

/// The demo's own users: four of the sandbox's people, and Zed, who is not in Slack.
fn demo_people() -> Value {
    json!([
        {"user_id": "u-ana", "email": "ana@sandbox.example", "name": "Ana Approver"},
        {"user_id": "u-ben", "email": "ben@sandbox.example", "name": "Ben Buyer"},
        {"user_id": "u-pat", "email": "pat@sandbox.example", "name": "Pat Partner"},
        {"user_id": "u-cara", "email": "cara@sandbox.example", "name": "Cara Controller"},
        {"user_id": "u-zed", "email": "zed@partner.example", "name": "Zed Zimmer"},
    ])
}

fn users_table(id: &str, users: &Value) -> String {
    let rows: String = users["users"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| {
            format!(
                "<tr><td>{}</td><td>{}</td><td class=status>{}</td><td>{}</td><td>{}</td></tr>",
                escape(u["user_id"].as_str().unwrap_or("")),
                escape(u["email"].as_str().unwrap_or("")),
                escape(u["status"].as_str().unwrap_or("")),
                escape(u["slack_user_id"].as_str().unwrap_or("—")),
                escape(u["tz"].as_str().unwrap_or("—")),
            )
        })
        .collect();
    format!(
        "<table id={id}><thead><tr><th>User</th><th>Email</th><th>Status</th><th>Slack</th><th>Time zone</th></tr></thead><tbody>{rows}</tbody></table>"
    )
}

/// The host's people page: who is mapped to Slack, and the "not integrated" list.
async fn people(State(host): State<Arc<DemoHost>>) -> Html<String> {
    let base = format!("/v1/tenants/{}/users", host.tenant_id);
    let everyone = host.api.call("GET", &base, None).await;
    let missing = host
        .api
        .call("GET", &format!("{base}?status=not_in_slack"), None)
        .await;
    let body = match (everyone, missing) {
        (Ok((200, everyone)), Ok((200, missing))) => format!(
            "<form method=post action=/people/map><button type=submit>Map users</button></form>             <h2>Everyone</h2>{}<h2>Not integrated</h2><p>These people are not in the Slack workspace (or were deactivated): they get no DMs.</p>{}",
            users_table("users", &everyone),
            users_table("not-integrated", &missing)
        ),
        (Ok((code, answer)), _) | (_, Ok((code, answer))) => format!(
            "<p role=alert>The API answered {code}: {}</p>",
            escape(&answer.to_string())
        ),
        (Err(error), _) => format!("<p role=alert>The API is unreachable: {}</p>", escape(&error)),
    };
    page("People", &body)
}

async fn map_people(State(host): State<Arc<DemoHost>>) -> Response {
    let path = format!("/v1/tenants/{}/users", host.tenant_id);
    match host
        .api
        .call("PUT", &path, Some(&json!({"users": demo_people()})))
        .await
    {
        Ok((200, _)) => see_other("/people"),
        Ok((code, answer)) => page(
            "People",
            &format!(
                "<p role=alert>Mapping failed ({code}): {}</p><p><a href=\"/settings\">Is Slack connected?</a></p>",
                escape(&answer.to_string())
            ),
        )
        .into_response(),
        Err(error) => page("People", &format!("<p role=alert>{}</p>", escape(&error))).into_response(),
    }
}

async fn request_approval(
    State(host): State<Arc<DemoHost>>,
    Form(form): Form<RequestForm>,
) -> Response {
    let number = host.next_request.fetch_add(1, Ordering::Relaxed);
    let external_id = format!("DR-{}-{number}", approvals_core::time::unix_now());
    let approvers: Vec<&str> = form
        .approvers
        .split([',', ' '])
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .collect();
    let mut requester = json!({"name": "Pat Partner", "email": "pat@sandbox.example"});
    if !form.requester.trim().is_empty() {
        requester["user_id"] = json!(form.requester.trim());
    }
    let reject_reason = match form.reject_reason.as_str() {
        "" => "required",
        other => other,
    };
    let mut body = json!({
        "tenant_id": host.tenant_id, "external_id": external_id, "kind": "deal_registration",
        "title": form.title,
        "fields": [{"label": "Account", "value": if form.account.is_empty() { "—".into() } else { form.account }},
                   {"label": "Deal value", "value": if form.amount.is_empty() { "—".into() } else { form.amount }}],
        "notes": "Submitted from the sandbox's demo form.",
        "link": format!("{}/settings", host.base),
        "requester": requester,
        "reject_reason": reject_reason,
    });
    if !approvers.is_empty() {
        body["approvers"] = json!(approvers);
    }
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
