//! Slack OAuth v2 over HTTP: code exchange, token refresh, revoke. Parses org-wide installs
//! (`"team": null`) and rotating tokens, which the Rust Slack crates do not.

use async_trait::async_trait;
use serde::Deserialize;

use crate::slack_api::SlackHttpClient;
use approvals_core::domain::Installation;
use approvals_core::ports::{RefreshedToken, SlackError, SlackOAuth};
use approvals_core::secret::SecretToken;

pub struct SlackOAuthClient {
    slack: SlackHttpClient,
    client_id: String,
    client_secret: String,
}

impl SlackOAuthClient {
    pub fn new(
        slack: SlackHttpClient,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        Self {
            slack,
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        }
    }

    /// The client with the app's credentials from the application secret.
    pub fn from_secrets(
        slack: SlackHttpClient,
        secrets: &approvals_core::config::AppSecrets,
    ) -> Self {
        Self::new(
            slack,
            secrets.slack_client_id.clone(),
            secrets.slack_client_secret.clone(),
        )
    }
}

#[derive(Deserialize)]
struct Named {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct AccessAnswer {
    access_token: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    bot_user_id: Option<String>,
    #[serde(default)]
    app_id: Option<String>,
    #[serde(default)]
    team: Option<Named>,
    #[serde(default)]
    enterprise: Option<Named>,
    #[serde(default)]
    authed_user: Option<Named>,
    #[serde(default)]
    is_enterprise_install: bool,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
}

fn parse<T: for<'de> Deserialize<'de>>(value: serde_json::Value) -> Result<T, SlackError> {
    serde_json::from_value(value).map_err(|_| SlackError::InvalidResponse {
        method: "oauth.v2.access".into(),
    })
}

#[async_trait]
impl SlackOAuth for SlackOAuthClient {
    async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        now: i64,
    ) -> Result<Installation, SlackError> {
        let answer: AccessAnswer = parse(
            self.slack
                .call_with_client_credentials(
                    "oauth.v2.access",
                    &self.client_id,
                    &self.client_secret,
                    &[("code", code), ("redirect_uri", redirect_uri)],
                )
                .await?,
        )?;
        let installation = Installation {
            team_id: answer.team.as_ref().map(|t| t.id.clone()),
            team_name: answer.team.and_then(|t| t.name),
            enterprise_id: answer.enterprise.as_ref().map(|e| e.id.clone()),
            enterprise_name: answer.enterprise.and_then(|e| e.name),
            is_enterprise_install: answer.is_enterprise_install,
            bot_user_id: answer.bot_user_id.unwrap_or_default(),
            app_id: answer.app_id.unwrap_or_default(),
            scopes: answer
                .scope
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            installed_by: answer.authed_user.map(|u| u.id),
            installed_at: now,
            bot_token: SecretToken::new(answer.access_token),
            bot_token_expires_at: answer.expires_in.map(|secs| now + secs),
            bot_refresh_token: answer.refresh_token.map(SecretToken::new),
        };
        if installation.id().is_empty() {
            return Err(SlackError::InvalidResponse {
                method: "oauth.v2.access".into(),
            });
        }
        Ok(installation)
    }

    async fn refresh(
        &self,
        refresh_token: &SecretToken,
        now: i64,
    ) -> Result<RefreshedToken, SlackError> {
        let answer: AccessAnswer = parse(
            self.slack
                .call_with_client_credentials(
                    "oauth.v2.access",
                    &self.client_id,
                    &self.client_secret,
                    &[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", refresh_token.expose()),
                    ],
                )
                .await?,
        )?;
        match (answer.refresh_token, answer.expires_in) {
            (Some(refresh_token), Some(expires_in)) => Ok(RefreshedToken {
                bot_token: SecretToken::new(answer.access_token),
                refresh_token: SecretToken::new(refresh_token),
                expires_at: now + expires_in,
            }),
            _ => Err(SlackError::InvalidResponse {
                method: "oauth.v2.access".into(),
            }),
        }
    }

    async fn revoke(&self, token: &SecretToken) -> Result<(), SlackError> {
        match self
            .slack
            .call("auth.revoke", token, &serde_json::json!({}))
            .await
        {
            Ok(_) => Ok(()),
            // Already gone is what we wanted.
            Err(SlackError::Api { code, .. })
                if matches!(
                    code.as_str(),
                    "invalid_auth" | "token_revoked" | "account_inactive"
                ) =>
            {
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    async fn test_token(&self, token: &SecretToken) -> Result<(), SlackError> {
        self.slack
            .call("auth.test", token, &serde_json::json!({}))
            .await
            .map(|_| ())
    }
}
