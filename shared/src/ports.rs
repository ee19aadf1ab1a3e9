//! Ports: the traits the use cases depend on; adapters implement them for AWS and Slack.

use async_trait::async_trait;

use crate::blocks::SlackMessage;
use crate::crypto::{CryptoError, SecretToken};
use crate::domain::{Approval, DecisionCommand, DecisionRecord, Installation, SlackMessageRef};

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

/// Outcome of the conditional pending → decided write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecisionWrite {
    Won,
    /// Somebody decided first; this is the approval as stored.
    Lost(Box<Approval>),
}

/// The side effects of a decision, each recorded once done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SideEffect {
    SlackMessageUpdated,
    WebhookDelivered,
}

#[async_trait]
pub trait ApprovalStore: Send + Sync {
    /// Inserts unless an approval with this id exists; returns the existing one then.
    async fn insert_if_absent(&self, approval: &Approval) -> Result<Option<Approval>, StoreError>;
    async fn get(&self, approval_id: &str) -> Result<Option<Approval>, StoreError>;
    async fn record_message(
        &self,
        approval_id: &str,
        message: &SlackMessageRef,
    ) -> Result<(), StoreError>;
    /// Undoes an insert whose message could not be posted, so a corrected retry is not a conflict.
    async fn delete_unposted(&self, approval_id: &str) -> Result<(), StoreError>;
    async fn decide(
        &self,
        approval_id: &str,
        record: &DecisionRecord,
    ) -> Result<DecisionWrite, StoreError>;
    async fn mark_done(
        &self,
        approval_id: &str,
        command_id: &str,
        effect: SideEffect,
    ) -> Result<(), StoreError>;
    /// True for the first caller with this key until it expires: an at-most-once guard.
    async fn claim_once(&self, key: &str, expires_at: i64) -> Result<bool, StoreError>;
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
    async fn installation_for_tenant(
        &self,
        tenant_id: &str,
    ) -> Result<Option<Installation>, StoreError>;
    async fn installation(&self, installation_id: &str)
        -> Result<Option<Installation>, StoreError>;
    async fn save_installation(&self, installation: &Installation) -> Result<(), StoreError>;
    async fn link_tenant(
        &self,
        tenant_id: &str,
        installation_id: &str,
        now: i64,
    ) -> Result<(), StoreError>;
}

#[derive(Debug, thiserror::Error)]
#[error("enqueueing the decision command failed: {0}")]
pub struct QueueError(pub String);

#[async_trait]
pub trait DecisionQueue: Send + Sync {
    async fn enqueue(&self, command: &DecisionCommand) -> Result<(), QueueError>;
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
}

/// An event for the host, sent to `HOST_WEBHOOK_URL`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HostEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub created_at: String,
    pub data: serde_json::Value,
}

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
