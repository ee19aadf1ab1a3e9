//! Slack's Events API: URL verification, the end of an installation from Slack's side
//! (`app_uninstalled`, `tokens_revoked` for the bot), and the workspace's people changing
//! (`team_join`, `user_change`), the Home tab opened, and people's replies in a request's
//! thread ([`super::thread_comments`]). Retried deliveries are processed once.

use serde::Deserialize;
use tracing::Instrument as _;

use crate::domain::DisconnectReason;
use crate::people::SlackMember;
use crate::ports::{
    ApprovalStore, CommentStore, HomeFor, HomeQueue, HostNotifier, QueueError, StoreError,
    TenantStore, UserDirectory,
};
use crate::usecases::connection::disconnect_everywhere;
use crate::usecases::people::member_changed;
use crate::usecases::thread_comments::{RelayError, Relayed, ThreadComments, ThreadMessage};

/// Remember handled event ids for a day; Slack retries within minutes.
const EVENT_GUARD_SECS: i64 = 24 * 3600;
/// While one delivery works on an event, its retries are answered as duplicates for this
/// long: longer than the function's 10 s timeout, so a run that was killed mid-way stops
/// holding the event well before Slack's later retries (1 and 5 minutes on).
const EVENT_LEASE_SECS: i64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("the body is not an Events API envelope: {0}")]
    Malformed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
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
    event: Option<serde_json::Value>,
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
    #[serde(default)]
    user: Option<serde_json::Value>,
    #[serde(default)]
    tab: Option<String>,
}

/// What an event asks of us.
enum Work {
    Disconnect(DisconnectReason),
    Member(SlackMember),
    /// Someone opened the app's Home tab: publish their inbox, as it stands now.
    OpenedHome(String),
    /// A reply in some thread was posted, edited or deleted.
    Thread(ThreadMessage),
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
    pub directory: &'a dyn UserDirectory,
    pub homes: &'a dyn HomeQueue,
    pub comments: &'a dyn CommentStore,
}

