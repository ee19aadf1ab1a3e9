//! Ports: the traits the use cases depend on; adapters implement them for AWS and Slack.

use async_trait::async_trait;

use crate::blocks::SlackMessage;
use crate::domain::{
    Approval, DecisionCommand, DisconnectReason, InstallLink, Installation, ListCursor,
    MessageCopy, OAuthState, RefusedClick, SlackMessageRef, TenantLink,
};
use crate::inbox::{Digest, InboxEntry, KindSettings};
use crate::machine::{ApprovalState, Status};
use crate::notification::Notification;
use crate::outbox::OutboxEntry;
use crate::people::{Email, HostUser, HostUserId, MappingStatus, SlackIdentity, SlackMember};
use crate::reminders::{ReminderJob, ReminderKey, Schedule, TenantReminders, Waiter};
use crate::secret::{CryptoError, SecretToken};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the table call {operation} failed: {message}")]
    Backend {
        operation: &'static str,
        message: String,
    },
    #[error("a stored item could not be read back: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// One transition, written at once: the new state (its `version` one past the stored one),
/// the outbox entries it arms, and the command it applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    pub state: ApprovalState,
    pub outbox: Vec<(String, OutboxEntry)>,
    pub command_id: Option<String>,
    /// How many copies the transition saw: a copy recorded meanwhile fails the write, so the
    /// re-applied transition arms its update too.
    pub copies_seen: usize,
    /// When the approval was created: a tenant's listing sorts on it within a status.
    pub created_at: i64,
    /// What the transition did, for the request's audit trail.
    pub audit: Vec<crate::audit::AuditEvent>,
}

