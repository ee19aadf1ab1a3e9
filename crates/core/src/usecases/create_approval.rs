//! Creating an approval: idempotent per tenant and external id, posted to Slack once, in
//! the kind's channel and in each mapped approver's DM.

use std::collections::HashMap;

use crate::blocks::{current_message, pending_message};
use crate::domain::{
    Approval, ApprovalRequest, Audience, CopyRole, MessageCopy, Person, ValidationError,
};
use crate::machine::{Approvers, Policy, Status, Step};
use crate::outbox::{post_direct_key, Backoff, OutboxEntry, Outgoing};
use crate::people::HostUser;
use crate::ports::{
    ApprovalStore, BotTokens, Deadline, DeadlineKind, DeadlineStore, EffectsQueue, SlackApi,
    SlackChannels, SlackError, StoreError, TenantStore, TokenError, UserDirectory,
};
use crate::secret::SecretToken;
use crate::usecases::effects::PerformEffects;
use crate::usecases::inbox::Inbox;
use crate::usecases::set_channel::JoinBeforePosting;

#[derive(Debug, thiserror::Error)]
pub enum CreateApprovalError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("the tenant has no active Slack installation")]
    NotConnected,
    #[error("no channel_id was given and none is configured for kind {0}")]
    NoChannel(String),
    #[error("none of the approvers is in Slack and the request has no channel")]
    NoRecipient,
    #[error("an approval with this external_id exists with a different payload")]
    Conflict,
    #[error("Slack refused the channel: {0}")]
    ChannelUnavailable(String),
    #[error("Slack refused the message: {0}")]
    SlackRejected(String),
    #[error("Slack is unavailable right now: {0}")]
    SlackUnavailable(SlackError),
    #[error("the same approval is being posted right now; retry in a few seconds")]
    InProgress,
    #[error("no usable bot token right now: {0}")]
    TokenUnavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How long one request may post before a concurrent repeat may try again: longer than a
/// post (10 s timeout) with its rate-limit wait.
const POSTING_LEASE_SECS: i64 = 30;
/// When the worker looks at DMs this request may not finish: past the effects' lease, so it
/// never races this request's own attempt.
const LEFTOVER_DELAY_SECS: i64 = 61;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// Posted now: answer 201.
    New(Approval),
    /// The same request was made before: answer 200 with the same body.
    Existing(Approval),
}

pub struct CreateApproval<'a> {
    pub approvals: &'a dyn ApprovalStore,
    pub tenants: &'a dyn TenantStore,
    pub slack: &'a dyn SlackApi,
    /// Joins the channel before the first post there, so its thread replies reach us.
    pub channels: &'a dyn SlackChannels,
    pub tokens: &'a dyn BotTokens,
    pub directory: &'a dyn UserDirectory,
    /// People's inboxes: each approver's, and the requester's list of what they asked for.
    pub people: Inbox<'a>,
    /// Where a request's deadline is filed for the sweep that expires it.
    pub deadlines: &'a dyn DeadlineStore,
    /// Finishes the DMs this request could not post (Slack down for a while).
    pub later: &'a dyn EffectsQueue,
}

/// The request's policy in Slack users: its steps, N of its approvers, or any one of them
/// (with none in Slack, nobody can decide from Slack; the host still can).
fn policy_of(request: &ApprovalRequest, audience: &Audience, mapped: &[String]) -> Policy {
    let slack_id_of = |user_id: &crate::people::HostUserId| {
        audience
            .approvers
            .iter()
            .find(|person| person.user_id.as_ref() == Some(user_id))
            .and_then(|person| person.slack_user_id.clone())
    };
    if !request.steps.is_empty() {
        let steps = request
            .steps
            .iter()
            .map(|step| Step {
                approvers: Approvers::Named(
                    step.approvers.iter().filter_map(slack_id_of).collect(),
                ),
                required: step.min_approvals,
            })
            .collect();
        return Policy {
            steps,
            barred: Vec::new(),
        };
    }
    if request.approvers.is_empty() {
        return Policy::anyone();
    }
    let required = request.policy.as_ref().map_or(1, |p| p.min_approvals);
    Policy::n_of(required, mapped.to_vec())
}

