//! Deciding on a click: the vote through the state machine, then the approval's due effects.
//!
//! The vote is one conditional write, so however many clicks race, one terminal state is
//! stored. Whichever command's delivery comes next performs the approval's due outbox
//! entries, so a redelivery finishes what a crash left undone and repeats nothing done.

use crate::domain::{Approval, CopyRole, DecisionCommand, MessageCopy, RefusedClick};
use crate::machine::{Command, Refusal};
use crate::outbox::Backoff;
use crate::ports::{
    ApprovalStore, BotTokens, SlackApi, StoreError, TenantStore, UserDirectory, WebhookSink,
};
use crate::usecases::effects::{FileWork, PerformEffects, Progress};
use crate::usecases::inbox::Inbox;
use crate::usecases::transition::{apply_command, arm_missing_copies, Applied, Clicker, KnownAs};

#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecideOutcome {
    /// The click counted: it ended the approval or added a vote.
    Counted,
    /// A redelivery of a click that already counted.
    AlreadyCounted,
    /// The approval had ended; the clicker is told how.
    AlreadyDecided,
    /// The clicker may not vote (not an approver, voted already): they are told why.
    NotCounted,
    /// The click names an approval that does not exist, belongs to another team, or comes
    /// from a user Slack deactivated: nothing changes and nobody is told.
    Refused,
}

/// The command's outcome and what is left of the approval's effects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    pub outcome: DecideOutcome,
    pub progress: Progress,
}

pub struct Decide<'a> {
    pub approvals: &'a dyn ApprovalStore,
    pub tenants: &'a dyn TenantStore,
    pub slack: &'a dyn SlackApi,
    pub webhooks: &'a dyn WebhookSink,
    pub tokens: &'a dyn BotTokens,
    pub directory: &'a dyn UserDirectory,
    pub people: Inbox<'a>,
    pub backoff: Backoff,
    /// Files still to move into the thread, moved on the way.
    pub files: Option<FileWork<'a>>,
}

