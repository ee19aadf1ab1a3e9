//! Deciding an approval exactly once and finishing the decision's side effects.
//!
//! The pending → decided write is conditional, so one command wins however many race.
//! Only the winning command (and SQS's redeliveries of it) updates Slack and tells the
//! host; each effect is recorded when done, so a redelivery repeats nothing that was done.

use serde_json::json;

use crate::blocks::{already_decided_line, decided_message};
use crate::domain::{Approval, ApprovalStatus, DecisionCommand, DecisionRecord};
use crate::ports::{
    ApprovalStore, BotTokens, DecisionWrite, HostEvent, SideEffect, SlackApi, SlackError,
    StoreError, TenantStore, TokenError, WebhookError, WebhookSink,
};
use crate::time::rfc3339;

/// How long a loser's "already decided" note is remembered, so redeliveries don't repeat it.
const NOTE_GUARD_SECS: i64 = 24 * 3600;

#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("updating the Slack message failed: {0}")]
    Slack(#[from] SlackError),
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    #[error(transparent)]
    Token(#[from] TokenError),
}

impl DecideError {
    /// Whether SQS should deliver the command again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Store(_) | Self::Webhook(_) | Self::Token(_) => true,
            Self::Slack(error) => error.is_retryable(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecideOutcome {
    /// This command decided, and every side effect is done.
    Decided,
    /// Another command decided first; the clicker was told.
    AlreadyDecided,
    /// The command names an approval that does not exist or belongs to another team.
    Refused,
}

pub struct Decide<'a> {
    pub approvals: &'a dyn ApprovalStore,
    pub tenants: &'a dyn TenantStore,
    pub slack: &'a dyn SlackApi,
    pub webhooks: &'a dyn WebhookSink,
    pub tokens: &'a dyn BotTokens,
}

impl Decide<'_> {
    pub async fn run(
        &self,
        command: &DecisionCommand,
        now: i64,
    ) -> Result<DecideOutcome, DecideError> {
        let Some(mut approval) = self.approvals.get(&command.approval_id).await? else {
            tracing::warn!(approval_id = %command.approval_id, team_id = %command.team_id,
                "click names an unknown approval; ignored");
            return Ok(DecideOutcome::Refused);
        };
        if !command.may_act_on(&approval.installation_id) {
            tracing::warn!(approval_id = %approval.id, team_id = %command.team_id,
                enterprise_id = ?command.enterprise_id, owner = %approval.installation_id,
                "click from a team that does not own the approval; ignored");
            return Ok(DecideOutcome::Refused);
        }

        if approval.status == ApprovalStatus::Pending {
            let record = DecisionRecord {
                decision: command.decision,
                decided_by: command.user_id.clone(),
                decided_by_team: command.team_id.clone(),
                decided_at: now,
                command_id: command.command_id.clone(),
                event_id: format!("evt_{}", uuid::Uuid::new_v4().simple()),
                slack_message_updated: false,
                webhook_delivered: false,
            };
            match self.approvals.decide(&approval.id, &record).await? {
                DecisionWrite::Won => {
                    approval.status = record.decision.status();
                    approval.decision = Some(record);
                }
                DecisionWrite::Lost(current) => approval = *current,
            }
        }

        let Some(record) = approval.decision.clone() else {
            return Err(StoreError::Corrupt(format!(
                "approval {} is {:?} but has no decision record",
                approval.id, approval.status
            ))
            .into());
        };
        if record.command_id == command.command_id {
            self.finish_effects(&approval, &record, now).await?;
            Ok(DecideOutcome::Decided)
        } else {
            self.tell_the_late_clicker(command, &record, now).await?;
            Ok(DecideOutcome::AlreadyDecided)
        }
    }

    /// Each effect is tried even when the other fails, so a Slack outage never holds up
    /// the host's webhook (and the reverse); the first failure is returned for redelivery.
    async fn finish_effects(
        &self,
        approval: &Approval,
        record: &DecisionRecord,
        now: i64,
    ) -> Result<(), DecideError> {
        let mut first_failure = None;
        if !record.slack_message_updated {
            match self.update_message(approval, record, now).await {
                Ok(()) => {
                    self.approvals
                        .mark_done(
                            &approval.id,
                            &record.command_id,
                            SideEffect::SlackMessageUpdated,
                        )
                        .await?
                }
                Err(error) => first_failure = Some(error),
            }
        }
        if !record.webhook_delivered {
            match self
                .webhooks
                .deliver(&decided_event(approval, record))
                .await
            {
                Ok(()) => {
                    self.approvals
                        .mark_done(
                            &approval.id,
                            &record.command_id,
                            SideEffect::WebhookDelivered,
                        )
                        .await?
                }
                Err(error) => first_failure = first_failure.or(Some(error.into())),
            }
        }
        first_failure.map_or(Ok(()), Err)
    }

    async fn update_message(
        &self,
        approval: &Approval,
        record: &DecisionRecord,
        now: i64,
    ) -> Result<(), DecideError> {
        let Some(at) = &approval.message else {
            tracing::warn!(approval_id = %approval.id, "decided approval has no Slack message to update");
            return Ok(());
        };
        let Some(installation) = self.tenants.installation(&approval.installation_id).await? else {
            tracing::warn!(approval_id = %approval.id, "installation is gone; message left as it is");
            return Ok(());
        };
        let token = match self.tokens.usable_token(&installation, now).await {
            Ok(token) => token,
            Err(TokenError::Revoked) => {
                tracing::warn!(approval_id = %approval.id, "tokens were revoked; message left as it is");
                return Ok(());
            }
            Err(error) => return Err(error.into()),
        };
        match self
            .slack
            .update_message(&token, at, &decided_message(approval, record))
            .await
        {
            Ok(()) => Ok(()),
            // A deleted or uneditable message must not be retried forever.
            Err(error) if !error.is_retryable() => {
                tracing::error!(approval_id = %approval.id, %error, "Slack message could not be updated; giving up on it");
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }

    async fn tell_the_late_clicker(
        &self,
        command: &DecisionCommand,
        record: &DecisionRecord,
        now: i64,
    ) -> Result<(), DecideError> {
        let Some(response_url) = &command.response_url else {
            return Ok(());
        };
        let guard = format!("NOTE#{}", command.command_id);
        if !self
            .approvals
            .claim_once(&guard, now + NOTE_GUARD_SECS)
            .await?
        {
            return Ok(());
        }
        let body = json!({
            "response_type": "ephemeral",
            "replace_original": false,
            "text": already_decided_line(record),
        });
        if let Err(error) = self.slack.respond(response_url, &body).await {
            // The note is a courtesy: a dead response_url must not redeliver the command.
            tracing::warn!(approval_id = %command.approval_id, %error, "could not send the already-decided note");
        }
        Ok(())
    }
}

/// `approval.decided`, built only from stored data so every retry sends the same event.
pub fn decided_event(approval: &Approval, record: &DecisionRecord) -> HostEvent {
    let decided_at = rfc3339(record.decided_at);
    HostEvent {
        id: record.event_id.clone(),
        kind: "approval.decided".into(),
        created_at: decided_at.clone(),
        data: json!({
            "approval_id": approval.id,
            "tenant_id": approval.request.tenant_id,
            "external_id": approval.request.external_id,
            "decision": record.decision.as_str(),
            "decided_by": {"slack_user_id": record.decided_by, "slack_team_id": record.decided_by_team},
            "decided_at": decided_at,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Decision;
    use crate::fakes::{installation, request, FakeSlack, FakeWebhooks, MemoryStore};
    use crate::usecases::create_approval::CreateApproval;
    use crate::usecases::tokens::StaticTokens;

    async fn posted_approval(store: &MemoryStore, slack: &FakeSlack) -> String {
        store.connect("acme", installation("T1"));
        CreateApproval {
            approvals: store,
            tenants: store,
            slack,
            tokens: &StaticTokens,
        }
        .run(request("DR-1", Some("C1")), 10)
        .await
        .unwrap();
        request("DR-1", None).approval_id()
    }

    fn decide_with<'a>(
        store: &'a MemoryStore,
        slack: &'a FakeSlack,
        hooks: &'a FakeWebhooks,
    ) -> Decide<'a> {
        Decide {
            approvals: store,
            tenants: store,
            slack,
            webhooks: hooks,
            tokens: &StaticTokens,
        }
    }

    fn click(approval_id: &str, user: &str, team: &str) -> DecisionCommand {
        DecisionCommand {
            command_id: format!("{team}:{user}:1.0:{approval_id}"),
            approval_id: approval_id.into(),
            decision: Decision::Approved,
            user_id: user.into(),
            team_id: team.into(),
            enterprise_id: None,
            response_url: Some(format!("https://hooks.example/{user}")),
        }
    }

    #[tokio::test]
    async fn given_a_pending_approval_when_clicked_then_decided_updated_and_host_told() {
        let (store, slack, hooks) = (
            MemoryStore::default(),
            FakeSlack::default(),
            FakeWebhooks::default(),
        );
        let id = posted_approval(&store, &slack).await;
        let decide = decide_with(&store, &slack, &hooks);

        let outcome = decide.run(&click(&id, "U1", "T1"), 20).await.unwrap();

        assert_eq!(outcome, DecideOutcome::Decided);
        let stored = store.approval(&id).unwrap();
        assert_eq!(stored.status, ApprovalStatus::Approved);
        let record = stored.decision.unwrap();
        assert!(record.slack_message_updated && record.webhook_delivered);
        assert_eq!(slack.updates().len(), 1);
        assert_eq!(hooks.events().len(), 1);
    }

    #[tokio::test]
    async fn given_a_decided_approval_when_another_user_clicks_then_only_a_note() {
        let (store, slack, hooks) = (
            MemoryStore::default(),
            FakeSlack::default(),
            FakeWebhooks::default(),
        );
        let id = posted_approval(&store, &slack).await;
        let decide = decide_with(&store, &slack, &hooks);
        decide.run(&click(&id, "U1", "T1"), 20).await.unwrap();

        let late = click(&id, "U2", "T1");
        let outcome = decide.run(&late, 21).await.unwrap();
        decide.run(&late, 22).await.unwrap();

        assert_eq!(outcome, DecideOutcome::AlreadyDecided);
        assert_eq!(slack.updates().len(), 1);
        assert_eq!(hooks.events().len(), 1);
        let notes = slack.responses();
        assert_eq!(notes.len(), 1, "a redelivered late click is not told twice");
        assert!(notes[0].1["text"].as_str().unwrap().contains("<@U1>"));
    }

    #[tokio::test]
    async fn given_the_webhook_failed_when_redelivered_then_only_the_webhook_is_retried() {
        let (store, slack) = (MemoryStore::default(), FakeSlack::default());
        let hooks = FakeWebhooks::failing_times(1);
        let id = posted_approval(&store, &slack).await;
        let decide = decide_with(&store, &slack, &hooks);
        let command = click(&id, "U1", "T1");

        assert!(decide.run(&command, 20).await.is_err());
        decide.run(&command, 25).await.unwrap();

        assert_eq!(
            slack.updates().len(),
            1,
            "the message update is not repeated"
        );
        let events = hooks.events();
        assert_eq!(events.len(), 2, "one failed attempt, one delivered");
        assert_eq!(
            events[0].id, events[1].id,
            "the same event id on every retry"
        );
    }

    #[tokio::test]
    async fn given_slack_is_down_then_the_host_is_told_anyway_and_slack_is_retried() {
        let store = MemoryStore::default();
        let hooks = FakeWebhooks::default();
        let id = posted_approval(&store, &FakeSlack::default()).await;
        let slack = FakeSlack::failing_updates(SlackError::Server {
            method: "chat.update".into(),
            status: 503,
        });
        let decide = decide_with(&store, &slack, &hooks);

        let result = decide.run(&click(&id, "U1", "T1"), 20).await;

        assert!(
            result.is_err_and(|e| e.is_retryable()),
            "redelivery retries the Slack update"
        );
        assert_eq!(
            hooks.events().len(),
            1,
            "the webhook did not wait for Slack"
        );
        let record = store.approval(&id).unwrap().decision.unwrap();
        assert!(record.webhook_delivered && !record.slack_message_updated);
    }

    #[tokio::test]
    async fn given_a_click_from_another_team_then_nothing_changes() {
        let (store, slack, hooks) = (
            MemoryStore::default(),
            FakeSlack::default(),
            FakeWebhooks::default(),
        );
        let id = posted_approval(&store, &slack).await;
        let decide = decide_with(&store, &slack, &hooks);

        let outcome = decide.run(&click(&id, "U9", "T_EVIL"), 20).await.unwrap();

        assert_eq!(outcome, DecideOutcome::Refused);
        assert_eq!(store.approval(&id).unwrap().status, ApprovalStatus::Pending);
        assert!(slack.updates().is_empty() && hooks.events().is_empty());
    }
}
