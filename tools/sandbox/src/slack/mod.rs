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
pub use ui::{escape_typed, DeliveryError, OpenView};

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
    /// A private channel: Slack hides it (`channel_not_found`) from a bot that is not in it.
    pub is_private: bool,
    /// Who is in it, bot users included: the app only gets `message` events from
    /// conversations its bot is in. Every active person counts as a member of a public
    /// channel whether listed or not; the app's bot is always in its own DMs.
    pub members: Vec<String>,
}

impl Channel {
    /// A public channel with these members (people; add the bot to have the app in it).
    pub fn public(id: &str, name: &str, members: &[&str]) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            dm_user: None,
            is_private: false,
            members: members.iter().map(|m| (*m).to_owned()).collect(),
        }
    }

    /// A private channel: only its members see it, the app's bot included.
    pub fn private(id: &str, name: &str, members: &[&str]) -> Self {
        Self {
            is_private: true,
            ..Self::public(id, name, members)
        }
    }

    pub fn is_dm(&self) -> bool {
        self.dm_user.is_some()
    }

    /// Whether the app's bot user `bot_user_id` is in the conversation, so Slack sends the
    /// app its message events and lets it share files there.
    pub fn has_bot(&self, bot_user_id: &str) -> bool {
        self.is_dm() || self.members.iter().any(|m| m == bot_user_id)
    }

    /// Whether a person can see and write in it: a DM's own person, anyone in a public
    /// channel, a listed member of a private one.
    pub fn admits_person(&self, user_id: &str) -> bool {
        match &self.dm_user {
            Some(person) => person == user_id,
            None => !self.is_private || self.members.iter().any(|m| m == user_id),
        }
    }

    /// The Events API's `channel_type` for messages here.
    pub fn channel_type(&self) -> &'static str {
        if self.is_dm() {
            "im"
        } else if self.is_private {
            "group"
        } else {
            "channel"
        }
    }

    /// `#name`, or `the DM with U…`, for people reading a control's answer.
    pub fn label(&self) -> String {
        if self.is_dm() {
            format!(
                "the DM with {}",
                self.dm_user.as_deref().unwrap_or_default()
            )
        } else {
            format!("#{}", self.name)
        }
    }
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
    /// The demo workspace: public #approvals and #general (the app's bot not in them until
    /// invited or joined), private #finance-private (Ana and Cara only), seven people in
    /// different time zones (one a guest; one in St John's, whose offset is a half hour off
    /// the hour), a deactivated person, the app's bot user `U0BOT`, Slackbot and a Slack
    /// Connect outsider from `T0OUTSIDE`.
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
                Channel::public("C0APPROVALS", "approvals", &PEOPLE),
                Channel::public("C0GENERAL", "general", &PEOPLE),
                Channel::private("C0FINANCE", "finance-private", &["U0ANA", "U0CARA"]),
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

/// The demo workspace's active, internal people: members of its public channels.
const PEOPLE: [&str; 7] = [
    "U0ANA", "U0BEN", "U0PAT", "U0CARA", "U0DEV", "U0NOOR", "U0GIA",
];

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
    /// The bot scopes granted at install (`oauth.v2.access`'s `scope`), which methods that
    /// check scopes answer `missing_scope` without. `None` for tokens minted directly by
    /// [`SlackSandbox::issue_bot_token`]: they pass every scope check.
    pub scopes: Option<Vec<String>>,
}

impl TokenGrant {
    /// Whether the grant covers `scope` (always, for a token minted without scopes).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes
            .as_ref()
            .is_none_or(|scopes| scopes.iter().any(|s| s == scope))
    }

    /// The app's bot id (`B…`) for this grant's bot user, as events and `auth.test` give it.
    pub fn bot_id(&self) -> String {
        bot_id_of(&self.bot_user_id)
    }
}

/// The stable bot id (`B…`) of the app's bot user: `U0BOT` → `B0BOT`. Slack gives each app's
/// bot one `bot_id`; events, views and `auth.test` agree on it so clients can filter their own.
pub fn bot_id_of(bot_user_id: &str) -> String {
    format!("B{}", bot_user_id.trim_start_matches(['U', 'W']))
}

