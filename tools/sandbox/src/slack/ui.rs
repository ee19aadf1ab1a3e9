//! The workspace page and its controls: what people do in Slack, and the events that causes.
//!
//! Block Kit rendering, "act as", clicks, modals, thread replies (with an @-picker), edits and
//! deletes, inviting the app, the log of events sent and their resends, the app's Home tab,
//! permalinks, live updates.
//!
//! The page is server-rendered HTML; `assets/sandbox.js` (no build step) makes it live. All
//! rendering happens here, so the page and `GET /_sandbox/ui/state` never disagree: the state
//! answer carries the same HTML fragments, each with a `rev` hash the script compares before
//! touching the DOM (so focus and typed text survive updates).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{
    app_bot_user, random_hex, Channel, Edited, Message, SandboxError, SentEvent, SlackSandbox,
    State, User, UserChange, Workspace, EVENTS_KEPT,
};
use crate::host::escape;

const SCRIPT: &str = include_str!("../../assets/sandbox.js");
/// How long `GET /_sandbox/ui/events` waits for a change before answering anyway.
const LONG_POLL: Duration = Duration::from_secs(25);
const FORM: &str = "application/x-www-form-urlencoded";
const MAX_REPLY_CHARS: usize = 40_000;

/// Page-side state kept with the rest of the sandbox's state.
#[derive(Default)]
pub(super) struct UiState {
    /// Open modals, oldest first; the page shows a user's newest.
    pub(super) views: Vec<OpenView>,
    interactivity_url: Option<String>,
    events_url: Option<String>,
}

/// A modal opened with `views.open`, shown on the page to the user it was opened for.
#[derive(Debug, Clone, Serialize)]
pub struct OpenView {
    /// `V…`, like Slack's view ids.
    pub id: String,
    pub user: String,
    /// The workspace of `user`, for the `view_submission` payload.
    pub team_id: Option<String>,
    /// The view as passed to `views.open`: `type`, `title`, `blocks`, `callback_id`, …
    pub view: Value,
    pub hash: String,
}

/// Why a request to the app under test was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("no {0} is configured in the sandbox, so nothing was sent")]
    NotConfigured(&'static str),
    #[error("could not reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
}

/// Stores a view for `user` without touching the version; for `views.open`, which already
/// holds the state lock (the recorded call bumps the version).
pub(super) fn store_view(state: &mut State, user: &str, view: Value) -> String {
    let id = format!("V{}", random_hex(5).to_uppercase());
    let team_id = state
        .workspaces
        .iter()
        .find(|w| w.users.iter().any(|u| u.id == user))
        .map(|w| w.team_id.clone());
    state.ui.views.push(OpenView {
        id: id.clone(),
        user: user.into(),
        team_id,
        view,
        hash: format!("{}.{}", crate::unix_now(), random_hex(6)),
    });
    id
}

impl SlackSandbox {
    /// Opens a modal for `user`, as `views.open` does; returns its id (`V…`).
    pub fn open_view(&self, user: &str, view: Value) -> String {
        let id = store_view(&mut self.state(), user, view);
        self.changed();
        id
    }

    /// The modals open for `user`, oldest first.
    pub fn views(&self, user: &str) -> Vec<OpenView> {
        self.state()
            .ui
            .views
            .iter()
            .filter(|v| v.user == user)
            .cloned()
            .collect()
    }

    /// Closes a modal; false when it was not open.
    pub fn close_view(&self, view_id: &str) -> bool {
        let mut state = self.state();
        let before = state.ui.views.len();
        state.ui.views.retain(|v| v.id != view_id);
        let closed = state.ui.views.len() != before;
        drop(state);
        if closed {
            self.changed();
        }
        closed
    }

    /// Where clicks and modal submits go: the URL set at run time, else the configured one.
    pub fn interactivity_url(&self) -> Option<String> {
        let runtime = self.state().ui.interactivity_url.clone();
        runtime.or_else(|| self.config.interactivity_url.clone())
    }

    /// Overrides `SandboxConfig::interactivity_url` (for apps that start after the sandbox).
    pub fn set_interactivity_url(&self, url: Option<String>) {
        self.state().ui.interactivity_url = url;
        self.changed();
    }

    /// Where event callbacks go: the URL set at run time, else the configured one.
    pub fn events_url(&self) -> Option<String> {
        let runtime = self.state().ui.events_url.clone();
        runtime.or_else(|| self.config.events_url.clone())
    }

    /// Overrides `SandboxConfig::events_url` (for apps that start after the sandbox).
    pub fn set_events_url(&self, url: Option<String>) {
        self.state().ui.events_url = url;
        self.changed();
    }

    /// The Events API envelope Slack wraps `event` in for a workspace (`event_callback`).
    pub fn event_callback(&self, team_id: &str, event: Value) -> Value {
        let state = self.state();
        let enterprise_id = state
            .workspaces
            .iter()
            .find(|w| w.team_id == team_id)
            .and_then(|w| w.enterprise_id.clone());
        let team_grant = state
            .tokens
            .values()
            .find(|g| g.team_id.as_deref() == Some(team_id));
        let org_grant = state.tokens.values().find(|g| {
            g.is_enterprise_install && enterprise_id.is_some() && g.enterprise_id == enterprise_id
        });
        let (bot_user_id, is_enterprise_install) = match (team_grant, org_grant) {
            (Some(grant), _) => (grant.bot_user_id.clone(), false),
            (None, Some(grant)) => (grant.bot_user_id.clone(), true),
            (None, None) => ("U0BOT".to_owned(), false),
        };
        drop(state);
        json!({
            "token": "deprecated-verification-token",
            "team_id": team_id,
            "enterprise_id": enterprise_id,
            "api_app_id": self.config.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": fresh_event_id(),
            "event_time": crate::unix_now(),
            "authorizations": [{
                "enterprise_id": enterprise_id, "team_id": team_id, "user_id": bot_user_id,
                "is_bot": true, "is_enterprise_install": is_enterprise_install,
            }],
            "is_ext_shared_channel": false,
        })
    }

    /// POSTs a signed `event_callback` carrying `event` to the events URL, as Slack does;
    /// returns the HTTP status the app answered. The envelope is kept for
    /// [`SlackSandbox::events_sent`] and [`SlackSandbox::resend_event`].
    pub async fn send_event(&self, team_id: &str, event: Value) -> Result<u16, DeliveryError> {
        self.send_event_with_id(team_id, event).await.1
    }

    /// [`SlackSandbox::send_event`], also answering the envelope's `event_id`.
    async fn send_event_with_id(
        &self,
        team_id: &str,
        event: Value,
    ) -> (String, Result<u16, DeliveryError>) {
        let envelope = self.event_callback(team_id, event);
        let event_id = envelope["event_id"].as_str().unwrap_or_default().to_owned();
        let outcome = self.deliver_logged(team_id, envelope, None).await;
        (
            event_id,
            outcome.map(|sent| sent.status.unwrap_or_default()),
        )
    }

    /// Sends an envelope delivered before again, as Slack does when the app was slow or
    /// failed: the same `event_id`, signed afresh, with `x-slack-retry-num` (one more than
    /// the last retry of it) and `x-slack-retry-reason: http_timeout`. With `new_event_id`,
    /// the same event under a fresh `event_id` and no retry headers, as Slack sometimes sends
    /// one message twice. Answers the delivery as logged.
    pub async fn resend_event(
        &self,
        event_id: &str,
        new_event_id: bool,
    ) -> Result<SentEvent, SandboxError> {
        let (team_id, mut body, retries) = {
            let state = self.state();
            let original = state
                .events_sent
                .iter()
                .rev()
                .find(|e| e.event_id == event_id)
                .ok_or_else(|| SandboxError::NoEvent(event_id.into()))?;
            let retries = state
                .events_sent
                .iter()
                .filter(|e| e.event_id == event_id)
                .filter_map(|e| e.retry_num)
                .max()
                .unwrap_or(0);
            (original.team_id.clone(), original.body.clone(), retries)
        };
        let retry = if new_event_id {
            body["event_id"] = json!(fresh_event_id());
            body["event_time"] = json!(crate::unix_now());
            None
        } else {
            Some(retries + 1)
        };
        Ok(self.deliver_logged(&team_id, body, retry).await?)
    }

    /// POSTs an envelope to the events URL, signed now (with Slack's retry headers for a
    /// `retry`), and keeps it with the app's answer in the log of the last 50.
    pub(super) async fn deliver_logged(
        &self,
        team_id: &str,
        envelope: Value,
        retry: Option<u32>,
    ) -> Result<SentEvent, DeliveryError> {
        let url = self
            .events_url()
            .ok_or(DeliveryError::NotConfigured("events_url"))?;
        let headers: Vec<(&str, String)> = match retry {
            Some(num) => vec![
                ("x-slack-retry-num", num.to_string()),
                ("x-slack-retry-reason", "http_timeout".to_owned()),
            ],
            None => Vec::new(),
        };
        let outcome = self
            .deliver_with_headers(&url, "application/json", envelope.to_string(), &headers)
            .await;
        let event = &envelope["event"];
        let text = |value: &Value| value.as_str().map(str::to_owned);
        let sent = SentEvent {
            event_id: text(&envelope["event_id"]).unwrap_or_default(),
            team_id: team_id.to_owned(),
            event_type: text(&event["type"]).unwrap_or_default(),
            subtype: text(&event["subtype"]),
            status: outcome.as_ref().ok().copied(),
            error: outcome.as_ref().err().cloned(),
            retry_num: retry,
            at_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or_default(),
            body: envelope,
        };
        {
            let mut state = self.state();
            state.events_sent.push_back(sent.clone());
            while state.events_sent.len() > EVENTS_KEPT {
                state.events_sent.pop_front();
            }
        }
        self.changed();
        match outcome {
            Ok(_) => Ok(sent),
            Err(reason) => Err(DeliveryError::Unreachable { url, reason }),
        }
    }

