//! The Slack sandbox: workspaces, tokens, messages and recorded calls behind Slack's Web API.

mod block_kit;
mod home;
mod oauth;
mod reminders;
mod ui;
mod web_api;
mod zones;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::watch;

pub use block_kit::validate_blocks;
pub use ui::{DeliveryError, OpenView};

/// Slackbot's user id: `is_bot` is false for it, as in Slack; clients filter it by id.
pub const SLACKBOT: &str = "USLACKBOT";

/// A member of a sandbox workspace: a person, a bot user, Slackbot, or a Slack Connect outsider.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct User {
    pub id: String,
    pub name: String,
    pub real_name: String,
    /// Empty for bots and Slackbot: their profile has no `email`.
    pub email: String,
    /// IANA zone name; empty for a user without one (the user object then has no `tz` fields).
    pub tz: String,
    /// Seconds east of UTC when the user was made or last changed: a snapshot. The Web API
    /// answers the offset in force at the time of the call for zones the sandbox knows
    /// ([`User::new`] fills it in the same way) and this value for others.
    pub tz_offset: i64,
    /// Deactivated: still listed by `users.list` and `users.info`, not found by
    /// `users.lookupByEmail`; `conversations.open` answers `user_disabled`.
    pub deleted: bool,
    pub is_bot: bool,
    /// A guest (multi-channel).
    pub is_restricted: bool,
    /// The user's home team when it is not the workspace's own: a Slack Connect outsider.
    /// Outsiders are not in `users.list` (Slack: "use users.info to retrieve additional
    /// information on cross-team user ID not found in users.list").
    pub team_id: Option<String>,
    /// Unix seconds of the last profile change (the user object's `updated`).
    pub updated: i64,
}

impl User {
    /// An active person; `tz_offset` is the zone's offset now when the sandbox knows the zone
    /// (see [`known_time_zones`]), else 0.
    pub fn new(id: &str, name: &str, real_name: &str, email: &str, tz: &str) -> Self {
        let now = crate::unix_now();
        Self {
            id: id.into(),
            name: name.into(),
            real_name: real_name.into(),
            email: email.into(),
            tz: tz.into(),
            tz_offset: zones::zone_at(tz, now).map_or(0, |zone| zone.0),
            updated: now,
            ..Self::default()
        }
    }

    /// Someone who can use Slack's client here: active, not a bot, not Slackbot.
    pub fn is_active_person(&self) -> bool {
        !self.deleted && !self.is_bot && self.id != SLACKBOT
    }

    /// A Slack Connect outsider: their home team is not the workspace.
    pub fn is_external(&self) -> bool {
        self.team_id.is_some()
    }

    /// Slack's user object (`users.info`, `users.list`, `team_join`, `user_change`) for this
    /// user as seen from the workspace `workspace_team_id`.
    pub fn to_slack_json(&self, workspace_team_id: &str) -> Value {
        let mut profile = json!({
            "real_name": self.real_name,
            "display_name": self.name,
            "real_name_normalized": self.real_name,
            "display_name_normalized": self.name,
            "team": self.team_id.as_deref().unwrap_or(workspace_team_id),
        });
        if !self.email.is_empty() {
            profile["email"] = json!(self.email);
        }
        let mut user = json!({
            "id": self.id,
            "team_id": self.team_id.as_deref().unwrap_or(workspace_team_id),
            "name": self.name,
            "real_name": self.real_name,
            "deleted": self.deleted,
            "is_bot": self.is_bot,
            "is_app_user": false,
            "is_restricted": self.is_restricted,
            "is_ultra_restricted": false,
            "updated": self.updated,
            "profile": profile,
        });
        if !self.tz.is_empty() {
            let (offset, label) = match zones::zone_at(&self.tz, crate::unix_now()) {
                Some((offset, label)) => (offset, label.to_owned()),
                None => (self.tz_offset, self.tz.clone()),
            };
            user["tz"] = json!(self.tz);
            user["tz_label"] = json!(label);
            user["tz_offset"] = json!(offset);
        }
        user
    }
}

