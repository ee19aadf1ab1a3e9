//! The deadline sweep: every 15 minutes, requests still pending past their `expires_at` end
//! as `expired`, and those past their `escalate_after_hours` are escalated, once.
//!
//! Due deadlines are found by reading the quarter hours just past in a small index, never
//! by creating schedules at runtime; the run's cost follows what is due. Expiry is one more
//! command on the state machine, written with the same conditional write as a click, so a
//! click and the sweep racing end the request once, and a repeated sweep changes nothing.

use crate::machine::{Command, Refusal};
use crate::ports::{
    ApprovalStore, Deadline, DeadlineKind, DeadlineStore, EffectsQueue, QueueError, StoreError,
};
use crate::reminders::{Slot, SLOT_SECS};
use crate::usecases::host_decisions::SAFETY_NET_DELAY_SECS;
use crate::usecases::transition::{apply_command, Applied};

/// Quarter hours a sweep covers before its own slot: the one just past (precision: within
/// 15 minutes of the deadline), and three more, so a sweep that failed is caught up.
const QUARTERS_BACK: i64 = 4;

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("sweeping deadlines failed: {0}")]
    Store(#[from] StoreError),
    #[error("queueing an expired request's follow-up failed: {0}")]
    Queue(#[from] QueueError),
}

/// What a sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Swept {
    /// Deadline entries read.
    pub due: usize,
    /// Requests this sweep ended as expired.
    pub expired: usize,
    /// Requests this sweep escalated.
    pub escalated: usize,
    /// Deadlines that failed this time (left for the next run).
    pub failed: usize,
    /// Requests that had ended otherwise before their deadline.
    pub already_ended: usize,
}

pub struct SweepDeadlines<'a> {
    pub approvals: &'a dyn ApprovalStore,
    pub deadlines: &'a dyn DeadlineStore,
    /// The worker performs what an expiry arms: every copy, the webhook, the inboxes.
    pub later: &'a dyn EffectsQueue,
}