/// A file shared in a message: the fields of Slack's file object a client reads.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SharedFile {
    pub id: String,
    pub name: String,
    pub title: String,
    pub mimetype: String,
    /// Slack's short type: `pdf`, `png`, `text`, … (the extension, or `binary`).
    pub filetype: String,
    pub size: usize,
    /// `{base}/files/{id}/{name}`, where the sandbox serves the bytes.
    pub url_private: String,
}

impl SharedFile {
    pub fn to_slack_json(&self) -> Value {
        json!({
            "id": self.id, "name": self.name, "title": self.title, "mimetype": self.mimetype,
            "filetype": self.filetype, "size": self.size, "url_private": self.url_private,
            "url_private_download": self.url_private,
        })
    }
}

/// Who edited a message last, and when (`edited` in Slack's message object).
#[derive(Debug, Clone, Serialize)]
pub struct Edited {
    pub user: String,
    pub ts: String,
}

/// A message as Slack holds it.
#[derive(Debug, Clone, Default, Serialize)]
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
    /// When the last `chat.update` (or `response_url` replacement) landed, in milliseconds
    /// since the Unix epoch: the load test times clicks to updated copies by it.
    pub edited_at_ms: Option<u128>,
    /// For an ephemeral note sent through a `response_url`: the message whose button gave
    /// that URL, so a note is told apart per request.
    pub response_to: Option<String>,
    /// Earlier versions' blocks: a client that has not refreshed can still click their buttons.
    #[serde(skip)]
    pub earlier_blocks: Vec<Value>,
    /// The author name a bot post chose (`username`), kept only with `chat:write.customize`
    /// (Slack ignores it silently without the scope).
    pub username: Option<String>,
    /// Files shared with the message (`files.completeUploadExternal`).
    pub files: Vec<SharedFile>,
    /// Set on messages people type: Slack's client id, echoed in their events.
    pub client_msg_id: Option<String>,
    /// The last edit by a person.
    pub edited: Option<Edited>,
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
    /// `files.completeUploadExternal` took it: the upload ticket is spent, and the file is
    /// served at its `url_private`.
    pub completed: bool,
    /// The `content-type` the bytes were POSTed with, when it said something specific.
    pub content_type: Option<String>,
    /// The title it was shared under.
    pub title: Option<String>,
}

/// An Events API envelope the sandbox POSTed to the events URL, with the app's answer.
#[derive(Debug, Clone, Serialize)]
pub struct SentEvent {
    pub event_id: String,
    pub team_id: String,
    /// `event.type` and `event.subtype`.
    #[serde(rename = "type")]
    pub event_type: String,
    pub subtype: Option<String>,
    /// The envelope exactly as sent.
    pub body: Value,
    /// The app's HTTP status; `None` when it could not be reached (`error` says why).
    pub status: Option<u16>,
    pub error: Option<String>,
    /// `x-slack-retry-num` sent with it; `None` for a first delivery.
    pub retry_num: Option<u32>,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u128,
}