/// Changes to a user for [`SlackSandbox::change_user`]; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    pub deleted: Option<bool>,
    pub tz: Option<String>,
    pub email: Option<String>,
    pub real_name: Option<String>,
}

/// The IANA zones whose offsets and labels the sandbox computes (with daylight-saving time).
pub fn known_time_zones() -> Vec<&'static str> {
    zones::known_zones().collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct Channel {
    pub id: String,
    pub name: String,
    /// Set for direct-message channels: the person on the other side.
    pub dm_user: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Workspace {
    pub team_id: String,
    pub name: String,
    pub domain: String,
    pub enterprise_id: Option<String>,
    pub channels: Vec<Channel>,
    pub users: Vec<User>,
}

impl Workspace {
    /// The demo workspace: #approvals, #general, seven people in different time zones (one a
    /// guest; one in St John's, whose offset is a half hour off the hour), a deactivated person, the app's bot user `U0BOT`, Slackbot and a Slack Connect
    /// outsider from `T0OUTSIDE`.
    pub fn demo() -> Self {
        let person = |id: &str, name: &str, real: &str, tz: &str| {
            User::new(id, name, real, &format!("{name}@sandbox.example"), tz)
        };
        let gone = User {
            deleted: true,
            ..person("U0GONE", "gone", "Gabe Gone", "Europe/London")
        };
        let guest = User {
            is_restricted: true,
            ..person("U0GIA", "gia", "Gia Guest", "Asia/Kathmandu")
        };
        let bot = User {
            is_bot: true,
            ..User::new("U0BOT", "approvals", "Approvals", "", "America/Los_Angeles")
        };
        // Slackbot is no bot as far as the API goes.
        let slackbot = User::new(SLACKBOT, "slackbot", "Slackbot", "", "America/Los_Angeles");
        let outsider = User {
            team_id: Some("T0OUTSIDE".into()),
            ..User::new(
                "U0OUT",
                "out",
                "Olu Outsider",
                "out@partner.example",
                "Australia/Adelaide",
            )
        };
        Self {
            team_id: "T0SANDBOX".into(),
            name: "Sandbox Co".into(),
            domain: "sandbox-co".into(),
            // Part of an Enterprise Grid org, so the authorize page offers an org-wide install.
            enterprise_id: Some("E0SANDBOX".into()),
            channels: vec![
                Channel {
                    id: "C0APPROVALS".into(),
                    name: "approvals".into(),
                    dm_user: None,
                },
                Channel {
                    id: "C0GENERAL".into(),
                    name: "general".into(),
                    dm_user: None,
                },
            ],
            users: vec![
                person("U0ANA", "ana", "Ana Approver", "Europe/Lisbon"),
                person("U0BEN", "ben", "Ben Buyer", "America/New_York"),
                person("U0PAT", "pat", "Pat Partner", "Europe/Berlin"),
                person("U0CARA", "cara", "Cara Controller", "Asia/Kolkata"),
                person("U0DEV", "dev", "Dev Director", "America/Los_Angeles"),
                person("U0NOOR", "noor", "Noor Newfoundland", "America/St_Johns"),
                guest,
                gone,
                bot,
                slackbot,
                outsider,
            ],
        }
    }

    /// The demo workspace (channels and users) under another team id, for tests that need
    /// several teams.
    pub fn named(team_id: &str, enterprise_id: Option<&str>) -> Self {
        let mut workspace = Self::demo();
        workspace.team_id = team_id.into();
        workspace.name = format!("Workspace {team_id}");
        workspace.domain = team_id.to_lowercase();
        workspace.enterprise_id = enterprise_id.map(str::to_owned);
        workspace
    }
}

/// What a bot token was issued for.
#[derive(Debug, Clone, Serialize)]
pub struct TokenGrant {
    pub team_id: Option<String>,
    pub enterprise_id: Option<String>,
    pub is_enterprise_install: bool,
    pub bot_user_id: String,
    pub revoked: bool,
    /// Rotating tokens expire; `None` for classic long-lived tokens.
    pub expires_at: Option<i64>,
}

/// A message as Slack holds it.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub channel: String,
    pub ts: String,
    pub thread_ts: Option<String>,
    pub user: String,
    pub text: String,
    pub blocks: Value,
    /// Shown only to this user (`chat.postEphemeral`, ephemeral `response_url` notes).
    pub ephemeral_for: Option<String>,
    pub edits: u32,
    /// Earlier versions' blocks: a client that has not refreshed can still click their buttons.
    #[serde(skip)]
    pub earlier_blocks: Vec<Value>,
}

