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
        "<p class=check><label><input type=checkbox name=org_wide value=true> Install for the whole organization (org-wide)</label></p>"
    } else {
        ""
    };
    let scopes: String = query
        .scope
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            format!(
                "<li><span class=scope-text>{}</span> <code class=scope>{}</code></li>",
                escape(scope_description(s)),
                escape(s)
            )
        })
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
    let app_name = &sandbox.config.app_name;
    let initials: String = app_name
        .split_whitespace()
        .filter_map(|word| word.chars().next())
        .take(2)
        .collect();
    let body = format!(
        "<div class=app-line><span class=app-icon aria-hidden=true>{}</span>\
         <p><strong id=app-name>{}</strong> is requesting permission to access the \
         <strong id=workspace-name>{}</strong> Slack workspace.</p></div>\
         <form method=post action=\"/oauth/v2/authorize\">\
         {}{}{}{}{}\
         <div class=field><label for=team_id>Workspace</label><select id=team_id name=team_id>{workspace_options}</select></div>\
         <div class=field><label for=user_id>Installing as</label><select id=user_id name=user_id>{user_options}</select></div>\
         {org_option}\
         <h2 id=scopes-heading>What will {} be able to do?</h2>\
         <ul id=scopes class=scopes aria-labelledby=scopes-heading>{scopes}</ul>\
         <div class=decision><button type=submit name=decision value=cancel class=bk-button>Cancel</button>\
         <button type=submit name=decision value=allow class='bk-button primary'>Allow</button></div>\
         </form>",
        escape(&initials),
        escape(app_name),
        escape(&workspace_name),
        hidden("client_id", query.client_id.as_deref().unwrap_or_default()),
        hidden("scope", &query.scope),
        hidden("user_scope", &query.user_scope),
        hidden("redirect_uri", &redirect_uri),
        hidden("state", &query.state),
        escape(app_name),
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
        scopes: None,
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

/// Mints a bot token (rotating or not) and the answer's token fields. The token carries the
/// granted scopes, which methods that check scopes hold it to.
fn issue(
    state: &mut State,
    mut grant: TokenGrant,
    scope: String,
    rotating: bool,
    authed_user: Option<Value>,
) -> Value {
    grant.scopes = Some(
        scope
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    );
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

/// What a bot scope lets the app do, in Slack's plain words; a generic line for the rest.
fn scope_description(scope: &str) -> &'static str {
    match scope {
        "chat:write" => "Send messages as the app",
        "chat:write.public" => "Send messages to channels the app isn't a member of",
        "chat:write.customize" => "Send messages as the app with a chosen name and avatar",
        "im:write" => "Start direct messages with people",
        "im:read" => "View basic information about direct messages with the app",
        "im:history" => "View messages and other content in direct messages with the app",
        "mpim:history" => "View messages in group direct messages the app has been added to",
        "mpim:read" => "View basic information about group direct messages the app is in",
        "users:read" => "View people in the workspace",
        "users:read.email" => "View people's email addresses, to match them with your users",
        "files:write" => "Upload, edit and delete files as the app",
        "files:read" => "View files shared in conversations the app is in",
        "channels:history" => {
            "View messages and other content in public channels the app has been added to"
        }
        "channels:read" => "View basic information about public channels in the workspace",
        "channels:join" => "Join public channels in the workspace",
        "channels:manage" => "Manage public channels the app has been added to and create new ones",
        "groups:history" => {
            "View messages and other content in private channels the app has been added to"
        }
        "groups:write" => "Manage private channels the app has been added to and create new ones",
        "groups:read" => "View basic information about private channels the app has been added to",
        "team:read" => "View the workspace's name, email domain and icon",
        "commands" => "Add shortcuts and slash commands people can use",
        "reactions:write" => "Add and edit emoji reactions",
        "app_mentions:read" => "View messages that mention the app",
        _ => "Other access Slack grants with this scope (see Slack's list of scopes)",
    }
}

/// The authorize page's own looks, on top of the workspace page's shared ones.
const OAUTH_CSS: &str = "
body{background:#f4ede4;min-height:100vh}
.card{box-sizing:border-box;max-width:34rem;margin:2rem auto;padding:1.5rem 1.75rem;background:#fff;border:1px solid #ddd;border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.08)}
.card h1{font-size:1.45rem;margin:0 0 1rem}.card h2{font-size:1rem;margin:1.4rem 0 .5rem}
.app-line{display:flex;gap:.9rem;align-items:flex-start}.app-line p{margin:0}
.app-icon{flex:none;display:grid;place-items:center;width:2.6rem;height:2.6rem;border-radius:8px;background:#007a5a;color:#fff;font-weight:700}
.field{display:flex;flex-direction:column;gap:.2rem;margin:1rem 0 0}.field label{font-weight:600}.field select{width:100%;box-sizing:border-box}
.check{margin:1rem 0 0}
.scopes{list-style:none;margin:0;padding:0;border:1px solid #e2e2e2;border-radius:6px}
.scopes li{display:flex;flex-direction:column;padding:.5rem .75rem;border-top:1px solid #eee}.scopes li:first-child{border-top:0}
.scope{font-size:.75rem;color:#616061;background:none;padding:0}
.decision{display:flex;justify-content:flex-end;gap:.6rem;margin-top:1.4rem}
@media (max-width:600px){.card{margin:0;border-radius:0;border-left:0;border-right:0}}
";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width, initial-scale=1\"><title>{0} · Slack sandbox</title>\
         <style>{1}{2}</style></head><body>\
         <header class=top><p class=brand>Slack sandbox <span class=sub>offline stand-in for Slack</span></p></header>\
         <main class=card><h1>{0}</h1>{3}</main></body></html>",
        escape(title),
        super::ui::BASE_CSS,
        OAUTH_CSS,
        body
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_authorize_page_says_what_each_scope_allows() {
        let sandbox = SlackSandbox::new(super::super::SandboxConfig::default());
        let base = sandbox.start().await.unwrap();
        let page = reqwest::get(format!(
            "{base}/oauth/v2/authorize?client_id=1111.2222&scope=chat:write,users:read.email,made:up\
             &redirect_uri=http://127.0.0.1:1/cb&state=s1"
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
        assert!(
            page.contains("<strong id=app-name>Sandbox Approvals</strong>"),
            "{page}"
        );
        assert!(page.contains("<strong id=workspace-name>Sandbox Co</strong>"));
        assert!(page.contains(
            "<li><span class=scope-text>Send messages as the app</span> <code class=scope>chat:write</code></li>"
        ));
        assert!(page.contains(
            "View people's email addresses, to match them with your users</span> <code class=scope>users:read.email</code>"
        ));
        assert!(page.contains("Other access Slack grants with this scope"));
        assert!(page.contains("<code class=scope>made:up</code>"));
        for field in [
            "id=team_id",
            "id=user_id",
            "id=scopes",
            "value=allow",
            "value=cancel",
        ] {
            assert!(page.contains(field), "{field}");
        }
    }
}