/// A policy the host asked for must be finishable from Slack: each step needs as many of
/// its approvers in Slack as it asks approvals of.
fn check_reachable(request: &ApprovalRequest, policy: &Policy) -> Result<(), ValidationError> {
    if request.policy.is_none() && request.steps.is_empty() {
        return Ok(());
    }
    for (index, step) in policy.steps.iter().enumerate() {
        let Approvers::Named(in_slack) = &step.approvers else {
            continue;
        };
        if (step.required as usize) > in_slack.len() {
            let field = if request.steps.is_empty() {
                "policy.min_approvals".to_owned()
            } else {
                format!("steps[{index}].approvers")
            };
            return Err(ValidationError::new(
                field,
                format!(
                    "{} approvals are asked, but only {} of these approvers are in Slack; map them first",
                    step.required,
                    in_slack.len()
                ),
            ));
        }
    }
    Ok(())
}

/// How each approver was reached, for the create answer.
pub fn approver_statuses(approval: &Approval) -> Vec<(Person, &'static str)> {
    approval
        .audience
        .approvers
        .iter()
        .map(|person| {
            let status = match &person.slack_user_id {
                None => "not_in_slack",
                Some(slack_user_id) => match approval.outbox.get(&post_direct_key(slack_user_id)) {
                    Some(entry) if entry.done => "notified",
                    Some(entry) if entry.failed.is_some() => "failed",
                    _ => "pending",
                },
            };
            (person.clone(), status)
        })
        .collect()
}