/// A Web API call as received, with what the sandbox answered.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedCall {
    pub method: String,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u128,
    pub params: Value,
    pub http_status: u16,
    pub error: Option<String>,
}

/// A misbehaviour to show the next calls of a method.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// HTTP 429 with `Retry-After`.
    RateLimited { retry_after_secs: u64 },
    /// An HTTP 5xx with no Web API body.
    ServerError { status: u16 },
    /// No answer for this long (clients should time out first).
    Hang { millis: u64 },
    /// HTTP 200 with `{"ok":false,"error":code}`.
    Error { code: String },
    /// The call is carried out (a message posted, a token rotated), then the answer is lost:
    /// HTTP `status` with no Web API body, after `millis` of silence. The ambiguous case a
    /// client must never repeat blindly.
    CommitThenFail {
        status: u16,
        #[serde(default)]
        millis: u64,
    },
}

/// A file announced by `files.getUploadURLExternal`, its bytes once POSTed.
#[derive(Debug, Clone)]
pub struct Upload {
    pub filename: String,
    pub length: usize,
    pub bytes: Option<Vec<u8>>,
    pub completed: bool,
}

struct ResponseUrl {
    channel: String,
    message_ts: String,
    user: String,
    uses: u32,
    created: i64,
}

#[derive(Default)]
struct State {
    workspaces: Vec<Workspace>,
    tokens: HashMap<String, TokenGrant>,
    messages: Vec<Message>,
    calls: Vec<RecordedCall>,
    faults: HashMap<String, VecDeque<Fault>>,
    response_urls: HashMap<String, ResponseUrl>,
    next_ts: u64,
    oauth_codes: HashMap<String, oauth::PendingCode>,
    /// Refresh tokens and whether they were used (each works once).
    refresh_tokens: HashMap<String, oauth::RefreshGrant>,
    /// `trigger_id` → (user, issued at in ms): `views.open` accepts one for 3 seconds.
    triggers: HashMap<String, (String, u128)>,
    /// Files v2 uploads by file id.
    uploads: HashMap<String, Upload>,
    /// Published Home tab views by (team, user), as `views.publish` answered them.
    home_views: HashMap<(String, String), Value>,
    /// Open modals and run-time delivery targets (the workspace page).
    ui: ui::UiState,
}

