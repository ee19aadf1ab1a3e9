//! Decisions the host makes itself: withdrawing a request, or deciding it in its own screen.
//!
//! Each is one more command on the approval's state machine, written with the same
//! conditional write as a Slack click, so the two race safely: whichever is written first
//! wins, and the other is told. The worker performs what follows (every copy re-rendered,
//! the DMs, the webhook), as it does for a click.

use serde::Deserialize;

use crate::domain::{
    check_identifier, parse_json, Approval, Decision, RejectReason, ValidationError,
};
use crate::machine::{Command, Ending, Refusal};
use crate::people::HostUserId;
use crate::ports::{
    ApprovalStore, EffectsQueue, QueueError, StoreError, TenantStore, UserDirectory,
};
use crate::usecases::transition::{apply_command, Applied, KnownAs};

/// The longest reason a host may give: what a copy and a webhook can carry.
pub const REASON_MAX: usize = 3000;
/// The follow-up queued before the write comes back this late: past an effect's lease, and
/// long after the write, which the one queued after it finds at once.
pub const SAFETY_NET_DELAY_SECS: i64 = 61;

#[derive(Debug, thiserror::Error)]
pub enum HostDecisionError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("no approval {approval_id} for tenant {tenant_id}")]
    NotFound {
        approval_id: String,
        tenant_id: String,
    },
    /// The request had ended (decided, withdrawn or expired) before this command.
    #[error("the request already ended: {}", .0.state.status.as_str())]
    AlreadyEnded(Box<Approval>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the follow-up could not be queued: {0}")]
    Queue(#[from] QueueError),
}

/// `POST /v1/approvals/{id}/cancel`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelBody {
    tenant_id: String,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /v1/approvals/{id}/decision`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    tenant_id: String,
    decision: Decision,
    user_id: String,
    #[serde(default)]
    reason: Option<String>,
}

fn checked_reason(reason: Option<String>) -> Result<Option<String>, ValidationError> {
    match reason {
        Some(reason) if reason.trim().is_empty() => Ok(None),
        Some(reason) => {
            crate::domain::check_text("reason", &reason, REASON_MAX)?;
            Ok(Some(reason.trim().to_owned()))
        }
        None => Ok(None),
    }
}

pub struct HostDecisions<'a> {
    pub approvals: &'a dyn ApprovalStore,
    pub tenants: &'a dyn TenantStore,
    pub directory: &'a dyn UserDirectory,
    pub later: &'a dyn EffectsQueue,
}

impl HostDecisions<'_> {
    /// Withdraws a pending request: it ends as `cancelled`, every copy says so.
    pub async fn cancel(
        &self,
        approval_id: &str,
        body: &[u8],
        now: i64,
    ) -> Result<Approval, HostDecisionError> {
        let body: CancelBody = parse_json(body)?;
        check_identifier("tenant_id", &body.tenant_id)?;
        let reason = checked_reason(body.reason)?;
        let approval = self.owned(approval_id, &body.tenant_id).await?;
        self.apply(approval, &Command::Cancel { reason }, None, now)
            .await
    }

    /// Decides a pending request as the host user `user_id`, whatever its policy.
    pub async fn decide(
        &self,
        approval_id: &str,
        body: &[u8],
        now: i64,
    ) -> Result<Approval, HostDecisionError> {
        let body: DecisionBody = parse_json(body)?;
        check_identifier("tenant_id", &body.tenant_id)?;
        let user_id = HostUserId::try_from(body.user_id)
            .map_err(|message| ValidationError::new("user_id", message))?;
        let reason = checked_reason(body.reason)?;
        let approval = self.owned(approval_id, &body.tenant_id).await?;
        if approval.request.requester.user_id.as_ref() == Some(&user_id) {
            return Err(ValidationError::new(
                "user_id",
                "is the requester, who may not decide their own request",
            )
            .into());
        }
        if body.decision == Decision::Rejected
            && approval.request.reject_reason == RejectReason::Required
            && reason.is_none()
            && !approval.status().is_final()
        {
            return Err(ValidationError::new(
                "reason",
                "required: this request asks for a reason to reject",
            )
            .into());
        }
        let user = self
            .directory
            .users(&body.tenant_id, std::slice::from_ref(&user_id))
            .await?
            .into_iter()
            .next();
        let host = self
            .tenants
            .link(&body.tenant_id)
            .await?
            .and_then(|link| link.tenant_name);
        let command = Command::HostDecision {
            user_id: Some(user_id.to_string()),
            name: Some(
                user.as_ref()
                    .map_or_else(|| user_id.to_string(), |u| u.name.clone()),
            ),
            host,
            decision: body.decision,
            reason,
        };
        let known_as = KnownAs {
            email: user.map(|u| u.email),
            user_id,
        };
        self.apply(approval, &command, Some(&known_as), now).await
    }

    /// The approval, if it is this tenant's: another tenant's reads as missing.
    async fn owned(
        &self,
        approval_id: &str,
        tenant_id: &str,
    ) -> Result<Approval, HostDecisionError> {
        super::tenants_approval(self.approvals, approval_id, tenant_id)
            .await?
            .ok_or_else(|| HostDecisionError::NotFound {
                approval_id: approval_id.to_owned(),
                tenant_id: tenant_id.to_owned(),
            })
    }

    async fn apply(
        &self,
        approval: Approval,
        command: &Command,
        known_as: Option<&KnownAs>,
        now: i64,
    ) -> Result<Approval, HostDecisionError> {
        if let Some(ending) = &approval.state.ending {
            return Err(ended(approval.clone(), ending));
        }
        // Queued first, delayed: if this request dies after the write, the worker still
        // performs what it armed (and finds nothing to do if the command changed nothing).
        // A follow-up at once could be read before the write lands and find nothing.
        self.later
            .perform_later(&approval.id, SAFETY_NET_DELAY_SECS)
            .await?;
        let command_id = format!("host:{}", uuid::Uuid::new_v4().simple());
        match apply_command(
            self.approvals,
            approval,
            command,
            &command_id,
            None,
            known_as,
            now,
        )
        .await?
        {
            Applied::Changed(approval) | Applied::AlreadyApplied(approval) => {
                if let Err(error) = self.later.perform_later(&approval.id, 0).await {
                    tracing::warn!(approval_id = %approval.id, %error,
                        "the follow-up was not queued; the delayed one performs it");
                }
                Ok(approval)
            }
            Applied::Refused(approval, Refusal::Ended { ending }) => Err(ended(approval, &ending)),
            Applied::Refused(approval, refusal) => Err(StoreError::Corrupt(format!(
                "a host command on approval {} was refused: {refusal:?}",
                approval.id
            ))
            .into()),
        }
    }
}

fn ended(approval: Approval, ending: &Ending) -> HostDecisionError {
    tracing::info!(approval_id = %approval.id, status = ending.status.as_str(),
        "host command on a request that already ended");
    HostDecisionError::AlreadyEnded(Box::new(approval))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{installation, request, IgnoredQueue, MemoryStore};
    use crate::machine::{Actor, Status};

    async fn pending(store: &MemoryStore) -> Approval {
        store.connect("acme", installation("T1"));
        let mut request = request("DR-1", Some("C1"));
        request.reject_reason = RejectReason::Required;
        let approval = Approval::new(request, "T1".into(), 0);
        store.insert_if_absent(&approval).await.unwrap();
        approval
    }

    fn host<'a>(store: &'a MemoryStore) -> HostDecisions<'a> {
        HostDecisions {
            approvals: store,
            tenants: store,
            directory: store,
            later: &IgnoredQueue,
        }
    }

    #[tokio::test]
    async fn a_cancel_ends_the_request_once_and_a_second_is_told_it_ended() {
        let store = MemoryStore::default();
        let approval = pending(&store).await;
        let body = br#"{"tenant_id":"acme","reason":"deal withdrawn"}"#;

        let cancelled = host(&store).cancel(&approval.id, body, 10).await.unwrap();
        let again = host(&store).cancel(&approval.id, body, 11).await;

        assert_eq!(cancelled.status(), Status::Cancelled);
        assert_eq!(
            cancelled.state.ending.unwrap().reason.as_deref(),
            Some("deal withdrawn")
        );
        assert!(
            matches!(again, Err(HostDecisionError::AlreadyEnded(a)) if a.status() == Status::Cancelled)
        );
    }

    #[tokio::test]
    async fn another_tenants_request_is_not_found_and_bad_bodies_name_the_field() {
        let store = MemoryStore::default();
        let approval = pending(&store).await;
        for (body, field) in [
            (
                r#"{"tenant_id":"acme","decision":"maybe","user_id":"u"}"#,
                "decision",
            ),
            (r#"{"tenant_id":"acme","decision":"approved"}"#, "user_id"),
            (
                r#"{"tenant_id":"acme","decision":"rejected","user_id":"u-ana"}"#,
                "reason",
            ),
            (
                r#"{"tenant_id":"acme","decision":"approved","user_id":"u","note":1}"#,
                "note",
            ),
        ] {
            match host(&store).decide(&approval.id, body.as_bytes(), 10).await {
                Err(HostDecisionError::Invalid(error)) => assert_eq!(error.field, field, "{body}"),
                other => panic!("{body}: {other:?}"),
            }
        }
        let foreign = host(&store)
            .decide(
                &approval.id,
                br#"{"tenant_id":"globex","decision":"approved","user_id":"u"}"#,
                10,
            )
            .await;
        assert!(matches!(foreign, Err(HostDecisionError::NotFound { .. })));
        assert_eq!(
            store.approval(&approval.id).unwrap().status(),
            Status::Pending
        );
    }

    #[tokio::test]
    async fn a_host_decision_is_recorded_as_the_hosts() {
        let store = MemoryStore::default();
        let approval = pending(&store).await;

        let decided = host(&store)
            .decide(
                &approval.id,
                br#"{"tenant_id":"acme","decision":"approved","user_id":"u-ana"}"#,
                10,
            )
            .await
            .unwrap();

        let ending = decided.state.ending.unwrap();
        assert_eq!(ending.status, Status::Approved);
        assert!(
            matches!(ending.by, Some(Actor::Host { ref user_id, .. }) if user_id.as_deref() == Some("u-ana"))
        );
    }
}
