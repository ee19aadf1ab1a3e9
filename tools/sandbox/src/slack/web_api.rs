//! HTTP surface: Slack's Web API methods, `response_url`s, and the test controls.
//!
//! Methods (see `dispatch`): `api.test`, `auth.test`, `auth.revoke`, `oauth.v2.access`,
//! `chat.postMessage`, `chat.update`, `chat.postEphemeral`, `chat.getPermalink`,
//! `conversations.open`, `conversations.join`, `conversations.info`, `users.info`,
//! `users.lookupByEmail`, `users.list`, `views.open`, `views.publish`,
//! `files.getUploadURLExternal`, `files.completeUploadExternal`. Arguments come as JSON or
//! form bodies, or in the query string, as Slack takes them. Files shared are served at their
//! `url_private` (`/files/{id}/{name}`).
//!
//! The app's own posts in conversations its bot is in come back to it as `message` events,
//! sent after the call is answered, as Slack does; the app has to recognise and drop them.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::block_kit::{block_text_chars, MAX_CUMULATIVE_BLOCK_TEXT};
use super::block_kit::{validate_blocks, MAX_MESSAGE_TEXT};
use super::{
    Channel, Fault, Message, RecordedCall, SharedFile, SlackSandbox, State, TokenGrant, User,
    Workspace,
};

type Shared = AxumState<Arc<SlackSandbox>>;

pub(super) fn router(sandbox: Arc<SlackSandbox>) -> Router {
    Router::new()
        .route("/api/{method}", post(web_api).get(web_api))
        .route("/response/{token}", post(response_url))
        .route("/upload/{file_id}", post(upload_bytes))
        .route("/files/{file_id}/{filename}", get(file_bytes))
        .route("/_sandbox/calls", get(list_calls))
        .route("/_sandbox/faults", post(add_fault))
        .route("/_sandbox/reset", post(reset))
        .route("/_sandbox/messages", get(list_messages))
        .with_state(sandbox)
}

/// A Web API answer: always HTTP 200 with `ok`, as Slack does.
type ApiResult = Result<Value, &'static str>;

/// A refusal with the `response_metadata.messages` Slack adds to some `invalid_arguments`
/// answers (e.g. `[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]`), so a
/// client's log says which argument was wrong.
#[derive(Debug)]
pub(super) struct ApiError {
    pub(super) code: &'static str,
    pub(super) messages: Vec<String>,
    /// Top-level fields Slack adds to some refusals (`missing_scope`'s `needed`, `provided`).
    pub(super) fields: Map<String, Value>,
}

impl ApiError {
    pub(super) fn with_message(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            messages: vec![message.into()],
            ..Self::from(code)
        }
    }

    /// Slack's `missing_scope`: `{"needed": scope, "provided": "a,b,c"}` beside the error.
    fn missing_scope(needed: &str, grant: &TokenGrant) -> Self {
        let mut error = Self::from("missing_scope");
        error.fields.insert("needed".into(), json!(needed));
        let provided = grant.scopes.as_deref().unwrap_or_default().join(",");
        error.fields.insert("provided".into(), json!(provided));
        error
    }
}

impl From<&'static str> for ApiError {
    fn from(code: &'static str) -> Self {
        Self {
            code,
            messages: Vec::new(),
            fields: Map::new(),
        }
    }
}

/// Refuses a grant without `needed` (tokens minted without scopes pass).
fn require_scope(grant: &TokenGrant, needed: &str) -> Result<(), ApiError> {
    if grant.has_scope(needed) {
        Ok(())
    } else {
        Err(ApiError::missing_scope(needed, grant))
    }
}

async fn web_api(
    AxumState(sandbox): Shared,
    Path(method): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut params = parse_params(&headers, &body);
    add_query_params(&mut params, query.as_deref());
    if method == "oauth.v2.access" {
        super::oauth::add_basic_auth(&headers, &mut params);
    }
    let token = bearer(&headers).or_else(|| params["token"].as_str().map(str::to_owned));
    let fault = sandbox
        .state()
        .faults
        .get_mut(&method)
        .and_then(|queue| queue.pop_front());
    let (status, answer, extra_header) = match fault {
        Some(Fault::RateLimited { retry_after_secs }) => (
            StatusCode::TOO_MANY_REQUESTS,
            json!({"ok": false, "error": "ratelimited"}),
            Some(("retry-after", retry_after_secs.to_string())),
        ),
        Some(Fault::ServerError { status }) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Value::Null,
            None,
        ),
        Some(Fault::Hang { millis }) => {
            *sandbox
                .state()
                .hangs_started
                .entry(method.clone())
                .or_default() += 1;
            sandbox.changed();
            tokio::time::sleep(Duration::from_millis(millis)).await;
            (StatusCode::GATEWAY_TIMEOUT, Value::Null, None)
        }
        Some(Fault::Error { code }) => (StatusCode::OK, json!({"ok": false, "error": code}), None),
        Some(Fault::CommitThenFail { status, millis }) => {
            let committed = dispatch(&sandbox, &method, token.as_deref(), &params);
            tracing::info!(
                method,
                ok = committed.is_ok(),
                "fault: committed, answer lost"
            );
            tokio::time::sleep(Duration::from_millis(millis)).await;
            (
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
                Value::Null,
                None,
            )
        }
        None => {
            let answer = match dispatch(&sandbox, &method, token.as_deref(), &params) {
                Ok(mut value) => {
                    value["ok"] = json!(true);
                    value
                }
                Err(ApiError {
                    code,
                    messages,
                    fields,
                }) => {
                    let mut answer = json!({"ok": false, "error": code});
                    if !messages.is_empty() {
                        answer["response_metadata"] = json!({"messages": messages});
                    }
                    for (key, value) in fields {
                        answer[key] = value;
                    }
                    answer
                }
            };
            (StatusCode::OK, answer, None)
        }
    };
    record(&sandbox, &method, redact(params), status.as_u16(), &answer);
    send_outbox(&sandbox);
    let mut response = if answer.is_null() {
        (status, "upstream trouble").into_response()
    } else {
        (status, Json(answer)).into_response()
    };
    if let Some((name, value)) = extra_header {
        response.headers_mut().insert(
            name,
            value.parse().expect("digits are a valid header value"),
        );
    }
    response
}

