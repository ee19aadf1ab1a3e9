//! Usable bot tokens: rotating tokens are refreshed before use when under two hours remain,
//! single-flight across concurrent Lambdas (each refresh burns the previous refresh token).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::domain::{DisconnectReason, Installation};
use crate::ports::{BotTokens, HostNotifier, SlackError, SlackOAuth, TenantStore, TokenError};
use crate::secret::SecretToken;
use crate::usecases::connection::disconnect_everywhere;

/// Slack codes that mean a token no longer works.
pub const DEAD_TOKEN_CODES: [&str; 4] = [
    "invalid_auth",
    "token_revoked",
    "account_inactive",
    "token_expired",
];

/// Bolt's margin: refresh when less than this remains.
pub const REFRESH_MARGIN_SECS: i64 = 2 * 3600;
/// How long a refresher may hold the lease before another may take over: longer than one
/// `oauth.v2.access` call (10 s timeout, never retried in-process) with room to store.
const LEASE_SECS: i64 = 60;

pub struct RotatingTokens {
    pub tenants: Arc<dyn TenantStore>,
    pub oauth: Arc<dyn SlackOAuth>,
    pub notifier: Arc<dyn HostNotifier>,
    /// How often a Lambda that lost the lease looks for the winner's token, and how often.
    pub poll_every: Duration,
    pub max_polls: u32,
}

impl RotatingTokens {
    pub fn new(
        tenants: Arc<dyn TenantStore>,
        oauth: Arc<dyn SlackOAuth>,
        notifier: Arc<dyn HostNotifier>,
    ) -> Self {
        Self {
            tenants,
            oauth,
            notifier,
            poll_every: Duration::from_millis(100),
            max_polls: 60,
        }
    }

    fn needs_refresh(installation: &Installation, now: i64) -> bool {
        installation.bot_refresh_token.is_some()
            && installation
                .bot_token_expires_at
                .is_some_and(|expires_at| expires_at - now < REFRESH_MARGIN_SECS)
    }

    async fn refresh(&self, stale: &Installation) -> Result<SecretToken, TokenError> {
        let id = stale.id();
        for _ in 0..self.max_polls {
            let now = crate::time::unix_now();
            if self.tenants.try_lease_refresh(id, now, LEASE_SECS).await? {
                let current = self
                    .tenants
                    .installation(id)
                    .await?
                    .ok_or(TokenError::Revoked)?;
                if !Self::needs_refresh(&current, now) {
                    self.tenants.release_refresh_lease(id).await?;
                    return Ok(current.bot_token);
                }
                let Some(refresh_token) = &current.bot_refresh_token else {
                    self.tenants.release_refresh_lease(id).await?;
                    return Ok(current.bot_token);
                };
                return match self.oauth.refresh(refresh_token, now).await {
                    Ok(fresh) => {
                        self.tenants
                            .save_refreshed_tokens(
                                id,
                                &fresh.bot_token,
                                &fresh.refresh_token,
                                fresh.expires_at,
                            )
                            .await?;
                        tracing::info!(installation_id = id, "bot token refreshed");
                        Ok(fresh.bot_token)
                    }
                    Err(SlackError::Api { code, .. }) if code == "invalid_refresh_token" => {
                        // Only our own refresh token being refused means the grant is gone;
                        // if another Lambda rotated it meanwhile, use what it stored.
                        let latest = self
                            .tenants
                            .installation(id)
                            .await?
                            .ok_or(TokenError::Revoked)?;
                        if latest.bot_refresh_token.as_ref() != Some(refresh_token) {
                            self.tenants.release_refresh_lease(id).await?;
                            return Ok(latest.bot_token);
                        }
                        // A refresh whose answer was lost (or cut off before it was stored)
                        // rotated the grant at Slack, yet the access token we hold still
                        // works until it expires: keep using it rather than disconnect.
                        if latest.bot_token_expires_at.is_some_and(|at| at > now) {
                            match self.oauth.test_token(&latest.bot_token).await {
                                Ok(()) => {
                                    self.tenants.release_refresh_lease(id).await?;
                                    tracing::error!(
                                        installation_id = id,
                                        expires_at = ?latest.bot_token_expires_at,
                                        "refresh token refused but the current token works; using it until it expires (a reinstall renews the grant)"
                                    );
                                    return Ok(latest.bot_token);
                                }
                                Err(error)
                                    if !error
                                        .code()
                                        .is_some_and(|code| DEAD_TOKEN_CODES.contains(&code)) =>
                                {
                                    // Slack degraded (a timeout, a 5xx, a 429): no verdict on
                                    // the token, so no disconnect; try again later.
                                    self.tenants.release_refresh_lease(id).await?;
                                    return Err(error.into());
                                }
                                Err(_) => {}
                            }
                        }
                        tracing::warn!(
                            installation_id = id,
                            "refresh token refused and the current token is dead; disconnecting"
                        );
                        disconnect_everywhere(
                            self.tenants.as_ref(),
                            self.notifier.as_ref(),
                            id,
                            latest.installed_at,
                            DisconnectReason::TokensRevoked,
                        )
                        .await?;
                        Err(TokenError::Revoked)
                    }
                    Err(error) => {
                        self.tenants.release_refresh_lease(id).await?;
                        Err(error.into())
                    }
                };
            }
            tokio::time::sleep(self.poll_every).await;
            let current = self
                .tenants
                .installation(id)
                .await?
                .ok_or(TokenError::Revoked)?;
            if current.bot_token_expires_at != stale.bot_token_expires_at {
                return Ok(current.bot_token);
            }
        }
        Err(TokenError::LeaseTimeout)
    }
}

#[async_trait]
impl BotTokens for RotatingTokens {
    async fn usable_token(
        &self,
        installation: &Installation,
        now: i64,
    ) -> Result<SecretToken, TokenError> {
        if Self::needs_refresh(installation, now) {
            self.refresh(installation).await
        } else {
            Ok(installation.bot_token.clone())
        }
    }
}

/// For installations without rotation, and for tests of the core.
pub struct StaticTokens;

#[async_trait]
impl BotTokens for StaticTokens {
    async fn usable_token(
        &self,
        installation: &Installation,
        _now: i64,
    ) -> Result<SecretToken, TokenError> {
        Ok(installation.bot_token.clone())
    }
}