/// How many delivered envelopes the sandbox remembers for `GET /_sandbox/events-sent`.
const EVENTS_KEPT: usize = 50;

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
    /// Calls held by a `Hang` fault so far, by method: a test knows a client is stuck there.
    hangs_started: HashMap<String, u32>,
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
    /// Events a Web API call caused (the app's own posts), sent once the call is answered.
    outbox: Vec<(String, Value)>,
    /// The last [`EVENTS_KEPT`] envelopes delivered, oldest first.
    events_sent: VecDeque<SentEvent>,
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
    #[error("there is no channel {0} in the sandbox")]
    NoChannel(String),
    #[error("no event {0} was sent (the sandbox keeps the last 50)")]
    NoEvent(String),
    /// An event could not be sent to the app (no events URL, or the app did not answer).
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
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
                scopes: None,
            },
        );
        token
    }

    /// Issues a bot token for a workspace granted exactly these scopes, as an install asking
    /// for them would: methods that check scopes answer `missing_scope` for the others.
    pub fn issue_bot_token_with_scopes(&self, team_id: &str, scopes: &[&str]) -> String {
        let token = self.issue_bot_token(team_id);
        if let Some(grant) = self.state().tokens.get_mut(&token) {
            grant.scopes = Some(scopes.iter().map(|s| (*s).to_owned()).collect());
        }
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
                scopes: None,
            },
        );
        token
    }

    /// Puts the app's bot user into a channel, as `/invite @app` does (the only way into a
    /// private channel); answers whether it was newly added (false: it was already in, or the
    /// channel is a DM, where the bot always is). `member_joined_channel` is not sent.
    pub fn invite_app(&self, team_id: &str, channel_id: &str) -> Result<bool, SandboxError> {
        let mut state = self.state();
        let workspace = state
            .workspaces
            .iter()
            .find(|w| w.team_id == team_id)
            .ok_or_else(|| SandboxError::NoWorkspace(team_id.into()))?;
        let bot = app_bot_user(&state, workspace);
        let channel = state
            .workspaces
            .iter_mut()
            .find(|w| w.team_id == team_id)
            .and_then(|w| w.channels.iter_mut().find(|c| c.id == channel_id))
            .ok_or_else(|| SandboxError::NoChannel(channel_id.into()))?;
        if channel.has_bot(&bot) {
            return Ok(false);
        }
        channel.members.push(bot);
        drop(state);
        self.changed();
        Ok(true)
    }

    /// A channel (or DM) of a workspace as stored: its privacy and members.
    pub fn channel(&self, team_id: &str, channel_id: &str) -> Option<Channel> {
        self.state()
            .workspaces
            .iter()
            .find(|w| w.team_id == team_id)?
            .channels
            .iter()
            .find(|c| c.id == channel_id)
            .cloned()
    }

    /// The envelopes delivered to the events URL (the last 50), oldest first, with the
    /// status the app answered.
    pub fn events_sent(&self) -> Vec<SentEvent> {
        self.state().events_sent.iter().cloned().collect()
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

    /// Every message of every conversation, ephemeral notes included.
    pub fn all_messages(&self) -> Vec<Message> {
        self.state().messages.clone()
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

    /// How many calls of `method` a `Hang` fault has held so far (counted as each starts).
    pub fn hangs_started(&self, method: &str) -> u32 {
        self.state()
            .hangs_started
            .get(method)
            .copied()
            .unwrap_or_default()
    }

    /// Clears messages, calls and faults; workspaces and tokens stay.
    pub fn reset(&self) {
        let mut state = self.state();
        state.messages.clear();
        state.calls.clear();
        state.faults.clear();
        state.hangs_started.clear();
        state.response_urls.clear();
        state.ui.views.clear();
        state.home_views.clear();
        state.events_sent.clear();
        state.outbox.clear();
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
        self.deliver_with_headers(url, content_type, body, &[])
            .await
    }

    /// [`SlackSandbox::deliver`] with more headers (an event retry's `x-slack-retry-num`).
    async fn deliver_with_headers(
        &self,
        url: &str,
        content_type: &str,
        body: String,
        headers: &[(&str, String)],
    ) -> Result<u16, String> {
        let (timestamp, signature) = self.sign(&body);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .build()
            .map_err(|e| e.to_string())?;
        let mut request = client
            .post(url)
            .header("content-type", content_type)
            .header("x-slack-request-timestamp", timestamp)
            .header("x-slack-signature", signature);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        request
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

/// The app's bot user in a workspace: from the workspace's token (team or org install), else
/// the sandbox's usual `U0BOT`.
fn app_bot_user(state: &State, workspace: &Workspace) -> String {
    state
        .tokens
        .values()
        .find(|g| {
            !g.revoked
                && (g.team_id.as_ref() == Some(&workspace.team_id)
                    || (g.is_enterprise_install
                        && g.enterprise_id.is_some()
                        && g.enterprise_id == workspace.enterprise_id))
        })
        .map_or_else(|| "U0BOT".to_owned(), |g| g.bot_user_id.clone())
}

/// A uuid-shaped id, as Slack's clients put in `client_msg_id`.
fn uuid_like() -> String {
    let hex = random_hex(16);
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
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