/// Sends the events the call caused (the app's own messages), each in its own task so the
/// answer never waits for the app; nothing when no events URL is set. A failed delivery is
/// logged (and listed by `GET /_sandbox/events-sent`), never an error of the call.
fn send_outbox(sandbox: &Arc<SlackSandbox>) {
    let outbox = std::mem::take(&mut sandbox.state().outbox);
    if outbox.is_empty() || sandbox.events_url().is_none() {
        return;
    }
    for (team_id, event) in outbox {
        let sandbox = sandbox.clone();
        tokio::spawn(async move {
            if let Err(error) = sandbox.send_event(&team_id, event).await {
                tracing::debug!(%error, "the app's own message event was not delivered");
            }
        });
    }
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

fn record(sandbox: &SlackSandbox, method: &str, params: Value, http_status: u16, answer: &Value) {
    let at_ms = now_ms();
    let error = if http_status != 200 {
        Some(format!("http_{http_status}"))
    } else {
        answer["error"].as_str().map(str::to_owned)
    };
    sandbox.state().calls.push(RecordedCall {
        method: method.into(),
        at_ms,
        params,
        http_status,
        error,
    });
    sandbox.changed();
}

/// Recorded calls keep no secrets, as a good log would.
fn redact(mut params: Value) -> Value {
    for key in ["token", "client_secret", "refresh_token"] {
        if params.get(key).is_some() {
            params[key] = json!("[redacted]");
        }
    }
    params
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(|t| t.trim().to_owned())
}

/// JSON or form bodies, as Slack accepts both; form values holding JSON are decoded.
fn parse_params(headers: &HeaderMap, body: &[u8]) -> Value {
    let is_json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return serde_json::from_slice(body).unwrap_or_else(|_| json!({}));
    }
    Value::Object(parse_form(body))
}

fn parse_form(body: &[u8]) -> Map<String, Value> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let mut map = Map::new();
    for (key, value) in pairs {
        let decoded = match key.as_str() {
            "blocks" | "attachments" | "view" | "files" => {
                serde_json::from_str(&value).unwrap_or(Value::String(value))
            }
            _ => Value::String(value),
        };
        map.insert(key, decoded);
    }
    map
}

/// Query-string arguments (`GET /api/chat.getPermalink?channel=…`), as Slack takes them; a
/// body argument of the same name wins. Not `token`: Slack refuses tokens in the query string
/// for apps created since February 2021, so a client must not come to rely on it here.
fn add_query_params(params: &mut Value, query: Option<&str>) {
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        return;
    };
    if !params.is_object() {
        *params = json!({});
    }
    let map = params.as_object_mut().expect("made an object above");
    for (key, value) in parse_form(query.as_bytes()) {
        if key != "token" {
            map.entry(key).or_insert(value);
        }
    }
}

pub(super) fn authorize<'a>(
    state: &'a State,
    token: Option<&str>,
) -> Result<&'a TokenGrant, &'static str> {
    let token = token.filter(|t| !t.is_empty()).ok_or("not_authed")?;
    let grant = state.tokens.get(token).ok_or("invalid_auth")?;
    if grant.revoked {
        return Err("token_revoked");
    }
    if grant.expires_at.is_some_and(|at| at <= crate::unix_now()) {
        return Err("token_expired");
    }
    Ok(grant)
}

/// Workspaces a token may act in: its team, or every team of its enterprise.
pub(super) fn workspaces_of<'a>(
    state: &'a mut State,
    grant: &TokenGrant,
) -> impl Iterator<Item = &'a mut Workspace> {
    let grant = grant.clone();
    state.workspaces.iter_mut().filter(move |w| {
        if grant.is_enterprise_install {
            w.enterprise_id.is_some() && w.enterprise_id == grant.enterprise_id
        } else {
            Some(&w.team_id) == grant.team_id.as_ref()
        }
    })
}

/// Resolves a channel id, or a user id to that user's DM channel (opening it), as
/// `chat.postMessage` and `files.completeUploadExternal` do. A deactivated user's id answers
/// `channel_not_found` (`user_disabled` is not among chat.postMessage's documented errors;
/// what Slack answers exactly is unconfirmed).
fn resolve_channel(
    state: &mut State,
    grant: &TokenGrant,
    target: &str,
) -> Result<String, &'static str> {
    if let Some(channel) = existing_channel(state, grant, target) {
        return Ok(channel);
    }
    match open_dm(state, grant, target) {
        Ok((dm, _)) => Ok(dm),
        Err(DmError::Disabled | DmError::NotFound) => Err("channel_not_found"),
    }
}

/// A channel (or DM) id that exists in the token's workspaces; user ids do not count, as for
/// `chat.update` ("ensure that this value is a DM ID (starts with `D`) instead of a User ID").
/// A private channel the bot is not in does not exist as far as the bot can tell.
fn existing_channel(state: &mut State, grant: &TokenGrant, target: &str) -> Option<String> {
    find_channel(state, grant, target)
        .filter(|(_, c)| !c.is_private || c.has_bot(&grant.bot_user_id))
        .map(|(_, c)| c.id)
}

