//! Slack's Events API: URL verification, and the end of an installation from Slack's side
//! (`app_uninstalled`, `tokens_revoked` for the bot). Retried deliveries are processed once.

use serde::Deserialize;

use crate::domain::DisconnectReason;
use crate::ports::{ApprovalStore, HostNotifier, StoreError, TenantStore};
use crate::usecases::connection::disconnect_everywhere;

/// Remember delivered event ids for a day; Slack retries within minutes.
const EVENT_GUARD_SECS: i64 = 24 * 3600;

#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("the body is not an Events API envelope: {0}")]
    Malformed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventsAnswer {
    /// `url_verification`: echo the challenge.
    Challenge(String),
    Handled,
    Duplicate,
    Ignored,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    challenge: Option<String>,
    #[serde(default)]
    event_id: Option<String>,
    #[serde(default)]
    event_time: Option<i64>,
    #[serde(default)]
    team_id: Option<String>,
    #[serde(default)]
    enterprise_id: Option<String>,
    #[serde(default)]
    is_enterprise_install: Option<bool>,
    #[serde(default)]
    authorizations: Vec<Authorization>,
    #[serde(default)]
    event: Option<Event>,
}

#[derive(Deserialize)]
struct Authorization {
    #[serde(default)]
    is_enterprise_install: bool,
}

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    tokens: Option<RevokedTokens>,
}

#[derive(Deserialize)]
struct RevokedTokens {
    #[serde(default)]
    bot: Vec<String>,
}

pub struct SlackEvents<'a> {
    pub guards: &'a dyn ApprovalStore,
    pub tenants: &'a dyn TenantStore,
    pub notifier: &'a dyn HostNotifier,
}

impl SlackEvents<'_> {
    pub async fn handle(&self, body: &[u8], now: i64) -> Result<EventsAnswer, EventsError> {
        let envelope: Envelope =
            serde_json::from_slice(body).map_err(|e| EventsError::Malformed(e.to_string()))?;
        match envelope.kind.as_str() {
            "url_verification" => {
                return envelope
                    .challenge
                    .map(EventsAnswer::Challenge)
                    .ok_or_else(|| {
                        EventsError::Malformed("url_verification without challenge".into())
                    })
            }
            "event_callback" => {}
            _ => return Ok(EventsAnswer::Ignored),
        }
        let event = envelope
            .event
            .as_ref()
            .ok_or_else(|| EventsError::Malformed("no event".into()))?;
        let reason = match event.kind.as_str() {
            "app_uninstalled" => DisconnectReason::AppUninstalled,
            "tokens_revoked" if event.tokens.as_ref().is_some_and(|t| !t.bot.is_empty()) => {
                DisconnectReason::TokensRevoked
            }
            _ => return Ok(EventsAnswer::Ignored),
        };
        let event_id = envelope
            .event_id
            .as_deref()
            .ok_or_else(|| EventsError::Malformed("no event_id".into()))?;
        let guard = format!("EVENT#{event_id}");
        if !self
            .guards
            .claim_once(&guard, now + EVENT_GUARD_SECS)
            .await?
        {
            return Ok(EventsAnswer::Duplicate);
        }
        let org_wide = envelope.is_enterprise_install.unwrap_or(false)
            || envelope
                .authorizations
                .first()
                .is_some_and(|a| a.is_enterprise_install);
        let installation_id = match (
            org_wide,
            envelope.team_id.as_deref(),
            envelope.enterprise_id.as_deref(),
        ) {
            (true, _, Some(enterprise)) => enterprise.to_owned(),
            // Without `authorizations`, an org-wide installation is found by its enterprise.
            (false, Some(team), Some(enterprise))
                if self.tenants.installation(team).await?.is_none() =>
            {
                enterprise.to_owned()
            }
            (false, Some(team), _) => team.to_owned(),
            _ => return Ok(EventsAnswer::Ignored),
        };
        let installation_id = installation_id.as_str();

        let event_time = envelope.event_time.unwrap_or(now);
        match disconnect_everywhere(
            self.tenants,
            self.notifier,
            installation_id,
            event_time,
            reason,
        )
        .await
        {
            Ok(true) => Ok(EventsAnswer::Handled),
            Ok(false) => Ok(EventsAnswer::Ignored),
            Err(error) => {
                // Let Slack's retry try again.
                self.guards.release_claim(&guard).await?;
                Err(error.into())
            }
        }
    }
}
