//! Slack's OAuth v2 as the sandbox plays it: the authorize page (Allow / Cancel, org-wide
//! option) and `oauth.v2.access` for codes and refresh tokens, with Slack's error codes.

use std::sync::Arc;

use axum::extract::{Form, Query, State as AxumState};
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{random_hex, SlackSandbox, State, TokenGrant};
use crate::host::escape;

/// Codes live ten minutes and work once, as Slack's do.
const CODE_TTL_SECS: i64 = 600;
/// Rotating access tokens live 12 hours.
const ROTATING_TOKEN_SECS: i64 = 43_200;

pub(crate) struct PendingCode {
    team_id: String,
    org_wide: bool,
    user_id: String,
    redirect_uri: Option<String>,
    scope: String,
    created: i64,
}

pub(crate) struct RefreshGrant {
    access: TokenGrant,
    scope: String,
    used: bool,
}

pub(super) fn router(sandbox: Arc<SlackSandbox>) -> Router {
    Router::new()
        .route(
            "/oauth/v2/authorize",
            get(authorize_page).post(authorize_decision),
        )
        .with_state(sandbox)
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    client_id: Option<String>,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    user_scope: String,
    redirect_uri: Option<String>,
    #[serde(default)]
    state: String,
}

async fn authorize_page(
    AxumState(sandbox): AxumState<Arc<SlackSandbox>>,
    Query(query): Query<AuthorizeQuery>,
) -> Response {
    if query.client_id.as_deref() != Some(sandbox.config.client_id.as_str()) {
        return (
            StatusCode::BAD_REQUEST,
            Html(page(
                "Something went wrong",
                "<p>invalid_client_id: this app is not known.</p>",
            )),
        )
            .into_response();
    }
    let Some(redirect_uri) = query.redirect_uri.clone() else {
        return (
            StatusCode::BAD_REQUEST,
            Html(page(
                "Something went wrong",
                "<p>bad_redirect_uri: no redirect_uri.</p>",
            )),
        )
            .into_response();
    };
    let workspaces = sandbox.workspaces();
    let workspace_options: String = workspaces
        .iter()
        .map(|w| {
            format!(
                "<option value=\"{}\">{} ({})</option>",
                escape(&w.team_id),
                escape(&w.name),
                escape(&w.team_id)
            )
        })
        .collect();
    let user_options: String = workspaces
        .first()
        .map(|w| {
            w.users
                .iter()
                .filter(|u| u.is_active_person() && !u.is_external())
                .map(|u| {
                    format!(
                        "<option value=\"{}\">{} ({})</option>",
                        escape(&u.id),
                        escape(&u.real_name),
                        escape(&u.email)
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let org_option = if workspaces.iter().any(|w| w.enterprise_id.is_some()) {
        "<p><label><input type=checkbox name=org_wide value=true> Install for the whole organization (org-wide)</label></p>"
    } else {
        ""
    };
    let scopes: String = query
        .scope
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| format!("<li><code>{}</code></li>", escape(s)))
        .collect();
    let workspace_name = workspaces
        .first()
        .map(|w| w.name.clone())
        .unwrap_or_default();
    let hidden = |name: &str, value: &str| {
        format!(
            "<input type=hidden name=\"{name}\" value=\"{}\">",
            escape(value)
        )
    };
    let body = format!(
        "<p><strong>Sandbox Approvals</strong> is requesting permission to access the <strong id=workspace-name>{}</strong> Slack workspace.</p>\
         <form method=post action=\"/oauth/v2/authorize\">\
         {}{}{}{}{}\
         <p><label for=team_id>Workspace</label> <select id=team_id name=team_id>{workspace_options}</select></p>\
         <p><label for=user_id>Installing as</label> <select id=user_id name=user_id>{user_options}</select></p>\
         {org_option}\
         <h2>It will be able to</h2><ul id=scopes>{scopes}</ul>\
         <p><button type=submit name=decision value=cancel>Cancel</button> \
         <button type=submit name=decision value=allow style='background:#007a5a;color:white'>Allow</button></p>\
         </form>",
        escape(&workspace_name),
        hidden("client_id", query.client_id.as_deref().unwrap_or_default()),
        hidden("scope", &query.scope),
        hidden("user_scope", &query.user_scope),
        hidden("redirect_uri", &redirect_uri),
        hidden("state", &query.state),
    );
    Html(page("Allow access to your workspace?", &body)).into_response()
}

#[derive(Deserialize)]
struct Decision {
    #[serde(default)]
    scope: String,
    redirect_uri: String,
    #[serde(default)]
    state: String,
    team_id: String,
    user_id: String,
    #[serde(default)]
    org_wide: Option<String>,
    decision: String,
}

async fn authorize_decision(
    AxumState(sandbox): AxumState<Arc<SlackSandbox>>,
    Form(decision): Form<Decision>,
) -> Response {
    let Ok(mut target) = reqwest::Url::parse(&decision.redirect_uri) else {
        return (StatusCode::BAD_REQUEST, "bad_redirect_uri").into_response();
    };
    if decision.decision != "allow" {
        target
            .query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("state", &decision.state);
        return found(target.as_str());
    }
    let workspace = sandbox
        .workspaces()
        .into_iter()
        .find(|w| w.team_id == decision.team_id);
    let Some(workspace) = workspace else {
        return (StatusCode::BAD_REQUEST, "unknown workspace").into_response();
    };
    let org_wide =
        decision.org_wide.as_deref() == Some("true") && workspace.enterprise_id.is_some();
    let code = format!("{}.{}", crate::unix_now(), random_hex(16));
    sandbox.state().oauth_codes.insert(
        code.clone(),
        PendingCode {
            team_id: workspace.team_id,
            org_wide,
            user_id: decision.user_id,
            redirect_uri: Some(decision.redirect_uri.clone()),
            scope: decision.scope,
            created: crate::unix_now(),
        },
    );
    target
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &decision.state);
    found(target.as_str())
}

/// Slack answers the authorize form with a 302, as browsers expect.
fn found(location: &str) -> Response {
    (StatusCode::FOUND, [(LOCATION, location.to_owned())]).into_response()
}

/// Copies HTTP Basic credentials into the params, as Slack prefers them to form fields.
pub(super) fn add_basic_auth(headers: &HeaderMap, params: &mut Value) {
    let decoded = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| {
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
        })
        .and_then(|bytes| String::from_utf8(bytes).ok());
    if let Some((id, secret)) = decoded.as_deref().and_then(|d| d.split_once(':')) {
        params["client_id"] = json!(id);
        params["client_secret"] = json!(secret);
        params["basic_auth"] = json!(true);
    }
}

/// `oauth.v2.access`: exchanges a code, or a refresh token when `grant_type=refresh_token`.
pub(super) fn access(
    sandbox: &SlackSandbox,
    state: &mut State,
    params: &Value,
) -> Result<Value, &'static str> {
    let config = &sandbox.config;
    if params["client_id"].as_str() != Some(config.client_id.as_str()) {
        return Err("invalid_client_id");
    }
    if params["client_secret"].as_str() != Some(config.client_secret.as_str()) {
        return Err("bad_client_secret");
    }
    if params["grant_type"] == "refresh_token" {
        let presented = params["refresh_token"].as_str().unwrap_or_default();
        let grant = state
            .refresh_tokens
            .get_mut(presented)
            .ok_or("invalid_refresh_token")?;
        if grant.used {
            return Err("invalid_refresh_token");
        }
        grant.used = true;
        let (access, scope) = (grant.access.clone(), grant.scope.clone());
        return Ok(issue(state, access, scope, true, None));
    }
    let code = params["code"].as_str().unwrap_or_default();
    let pending = state.oauth_codes.remove(code).ok_or("invalid_code")?;
    if crate::unix_now() - pending.created > CODE_TTL_SECS {
        return Err("invalid_code");
    }
    if pending.redirect_uri.is_some()
        && params["redirect_uri"].as_str() != pending.redirect_uri.as_deref()
    {
        return Err("bad_redirect_uri");
    }
    let workspace = state
        .workspaces
        .iter()
        .find(|w| w.team_id == pending.team_id)
        .cloned()
        .ok_or("invalid_code")?;
    let access = TokenGrant {
        team_id: (!pending.org_wide).then(|| workspace.team_id.clone()),
        enterprise_id: workspace.enterprise_id.clone(),
        is_enterprise_install: pending.org_wide,
        bot_user_id: "U0BOT".into(),
        revoked: false,
        expires_at: None,
    };
    let installer = json!({"id": pending.user_id, "scope": "", "token_type": Value::Null});
    let mut answer = issue(
        state,
        access,
        pending.scope,
        config.token_rotation,
        Some(installer),
    );
    answer["team"] = if pending.org_wide {
        Value::Null
    } else {
        json!({"id": workspace.team_id, "name": workspace.name})
    };
    answer["enterprise"] = match &workspace.enterprise_id {
        Some(id) => json!({"id": id, "name": format!("{} Org", workspace.name)}),
        None => Value::Null,
    };
    Ok(answer)
}

/// Mints a bot token (rotating or not) and the answer's token fields.
fn issue(
    state: &mut State,
    mut grant: TokenGrant,
    scope: String,
    rotating: bool,
    authed_user: Option<Value>,
) -> Value {
    let owner = grant
        .team_id
        .clone()
        .or(grant.enterprise_id.clone())
        .unwrap_or_default();
    let mut answer = json!({
        "token_type": "bot", "scope": scope, "bot_user_id": grant.bot_user_id, "app_id": "A0SANDBOX",
        "is_enterprise_install": grant.is_enterprise_install,
    });
    let token = if rotating {
        let refresh = format!("xoxe-1-{}", random_hex(20));
        grant.expires_at = Some(crate::unix_now() + ROTATING_TOKEN_SECS);
        state.refresh_tokens.insert(
            refresh.clone(),
            RefreshGrant {
                access: grant.clone(),
                scope,
                used: false,
            },
        );
        answer["refresh_token"] = json!(refresh);
        answer["expires_in"] = json!(ROTATING_TOKEN_SECS);
        format!("xoxe.xoxb-1-{owner}-{}", random_hex(12))
    } else {
        format!("xoxb-{owner}-{}", random_hex(12))
    };
    state.tokens.insert(token.clone(), grant);
    answer["access_token"] = json!(token);
    if let Some(user) = authed_user {
        answer["authed_user"] = user;
    }
    answer
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=en><meta charset=utf-8><title>{0}</title>\
         <body style='font-family:system-ui;max-width:40rem;margin:3rem auto'><h1>{0}</h1>{1}</body></html>",
        escape(title),
        body
    )
}