/// A conversation of the token's workspaces by id, private or not, with its team.
fn find_channel(state: &mut State, grant: &TokenGrant, id: &str) -> Option<(String, Channel)> {
    workspaces_of(state, grant).find_map(|w| {
        w.channels
            .iter()
            .find(|c| c.id == id)
            .map(|c| (w.team_id.clone(), c.clone()))
    })
}

pub(super) enum DmError {
    NotFound,
    /// The user is deactivated.
    Disabled,
}

/// The DM channel with a user, opened if needed: `(D…, already_open)`. A deactivated user's DM
/// is not opened.
fn open_dm(
    state: &mut State,
    grant: &TokenGrant,
    user_id: &str,
) -> Result<(String, bool), DmError> {
    for workspace in workspaces_of(state, grant) {
        match dm_in(workspace, user_id) {
            Err(DmError::NotFound) => continue,
            found => return found,
        }
    }
    Err(DmError::NotFound)
}

/// The app's DM channel with a member of one workspace, opened if needed: `(D…,
/// already_open)`. Shared by `conversations.open`, posts to a user id and `app_home_opened`
/// (the App Home's Messages tab is this DM).
pub(super) fn dm_in(workspace: &mut Workspace, user_id: &str) -> Result<(String, bool), DmError> {
    let user = workspace
        .users
        .iter()
        .find(|u| u.id == user_id)
        .ok_or(DmError::NotFound)?;
    if user.deleted {
        return Err(DmError::Disabled);
    }
    let dm = format!("D{}", user_id.trim_start_matches('U'));
    let already_open = workspace.channels.iter().any(|c| c.id == dm);
    if !already_open {
        // The app's bot is in every DM of its own, so it is not listed.
        workspace.channels.push(Channel {
            dm_user: Some(user_id.into()),
            ..Channel::public(&dm, &format!("dm-{user_id}"), &[user_id])
        });
    }
    Ok((dm, already_open))
}

/// `conversations.open`: a 1:1 DM by `users` (one id), or an existing DM by `channel`.
fn open_conversation(state: &mut State, token: Option<&str>, params: &Value) -> ApiResult {
    let grant = authorize(state, token)?.clone();
    if let Some(channel) = params["channel"].as_str().filter(|c| !c.is_empty()) {
        let is_dm = workspaces_of(state, &grant).any(|w| {
            w.channels
                .iter()
                .any(|c| c.id == channel && c.dm_user.is_some())
        });
        if !is_dm {
            return Err("channel_not_found");
        }
        return Ok(json!({"no_op": true, "already_open": true, "channel": {"id": channel}}));
    }
    let users: Vec<&str> = params["users"]
        .as_str()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect();
    match users.len() {
        0 => return Err("users_list_not_supplied"),
        9.. => return Err("too_many_users"),
        _ => {}
    }
    // Multi-person DMs are not modelled: the first person's 1:1 DM is answered.
    match open_dm(state, &grant, users[0]) {
        Ok((dm, true)) => Ok(json!({"no_op": true, "already_open": true, "channel": {"id": dm}})),
        Ok((dm, false)) => Ok(json!({"channel": {"id": dm}})),
        Err(DmError::Disabled) => Err("user_disabled"),
        Err(DmError::NotFound) => Err("user_not_found"),
    }
}

/// Members of the token's workspaces (deduplicated by id, for org tokens) with the team each
/// was found in; `team_id` narrows to one workspace.
fn members(
    state: &mut State,
    grant: &TokenGrant,
    team_id: Option<&str>,
) -> Result<Vec<(User, String)>, &'static str> {
    let mut found: Vec<(User, String)> = Vec::new();
    let mut any_team = false;
    for workspace in workspaces_of(state, grant) {
        if team_id.is_some_and(|t| t != workspace.team_id) {
            continue;
        }
        any_team = true;
        for user in &workspace.users {
            if !found.iter().any(|(u, _)| u.id == user.id) {
                found.push((user.clone(), workspace.team_id.clone()));
            }
        }
    }
    if !any_team && team_id.is_some() {
        return Err("team_access_not_granted");
    }
    Ok(found)
}

const MAX_USERS_PAGE: usize = 1000;

fn user_cursor(user_id: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("user:{user_id}"))
}

/// `users.list`: workspace members, deactivated users, bots and Slackbot, without Slack
/// Connect outsiders; `limit` (0 or none: everything; at most 1000) and an opaque `cursor`.
fn list_users(state: &mut State, token: Option<&str>, params: &Value) -> ApiResult {
    let grant = authorize(state, token)?.clone();
    let limit = match &params["limit"] {
        Value::Null => 0,
        Value::Number(n) => n.as_u64().ok_or("invalid_arguments")?,
        Value::String(s) if s.is_empty() => 0,
        Value::String(s) => s.parse().map_err(|_| "invalid_arguments")?,
        _ => return Err("invalid_arguments"),
    };
    let limit = match usize::try_from(limit).unwrap_or(MAX_USERS_PAGE) {
        0 => usize::MAX,
        n => n.min(MAX_USERS_PAGE),
    };
    let team_id = params["team_id"].as_str().filter(|t| !t.is_empty());
    let members: Vec<(User, String)> = members(state, &grant, team_id)?
        .into_iter()
        .filter(|(user, _)| !user.is_external())
        .collect();
    let start = match params["cursor"].as_str().filter(|c| !c.is_empty()) {
        None => 0,
        Some(cursor) => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(cursor)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or("invalid_cursor")?;
            let id = decoded.strip_prefix("user:").ok_or("invalid_cursor")?;
            members
                .iter()
                .position(|(user, _)| user.id == id)
                .ok_or("invalid_cursor")?
        }
    };
    let end = start.saturating_add(limit).min(members.len());
    let page: Vec<Value> = members[start..end]
        .iter()
        .map(|(user, team)| user.to_slack_json(team))
        .collect();
    let next_cursor = members
        .get(end)
        .map(|(user, _)| user_cursor(&user.id))
        .unwrap_or_default();
    Ok(json!({
        "members": page,
        "cache_ts": crate::unix_now(),
        "response_metadata": {"next_cursor": next_cursor},
    }))
}

