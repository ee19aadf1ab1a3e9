//! Choosing the channel that receives a tenant's approvals of one kind, and seeing that the
//! app is in it: only then does Slack send it the thread's replies and let it share files.

use crate::domain::{check_channel_id, check_identifier, parse_json, ValidationError};
use crate::ports::{
    ApprovalStore, BotTokens, SlackChannels, SlackError, StoreError, TenantStore, TokenError,
};
use crate::secret::SecretToken;

/// How long a join is trusted before the next post checks again (someone may have removed
/// the app from the channel meanwhile).
const JOINED_SECS: i64 = 24 * 3600;

#[derive(Debug, thiserror::Error)]
pub enum SetChannelError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(
        "the app is not a member of {0}: in Slack, type /invite @ and the app's name in that \
         channel, then set it again"
    )]
    NotInChannel(String),
    #[error("the installation lacks the {0} scope: install the app again to grant it")]
    MissingScope(String),
    #[error("the tenant has no active Slack installation")]
    NotConnected,
    #[error("no usable bot token right now: {0}")]
    Token(TokenError),
    #[error("Slack could not check the channel: {0}")]
    Slack(SlackError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelBody {
    channel_id: String,
}

/// Whether the bot is in a channel after [`ensure_member`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    Member,
    /// A private channel it was not invited to (or one it cannot see at all).
    NotInChannel,
}

/// Joins a public channel, or checks that the bot was invited to a private one.
pub async fn ensure_member(
    slack: &dyn SlackChannels,
    token: &SecretToken,
    channel_id: &str,
) -> Result<Membership, SlackError> {
    match slack.join_channel(token, channel_id).await {
        Ok(()) => Ok(Membership::Member),
        Err(error) if error.code() == Some("method_not_supported_for_channel_type") => {
            match slack.is_member(token, channel_id).await {
                Ok(true) => Ok(Membership::Member),
                Ok(false) => Ok(Membership::NotInChannel),
                Err(error) if error.code() == Some("channel_not_found") => {
                    Ok(Membership::NotInChannel)
                }
                Err(error) => Err(error),
            }
        }
        Err(error) if error.code() == Some("channel_not_found") => Ok(Membership::NotInChannel),
        Err(error) => Err(error),
    }
}

/// Before each post to a channel, [`ensure_member`] at most once a day per workspace and
/// channel, so a request posted to a channel named only in the request is followed too.
/// A failure is logged, never fatal: the post itself says whether the channel works.
pub struct JoinBeforePosting<'a> {
    pub claims: &'a dyn ApprovalStore,
    pub slack: &'a dyn SlackChannels,
    pub installation_id: &'a str,
    /// A reinstall starts afresh: Slack may have taken the app out of its channels when
    /// it was uninstalled.
    pub installed_at: i64,
}

impl JoinBeforePosting<'_> {
    /// `again`: the post said `not_in_channel` (someone removed the app), so the day's
    /// join no longer holds.
    pub async fn join(&self, token: &SecretToken, channel_id: &str, now: i64, again: bool) {
        let key = format!(
            "JOINED#{}#{}#{channel_id}",
            self.installation_id, self.installed_at
        );
        if again {
            if let Err(error) = self.claims.release_claim(&key).await {
                tracing::warn!(%error, "could not forget the earlier join");
            }
        }
        match self.claims.claim_once(&key, now, now + JOINED_SECS).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(error) => {
                tracing::warn!(%error, channel_id, "could not read whether the app joined");
                return;
            }
        }
        let outcome = ensure_member(self.slack, token, channel_id).await;
        match &outcome {
            Ok(Membership::Member) => {}
            // An installation from before `channels:join` was asked for: trying again on
            // every post would only fail again until it is installed anew.
            Err(error) if error.code() == Some("missing_scope") => {
                tracing::warn!(
                    channel_id,
                    "the installation lacks channels:join; install the app again to follow threads"
                );
            }
            _ => {
                tracing::warn!(?outcome, channel_id,
                    "the app is not in the channel it posts to: thread replies there will not reach the host");
                if let Err(error) = self.claims.release_claim(&key).await {
                    tracing::warn!(%error, "could not give the join claim back");
                }
            }
        }
    }
}

pub struct RouteChannel<'a> {
    pub tenants: &'a dyn TenantStore,
    pub slack: &'a dyn SlackChannels,
    pub tokens: &'a dyn BotTokens,
}

impl RouteChannel<'_> {
    /// Stores the route once the app is in the channel; the same call again is harmless.
    /// With no workspace connected yet, the route is stored as given and each post joins.
    pub async fn set(
        &self,
        tenant_id: &str,
        kind: &str,
        body: &[u8],
        now: i64,
    ) -> Result<String, SetChannelError> {
        check_identifier("tenant_id", tenant_id)?;
        check_identifier("kind", kind)?;
        let ChannelBody { channel_id } = parse_json(body)?;
        check_channel_id("channel_id", &channel_id)?;
        if let Some(installation) = self.tenants.installation_for_tenant(tenant_id).await? {
            let token =
                self.tokens.usable_token(&installation, now).await.map_err(
                    |error| match error {
                        TokenError::Revoked => SetChannelError::NotConnected,
                        TokenError::Store(error) => SetChannelError::Store(error),
                        other => SetChannelError::Token(other),
                    },
                )?;
            match ensure_member(self.slack, &token, &channel_id).await {
                Ok(Membership::Member) => {}
                Ok(Membership::NotInChannel) => {
                    return Err(SetChannelError::NotInChannel(channel_id))
                }
                Err(SlackError::Api { code, .. }) if code == "is_archived" => {
                    return Err(
                        ValidationError::new("channel_id", "the channel is archived").into(),
                    )
                }
                Err(SlackError::Api { code, .. }) if code == "missing_scope" => {
                    return Err(SetChannelError::MissingScope(
                        "channels:join (groups:read for a private channel)".into(),
                    ))
                }
                Err(error) => return Err(SetChannelError::Slack(error)),
            }
        }
        self.tenants
            .set_channel(tenant_id, kind, &channel_id)
            .await?;
        Ok(channel_id)
    }
}
