//! The Slack sandbox: workspaces, tokens, messages and recorded calls behind Slack's Web API.

mod block_kit;
mod oauth;
mod ui;
mod web_api;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use rand::Rng;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::watch;

pub use block_kit::validate_blocks;
pub use ui::{DeliveryError, OpenView};

/// A person in a sandbox workspace.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: String,
    pub name: String,
    pub real_name: String,
    pub email: String,
    pub tz: String,
    pub tz_offset: i64,
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
    /// The demo workspace: #approvals, #general and three people.
    pub fn demo() -> Self {
        let user = |id: &str, name: &str, real: &str| User {
            id: id.into(),
            name: name.into(),
            real_name: real.into(),
            email: format!("{name}@sandbox.example"),
            tz: "Europe/Lisbon".into(),
            tz_offset: 0,
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
                user("U0ANA", "ana", "Ana Approver"),
                user("U0BEN", "ben", "Ben Buyer"),
                user("U0PAT", "pat", "Pat Partner"),
            ],
        }
    }

    /// A bare workspace with one channel and one person, for tests that need several teams.
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
    /// Open modals and run-time delivery targets (the workspace page).
    ui: ui::UiState,
}

/// Settings a sandbox needs to act like Slack towards our endpoints.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub signing_secret: String,
    pub app_id: String,
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
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            signing_secret: "sandbox-signing-secret".into(),
            app_id: "A0SANDBOX".into(),
            workspaces: vec![Workspace::demo()],
            client_id: "1111.2222".into(),
            client_secret: "sandbox-client-secret".into(),
            token_rotation: false,
            interactivity_url: None,
            events_url: None,
            links: Vec::new(),
            demo_request_url: None,
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
        drop(state);
        self.changed();
    }

    /// The form body Slack sends when `user_id` clicks the button `action_id` on a message:
    /// a `block_actions` payload with a fresh `response_url`.
    pub fn click_payload(
        &self,
        channel: &str,
        message_ts: &str,
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
            .find_map(|blocks| find_button(blocks, action_id))
            .ok_or_else(|| SandboxError::NoButton(action_id.into()))?;
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
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let action_ts = format!("{}.{:06}", now.as_secs(), now.subsec_micros());
        let trigger_id = format!("{}.{}", now.as_millis(), random_hex(8));
        state
            .triggers
            .insert(trigger_id.clone(), (user_id.to_owned(), now.as_millis()));
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

fn channel_name(workspace: &Workspace, channel: &str) -> String {
    workspace
        .channels
        .iter()
        .find(|c| c.id == channel)
        .map(|c| c.name.clone())
        .unwrap_or_else(|| "directmessage".into())
}

fn find_button(blocks: &Value, action_id: &str) -> Option<(String, Value)> {
    blocks.as_array()?.iter().find_map(|block| {
        let element = block["elements"]
            .as_array()?
            .iter()
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