/// `users.lookupByEmail`: the stored email compared case-insensitively; deactivated users are
/// not found ("If the user has been deactivated, users_not_found will be returned").
fn lookup_by_email(state: &mut State, token: Option<&str>, params: &Value) -> ApiResult {
    let grant = authorize(state, token)?.clone();
    let email = params["email"]
        .as_str()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .ok_or("invalid_arguments")?;
    let (user, team) = members(state, &grant, None)?
        .into_iter()
        .find(|(u, _)| !u.deleted && !u.email.is_empty() && u.email.eq_ignore_ascii_case(email))
        .ok_or("users_not_found")?;
    Ok(json!({"user": user.to_slack_json(&team)}))
}

/// `users.info`: any user of the token's workspaces, deactivated ones and outsiders included.
fn user_info(state: &mut State, token: Option<&str>, params: &Value) -> ApiResult {
    let grant = authorize(state, token)?.clone();
    let id = params["user"].as_str().unwrap_or_default();
    let (user, team) = members(state, &grant, None)?
        .into_iter()
        .find(|(u, _)| u.id == id)
        .ok_or("user_not_found")?;
    Ok(json!({"user": user.to_slack_json(&team)}))
}

fn check_content(params: &Value, max_blocks: usize) -> Result<(String, Value), &'static str> {
    let text = params["text"].as_str().unwrap_or_default().to_owned();
    let blocks = params.get("blocks").cloned().unwrap_or(Value::Null);
    if text.is_empty() && blocks.as_array().is_none_or(|b| b.is_empty()) {
        return Err("no_text");
    }
    if text.chars().count() > MAX_MESSAGE_TEXT {
        return Err("msg_too_long");
    }
    if !blocks.is_null() {
        validate_blocks(&blocks, max_blocks).map_err(|_| "invalid_blocks")?;
        if block_text_chars(&blocks) > MAX_CUMULATIVE_BLOCK_TEXT {
            return Err("msg_blocks_too_long");
        }
    }
    Ok((text, blocks))
}

fn dispatch(
    sandbox: &SlackSandbox,
    method: &str,
    token: Option<&str>,
    params: &Value,
) -> Result<Value, ApiError> {
    let mut state = sandbox.state();
    let answer = match method {
        "views.publish" => super::home::publish(sandbox, &mut state, token, params),
        "conversations.join" => join_conversation(&mut state, token, params),
        "conversations.info" => conversation_info(&mut state, token, params),
        "files.getUploadURLExternal" => upload_url(sandbox, &mut state, token, params),
        "files.completeUploadExternal" => complete_upload(sandbox, &mut state, token, params),
        _ => dispatch_plain(sandbox, &mut state, method, token, params).map_err(ApiError::from),
    };
    drop(state);
    answer
}

/// The methods whose refusals are a bare error code.
fn dispatch_plain(
    sandbox: &SlackSandbox,
    state: &mut State,
    method: &str,
    token: Option<&str>,
    params: &Value,
) -> ApiResult {
    match method {
        "api.test" => Ok(json!({})),
        "auth.test" => auth_test(state, token),
        "auth.revoke" => {
            authorize(state, token)?;
            if let Some(grant) = token.and_then(|t| state.tokens.get_mut(t)) {
                grant.revoked = true;
            }
            Ok(json!({"revoked": true}))
        }
        "oauth.v2.access" => super::oauth::access(sandbox, state, params),
        "views.open" => open_view(state, token, params),
        "chat.postMessage" => post_message(sandbox, state, token, params),
        "chat.update" => update_message(state, token, params),
        "chat.postEphemeral" => post_ephemeral(state, token, params),
        "conversations.open" => open_conversation(state, token, params),
        "users.info" => user_info(state, token, params),
        "users.lookupByEmail" => lookup_by_email(state, token, params),
        "users.list" => list_users(state, token, params),
        "chat.getPermalink" => permalink(sandbox, state, token, params),
        _ => Err("unknown_method"),
    }
}