    /// Like `deliver`, but also returns the answer's body (modal submits need it).
    async fn deliver_reading(
        &self,
        url: &str,
        content_type: &str,
        body: String,
    ) -> Result<(u16, String), DeliveryError> {
        let unreachable = |reason: String| DeliveryError::Unreachable {
            url: url.to_owned(),
            reason,
        };
        let (timestamp, signature) = self.sign(&body);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .build()
            .map_err(|e| unreachable(e.to_string()))?;
        let answer = client
            .post(url)
            .header("content-type", content_type)
            .header("x-slack-request-timestamp", timestamp)
            .header("x-slack-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| unreachable(e.without_url().to_string()))?;
        let status = answer.status().as_u16();
        let text = answer
            .text()
            .await
            .map_err(|e| unreachable(e.without_url().to_string()))?;
        Ok((status, text))
    }
}

/// `Ev…`, like Slack's event ids.
fn fresh_event_id() -> String {
    format!("Ev{}", random_hex(5).to_uppercase())
}

pub(super) fn router(sandbox: Arc<SlackSandbox>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/_sandbox/ui/app.js", get(script))
        // No icon, and no 404 in the browser console either.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/_sandbox/ui/state", get(state))
        .route("/_sandbox/ui/events", get(events))
        .route("/_sandbox/ui/click", post(click))
        .route("/_sandbox/ui/home", post(home_opened))
        .route("/_sandbox/ui/home-click", post(home_click))
        .route("/archives/{channel}/{message}", get(permalink))
        .route("/_sandbox/ui/reply", post(reply))
        .route("/_sandbox/ui/edit", post(edit))
        .route("/_sandbox/ui/delete", post(delete))
        .route("/_sandbox/channels/{id}/invite-app", post(invite_app))
        .route("/_sandbox/events-sent", get(events_sent))
        .route("/_sandbox/events-sent/{event_id}/resend", post(resend))
        .route("/_sandbox/ui/uninstall", post(uninstall))
        .route("/_sandbox/ui/submit", post(submit))
        .route("/_sandbox/ui/close", post(close))
        .route("/_sandbox/users", post(add_user))
        .route("/_sandbox/users/{id}", post(change_user))
        .with_state(sandbox)
}

type Shared = AxumState<Arc<SlackSandbox>>;

/// An error answer: `{"error": "…"}` with a status.
struct Problem(StatusCode, String);

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

impl From<DeliveryError> for Problem {
    fn from(error: DeliveryError) -> Self {
        // A failed delivery is the app's trouble, not the request's: 409 or 502, not 400.
        let status = match error {
            DeliveryError::NotConfigured(_) => StatusCode::CONFLICT,
            DeliveryError::Unreachable { .. } => StatusCode::BAD_GATEWAY,
        };
        Problem(status, error.to_string())
    }
}

fn bad_request(message: impl Into<String>) -> Problem {
    Problem(StatusCode::BAD_REQUEST, message.into())
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    serde_json::from_slice(body).map_err(|e| bad_request(format!("invalid JSON body: {e}")))
}

// ---------------------------------------------------------------------------------------------
// What the page shows: a selection, read under the lock, rendered outside it.

/// `?team=…&channel=…&user=…`; anything missing defaults to the first one.
#[derive(Debug, Default, Deserialize)]
struct Selector {
    team: Option<String>,
    channel: Option<String>,
    user: Option<String>,
    /// `?as=U…`: "act as", the name a host's redirect uses to hand the person back (the
    /// request form posts it as the field `as`); it wins over `user`.
    #[serde(rename = "as")]
    act_as: Option<String>,
    /// `?tab=home`: the app's Home tab instead of a conversation.
    tab: Option<String>,
    /// `?ts=…`: a message to highlight and scroll to (where a permalink leads).
    ts: Option<String>,
}

struct Snapshot {
    version: u64,
    workspaces: Vec<Workspace>,
    workspace: Workspace,
    channel: Option<Channel>,
    user: Option<User>,
    messages: Vec<Message>,
    views: Vec<OpenView>,
    interactivity_url: Option<String>,
    events_url: Option<String>,
    /// The installed app's name (`SandboxConfig::app_name`), for DM labels and authors.
    app_name: String,
    /// The app's bot user in this workspace: its messages are signed with the app's name.
    app_bot: String,
    /// `SandboxConfig::home_tab_enabled`: the sidebar offers the app's Home tab.
    home_enabled: bool,
    /// The Home tab is showing, for `user`.
    home_selected: bool,
    /// `user`'s published Home view in this workspace.
    home_view: Option<Value>,
    /// The message a permalink led to.
    highlight: Option<String>,
    /// The "Run reminders at…" control is shown (`SandboxConfig::reminders_url` is set).
    reminders: bool,
    /// The envelopes delivered lately, oldest first (the "Events sent" panel).
    events_sent: Vec<SentEvent>,
}

fn snapshot(sandbox: &SlackSandbox, selector: &Selector) -> Result<Snapshot, String> {
    // Read the version first: a change racing with this read makes the next poll return at once.
    let version = *sandbox.version.borrow();
    let interactivity_url = sandbox.interactivity_url();
    let events_url = sandbox.events_url();
    let state = sandbox.state();
    let given = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
    let workspace = match given(&selector.team) {
        Some(team) => state
            .workspaces
            .iter()
            .find(|w| w.team_id == team)
            .ok_or_else(|| format!("there is no workspace {team} in the sandbox"))?,
        None => state
            .workspaces
            .first()
            .ok_or("the sandbox has no workspaces yet")?,
    }
    .clone();
    let channel = match given(&selector.channel) {
        Some(id) => Some(
            workspace
                .channels
                .iter()
                .find(|c| c.id == id)
                .ok_or_else(|| format!("there is no channel {id} in {}", workspace.name))?
                .clone(),
        ),
        None => workspace
            .channels
            .iter()
            .find(|c| c.dm_user.is_none())
            .or(workspace.channels.first())
            .cloned(),
    };
    let user = match given(&selector.act_as).or_else(|| given(&selector.user)) {
        Some(id) => Some(
            workspace
                .users
                .iter()
                .find(|u| u.id == id)
                .ok_or_else(|| format!("there is no user {id} in {}", workspace.name))?
                .clone(),
        ),
        // In a DM, act as its person by default; elsewhere as the first active person.
        None => channel
            .as_ref()
            .and_then(|c| c.dm_user.as_deref())
            .and_then(|id| workspace.users.iter().find(|u| u.id == id))
            .filter(|u| u.is_active_person())
            .or_else(|| workspace.users.iter().find(|u| u.is_active_person()))
            .or(workspace.users.first())
            .cloned(),
    };
    let app_bot = app_bot_user(&state, &workspace);
    let messages = match &channel {
        Some(channel) => state
            .messages
            .iter()
            .filter(|m| m.channel == channel.id)
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    let home_enabled = sandbox.config.home_tab_enabled;
    let home_selected = home_enabled && given(&selector.tab).as_deref() == Some("home");
    let home_view = user.as_ref().and_then(|u| {
        state
            .home_views
            .get(&(workspace.team_id.clone(), u.id.clone()))
            .cloned()
    });
    let views = match &user {
        Some(user) => state
            .ui
            .views
            .iter()
            .filter(|v| v.user == user.id)
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    Ok(Snapshot {
        version,
        workspaces: state.workspaces.clone(),
        workspace,
        channel,
        user,
        messages,
        views,
        interactivity_url,
        events_url,
        app_name: sandbox.config.app_name.clone(),
        app_bot,
        home_enabled,
        home_selected,
        home_view,
        highlight: given(&selector.ts),
        reminders: sandbox.config.reminders_url.is_some(),
        events_sent: state.events_sent.iter().cloned().collect(),
    })
}

/// Who is who in a workspace, for mentions and authors.
#[derive(Debug, Default)]
pub(super) struct Names {
    /// id → (handle, real name)
    users: HashMap<String, (String, String)>,
    /// Bot users: their messages carry the APP badge.
    bots: HashSet<String>,
    channels: HashMap<String, String>,
    /// The app's bot user and the app's name, which Slack shows as the author of its messages.
    app_bot: String,
    app_name: String,
}

impl Names {
    fn of(workspace: &Workspace, app_bot: &str, app_name: &str) -> Self {
        Self {
            app_bot: app_bot.into(),
            app_name: app_name.into(),
            users: workspace
                .users
                .iter()
                .map(|u| (u.id.clone(), (u.name.clone(), u.real_name.clone())))
                .collect(),
            bots: workspace
                .users
                .iter()
                .filter(|u| u.is_bot)
                .map(|u| u.id.clone())
                .collect(),
            channels: workspace
                .channels
                .iter()
                .map(|c| (c.id.clone(), c.name.clone()))
                .collect(),
        }
    }

    fn handle<'a>(&'a self, id: &'a str) -> Option<&'a str> {
        self.users.get(id).map(|(handle, _)| handle.as_str())
    }

    fn author(&self, id: &str) -> String {
        if id == self.app_bot || id.starts_with("U0BOT") || id.starts_with('B') {
            return self.app_name.clone();
        }
        match self.users.get(id) {
            Some((_, real_name)) => real_name.clone(),
            None => id.into(),
        }
    }
}

/// A rendered piece of the page with a hash the script compares before replacing it.
#[derive(Debug, Serialize)]
struct Fragment {
    key: String,
    rev: String,
    html: String,
}

impl Fragment {
    fn new(key: impl Into<String>, html: String) -> Self {
        Self {
            key: key.into(),
            rev: fnv_hex(&html),
            html,
        }
    }
}

struct Rendered {
    workspace_options: Fragment,
    user_options: Fragment,
    sidebar: Fragment,
    entries: Vec<Fragment>,
    /// Whether the app is in the conversation shown, with the "Invite the app" button.
    channel_status: Fragment,
    /// The @-picker's people (`li.mention-option`).
    mentions: Fragment,
    /// The "Events sent" panel's list, with its resend buttons.
    events_sent: Fragment,
    views: Fragment,
    /// The acting person's Home tab (their published view, or an empty Home).
    home: Fragment,
    channel_label: String,
}

fn render(snapshot: &Snapshot) -> Rendered {
    let names = Names::of(&snapshot.workspace, &snapshot.app_bot, &snapshot.app_name);
    let user_id = snapshot.user.as_ref().map(|u| u.id.as_str());
    let conversation_label = snapshot
        .channel
        .as_ref()
        .map(|c| channel_label(c, &names, &snapshot.app_name))
        .unwrap_or_else(|| "No channel".into());
    let visible = visible_messages(&snapshot.messages, user_id);
    let mut entries = timeline_as(&visible, &names, snapshot.highlight.as_deref(), user_id);
    if entries.is_empty() {
        entries.push(Fragment::new(
            "empty",
            format!(
                "<p class=\"empty\">No messages in {} yet.</p>",
                escape(&conversation_label)
            ),
        ));
    }
    let channel_label = if snapshot.home_selected {
        format!("{} · Home", snapshot.app_name)
    } else {
        conversation_label
    };
    Rendered {
        workspace_options: Fragment::new("workspaces", workspace_options(snapshot)),
        user_options: Fragment::new("users", user_options(snapshot)),
        sidebar: Fragment::new("sidebar", sidebar(snapshot, &names)),
        entries,
        channel_status: Fragment::new("channel_status", channel_status(snapshot)),
        mentions: Fragment::new("mentions", mention_options(&snapshot.workspace)),
        events_sent: Fragment::new("events_sent", events_sent_list(&snapshot.events_sent)),
        views: Fragment::new(
            "views",
            snapshot
                .views
                .last()
                .map(|view| render_view(view, &names))
                .unwrap_or_default(),
        ),
        home: Fragment::new("home", render_home(snapshot, &names)),
        channel_label,
    }
}

/// The Home tab: the acting person's published view, drawn with live buttons, or, before the
/// app publishes one, an empty Home (Slack shows an empty tab; its exact wording is not
/// documented, so this one says what is missing).
fn render_home(snapshot: &Snapshot, names: &Names) -> String {
    let Some(view) = &snapshot.home_view else {
        return format!(
            "<div class=\"home-empty\"><p><strong>{}</strong> has not published a Home tab for \
             you yet.</p><p class=\"help\">Apps publish one with <code>views.publish</code>, \
             usually when they get <code>app_home_opened</code>.</p></div>",
            escape(&snapshot.app_name)
        );
    };
    let id = view["id"].as_str().unwrap_or_default();
    format!(
        "<div class=\"home\" data-view-id=\"{}\" data-hash=\"{}\">{}</div>",
        escape(id),
        escape(view["hash"].as_str().unwrap_or_default()),
        render_blocks(&view["blocks"], names, Surface::Home(id))
    )
}

fn channel_label(channel: &Channel, names: &Names, app_name: &str) -> String {
    match &channel.dm_user {
        Some(user) => format!(
            "Direct messages: {app_name} (app) and @{}",
            names.handle(user).unwrap_or(user)
        ),
        None if channel.is_private => format!("🔒{}", channel.name),
        None => format!("#{}", channel.name),
    }
}

/// Whether the app's bot is in the conversation shown: Slack sends the app message events
/// (replies, edits, deletes) only from conversations it is in. Outside one, an "Invite the
/// app" button (`#invite-app`) does what `/invite @app` does.
fn channel_status(snapshot: &Snapshot) -> String {
    let Some(channel) = snapshot
        .channel
        .as_ref()
        .filter(|_| !snapshot.home_selected)
    else {
        return String::new();
    };
    if channel.is_dm() {
        return "<span class=\"app-in\">The app is in its DMs: replies here reach it.</span>"
            .into();
    }
    let kind = if channel.is_private {
        "private"
    } else {
        "public"
    };
    if channel.has_bot(&snapshot.app_bot) {
        return format!(
            "<span class=\"app-in\">The app is in this {kind} channel: replies, edits and deletes reach it.</span>"
        );
    }
    format!(
        "<span class=\"app-out\">The app is not in this {kind} channel: Slack sends it no message events from here.</span> \
         <button type=\"button\" id=\"invite-app\" class=\"bk-button\" data-channel=\"{}\">Invite the app</button>",
        escape(&channel.id)
    )
}

/// The @-picker's list: the workspace's active people, each inserted as `@handle` and sent as
/// `<@U…>`.
fn mention_options(workspace: &Workspace) -> String {
    workspace
        .users
        .iter()
        .filter(|u| u.is_active_person())
        .map(|u| {
            format!(
                "<li class=\"mention-option\" role=\"option\" id=\"mention-{id}\" data-user=\"{id}\" \
                 data-name=\"{name}\" data-real-name=\"{real}\" aria-selected=\"false\">{real} \
                 <span class=\"handle\">@{name}</span></li>",
                id = escape(&u.id),
                name = escape(&u.name),
                real = escape(&u.real_name),
            )
        })
        .collect()
}

/// The "Events sent" list, newest first, each with its two resend buttons.
fn events_sent_list(sent: &[SentEvent]) -> String {
    if sent.is_empty() {
        return "<li class=\"none\">None yet</li>".into();
    }
    sent.iter()
        .rev()
        .take(15)
        .map(|event| {
            let kind = match &event.subtype {
                Some(subtype) => format!("{}/{subtype}", event.event_type),
                None => event.event_type.clone(),
            };
            let outcome = match (event.status, &event.error) {
                (Some(status), _) => format!("HTTP {status}"),
                (None, Some(error)) => format!("not delivered: {error}"),
                (None, None) => "not delivered".into(),
            };
            let retry = event
                .retry_num
                .map(|n| format!(" · retry {n}"))
                .unwrap_or_default();
            let id = escape(&event.event_id);
            format!(
                "<li class=\"event-sent\" data-event-id=\"{id}\"><code>{id}</code> {} · {}{retry}\
                 <span class=\"row\"><button type=\"button\" class=\"resend-same\" data-event-id=\"{id}\">Resend (same id)</button>\
                 <button type=\"button\" class=\"resend-new\" data-event-id=\"{id}\">Resend (new id)</button></span></li>",
                escape(&kind),
                escape(&outcome)
            )
        })
        .collect()
}

fn workspace_options(snapshot: &Snapshot) -> String {
    snapshot
        .workspaces
        .iter()
        .map(|w| {
            format!(
                "<option value=\"{}\"{}>{} ({})</option>",
                escape(&w.team_id),
                selected(w.team_id == snapshot.workspace.team_id),
                escape(&w.name),
                escape(&w.team_id)
            )
        })
        .collect()
}

/// People one can act as: active, not bots, not Slackbot. A current selection outside that
/// (e.g. `?user=U0GONE`) stays listed, marked.
fn user_options(snapshot: &Snapshot) -> String {
    let current = snapshot.user.as_ref().map(|u| u.id.as_str());
    snapshot
        .workspace
        .users
        .iter()
        .filter(|u| u.is_active_person() || Some(u.id.as_str()) == current)
        .map(|u| {
            let mark = if u.deleted {
                " (deactivated)".to_owned()
            } else if u.is_bot || u.id == super::SLACKBOT {
                " (bot)".to_owned()
            } else if let Some(home) = &u.team_id {
                format!(" (external, {home})")
            } else if u.is_restricted {
                " (guest)".to_owned()
            } else {
                String::new()
            };
            format!(
                "<option value=\"{}\"{}>{} (@{}){}</option>",
                escape(&u.id),
                selected(Some(u.id.as_str()) == current),
                escape(&u.real_name),
                escape(&u.name),
                escape(&mark)
            )
        })
        .collect()
}

fn selected(yes: bool) -> &'static str {
    if yes {
        " selected"
    } else {
        ""
    }
}

fn sidebar(snapshot: &Snapshot, names: &Names) -> String {
    let current = snapshot
        .channel
        .as_ref()
        .filter(|_| !snapshot.home_selected)
        .map(|c| c.id.as_str());
    let acting = snapshot.user.as_ref().map(|u| u.id.as_str());
    // `act_as`: open the conversation as this person (another person's DM opens as them).
    let link_as = |c: &Channel, label: String, act_as: Option<&str>| {
        let here = Some(c.id.as_str()) == current;
        let (user_query, data_user) = match act_as {
            Some(id) if Some(id) != acting => (
                format!("&amp;user={}", escape(id)),
                format!(" data-user=\"{}\"", escape(id)),
            ),
            _ => (
                acting
                    .map(|id| format!("&amp;user={}", escape(id)))
                    .unwrap_or_default(),
                String::new(),
            ),
        };
        format!(
            "<li><a href=\"/?team={}&amp;channel={}{user_query}\" data-channel=\"{}\"{data_user}{}>{}</a></li>",
            escape(&snapshot.workspace.team_id),
            escape(&c.id),
            escape(&c.id),
            if here { " aria-current=\"page\"" } else { "" },
            escape(&label)
        )
    };
    let link = |c: &Channel, label: String| link_as(c, label, None);
    let (dms, channels): (Vec<&Channel>, Vec<&Channel>) = snapshot
        .workspace
        .channels
        .iter()
        .partition(|c| c.dm_user.is_some());
    let mut out = String::from("<h2 id=\"channels-heading\">Channels</h2>");
    out.push_str("<ul class=\"conversations\" aria-labelledby=\"channels-heading\">");
    for c in &channels {
        let label = if c.is_private {
            format!("🔒{} (private)", c.name)
        } else {
            format!("#{}", c.name)
        };
        out.push_str(&link(c, label));
    }
    if channels.is_empty() {
        out.push_str("<li>None</li>");
    }
    // As in Slack, the acting person's DMs with the app are theirs; the sandbox also lists
    // everyone else's, apart, so a tester can look in.
    let dm_label = |c: &Channel| {
        let user = c.dm_user.as_deref().unwrap_or_default();
        let person = names
            .users
            .get(user)
            .map(|(handle, real_name)| format!("{real_name} (@{handle})"))
            .unwrap_or_else(|| user.to_owned());
        format!("{} (app) ↔ {person}", snapshot.app_name)
    };
    let (own, others): (Vec<&Channel>, Vec<&Channel>) = dms
        .into_iter()
        .partition(|c| acting.is_some() && c.dm_user.as_deref() == acting);
    out.push_str("</ul><h2 id=\"dms-heading\">Direct messages</h2>");
    out.push_str("<ul class=\"conversations\" aria-labelledby=\"dms-heading\">");
    for c in &own {
        out.push_str(&link(c, dm_label(c)));
    }
    if own.is_empty() {
        out.push_str("<li>None yet</li>");
    }
    out.push_str("</ul>");
    if snapshot.home_enabled {
        // As in Slack's sidebar, the app sits under Apps; its Home tab is the acting person's.
        let _ = write!(
            out,
            "<h2 id=\"apps-heading\">Apps</h2>\
             <ul class=\"conversations\" aria-labelledby=\"apps-heading\"><li>\
             <a id=\"home-tab\" href=\"/?team={}&amp;tab=home{}\" data-tab=\"home\"{}>{} · Home</a>\
             </li></ul>",
            escape(&snapshot.workspace.team_id),
            acting
                .map(|id| format!("&amp;user={}", escape(id)))
                .unwrap_or_default(),
            if snapshot.home_selected {
                " aria-current=\"page\""
            } else {
                ""
            },
            escape(&snapshot.app_name)
        );
    }
    if !others.is_empty() {
        out.push_str(
            "<h2 id=\"other-dms-heading\">Other people’s DMs</h2>\
             <p class=\"help\">Shown by the sandbox only; in Slack each person sees their own. \
             Opening one acts as its person.</p>\
             <ul class=\"conversations\" aria-labelledby=\"other-dms-heading\">",
        );
        for c in &others {
            out.push_str(&link_as(c, dm_label(c), c.dm_user.as_deref()));
        }
        out.push_str("</ul>");
    }
    let target = |url: &Option<String>| match url {
        Some(url) => format!("<code>{}</code>", escape(url)),
        None => "<em>not configured</em>".into(),
    };
    let _ = write!(
        out,
        "<h2 id=\"app-heading\">Your app</h2><dl class=\"targets\"><dt>Interactivity URL</dt><dd>{}</dd>\
         <dt>Events URL</dt><dd>{}</dd></dl>",
        target(&snapshot.interactivity_url),
        target(&snapshot.events_url)
    );
    out
}

/// Messages `user` may see: everything but other people's ephemeral notes.
pub(super) fn visible_messages<'a>(
    messages: &'a [Message],
    user: Option<&str>,
) -> Vec<&'a Message> {
    messages
        .iter()
        .filter(|m| m.ephemeral_for.is_none() || m.ephemeral_for.as_deref() == user)
        .collect()
}

/// One entry per top-level message, its thread replies under it; `highlight` marks the message
/// a permalink led to.
#[cfg(test)]
fn timeline(messages: &[&Message], names: &Names, highlight: Option<&str>) -> Vec<Fragment> {
    timeline_as(messages, names, highlight, None)
}

/// [`timeline`] as `acting` sees it: their own messages get Edit and Delete.
fn timeline_as(
    messages: &[&Message],
    names: &Names,
    highlight: Option<&str>,
    acting: Option<&str>,
) -> Vec<Fragment> {
    let marked = |m: &Message| highlight == Some(m.ts.as_str());
    let is_reply = |m: &Message| {
        m.thread_ts
            .as_ref()
            .is_some_and(|parent| parent != &m.ts && messages.iter().any(|p| &p.ts == parent))
    };
    messages
        .iter()
        .filter(|m| !is_reply(m))
        .map(|top| {
            let replies: Vec<&&Message> = messages
                .iter()
                .filter(|m| is_reply(m) && m.thread_ts.as_deref() == Some(top.ts.as_str()))
                .collect();
            let mut html = render_message_as(top, names, false, marked(top), acting);
            if !replies.is_empty() {
                let _ = write!(
                    html,
                    "<ol class=\"thread\" aria-label=\"{} {} in thread\">",
                    replies.len(),
                    if replies.len() == 1 {
                        "reply"
                    } else {
                        "replies"
                    }
                );
                for reply in replies {
                    let _ = write!(
                        html,
                        "<li>{}</li>",
                        render_message_as(reply, names, true, marked(reply), acting)
                    );
                }
                html.push_str("</ol>");
            }
            Fragment::new(top.ts.clone(), html)
        })
        .collect()
}

#[cfg(test)]
fn render_message(message: &Message, names: &Names, is_reply: bool, highlighted: bool) -> String {
    render_message_as(message, names, is_reply, highlighted, None)
}