/// Reads a request's audit trail. The store writes it with each change it is asked for
/// (see [`crate::audit`]): created, copies posted, transitions, refused clicks, effects.
#[async_trait]
pub trait AuditTrail: Send + Sync {
    /// Oldest first, at most `limit`, after the cursor a previous page gave.
    async fn audit_trail(
        &self,
        approval_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<crate::audit::AuditEvent>, StoreError>;
}

/// Stores approvals. Every change of state goes through [`ApprovalStore::commit`], one
/// conditional write on the version read; outbox entries change one at a time, each
/// conditioned on what it was, so two workers never undo each other's progress.
///
/// Contract: each change also lands in the request's audit trail ([`crate::audit`]): a new
/// request, a new copy (not one recorded again), a commit's `audit`, a first refusal, an
/// effect's attempt. Best-effort: the change stands even when its record cannot be written.
#[async_trait]
pub trait ApprovalStore: Send + Sync {
    /// Inserts unless an approval with this id exists; returns the existing one then.
    async fn insert_if_absent(&self, approval: &Approval) -> Result<Option<Approval>, StoreError>;
    /// A strongly consistent read.
    async fn get(&self, approval_id: &str) -> Result<Option<Approval>, StoreError>;
    /// Records a message that shows the approval; recording it again changes nothing.
    async fn add_copy(&self, approval_id: &str, copy: &MessageCopy) -> Result<(), StoreError>;
    /// Deletes an approval a failed create left behind, only while it is untouched: pending,
    /// version 0, no copy. Returns whether it was deleted.
    async fn delete_untouched(&self, approval_id: &str) -> Result<bool, StoreError>;
    /// Writes the transition if the stored version is still `expected_version` and the
    /// approval still has `copies_seen` copies; false otherwise, and the caller re-reads and
    /// re-applies its command.
    async fn commit(
        &self,
        approval_id: &str,
        expected_version: u64,
        commit: &Commit,
    ) -> Result<bool, StoreError>;
    /// Adds an outbox entry unless one with this key exists; false when it did.
    async fn add_effect(
        &self,
        approval_id: &str,
        key: &str,
        entry: &OutboxEntry,
    ) -> Result<bool, StoreError>;
    /// Takes the entry for one attempt, until `until`, if it is still as read (same `seq`,
    /// `for_version` and `attempts`, open) and no other worker holds an unexpired lease on
    /// it; false otherwise, and the caller leaves the entry alone.
    async fn lease_effect(
        &self,
        approval_id: &str,
        key: &str,
        entry: &OutboxEntry,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError>;
    /// Saves an attempt's result if the entry is still the one attempted (same `seq` and
    /// `for_version`); false when a later transition re-armed it meanwhile.
    async fn save_effect(
        &self,
        approval_id: &str,
        key: &str,
        entry: &OutboxEntry,
    ) -> Result<bool, StoreError>;
    /// Keeps a refused click beside the approval; the same command again changes nothing.
    async fn record_refusal(
        &self,
        approval_id: &str,
        refusal: &RefusedClick,
    ) -> Result<(), StoreError>;
    /// A tenant's approvals, newest first, of one status or all of them (grouped by status
    /// then); `cursor` is a page's `next_cursor`, which only this method interprets.
    async fn list(
        &self,
        tenant_id: &str,
        status: Option<Status>,
        cursor: Option<&ListCursor>,
        limit: usize,
    ) -> Result<Page<Approval>, StoreError>;
    /// The refused clicks of an approval, oldest first.
    async fn refusals(&self, approval_id: &str) -> Result<Vec<RefusedClick>, StoreError>;
    /// True for the first caller with this key until it expires: an at-most-once guard.
    /// A claim whose `expires_at` is before `now` is free again.
    async fn claim_once(&self, key: &str, now: i64, expires_at: i64) -> Result<bool, StoreError>;
    /// Keeps a claim (taken as a short lease) until `expires_at`: the guarded work is done.
    async fn extend_claim(&self, key: &str, expires_at: i64) -> Result<(), StoreError>;
    /// Gives a claim back when the guarded work failed and should be retried.
    async fn release_claim(&self, key: &str) -> Result<(), StoreError>;
    /// When a claim held under `key` expires (`None`: never claimed, or given back): tells a
    /// short lease still running from work already done and kept.
    async fn claim_expires_at(&self, key: &str) -> Result<Option<i64>, StoreError>;
    /// Notes, at `now`, that an approval has effects parked until `installation_id` is
    /// installed again; noting it again renews the note.
    async fn park(
        &self,
        installation_id: &str,
        approval_id: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    /// The approvals with effects parked on an installation.
    async fn parked(&self, installation_id: &str) -> Result<Vec<String>, StoreError>;
    /// Removes the note once the approval's parked effects have all run, unless it was
    /// renewed after `resumed_at` (parked again meanwhile).
    async fn unpark(
        &self,
        installation_id: &str,
        approval_id: &str,
        resumed_at: i64,
    ) -> Result<(), StoreError>;
}

#[async_trait]
pub trait TenantStore: Send + Sync {
    async fn channel_for(&self, tenant_id: &str, kind: &str) -> Result<Option<String>, StoreError>;
    async fn set_channel(
        &self,
        tenant_id: &str,
        kind: &str,
        channel_id: &str,
    ) -> Result<(), StoreError>;
    /// The installation of an *active* link; `None` when not connected or disconnected.
    async fn installation_for_tenant(
        &self,
        tenant_id: &str,
    ) -> Result<Option<Installation>, StoreError>;
    async fn installation(&self, installation_id: &str)
        -> Result<Option<Installation>, StoreError>;
    async fn save_installation(&self, installation: &Installation) -> Result<(), StoreError>;
    /// Deletes the installation (and its tokens) unless it was (re)installed after `not_after`.
    /// Returns whether it was deleted: a stale uninstall must not delete a fresh install.
    async fn delete_installation(
        &self,
        installation_id: &str,
        not_after: i64,
    ) -> Result<bool, StoreError>;
    async fn link(&self, tenant_id: &str) -> Result<Option<TenantLink>, StoreError>;
    /// Links (or re-links) a tenant; one tenant has one link at a time.
    async fn save_link(&self, link: &TenantLink) -> Result<(), StoreError>;
    async fn disconnect_tenant(
        &self,
        tenant_id: &str,
        reason: DisconnectReason,
    ) -> Result<(), StoreError>;
    /// Tenants actively linked to an installation (an index query, never a scan; the index
    /// is eventually consistent, so callers confirm each link).
    async fn active_tenants_of(&self, installation_id: &str) -> Result<Vec<String>, StoreError>;
    /// The tenants linked to an installation, read consistently from the installation
    /// itself; `None` when there is no such installation.
    async fn installation_members(
        &self,
        installation_id: &str,
    ) -> Result<Option<Vec<String>>, StoreError>;
    /// Takes the refresh lease if nobody holds an unexpired one: single-flight across Lambdas.
    async fn try_lease_refresh(
        &self,
        installation_id: &str,
        now: i64,
        lease_secs: i64,
    ) -> Result<bool, StoreError>;
    /// Stores rotated tokens and releases the lease.
    async fn save_refreshed_tokens(
        &self,
        installation_id: &str,
        bot_token: &SecretToken,
        refresh_token: &SecretToken,
        expires_at: i64,
    ) -> Result<(), StoreError>;
    async fn release_refresh_lease(&self, installation_id: &str) -> Result<(), StoreError>;
}

/// Stores plain notifications, one per tenant and external id.
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// A strongly consistent read.
    async fn get_notification(
        &self,
        notification_id: &str,
    ) -> Result<Option<Notification>, StoreError>;
    /// Inserts unless one with this id exists; returns the existing one then.
    async fn insert_notification(
        &self,
        notification: &Notification,
    ) -> Result<Option<Notification>, StoreError>;
    /// Records the message that carried the notification to `target`.
    async fn record_notification_post(
        &self,
        notification_id: &str,
        target: &str,
        copy: &MessageCopy,
    ) -> Result<(), StoreError>;
}

/// People's inboxes: what waits on whom, and what each asked for.
///
/// Contract: an entry waiting on a person is filed under their [`ReminderKey`] in an index
/// that holds only waiting entries (removed ones leave it), so finding who is due reads
/// what waits in the due zones and nothing else; every write here is repeat-safe.
#[async_trait]
pub trait InboxStore: Send + Sync {
    /// Files the request as waiting on the person, under `key` (`None`: reminders off).
    async fn add_waiting(
        &self,
        entry: &InboxEntry,
        key: Option<&ReminderKey>,
    ) -> Result<(), StoreError>;
    /// Removes it; removing what is not there changes nothing.
    async fn remove_waiting(
        &self,
        tenant_id: &str,
        user_id: &HostUserId,
        approval_id: &str,
        created_at: i64,
    ) -> Result<(), StoreError>;
    /// What waits on the person, oldest first, at most `limit`.
    async fn waiting(
        &self,
        tenant_id: &str,
        user_id: &HostUserId,
        limit: usize,
    ) -> Result<Vec<InboxEntry>, StoreError>;
    /// Files every entry waiting on the person under `key` instead.
    async fn refile_waiting(
        &self,
        tenant_id: &str,
        user_id: &HostUserId,
        key: Option<&ReminderKey>,
    ) -> Result<(), StoreError>;
    /// Keeps the permalink found for an entry, so the next digest needs no Slack call.
    async fn set_permalink(&self, entry: &InboxEntry, permalink: &str) -> Result<(), StoreError>;
    /// Every key anything was ever filed under: a small set, read once per run.
    async fn keys_in_use(&self) -> Result<Vec<ReminderKey>, StoreError>;
    /// The people with something waiting under `key` (one per entry; the planner dedupes).
    async fn waiting_under(&self, key: &ReminderKey) -> Result<Vec<Waiter>, StoreError>;
    /// Records a request the person asked for.
    async fn add_asked(&self, entry: &InboxEntry) -> Result<(), StoreError>;
    /// What the person asked for, newest first, at most `limit`.
    async fn asked(
        &self,
        tenant_id: &str,
        user_id: &HostUserId,
        limit: usize,
    ) -> Result<Vec<InboxEntry>, StoreError>;
}

/// When people are reminded, and how each kind of request reads in their inbox.
#[async_trait]
pub trait ReminderSettings: Send + Sync {
    async fn tenant_reminders(
        &self,
        tenant_id: &str,
    ) -> Result<Option<TenantReminders>, StoreError>;
    async fn save_tenant_reminders(
        &self,
        tenant_id: &str,
        reminders: &TenantReminders,
    ) -> Result<(), StoreError>;
    /// A person's own schedule, when they chose one.
    async fn user_schedule(
        &self,
        tenant_id: &str,
        user_id: &HostUserId,
    ) -> Result<Option<Schedule>, StoreError>;
    async fn save_user_schedule(
        &self,
        tenant_id: &str,
        user_id: &HostUserId,
        schedule: &Schedule,
    ) -> Result<(), StoreError>;
    /// A kind's label and digest group (its channel is `TenantStore::channel_for`'s).
    async fn kind_settings(
        &self,
        tenant_id: &str,
        kind: &str,
    ) -> Result<Option<KindSettings>, StoreError>;
    async fn save_kind_settings(
        &self,
        tenant_id: &str,
        kind: &str,
        settings: &KindSettings,
    ) -> Result<(), StoreError>;
}

/// The deadlines of requests, found by the 15-minute sweep.
///
/// Contract: an entry is filed under the quarter hour its deadline falls in, so a sweep reads
/// the entries of the quarters it covers and nothing else; adding and removing are
/// repeat-safe.
#[async_trait]
pub trait DeadlineStore: Send + Sync {
    async fn add_deadline(&self, deadline: &Deadline, at: i64) -> Result<(), StoreError>;
    /// The deadlines that fall in the quarter hour starting at `quarter`.
    async fn deadlines_in(&self, quarter: i64) -> Result<Vec<Deadline>, StoreError>;
    async fn remove_deadline(&self, deadline: &Deadline, at: i64) -> Result<(), StoreError>;
}

/// What falls due for a request: its expiry, or its escalation.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineKind {
    Expire,
    Escalate,
}

impl DeadlineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expire => "expire",
            Self::Escalate => "escalate",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline {
    pub approval_id: String,
    pub kind: DeadlineKind,
}

/// A comment the host posted into a request's thread, kept so a repeat is answered with
/// the same messages and a different text under the same id is refused.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HostComment {
    pub comment_id: String,
    /// Of the author and text: a repeat must match it.
    pub fingerprint: String,
    /// Where it was posted so far.
    #[serde(default)]
    pub posted: Vec<SlackMessageRef>,
    /// Posted into every thread: a repeat answers with `posted` and posts nothing.
    #[serde(default)]
    pub finished: bool,
    pub at: i64,
}