/// `chat.getPermalink`: `{base}/archives/{channel}/p{ts without the dot}`, with
/// `?thread_ts=…&cid=…` for a thread reply, as Slack shapes it. The sandbox page serves that
/// path (it shows the message). Ephemeral notes have no permalink.
fn permalink(
    sandbox: &SlackSandbox,
    state: &mut State,
    token: Option<&str>,
    params: &Value,
) -> ApiResult {
    let grant = authorize(state, token)?.clone();
    let given = |name: &str| {
        params[name]
            .as_str()
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let (Some(channel), Some(ts)) = (given("channel"), given("message_ts")) else {
        return Err("invalid_arguments");
    };
    existing_channel(state, &grant, channel).ok_or("channel_not_found")?;
    let message = state
        .messages
        .iter()
        .find(|m| m.channel == channel && m.ts == ts && m.ephemeral_for.is_none())
        .ok_or("message_not_found")?;
    let base = sandbox.base_url.lock().unwrap().clone();
    let mut link = format!("{base}/archives/{channel}/p{}", ts.replace('.', ""));
    if let Some(root) = message.thread_ts.as_deref().filter(|root| *root != ts) {
        link.push_str(&format!("?thread_ts={root}&cid={channel}"));
    }
    Ok(json!({"channel": channel, "permalink": link}))
}

/// `views.open`: needs a `trigger_id` from a click of the last 3 seconds.
fn open_view(state: &mut State, token: Option<&str>, params: &Value) -> ApiResult {
    authorize(state, token)?;
    let trigger = params["trigger_id"].as_str().ok_or("invalid_trigger_id")?;
    let (user, issued_ms) = state
        .triggers
        .get(trigger)
        .cloned()
        .ok_or("invalid_trigger_id")?;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    if now_ms.saturating_sub(issued_ms) > 3_000 {
        return Err("expired_trigger_id");
    }
    let view = match &params["view"] {
        Value::String(text) => serde_json::from_str(text).map_err(|_| "invalid_arguments")?,
        Value::Object(_) => params["view"].clone(),
        _ => return Err("invalid_arguments"),
    };
    if view["type"] != "modal" || view["title"].is_null() {
        return Err("invalid_arguments");
    }
    validate_blocks(&view["blocks"], 100).map_err(|_| "invalid_blocks")?;
    state.triggers.remove(trigger);
    let id = super::ui::store_view(state, &user, view.clone());
    let mut echoed = view;
    echoed["id"] = json!(id);
    Ok(json!({"view": echoed}))
}

/// `conversations.join` (`channels:join`): the bot joins a public channel. Already in: ok, with
/// Slack's `already_in_channel` warning. Private channels need an invite and DMs cannot be
/// joined: `method_not_supported_for_channel_type`.
fn join_conversation(
    state: &mut State,
    token: Option<&str>,
    params: &Value,
) -> Result<Value, ApiError> {
    let grant = authorize(state, token)?.clone();
    require_scope(&grant, "channels:join")?;
    let id = params["channel"]
        .as_str()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or("channel_not_found")?;
    let (team_id, channel) = find_channel(state, &grant, id).ok_or("channel_not_found")?;
    if channel.is_dm() || channel.is_private {
        return Err("method_not_supported_for_channel_type".into());
    }
    let already = channel.has_bot(&grant.bot_user_id);
    if !already {
        let stored = state
            .workspaces
            .iter_mut()
            .find(|w| w.team_id == team_id)
            .and_then(|w| w.channels.iter_mut().find(|c| c.id == id))
            .ok_or("channel_not_found")?;
        stored.members.push(grant.bot_user_id.clone());
    }
    let channel = find_channel(state, &grant, id)
        .ok_or("channel_not_found")?
        .1;
    let mut answer = json!({"channel": channel_object(&channel, &grant)});
    if already {
        answer["warning"] = json!("already_in_channel");
        answer["response_metadata"] = json!({"warnings": ["already_in_channel"]});
    }
    Ok(answer)
}

/// `conversations.info`: needs `channels:read` (public), `groups:read` (private) or `im:read`
/// (DMs); a private channel the bot is not in is `channel_not_found`.
fn conversation_info(
    state: &mut State,
    token: Option<&str>,
    params: &Value,
) -> Result<Value, ApiError> {
    let grant = authorize(state, token)?.clone();
    let id = params["channel"]
        .as_str()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or("channel_not_found")?;
    let (_, channel) = find_channel(state, &grant, id).ok_or("channel_not_found")?;
    if channel.is_private && !channel.has_bot(&grant.bot_user_id) {
        return Err("channel_not_found".into());
    }
    let needed = if channel.is_dm() {
        "im:read"
    } else if channel.is_private {
        "groups:read"
    } else {
        "channels:read"
    };
    require_scope(&grant, needed)?;
    Ok(json!({"channel": channel_object(&channel, &grant)}))
}

/// Slack's conversation object, as `conversations.info` and `conversations.join` answer it.
fn channel_object(channel: &Channel, grant: &TokenGrant) -> Value {
    let mut object = json!({
        "id": channel.id,
        "name": channel.name,
        "is_channel": !channel.is_dm(),
        "is_group": false,
        "is_im": channel.is_dm(),
        "is_mpim": false,
        "is_private": channel.is_private || channel.is_dm(),
        "is_member": channel.has_bot(&grant.bot_user_id),
        "is_archived": false,
        "is_general": channel.name == "general",
        "name_normalized": channel.name,
    });
    if let Some(user) = &channel.dm_user {
        object["user"] = json!(user);
        object
            .as_object_mut()
            .expect("made an object above")
            .remove("name");
        object
            .as_object_mut()
            .expect("made an object above")
            .remove("name_normalized");
    }
    object
}

/// `files.getUploadURLExternal` (`files:write`): a file id and the URL to POST its bytes to.
fn upload_url(
    sandbox: &SlackSandbox,
    state: &mut State,
    token: Option<&str>,
    params: &Value,
) -> Result<Value, ApiError> {
    let grant = authorize(state, token)?.clone();
    require_scope(&grant, "files:write")?;
    let filename = params["filename"]
        .as_str()
        .filter(|f| !f.is_empty())
        .ok_or("invalid_arguments")?;
    let length = match &params["length"] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .filter(|l| *l > 0)
    .ok_or("invalid_arguments")? as usize;
    let file_id = format!("F{}", super::random_hex(5).to_uppercase());
    state.uploads.insert(
        file_id.clone(),
        super::Upload {
            filename: filename.into(),
            length,
            bytes: None,
            completed: false,
            content_type: None,
            title: None,
        },
    );
    let base = sandbox.base_url.lock().unwrap().clone();
    Ok(json!({"upload_url": format!("{base}/upload/{file_id}"), "file_id": file_id}))
}

/// `files.completeUploadExternal` (`files:write`): shares uploaded files, as one message in a
/// channel (and thread) when `channel_id` is given. Works once per file: the upload ticket is
/// then spent (`file_not_found`). The bot must be in the channel (`not_in_channel`), DMs
/// aside: `chat:write.public` does not cover files.
fn complete_upload(
    sandbox: &SlackSandbox,
    state: &mut State,
    token: Option<&str>,
    params: &Value,
) -> Result<Value, ApiError> {
    let grant = authorize(state, token)?.clone();
    require_scope(&grant, "files:write")?;
    let files = match &params["files"] {
        Value::String(text) => serde_json::from_str(text).map_err(|_| "invalid_arguments")?,
        Value::Array(items) => Value::Array(items.clone()),
        _ => return Err("invalid_arguments".into()),
    };
    let files = files
        .as_array()
        .filter(|f| !f.is_empty())
        .ok_or("invalid_arguments")?
        .clone();
    for file in &files {
        let id = file["id"].as_str().unwrap_or_default();
        let upload = state
            .uploads
            .get(id)
            .filter(|u| !u.completed)
            .ok_or("file_not_found")?;
        if upload.bytes.is_none() {
            return Err("file_upload_not_complete".into());
        }
    }
    let target = match params["channel_id"].as_str().filter(|c| !c.is_empty()) {
        Some(target) => {
            let id = match find_channel(state, &grant, target) {
                Some((_, channel)) => channel.id,
                None => resolve_channel(state, &grant, target)?,
            };
            let (team_id, channel) = find_channel(state, &grant, &id).ok_or("channel_not_found")?;
            if !channel.has_bot(&grant.bot_user_id) {
                return Err("not_in_channel".into());
            }
            Some((team_id, channel))
        }
        None => None,
    };
    let thread_ts = params["thread_ts"]
        .as_str()
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let base = sandbox.base_url.lock().unwrap().clone();
    let mut answered = Vec::new();
    let mut shared = Vec::new();
    for file in &files {
        let id = file["id"].as_str().unwrap_or_default().to_owned();
        let upload = state.uploads.get_mut(&id).ok_or("file_not_found")?;
        upload.completed = true;
        let title = file["title"]
            .as_str()
            .filter(|t| !t.is_empty())
            .unwrap_or(&upload.filename)
            .to_owned();
        upload.title = Some(title.clone());
        answered.push(json!({"id": id, "title": title}));
        let mimetype = mimetype_of(&upload.filename, upload.content_type.as_deref());
        shared.push(SharedFile {
            url_private: format!("{base}/files/{id}/{}", url_segment(&upload.filename)),
            filetype: filetype_of(&upload.filename),
            id,
            name: upload.filename.clone(),
            title,
            mimetype,
            size: upload.bytes.as_ref().map_or(upload.length, Vec::len),
        });
    }
    if let Some((team_id, channel)) = target {
        let ts = next_ts(state);
        let text = params["initial_comment"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let message = Message {
            channel: channel.id.clone(),
            ts: ts.clone(),
            thread_ts: thread_ts.clone(),
            user: grant.bot_user_id.clone(),
            text: text.clone(),
            files: shared.clone(),
            ..Message::default()
        };
        state.messages.push(message);
        // Slack tells the app of its own share: a `file_share` message from its bot.
        let mut event = json!({
            "type": "message", "subtype": "file_share", "channel": channel.id,
            "channel_type": channel.channel_type(), "user": grant.bot_user_id,
            "bot_id": grant.bot_id(), "app_id": sandbox.config.app_id, "text": text,
            "files": shared.iter().map(SharedFile::to_slack_json).collect::<Vec<_>>(),
            "upload": false, "ts": ts, "event_ts": ts, "team": team_id,
        });
        if let Some(root) = &thread_ts {
            event["thread_ts"] = json!(root);
        }
        state.outbox.push((team_id, event));
    }
    Ok(json!({"files": answered}))
}

/// The MIME type a file is served with: from its extension when the sandbox knows it, else
/// what the upload said, else `application/octet-stream`.
pub(super) fn mimetype_of(filename: &str, uploaded_as: Option<&str>) -> String {
    let known = match extension(filename).as_str() {
        "pdf" => Some("application/pdf"),
        "png" => Some("image/png"),
        "jpg" | "jpeg" => Some("image/jpeg"),
        "gif" => Some("image/gif"),
        "svg" => Some("image/svg+xml"),
        "txt" | "log" => Some("text/plain"),
        "csv" => Some("text/csv"),
        "json" => Some("application/json"),
        "html" | "htm" => Some("text/html"),
        "zip" => Some("application/zip"),
        "docx" => Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        "xlsx" => Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        _ => None,
    };
    known
        .or(uploaded_as)
        .unwrap_or("application/octet-stream")
        .to_owned()
}

fn extension(filename: &str) -> String {
    filename
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default()
}

/// Slack's short `filetype`: the extension (`pdf`, `png`), `text` for plain text, else `binary`.
fn filetype_of(filename: &str) -> String {
    match extension(filename).as_str() {
        "" => "binary".into(),
        "txt" => "text".into(),
        ext if ext.chars().all(|c| c.is_ascii_alphanumeric()) => ext.into(),
        _ => "binary".into(),
    }
}

/// A filename as one URL path segment (percent-encoded).
fn url_segment(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// The `upload_url`: takes the bytes, which must be as long as announced, and remembers a
/// specific `content-type` (not a form's or `application/octet-stream`).
async fn upload_bytes(
    AxumState(sandbox): Shared,
    Path(file_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_owned())
        .filter(|v| {
            !v.is_empty()
                && v != "application/octet-stream"
                && v != "application/x-www-form-urlencoded"
                && !v.starts_with("multipart/")
        });
    let outcome = {
        let mut state = sandbox.state();
        match state.uploads.get_mut(&file_id) {
            None => Err((StatusCode::NOT_FOUND, "file_not_found")),
            Some(upload) if upload.completed => Err((StatusCode::NOT_FOUND, "file_not_found")),
            Some(upload) if upload.length != body.len() => {
                Err((StatusCode::BAD_REQUEST, "length_mismatch"))
            }
            Some(upload) => {
                upload.bytes = Some(body.to_vec());
                upload.content_type = content_type.clone();
                Ok(())
            }
        }
    };
    let (status, text) = match outcome {
        Ok(()) => (StatusCode::OK, format!("OK - {}", body.len())),
        Err((status, code)) => (status, code.to_owned()),
    };
    record(
        &sandbox,
        "upload_url",
        json!({"file_id": file_id, "bytes": body.len(), "content_type": content_type}),
        status.as_u16(),
        &Value::Null,
    );
    (status, text).into_response()
}

/// A shared file's `url_private`: the bytes with their MIME type, once
/// `files.completeUploadExternal` shared them; 404 before, and for a wrong name. (Slack also
/// wants the bot token here; the sandbox serves it to the page without one.)
async fn file_bytes(
    AxumState(sandbox): Shared,
    Path((file_id, filename)): Path<(String, String)>,
) -> Response {
    let found = sandbox
        .state()
        .uploads
        .get(&file_id)
        .filter(|u| u.completed && u.filename == filename)
        .and_then(|u| {
            let bytes = u.bytes.clone()?;
            Some((mimetype_of(&u.filename, u.content_type.as_deref()), bytes))
        });
    match found {
        Some((mimetype, bytes)) => (
            [
                (axum::http::header::CONTENT_TYPE, mimetype),
                (
                    axum::http::header::CONTENT_DISPOSITION,
                    format!("inline; filename=\"{}\"", filename.replace('"', "")),
                ),
            ],
            bytes,
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("file_id: no shared file {file_id} named {filename}")})),
        )
            .into_response(),
    }
}