/// A message as `acting` sees it: a person's own messages get Edit (`.edit-reply`) and Delete
/// (`.delete-reply`); shared files show their title, size and a download link, and PDFs a
/// preview (`.file-preview`).
fn render_message_as(
    message: &Message,
    names: &Names,
    is_reply: bool,
    highlighted: bool,
    acting: Option<&str>,
) -> String {
    let author = message
        .username
        .clone()
        .unwrap_or_else(|| names.author(&message.user));
    let is_person = names.users.contains_key(&message.user) && !names.bots.contains(&message.user);
    let badge = if is_person && message.username.is_none() {
        ""
    } else {
        " <span class=\"badge\">APP</span>"
    };
    let epoch = message
        .ts
        .split('.')
        .next()
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or_default();
    let mut classes = String::from("message");
    if is_reply {
        classes.push_str(" reply");
    }
    if message.ephemeral_for.is_some() {
        classes.push_str(" ephemeral");
    }
    if highlighted {
        classes.push_str(" highlighted");
    }
    let mut html = format!(
        "<article class=\"{classes}\" data-ts=\"{ts}\" data-channel=\"{channel}\"{thread}>\
         <p class=\"meta\"><span class=\"author\">{author}</span>{badge} \
         <time class=\"slack-date\" data-epoch=\"{epoch}\" data-format=\"{{time}}\">{time}</time>{edited}</p>",
        ts = escape(&message.ts),
        channel = escape(&message.channel),
        thread = message
            .thread_ts
            .as_ref()
            .map(|t| format!(" data-thread-ts=\"{}\"", escape(t)))
            .unwrap_or_default(),
        author = escape(&author),
        time = utc_time_of_day(epoch),
        edited = if message.edits > 0 {
            " <span class=\"edited\">(edited)</span>"
        } else {
            ""
        },
    );
    if highlighted {
        html.push_str("<p class=\"linked-note\">Linked message</p>");
    }
    if message.ephemeral_for.is_some() {
        html.push_str("<p class=\"ephemeral-note\">Only visible to you</p>");
    }
    html.push_str("<div class=\"blocks\">");
    match message.blocks.as_array().filter(|b| !b.is_empty()) {
        Some(_) => html.push_str(&render_blocks(&message.blocks, names, Surface::Message)),
        None if message.text.is_empty() && !message.files.is_empty() => {}
        None => {
            let _ = write!(
                html,
                "<div class=\"bk-text\">{}</div>",
                mrkdwn(&message.text, names)
            );
        }
    }
    html.push_str("</div>");
    for file in &message.files {
        html.push_str(&render_file(file));
    }
    if is_person && message.ephemeral_for.is_none() && acting == Some(message.user.as_str()) {
        let _ = write!(
            html,
            "<span class=\"own-controls\"><button type=\"button\" class=\"edit-reply\" data-ts=\"{ts}\" \
             data-channel=\"{channel}\" data-text=\"{text}\">Edit</button> \
             <button type=\"button\" class=\"delete-reply\" data-ts=\"{ts}\" data-channel=\"{channel}\">Delete</button></span> ",
            ts = escape(&message.ts),
            channel = escape(&message.channel),
            text = escape(&message.text),
        );
    }
    if message.ephemeral_for.is_none() {
        let root = message.thread_ts.as_deref().unwrap_or(&message.ts);
        let _ = write!(
            html,
            "<button type=\"button\" class=\"reply-button\" data-reply-to=\"{}\" \
             aria-label=\"Reply in thread to {}’s message\">Reply in thread</button>",
            escape(root),
            escape(&author)
        );
    }
    html.push_str("</article>");
    html
}

/// A shared file: title (a link to `url_private`), size and type, a download link, and for a
/// PDF an inline preview.
fn render_file(file: &super::SharedFile) -> String {
    let url = if is_safe_url(&file.url_private) {
        escape(&file.url_private)
    } else {
        String::new()
    };
    let preview = if file.mimetype == "application/pdf" && !url.is_empty() {
        format!(
            "<iframe class=\"file-preview\" src=\"{url}\" title=\"Preview of {}\" loading=\"lazy\"></iframe>",
            escape(&file.title)
        )
    } else {
        String::new()
    };
    format!(
        "<div class=\"file\" data-file-id=\"{id}\"><p class=\"file-meta\"><span aria-hidden=\"true\">📄</span> \
         <a class=\"file-title\" href=\"{url}\" target=\"_blank\" rel=\"noopener\">{title}</a> \
         <span class=\"file-size\">{size} · {mimetype}</span> \
         <a class=\"file-download\" href=\"{url}\" download=\"{name}\">Download</a></p>{preview}</div>",
        id = escape(&file.id),
        title = escape(&file.title),
        size = human_size(file.size),
        mimetype = escape(&file.mimetype),
        name = escape(&file.name),
    )
}

fn human_size(bytes: usize) -> String {
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.1} kB", bytes as f64 / 1_000.0),
        _ => format!("{:.1} MB", bytes as f64 / 1_000_000.0),
    }
}

fn utc_time_of_day(epoch: i64) -> String {
    let seconds = epoch.rem_euclid(86_400);
    format!("{:02}:{:02} UTC", seconds / 3600, seconds % 3600 / 60)
}

// ---------------------------------------------------------------------------------------------
// Block Kit → HTML.

/// Where blocks are drawn. Inputs in a view take their ids from the view's id; buttons in a
/// modal are drawn but not live (they would need view-scoped `block_actions` the page does not
/// send); buttons in messages and in the Home tab are.
#[derive(Debug, Clone, Copy)]
pub(super) enum Surface<'a> {
    Message,
    Modal(&'a str),
    Home(&'a str),
}

impl Surface<'_> {
    fn view_id(&self) -> Option<&str> {
        match self {
            Surface::Message => None,
            Surface::Modal(id) | Surface::Home(id) => Some(id),
        }
    }
}

/// Renders message, modal or Home tab blocks.
pub(super) fn render_blocks(blocks: &Value, names: &Names, surface: Surface) -> String {
    blocks
        .as_array()
        .map(|blocks| {
            blocks
                .iter()
                .enumerate()
                .map(|(index, block)| render_block(block, index, names, surface))
                .collect()
        })
        .unwrap_or_default()
}

fn render_block(block: &Value, index: usize, names: &Names, surface: Surface) -> String {
    let block_id = block["block_id"].as_str().unwrap_or_default();
    match block["type"].as_str().unwrap_or_default() {
        "header" => format!(
            "<h3 class=\"bk-header\">{}</h3>",
            text_object(&block["text"], names)
        ),
        "section" => {
            let mut html =
                String::from("<div class=\"bk-section\"><div class=\"bk-section-body\">");
            if block["text"].is_object() {
                let _ = write!(
                    html,
                    "<div class=\"bk-text\">{}</div>",
                    text_object(&block["text"], names)
                );
            }
            if let Some(fields) = block["fields"].as_array() {
                html.push_str("<div class=\"bk-fields\">");
                for field in fields {
                    let _ = write!(
                        html,
                        "<div class=\"bk-field\">{}</div>",
                        text_object(field, names)
                    );
                }
                html.push_str("</div>");
            }
            html.push_str("</div>");
            if block["accessory"].is_object() {
                let _ = write!(
                    html,
                    "<div class=\"bk-accessory\">{}</div>",
                    render_element(&block["accessory"], block_id, names, surface)
                );
            }
            html.push_str("</div>");
            html
        }
        "context" => {
            let elements: String = block["elements"]
                .as_array()
                .map(|elements| {
                    elements
                        .iter()
                        .map(|element| match element["type"].as_str() {
                            Some("image") => image(element, "bk-context-image"),
                            _ => format!("<span>{}</span>", text_object(element, names)),
                        })
                        .collect()
                })
                .unwrap_or_default();
            format!("<div class=\"bk-context\">{elements}</div>")
        }
        "divider" => "<hr class=\"bk-divider\">".into(),
        "image" => {
            let caption = if block["title"].is_object() {
                format!(
                    "<figcaption>{}</figcaption>",
                    text_object(&block["title"], names)
                )
            } else {
                String::new()
            };
            format!(
                "<figure class=\"bk-image\">{caption}{}</figure>",
                image(block, "")
            )
        }
        "actions" => {
            let elements: String = block["elements"]
                .as_array()
                .map(|elements| {
                    elements
                        .iter()
                        .map(|e| render_element(e, block_id, names, surface))
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "<div class=\"bk-actions\" role=\"group\" aria-label=\"Actions\">{elements}</div>"
            )
        }
        "input" => render_input(block, index, names, surface),
        other => format!(
            "<p class=\"bk-unsupported\">[a {} block, which the sandbox does not draw]</p>",
            escape(if other.is_empty() { "typeless" } else { other })
        ),
    }
}

fn image(element: &Value, class: &str) -> String {
    let url = element["image_url"].as_str().unwrap_or_default();
    let alt = element["alt_text"].as_str().unwrap_or_default();
    if !is_safe_url(url) {
        return format!(
            "<span class=\"bk-unsupported\">[image: {}]</span>",
            escape(alt)
        );
    }
    format!(
        "<img class=\"{class}\" src=\"{}\" alt=\"{}\" loading=\"lazy\">",
        escape(url),
        escape(alt)
    )
}

fn render_element(element: &Value, block_id: &str, names: &Names, surface: Surface) -> String {
    match element["type"].as_str().unwrap_or_default() {
        "button" => {
            let label = text_object(&element["text"], names);
            let style = match element["style"].as_str() {
                Some("primary") => " primary",
                Some("danger") => " danger",
                _ => "",
            };
            let data = format!(
                " data-action-id=\"{}\" data-block-id=\"{}\"",
                escape(element["action_id"].as_str().unwrap_or_default()),
                escape(block_id)
            );
            match element["url"].as_str().filter(|url| is_safe_url(url)) {
                Some(url) => format!(
                    "<a class=\"bk-button{style}\" href=\"{}\" target=\"_blank\" rel=\"noopener noreferrer\"{data}>\
                     {label}<span class=\"visually-hidden\"> (opens in a new tab)</span></a>",
                    escape(url)
                ),
                // Buttons inside modals would need view-scoped block_actions; not drawn live.
                None if matches!(surface, Surface::Modal(_)) => {
                    format!("<button type=\"button\" class=\"bk-button{style}\" disabled{data}>{label}</button>")
                }
                None => format!("<button type=\"button\" class=\"bk-button{style}\"{data}>{label}</button>"),
            }
        }
        "image" => image(element, "bk-accessory-image"),
        other => format!(
            "<span class=\"bk-unsupported\">[{}]</span>",
            escape(if other.is_empty() { "element" } else { other })
        ),
    }
}

/// The `block_id`/`action_id` Slack would report for an input without explicit ones.
fn input_ids(block: &Value, index: usize) -> (String, String) {
    let block_id = block["block_id"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("block_{index}"));
    let action_id = block["element"]["action_id"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("action_{index}"));
    (block_id, action_id)
}

fn render_input(block: &Value, index: usize, names: &Names, surface: Surface) -> String {
    let (block_id, action_id) = input_ids(block, index);
    let element = &block["element"];
    let field_id = format!(
        "input-{}-{index}",
        surface
            .view_id()
            .unwrap_or("message")
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
    );
    let optional = block["optional"] == json!(true);
    let label = format!(
        "<label for=\"{field_id}\">{}{}</label>",
        text_object(&block["label"], names),
        if optional {
            " <span class=\"optional\">(optional)</span>"
        } else {
            ""
        }
    );
    let hint = if block["hint"].is_object() {
        format!(
            "<p class=\"hint\" id=\"{field_id}-hint\">{}</p>",
            text_object(&block["hint"], names)
        )
    } else {
        String::new()
    };
    let described_by = if hint.is_empty() {
        format!("{field_id}-error")
    } else {
        format!("{field_id}-error {field_id}-hint")
    };
    let control = match element["type"].as_str().unwrap_or_default() {
        "plain_text_input" => {
            let mut attrs = format!(
                " id=\"{field_id}\" name=\"{field_id}\" data-block-id=\"{}\" data-action-id=\"{}\" aria-describedby=\"{described_by}\"",
                escape(&block_id),
                escape(&action_id)
            );
            if !optional {
                attrs.push_str(" required");
            }
            if let Some(max) = element["max_length"].as_u64() {
                let _ = write!(attrs, " maxlength=\"{max}\"");
            }
            if element["placeholder"].is_object() {
                let _ = write!(
                    attrs,
                    " placeholder=\"{}\"",
                    escape(element["placeholder"]["text"].as_str().unwrap_or_default())
                );
            }
            let initial = escape(element["initial_value"].as_str().unwrap_or_default());
            if element["multiline"] == json!(true) {
                format!("<textarea{attrs} rows=\"4\">{initial}</textarea>")
            } else {
                format!("<input type=\"text\"{attrs} value=\"{initial}\">")
            }
        }
        other => format!(
            "<p class=\"bk-unsupported\" id=\"{field_id}\">[a {} input, which the sandbox does not draw]</p>",
            escape(other)
        ),
    };
    format!(
        "<div class=\"bk-input\" data-block-id=\"{bid}\">{label}{control}{hint}\
         <p class=\"field-error\" id=\"{field_id}-error\" data-error-for=\"{bid}\" role=\"alert\" hidden></p></div>",
        bid = escape(&block_id)
    )
}

fn render_view(view: &OpenView, names: &Names) -> String {
    let v = &view.view;
    let id = escape(&view.id);
    let title = if v["title"].is_object() {
        text_object(&v["title"], names)
    } else {
        "Modal".into()
    };
    let has_inputs = v["blocks"]
        .as_array()
        .is_some_and(|blocks| blocks.iter().any(|b| b["type"] == "input"));
    let submit = match v["submit"]["text"].as_str() {
        Some(text) => escape(text),
        None if has_inputs => "Submit".into(),
        None => String::new(),
    };
    let close = escape(v["close"]["text"].as_str().unwrap_or("Cancel"));
    format!(
        "<dialog class=\"view\" data-view-id=\"{id}\" aria-labelledby=\"view-{id}-title\" open>\
         <form class=\"view-form\" data-view-id=\"{id}\" method=\"dialog\">\
         <h2 id=\"view-{id}-title\">{title}</h2>\
         <div class=\"blocks\">{blocks}</div>\
         <p class=\"view-status\" role=\"status\"></p>\
         <div class=\"view-buttons\"><button type=\"button\" class=\"view-close\">{close}</button>{submit}</div>\
         </form></dialog>",
        blocks = render_blocks(&v["blocks"], names, Surface::Modal(&view.id)),
        submit = if submit.is_empty() {
            String::new()
        } else {
            format!("<button type=\"submit\" class=\"bk-button primary\">{submit}</button>")
        },
    )
}

/// A `plain_text` or `mrkdwn` text object as HTML.
fn text_object(object: &Value, names: &Names) -> String {
    let text = object["text"].as_str().unwrap_or_default();
    match object["type"].as_str() {
        Some("mrkdwn") => mrkdwn(text, names),
        _ => escape(&emoji(text)).replace('\n', "<br>"),
    }
}

fn is_safe_url(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with("mailto:")
}

/// Slack's three entities, decoded (the HTML escaping happens afterwards).
fn decode(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn emoji(text: &str) -> String {
    const CODES: [(&str, &str); 10] = [
        (":white_check_mark:", "✅"),
        (":heavy_check_mark:", "✔️"),
        (":x:", "❌"),
        (":warning:", "⚠️"),
        (":hourglass:", "⌛"),
        (":hourglass_flowing_sand:", "⏳"),
        (":tada:", "🎉"),
        (":bell:", "🔔"),
        (":lock:", "🔒"),
        (":eyes:", "👀"),
    ];
    if !text.contains(':') {
        return text.to_owned();
    }
    CODES.iter().fold(text.to_owned(), |text, (code, glyph)| {
        text.replace(code, glyph)
    })
}

enum Piece {
    /// Decoded text, still to be escaped and formatted.
    Text(String),
    /// Finished HTML (a mention, link or date).
    Html(String),
}

/// Slack `mrkdwn` as HTML: `*bold*`, `_italic_`, `~strike~`, `` `code` ``, mentions, links,
/// dates and entities; everything else is escaped text.
pub(super) fn mrkdwn(text: &str, names: &Names) -> String {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        let (before, after) = rest.split_at(start);
        if !before.is_empty() {
            pieces.push(Piece::Text(emoji(&decode(before))));
        }
        let inner_end = after[1..]
            .find(['>', '<', '\n'])
            .filter(|&end| after.as_bytes()[1 + end] == b'>');
        match inner_end {
            Some(end) => {
                pieces.push(token(&after[1..1 + end], names));
                rest = &after[end + 2..];
            }
            None => {
                pieces.push(Piece::Text("<".into()));
                rest = &after[1..];
            }
        }
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(emoji(&decode(rest))));
    }
    format_pieces(&pieces)
}

/// One `<…>` token: a mention, a special mention, a date or a link.
fn token(inner: &str, names: &Names) -> Piece {
    let (target, label) = match inner.split_once('|') {
        Some((target, label)) => (target, Some(label)),
        None => (inner, None),
    };
    let mention = |text: String| {
        Piece::Html(format!(
            "<span class=\"mention\">{}</span>",
            escape(&decode(&text))
        ))
    };
    if let Some(id) = target.strip_prefix('@') {
        let name = names.handle(id).or(label).unwrap_or(id);
        return mention(format!("@{}", name.trim_start_matches('@')));
    }
    if let Some(id) = target.strip_prefix('#') {
        let name = names
            .channels
            .get(id)
            .map(String::as_str)
            .or(label)
            .unwrap_or(id);
        return mention(format!("#{name}"));
    }
    if let Some(command) = target.strip_prefix('!') {
        if let Some(date) = command.strip_prefix("date^") {
            return date_token(date, label);
        }
        return match command {
            "here" | "channel" | "everyone" => mention(format!("@{command}")),
            _ => {
                mention(label.map(str::to_owned).unwrap_or_else(|| {
                    format!("@{}", command.split('^').next().unwrap_or(command))
                }))
            }
        };
    }
    let url = decode(target);
    if is_safe_url(&url) {
        let label = label.map(decode).unwrap_or_else(|| url.clone());
        return Piece::Html(format!(
            "<a href=\"{}\" target=\"_blank\" rel=\"noopener noreferrer\">{}</a>",
            escape(&url),
            escape(&label)
        ));
    }
    Piece::Text(format!("<{}>", decode(inner)))
}