/// The host's comments on requests.
#[async_trait]
pub trait CommentStore: Send + Sync {
    async fn comment(
        &self,
        approval_id: &str,
        comment_id: &str,
    ) -> Result<Option<HostComment>, StoreError>;
    async fn save_comment(
        &self,
        approval_id: &str,
        comment: &HostComment,
    ) -> Result<(), StoreError>;
    /// The request shown by the message at (`channel_id`, `message_ts`) in the workspace
    /// `installation_id`: a reply in that message's thread is a comment on it. Every
    /// channel and DM copy is found; digests, which list many requests, are not.
    async fn approval_for_thread(
        &self,
        installation_id: &str,
        channel_id: &str,
        message_ts: &str,
    ) -> Result<Option<String>, StoreError>;
}

/// The digests sent, so a decision on any request one lists re-renders it.
#[async_trait]
pub trait DigestStore: Send + Sync {
    async fn save_digest(&self, digest: &Digest) -> Result<(), StoreError>;
    async fn digest(
        &self,
        channel_id: &str,
        message_ts: &str,
    ) -> Result<Option<Digest>, StoreError>;
}

/// One page of a listing, and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A tenant's users and what each Slack user is to the tenant.
///
/// Contract: users are keyed by tenant and host user id, so tenants never share them; a
/// saved mapped user's Slack identity points back at them, and an identity that pointed at
/// a user who is now mapped elsewhere (or not at all) no longer does.
#[async_trait]
pub trait UserDirectory: Send + Sync {
    /// Saves the users (all of one tenant), replacing what was stored for each id.
    async fn save_users(&self, tenant_id: &str, users: &[HostUser]) -> Result<(), StoreError>;
    /// The stored users among `user_ids`; ids not stored are simply absent.
    async fn users(
        &self,
        tenant_id: &str,
        user_ids: &[HostUserId],
    ) -> Result<Vec<HostUser>, StoreError>;
    /// A page of the tenant's users in id order, only those with `status` when given.
    async fn list_users(
        &self,
        tenant_id: &str,
        status: Option<MappingStatus>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<HostUser>, StoreError>;
    /// The tenant's users with this email (an eventually consistent index).
    async fn users_with_email(
        &self,
        tenant_id: &str,
        email: &Email,
    ) -> Result<Vec<HostUser>, StoreError>;
    /// What the tenant knows of a Slack user, if anything.
    async fn slack_identity(
        &self,
        tenant_id: &str,
        slack_user_id: &str,
    ) -> Result<Option<SlackIdentity>, StoreError>;
    /// Records that Slack deactivated (or reactivated) a user.
    async fn set_deactivated(
        &self,
        tenant_id: &str,
        slack_user_id: &str,
        deactivated: bool,
    ) -> Result<(), StoreError>;
}

/// What became of an attempt to spend an install link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkTake {
    Taken(InstallLink),
    /// Known but spent or expired: the admin can still be sent back to the host.
    Refused(InstallLink, &'static str),
    Unknown,
}

/// The short-lived records of the install flow.
#[async_trait]
pub trait InstallFlowStore: Send + Sync {
    async fn save_install_link(
        &self,
        token_hash: &str,
        link: &InstallLink,
    ) -> Result<(), StoreError>;
    /// Marks the link used and returns it, once, before it expires.
    async fn take_install_link(&self, token_hash: &str, now: i64) -> Result<LinkTake, StoreError>;
    async fn save_oauth_state(&self, state: &OAuthState) -> Result<(), StoreError>;
    async fn oauth_state(&self, state: &str) -> Result<Option<OAuthState>, StoreError>;
    /// Marks the state used; false when it was used already or has expired.
    async fn use_oauth_state(&self, state: &str, now: i64) -> Result<bool, StoreError>;
}

#[derive(Debug, thiserror::Error)]
#[error("enqueueing the decision command failed: {0}")]
pub struct QueueError(pub String);

#[async_trait]
pub trait DecisionQueue: Send + Sync {
    async fn enqueue(&self, command: &DecisionCommand) -> Result<(), QueueError>;
}

/// Host notifications go through the queue too, so they are retried and dead-lettered.
#[async_trait]
pub trait HostNotifier: Send + Sync {
    async fn notify(&self, event: &HostEvent) -> Result<(), QueueError>;
}

/// Work that must survive the request that asked for it: revoking and deleting an
/// installation's tokens once no tenant uses them is retried by the worker until it is done.
#[async_trait]
pub trait CleanupQueue: Send + Sync {
    async fn retire_installation(&self, retire: &RetireInstallation) -> Result<(), QueueError>;
}

/// Effects that could not be finished in the request that armed them (a DM that failed for
/// a while) are finished by the worker.
#[async_trait]
pub trait EffectsQueue: Send + Sync {
    async fn perform_later(&self, approval_id: &str, delay_secs: i64) -> Result<(), QueueError>;
}

/// Revoke and delete an installation's tokens, unless it was reinstalled after `not_after`
/// or a tenant uses it again.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RetireInstallation {
    pub installation_id: String,
    pub not_after: i64,
}