fn auth_test(state: &mut State, token: Option<&str>) -> ApiResult {
    let grant = authorize(state, token)?.clone();
    let team = workspaces_of(state, &grant)
        .next()
        .map(|w| (w.team_id.clone(), w.name.clone()));
    Ok(
        json!({"team_id": team.as_ref().map(|t| t.0.clone()), "team": team.map(|t| t.1),
              "enterprise_id": grant.enterprise_id, "user_id": grant.bot_user_id,
              "bot_id": grant.bot_id(), "is_enterprise_install": grant.is_enterprise_install}),
    )
}

pub(super) fn next_ts(state: &mut State) -> String {
    state.next_ts += 1;
    format!("{}.{:06}", crate::unix_now(), state.next_ts)
}

/// `chat.postMessage`. Public channels take posts without membership (`chat:write.public`);
/// a private channel the bot is not in is `channel_not_found`. `username` is kept only with
/// `chat:write.customize`, as Slack ignores it silently otherwise. Where the bot is a member
/// (or in a DM) the post comes back to the app as a `message` event.
fn post_message(
    sandbox: &SlackSandbox,
    state: &mut State,
    token: Option<&str>,
    params: &Value,
) -> ApiResult {
    let grant = authorize(state, token)?.clone();
    let target = params["channel"].as_str().ok_or("channel_not_found")?;
    let channel = resolve_channel(state, &grant, target)?;
    let (team_id, conversation) =
        find_channel(state, &grant, &channel).ok_or("channel_not_found")?;
    let (text, blocks) = check_content(params, 50)?;
    let thread_ts = params["thread_ts"].as_str().map(str::to_owned);
    if let Some(parent) = &thread_ts {
        if !state
            .messages
            .iter()
            .any(|m| m.channel == channel && &m.ts == parent)
        {
            return Err("thread_not_found");
        }
    }
    let username = params["username"]
        .as_str()
        .map(str::trim)
        .filter(|u| !u.is_empty() && grant.has_scope("chat:write.customize"))
        .map(str::to_owned);
    let ts = next_ts(state);
    let message = Message {
        channel: channel.clone(),
        ts: ts.clone(),
        thread_ts,
        user: grant.bot_user_id.clone(),
        text,
        blocks,
        username,
        ..Message::default()
    };
    let mut echoed = json!({"type": "message", "text": message.text, "ts": ts, "user": message.user,
                            "bot_id": grant.bot_id(), "app_id": sandbox.config.app_id});
    if let Some(username) = &message.username {
        echoed["username"] = json!(username);
    }
    if conversation.has_bot(&grant.bot_user_id) {
        let mut event = json!({
            "type": "message", "channel": channel, "channel_type": conversation.channel_type(),
            "user": grant.bot_user_id, "bot_id": grant.bot_id(), "app_id": sandbox.config.app_id,
            "text": message.text, "ts": ts, "event_ts": ts, "team": team_id,
        });
        if let Some(root) = &message.thread_ts {
            event["thread_ts"] = json!(root);
        }
        if !message.blocks.is_null() {
            event["blocks"] = message.blocks.clone();
        }
        if let Some(username) = &message.username {
            event["subtype"] = json!("bot_message");
            event["username"] = json!(username);
        }
        state.outbox.push((team_id, event));
    }
    state.messages.push(message);
    Ok(json!({"channel": channel, "ts": ts, "message": echoed}))
}