impl SweepDeadlines<'_> {
    /// Expires or escalates what was due before `slot` (the schedule's time, never the
    /// clock): the state machine is given the slot as `now`, so a late or repeated run
    /// decides alike.
    pub async fn run(&self, slot: Slot) -> Result<Swept, SweepError> {
        let now = slot.start();
        let mut swept = Swept::default();
        for back in (1..=QUARTERS_BACK).rev() {
            let quarter = now - back * SLOT_SECS;
            for deadline in self.deadlines.deadlines_in(quarter).await? {
                swept.due += 1;
                // One request failing holds up no other; its entry stays for the next run.
                if let Err(error) = self.handle(&deadline, quarter, now, &mut swept).await {
                    tracing::warn!(approval_id = %deadline.approval_id, %error,
                        "a due deadline failed; the next run tries again");
                    swept.failed += 1;
                }
            }
        }
        Ok(swept)
    }

    async fn handle(
        &self,
        deadline: &Deadline,
        quarter: i64,
        now: i64,
        swept: &mut Swept,
    ) -> Result<(), SweepError> {
        let approval_id = deadline.approval_id.as_str();
        let Some(approval) = self.approvals.get(approval_id).await? else {
            // Filed by a create that never stored its request.
            self.deadlines.remove_deadline(deadline, quarter).await?;
            return Ok(());
        };
        if approval.status().is_final() {
            swept.already_ended += 1;
            self.deadlines.remove_deadline(deadline, quarter).await?;
            return Ok(());
        }
        let command = match deadline.kind {
            DeadlineKind::Expire => Command::Expire,
            DeadlineKind::Escalate => Command::Escalate {
                add: approval
                    .audience
                    .escalate_to
                    .iter()
                    .filter_map(|person| person.slack_user_id.clone())
                    .collect(),
            },
        };
        // Queued first, delayed: if the sweep dies after the write, the worker still
        // performs it; the one queued after the write performs it at once.
        self.later
            .perform_later(approval_id, SAFETY_NET_DELAY_SECS)
            .await?;
        // One command id per deadline: a repeated sweep is a redelivery, applied once.
        let command_id = format!("{}:{approval_id}", deadline.kind.as_str());
        match apply_command(
            self.approvals,
            approval,
            &command,
            &command_id,
            None,
            None,
            now,
        )
        .await?
        {
            Applied::Changed(_) => {
                if deadline.kind == DeadlineKind::Expire {
                    swept.expired += 1;
                } else {
                    swept.escalated += 1;
                }
                if let Err(error) = self.later.perform_later(approval_id, 0).await {
                    tracing::warn!(approval_id, %error,
                        "the follow-up was not queued; the delayed one performs it");
                }
            }
            Applied::AlreadyApplied(_) => {}
            Applied::Refused(_, Refusal::Ended { .. }) => swept.already_ended += 1,
            // Its deadline is later than this entry says (it cannot be, once filed): kept.
            Applied::Refused(_, refusal) => {
                tracing::warn!(approval_id, ?refusal, "a due deadline changed nothing");
                return Ok(());
            }
        }
        self.deadlines.remove_deadline(deadline, quarter).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Approval, Decision};
    use crate::fakes::{installation, request, IgnoredQueue, MemoryStore};
    use crate::machine::{Policy, Status};
    use crate::usecases::transition::apply_command;

    /// 2026-11-25T10:00:00Z.
    const TEN: i64 = 1_795_600_800;

    async fn expiring(store: &MemoryStore, external_id: &str, at: i64) -> Approval {
        store.connect("acme", installation("T1"));
        let mut approval = Approval::new(request(external_id, Some("C1")), "T1".into(), 0);
        approval.state.policy = Policy::anyone();
        approval.state.expires_at = Some(at);
        store.insert_if_absent(&approval).await.unwrap();
        let deadline = Deadline {
            approval_id: approval.id.clone(),
            kind: DeadlineKind::Expire,
        };
        store.add_deadline(&deadline, at).await.unwrap();
        approval
    }

    fn sweep(store: &MemoryStore) -> SweepDeadlines<'_> {
        SweepDeadlines {
            approvals: store,
            deadlines: store,
            later: &IgnoredQueue,
        }
    }

    #[tokio::test]
    async fn a_due_request_expires_once_however_often_the_sweep_runs() {
        let store = MemoryStore::default();
        let approval = expiring(&store, "DR-1", TEN + 5 * 60).await;

        let early = sweep(&store)
            .run(Slot::containing(TEN + 14 * 60))
            .await
            .unwrap();
        let first = sweep(&store)
            .run(Slot::containing(TEN + 15 * 60))
            .await
            .unwrap();
        let again = sweep(&store)
            .run(Slot::containing(TEN + 15 * 60))
            .await
            .unwrap();
        let later = sweep(&store)
            .run(Slot::containing(TEN + 30 * 60))
            .await
            .unwrap();

        assert_eq!(early.expired, 0, "10:05 is not due in the 10:00 run");
        assert_eq!(first.expired, 1, "the 10:15 run expires it");
        assert_eq!(
            (again.due, later.due),
            (0, 0),
            "its entry is gone once handled"
        );
        let stored = store.approval(&approval.id).unwrap();
        assert_eq!(stored.status(), Status::Expired);
        assert_eq!(stored.state.ending.unwrap().at, TEN + 15 * 60);
    }

    #[tokio::test]
    async fn a_request_decided_before_its_deadline_is_left_as_decided() {
        let store = MemoryStore::default();
        let approval = expiring(&store, "DR-2", TEN + 5 * 60).await;
        let click = Command::Vote {
            user_id: "U0ANA".into(),
            team_id: "T1".into(),
            decision: Decision::Approved,
            reason: None,
        };
        apply_command(
            &store,
            approval.clone(),
            &click,
            "click-1",
            None,
            None,
            TEN + 60,
        )
        .await
        .unwrap();

        let swept = sweep(&store)
            .run(Slot::containing(TEN + 15 * 60))
            .await
            .unwrap();

        assert_eq!((swept.expired, swept.already_ended), (0, 1));
        assert_eq!(
            store.approval(&approval.id).unwrap().status(),
            Status::Approved
        );
    }
}