/// What travels on `DECISION_QUEUE_URL`:
/// `{"type": "decide" | "notify_host" | "retire_installation" | "perform" | "installed" |
/// "remind" | "publish_home", "body": {…}}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", content = "body", rename_all = "snake_case")]
pub enum WorkItem {
    Decide(DecisionCommand),
    NotifyHost(HostEvent),
    RetireInstallation(RetireInstallation),
    /// Perform an approval's open outbox entries.
    Perform {
        approval_id: String,
    },
    /// An install completed: greet the installer, resume what waited for the workspace.
    Installed(Installed),
    /// Send one person their daily digest.
    Remind(ReminderJob),
    /// Publish one person's App Home.
    PublishHome(HomeFor),
}

/// The reminder run's jobs, one per person, for the worker to send.
#[async_trait]
pub trait ReminderQueue: Send + Sync {
    /// Enqueues the jobs; each is delayed until its `not_before` (as far as the queue
    /// allows: the worker holds back one that arrives early).
    async fn remind(&self, jobs: &[ReminderJob], now: i64) -> Result<(), QueueError>;
}

/// Home tabs to publish again, through the worker.
#[async_trait]
pub trait HomeQueue: Send + Sync {
    async fn publish_home(&self, home: &HomeFor) -> Result<(), QueueError>;
}

