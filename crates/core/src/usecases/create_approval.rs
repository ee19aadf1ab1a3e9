//! Creating an approval: idempotent per tenant and external id, posted to Slack once.

use crate::blocks::{current_message, pending_message};
use crate::domain::{Approval, ApprovalRequest, CopyRole, MessageCopy, ValidationError};
use crate::ports::{
    ApprovalStore, BotTokens, SlackApi, SlackError, StoreError, TenantStore, TokenError,
};

#[derive(Debug, thiserror::Error)]
pub enum CreateApprovalError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("the tenant has no active Slack installation")]
    NotConnected,
    #[error("no channel_id was given and none is configured for kind {0}")]
    NoChannel(String),
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
    pub tokens: &'a dyn BotTokens,
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
        let installation = self
            .tenants
            .installation_for_tenant(&request.tenant_id)
            .await?
            .ok_or(CreateApprovalError::NotConnected)?;
        let channel_id = match &request.channel_id {
            Some(channel_id) => channel_id.clone(),
            None => self
                .tenants
                .channel_for(&request.tenant_id, &request.kind)
                .await?
                .ok_or_else(|| CreateApprovalError::NoChannel(request.kind.clone()))?,
        };
        let fresh = Approval::new(request, installation.id().to_owned(), now);
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
            .claim_once(&posting, now + POSTING_LEASE_SECS)
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
        let message = pending_message(&approval);
        let posted = match self.slack.post_message(&token, &channel_id, &message).await {
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
                let message = current_message(&current);
                if let Err(error) = self
                    .slack
                    .update_message(&token, &copy.at(), &message)
                    .await
                {
                    tracing::warn!(approval_id = %current.id, %error, "could not show the outcome on the new copy");
                }
                return Ok(Created::Existing(current));
            }
        }
        approval.copies.insert(copy.key(), copy);
        Ok(Created::New(approval))
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
    use crate::fakes::{installation, request, FakeSlack, MemoryStore};
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
            tokens: &StaticTokens,
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
            tokens: &StaticTokens,
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
            tokens: &StaticTokens,
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
            tokens: &StaticTokens,
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
        store.claim_once(&format!("POST#{id}"), 100).await.unwrap();
        let use_case = CreateApproval {
            approvals: &store,
            tenants: &store,
            slack: &slack,
            tokens: &StaticTokens,
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
            tokens: &StaticTokens,
        };

        use_case.run(request("DR-1", None), 10).await.unwrap();

        assert_eq!(slack.posted()[0].0, "C777");
    }
}
