//! After an install: the installer's greeting, once a day at most, and the resumption of
//! the effects that waited for the workspace to come back.

use crate::blocks::welcome_message;
use crate::ports::{
    ApprovalStore, BotTokens, Installed, SlackApi, SlackError, StoreError, TenantStore, TokenError,
};

/// A reinstall within this long greets nobody again.
pub const GREET_AGAIN_AFTER_SECS: i64 = 24 * 3600;
/// How long one attempt holds the greeting: a crash mid-way frees it for the retry soon.
const SENDING_LEASE_SECS: i64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Greeting {
    Sent,
    /// Greeted within the day, or nobody to greet, or the workspace is gone again.
    Skipped,
}

#[derive(Debug, thiserror::Error)]
pub enum WelcomeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the greeting could not be sent yet: {0}")]
    Slack(SlackError),
    #[error("no usable token for the greeting yet: {0}")]
    Token(TokenError),
}

pub struct Welcome<'a> {
    pub claims: &'a dyn ApprovalStore,
    pub tenants: &'a dyn TenantStore,
    pub slack: &'a dyn SlackApi,
    pub tokens: &'a dyn BotTokens,
}

impl Welcome<'_> {
    /// Greets the installer in a DM from the app. A claim keyed by installation and person,
    /// taken as a short lease and kept for a day once the greeting is sent, keeps a
    /// redelivery, or a reinstall within the day, from greeting twice; a failure that may
    /// pass gives the claim back so the queue retries.
    pub async fn greet(&self, installed: &Installed, now: i64) -> Result<Greeting, WelcomeError> {
        let Some(installer) = installed.installed_by.as_deref() else {
            return Ok(Greeting::Skipped);
        };
        let Some(installation) = self
            .tenants
            .installation(&installed.installation_id)
            .await?
        else {
            return Ok(Greeting::Skipped);
        };
        let key = format!("welcome:{}:{installer}", installed.installation_id);
        if !self
            .claims
            .claim_once(&key, now, now + SENDING_LEASE_SECS)
            .await?
        {
            tracing::info!(installation_id = %installed.installation_id, "installer greeted within the day; not again");
            return Ok(Greeting::Skipped);
        }
        let token = match self.tokens.usable_token(&installation, now).await {
            Ok(token) => token,
            Err(TokenError::Revoked) => return Ok(Greeting::Skipped),
            Err(error) => {
                self.claims.release_claim(&key).await?;
                return Err(WelcomeError::Token(error));
            }
        };
        let message = welcome_message(
            installed.tenant_name.as_deref(),
            installed.team_name.as_deref(),
        );
        match self.slack.post_message(&token, installer, &message).await {
            Ok(_) => {
                self.claims
                    .extend_claim(&key, now + GREET_AGAIN_AFTER_SECS)
                    .await?;
                Ok(Greeting::Sent)
            }
            Err(error) if error.is_retryable() => {
                self.claims.release_claim(&key).await?;
                Err(WelcomeError::Slack(error))
            }
            Err(error) => {
                tracing::warn!(installation_id = %installed.installation_id, %error, "the installer cannot be greeted; skipped");
                Ok(Greeting::Skipped)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{installation, FakeSlack, MemoryStore};
    use crate::usecases::tokens::StaticTokens;

    fn installed() -> Installed {
        Installed {
            installation_id: "T1".into(),
            tenant_id: "acme".into(),
            tenant_name: Some("Acme <Partners>".into()),
            team_name: Some("Sandbox Co".into()),
            installed_by: Some("U0ANA".into()),
            installed_at: 10,
        }
    }

    #[tokio::test]
    async fn the_installer_is_greeted_once_a_day() {
        let (store, slack) = (MemoryStore::default(), FakeSlack::default());
        store.connect("acme", installation("T1"));
        let welcome = Welcome {
            claims: &store,
            tenants: &store,
            slack: &slack,
            tokens: &StaticTokens,
        };

        let first = welcome.greet(&installed(), 100).await.unwrap();
        let redelivered = welcome.greet(&installed(), 101).await.unwrap();
        let next_day = welcome
            .greet(&installed(), 100 + GREET_AGAIN_AFTER_SECS + 1)
            .await
            .unwrap();

        assert_eq!(
            (first, redelivered, next_day),
            (Greeting::Sent, Greeting::Skipped, Greeting::Sent)
        );
        let posted = slack.posted();
        assert_eq!(posted[0].0, "U0ANA", "a DM to the installer");
        let text = serde_json::to_string(&posted[0].1.blocks).unwrap();
        assert!(text.contains("*Acme &lt;Partners&gt;*"), "{text}");
        assert!(text.contains("Map users"), "{text}");
    }

    #[tokio::test]
    async fn a_slack_hiccup_gives_the_claim_back_for_the_retry() {
        let store = MemoryStore::default();
        let slack = FakeSlack::failing_posts("ratelimited");
        store.connect("acme", installation("T1"));
        let welcome = Welcome {
            claims: &store,
            tenants: &store,
            slack: &slack,
            tokens: &StaticTokens,
        };

        let failed = welcome.greet(&installed(), 100).await;

        assert!(matches!(failed, Err(WelcomeError::Slack(_))), "{failed:?}");
        assert_eq!(
            store.claim_expiry("welcome:T1:U0ANA"),
            None,
            "claim given back"
        );
    }
}