/// Whose App Home to (re)publish, in which workspace.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HomeFor {
    /// The team (or enterprise) id of the installation the Home belongs to.
    pub installation_id: String,
    pub slack_user_id: String,
}

/// A completed install, as queued for the worker.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Installed {
    pub installation_id: String,
    pub tenant_id: String,
    /// The host's name for the tenant, when the install link gave one.
    #[serde(default)]
    pub tenant_name: Option<String>,
    /// The workspace's (or the enterprise's) name.
    #[serde(default)]
    pub team_name: Option<String>,
    /// The Slack user who installed: the one greeted.
    #[serde(default)]
    pub installed_by: Option<String>,
    pub installed_at: i64,
}

/// What an install leaves for the worker, so a Slack hiccup is retried rather than lost.
#[async_trait]
pub trait InstallFollowUp: Send + Sync {
    async fn installed(&self, installed: &Installed) -> Result<(), QueueError>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlackError {
    #[error("Slack {method} could not be reached: {message}")]
    Transport { method: String, message: String },
    #[error("Slack {method} is rate limited; retry after {retry_after_secs} s")]
    RateLimited {
        method: String,
        retry_after_secs: u64,
    },
    #[error("Slack {method} answered HTTP {status}")]
    Server { method: String, status: u16 },
    #[error("Slack {method} answered error {code}")]
    Api { method: String, code: String },
    #[error("Slack {method} answered something that is not a Web API response")]
    InvalidResponse { method: String },
}

impl SlackError {
    /// Worth another try later (through SQS redelivery or the caller's retry).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport { .. } | Self::RateLimited { .. } | Self::Server { .. } => true,
            Self::Api { code, .. } => matches!(
                code.as_str(),
                "ratelimited"
                    | "internal_error"
                    | "fatal_error"
                    | "service_unavailable"
                    | "request_timeout"
            ),
            Self::InvalidResponse { .. } => false,
        }
    }

    /// Slack may or may not have acted (a timeout, a 5xx): the outcome is unknown.
    pub fn is_ambiguous(&self) -> bool {
        matches!(
            self,
            Self::Transport { .. } | Self::Server { .. } | Self::InvalidResponse { .. }
        )
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

#[async_trait]
pub trait SlackApi: Send + Sync {
    async fn post_message(
        &self,
        token: &SecretToken,
        channel_id: &str,
        message: &SlackMessage,
    ) -> Result<SlackMessageRef, SlackError>;
    async fn update_message(
        &self,
        token: &SecretToken,
        at: &SlackMessageRef,
        message: &SlackMessage,
    ) -> Result<(), SlackError>;
    /// Posts to an interaction's `response_url` (ephemeral notes, replacements).
    async fn respond(&self, response_url: &str, body: &serde_json::Value)
        -> Result<(), SlackError>;
    /// `chat.postMessage` with `thread_ts`: a reply in the thread of the message at `at`,
    /// shown under `username` where the app may (`chat:write.customize`).
    async fn post_reply(
        &self,
        token: &SecretToken,
        at: &SlackMessageRef,
        text: &str,
        username: Option<&str>,
    ) -> Result<SlackMessageRef, SlackError>;
    /// `chat.getPermalink`: a link that opens the message for anyone who can see it.
    async fn permalink(
        &self,
        token: &SecretToken,
        at: &SlackMessageRef,
    ) -> Result<String, SlackError>;
    /// `views.publish`: the person's App Home.
    async fn publish_home(
        &self,
        token: &SecretToken,
        slack_user_id: &str,
        view: &serde_json::Value,
    ) -> Result<(), SlackError>;
}

/// Channel membership. Slack sends a bot the messages (thread replies among them) of only
/// the conversations it is in, and shares its files only there; `chat:write.public` lets it
/// post to a public channel without being in it.
#[async_trait]
pub trait SlackChannels: Send + Sync {
    /// `conversations.join`: the bot joins a public channel; being in it already is fine.
    /// A private channel answers `method_not_supported_for_channel_type`.
    async fn join_channel(&self, token: &SecretToken, channel_id: &str) -> Result<(), SlackError>;
    /// `conversations.info`'s `is_member`. A private channel the bot is not in is hidden
    /// from it: `channel_not_found`.
    async fn is_member(&self, token: &SecretToken, channel_id: &str) -> Result<bool, SlackError>;
}

/// Slack's Files v2: a ticket for one file, then the share into a thread. (The bytes go
/// to the ticket's pre-authorised URL: [`OpenedFile::send_to`].)
#[async_trait]
pub trait SlackFiles: Send + Sync {
    /// `files.getUploadURLExternal`: Slack's id for the file and where its bytes go.
    async fn upload_ticket(
        &self,
        token: &SecretToken,
        filename: &str,
        length: u64,
    ) -> Result<UploadTicket, SlackError>;
    /// `files.completeUploadExternal` into the thread of the message at `thread`. Slack
    /// takes it once per file: a repeat answers `file_not_found`.
    async fn complete_upload(
        &self,
        token: &SecretToken,
        slack_file_id: &str,
        title: &str,
        thread: &SlackMessageRef,
    ) -> Result<(), SlackError>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadTicket {
    pub slack_file_id: String,
    pub upload_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// It never will be usable: a 404, a type or size refused, a redirect elsewhere.
    #[error("the file cannot be used: {0}")]
    Refused(String),
    /// It may work later: the host or Slack is down, or slow.
    #[error("the file could not be moved for now: {0}")]
    Unavailable(String),
}

/// Where the worker fetches the host's documents from (URLs allowed by
/// `HOST_FILE_URL_PREFIXES` only).
#[async_trait]
pub trait HostFiles: Send + Sync {
    /// Starts the download and checks its status, type and announced size, without
    /// reading the body.
    async fn open(&self, url: &str) -> Result<Box<dyn OpenedFile>, FileError>;
}

/// A download under way: its body goes straight on to Slack, never whole in memory.
#[async_trait]
pub trait OpenedFile: Send {
    fn length(&self) -> u64;
    /// Streams the body to a Files v2 upload URL; fails if the body is longer or shorter
    /// than announced.
    async fn send_to(self: Box<Self>, upload_url: &str) -> Result<(), FileError>;
}

/// How far each file's upload into each thread got.
#[async_trait]
pub trait FileUploads: Send + Sync {
    async fn file_upload(
        &self,
        approval_id: &str,
        key: &str,
    ) -> Result<Option<crate::files::FileUpload>, StoreError>;
    async fn save_file_upload(
        &self,
        approval_id: &str,
        key: &str,
        upload: &crate::files::FileUpload,
    ) -> Result<(), StoreError>;
}

/// Slack's user directory: `users.list` and `users.lookupByEmail`.
#[async_trait]
pub trait SlackDirectory: Send + Sync {
    /// One page of `users.list` (deleted users and bots included, as Slack lists them).
    async fn list_members(
        &self,
        token: &SecretToken,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<SlackMember>, SlackError>;
    /// `users.lookupByEmail`; `None` for `users_not_found` (which deactivated users get too).
    async fn member_by_email(
        &self,
        token: &SecretToken,
        email: &Email,
    ) -> Result<Option<SlackMember>, SlackError>;
}

/// Modals: `views.open` with a click's `trigger_id`, inside its 3 seconds.
#[async_trait]
pub trait SlackViews: Send + Sync {
    async fn open_view(
        &self,
        token: &SecretToken,
        trigger_id: &str,
        view: &serde_json::Value,
    ) -> Result<(), SlackError>;
}

pub use crate::outbox::HostEvent;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("the host webhook could not be reached: {0}")]
    Transport(String),
    #[error("the host webhook answered HTTP {0}")]
    Status(u16),
}

#[async_trait]
pub trait WebhookSink: Send + Sync {
    async fn deliver(&self, event: &HostEvent) -> Result<(), WebhookError>;
}

/// What `oauth.v2.access` gave for a code: the installation, tokens included.
#[derive(Debug, Clone)]
pub struct RefreshedToken {
    pub bot_token: SecretToken,
    pub refresh_token: SecretToken,
    pub expires_at: i64,
}

#[async_trait]
pub trait SlackOAuth: Send + Sync {
    async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        now: i64,
    ) -> Result<Installation, SlackError>;
    async fn refresh(
        &self,
        refresh_token: &SecretToken,
        now: i64,
    ) -> Result<RefreshedToken, SlackError>;
    async fn revoke(&self, token: &SecretToken) -> Result<(), SlackError>;
    /// `auth.test`: whether Slack still takes this token.
    async fn test_token(&self, token: &SecretToken) -> Result<(), SlackError>;
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the installation's tokens were revoked; it is disconnected")]
    Revoked,
    #[error("refreshing the bot token failed: {0}")]
    Slack(#[from] SlackError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("another refresh of this installation did not finish in time")]
    LeaseTimeout,
}

/// Hands out a usable bot token, refreshing a rotating one first when it is close to expiry.
#[async_trait]
pub trait BotTokens: Send + Sync {
    async fn usable_token(
        &self,
        installation: &Installation,
        now: i64,
    ) -> Result<SecretToken, TokenError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_items_round_trip_even_when_the_event_has_its_own_type() {
        let event = HostEvent {
            id: "evt_1".into(),
            kind: "slack.connected".into(),
            created_at: "2026-11-23T14:02:00Z".into(),
            data: serde_json::json!({"tenant_id": "acme"}),
        };
        let json = serde_json::to_string(&WorkItem::NotifyHost(event.clone())).unwrap();
        assert_eq!(
            serde_json::from_str::<WorkItem>(&json).unwrap(),
            WorkItem::NotifyHost(event)
        );
    }
}