impl From<RelayError> for EventsError {
    fn from(error: RelayError) -> Self {
        match error {
            RelayError::Store(error) => Self::Store(error),
            RelayError::Queue(error) => Self::Queue(error),
        }
    }
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
        let raw_event = envelope
            .event
            .as_ref()
            .ok_or_else(|| EventsError::Malformed("no event".into()))?;
        let event =
            Event::deserialize(raw_event).map_err(|e| EventsError::Malformed(e.to_string()))?;
        let work = match event.kind.as_str() {
            "app_uninstalled" => Work::Disconnect(DisconnectReason::AppUninstalled),
            "tokens_revoked" if event.tokens.as_ref().is_some_and(|t| !t.bot.is_empty()) => {
                Work::Disconnect(DisconnectReason::TokensRevoked)
            }
            "team_join" | "user_change" => Work::Member(
                event
                    .user
                    .as_ref()
                    .and_then(SlackMember::from_slack)
                    .ok_or_else(|| {
                        EventsError::Malformed(format!("{} without a user", event.kind))
                    })?,
            ),
            "app_home_opened" if event.tab.as_deref() == Some("home") => Work::OpenedHome(
                event
                    .user
                    .as_ref()
                    .and_then(|user| user.as_str())
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        EventsError::Malformed("app_home_opened without a user".into())
                    })?,
            ),
            // Bots' messages, top-level ones and joins are dropped before any write.
            "message" => match ThreadMessage::from_event(raw_event) {
                Some(message) => Work::Thread(message),
                None => return Ok(EventsAnswer::Ignored),
            },
            _ => return Ok(EventsAnswer::Ignored),
        };
        let event_id = envelope
            .event_id
            .as_deref()
            .ok_or_else(|| EventsError::Malformed("no event_id".into()))?;
        // The event is marked done only once the work is; any failure gives it back, so
        // Slack's retry does the work again.
        // Most messages are in threads that are no request's: they are dropped before any
        // write, so a busy channel costs a read a message, not a guard item.
        if let Work::Thread(message) = &work {
            let request = match self.installation_of(&envelope).await? {
                Some(installation_id) => {
                    self.comments
                        .approval_for_thread(
                            &installation_id,
                            &message.channel_id,
                            &message.root_ts,
                        )
                        .await?
                }
                None => None,
            };
            if request.is_none() {
                return Ok(EventsAnswer::Ignored);
            }
        }
        // Every line logged while the event is handled names it and its workspace.
        let span = tracing::info_span!(
            "slack_event",
            event_id,
            team_id = envelope.team_id.as_deref().unwrap_or_default(),
            kind = event.kind.as_str(),
        );
        let answer = super::once_per_key(
            self.guards,
            &format!("EVENT#{event_id}"),
            now,
            (EVENT_LEASE_SECS, EVENT_GUARD_SECS),
            self.perform(&envelope, work, now),
        )
        .instrument(span)
        .await?;
        Ok(answer.unwrap_or(EventsAnswer::Duplicate))
    }

    /// The installation an event came through: the enterprise for an org-wide one, else
    /// the team.
    async fn installation_of(&self, envelope: &Envelope) -> Result<Option<String>, EventsError> {
        let org_wide = envelope.is_enterprise_install.unwrap_or(false)
            || envelope
                .authorizations
                .first()
                .is_some_and(|a| a.is_enterprise_install);
        Ok(
            match (
                org_wide,
                envelope.team_id.as_deref(),
                envelope.enterprise_id.as_deref(),
            ) {
                (true, _, Some(enterprise)) => Some(enterprise.to_owned()),
                // Without `authorizations`, an org-wide installation is found by its enterprise.
                (false, Some(team), Some(enterprise))
                    if self.tenants.installation(team).await?.is_none() =>
                {
                    Some(enterprise.to_owned())
                }
                (false, Some(team), _) => Some(team.to_owned()),
                _ => None,
            },
        )
    }

    async fn perform(
        &self,
        envelope: &Envelope,
        work: Work,
        now: i64,
    ) -> Result<EventsAnswer, EventsError> {
        let Some(installation_id) = self.installation_of(envelope).await? else {
            return Ok(EventsAnswer::Ignored);
        };
        let installation_id = installation_id.as_str();
        let reason = match work {
            Work::Disconnect(reason) => reason,
            Work::Member(member) => {
                let changed =
                    member_changed(self.tenants, self.directory, installation_id, &member, now)
                        .await?;
                tracing::info!(installation_id, slack_user_id = %member.id, changed,
                    "a workspace member changed");
                return Ok(EventsAnswer::Handled);
            }
            Work::Thread(message) => {
                let relayed = ThreadComments {
                    approvals: self.guards,
                    tenants: self.tenants,
                    comments: self.comments,
                    directory: self.directory,
                    notifier: self.notifier,
                }
                .relay(installation_id, &message, now)
                .await?;
                return Ok(match relayed {
                    Relayed::Sent => EventsAnswer::Handled,
                    Relayed::Duplicate => EventsAnswer::Duplicate,
                    Relayed::NotARequest | Relayed::Ours => EventsAnswer::Ignored,
                });
            }
            Work::OpenedHome(slack_user_id) => {
                // The worker builds and publishes it: this answer stays within Slack's 3 s.
                let home = HomeFor {
                    installation_id: installation_id.to_owned(),
                    slack_user_id,
                };
                self.homes.publish_home(&home).await?;
                return Ok(EventsAnswer::Handled);
            }
        };

        let event_time = envelope.event_time.unwrap_or(now);
        let disconnected = disconnect_everywhere(
            self.tenants,
            self.notifier,
            installation_id,
            event_time,
            reason,
        )
        .await?;
        Ok(if disconnected {
            EventsAnswer::Handled
        } else {
            EventsAnswer::Ignored
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use async_trait::async_trait;

    use super::*;
    use crate::fakes::{installation, MemoryQueue, MemoryStore};
    use crate::ports::{HostEvent, QueueError};

    const NOW: i64 = 1_800_000_000;

    /// A host notifier that never answers: the run is cut off mid-way, as a Lambda
    /// timeout would cut it.
    struct Stalls;

    #[async_trait]
    impl HostNotifier for Stalls {
        async fn notify(&self, _event: &HostEvent) -> Result<(), QueueError> {
            std::future::pending().await
        }
    }

    fn uninstall() -> Vec<u8> {
        serde_json::json!({"type": "event_callback", "event_id": "Ev1", "event_time": NOW,
                           "team_id": "T1", "event": {"type": "app_uninstalled"}})
        .to_string()
        .into_bytes()
    }

    #[tokio::test]
    async fn a_run_cut_off_mid_way_holds_the_event_only_for_a_short_lease() {
        let store = MemoryStore::default();
        store.connect("acme", installation("T1"));
        let events = SlackEvents {
            guards: &store,
            tenants: &store,
            notifier: &Stalls,
            directory: &store,
            homes: &MemoryQueue::default(),
            comments: &store,
        };

        let cut_off =
            tokio::time::timeout(Duration::from_millis(50), events.handle(&uninstall(), NOW)).await;

        assert!(cut_off.is_err(), "the run never finished");
        assert_eq!(
            store.claim_expiry("EVENT#Ev1"),
            Some(NOW + EVENT_LEASE_SECS),
            "Slack's retry a minute later does the work again"
        );
    }

    #[tokio::test]
    async fn a_finished_run_marks_the_event_done_for_a_day() {
        let (store, queue) = (MemoryStore::default(), MemoryQueue::default());
        store.connect("acme", installation("T1"));
        let events = SlackEvents {
            guards: &store,
            tenants: &store,
            notifier: &queue,
            directory: &store,
            homes: &queue,
            comments: &store,
        };

        let first = events.handle(&uninstall(), NOW).await.unwrap();
        let retry = events.handle(&uninstall(), NOW + 60).await.unwrap();

        assert_eq!(
            (first, retry),
            (EventsAnswer::Handled, EventsAnswer::Duplicate)
        );
        assert_eq!(
            store.claim_expiry("EVENT#Ev1"),
            Some(NOW + EVENT_GUARD_SECS)
        );
        assert_eq!(queue.sent().len(), 1, "slack.disconnected told once");
    }
}