impl Decide<'_> {
    pub async fn run(&self, command: &DecisionCommand, now: i64) -> Result<Decided, DecideError> {
        let refused = Decided {
            outcome: DecideOutcome::Refused,
            progress: Progress::default(),
        };
        let Some(mut approval) = self.approvals.get(&command.approval_id).await? else {
            tracing::warn!(approval_id = %command.approval_id, team_id = %command.team_id,
                "click names an unknown approval; ignored");
            return Ok(refused);
        };
        // Deny by default: a click from another workspace (or a Slack Connect outsider,
        // judged by their own team) changes nothing.
        if !command.may_act_on(&approval.installation_id) {
            tracing::warn!(approval_id = %approval.id, team_id = %command.team_id,
                enterprise_id = ?command.enterprise_id, owner = %approval.installation_id,
                "click from a team that does not own the approval; ignored");
            self.record_refusal(&approval, command, "foreign_team", now)
                .await?;
            return Ok(refused);
        }
        let identity = self
            .directory
            .slack_identity(&approval.request.tenant_id, &command.user_id)
            .await?;
        if identity.as_ref().is_some_and(|i| i.deactivated) {
            tracing::warn!(approval_id = %approval.id, user_id = %command.user_id,
                "click from a deactivated Slack user; ignored");
            self.record_refusal(&approval, command, "deactivated", now)
                .await?;
            return Ok(refused);
        }
        let known_as = identity.and_then(|i| {
            Some(KnownAs {
                user_id: i.user_id?,
                email: i.email,
            })
        });
        // A message the store never heard of (a post whose answer was lost) is a copy too:
        // once known, it is updated like the others.
        if let Some(clicked) = &command.message {
            let role = if clicked.channel_id.starts_with('D') {
                CopyRole::Direct
            } else {
                CopyRole::Channel
            };
            let copy = MessageCopy::new(clicked.clone(), role);
            if !approval.copies.contains_key(&copy.key()) {
                tracing::warn!(approval_id = %approval.id, channel_id = %copy.channel_id,
                    "click on a copy the store did not know; recording it");
                self.approvals.add_copy(&approval.id, &copy).await?;
                approval.copies.insert(copy.key(), copy);
            }
        }

        let vote = Command::Vote {
            user_id: command.user_id.clone(),
            team_id: command.team_id.clone(),
            decision: command.decision,
            reason: command
                .reason
                .clone()
                .filter(|reason| !reason.trim().is_empty()),
        };
        // A reject the request wants a reason for counts only with one: a forged plain
        // Reject that would count is refused (one refused anyway is told why, as usual).
        let reason_missing = command.decision == crate::domain::Decision::Rejected
            && approval.request.reject_reason.is_required()
            && command
                .reason
                .as_deref()
                .is_none_or(|r| r.trim().is_empty())
            && crate::machine::apply(&approval.state, &vote, now)
                .refusal
                .is_none();
        if reason_missing {
            tracing::warn!(approval_id = %approval.id, user_id = %command.user_id,
                "a reject without the reason this request requires; ignored");
            self.record_refusal(&approval, command, "reason_required", now)
                .await?;
            return Ok(Decided {
                outcome: DecideOutcome::NotCounted,
                progress: Progress::default(),
            });
        }
        let clicker = command.response_url.as_deref().map(|response_url| Clicker {
            user_id: &command.user_id,
            response_url,
            copy: command.message.as_ref().map(MessageCopy::key_of),
        });
        let applied = apply_command(
            self.approvals,
            approval,
            &vote,
            &command.command_id,
            clicker,
            known_as.as_ref(),
            now,
        )
        .await?;
        if let Applied::Refused(approval, refusal) = &applied {
            let reason = match refusal {
                Refusal::Ended { .. } => "already_decided",
                Refusal::NotAnApprover { .. } => "not_an_approver",
                Refusal::OwnRequest => "own_request",
                Refusal::AlreadyVoted => "already_voted",
                Refusal::NotDue => "not_due",
            };
            self.record_refusal(approval, command, reason, now).await?;
        }
        let outcome = match &applied {
            Applied::Changed(_) => DecideOutcome::Counted,
            Applied::AlreadyApplied(_) => DecideOutcome::AlreadyCounted,
            Applied::Refused(_, Refusal::Ended { .. }) => DecideOutcome::AlreadyDecided,
            Applied::Refused(..) => DecideOutcome::NotCounted,
        };
        let mut approval = applied.approval().clone();
        arm_missing_copies(self.approvals, &mut approval, now).await?;
        let progress = PerformEffects {
            approvals: self.approvals,
            tenants: self.tenants,
            slack: self.slack,
            webhooks: Some(self.webhooks),
            tokens: self.tokens,
            backoff: self.backoff,
            people: self.people,
            files: self.files,
        }
        .run(&approval, now)
        .await?;
        Ok(Decided { outcome, progress })
    }

    async fn record_refusal(
        &self,
        approval: &Approval,
        command: &DecisionCommand,
        reason: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.approvals
            .record_refusal(
                &approval.id,
                &RefusedClick {
                    command_id: command.command_id.clone(),
                    slack_user_id: command.user_id.clone(),
                    team_id: command.team_id.clone(),
                    reason: reason.to_owned(),
                    at: now,
                },
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Decision;
    use crate::fakes::{installation, request, FakeSlack, FakeWebhooks, MemoryStore};
    use crate::machine::{Policy, Status};
    use crate::outbox::Outgoing;
    use crate::ports::SlackError;
    use crate::usecases::create_approval::CreateApproval;
    use crate::usecases::tokens::StaticTokens;

    async fn posted_approval(store: &MemoryStore, slack: &FakeSlack) -> String {
        store.connect("acme", installation("T1"));
        CreateApproval {
            approvals: store,
            tenants: store,
            slack,
            channels: slack,
            tokens: &StaticTokens,
            directory: store,
            people: Inbox::over(store),
            deadlines: store,
            later: &crate::fakes::IgnoredQueue,
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
            directory: store,
            people: Inbox::over(store),
            backoff: Backoff::default(),
            files: None,
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
            message: None,
            reason: None,
        }
    }

    fn server_error() -> SlackError {
        SlackError::Server {
            method: "chat.update".into(),
            status: 503,
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

        let decided = decide.run(&click(&id, "U1", "T1"), 20).await.unwrap();

        assert_eq!(decided.outcome, DecideOutcome::Counted);
        assert!(decided.progress.is_finished());
        let stored = store.approval(&id).unwrap();
        assert_eq!(stored.status(), Status::Approved);
        assert_eq!(stored.state.version, 1);
        assert!(stored.outbox.values().all(|entry| entry.done));
        assert_eq!(slack.updates().len(), 1);
        assert_eq!(hooks.events().len(), 1);
        assert_eq!(hooks.events()[0].data["decided_by"]["slack_user_id"], "U1");
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
        let decided = decide.run(&late, 21).await.unwrap();
        decide.run(&late, 22).await.unwrap();

        assert_eq!(decided.outcome, DecideOutcome::AlreadyDecided);
        assert_eq!(slack.updates().len(), 1);
        assert_eq!(hooks.events().len(), 1);
        let notes = slack.responses();
        assert_eq!(notes.len(), 1, "a redelivered late click is not told twice");
        assert!(notes[0].1["text"]
            .as_str()
            .unwrap()
            .starts_with("Already approved by <@U1>"));
    }

    #[tokio::test]
    async fn given_a_disconnected_workspace_when_clicked_then_the_message_is_replaced_and_a_reinstall_finishes(
    ) {
        use crate::ports::TenantStore;
        use crate::usecases::effects::resume_parked;
        let (store, slack, hooks) = (
            MemoryStore::default(),
            FakeSlack::default(),
            FakeWebhooks::default(),
        );
        let id = posted_approval(&store, &slack).await;
        let clicked = store
            .approval(&id)
            .unwrap()
            .copies
            .values()
            .next()
            .unwrap()
            .at();
        store.delete_installation("T1", i64::MAX).await.unwrap();
        let decide = decide_with(&store, &slack, &hooks);
        let mut command = click(&id, "U1", "T1");
        command.message = Some(clicked);

        let decided = decide.run(&command, 20).await.unwrap();

        // The decision counts and reaches the host; the clicked message shows it at once.
        assert_eq!(decided.outcome, DecideOutcome::Counted);
        assert!(decided.progress.is_finished(), "nothing left on a timer");
        assert_eq!(hooks.events().len(), 1);
        let replaced = slack.responses();
        assert_eq!(replaced.len(), 1);
        assert_eq!(replaced[0].1["replace_original"], true);
        assert!(replaced[0].1["text"].as_str().unwrap().contains("Approved"));
        assert!(
            slack.updates().is_empty(),
            "no token to call chat.update with"
        );

        // A copy nobody clicked waits for the reinstall.
        let dm = MessageCopy::new(
            crate::domain::SlackMessageRef {
                channel_id: "D1".into(),
                message_ts: "5.0".into(),
            },
            CopyRole::Direct,
        );
        store.add_copy(&id, &dm).await.unwrap();
        let mut approval = store.approval(&id).unwrap();
        arm_missing_copies(&store, &mut approval, 21).await.unwrap();
        let perform = PerformEffects {
            approvals: &store,
            tenants: &store,
            slack: &slack,
            webhooks: Some(&hooks),
            tokens: &StaticTokens,
            backoff: Backoff::default(),
            people: Inbox::over(&store),
            files: None,
        };
        let progress = perform.run(&approval, 21).await.unwrap();
        assert_eq!((progress.open, progress.parked), (0, 1));
        let entry =
            &store.approval(&id).unwrap().outbox[&crate::outbox::update_copy_key(&dm.key())];
        assert_eq!(entry.status(), "waiting_for_reconnect");
        assert_eq!(store.parked("T1").await.unwrap(), vec![id.clone()]);

        // WHEN the app is installed again
        store.connect("acme", installation("T1"));
        let resumed = resume_parked(&perform, "T1", 30).await.unwrap();
        let again = resume_parked(&perform, "T1", 31).await.unwrap();

        // THEN the waiting copy is updated once, and the note is gone
        assert_eq!(resumed.approvals, 1);
        assert_eq!(again.approvals, 0);
        assert_eq!(slack.updates().len(), 1);
        assert_eq!(slack.updates()[0].0.channel_id, "D1");
        assert!(store.approval(&id).unwrap().outbox.values().all(|e| e.done));
        assert_eq!(hooks.events().len(), 1, "the host was told once");
    }

    #[tokio::test]
    async fn given_a_lost_install_follow_up_when_the_approval_is_touched_again_then_parked_effects_run(
    ) {
        use crate::ports::TenantStore;
        let (store, slack, hooks) = (
            MemoryStore::default(),
            FakeSlack::default(),
            FakeWebhooks::default(),
        );
        let id = posted_approval(&store, &slack).await;
        store.delete_installation("T1", i64::MAX).await.unwrap();
        let decide = decide_with(&store, &slack, &hooks);
        // No response_url: the clicked copy cannot be replaced, so it waits too.
        let mut command = click(&id, "U1", "T1");
        command.response_url = None;
        let decided = decide.run(&command, 20).await.unwrap();
        assert_eq!(decided.progress.parked, 1);
        assert!(slack.updates().is_empty());

        // WHEN the app is installed again but its follow-up never arrives, and a late click
        // touches the approval
        let mut reinstalled = installation("T1");
        reinstalled.installed_at = 30;
        store.connect("acme", reinstalled);
        decide.run(&click(&id, "U2", "T1"), 40).await.unwrap();

        // THEN the parked update runs then
        assert_eq!(slack.updates().len(), 1);
        assert!(store.approval(&id).unwrap().outbox.values().all(|e| e.done));
    }

    #[tokio::test]
    async fn given_the_webhook_failed_when_due_again_then_only_the_webhook_is_retried() {
        let (store, slack) = (MemoryStore::default(), FakeSlack::default());
        let hooks = FakeWebhooks::failing_times(1);
        let id = posted_approval(&store, &slack).await;
        let decide = decide_with(&store, &slack, &hooks);
        let command = click(&id, "U1", "T1");

        let first = decide.run(&command, 20).await.unwrap();
        let early = decide.run(&command, 21).await.unwrap();
        let due = first.progress.next_due.unwrap();
        let again = decide.run(&command, due).await.unwrap();

        assert_eq!(first.progress.open, 1);
        assert!(
            (20 + 15..=20 + 30).contains(&due),
            "backoff of the first retry: {due}"
        );
        assert_eq!(early.outcome, DecideOutcome::AlreadyCounted);
        assert_eq!(early.progress.open, 1, "not due yet, so not tried");
        assert!(again.progress.is_finished());
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
        let slack = FakeSlack::failing_updates(server_error());
        let decide = decide_with(&store, &slack, &hooks);

        let decided = decide.run(&click(&id, "U1", "T1"), 20).await.unwrap();

        assert_eq!(decided.progress.open, 1, "the copy waits for a retry");
        assert_eq!(
            hooks.events().len(),
            1,
            "the webhook did not wait for Slack"
        );
        let stored = store.approval(&id).unwrap();
        let copy = stored
            .outbox
            .keys()
            .find(|k| k.starts_with("copy:"))
            .unwrap();
        assert_eq!(stored.outbox[copy].attempts, 1);
        assert!(stored.outbox[copy]
            .last_error
            .as_deref()
            .unwrap()
            .contains("503"));
    }

    #[tokio::test]
    async fn given_the_host_is_down_past_the_horizon_then_the_event_is_given_up_with_its_reason() {
        let (store, slack) = (MemoryStore::default(), FakeSlack::default());
        let hooks = FakeWebhooks::failing_times(u32::MAX);
        let id = posted_approval(&store, &slack).await;
        let decide = decide_with(&store, &slack, &hooks);
        let command = click(&id, "U1", "T1");

        let mut now = 20;
        let mut passes = 0;
        let last = loop {
            let decided = decide.run(&command, now).await.unwrap();
            passes += 1;
            match decided.progress.next_due {
                Some(due) if passes < 200 => now = due,
                _ => break decided,
            }
        };

        assert!(last.progress.is_finished());
        assert_eq!(last.progress.gave_up.len(), 1);
        assert!(now - 20 >= 24 * 3600, "retried for the whole horizon");
        assert!((25..=60).contains(&passes), "{passes} attempts in a day");
        let stored = store.approval(&id).unwrap();
        let event = stored
            .outbox
            .values()
            .find(|e| matches!(e.effect, Outgoing::DeliverEvent { .. }))
            .unwrap();
        assert_eq!(event.status(), "failed");
        assert!(event.failed.as_deref().unwrap().contains("503"));
    }

    #[tokio::test]
    async fn given_slack_says_message_not_found_then_the_copy_is_failed_at_once() {
        let (store, hooks) = (MemoryStore::default(), FakeWebhooks::default());
        let id = posted_approval(&store, &FakeSlack::default()).await;
        let slack = FakeSlack::failing_updates(SlackError::Api {
            method: "chat.update".into(),
            code: "message_not_found".into(),
        });

        let decided = decide_with(&store, &slack, &hooks)
            .run(&click(&id, "U1", "T1"), 20)
            .await
            .unwrap();

        assert!(decided.progress.is_finished());
        let stored = store.approval(&id).unwrap();
        let failed: Vec<_> = stored
            .outbox
            .values()
            .filter_map(|e| e.failed.clone())
            .collect();
        assert_eq!(failed.len(), 1);
        assert!(failed[0].contains("message_not_found"), "{failed:?}");
    }

    #[tokio::test]
    async fn given_slack_refuses_the_ended_message_then_the_short_one_removes_the_buttons() {
        let (store, hooks) = (MemoryStore::default(), FakeWebhooks::default());
        let id = posted_approval(&store, &FakeSlack::default()).await;
        let slack = FakeSlack::failing_updates_times(
            SlackError::Api {
                method: "chat.update".into(),
                code: "msg_blocks_too_long".into(),
            },
            1,
        );

        let decided = decide_with(&store, &slack, &hooks)
            .run(&click(&id, "U1", "T1"), 20)
            .await
            .unwrap();

        assert!(decided.progress.is_finished());
        let updates = slack.updates();
        assert_eq!(updates.len(), 1);
        assert_eq!(updates[0].1.blocks.len(), 2, "title and outcome only");
        assert!(updates[0].1.blocks.iter().all(|b| b["type"] != "actions"));
    }

    #[tokio::test]
    async fn given_a_click_on_a_copy_the_store_missed_then_that_copy_is_updated_too() {
        let (store, slack, hooks) = (
            MemoryStore::default(),
            FakeSlack::default(),
            FakeWebhooks::default(),
        );
        let id = posted_approval(&store, &slack).await;
        let decide = decide_with(&store, &slack, &hooks);
        decide.run(&click(&id, "U1", "T1"), 20).await.unwrap();

        let mut on_lost_copy = click(&id, "U2", "T1");
        on_lost_copy.message = Some(crate::domain::SlackMessageRef {
            channel_id: "C1".into(),
            message_ts: "1699999999.000001".into(),
        });
        let decided = decide.run(&on_lost_copy, 30).await.unwrap();

        assert_eq!(decided.outcome, DecideOutcome::AlreadyDecided);
        let updated: Vec<String> = slack
            .updates()
            .iter()
            .map(|(at, _)| at.message_ts.clone())
            .collect();
        assert!(
            updated.contains(&"1699999999.000001".to_owned()),
            "{updated:?}"
        );
        assert_eq!(hooks.events().len(), 1, "still one decision");
    }

    #[tokio::test]
    async fn given_two_of_two_then_the_host_gets_the_vote_before_the_decision() {
        let (store, slack) = (MemoryStore::default(), FakeSlack::default());
        let hooks = FakeWebhooks::failing_times(1);
        let id = posted_approval(&store, &slack).await;
        store.set_policy(&id, Policy::n_of(2, vec!["U1".into(), "U2".into()]));
        let decide = decide_with(&store, &slack, &hooks);

        let first = decide.run(&click(&id, "U1", "T1"), 20).await.unwrap();
        let second = decide.run(&click(&id, "U2", "T1"), 21).await.unwrap();
        let due = second.progress.next_due.unwrap();
        decide.run(&click(&id, "U2", "T1"), due).await.unwrap();

        assert_eq!(first.outcome, DecideOutcome::Counted);
        assert_eq!(
            second.progress.open, 3,
            "both votes' events and the decision wait for the first, which failed"
        );
        let delivered: Vec<String> = hooks.events().iter().map(|e| e.kind.clone()).collect();
        assert_eq!(
            delivered,
            [
                "approval.vote",
                "approval.vote",
                "approval.vote",
                "approval.decided"
            ],
            "the first vote's failed attempt and its retry, the second vote, then the decision"
        );
        assert_eq!(store.approval(&id).unwrap().status(), Status::Approved);
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

        let decided = decide.run(&click(&id, "U9", "T_EVIL"), 20).await.unwrap();

        assert_eq!(decided.outcome, DecideOutcome::Refused);
        assert_eq!(store.approval(&id).unwrap().status(), Status::Pending);
        assert!(slack.updates().is_empty() && hooks.events().is_empty());
    }
}