impl CreateApproval<'_> {
    pub async fn run(
        &self,
        request: ApprovalRequest,
        now: i64,
    ) -> Result<Created, CreateApprovalError> {
        // A repeat is answered from what is stored, whatever became of the connection since.
        if let Some(existing) = self.approvals.get(&request.approval_id()).await? {
            if existing.fingerprint != request.fingerprint() {
                return Err(CreateApprovalError::Conflict);
            }
            // Posted, or already voted on, ended or touched in any way: never posted again.
            if !existing.is_untouched() {
                return Ok(Created::Existing(existing));
            }
        }
        let deadline = request.check_deadline(now)?;
        let installation = self
            .tenants
            .installation_for_tenant(&request.tenant_id)
            .await?
            .ok_or(CreateApprovalError::NotConnected)?;
        let channel_id = match &request.channel_id {
            Some(channel_id) => Some(channel_id.clone()),
            None => {
                self.tenants
                    .channel_for(&request.tenant_id, &request.kind)
                    .await?
            }
        };
        let audience = self.audience(&request).await?;
        let mapped: Vec<String> = audience
            .approvers
            .iter()
            .filter_map(|p| p.slack_user_id.clone())
            .collect();
        match (&channel_id, request.approvers.is_empty(), mapped.is_empty()) {
            (None, true, _) => return Err(CreateApprovalError::NoChannel(request.kind.clone())),
            (None, false, true) => return Err(CreateApprovalError::NoRecipient),
            _ => {}
        }
        let mut fresh = Approval::new(request, installation.id().to_owned(), now);
        let mut policy = policy_of(&fresh.request, &audience, &mapped);
        check_reachable(&fresh.request, &policy)?;
        policy.barred = audience
            .requester
            .iter()
            .filter_map(|r| r.slack_user_id.clone())
            .collect();
        fresh.state.policy = policy;
        fresh.state.expires_at = deadline;
        // Only the first step's approvers are asked now; each next step's when it opens.
        let asked_first = match &fresh.state.policy.steps[0].approvers {
            Approvers::Named(slack_user_ids) => slack_user_ids.clone(),
            Approvers::Anyone => Vec::new(),
        };
        for (seq, slack_user_id) in asked_first.iter().enumerate() {
            fresh.outbox.insert(
                post_direct_key(slack_user_id),
                OutboxEntry::new(
                    seq as u64,
                    0,
                    Outgoing::PostDirect {
                        slack_user_id: slack_user_id.clone(),
                    },
                    now,
                ),
            );
        }
        fresh.audience = audience;
        // Filed first: the sweep finds the request however this attempt ends (and finds
        // nothing to do for one that was never stored).
        let due = [
            (DeadlineKind::Expire, deadline),
            (DeadlineKind::Escalate, fresh.request.escalates_at(now)),
        ];
        for (kind, at) in due {
            if let Some(at) = at {
                let deadline = Deadline {
                    approval_id: fresh.id.clone(),
                    kind,
                };
                self.deadlines.add_deadline(&deadline, at).await?;
            }
        }
        let mut filings = crate::outbox::inbox_filings(&fresh);
        if !fresh.request.attachments.is_empty() && self.attaches_files(&fresh.request).await? {
            filings.extend(fresh.request.attachments.iter().map(|attachment| {
                (
                    crate::outbox::attach_file_key(&attachment.file_id),
                    Outgoing::AttachFile {
                        attachment: attachment.clone(),
                    },
                )
            }));
        }
        for (key, effect) in filings {
            let seq = fresh.outbox.len() as u64;
            fresh
                .outbox
                .insert(key, OutboxEntry::new(seq, 0, effect, now));
        }
        let mut approval = match self.approvals.insert_if_absent(&fresh).await? {
            None => fresh,
            Some(existing) if existing.fingerprint != fresh.fingerprint => {
                return Err(CreateApprovalError::Conflict)
            }
            Some(existing) if !existing.is_untouched() => return Ok(Created::Existing(existing)),
            // An earlier attempt stored it but died before posting: finish that attempt.
            Some(existing) => existing,
        };
        // One poster at a time: concurrent repeats of the request must not post twice.
        let posting = format!("POST#{}", approval.id);
        if !self
            .approvals
            .claim_once(&posting, now, now + POSTING_LEASE_SECS)
            .await?
        {
            return Err(CreateApprovalError::InProgress);
        }

        let token = match self.tokens.usable_token(&installation, now).await {
            Ok(token) => token,
            Err(error) => {
                self.forget_unposted(&approval.id).await;
                self.release(&posting).await;
                return Err(match error {
                    TokenError::Revoked => CreateApprovalError::NotConnected,
                    TokenError::Store(error) => CreateApprovalError::Store(error),
                    other => CreateApprovalError::TokenUnavailable(other.to_string()),
                });
            }
        };
        // A click on a copy whose answer was lost may have landed since the first read.
        if let Some(current) = self.approvals.get(&approval.id).await? {
            if !current.is_untouched() {
                self.release(&posting).await;
                return Ok(Created::Existing(current));
            }
        }
        if let Some(channel_id) = &channel_id {
            let joining = JoinBeforePosting {
                claims: self.approvals,
                slack: self.channels,
                installation_id: &approval.installation_id,
                installed_at: installation.installed_at,
            };
            joining.join(&token, channel_id, now, false).await;
            let message = pending_message(&approval);
            let mut posted = self.slack.post_message(&token, channel_id, &message).await;
            if posted
                .as_ref()
                .is_err_and(|error| error.code() == Some("not_in_channel"))
            {
                // Removed from the channel since the day's join: join again, post once more.
                joining.join(&token, channel_id, now, true).await;
                posted = self.slack.post_message(&token, channel_id, &message).await;
            }
            let posted = match posted {
                Ok(posted) => posted,
                Err(error) => {
                    // If Slack may have posted, keep the record: the buttons of that message
                    // carry this approval's id, and the host's retry finishes the attempt.
                    if !error.is_ambiguous() {
                        self.forget_unposted(&approval.id).await;
                        self.release(&posting).await;
                    }
                    return Err(classify_post_error(error));
                }
            };
            let copy = MessageCopy::new(posted, CopyRole::Channel);
            self.approvals.add_copy(&approval.id, &copy).await?;
            // A click on a copy whose answer was lost may have ended it while this one was
            // posted: then this copy shows the outcome at once, never live buttons.
            if let Some(current) = self.approvals.get(&approval.id).await? {
                if current.status().is_final() {
                    self.show_outcome(&token, &current, &copy).await;
                    return Ok(Created::Existing(current));
                }
            }
            approval.copies.insert(copy.key(), copy);
        }
        self.ask_approvers(approval, now).await.map(Created::New)
    }

    /// Posts the approvers' DMs through the outbox (each once, even against a concurrent
    /// worker); what fails for now is left to the worker, through the queue.
    async fn ask_approvers(
        &self,
        approval: Approval,
        now: i64,
    ) -> Result<Approval, CreateApprovalError> {
        if approval.outbox.is_empty() {
            return Ok(approval);
        }
        // Queued first: if this request dies part-way, the worker still posts the rest
        // (entries already done are skipped; a live lease is waited out).
        if let Err(error) = self
            .later
            .perform_later(&approval.id, LEFTOVER_DELAY_SECS)
            .await
        {
            tracing::error!(approval_id = %approval.id, %error, "could not queue the DMs for the worker; posting them now");
        }
        let progress = PerformEffects {
            approvals: self.approvals,
            tenants: self.tenants,
            slack: self.slack,
            webhooks: None,
            tokens: self.tokens,
            backoff: Backoff::default(),
            people: self.people,
            files: None,
        }
        .run(&approval, now)
        .await?;
        let current = self.approvals.get(&approval.id).await?.unwrap_or(approval);
        let files_wait = current
            .outbox
            .values()
            .any(|entry| entry.is_open() && matches!(entry.effect, Outgoing::AttachFile { .. }));
        if files_wait && !current.copies.is_empty() {
            // The worker moves the files now, into the thread that exists.
            if let Err(error) = self.later.perform_later(&current.id, 0).await {
                tracing::warn!(approval_id = %current.id, %error, "files left for the later pass");
            }
        }
        if current.copies.is_empty() && current.status() == Status::Pending {
            // Not one message reached Slack: nothing to keep, the host may retry.
            let failures: Vec<String> = current
                .outbox
                .values()
                .filter_map(|e| e.failed.clone().or_else(|| e.last_error.clone()))
                .collect();
            self.forget_unposted(&current.id).await;
            self.release(&format!("POST#{}", current.id)).await;
            return Err(CreateApprovalError::SlackRejected(failures.join("; ")));
        }
        if !progress.is_finished() {
            tracing::info!(approval_id = %current.id, open = progress.open, "DMs left to the worker");
        }
        Ok(current)
    }

    /// The kind's `attach_files` (on unless the tenant set it off).
    async fn attaches_files(&self, request: &ApprovalRequest) -> Result<bool, StoreError> {
        Ok(self
            .people
            .settings
            .kind_settings(&request.tenant_id, &request.kind)
            .await?
            .unwrap_or_default()
            .attaches_files())
    }

    async fn show_outcome(&self, token: &SecretToken, current: &Approval, copy: &MessageCopy) {
        let message = current_message(current);
        if let Err(error) = self.slack.update_message(token, &copy.at(), &message).await {
            tracing::warn!(approval_id = %current.id, %error, "could not show the outcome on the new copy");
        }
    }

    /// Resolves the approvers (each must be one of the tenant's users) and the requester
    /// (by user id, else by email among the tenant's mapped users: no Slack call here).
    async fn audience(&self, request: &ApprovalRequest) -> Result<Audience, CreateApprovalError> {
        let tenant_id = &request.tenant_id;
        let mut wanted = request.approvers.clone();
        wanted.extend(request.escalate_to.iter().cloned());
        wanted.extend(request.requester.user_id.clone());
        let known: HashMap<_, HostUser> = self
            .directory
            .users(tenant_id, &wanted)
            .await?
            .into_iter()
            .map(|user| (user.user_id.clone(), user))
            .collect();
        let person = |user: &HostUser| Person {
            user_id: Some(user.user_id.clone()),
            name: user.name.clone(),
            email: Some(user.email.clone()),
            slack_user_id: user.slack_user_id.clone(),
        };
        let people = |field: &str, user_ids: &[crate::people::HostUserId]| {
            user_ids
                .iter()
                .enumerate()
                .map(|(index, user_id)| {
                    known.get(user_id).map(person).ok_or_else(|| {
                        ValidationError::new(
                            format!("{field}[{index}]"),
                            format!("{user_id} is not a user of tenant {tenant_id}; PUT it to /v1/tenants/{tenant_id}/users first"),
                        )
                    })
                })
                .collect::<Result<Vec<Person>, ValidationError>>()
        };
        let approvers = people("approvers", &request.approvers)?;
        let escalate_to = people("escalate_to", &request.escalate_to)?;
        let requester = self.requester(request, &known).await?;
        if let Some(requester_slack) = requester.as_ref().and_then(|r| r.slack_user_id.as_ref()) {
            if let Some(index) = approvers
                .iter()
                .position(|a| a.slack_user_id.as_ref() == Some(requester_slack))
            {
                return Err(ValidationError::new(
                    format!("approvers[{index}]"),
                    "is the requester in Slack, who may not decide their own request",
                )
                .into());
            }
        }
        Ok(Audience {
            approvers,
            requester,
            escalate_to,
        })
    }

    async fn requester(
        &self,
        request: &ApprovalRequest,
        known: &HashMap<crate::people::HostUserId, HostUser>,
    ) -> Result<Option<Person>, CreateApprovalError> {
        let given = &request.requester;
        if let Some(user) = given.user_id.as_ref().and_then(|id| known.get(id)) {
            if user.slack_user_id.is_some() {
                return Ok(Some(Person {
                    user_id: Some(user.user_id.clone()),
                    name: given.name.clone(),
                    email: Some(user.email.clone()),
                    slack_user_id: user.slack_user_id.clone(),
                }));
            }
        }
        let email = given
            .email
            .clone()
            .and_then(|e| crate::people::Email::try_from(e).ok());
        let mut slack_user_id = None;
        if let Some(email) = &email {
            let by_email = self
                .directory
                .users_with_email(&request.tenant_id, email)
                .await?;
            slack_user_id = by_email.into_iter().find_map(|u| u.slack_user_id);
        }
        Ok(Some(Person {
            user_id: given.user_id.clone(),
            name: given.name.clone(),
            email,
            slack_user_id,
        }))
    }

    async fn release(&self, posting: &str) {
        if let Err(error) = self.approvals.release_claim(posting).await {
            tracing::warn!(%error, posting, "could not release the posting lease; it expires by itself");
        }
    }

    /// Nothing of a failed attempt stays behind, so a corrected retry is not a conflict;
    /// the store deletes only an approval nobody has touched, never a decided one.
    async fn forget_unposted(&self, approval_id: &str) {
        if let Err(cleanup) = self.approvals.delete_untouched(approval_id).await {
            tracing::warn!(approval_id, error = %cleanup, "could not remove unposted approval");
        }
    }
}