fn update_message(state: &mut State, token: Option<&str>, params: &Value) -> ApiResult {
    let grant = authorize(state, token)?.clone();
    let channel = params["channel"]
        .as_str()
        .ok_or("channel_not_found")?
        .to_owned();
    let ts = params["ts"].as_str().ok_or("message_not_found")?.to_owned();
    existing_channel(state, &grant, &channel).ok_or("channel_not_found")?;
    let (text, blocks) = check_content(params, 50)?;
    let message = state
        .messages
        .iter_mut()
        .find(|m| m.channel == channel && m.ts == ts && m.ephemeral_for.is_none())
        .ok_or("message_not_found")?;
    if message.user != grant.bot_user_id {
        return Err("cant_update_message");
    }
    message.text = text.clone();
    let earlier = std::mem::replace(&mut message.blocks, blocks);
    message.earlier_blocks.push(earlier);
    message.edits += 1;
    message.edited_at_ms = Some(now_ms());
    Ok(json!({"channel": channel, "ts": ts, "text": text}))
}

fn post_ephemeral(state: &mut State, token: Option<&str>, params: &Value) -> ApiResult {
    let grant = authorize(state, token)?.clone();
    let channel = resolve_channel(
        state,
        &grant,
        params["channel"].as_str().unwrap_or_default(),
    )?;
    let user = params["user"]
        .as_str()
        .ok_or("user_not_in_channel")?
        .to_owned();
    let (text, blocks) = check_content(params, 50)?;
    let ts = next_ts(state);
    state.messages.push(Message {
        channel,
        ts: ts.clone(),
        thread_ts: params["thread_ts"].as_str().map(str::to_owned),
        user: grant.bot_user_id.clone(),
        text,
        blocks,
        ephemeral_for: Some(user),
        ..Message::default()
    });
    Ok(json!({"message_ts": ts}))
}