/// Settings a sandbox needs to act like Slack towards our endpoints.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub signing_secret: String,
    pub app_id: String,
    /// The installed app's name, as Slack shows it on the authorize page and as the author
    /// of the app's messages.
    pub app_name: String,
    /// The workspaces that exist from the start.
    pub workspaces: Vec<Workspace>,
    /// The app's OAuth credentials, checked by `oauth.v2.access`.
    pub client_id: String,
    pub client_secret: String,
    /// Token rotation on: installs answer `refresh_token` and `expires_in`.
    pub token_rotation: bool,
    /// Where the page sends signed `block_actions` and `view_submission` (the app's request URL).
    pub interactivity_url: Option<String>,
    /// Where the page sends signed Events API callbacks (thread replies, `app_uninstalled`).
    pub events_url: Option<String>,
    /// (label, url) links shown in the page header, e.g. the host webhook log.
    pub links: Vec<(String, String)>,
    /// Where the page's "Request an approval" form posts (the dev server's demo host).
    pub demo_request_url: Option<String>,
    /// The app manifest's `features.app_home.home_tab_enabled`: when false, `views.publish`
    /// of a `home` view answers `not_enabled` and the page shows no Home tab, as in Slack.
    pub home_tab_enabled: bool,
    /// Where the page's "Run reminders at…" control posts `{"scheduled_time": …}` (the dev
    /// server's stand-in for the EventBridge schedule); loopback only. No control when unset.
    pub reminders_url: Option<String>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            signing_secret: "sandbox-signing-secret".into(),
            app_id: "A0SANDBOX".into(),
            app_name: "Sandbox Approvals".into(),
            workspaces: vec![Workspace::demo()],
            client_id: "1111.2222".into(),
            client_secret: "sandbox-client-secret".into(),
            token_rotation: false,
            interactivity_url: None,
            events_url: None,
            links: Vec::new(),
            demo_request_url: None,
            home_tab_enabled: true,
            reminders_url: None,
        }
    }
}

pub struct SlackSandbox {
    config: SandboxConfig,
    state: Mutex<State>,
    base_url: Mutex<String>,
    version: watch::Sender<u64>,
}

/// Errors of the sandbox's own Rust API (not Slack error codes).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("no message {ts} in {channel}")]
    NoMessage { channel: String, ts: String },
    #[error("the message has no button {0}")]
    NoButton(String),
    #[error("no user {0} in the sandbox")]
    NoUser(String),
    #[error("user {0} is deactivated")]
    Deactivated(String),
    #[error("there is no workspace {0} in the sandbox")]
    NoWorkspace(String),
    /// A user that cannot be added or changed as asked (the message says why).
    #[error("{0}")]
    InvalidUser(String),
    /// The id or email is already taken in that workspace.
    #[error("{0}")]
    Conflict(String),
    #[error("{user_id} has no Home view published in {team_id}")]
    NoHomeView { team_id: String, user_id: String },
    #[error("the Home view has no button {action_id} in block {block_id}")]
    NoHomeButton { block_id: String, action_id: String },
    /// `SandboxConfig::home_tab_enabled` is off, so nobody can open the Home tab.
    #[error("the app's Home tab is not enabled")]
    HomeTabDisabled,
}