fn classify_post_error(error: SlackError) -> CreateApprovalError {
    if error.is_retryable() {
        return CreateApprovalError::SlackUnavailable(error);
    }
    match error.code().unwrap_or_default() {
        "channel_not_found" | "not_in_channel" | "is_archived" | "channel_is_archived" => {
            CreateApprovalError::ChannelUnavailable(error.code().unwrap_or_default().to_owned())
        }
        "not_authed"
        | "invalid_auth"
        | "account_inactive"
        | "token_revoked"
        | "token_expired"
        | "no_permission"
        | "team_access_not_granted" => CreateApprovalError::NotConnected,
        other => CreateApprovalError::SlackRejected(if other.is_empty() {
            error.to_string()
        } else {
            other.to_owned()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{installation, request, FakeSlack, IgnoredQueue, MemoryStore};
    use crate::usecases::tokens::StaticTokens;

    #[tokio::test]
    async fn given_a_connected_tenant_when_created_twice_then_one_message_is_posted() {
        let store = MemoryStore::default();
        store.connect("acme", installation("T1"));
        let slack = FakeSlack::default();
        let use_case = CreateApproval {
            approvals: &store,
            tenants: &store,
            slack: &slack,
            channels: &slack,
            tokens: &StaticTokens,
            directory: &store,
            people: Inbox::over(&store),
            deadlines: &store,
            later: &IgnoredQueue,
        };

        let first = use_case.run(request("DR-1", Some("C1")), 10).await.unwrap();
        let again = use_case.run(request("DR-1", Some("C1")), 11).await.unwrap();

        assert!(matches!(first, Created::New(_)));
        let Created::Existing(existing) = again else {
            panic!("expected the existing approval")
        };
        assert_eq!(existing.copies.values().next().unwrap().channel_id, "C1");
        assert_eq!(slack.posted().len(), 1);
    }

    #[tokio::test]
    async fn given_an_existing_approval_when_the_payload_differs_then_conflict() {
        let store = MemoryStore::default();
        store.connect("acme", installation("T1"));
        let slack = FakeSlack::default();
        let use_case = CreateApproval {
            approvals: &store,
            tenants: &store,
            slack: &slack,
            channels: &slack,
            tokens: &StaticTokens,
            directory: &store,
            people: Inbox::over(&store),
            deadlines: &store,
            later: &IgnoredQueue,
        };
        use_case.run(request("DR-1", Some("C1")), 10).await.unwrap();

        let mut changed = request("DR-1", Some("C1"));
        changed.title = "Another title".into();
        let result = use_case.run(changed, 11).await;

        assert!(matches!(result, Err(CreateApprovalError::Conflict)));
        assert_eq!(slack.posted().len(), 1);
    }

    #[tokio::test]
    async fn given_no_installation_then_not_connected_and_nothing_stored() {
        let store = MemoryStore::default();
        let slack = FakeSlack::default();
        let use_case = CreateApproval {
            approvals: &store,
            tenants: &store,
            slack: &slack,
            channels: &slack,
            tokens: &StaticTokens,
            directory: &store,
            people: Inbox::over(&store),
            deadlines: &store,
            later: &IgnoredQueue,
        };

        let result = use_case.run(request("DR-1", Some("C1")), 10).await;

        assert!(matches!(result, Err(CreateApprovalError::NotConnected)));
        assert!(store
            .approval(&request("DR-1", None).approval_id())
            .is_none());
    }

    #[tokio::test]
    async fn given_slack_refuses_the_channel_then_nothing_is_kept() {
        let store = MemoryStore::default();
        store.connect("acme", installation("T1"));
        let slack = FakeSlack::failing_posts("channel_not_found");
        let use_case = CreateApproval {
            approvals: &store,
            tenants: &store,
            slack: &slack,
            channels: &slack,
            tokens: &StaticTokens,
            directory: &store,
            people: Inbox::over(&store),
            deadlines: &store,
            later: &IgnoredQueue,
        };

        let result = use_case.run(request("DR-1", Some("C404")), 10).await;

        assert!(
            matches!(result, Err(CreateApprovalError::ChannelUnavailable(code)) if code == "channel_not_found")
        );
        assert!(store
            .approval(&request("DR-1", None).approval_id())
            .is_none());
    }

    #[tokio::test]
    async fn given_another_request_is_posting_the_same_approval_then_in_progress_and_no_post() {
        let store = MemoryStore::default();
        store.connect("acme", installation("T1"));
        let slack = FakeSlack::default();
        let id = request("DR-1", None).approval_id();
        store
            .claim_once(&format!("POST#{id}"), 0, 100)
            .await
            .unwrap();
        let use_case = CreateApproval {
            approvals: &store,
            tenants: &store,
            slack: &slack,
            channels: &slack,
            tokens: &StaticTokens,
            directory: &store,
            people: Inbox::over(&store),
            deadlines: &store,
            later: &IgnoredQueue,
        };

        let result = use_case.run(request("DR-1", Some("C1")), 10).await;

        assert!(matches!(result, Err(CreateApprovalError::InProgress)));
        assert!(slack.posted().is_empty());
    }

    #[tokio::test]
    async fn given_no_channel_id_then_the_kinds_channel_is_used() {
        let store = MemoryStore::default();
        store.connect("acme", installation("T1"));
        store
            .set_channel("acme", "deal_registration", "C777")
            .await
            .unwrap();
        let slack = FakeSlack::default();
        let use_case = CreateApproval {
            approvals: &store,
            tenants: &store,
            slack: &slack,
            channels: &slack,
            tokens: &StaticTokens,
            directory: &store,
            people: Inbox::over(&store),
            deadlines: &store,
            later: &IgnoredQueue,
        };

        use_case.run(request("DR-1", None), 10).await.unwrap();

        assert_eq!(slack.posted()[0].0, "C777");
    }
}