/// `response_url`: up to 5 uses in 30 minutes; ephemeral notes or edits of the original.
async fn response_url(
    AxumState(sandbox): Shared,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    let params: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let outcome = respond(&sandbox, &token, &params);
    let (status, answer) = match outcome {
        Ok(()) => (StatusCode::OK, json!({"ok": true})),
        Err((status, code)) => (status, json!({"ok": false, "error": code})),
    };
    record(&sandbox, "response_url", params, status.as_u16(), &answer);
    (status, Json(answer)).into_response()
}

fn respond(
    sandbox: &SlackSandbox,
    token: &str,
    params: &Value,
) -> Result<(), (StatusCode, &'static str)> {
    if !params.is_object() {
        return Err((StatusCode::BAD_REQUEST, "invalid_payload"));
    }
    let mut state = sandbox.state();
    let now = crate::unix_now();
    let target = state
        .response_urls
        .get_mut(token)
        .ok_or((StatusCode::NOT_FOUND, "no_such_url"))?;
    if now - target.created > 30 * 60 {
        return Err((StatusCode::NOT_FOUND, "expired_url"));
    }
    if target.uses >= 5 {
        return Err((StatusCode::NOT_FOUND, "used_url"));
    }
    target.uses += 1;
    let (channel, message_ts, user) = (
        target.channel.clone(),
        target.message_ts.clone(),
        target.user.clone(),
    );
    let (text, blocks) =
        check_content(params, 50).map_err(|code| (StatusCode::BAD_REQUEST, code))?;
    if params["replace_original"] == json!(true) {
        let original = state
            .messages
            .iter_mut()
            .find(|m| m.channel == channel && m.ts == message_ts)
            .ok_or((StatusCode::NOT_FOUND, "message_not_found"))?;
        original.text = text;
        let earlier = std::mem::replace(&mut original.blocks, blocks);
        original.earlier_blocks.push(earlier);
        original.edits += 1;
        original.edited_at_ms = Some(now_ms());
    } else if params["delete_original"] == json!(true) {
        state
            .messages
            .retain(|m| !(m.channel == channel && m.ts == message_ts));
    } else {
        let ts = next_ts(&mut state);
        let in_channel = params["response_type"] == "in_channel";
        state.messages.push(Message {
            channel,
            ts,
            thread_ts: None,
            user: "U0BOT".into(),
            text,
            blocks,
            ephemeral_for: (!in_channel).then_some(user),
            response_to: Some(message_ts),
            ..Message::default()
        });
    }
    drop(state);
    sandbox.changed();
    Ok(())
}

#[derive(Deserialize)]
struct CallsQuery {
    method: Option<String>,
}

async fn list_calls(
    AxumState(sandbox): Shared,
    Query(query): Query<CallsQuery>,
) -> Json<Vec<RecordedCall>> {
    Json(sandbox.calls(query.method.as_deref()))
}

#[derive(Deserialize)]
struct FaultRequest {
    method: String,
    fault: Fault,
    #[serde(default = "one")]
    count: usize,
}

fn one() -> usize {
    1
}

async fn add_fault(AxumState(sandbox): Shared, Json(request): Json<FaultRequest>) -> StatusCode {
    sandbox.inject(&request.method, request.fault, request.count);
    StatusCode::NO_CONTENT
}

async fn reset(AxumState(sandbox): Shared) -> StatusCode {
    sandbox.reset();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct MessagesQuery {
    channel: String,
}

async fn list_messages(
    AxumState(sandbox): Shared,
    Query(query): Query<MessagesQuery>,
) -> Json<Vec<Message>> {
    Json(sandbox.messages(&query.channel))
}
