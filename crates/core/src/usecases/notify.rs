//! Sending a plain notification: idempotent per tenant and external id, each target once.

use crate::blocks::notification_message;
use crate::domain::{CopyRole, MessageCopy, ValidationError};
use crate::notification::{Notification, NotificationRequest, Target};
use crate::ports::{
    ApprovalStore, BotTokens, NotificationStore, SlackApi, SlackError, StoreError, TenantStore,
    TokenError, UserDirectory,
};

/// Longer than one post with its rate-limit wait: one sender at a time.
const SENDING_LEASE_SECS: i64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("the tenant has no active Slack installation")]
    NotConnected,
    #[error("no `to` was given and no channel is configured for kind {0}")]
    NoChannel(String),
    #[error("none of the users is in Slack and no channel was named")]
    NoRecipient,
    #[error("a notification with this external_id exists with a different payload")]
    Conflict,
    #[error("the same notification is being sent right now; retry in a few seconds")]
    InProgress,
    #[error("Slack refused or failed the message: {0}")]
    Slack(SlackError),
    #[error("no usable bot token right now: {0}")]
    TokenUnavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notified {
    /// Sent now: 201.
    New(Notification, Vec<Target>),
    /// Sent before: 200 with the same body.
    Existing(Notification, Vec<Target>),
}

pub struct Notify<'a> {
    pub guards: &'a dyn ApprovalStore,
    pub notifications: &'a dyn NotificationStore,
    pub tenants: &'a dyn TenantStore,
    pub directory: &'a dyn UserDirectory,
    pub slack: &'a dyn SlackApi,
    pub tokens: &'a dyn BotTokens,
}

impl Notify<'_> {
    pub async fn run(
        &self,
        request: NotificationRequest,
        now: i64,
    ) -> Result<Notified, NotifyError> {
        let installation = self
            .tenants
            .installation_for_tenant(&request.tenant_id)
            .await?
            .ok_or(NotifyError::NotConnected)?;
        let notification = match self
            .notifications
            .get_notification(&request.notification_id())
            .await?
        {
            Some(existing) if existing.fingerprint != request.fingerprint() => {
                return Err(NotifyError::Conflict)
            }
            Some(existing) => existing,
            None => {
                let targets = self.targets(&request).await?;
                if targets.iter().all(|t| t.slack_target.is_none()) {
                    return Err(NotifyError::NoRecipient);
                }
                let fresh = Notification {
                    id: request.notification_id(),
                    fingerprint: request.fingerprint(),
                    request,
                    created_at: now,
                    targets,
                    posted: Default::default(),
                };
                match self.notifications.insert_notification(&fresh).await? {
                    None => fresh,
                    Some(existing) if existing.fingerprint != fresh.fingerprint => {
                        return Err(NotifyError::Conflict)
                    }
                    Some(existing) => existing,
                }
            }
        };
        let targets = notification.targets.clone();
        let left: Vec<&Target> = targets
            .iter()
            .filter(|t| t.slack_target.is_some() && !notification.posted.contains_key(&t.key))
            .collect();
        if left.is_empty() {
            return Ok(Notified::Existing(notification, targets));
        }
        let lease = format!("NOTIFY#{}", notification.id);
        if !self
            .guards
            .claim_once(&lease, now, now + SENDING_LEASE_SECS)
            .await?
        {
            return Err(NotifyError::InProgress);
        }
        let token = match self.tokens.usable_token(&installation, now).await {
            Ok(token) => token,
            Err(error) => {
                self.release(&lease).await;
                return Err(match error {
                    TokenError::Revoked => NotifyError::NotConnected,
                    TokenError::Store(error) => NotifyError::Store(error),
                    other => NotifyError::TokenUnavailable(other.to_string()),
                });
            }
        };
        let message = notification_message(&notification.request);
        let mut notification = notification;
        for target in left {
            let Some(slack_target) = &target.slack_target else {
                continue;
            };
            let posted = match self
                .slack
                .post_message(&token, slack_target, &message)
                .await
            {
                Ok(posted) => posted,
                Err(error) => {
                    // What was posted stays recorded; the host's retry sends the rest.
                    self.release(&lease).await;
                    return Err(NotifyError::Slack(error));
                }
            };
            let role = if target.key.starts_with("user:") {
                CopyRole::Direct
            } else {
                CopyRole::Channel
            };
            let copy = MessageCopy::new(posted, role);
            self.notifications
                .record_notification_post(&notification.id, &target.key, &copy)
                .await?;
            notification.posted.insert(target.key.clone(), copy);
        }
        self.release(&lease).await;
        Ok(Notified::New(notification, targets))
    }

    async fn targets(&self, request: &NotificationRequest) -> Result<Vec<Target>, NotifyError> {
        let Some(to) = &request.to else {
            let channel = self
                .tenants
                .channel_for(&request.tenant_id, &request.kind)
                .await?
                .ok_or_else(|| NotifyError::NoChannel(request.kind.clone()))?;
            return Ok(vec![Target {
                key: format!("channel:{channel}"),
                slack_target: Some(channel),
            }]);
        };
        let mut targets: Vec<Target> = to
            .channel_id
            .iter()
            .map(|channel| Target {
                key: format!("channel:{channel}"),
                slack_target: Some(channel.clone()),
            })
            .collect();
        let users = self
            .directory
            .users(&request.tenant_id, &to.user_ids)
            .await?;
        for (index, user_id) in to.user_ids.iter().enumerate() {
            let user = users
                .iter()
                .find(|u| &u.user_id == user_id)
                .ok_or_else(|| {
                    ValidationError::new(
                        format!("to.user_ids[{index}]"),
                        format!("{user_id} is not a user of tenant {}", request.tenant_id),
                    )
                })?;
            targets.push(Target {
                key: format!("user:{user_id}"),
                slack_target: user.slack_user_id.clone(),
            });
        }
        Ok(targets)
    }

    async fn release(&self, lease: &str) {
        if let Err(error) = self.guards.release_claim(lease).await {
            tracing::warn!(%error, lease, "could not release the sending lease; it expires by itself");
        }
    }
}