impl SlackSandbox {
    pub fn new(config: SandboxConfig) -> Arc<Self> {
        let state = State {
            workspaces: config.workspaces.clone(),
            next_ts: 1,
            ..State::default()
        };
        Arc::new(Self {
            config,
            state: Mutex::new(state),
            base_url: Mutex::new(String::new()),
            version: watch::channel(0).0,
        })
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn changed(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    /// Notified on every change (messages, calls); the sandbox page and tests wait on it.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// The Web API, `response_url`s and the control endpoints.
    pub fn router(self: &Arc<Self>) -> Router {
        web_api::router(self.clone())
            .merge(oauth::router(self.clone()))
            .merge(ui::router(self.clone()))
            .merge(reminders::router(self.clone()))
    }

    /// Serves on a free loopback port; returns the base URL (the API is at `{base}/api`).
    pub async fn start(self: &Arc<Self>) -> std::io::Result<String> {
        let listener = crate::loopback_listener().await?;
        let base = format!("http://{}", listener.local_addr()?);
        self.set_base_url(&base);
        let router = self.router();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Ok(base)
    }

    /// Where the sandbox is reachable; `response_url`s are made from it.
    pub fn set_base_url(&self, base: &str) {
        *self.base_url.lock().unwrap() = base.trim_end_matches('/').to_owned();
    }

    pub fn add_workspace(&self, workspace: Workspace) {
        let mut state = self.state();
        state.workspaces.retain(|w| w.team_id != workspace.team_id);
        state.workspaces.push(workspace);
        drop(state);
        self.changed();
    }

    pub fn workspaces(&self) -> Vec<Workspace> {
        self.state().workspaces.clone()
    }

    /// A user as stored in a workspace.
    pub fn user(&self, team_id: &str, user_id: &str) -> Option<User> {
        self.state()
            .workspaces
            .iter()
            .find(|w| w.team_id == team_id)?
            .users
            .iter()
            .find(|u| u.id == user_id)
            .cloned()
    }

    /// Adds a member to a workspace, as an invite being accepted would, and returns the
    /// `team_join` event Slack sends for it (not delivered: pass it to
    /// [`SlackSandbox::send_event`] with the same `team_id`). An empty `id` gets a fresh
    /// `U…` id; `updated` is set to now. Refused: an unknown workspace, an empty `name`, a
    /// malformed id or email, or an id or email (case-insensitive) already there. Any `tz` is
    /// taken as given (the HTTP control only takes zones the sandbox knows).
    pub fn add_user(&self, team_id: &str, mut user: User) -> Result<Value, SandboxError> {
        let invalid = |message: String| Err(SandboxError::InvalidUser(message));
        if user.name.trim().is_empty() || user.name.chars().any(char::is_whitespace) {
            return invalid(format!(
                "name: {:?} must be a non-empty handle without spaces",
                user.name
            ));
        }
        if !user.email.is_empty() {
            check_email(&user.email).map_err(SandboxError::InvalidUser)?;
        }
        if user.real_name.is_empty() {
            user.real_name = user.name.clone();
        }
        if user.id.is_empty() {
            user.id = format!("U0{}", random_hex(4).to_uppercase());
        } else if !is_user_id(&user.id) {
            return invalid(format!(
                "id: {:?} is not a Slack user id (U or W, then capital letters and digits)",
                user.id
            ));
        }
        user.updated = crate::unix_now();
        let mut state = self.state();
        let workspace = state
            .workspaces
            .iter_mut()
            .find(|w| w.team_id == team_id)
            .ok_or_else(|| SandboxError::NoWorkspace(team_id.into()))?;
        if workspace.users.iter().any(|u| u.id == user.id) {
            return Err(SandboxError::Conflict(format!(
                "{team_id} already has a user {}",
                user.id
            )));
        }
        if let Some(taken) = email_owner(workspace, &user.email, None) {
            return Err(SandboxError::Conflict(format!(
                "{team_id}: {taken} already has the email {}",
                user.email
            )));
        }
        let event = json!({
            "type": "team_join",
            "user": user.to_slack_json(team_id),
            "event_ts": event_ts(),
        });
        workspace.users.push(user);
        drop(state);
        self.changed();
        Ok(event)
    }

    /// Changes a member (deactivates or reactivates, moves time zone, changes email or name)
    /// and returns the `user_change` event Slack sends for it (not delivered: pass it to
    /// [`SlackSandbox::send_event`] with the same `team_id`). A known `tz` also refreshes the
    /// stored `tz_offset`; an unknown one is refused.
    pub fn change_user(
        &self,
        team_id: &str,
        user_id: &str,
        change: &UserChange,
    ) -> Result<Value, SandboxError> {
        let now = crate::unix_now();
        if let Some(tz) = &change.tz {
            check_time_zone(tz).map_err(SandboxError::InvalidUser)?;
        }
        if let Some(email) = change.email.as_deref().filter(|e| !e.is_empty()) {
            check_email(email).map_err(SandboxError::InvalidUser)?;
        }
        if change.real_name.as_deref() == Some("") {
            return Err(SandboxError::InvalidUser(
                "real_name: must not be empty".into(),
            ));
        }
        let mut state = self.state();
        let workspace = state
            .workspaces
            .iter_mut()
            .find(|w| w.team_id == team_id)
            .ok_or_else(|| SandboxError::NoWorkspace(team_id.into()))?;
        if let Some(email) = &change.email {
            if let Some(taken) = email_owner(workspace, email, Some(user_id)) {
                return Err(SandboxError::Conflict(format!(
                    "{team_id}: {taken} already has the email {email}"
                )));
            }
        }
        let user = workspace
            .users
            .iter_mut()
            .find(|u| u.id == user_id)
            .ok_or_else(|| SandboxError::NoUser(user_id.into()))?;
        if let Some(deleted) = change.deleted {
            user.deleted = deleted;
        }
        if let Some(tz) = &change.tz {
            user.tz.clone_from(tz);
            user.tz_offset = zones::zone_at(tz, now).map_or(0, |zone| zone.0);
        }
        if let Some(email) = &change.email {
            user.email.clone_from(email);
        }
        if let Some(real_name) = &change.real_name {
            user.real_name.clone_from(real_name);
        }
        user.updated = now;
        let event = json!({
            "type": "user_change",
            "user": user.to_slack_json(team_id),
            "cache_ts": now,
            "event_ts": event_ts(),
        });
        drop(state);
        self.changed();
        Ok(event)
    }

    /// Issues a bot token for a workspace, as an install would.
    pub fn issue_bot_token(&self, team_id: &str) -> String {
        let token = format!("xoxb-{}-{}", team_id, random_hex(12));
        self.state().tokens.insert(
            token.clone(),
            TokenGrant {
                team_id: Some(team_id.into()),
                enterprise_id: None,
                is_enterprise_install: false,
                bot_user_id: "U0BOT".into(),
                revoked: false,
                expires_at: None,
            },
        );
        token
    }

    /// Issues an org-wide bot token, valid in every workspace of the enterprise.
    pub fn issue_org_bot_token(&self, enterprise_id: &str) -> String {
        let token = format!("xoxb-{}-{}", enterprise_id, random_hex(12));
        self.state().tokens.insert(
            token.clone(),
            TokenGrant {
                team_id: None,
                enterprise_id: Some(enterprise_id.into()),
                is_enterprise_install: true,
                bot_user_id: "U0BOT".into(),
                revoked: false,
                expires_at: None,
            },
        );
        token
    }

    /// Ends a token's life now, as twelve hours would for a rotating one.
    pub fn expire_token(&self, token: &str) {
        if let Some(grant) = self.state().tokens.get_mut(token) {
            grant.expires_at = Some(crate::unix_now() - 1);
        }
    }

    /// Makes the next `count` calls of `method` misbehave.
    pub fn inject(&self, method: &str, fault: Fault, count: usize) {
        let mut state = self.state();
        let queue = state.faults.entry(method.into()).or_default();
        queue.extend(std::iter::repeat_n(fault, count));
    }

    /// Recorded calls, oldest first; `None` for every method.
    pub fn calls(&self, method: Option<&str>) -> Vec<RecordedCall> {
        self.state()
            .calls
            .iter()
            .filter(|call| method.is_none_or(|m| call.method == m))
            .cloned()
            .collect()
    }

    pub fn messages(&self, channel: &str) -> Vec<Message> {
        self.state()
            .messages
            .iter()
            .filter(|m| m.channel == channel)
            .cloned()
            .collect()
    }

    pub fn message(&self, channel: &str, ts: &str) -> Option<Message> {
        self.state()
            .messages
            .iter()
            .find(|m| m.channel == channel && m.ts == ts && m.ephemeral_for.is_none())
            .cloned()
    }

    /// A Files v2 upload as received (bytes, and whether it was completed).
    pub fn upload(&self, file_id: &str) -> Option<Upload> {
        self.state().uploads.get(file_id).cloned()
    }

    /// Clears messages, calls and faults; workspaces and tokens stay.
    pub fn reset(&self) {
        let mut state = self.state();
        state.messages.clear();
        state.calls.clear();
        state.faults.clear();
        state.response_urls.clear();
        state.ui.views.clear();
        state.home_views.clear();
        drop(state);
        self.changed();
    }

    /// The form body Slack sends when `user_id` clicks the button `action_id` on a message:
    /// a `block_actions` payload with a fresh `response_url`. The first button with that
    /// `action_id` is clicked; see [`SlackSandbox::click_payload_in_block`] for messages that
    /// repeat an `action_id` in several blocks.
    pub fn click_payload(
        &self,
        channel: &str,
        message_ts: &str,
        action_id: &str,
        user_id: &str,
    ) -> Result<String, SandboxError> {
        self.message_click(channel, message_ts, None, action_id, user_id)
    }

    /// Like [`SlackSandbox::click_payload`], for the button `action_id` in the block
    /// `block_id`: Slack allows the same `action_id` in different blocks (a digest with one
    /// actions block per request), and reports the clicked one's `block_id`.
    pub fn click_payload_in_block(
        &self,
        channel: &str,
        message_ts: &str,
        block_id: &str,
        action_id: &str,
        user_id: &str,
    ) -> Result<String, SandboxError> {
        self.message_click(channel, message_ts, Some(block_id), action_id, user_id)
    }

    fn message_click(
        &self,
        channel: &str,
        message_ts: &str,
        block_id: Option<&str>,
        action_id: &str,
        user_id: &str,
    ) -> Result<String, SandboxError> {
        let message = self
            .message(channel, message_ts)
            .ok_or_else(|| SandboxError::NoMessage {
                channel: channel.into(),
                ts: message_ts.into(),
            })?;
        // Like Slack, a stale client may click a button that a later edit removed.
        let (block_id, element) = std::iter::once(&message.blocks)
            .chain(message.earlier_blocks.iter().rev())
            .find_map(|blocks| find_button(blocks, block_id, action_id))
            .ok_or_else(|| {
                SandboxError::NoButton(match block_id {
                    Some(block) => format!("{action_id} in block {block}"),
                    None => action_id.into(),
                })
            })?;
        let mut state = self.state();
        let (workspace, user) = state
            .workspaces
            .iter()
            .filter(|w| w.channels.iter().any(|c| c.id == channel))
            .find_map(|w| {
                w.users
                    .iter()
                    .find(|u| u.id == user_id)
                    .map(|u| (w.clone(), u.clone()))
            })
            .ok_or_else(|| SandboxError::NoUser(user_id.into()))?;
        if user.deleted {
            return Err(SandboxError::Deactivated(user_id.into()));
        }
        let response_token = random_hex(16);
        state.response_urls.insert(
            response_token.clone(),
            ResponseUrl {
                channel: channel.into(),
                message_ts: message_ts.into(),
                user: user_id.into(),
                uses: 0,
                created: crate::unix_now(),
            },
        );
        let base = self.base_url.lock().unwrap().clone();
        let (trigger_id, action_ts) = issue_trigger(&mut state, user_id);
        let payload = json!({
            "type": "block_actions",
            "team": {"id": workspace.team_id, "domain": workspace.domain,
                     "enterprise_id": workspace.enterprise_id},
            "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": workspace.team_id},
            "api_app_id": self.config.app_id,
            "token": "deprecated-verification-token",
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": false},
            "trigger_id": trigger_id,
            "channel": {"id": channel, "name": channel_name(&workspace, channel)},
            "message": {"type": "message", "ts": message.ts, "text": message.text, "blocks": message.blocks},
            "response_url": format!("{base}/response/{response_token}"),
            "actions": [{
                "type": element["type"], "action_id": action_id, "block_id": block_id,
                "text": element["text"], "value": element["value"], "style": element["style"],
                "action_ts": action_ts,
            }],
        });
        Ok(
            serde_urlencoded::to_string([("payload", payload.to_string())])
                .expect("strings encode"),
        )
    }

    /// `X-Slack-Request-Timestamp` and `X-Slack-Signature` for a body, signed now.
    pub fn sign(&self, body: &str) -> (String, String) {
        let timestamp = crate::unix_now().to_string();
        let signature = format!(
            "v0={}",
            crate::hmac_hex(
                self.config.signing_secret.as_bytes(),
                &[b"v0:", timestamp.as_bytes(), b":", body.as_bytes()]
            )
        );
        (timestamp, signature)
    }

    /// Sends a signed request to one of our endpoints, as Slack does; returns the HTTP status.
    pub async fn deliver(
        &self,
        url: &str,
        content_type: &str,
        body: String,
    ) -> Result<u16, String> {
        let (timestamp, signature) = self.sign(&body);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .build()
            .map_err(|e| e.to_string())?;
        client
            .post(url)
            .header("content-type", content_type)
            .header("x-slack-request-timestamp", timestamp)
            .header("x-slack-signature", signature)
            .body(body)
            .send()
            .await
            .map(|answer| answer.status().as_u16())
            .map_err(|e| e.without_url().to_string())
    }
}

fn event_ts() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:06}", now.as_secs(), now.subsec_micros())
}