/// `<!date^epoch^format^optional_link|fallback>`: the fallback text in a `<time>` the script
/// formats in the acting user's time zone.
fn date_token(spec: &str, fallback: Option<&str>) -> Piece {
    let mut parts = spec.splitn(3, '^');
    let epoch = parts.next().and_then(|e| e.parse::<i64>().ok());
    let format = parts.next().unwrap_or_default();
    let link = parts.next().map(decode).filter(|l| is_safe_url(l));
    let Some(epoch) = epoch else {
        return Piece::Text(fallback.map(decode).unwrap_or_default());
    };
    let fallback = fallback
        .map(decode)
        .unwrap_or_else(|| format!("{epoch} (Unix time)"));
    let time = format!(
        "<time class=\"slack-date\" data-epoch=\"{epoch}\" data-format=\"{}\">{}</time>",
        escape(&decode(format)),
        escape(&fallback)
    );
    Piece::Html(match link {
        Some(link) => format!(
            "<a href=\"{}\" target=\"_blank\" rel=\"noopener noreferrer\">{time}</a>",
            escape(&link)
        ),
        None => time,
    })
}

enum Unit<'a> {
    Char(char),
    Atom(&'a str),
}

fn format_pieces(pieces: &[Piece]) -> String {
    let units: Vec<Unit> = pieces
        .iter()
        .flat_map(|piece| match piece {
            Piece::Text(text) => text.chars().map(Unit::Char).collect::<Vec<_>>(),
            Piece::Html(html) => vec![Unit::Atom(html)],
        })
        .collect();
    let boundary = |unit: Option<&Unit>| match unit {
        None => true,
        Some(Unit::Char(c)) => c.is_whitespace() || c.is_ascii_punctuation(),
        Some(Unit::Atom(_)) => false,
    };
    let blank = |unit: Option<&Unit>| match unit {
        None => true,
        Some(Unit::Char(c)) => c.is_whitespace(),
        Some(Unit::Atom(_)) => false,
    };
    let tag = |marker: char| match marker {
        '*' => "strong",
        '_' => "em",
        '~' => "del",
        _ => "code",
    };
    let mut opens: HashMap<usize, char> = HashMap::new();
    let mut closes: HashMap<usize, char> = HashMap::new();
    let mut pending: Vec<(usize, char)> = Vec::new();
    for (i, unit) in units.iter().enumerate() {
        let Unit::Char(c) = unit else { continue };
        if *c == '\n' {
            pending.clear();
            continue;
        }
        if !matches!(c, '*' | '_' | '~' | '`') {
            continue;
        }
        let in_code = pending.iter().any(|(_, m)| *m == '`');
        if in_code && *c != '`' {
            continue;
        }
        let previous = i.checked_sub(1).and_then(|p| units.get(p));
        let next = units.get(i + 1);
        if !blank(previous) && boundary(next) {
            if let Some(at) = pending
                .iter()
                .rposition(|(open, m)| m == c && *open + 1 < i)
            {
                let (open, _) = pending[at];
                pending.truncate(at);
                opens.insert(open, *c);
                closes.insert(i, *c);
                continue;
            }
        }
        if boundary(previous) && !blank(next) {
            pending.push((i, *c));
        }
    }
    let mut html = String::new();
    for (i, unit) in units.iter().enumerate() {
        match unit {
            Unit::Atom(atom) => html.push_str(atom),
            Unit::Char(_) if opens.contains_key(&i) => {
                let _ = write!(html, "<{}>", tag(opens[&i]));
            }
            Unit::Char(_) if closes.contains_key(&i) => {
                let _ = write!(html, "</{}>", tag(closes[&i]));
            }
            Unit::Char('\n') => html.push_str("<br>"),
            Unit::Char(c) => push_escaped(&mut html, *c),
        }
    }
    html
}

fn push_escaped(html: &mut String, c: char) {
    match c {
        '&' => html.push_str("&amp;"),
        '<' => html.push_str("&lt;"),
        '>' => html.push_str("&gt;"),
        '"' => html.push_str("&quot;"),
        other => html.push(other),
    }
}

/// FNV-1a, 64 bits, as hex: cheap change detection for fragments.
fn fnv_hex(text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
}

// ---------------------------------------------------------------------------------------------
// Handlers.

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        SCRIPT,
    )
        .into_response()
}

async fn page(AxumState(sandbox): Shared, Query(selector): Query<Selector>) -> Response {
    match snapshot(&sandbox, &selector) {
        Ok(snapshot) => Html(render_page(
            &snapshot,
            &sandbox.config.links,
            sandbox.config.demo_request_url.as_deref(),
        ))
        .into_response(),
        Err(message) => error_page(StatusCode::BAD_REQUEST, &message),
    }
}

fn error_page(status: StatusCode, message: &str) -> Response {
    (
        status,
        Html(format!(
            "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Slack sandbox</title>\
             <body style=\"font-family:system-ui\"><h1>Slack sandbox</h1><p>{}</p>\
             <p><a href=\"/\">Open the first workspace</a></p></body></html>",
            escape(message)
        )),
    )
        .into_response()
}

/// A permalink from `chat.getPermalink` (`/archives/C…/p1764000000000123`, maybe with Slack's
/// `?thread_ts=…&cid=…`): 303 to the page showing that channel with the message highlighted,
/// keeping `?as=` so the person who followed the link stays the one acting.
async fn permalink(
    AxumState(sandbox): Shared,
    Path((channel, message)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let ts = message
        .strip_prefix('p')
        .filter(|digits| digits.len() > 6 && digits.bytes().all(|b| b.is_ascii_digit()))
        .map(|digits| {
            let (seconds, fraction) = digits.split_at(digits.len() - 6);
            format!("{seconds}.{fraction}")
        });
    let Some(ts) = ts else {
        return error_page(
            StatusCode::NOT_FOUND,
            &format!("{message} is not a message in a Slack permalink (p, then the ts digits)"),
        );
    };
    let team = sandbox
        .state()
        .workspaces
        .iter()
        .find(|w| w.channels.iter().any(|c| c.id == channel))
        .map(|w| w.team_id.clone());
    let Some(team) = team else {
        return error_page(
            StatusCode::NOT_FOUND,
            &format!("there is no channel {channel} in the sandbox"),
        );
    };
    let mut target = vec![("team", team), ("channel", channel), ("ts", ts)];
    if let Some(act_as) = query.get("as").filter(|id| !id.is_empty()) {
        target.push(("as", act_as.clone()));
    }
    let location = format!(
        "/?{}",
        serde_urlencoded::to_string(&target).expect("strings encode")
    );
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// The demo's "Request an approval" form: a plain form the dev server's host answers. It
/// carries the acting person as `as` (kept current by the script), so the host can send the
/// browser back with `?as=…` and the page stays that person's. `attach_pdf`, when ticked, asks
/// the host to attach its sample document.
fn request_form(action: &str, acting: &str) -> String {
    format!(
        r#"<h2 id="request-heading">Request an approval</h2>
<form id="request-approval" class="request-form" method="post" action="{}" aria-labelledby="request-heading">
<input type="hidden" id="request-as" name="as" value="{}">
<label for="request-title">Title</label>
<input id="request-title" name="title" value="Deal registration: Initech, $48,000" required>
<label for="request-account">Account</label>
<input id="request-account" name="account" value="Initech">
<label for="request-amount">Deal value</label>
<input id="request-amount" name="amount" value="$48,000">
<label for="request-approvers">Approvers (host user ids; empty: anyone in the channel)</label>
<input id="request-approvers" name="approvers" value="" placeholder="u-ana, u-ben">
<label for="request-requester">Requester (host user id)</label>
<input id="request-requester" name="requester" value="u-pat">
<label for="request-reason">Reject asks for a reason</label>
<select id="request-reason" name="reject_reason">
<option value="required" selected>required</option>
<option value="optional">optional</option>
<option value="none">none</option>
</select>
<label class="check" for="attach-pdf"><input type="checkbox" id="attach-pdf" name="attach_pdf" value="yes"> Attach the sample PDF</label>
<button type="submit" class="bk-button primary">Request approval</button>
</form>"#,
        escape(action),
        escape(acting)
    )
}

fn render_page(
    snapshot: &Snapshot,
    links: &[(String, String)],
    demo_request_url: Option<&str>,
) -> String {
    let rendered = render(snapshot);
    let user = snapshot.user.as_ref();
    let demo_request = demo_request_url
        .map(|url| request_form(url, user.map(|u| u.id.as_str()).unwrap_or_default()))
        .unwrap_or_default();
    let links: String = links
        .iter()
        .map(|(label, url)| {
            format!(
                "<li><a href=\"{}\" target=\"_blank\" rel=\"noopener\">{}</a></li>",
                escape(url),
                escape(label)
            )
        })
        .collect();
    let entries: String = rendered
        .entries
        .iter()
        .map(|e| {
            format!(
                "<li class=\"entry\" data-key=\"{}\" data-rev=\"{}\">{}</li>",
                escape(&e.key),
                e.rev,
                e.html
            )
        })
        .collect();
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{channel_label} · {workspace} · Slack sandbox</title>
<style>{BASE_CSS}{CSS}</style>
<script src="/_sandbox/ui/app.js" defer></script>
</head>
<body data-team="{team}" data-channel="{channel}" data-user="{user_id}" data-tz="{tz}" data-version="{version}" data-tab="{tab}" data-ts="{highlight}">
<header class="top">
<h1>Slack sandbox <span class="sub">offline stand-in for Slack</span></h1>
<nav aria-label="Related pages"><ul class="links">{links}</ul></nav>
{reminders}
<div class="act-as"><label for="act-as">Act as</label>
<select id="act-as" name="user" data-rev="{users_rev}">{user_options}</select></div>
</header>
<div class="layout">
<nav class="sidebar" aria-label="Workspace">
<button type="button" id="sidebar-toggle" class="sidebar-toggle" aria-expanded="false" aria-controls="sidebar-body">Workspace, channels and requests</button>
<div id="sidebar-body" class="sidebar-body">
<label for="workspace">Workspace</label>
<select id="workspace" name="team" data-rev="{workspaces_rev}">{workspace_options}</select>
<div id="sidebar" data-rev="{sidebar_rev}">{sidebar}</div>
<h2 id="events-heading">Send an event</h2>
<p class="help">Use “Reply in thread” on a message to send a <code>message</code> event; Edit and Delete on your own reply send <code>message_changed</code> and <code>message_deleted</code>. Slack sends them only from conversations the app is in.</p>
<button type="button" id="uninstall" class="danger-outline">Uninstall app</button>
<h2 id="events-sent-heading">Events sent</h2>
<p class="help">The last envelopes sent to your app. Resend one as Slack’s retry (same <code>event_id</code>, <code>x-slack-retry-num</code>) or as a new event id.</p>
<ul id="events-sent-list" class="events-sent" aria-labelledby="events-sent-heading" data-rev="{events_rev}">{events_sent}</ul>
{demo_request}
</div>
</nav>
<main>
<div class="channel-bar">
<h2 id="channel-title">{channel_label}</h2>
<button type="button" id="freeze" class="bk-button freeze" aria-pressed="false" aria-describedby="freeze-help">Freeze screen</button>
<span id="freeze-help" class="help">Stops this tab’s live updates, to click on a stale message as in Slack.</span>
</div>
<div id="frozen-banner" class="frozen-banner" role="status" hidden>
<strong>Screen frozen — live updates paused.</strong>
<span>Buttons still send clicks, as on a stale Slack screen; Act as changes who clicks.</span>
<button type="button" id="resume" class="bk-button primary">Resume live updates</button>
</div>
<div id="channel-status" class="channel-status" data-rev="{status_rev}">{channel_status}</div>
<p id="delivery" class="delivery" role="status" aria-live="polite"></p>
<ol id="messages" class="messages" aria-live="polite" aria-labelledby="channel-title"{messages_hidden}>{entries}</ol>
<section id="home-view" class="home-view" aria-labelledby="channel-title" aria-live="polite" data-rev="{home_rev}"{home_hidden}>{home}</section>
<form id="reply-form" class="reply-form" hidden>
<h3 id="reply-heading">Reply in thread</h3>
<p id="reply-context" class="help"></p>
<input type="hidden" id="reply-thread" name="thread_ts">
<input type="hidden" id="reply-edit-ts" name="edit_ts">
<label for="reply-text">Reply as <span id="reply-as">{user_name}</span></label>
<div class="mention-box">
<textarea id="reply-text" name="text" rows="3" required aria-describedby="reply-help" aria-autocomplete="list" aria-controls="mention-picker"></textarea>
<ul id="mention-picker" class="mention-picker" role="listbox" aria-label="People to mention" data-rev="{mentions_rev}" hidden>{mentions}</ul>
</div>
<p id="reply-help" class="help">Type @ to mention someone.</p>
<div class="row"><button type="submit" id="reply-submit" class="bk-button primary">Send reply</button>
<button type="button" id="reply-cancel" class="bk-button">Cancel</button></div>
</form>
</main>
</div>
<div id="views" data-rev="{views_rev}">{views}</div>
</body>
</html>
"#,
        channel_label = escape(&rendered.channel_label),
        workspace = escape(&snapshot.workspace.name),
        team = escape(&snapshot.workspace.team_id),
        channel = escape(
            snapshot
                .channel
                .as_ref()
                .map(|c| c.id.as_str())
                .unwrap_or_default()
        ),
        user_id = escape(user.map(|u| u.id.as_str()).unwrap_or_default()),
        tz = escape(user.map(|u| u.tz.as_str()).unwrap_or_default()),
        user_name = escape(user.map(|u| u.real_name.as_str()).unwrap_or("nobody")),
        version = snapshot.version,
        users_rev = rendered.user_options.rev,
        user_options = rendered.user_options.html,
        workspaces_rev = rendered.workspace_options.rev,
        workspace_options = rendered.workspace_options.html,
        sidebar_rev = rendered.sidebar.rev,
        sidebar = rendered.sidebar.html,
        events_rev = rendered.events_sent.rev,
        events_sent = rendered.events_sent.html,
        status_rev = rendered.channel_status.rev,
        channel_status = rendered.channel_status.html,
        mentions_rev = rendered.mentions.rev,
        mentions = rendered.mentions.html,
        views_rev = rendered.views.rev,
        views = rendered.views.html,
        tab = if snapshot.home_selected { "home" } else { "" },
        highlight = escape(snapshot.highlight.as_deref().unwrap_or_default()),
        reminders = if snapshot.reminders {
            super::reminders::form(crate::unix_now())
        } else {
            String::new()
        },
        messages_hidden = if snapshot.home_selected {
            " hidden"
        } else {
            ""
        },
        home_hidden = if snapshot.home_selected {
            ""
        } else {
            " hidden"
        },
        home_rev = rendered.home.rev,
        home = rendered.home.html,
    )
}

async fn state(AxumState(sandbox): Shared, Query(selector): Query<Selector>) -> Response {
    let snapshot = match snapshot(&sandbox, &selector) {
        Ok(snapshot) => snapshot,
        Err(message) => return bad_request(message).into_response(),
    };
    let rendered = render(&snapshot);
    let user_id = snapshot.user.as_ref().map(|u| u.id.as_str());
    let visible: Vec<&Message> = visible_messages(&snapshot.messages, user_id);
    Json(json!({
        "version": snapshot.version,
        "team": snapshot.workspace.team_id,
        "channel": snapshot.channel.as_ref().map(|c| &c.id),
        "user": user_id,
        "user_name": snapshot.user.as_ref().map(|u| &u.real_name),
        "user_tz": snapshot.user.as_ref().map(|u| &u.tz),
        "channel_label": rendered.channel_label,
        "tab": snapshot.home_selected.then_some("home"),
        "ts": snapshot.highlight,
        "home_view": snapshot.home_view,
        "title": format!("{} · {} · Slack sandbox", rendered.channel_label, snapshot.workspace.name),
        "interactivity_url": snapshot.interactivity_url,
        "events_url": snapshot.events_url,
        "workspaces": snapshot.workspaces.iter()
            .map(|w| json!({"team_id": w.team_id, "name": w.name, "domain": w.domain}))
            .collect::<Vec<_>>(),
        "channels": snapshot.workspace.channels,
        "users": snapshot.workspace.users,
        "messages": visible,
        "views": snapshot.views,
        "html": {
            "workspaces": rendered.workspace_options,
            "users": rendered.user_options,
            "sidebar": rendered.sidebar,
            "entries": rendered.entries,
            "views": rendered.views,
            "home": rendered.home,
            "channel_status": rendered.channel_status,
            "mentions": rendered.mentions,
            "events_sent": rendered.events_sent,
        },
        "app_in_channel": snapshot.channel.as_ref().map(|c| c.has_bot(&snapshot.app_bot)),
    }))
    .into_response()
}

#[derive(Deserialize)]
struct Since {
    since: Option<u64>,
}

/// Long poll: answers `{"version": n}` once the version differs from `since`, or after
/// [`LONG_POLL`]. A client that goes away drops the wait with its connection.
async fn events(AxumState(sandbox): Shared, Query(query): Query<Since>) -> Json<Value> {
    let mut changes = sandbox.subscribe();
    let current = *changes.borrow_and_update();
    if query.since != Some(current) {
        return Json(json!({"version": current}));
    }
    drop(sandbox);
    let _ = tokio::time::timeout(LONG_POLL, changes.changed()).await;
    let version = *changes.borrow();
    Json(json!({"version": version}))
}

#[derive(Deserialize)]
struct ClickRequest {
    channel: String,
    ts: String,
    action_id: String,
    user: String,
    /// The clicked button's block: a message may repeat an `action_id` in several blocks.
    /// Missing or empty (a block without an id): the first button with the `action_id`.
    #[serde(default)]
    block_id: Option<String>,
}

/// A Block Kit button click → a signed `block_actions` to the interactivity URL.
async fn click(AxumState(sandbox): Shared, body: Bytes) -> Result<Json<Value>, Problem> {
    let request: ClickRequest = parse(&body)?;
    let url = sandbox
        .interactivity_url()
        .ok_or(DeliveryError::NotConfigured("interactivity_url"))?;
    let clicked = match request.block_id.as_deref().filter(|b| !b.is_empty()) {
        Some(block_id) => sandbox.click_payload_in_block(
            &request.channel,
            &request.ts,
            block_id,
            &request.action_id,
            &request.user,
        ),
        None => sandbox.click_payload(
            &request.channel,
            &request.ts,
            &request.action_id,
            &request.user,
        ),
    };
    let form = clicked.map_err(|error| {
        let status = match error {
            SandboxError::NoMessage { .. } | SandboxError::NoButton(_) => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_REQUEST,
        };
        Problem(status, error.to_string())
    })?;
    let status =
        sandbox
            .deliver(&url, FORM, form)
            .await
            .map_err(|reason| DeliveryError::Unreachable {
                url: url.clone(),
                reason,
            })?;
    Ok(Json(
        json!({"sent": "block_actions", "url": url, "status": status}),
    ))
}

#[derive(Deserialize)]
struct HomeRequest {
    team: String,
    user: String,
}

/// The acting person enters the app's Home tab → a signed `app_home_opened` to the events
/// URL, as Slack sends each time. The page shows the Home tab whether or not it was delivered.
async fn home_opened(AxumState(sandbox): Shared, body: Bytes) -> Result<Json<Value>, Problem> {
    let request: HomeRequest = parse(&body)?;
    let envelope = sandbox.app_home_opened_event(&request.team, &request.user)?;
    let mut answer = json!({
        "event": "app_home_opened",
        "user": request.user,
        "with_view": envelope["event"].get("view").is_some(),
    });
    match sandbox.deliver_logged(&request.team, envelope, None).await {
        Ok(sent) => {
            answer["sent"] = json!("app_home_opened");
            answer["url"] = json!(sandbox.events_url());
            answer["status"] = json!(sent.status);
            answer["event_id"] = json!(sent.event_id);
        }
        Err(error @ DeliveryError::NotConfigured(_)) => answer["note"] = json!(error.to_string()),
        Err(error) => answer["error"] = json!(error.to_string()),
    }
    Ok(Json(answer))
}

#[derive(Deserialize)]
struct HomeClickRequest {
    team: String,
    user: String,
    block_id: String,
    action_id: String,
}

/// A button in the Home tab → a signed `block_actions` with the view as its container.
async fn home_click(AxumState(sandbox): Shared, body: Bytes) -> Result<Json<Value>, Problem> {
    let request: HomeClickRequest = parse(&body)?;
    let url = sandbox
        .interactivity_url()
        .ok_or(DeliveryError::NotConfigured("interactivity_url"))?;
    let form = sandbox.home_click_payload(
        &request.team,
        &request.user,
        &request.block_id,
        &request.action_id,
    )?;
    let status =
        sandbox
            .deliver(&url, FORM, form)
            .await
            .map_err(|reason| DeliveryError::Unreachable {
                url: url.clone(),
                reason,
            })?;
    Ok(Json(
        json!({"sent": "block_actions", "url": url, "status": status}),
    ))
}

#[derive(Deserialize)]
struct ReplyRequest {
    channel: String,
    thread_ts: String,
    user: String,
    /// As typed, with mentions in Slack's form (`<@U0BEN>`): the page's @-picker inserts
    /// them so; everything else is escaped here.
    text: String,
}

/// Where a person writes: the workspace, the conversation, and the app's bot there.
struct Place {
    team_id: String,
    channel: Channel,
    bot: String,
}

impl Place {
    /// A person's message event reaches the app only from conversations its bot is in.
    fn reaches_app(&self) -> bool {
        self.channel.has_bot(&self.bot)
    }
}

/// The conversation `channel_id` as `user_id` writes in it: refused (400) for a deactivated
/// person, or one who is not in it (a private channel, someone else's DM).
fn place_for(state: &State, channel_id: &str, user_id: &str) -> Result<Place, Problem> {
    let workspace = state
        .workspaces
        .iter()
        .find(|w| {
            w.channels.iter().any(|c| c.id == channel_id) && w.users.iter().any(|u| u.id == user_id)
        })
        .ok_or_else(|| {
            bad_request(format!(
                "no workspace has both channel {channel_id} and user {user_id}"
            ))
        })?;
    if workspace.users.iter().any(|u| u.id == user_id && u.deleted) {
        return Err(bad_request(format!(
            "user {user_id} is deactivated and cannot post"
        )));
    }
    let channel = workspace
        .channels
        .iter()
        .find(|c| c.id == channel_id)
        .cloned()
        .ok_or_else(|| bad_request(format!("channel: no channel {channel_id}")))?;
    if !channel.admits_person(user_id) {
        return Err(bad_request(format!(
            "user: {user_id} is not in {}, so cannot write there",
            channel.label()
        )));
    }
    Ok(Place {
        team_id: workspace.team_id.clone(),
        bot: app_bot_user(state, workspace),
        channel,
    })
}

/// Checks typed text (`text: …` errors) and stores it as Slack does: see [`escape_typed`].
fn typed_text(raw: &str) -> Result<String, Problem> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(bad_request("text: must not be empty"));
    }
    if text.chars().count() > MAX_REPLY_CHARS {
        return Err(bad_request(format!(
            "text: longer than {MAX_REPLY_CHARS} characters"
        )));
    }
    Ok(escape_typed(text))
}