/// `U…` or `W…` followed by capital letters and digits, as Slack's ids are.
fn is_user_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some('U' | 'W'))
        && id.len() >= 3
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

fn check_email(email: &str) -> Result<(), String> {
    let valid = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !domain.contains('@')
    }) && !email.chars().any(char::is_whitespace);
    if valid {
        Ok(())
    } else {
        Err(format!("email: {email:?} is not an email address"))
    }
}

/// Accepts the zones the sandbox knows, or "" for a user without a zone.
fn check_time_zone(tz: &str) -> Result<(), String> {
    if tz.is_empty() || zones::zone_at(tz, 0).is_some() {
        return Ok(());
    }
    Err(format!(
        "tz: {tz:?} is not a zone the sandbox knows; use one of {}",
        known_time_zones().join(", ")
    ))
}

/// Who else in the workspace has this email (compared case-insensitively).
fn email_owner(workspace: &Workspace, email: &str, except: Option<&str>) -> Option<String> {
    if email.is_empty() {
        return None;
    }
    workspace
        .users
        .iter()
        .find(|u| Some(u.id.as_str()) != except && u.email.eq_ignore_ascii_case(email))
        .map(|u| u.id.clone())
}

fn channel_name(workspace: &Workspace, channel: &str) -> String {
    workspace
        .channels
        .iter()
        .find(|c| c.id == channel)
        .map(|c| c.name.clone())
        .unwrap_or_else(|| "directmessage".into())
}

/// A fresh `trigger_id` for `user_id` (good for `views.open` for 3 seconds) and the click's
/// `action_ts`.
fn issue_trigger(state: &mut State, user_id: &str) -> (String, String) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let action_ts = format!("{}.{:06}", now.as_secs(), now.subsec_micros());
    let trigger_id = format!("{}.{}", now.as_millis(), random_hex(8));
    state
        .triggers
        .insert(trigger_id.clone(), (user_id.to_owned(), now.as_millis()));
    (trigger_id, action_ts)
}

/// The first element `action_id` among a block's `elements` or its section `accessory` (in
/// the block `block_id` when given), with that block's id.
fn find_button(blocks: &Value, block_id: Option<&str>, action_id: &str) -> Option<(String, Value)> {
    blocks.as_array()?.iter().find_map(|block| {
        if block_id.is_some_and(|wanted| block["block_id"].as_str() != Some(wanted)) {
            return None;
        }
        let element = block["elements"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(std::iter::once(&block["accessory"]))
            .find(|e| e["action_id"] == action_id)?;
        let block_id = block["block_id"].as_str().unwrap_or("actions").to_owned();
        Some((block_id, element.clone()))
    })
}

fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    (0..bytes)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}