/// What people type, as Slack stores and sends it: `&`, `<` and `>` escaped, except the
/// user mentions Slack's client inserts (`<@U0BEN>`, `<@W…>`), which stay as they are.
pub fn escape_typed(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(['&', '<', '>']) {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        match mention_len(after) {
            Some(len) => {
                out.push_str(&after[..len]);
                rest = &after[len..];
            }
            None => {
                out.push_str(match after.as_bytes()[0] {
                    b'&' => "&amp;",
                    b'<' => "&lt;",
                    _ => "&gt;",
                });
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The length of a `<@U…>` mention token at the start of `text`.
fn mention_len(text: &str) -> Option<usize> {
    let body = text.strip_prefix("<@")?;
    let end = body.find('>')?;
    super::is_user_id(&body[..end]).then_some(end + 3)
}

/// The `rich_text` block Slack's client sends with typed text: text runs (entities decoded)
/// and `user` elements for mentions.
fn rich_text_blocks(text: &str) -> Value {
    let mut elements = Vec::new();
    let mut run = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("<@") {
        match mention_len(&rest[start..]) {
            Some(len) => {
                run.push_str(&rest[..start]);
                if !run.is_empty() {
                    elements.push(json!({"type": "text", "text": decode(&run)}));
                    run.clear();
                }
                elements
                    .push(json!({"type": "user", "user_id": &rest[start + 2..start + len - 1]}));
                rest = &rest[start + len..];
            }
            None => {
                run.push_str(&rest[..start + 2]);
                rest = &rest[start + 2..];
            }
        }
    }
    run.push_str(rest);
    if !run.is_empty() {
        elements.push(json!({"type": "text", "text": decode(&run)}));
    }
    json!([{"type": "rich_text", "block_id": random_hex(3), "elements": [
        {"type": "rich_text_section", "elements": elements}
    ]}])
}

/// Sends a person's message event when the app's bot is in the conversation, and says in
/// `answer` what happened: `sent`, `status` and `event_id`; or `sent: null` with the `reason`
/// (the app is not in the channel); or the delivery `error`.
async fn deliver_if_member(
    sandbox: &SlackSandbox,
    place: &Place,
    name: &str,
    event: Value,
    answer: &mut Value,
) {
    if !place.reaches_app() {
        answer["sent"] = Value::Null;
        answer["reason"] = json!(format!(
            "the app is not in {}, so Slack sends it no message events",
            place.channel.label()
        ));
        return;
    }
    match sandbox.send_event_with_id(&place.team_id, event).await {
        (event_id, Ok(status)) => {
            answer["sent"] = json!(name);
            answer["status"] = json!(status);
            answer["event_id"] = json!(event_id);
        }
        (_, Err(error)) => answer["error"] = json!(error.to_string()),
    }
}

/// A thread reply by a person: stored like Slack stores it, then sent as a `message` event
/// if the app's bot is in the conversation.
async fn reply(AxumState(sandbox): Shared, body: Bytes) -> Result<Json<Value>, Problem> {
    let request: ReplyRequest = parse(&body)?;
    let text = typed_text(&request.text)?;
    let client_msg_id = super::uuid_like();
    let (place, ts, root, parent_user) = {
        let mut state = sandbox.state();
        let place = place_for(&state, &request.channel, &request.user)?;
        let parent = state
            .messages
            .iter()
            .find(|m| {
                m.channel == request.channel
                    && m.ts == request.thread_ts
                    && m.ephemeral_for.is_none()
            })
            .ok_or_else(|| {
                Problem(
                    StatusCode::NOT_FOUND,
                    format!(
                        "thread_ts: no message {} in {}",
                        request.thread_ts, request.channel
                    ),
                )
            })?;
        let root = parent
            .thread_ts
            .clone()
            .unwrap_or_else(|| parent.ts.clone());
        let parent_user = state
            .messages
            .iter()
            .find(|m| m.channel == request.channel && m.ts == root)
            .map(|m| m.user.clone());
        let ts = super::web_api::next_ts(&mut state);
        state.messages.push(Message {
            channel: request.channel.clone(),
            ts: ts.clone(),
            thread_ts: Some(root.clone()),
            user: request.user.clone(),
            text: text.clone(),
            client_msg_id: Some(client_msg_id.clone()),
            ..Message::default()
        });
        (place, ts, root, parent_user)
    };
    sandbox.changed();
    let event = json!({
        "type": "message", "channel": request.channel, "user": request.user, "text": text,
        "ts": ts, "thread_ts": root, "parent_user_id": parent_user, "event_ts": ts,
        "channel_type": place.channel.channel_type(), "client_msg_id": client_msg_id,
        "team": place.team_id, "blocks": rich_text_blocks(&text),
    });
    let mut answer = json!({"ts": ts, "thread_ts": root});
    deliver_if_member(&sandbox, &place, "message", event, &mut answer).await;
    Ok(Json(answer))
}

#[derive(Deserialize)]
struct EditRequest {
    channel: String,
    ts: String,
    user: String,
    text: String,
}

/// A person's message as its author: 404 when there is none, 400 when `user` did not write it.
fn own_message<'a>(
    state: &'a mut State,
    channel: &str,
    ts: &str,
    user: &str,
    doing: &str,
) -> Result<&'a mut Message, Problem> {
    let message = state
        .messages
        .iter_mut()
        .find(|m| m.channel == channel && m.ts == ts && m.ephemeral_for.is_none())
        .ok_or_else(|| {
            Problem(
                StatusCode::NOT_FOUND,
                format!("ts: no message {ts} in {channel}"),
            )
        })?;
    if message.user != user {
        return Err(bad_request(format!(
            "user: only the message's author ({}) can {doing} it, not {user}",
            message.user
        )));
    }
    Ok(message)
}

/// The `message` (or `previous_message`) object of an edit or delete event.
fn message_object(message: &Message, team_id: &str) -> Value {
    let mut object = json!({
        "type": "message", "user": message.user, "text": message.text, "ts": message.ts,
        "team": team_id,
    });
    if let Some(root) = &message.thread_ts {
        object["thread_ts"] = json!(root);
    }
    if let Some(id) = &message.client_msg_id {
        object["client_msg_id"] = json!(id);
    }
    if let Some(edited) = &message.edited {
        object["edited"] = json!({"user": edited.user, "ts": edited.ts});
    }
    object
}

/// A person edits their message: stored (marked edited) and sent as `message_changed` if the
/// app's bot is in the conversation.
async fn edit(AxumState(sandbox): Shared, body: Bytes) -> Result<Json<Value>, Problem> {
    let request: EditRequest = parse(&body)?;
    let text = typed_text(&request.text)?;
    let (place, previous, current, edit_ts) = {
        let mut state = sandbox.state();
        let place = place_for(&state, &request.channel, &request.user)?;
        let edit_ts = super::web_api::next_ts(&mut state);
        let message = own_message(
            &mut state,
            &request.channel,
            &request.ts,
            &request.user,
            "edit",
        )?;
        let previous = message.clone();
        message.text = text.clone();
        message.edits += 1;
        message.edited = Some(Edited {
            user: request.user.clone(),
            ts: edit_ts.clone(),
        });
        (place, previous, message.clone(), edit_ts)
    };
    sandbox.changed();
    let mut new_message = message_object(&current, &place.team_id);
    new_message["blocks"] = rich_text_blocks(&current.text);
    if let Some(root) = current
        .thread_ts
        .as_ref()
        .filter(|root| **root != current.ts)
    {
        let parent_user = sandbox
            .message(&current.channel, root)
            .map(|parent| parent.user);
        new_message["parent_user_id"] = json!(parent_user);
    }
    let event = json!({
        "type": "message", "subtype": "message_changed", "hidden": true,
        "channel": request.channel, "channel_type": place.channel.channel_type(),
        "ts": edit_ts, "event_ts": edit_ts,
        "message": new_message,
        "previous_message": message_object(&previous, &place.team_id),
    });
    let mut answer = json!({"ts": request.ts, "edited_ts": edit_ts});
    deliver_if_member(&sandbox, &place, "message_changed", event, &mut answer).await;
    Ok(Json(answer))
}

#[derive(Deserialize)]
struct DeleteRequest {
    channel: String,
    ts: String,
    user: String,
}

/// A person deletes their message: removed and sent as `message_deleted` if the app's bot is
/// in the conversation.
async fn delete(AxumState(sandbox): Shared, body: Bytes) -> Result<Json<Value>, Problem> {
    let request: DeleteRequest = parse(&body)?;
    let (place, previous, event_ts) = {
        let mut state = sandbox.state();
        let place = place_for(&state, &request.channel, &request.user)?;
        let previous = own_message(
            &mut state,
            &request.channel,
            &request.ts,
            &request.user,
            "delete",
        )?
        .clone();
        state
            .messages
            .retain(|m| !(m.channel == request.channel && m.ts == request.ts));
        let event_ts = super::web_api::next_ts(&mut state);
        (place, previous, event_ts)
    };
    sandbox.changed();
    let event = json!({
        "type": "message", "subtype": "message_deleted", "hidden": true,
        "channel": request.channel, "channel_type": place.channel.channel_type(),
        "ts": event_ts, "event_ts": event_ts, "deleted_ts": request.ts,
        "previous_message": message_object(&previous, &place.team_id),
    });
    let mut answer = json!({"deleted_ts": request.ts, "ts": event_ts});
    deliver_if_member(&sandbox, &place, "message_deleted", event, &mut answer).await;
    Ok(Json(answer))
}

/// `POST /_sandbox/channels/{id}/invite-app` (`{"team": "T…"}`, optional): the app's bot is
/// invited into the channel, as `/invite @app` does; 404 for an unknown team or channel.
async fn invite_app(
    AxumState(sandbox): Shared,
    Path(channel_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, Problem> {
    let request = optional_object(&body)?;
    let team = match request.get("team") {
        None | Some(Value::Null) => None,
        Some(Value::String(team)) if !team.is_empty() => Some(team.clone()),
        Some(_) => return Err(bad_request("team: must be a team id such as \"T0SANDBOX\"")),
    };
    let not_found = |what: String| Problem(StatusCode::NOT_FOUND, what);
    let team_id = match team {
        Some(team) => team,
        None => sandbox
            .state()
            .workspaces
            .iter()
            .find(|w| w.channels.iter().any(|c| c.id == channel_id))
            .map(|w| w.team_id.clone())
            .ok_or_else(|| not_found(format!("channel: there is no channel {channel_id}")))?,
    };
    let invited = match sandbox.invite_app(&team_id, &channel_id) {
        Ok(invited) => invited,
        Err(SandboxError::NoWorkspace(_)) => {
            return Err(not_found(format!("team: there is no workspace {team_id}")))
        }
        Err(SandboxError::NoChannel(_)) => {
            return Err(not_found(format!(
                "channel: there is no channel {channel_id} in {team_id}"
            )))
        }
        Err(error) => return Err(error.into()),
    };
    let channel = sandbox
        .channel(&team_id, &channel_id)
        .ok_or_else(|| not_found(format!("channel: there is no channel {channel_id}")))?;
    Ok(Json(json!({
        "team": team_id, "channel": channel_id, "invited": invited,
        "already_in_channel": !invited, "members": channel.members,
    })))
}

/// A JSON object body, or `{}` for an empty one.
fn optional_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, Problem> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    match parse::<Value>(body)? {
        Value::Object(map) => Ok(map),
        _ => Err(bad_request("body: must be a JSON object")),
    }
}

/// `GET /_sandbox/events-sent`: the last 50 envelopes delivered, oldest first.
async fn events_sent(AxumState(sandbox): Shared) -> Json<Vec<SentEvent>> {
    Json(sandbox.events_sent())
}

/// `POST /_sandbox/events-sent/{event_id}/resend` (`{"new_event_id": bool}`, default false):
/// see [`SlackSandbox::resend_event`].
async fn resend(
    AxumState(sandbox): Shared,
    Path(event_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, Problem> {
    let request = optional_object(&body)?;
    let new_event_id = match request.get("new_event_id") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(new)) => *new,
        Some(_) => return Err(bad_request("new_event_id: must be true or false")),
    };
    let sent = sandbox.resend_event(&event_id, new_event_id).await?;
    let what = match sent.retry_num {
        Some(num) => format!("{} again, retry {num}", sent.event_id),
        None => format!("{} as {}", event_id, sent.event_id),
    };
    Ok(Json(json!({
        "event_id": sent.event_id, "status": sent.status, "retry_num": sent.retry_num,
        "resent": event_id, "sent": what,
    })))
}

#[derive(Deserialize)]
struct UninstallRequest {
    team: String,
}

/// "Uninstall app": the workspace's tokens stop working and `app_uninstalled` is sent.
async fn uninstall(AxumState(sandbox): Shared, body: Bytes) -> Result<Json<Value>, Problem> {
    let request: UninstallRequest = parse(&body)?;
    let revoked = {
        let mut state = sandbox.state();
        if !state.workspaces.iter().any(|w| w.team_id == request.team) {
            return Err(bad_request(format!(
                "there is no workspace {}",
                request.team
            )));
        }
        let mut revoked = 0;
        for grant in state.tokens.values_mut() {
            if grant.team_id.as_deref() == Some(request.team.as_str()) && !grant.revoked {
                grant.revoked = true;
                revoked += 1;
            }
        }
        revoked
    };
    sandbox.changed();
    let event =
        json!({"type": "app_uninstalled", "event_ts": format!("{}.000000", crate::unix_now())});
    let answer = match sandbox.send_event(&request.team, event).await {
        Ok(status) => {
            json!({"revoked_tokens": revoked, "sent": "app_uninstalled", "status": status})
        }
        Err(error) => json!({"revoked_tokens": revoked, "error": error.to_string()}),
    };
    Ok(Json(answer))
}

#[derive(Deserialize)]
struct SubmitRequest {
    view_id: String,
    user: String,
    /// `values[block_id][action_id] = text`, from the page's inputs.
    #[serde(default)]
    values: HashMap<String, HashMap<String, String>>,
}

/// A modal submit → a signed `view_submission`; the app's answer closes, updates or keeps it.
async fn submit(AxumState(sandbox): Shared, body: Bytes) -> Result<Json<Value>, Problem> {
    let request: SubmitRequest = parse(&body)?;
    let url = sandbox
        .interactivity_url()
        .ok_or(DeliveryError::NotConfigured("interactivity_url"))?;
    let (view, workspace, user) = {
        let state = sandbox.state();
        let view = state
            .ui
            .views
            .iter()
            .find(|v| v.id == request.view_id)
            .cloned()
            .ok_or_else(|| {
                Problem(
                    StatusCode::NOT_FOUND,
                    format!("no open view {}", request.view_id),
                )
            })?;
        if view.user != request.user {
            return Err(bad_request(format!(
                "view {} is open for {}, not {}",
                view.id, view.user, request.user
            )));
        }
        let workspace = state
            .workspaces
            .iter()
            .filter(|w| view.team_id.is_none() || view.team_id.as_ref() == Some(&w.team_id))
            .find(|w| w.users.iter().any(|u| u.id == view.user))
            .cloned()
            .ok_or_else(|| bad_request(format!("no workspace has user {}", view.user)))?;
        let user = workspace
            .users
            .iter()
            .find(|u| u.id == view.user)
            .cloned()
            .ok_or_else(|| bad_request(format!("no user {}", view.user)))?;
        (view, workspace, user)
    };
    let payload = view_submission(&sandbox, &view, &workspace, &user, &request.values);
    let form = serde_urlencoded::to_string([("payload", payload.to_string())])
        .map_err(|e| Problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let (status, answer) = sandbox.deliver_reading(&url, FORM, form).await?;
    let mut result =
        json!({"sent": "view_submission", "url": url, "status": status, "closed": false});
    if status != 200 {
        result["error"] = json!(format!(
            "your app answered HTTP {status}; the modal stays open"
        ));
        return Ok(Json(result));
    }
    if answer.trim().is_empty() {
        sandbox.close_view(&view.id);
        result["closed"] = json!(true);
        return Ok(Json(result));
    }
    let Ok(answer) = serde_json::from_str::<Value>(&answer) else {
        result["error"] =
            json!("your app answered 200 with a body that is not JSON; Slack shows an error");
        return Ok(Json(result));
    };
    match answer["response_action"].as_str() {
        Some("errors") => result["errors"] = answer["errors"].clone(),
        Some("clear") => {
            sandbox.state().ui.views.retain(|v| v.user != user.id);
            sandbox.changed();
            result["closed"] = json!(true);
        }
        Some("update") if answer["view"].is_object() => {
            if let Some(open) = sandbox
                .state()
                .ui
                .views
                .iter_mut()
                .find(|v| v.id == view.id)
            {
                open.view = answer["view"].clone();
                open.hash = format!("{}.{}", crate::unix_now(), random_hex(6));
            }
            sandbox.changed();
        }
        Some("push") if answer["view"].is_object() => {
            sandbox.open_view(&user.id, answer["view"].clone());
        }
        _ => {
            result["error"] =
                json!("your app answered 200 with JSON Slack does not understand here");
        }
    }
    Ok(Json(result))
}

/// The `view_submission` payload Slack sends: only known inputs, empty ones as `null`.
fn view_submission(
    sandbox: &SlackSandbox,
    open: &OpenView,
    workspace: &Workspace,
    user: &User,
    values: &HashMap<String, HashMap<String, String>>,
) -> Value {
    let view = &open.view;
    let mut state_values = serde_json::Map::new();
    for (index, block) in view["blocks"].as_array().into_iter().flatten().enumerate() {
        if block["type"] != "input" || block["element"]["type"] != "plain_text_input" {
            continue;
        }
        let (block_id, action_id) = input_ids(block, index);
        let value = values
            .get(&block_id)
            .and_then(|actions| actions.get(&action_id))
            .filter(|v| !v.is_empty());
        state_values.insert(
            block_id,
            json!({ action_id: {"type": "plain_text_input", "value": value} }),
        );
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    json!({
        "type": "view_submission",
        "team": {"id": workspace.team_id, "domain": workspace.domain, "enterprise_id": workspace.enterprise_id},
        "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": workspace.team_id},
        "api_app_id": sandbox.config.app_id,
        "token": "deprecated-verification-token",
        "trigger_id": format!("{}.{}", now.as_millis(), random_hex(8)),
        "view": {
            "id": open.id,
            "team_id": workspace.team_id,
            "type": view["type"].as_str().unwrap_or("modal"),
            "blocks": view["blocks"],
            "private_metadata": view["private_metadata"].as_str().unwrap_or_default(),
            "callback_id": view["callback_id"].as_str().unwrap_or_default(),
            "external_id": view["external_id"].as_str().unwrap_or_default(),
            "state": {"values": state_values},
            "hash": open.hash,
            "title": view["title"],
            "submit": view["submit"],
            "close": view["close"],
            "clear_on_close": view["clear_on_close"] == json!(true),
            "notify_on_close": view["notify_on_close"] == json!(true),
            "root_view_id": open.id,
            "previous_view_id": null,
            "app_id": sandbox.config.app_id,
            "bot_id": super::bot_id_of(&app_bot_user(&sandbox.state(), workspace)),
        },
        "response_urls": [],
        "is_enterprise_install": false,
        "enterprise": workspace.enterprise_id.as_ref().map(|id| json!({"id": id})),
    })
}

#[derive(Deserialize)]
struct CloseRequest {
    view_id: String,
}

/// The modal's Cancel button (or Escape): the view closes.
async fn close(AxumState(sandbox): Shared, body: Bytes) -> Result<Json<Value>, Problem> {
    let request: CloseRequest = parse(&body)?;
    if !sandbox.close_view(&request.view_id) {
        return Err(Problem(
            StatusCode::NOT_FOUND,
            format!("no open view {}", request.view_id),
        ));
    }
    Ok(Json(json!({"closed": true})))
}

// ---------------------------------------------------------------------------------------------
// Directory controls: people join, change and leave, and the app hears of it.

impl From<SandboxError> for Problem {
    fn from(error: SandboxError) -> Self {
        let status = match error {
            SandboxError::Delivery(delivery) => return delivery.into(),
            SandboxError::NoUser(_)
            | SandboxError::NoMessage { .. }
            | SandboxError::NoHomeView { .. }
            | SandboxError::NoHomeButton { .. }
            | SandboxError::NoChannel(_)
            | SandboxError::NoEvent(_) => StatusCode::NOT_FOUND,
            SandboxError::Conflict(_) | SandboxError::HomeTabDisabled => StatusCode::CONFLICT,
            _ => StatusCode::BAD_REQUEST,
        };
        Problem(status, error.to_string())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddUserRequest {
    /// The workspace to join; the first one when missing.
    team_id: Option<String>,
    /// `U…`; generated when missing.
    id: Option<String>,
    name: String,
    real_name: Option<String>,
    email: String,
    /// A zone the sandbox knows; "UTC" when missing, "" for none.
    tz: Option<String>,
    #[serde(default)]
    is_restricted: bool,
    #[serde(default)]
    is_bot: bool,
    /// For a Slack Connect outsider: their own team.
    home_team_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeUserRequest {
    /// The workspace whose copy changes; the first one holding the user when missing.
    team_id: Option<String>,
    deleted: Option<bool>,
    tz: Option<String>,
    email: Option<String>,
    real_name: Option<String>,
}

/// Sends a directory event and shapes the control's answer: `delivered` is the app's HTTP
/// status, or null when no events URL is set or the app could not be reached (`error` says).
async fn announce(sandbox: &SlackSandbox, team_id: &str, event: Value) -> Json<Value> {
    let mut answer = json!({"team_id": team_id, "user": event["user"], "event": event["type"]});
    match sandbox.send_event(team_id, event).await {
        Ok(status) => answer["delivered"] = json!(status),
        Err(error @ DeliveryError::NotConfigured(_)) => {
            answer["delivered"] = Value::Null;
            answer["note"] = json!(error.to_string());
        }
        Err(error) => {
            answer["delivered"] = Value::Null;
            answer["error"] = json!(error.to_string());
        }
    }
    Json(answer)
}

/// `POST /_sandbox/users`: a person joins a workspace; the app gets `team_join`.
async fn add_user(AxumState(sandbox): Shared, body: Bytes) -> Result<Json<Value>, Problem> {
    let request: AddUserRequest = parse(&body)?;
    if request.email.trim().is_empty() {
        return Err(bad_request("email: required"));
    }
    let tz = request.tz.unwrap_or_else(|| "UTC".into());
    super::check_time_zone(&tz).map_err(bad_request)?;
    let team_id = match request.team_id {
        Some(team) => team,
        None => sandbox
            .state()
            .workspaces
            .first()
            .map(|w| w.team_id.clone())
            .ok_or_else(|| bad_request("the sandbox has no workspaces"))?,
    };
    let user = User {
        is_restricted: request.is_restricted,
        is_bot: request.is_bot,
        team_id: request.home_team_id.filter(|t| *t != team_id),
        ..User::new(
            request.id.as_deref().unwrap_or_default(),
            &request.name,
            request.real_name.as_deref().unwrap_or_default(),
            request.email.trim(),
            &tz,
        )
    };
    let event = sandbox.add_user(&team_id, user)?;
    Ok(announce(&sandbox, &team_id, event).await)
}

/// `POST /_sandbox/users/{id}`: a person changes (or is deactivated); the app gets `user_change`.
async fn change_user(
    AxumState(sandbox): Shared,
    Path(user_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, Problem> {
    let request: ChangeUserRequest = parse(&body)?;
    let change = UserChange {
        deleted: request.deleted,
        tz: request.tz,
        email: request.email,
        real_name: request.real_name,
    };
    if change.deleted.is_none()
        && change.tz.is_none()
        && change.email.is_none()
        && change.real_name.is_none()
    {
        return Err(bad_request(
            "nothing to change: give deleted, tz, email or real_name",
        ));
    }
    let team_id = match request.team_id {
        Some(team) => team,
        None => sandbox
            .state()
            .workspaces
            .iter()
            .find(|w| w.users.iter().any(|u| u.id == user_id))
            .map(|w| w.team_id.clone())
            .ok_or_else(|| SandboxError::NoUser(user_id.clone()))?,
    };
    let event = sandbox.change_user(&team_id, &user_id, &change)?;
    Ok(announce(&sandbox, &team_id, event).await)
}

/// Looks the sandbox's pages share (the workspace page and Slack's authorize page): fonts,
/// the aubergine header, form controls and buttons.
pub(super) const BASE_CSS: &str = "
:root{color-scheme:light;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:15px;line-height:1.45;color:#1d1c1d}
body{margin:0;background:#fff}
.top{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:center;padding:.5rem 1rem;background:#3f0e40;color:#fff}
.top h1,.top .brand{font-size:1.1rem;font-weight:700;margin:0}.top .sub{font-weight:normal;opacity:.8;font-size:.85rem}
.top a{color:#fff}
select,textarea,input[type=text],input:not([type]){font:inherit;padding:.3rem .4rem;border:1px solid #868686;border-radius:4px;background:#fff;color:#1d1c1d}
.bk-button{font:inherit;font-weight:600;padding:.3rem .9rem;border:1px solid #bbb;border-radius:4px;background:#fff;color:#1d1c1d;cursor:pointer;text-decoration:none;display:inline-block}
.bk-button.primary{background:#007a5a;border-color:#007a5a;color:#fff}.bk-button.danger{background:#e01e5a;border-color:#e01e5a;color:#fff}
.bk-button:disabled{opacity:.6;cursor:default}
button:focus-visible,a:focus-visible,select:focus-visible,textarea:focus-visible,input:focus-visible,summary:focus-visible{outline:3px solid #1264a3;outline-offset:2px}
.help{font-size:.85rem;color:#555}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
";

const CSS: &str = "
.links{display:flex;flex-wrap:wrap;gap:.25rem 1rem;list-style:none;margin:0;padding:0}
.act-as{margin-left:auto;display:flex;gap:.5rem;align-items:center;max-width:100%}.act-as select{max-width:100%;min-width:0}
.layout{display:grid;grid-template-columns:18rem minmax(0,1fr);min-height:calc(100vh - 3rem)}
.sidebar{background:#f4ede4;padding:.75rem 1rem;border-right:1px solid #ddd;min-width:0}
.sidebar-toggle{display:none}
.sidebar-body>label{display:block;font-weight:600;margin-bottom:.25rem}.sidebar select{width:100%;box-sizing:border-box;text-overflow:ellipsis}
.sidebar h2{font-size:.85rem;text-transform:uppercase;letter-spacing:.04em;color:#555;margin:1.2rem 0 .3rem}
.conversations{list-style:none;margin:0;padding:0}.conversations a{display:block;padding:.15rem .4rem;border-radius:4px;color:#1d1c1d;text-decoration:none}
.conversations a[aria-current]{background:#1164a3;color:#fff}.conversations a:hover{text-decoration:underline}
.targets{font-size:.8rem;margin:0}.targets dt{font-weight:600}.targets dd{margin:0 0 .4rem;word-break:break-all}
.request-form{display:flex;flex-direction:column;gap:.15rem}.request-form label{font-weight:600;font-size:.9rem;margin-top:.35rem}
.request-form input,.request-form select{width:100%;box-sizing:border-box}.request-form label.check{display:flex;gap:.4rem;align-items:center;font-weight:normal}.request-form label.check input{width:auto;margin:0}.request-form button{align-self:flex-start;margin-top:.6rem}
main{padding:.75rem 1.25rem;min-width:0}
.channel-bar{display:flex;flex-wrap:wrap;align-items:center;gap:.3rem 1rem}.channel-bar h2{margin:.2rem 0}.channel-bar .help{margin:0}
.freeze[aria-pressed=true]{background:#fff4d6;border-color:#b7791f}
.frozen-banner{position:sticky;top:0;z-index:1;display:flex;flex-wrap:wrap;gap:.4rem 1rem;align-items:center;margin:.5rem 0;padding:.5rem .75rem;background:#fff4d6;border:1px solid #e0b252;border-left:5px solid #b7791f;border-radius:4px}
.frozen-banner[hidden]{display:none}
.delivery{min-height:1.4em;margin:.2rem 0 .6rem;font-size:.9rem;color:#1d1c1d}.delivery.failed{color:#b3001b}
.messages{list-style:none;margin:0;padding:0}.entry{border-top:1px solid #eee;padding:.6rem 0}
.message{max-width:48rem}.message .meta{margin:0 0 .2rem}.author{font-weight:700}.meta time,.edited{color:#616061;font-size:.8rem}
.badge{font-size:.65rem;background:#ddd;border-radius:3px;padding:0 .25rem;vertical-align:middle}
.ephemeral{background:#f8f8f8;border-left:3px solid #1264a3;padding-left:.6rem}.ephemeral-note{margin:0;font-size:.8rem;color:#616061}
.thread{list-style:none;margin:.4rem 0 0 1.2rem;padding:0 0 0 .8rem;border-left:2px solid #ddd}.thread li{padding:.3rem 0}
.bk-header{font-size:1.1rem;margin:.2rem 0}.bk-section{display:flex;gap:1rem;margin:.3rem 0}.bk-section-body{flex:1;min-width:0}
.bk-fields{display:grid;grid-template-columns:1fr 1fr;gap:.3rem 1rem;margin-top:.2rem}
.bk-context{font-size:.8rem;color:#616061;display:flex;flex-wrap:wrap;gap:.4rem;align-items:center;margin:.3rem 0}.bk-context-image{width:1.2rem;height:1.2rem}
.bk-divider{border:0;border-top:1px solid #ddd}.bk-image img{max-width:min(100%,30rem)}
.bk-actions{display:flex;flex-wrap:wrap;gap:.5rem;margin:.4rem 0}
.reply-button{font:inherit;font-size:.8rem;background:none;border:0;color:#1264a3;padding:0;cursor:pointer;text-decoration:underline}
.mention{background:#e8f5fa;color:#1264a3;border-radius:3px;padding:0 .15rem}
.bk-unsupported{color:#777;font-style:italic}
.reply-form{border-top:2px solid #ddd;margin-top:1rem;padding-top:.5rem;max-width:48rem}.reply-form h3{margin:.2rem 0}
.reply-form label{display:block;font-weight:600}.reply-form textarea{width:100%;box-sizing:border-box}.row{display:flex;gap:.5rem;margin-top:.4rem}
.danger-outline{font:inherit;padding:.3rem .8rem;border:1px solid #e01e5a;color:#b3001b;background:#fff;border-radius:4px;cursor:pointer}
dialog.view{border:0;border-radius:8px;box-shadow:0 10px 40px rgba(0,0,0,.35);width:min(34rem,92vw);padding:1rem 1.25rem;box-sizing:border-box}
dialog.view::backdrop{background:rgba(0,0,0,.4)}dialog.view h2{margin:0 0 .5rem;font-size:1.2rem}
.bk-input{margin:.6rem 0}.bk-input label{display:block;font-weight:600;margin-bottom:.2rem}.bk-input input,.bk-input textarea{width:100%;box-sizing:border-box}
.optional{font-weight:normal;color:#616061}.hint{font-size:.8rem;color:#616061;margin:.2rem 0}.field-error{color:#b3001b;font-size:.85rem;margin:.2rem 0}
.view-buttons{display:flex;justify-content:flex-end;gap:.5rem;margin-top:.8rem}.view-close{font:inherit;padding:.3rem .9rem;border:1px solid #bbb;border-radius:4px;background:#fff;cursor:pointer}
.view-status{min-height:1.2em;font-size:.85rem;color:#b3001b;margin:.2rem 0}
.empty{color:#616061}
.message.highlighted{background:#fef9e6;box-shadow:0 0 0 2px #e8b339;border-radius:4px;padding:.3rem .5rem}
.linked-note{margin:0;font-size:.8rem;font-weight:600;color:#7a5a00}
.home-view{max-width:48rem;padding:.4rem 0}.home-empty{color:#616061;border:1px dashed #ccc;border-radius:6px;padding:1rem}
.channel-status{font-size:.85rem;margin:.3rem 0;display:flex;flex-wrap:wrap;gap:.3rem .6rem;align-items:center}.channel-status:empty{display:none}
.app-out{color:#7a4b00}.app-in{color:#2b6a3f}
.own-controls button,.event-sent button{font:inherit;font-size:.8rem;background:none;border:0;color:#1264a3;padding:0 .2rem;cursor:pointer;text-decoration:underline}
.own-controls .delete-reply{color:#b3001b}
.mention-box{position:relative}
.mention-picker{position:absolute;z-index:2;left:0;top:100%;margin:0;padding:.2rem 0;list-style:none;background:#fff;border:1px solid #bbb;border-radius:4px;box-shadow:0 4px 12px rgba(0,0,0,.15);max-height:14rem;overflow:auto;min-width:16rem}
.mention-option{padding:.25rem .6rem;cursor:pointer}.mention-option .handle{color:#616061}
.mention-option[aria-selected=true],.mention-option:hover{background:#1164a3;color:#fff}.mention-option[aria-selected=true] .handle,.mention-option:hover .handle{color:#e8f5fa}
.file{border:1px solid #ddd;border-radius:6px;padding:.4rem .6rem;margin:.3rem 0;max-width:36rem}.file-meta{margin:0}.file-size{color:#616061;font-size:.8rem}
.file-preview{display:block;width:100%;height:18rem;border:1px solid #eee;margin-top:.4rem}
.events-sent{list-style:none;margin:0;padding:0;font-size:.8rem}.event-sent{padding:.25rem 0;border-top:1px solid #e6dccf;word-break:break-all}.event-sent .row{margin-top:.1rem}
.reminders-form{display:flex;flex-wrap:wrap;gap:.3rem .5rem;align-items:center;font-size:.9rem}
.reminders-form input{width:13rem;max-width:100%}.reminders-form output{min-width:8rem}
@media (max-width:700px){
.top{padding:.5rem .75rem}.act-as{margin-left:0;width:100%}.act-as select{flex:1}
.layout{grid-template-columns:minmax(0,1fr);min-height:0}
.sidebar{border-right:0;border-bottom:1px solid #ddd;padding:.5rem .75rem}
.sidebar-toggle{display:flex;justify-content:space-between;align-items:center;width:100%;font:inherit;font-weight:600;padding:.45rem .6rem;border:1px solid #c9bfb3;border-radius:4px;background:#fff;color:#1d1c1d;cursor:pointer}
.sidebar-toggle::after{content:'▸';margin-left:.5rem}.sidebar-toggle[aria-expanded=true]::after{content:'▾'}
.sidebar-body{display:none;padding-top:.5rem}.sidebar-toggle[aria-expanded=true]+.sidebar-body{display:block}
main{padding:.6rem .75rem}
}
";

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        Names::of(&Workspace::demo(), "U0BOT", "Sandbox Approvals")
    }

    fn message(
        ts: &str,
        thread_ts: Option<&str>,
        ephemeral_for: Option<&str>,
        text: &str,
    ) -> Message {
        Message {
            channel: "C0APPROVALS".into(),
            ts: ts.into(),
            thread_ts: thread_ts.map(str::to_owned),
            user: "U0BOT".into(),
            text: text.into(),
            blocks: Value::Null,
            ephemeral_for: ephemeral_for.map(str::to_owned),
            edits: 0,
            earlier_blocks: Vec::new(),
            ..Message::default()
        }
    }

    #[test]
    fn mrkdwn_never_lets_markup_through() {
        let escaped = mrkdwn("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co", &names());
        assert_eq!(escaped, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co");
        let raw = mrkdwn("<script>alert(1)</script> \"quoted\"", &names());
        assert!(!raw.contains("<script"), "{raw}");
        assert!(raw.contains("&lt;script&gt;"), "{raw}");
        assert!(raw.contains("&quot;quoted&quot;"), "{raw}");
        let link = mrkdwn("<javascript:alert(1)|click me>", &names());
        assert!(!link.contains("<a "), "{link}");
        let attribute = mrkdwn("<https://x.example/?a=1&amp;b=\"2\"|open>", &names());
        assert_eq!(
            attribute,
            "<a href=\"https://x.example/?a=1&amp;b=&quot;2&quot;\" target=\"_blank\" rel=\"noopener noreferrer\">open</a>"
        );
    }

    #[test]
    fn mentions_show_names_and_formatting_wraps_them() {
        let html = mrkdwn(
            "✅ *Approved* by <@U0ANA> in <#C0APPROVALS>, cc <@U0NOBODY>",
            &names(),
        );
        assert_eq!(
            html,
            "✅ <strong>Approved</strong> by <span class=\"mention\">@ana</span> in \
             <span class=\"mention\">#approvals</span>, cc <span class=\"mention\">@U0NOBODY</span>"
        );
        assert_eq!(
            mrkdwn("*<@U0BEN>* _said_ ~no~ `a*b*c`", &names()),
            "<strong><span class=\"mention\">@ben</span></strong> <em>said</em> <del>no</del> <code>a*b*c</code>"
        );
        assert_eq!(
            mrkdwn("2 * 3 * 4 and snake_case_name", &names()),
            "2 * 3 * 4 and snake_case_name"
        );
        assert_eq!(
            mrkdwn("*Account*\nInitech", &names()),
            "<strong>Account</strong><br>Initech"
        );
    }

    #[test]
    fn typed_text_is_escaped_but_mentions_stay_slacks_tokens() {
        assert_eq!(
            escape_typed("<@U0BEN> & <@W0ANA>: is 2 < 3 > 1? <b>"),
            "<@U0BEN> &amp; <@W0ANA>: is 2 &lt; 3 &gt; 1? &lt;b&gt;"
        );
        // Only well-formed user mentions survive; links, labels and broadcasts are typed text.
        for typed in [
            "<@u0ben>",
            "<@U0BEN|ben>",
            "<@>",
            "<@U0BEN",
            "<!here>",
            "<#C0GENERAL>",
            "<https://x.example>",
        ] {
            let stored = escape_typed(typed);
            assert!(!stored.contains('<'), "{typed} → {stored}");
        }
        assert_eq!(escape_typed("a &amp; b"), "a &amp;amp; b");
        assert_eq!(
            mrkdwn(&escape_typed("ask <@U0BEN> about <this>"), &names()),
            "ask <span class=\"mention\">@ben</span> about &lt;this&gt;"
        );
        let blocks = rich_text_blocks(&escape_typed("hi <@U0BEN> & bye"));
        assert_eq!(
            blocks[0]["elements"][0]["elements"],
            json!([{"type": "text", "text": "hi "}, {"type": "user", "user_id": "U0BEN"},
                   {"type": "text", "text": " & bye"}])
        );
    }

    #[test]
    fn own_messages_get_edit_and_delete_and_files_a_preview() {
        let mut reply = message("1.000002", Some("1.000001"), None, "mine");
        reply.user = "U0BEN".into();
        let as_ben = render_message_as(&reply, &names(), true, false, Some("U0BEN"));
        assert!(
            as_ben.contains("class=\"edit-reply\" data-ts=\"1.000002\""),
            "{as_ben}"
        );
        assert!(as_ben.contains("class=\"delete-reply\" data-ts=\"1.000002\""));
        let as_ana = render_message_as(&reply, &names(), true, false, Some("U0ANA"));
        assert!(!as_ana.contains("edit-reply") && !as_ana.contains("delete-reply"));
        let bot = render_message_as(
            &message("1.000001", None, None, "x"),
            &names(),
            false,
            false,
            Some("U0BOT"),
        );
        assert!(
            !bot.contains("edit-reply"),
            "the app's posts are not the page's to edit"
        );

        let mut shared = message("1.000003", Some("1.000001"), None, "");
        shared.files = vec![super::super::SharedFile {
            id: "F0PDF".into(),
            name: "deal.pdf".into(),
            title: "Deal <PDF>".into(),
            mimetype: "application/pdf".into(),
            filetype: "pdf".into(),
            size: 2_048,
            url_private: "http://127.0.0.1:1/files/F0PDF/deal.pdf".into(),
        }];
        let html = render_message(&shared, &names(), true, false);
        assert!(
            html.contains("<div class=\"file\" data-file-id=\"F0PDF\">"),
            "{html}"
        );
        assert!(html.contains(">Deal &lt;PDF&gt;</a>"));
        assert!(html.contains("2.0 kB · application/pdf"));
        assert!(html.contains("download=\"deal.pdf\">Download</a>"));
        assert!(html.contains(
            "<iframe class=\"file-preview\" src=\"http://127.0.0.1:1/files/F0PDF/deal.pdf\""
        ));
        shared.files[0].mimetype = "text/csv".into();
        assert!(!render_message(&shared, &names(), true, false).contains("file-preview"));
    }

    #[test]
    fn date_tokens_fall_back_to_their_text() {
        let html = mrkdwn(
            "on <!date^1764000000^{date_short_pretty} at {time}|2025-11-24 16:00 UTC>",
            &names(),
        );
        assert_eq!(
            html,
            "on <time class=\"slack-date\" data-epoch=\"1764000000\" \
             data-format=\"{date_short_pretty} at {time}\">2025-11-24 16:00 UTC</time>"
        );
        assert_eq!(mrkdwn("<!date^soon^{time}|later>", &names()), "later");
        assert!(mrkdwn("<!date^1^{time}|&lt;b&gt;>", &names()).contains(">&lt;b&gt;</time>"));
    }

    #[test]
    fn ephemeral_notes_show_only_to_their_user() {
        let messages = vec![
            message("1.000001", None, None, "for everyone"),
            message("1.000002", None, Some("U0ANA"), "Already decided"),
        ];
        let as_ana: Vec<&str> = visible_messages(&messages, Some("U0ANA"))
            .iter()
            .map(|m| m.ts.as_str())
            .collect();
        assert_eq!(as_ana, ["1.000001", "1.000002"]);
        assert_eq!(visible_messages(&messages, Some("U0BEN")).len(), 1);
        let html: String = timeline(&visible_messages(&messages, Some("U0ANA")), &names(), None)
            .into_iter()
            .map(|f| f.html)
            .collect();
        assert_eq!(html.matches("Only visible to you").count(), 1);
    }

    #[test]
    fn replies_render_under_their_parent() {
        let messages = vec![
            message("1.000001", None, None, "parent"),
            message("1.000002", None, None, "other"),
            message("1.000003", Some("1.000001"), None, "a reply"),
        ];
        let entries = timeline(
            &visible_messages(&messages, None),
            &names(),
            Some("1.000003"),
        );
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].key, "1.000001");
        assert!(entries[0].html.contains("data-ts=\"1.000003\""));
        assert_eq!(
            entries[0]
                .html
                .matches("class=\"message reply highlighted\"")
                .count(),
            1,
            "the permalink's reply is the one highlighted: {}",
            entries[0].html
        );
        assert!(!entries[1].html.contains("highlighted"));
        assert!(entries[0].html.contains("1 reply in thread"));
        assert!(!entries[1].html.contains("a reply"));
    }

    #[test]
    fn blocks_render_buttons_fields_and_links() {
        let blocks = json!([
            {"type": "header", "text": {"type": "plain_text", "text": "Deal <Initech>"}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": "*Account*\nInitech"}]},
            {"type": "divider"},
            {"type": "actions", "block_id": "approval_actions", "elements": [
                {"type": "button", "action_id": "approve", "style": "primary",
                 "text": {"type": "plain_text", "text": "Approve"}, "value": "apr_1"},
                {"type": "button", "action_id": "reject", "style": "danger",
                 "text": {"type": "plain_text", "text": "Reject"}},
                {"type": "button", "action_id": "open", "url": "https://host.example/1",
                 "text": {"type": "plain_text", "text": "Open"}}]},
            {"type": "rich_text", "elements": []}
        ]);
        let html = render_blocks(&blocks, &names(), Surface::Message);
        assert!(
            html.contains("<h3 class=\"bk-header\">Deal &lt;Initech&gt;</h3>"),
            "{html}"
        );
        assert!(html.contains("<div class=\"bk-field\"><strong>Account</strong><br>Initech</div>"));
        assert!(html.contains(
            "<button type=\"button\" class=\"bk-button primary\" data-action-id=\"approve\" \
             data-block-id=\"approval_actions\">Approve</button>"
        ));
        assert!(html.contains("class=\"bk-button danger\" data-action-id=\"reject\""));
        assert!(html
            .contains("<a class=\"bk-button\" href=\"https://host.example/1\" target=\"_blank\""));
        assert!(html.contains("[a rich_text block"));
    }

    #[test]
    fn modal_inputs_get_labels_and_ids() {
        let view = OpenView {
            id: "V123".into(),
            user: "U0ANA".into(),
            team_id: None,
            hash: "h".into(),
            view: json!({"type": "modal", "title": {"type": "plain_text", "text": "Reject"},
                "blocks": [{"type": "input", "block_id": "reason",
                    "label": {"type": "plain_text", "text": "Reason"},
                    "element": {"type": "plain_text_input", "action_id": "reason_input", "multiline": true}}]}),
        };
        let html = render_view(&view, &names());
        assert!(
            html.contains("<label for=\"input-V123-0\">Reason</label>"),
            "{html}"
        );
        assert!(html.contains("<textarea id=\"input-V123-0\""), "{html}");
        assert!(html.contains("data-block-id=\"reason\" data-action-id=\"reason_input\""));
        assert!(html.contains(">Submit</button>"));
    }

    /// What the app under test received: (path, signature valid, content type, body).
    type Received = Arc<std::sync::Mutex<Vec<(String, bool, String, String)>>>;

    /// A stand-in app: records signed requests; a modal submit of "bad" gets field errors.
    async fn app(secret: &'static str) -> (String, Received) {
        use axum::http::{HeaderMap, Uri};
        let received: Received = Arc::default();
        let log = received.clone();
        let handler = move |uri: Uri, headers: HeaderMap, body: String| {
            let log = log.clone();
            async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                };
                let timestamp = header("x-slack-request-timestamp");
                let expected = format!(
                    "v0={}",
                    crate::hmac_hex(
                        secret.as_bytes(),
                        &[b"v0:", timestamp.as_bytes(), b":", body.as_bytes()]
                    )
                );
                let valid = header("x-slack-signature") == expected;
                let answer = if body.contains("view_submission") && body.contains("%22bad%22") {
                    r#"{"response_action":"errors","errors":{"reason":"Say why, please"}}"#
                } else {
                    ""
                };
                log.lock().unwrap().push((
                    uri.path().to_owned(),
                    valid,
                    header("content-type"),
                    body,
                ));
                answer
            }
        };
        let listener = crate::loopback_listener().await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let router = Router::new().fallback(axum::routing::post(handler));
        tokio::spawn(async move { axum::serve(listener, router).await });
        (base, received)
    }

    fn payload_of(form: &str) -> Value {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(form).unwrap();
        serde_json::from_str(&pairs[0].1).unwrap()
    }

    #[tokio::test]
    async fn the_page_shows_messages_and_sends_signed_requests() {
        let sandbox = SlackSandbox::new(super::super::SandboxConfig {
            links: vec![("Host webhook log".into(), "http://127.0.0.1:1/".into())],
            ..Default::default()
        });
        let base = sandbox.start().await.unwrap();
        let http = reqwest::Client::new();
        let post = |path: &str, body: Value| http.post(format!("{base}{path}")).json(&body).send();

        // Not configured yet: a click is refused with a clear message.
        let token = sandbox.issue_bot_token("T0SANDBOX");
        let posted: Value = http
            .post(format!("{base}/api/chat.postMessage"))
            .bearer_auth(&token)
            .json(
                &json!({"channel": "C0APPROVALS", "text": "Approval requested", "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": "Deal <Initech>"}},
                {"type": "actions", "block_id": "approval_actions", "elements": [
                    {"type": "button", "action_id": "approve", "style": "primary", "value": "apr_1",
                     "text": {"type": "plain_text", "text": "Approve"}}]}]}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(posted["ok"], true, "{posted}");
        let ts = posted["ts"].as_str().unwrap().to_owned();
        let click =
            json!({"channel": "C0APPROVALS", "ts": ts, "action_id": "approve", "user": "U0ANA"});
        let refused = post("/_sandbox/ui/click", click.clone()).await.unwrap();
        assert_eq!(refused.status(), 409);
        assert!(refused.text().await.unwrap().contains("interactivity_url"));

        let page = http
            .get(format!("{base}/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains(&format!("class=\"message\" data-ts=\"{ts}\"")),
            "{page}"
        );
        assert!(page.contains(">Approve</button>"));
        assert!(page.contains("Deal &lt;Initech&gt;"));
        assert!(page.contains("<label for=\"act-as\">Act as</label>"));
        assert!(page.contains(">Host webhook log</a>"));
        let script = http
            .get(format!("{base}/_sandbox/ui/app.js"))
            .send()
            .await
            .unwrap();
        assert!(script.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript"));

        let bad = http
            .get(format!("{base}/?team=TNOPE"))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 400);
        let garbage = http
            .post(format!("{base}/_sandbox/ui/click"))
            .body("{")
            .send()
            .await
            .unwrap();
        assert_eq!(garbage.status(), 400);

        let (app_base, received) = app("sandbox-signing-secret").await;
        sandbox.set_interactivity_url(Some(format!("{app_base}/slack/interactions")));
        sandbox.set_events_url(Some(format!("{app_base}/slack/events")));

        // A click: signed block_actions, form-encoded.
        let answer: Value = post("/_sandbox/ui/click", click)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["status"], 200, "{answer}");
        let (path, valid, content_type, body) = received.lock().unwrap()[0].clone();
        assert_eq!(
            (path.as_str(), valid, content_type.as_str()),
            ("/slack/interactions", true, FORM)
        );
        let payload = payload_of(&body);
        assert_eq!(payload["type"], "block_actions");
        assert_eq!(payload["user"]["id"], "U0ANA");
        assert_eq!(payload["actions"][0]["value"], "apr_1");

        // A thread reply: stored under its parent and sent as a message event (the app is in
        // the channel: Slack sends no message events from channels it is not in).
        assert!(sandbox.invite_app("T0SANDBOX", "C0APPROVALS").unwrap());
        let answer: Value = post(
            "/_sandbox/ui/reply",
            json!({"channel": "C0APPROVALS",
            "thread_ts": ts, "user": "U0BEN", "text": "Why <this>?"}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(answer["status"], 200, "{answer}");
        let (path, valid, content_type, body) = received.lock().unwrap()[1].clone();
        assert_eq!(
            (path.as_str(), valid, content_type.as_str()),
            ("/slack/events", true, "application/json")
        );
        let callback: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(callback["type"], "event_callback");
        assert!(callback["event_id"].as_str().unwrap().starts_with("Ev"));
        assert_eq!(callback["authorizations"][0]["is_bot"], true);
        assert_eq!(callback["event"]["thread_ts"], json!(ts));
        assert_eq!(callback["event"]["user"], "U0BEN");
        assert_eq!(callback["event"]["text"], "Why &lt;this&gt;?");
        let state: Value = http
            .get(format!(
                "{base}/_sandbox/ui/state?team=T0SANDBOX&channel=C0APPROVALS&user=U0ANA"
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(state["messages"].as_array().unwrap().len(), 2);
        let entries = state["html"]["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 1, "the reply sits under its parent");
        assert!(entries[0]["html"]
            .as_str()
            .unwrap()
            .contains("Why &lt;this&gt;?"));

        // Live updates: a poll at the current version waits, and answers when a change lands.
        let version = state["version"].as_u64().unwrap();
        let waiting = tokio::spawn(
            http.get(format!("{base}/_sandbox/ui/events?since={version}"))
                .send(),
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!waiting.is_finished());
        let view_id = sandbox.open_view(
            "U0ANA",
            json!({"type": "modal", "callback_id": "reject_reason",
            "private_metadata": "apr_1", "title": {"type": "plain_text", "text": "Reject"},
            "blocks": [{"type": "input", "block_id": "reason",
                "label": {"type": "plain_text", "text": "Reason"},
                "element": {"type": "plain_text_input", "action_id": "text"}}]}),
        );
        let woke: Value = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap()
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(woke["version"].as_u64().unwrap() > version);
        let page = http
            .get(format!("{base}/?user=U0ANA"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains(&format!(
            "<dialog class=\"view\" data-view-id=\"{view_id}\""
        )));
        let as_ben = http
            .get(format!("{base}/?user=U0BEN"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!as_ben.contains("<dialog"));

        // A modal submit: field errors keep it open; a 200 with an empty body closes it.
        let submit = |value: &str| {
            post(
                "/_sandbox/ui/submit",
                json!({"view_id": view_id,
            "user": "U0ANA", "values": {"reason": {"text": value}}}),
            )
        };
        let answer: Value = submit("bad").await.unwrap().json().await.unwrap();
        assert_eq!(answer["errors"]["reason"], "Say why, please", "{answer}");
        assert_eq!(sandbox.views("U0ANA").len(), 1);
        let payload = payload_of(&received.lock().unwrap()[2].3);
        assert_eq!(payload["type"], "view_submission");
        assert_eq!(payload["view"]["id"], json!(view_id));
        assert_eq!(payload["view"]["private_metadata"], "apr_1");
        assert_eq!(
            payload["view"]["state"]["values"]["reason"]["text"]["value"],
            "bad"
        );
        let answer: Value = submit("Too expensive").await.unwrap().json().await.unwrap();
        assert_eq!(answer["closed"], true, "{answer}");
        assert!(sandbox.views("U0ANA").is_empty());

        // Uninstall: tokens stop working and app_uninstalled is sent.
        let answer: Value = post("/_sandbox/ui/uninstall", json!({"team": "T0SANDBOX"}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            (answer["status"].as_u64(), answer["revoked_tokens"].as_u64()),
            (Some(200), Some(1))
        );
        let callback: Value = serde_json::from_str(&received.lock().unwrap()[4].3).unwrap();
        assert_eq!(callback["event"]["type"], "app_uninstalled");
        assert_eq!(callback["team_id"], "T0SANDBOX");
        assert!(
            received.lock().unwrap().iter().all(|r| r.1),
            "every request is signed"
        );
    }

    #[tokio::test]
    async fn a_dm_shows_for_its_person_and_deactivated_people_cannot_act() {
        let sandbox = SlackSandbox::new(super::super::SandboxConfig::default());
        let base = sandbox.start().await.unwrap();
        let token = sandbox.issue_bot_token("T0SANDBOX");
        let http = reqwest::Client::new();
        let posted: Value = http
            .post(format!("{base}/api/chat.postMessage"))
            .bearer_auth(&token)
            .json(&json!({"channel": "U0BEN", "text": "Please approve"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(posted["channel"], "D0BEN", "{posted}");
        let page = |query: &'static str| {
            let http = http.clone();
            let url = format!("{base}/{query}");
            async move { http.get(url).send().await.unwrap().text().await.unwrap() }
        };
        let section = |page: &str, heading: &str| {
            let start = page
                .find(heading)
                .unwrap_or_else(|| panic!("{heading}: {page}"));
            let end = start + page[start..].find("</ul>").unwrap();
            page[start..end].to_owned()
        };
        let dm_label = "Sandbox Approvals (app) ↔ Ben Buyer (@ben)";

        let as_ben = page("?user=U0BEN").await;
        assert!(
            section(&as_ben, "id=\"dms-heading\"").contains(dm_label),
            "{as_ben}"
        );
        assert!(!as_ben.contains("other-dms-heading"));
        let as_ana = page("?user=U0ANA").await;
        assert!(!section(&as_ana, "id=\"dms-heading\"").contains(dm_label));
        let others = section(&as_ana, "id=\"other-dms-heading\"");
        assert!(others.contains(dm_label), "{others}");
        assert!(
            others.contains(
                "channel=D0BEN&amp;user=U0BEN\" data-channel=\"D0BEN\" data-user=\"U0BEN\""
            ),
            "another person's DM opens as them: {others}"
        );

        // Opening the DM acts as its person; the app's message carries the APP badge.
        let dm = page("?channel=D0BEN").await;
        assert!(dm.contains("data-user=\"U0BEN\""), "{dm}");
        assert!(dm.contains("Direct messages: Sandbox Approvals (app) and @ben"));
        assert!(dm.contains(
            "<span class=\"author\">Sandbox Approvals</span> <span class=\"badge\">APP</span>"
        ));

        // The picker offers active people only; a deactivated selection is marked.
        let picker = section(&as_ana, "<select id=\"act-as\"");
        for id in ["U0ANA", "U0BEN", "U0CARA", "U0GIA", "U0OUT"] {
            assert!(
                picker.contains(&format!("value=\"{id}\"")),
                "{id}: {picker}"
            );
        }
        for id in ["U0GONE", "U0BOT", "USLACKBOT"] {
            assert!(
                !picker.contains(&format!("value=\"{id}\"")),
                "{id}: {picker}"
            );
        }
        assert!(picker.contains("Gia Guest (@gia) (guest)"));
        assert!(picker.contains("(external, T0OUTSIDE)"));
        let as_gone = page("?user=U0GONE").await;
        assert!(as_gone.contains("Gabe Gone (@gone) (deactivated)</option>"));
        let reply = http
            .post(format!("{base}/_sandbox/ui/reply"))
            .json(&json!({"channel": "D0BEN", "thread_ts": posted["ts"], "user": "U0GONE", "text": "hi"}))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 400);
        assert!(reply.text().await.unwrap().contains("deactivated"));
    }

    #[tokio::test]
    async fn act_as_comes_from_the_url_and_the_request_form_hands_it_on() {
        let sandbox = SlackSandbox::new(super::super::SandboxConfig {
            demo_request_url: Some("http://127.0.0.1:1/demo/request".into()),
            ..Default::default()
        });
        let base = sandbox.start().await.unwrap();
        let http = reqwest::Client::new();
        let get = |query: &str| {
            let request = http.get(format!("{base}/{query}")).send();
            async move { request.await.unwrap().text().await.unwrap() }
        };

        // `?as=` (a host's redirect) acts as that person; it wins over `user`.
        for query in ["?as=U0BEN", "?channel=C0APPROVALS&user=U0ANA&as=U0BEN"] {
            let page = get(query).await;
            assert!(page.contains("data-user=\"U0BEN\""), "{query}: {page}");
            assert!(
                page.contains("<option value=\"U0BEN\" selected>"),
                "{query}"
            );
            assert!(
                page.contains(
                    "<input type=\"hidden\" id=\"request-as\" name=\"as\" value=\"U0BEN\">"
                ),
                "the request form posts who is acting: {page}"
            );
            assert!(page.contains("Reply as <span id=\"reply-as\">Ben Buyer</span>"));
        }
        let state: Value = serde_json::from_str(&get("_sandbox/ui/state?as=U0CARA").await).unwrap();
        assert_eq!(state["user"], "U0CARA", "{state}");
        // Without one, the first active person, as before.
        assert!(get("")
            .await
            .contains("id=\"request-as\" name=\"as\" value=\"U0ANA\""));
        let unknown = http
            .get(format!("{base}/?as=U0NOBODY"))
            .send()
            .await
            .unwrap();
        assert_eq!(unknown.status(), 400);

        // The page has the stale-screen control and the phone-width sidebar toggle.
        let page = get("?as=U0BEN").await;
        for id in [
            "freeze",
            "frozen-banner",
            "resume",
            "sidebar-toggle",
            "sidebar-body",
        ] {
            assert!(page.contains(&format!("id=\"{id}\"")), "{id}");
        }
        assert!(page.contains("Screen frozen — live updates paused."));
    }

    #[test]
    fn the_apps_messages_carry_the_apps_name() {
        let names = names();
        assert_eq!(names.author("U0BOT"), "Sandbox Approvals");
        assert_eq!(names.author("B0SANDBOX"), "Sandbox Approvals");
        assert_eq!(names.author("U0BEN"), "Ben Buyer");
        let html = render_message(&message("1.000001", None, None, "hi"), &names, false, false);
        assert!(
            html.contains(
                "<span class=\"author\">Sandbox Approvals</span> <span class=\"badge\">APP</span>"
            ),
            "{html}"
        );
    }

    #[tokio::test]
    async fn the_home_tab_shows_each_persons_view_and_updates_live() {
        let sandbox = SlackSandbox::new(super::super::SandboxConfig::default());
        let base = sandbox.start().await.unwrap();
        let token = sandbox.issue_bot_token("T0SANDBOX");
        let http = reqwest::Client::new();
        let get = |query: &str| {
            let request = http.get(format!("{base}/{query}")).send();
            async move { request.await.unwrap().text().await.unwrap() }
        };

        // Before the app publishes: Slack's empty Home, in place of the conversation.
        let page = get("?tab=home&user=U0ANA").await;
        assert!(
            page.contains(
                "<a id=\"home-tab\" href=\"/?team=T0SANDBOX&amp;tab=home&amp;user=U0ANA\" \
                 data-tab=\"home\" aria-current=\"page\">Sandbox Approvals · Home</a>"
            ),
            "{page}"
        );
        assert!(page.contains("data-tab=\"home\" data-ts=\"\">"), "{page}");
        assert!(page.contains("<h2 id=\"channel-title\">Sandbox Approvals · Home</h2>"));
        assert!(
            page.contains("aria-labelledby=\"channel-title\" hidden>"),
            "messages hidden"
        );
        let home_section = page
            .split("<section id=\"home-view\"")
            .nth(1)
            .and_then(|rest| rest.split("</section>").next())
            .unwrap()
            .to_owned();
        let opening_tag = |section: &str| section.split('>').next().unwrap().to_owned();
        assert!(
            !opening_tag(&home_section).ends_with(" hidden"),
            "{home_section}"
        );
        assert!(
            home_section.contains("has not published a Home tab for"),
            "{home_section}"
        );
        let channel_page = get("?user=U0ANA").await;
        assert!(channel_page.contains("data-tab=\"home\">Sandbox Approvals · Home</a>"));
        let hidden_home = channel_page
            .split("<section id=\"home-view\"")
            .nth(1)
            .unwrap();
        assert!(
            opening_tag(hidden_home).ends_with(" hidden"),
            "a channel shows instead"
        );

        // A publish wakes the page's long poll; the state then carries the view, live buttons
        // and all.
        let state_url = format!("{base}/_sandbox/ui/state?tab=home&user=U0ANA");
        let before: Value = http
            .get(&state_url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(before["tab"], "home");
        assert_eq!(before["home_view"], Value::Null);
        let version = before["version"].as_u64().unwrap();
        let waiting = tokio::spawn(
            http.get(format!("{base}/_sandbox/ui/events?since={version}"))
                .send(),
        );
        let published: Value = http
            .post(format!("{base}/api/views.publish"))
            .bearer_auth(&token)
            .json(&json!({"user_id": "U0ANA", "view": {"type": "home", "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": "*2 requests* wait for you"}},
                {"type": "actions", "block_id": "req_apr_1", "elements": [
                    {"type": "button", "action_id": "approve", "style": "primary", "value": "apr_1",
                     "text": {"type": "plain_text", "text": "Approve"}},
                    {"type": "button", "action_id": "open", "url": "https://host.example/apr_1",
                     "text": {"type": "plain_text", "text": "Open"}}]}]}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(published["ok"], true, "{published}");
        let woke: Value = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap()
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(woke["version"].as_u64().unwrap() > version);
        let after: Value = http
            .get(&state_url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(after["home_view"]["id"], published["view"]["id"]);
        let home = after["html"]["home"]["html"].as_str().unwrap();
        assert_ne!(after["html"]["home"]["rev"], before["html"]["home"]["rev"]);
        assert!(
            home.contains(&format!(
                "data-view-id=\"{}\"",
                published["view"]["id"].as_str().unwrap()
            )),
            "{home}"
        );
        assert!(home.contains("<strong>2 requests</strong> wait for you"));
        assert!(
            home.contains(
                "<button type=\"button\" class=\"bk-button primary\" data-action-id=\"approve\" \
                 data-block-id=\"req_apr_1\">Approve</button>"
            ),
            "a live button, not a modal's disabled one: {home}"
        );
        assert!(home.contains(
            "<a class=\"bk-button\" href=\"https://host.example/apr_1\" target=\"_blank\""
        ));
        assert!(!home.contains("has not published"));

        // Each person has their own Home.
        let as_ben: Value = http
            .get(format!("{base}/_sandbox/ui/state?tab=home&user=U0BEN"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(as_ben["home_view"], Value::Null);
        assert!(as_ben["html"]["home"]["html"]
            .as_str()
            .unwrap()
            .contains("has not published a Home tab"));
    }

    #[tokio::test]
    async fn a_long_poll_ends_when_its_client_goes_away() {
        use tokio::io::AsyncWriteExt;
        let sandbox = SlackSandbox::new(super::super::SandboxConfig::default());
        let base = sandbox.start().await.unwrap();
        let before = sandbox.version.receiver_count();
        let version = *sandbox.version.borrow();
        let mut client = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
            .await
            .unwrap();
        let request =
            format!("GET /_sandbox/ui/events?since={version} HTTP/1.1\r\nhost: sandbox\r\n\r\n");
        client.write_all(request.as_bytes()).await.unwrap();
        let waiting = async {
            while sandbox.version.receiver_count() == before {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the poll waits");
        drop(client);
        let released = async {
            while sandbox.version.receiver_count() > before {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), released)
            .await
            .expect("the wait ends with its connection, long before the 25 s bound");
    }
}
