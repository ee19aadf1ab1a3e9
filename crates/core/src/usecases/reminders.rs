//! Daily reminders: a run finds who is due in its slot and queues one job per person; the
//! worker sends each job as that person's digest, once per local day.
//!
//! The run reads the small registry of reminder keys, keeps those whose local quarter hour
//! the slot is, and reads only the index partitions of those keys: its cost follows the
//! pending work in the due zones, not the table. It makes no Slack call, so a big run is
//! paced by the queue and a 429 is retried per person by the worker.

use crate::blocks::{digest_capacity, digest_message, InboxLine, SlackMessage};
use crate::domain::{Approval, CopyRole, MessageCopy, SlackMessageRef};
use crate::inbox::{Digest, DigestItem, InboxEntry};
use crate::people::MappingStatus;
use crate::ports::{
    ApprovalStore, BotTokens, InboxStore, QueueError, ReminderQueue, SlackApi, SlackError,
    StoreError, TenantStore, TokenError,
};
use crate::reminders::{due_keys, plan_run, Due, PersonSchedule, ReminderJob, Slot};
use crate::usecases::inbox::Inbox;

/// Digests sent per second in one workspace: well inside Slack's workspace-wide posting
/// limit, so a team of 10,000 is reminded within the hour and none is dropped.
pub const SENDS_PER_SECOND: u32 = 5;
/// Earlier slots a run also covers when no run was recorded for them, so the people of a
/// run that failed (past Lambda's own retries) are reminded by the next one, late but once.
pub const LOOK_BACK_SLOTS: i64 = 4;
/// How long a run's record is kept: longer than the look-back.
const RUN_RECORD_SECS: i64 = 2 * 86_400;
/// Waiting items read for one digest: what one message can show, and enough to count on.
const DIGEST_READ_MAX: usize = 200;
/// How long one attempt holds a person's daily reminder: longer than the worker's 60 s
/// budget for a record, so two attempts never overlap; a crash mid-way frees it soon.
const SENDING_LEASE_SECS: i64 = 120;
/// How long the daily guard is kept once sent: past the end of any local day. Far longer
/// than a lease, which is how a held guard tells "sent" from "being sent".
const SENT_GUARD_SECS: i64 = 2 * 86_400;
/// A job retried for longer than this is for a day that is over: dropped, never sent late.
const STALE_JOB_SECS: i64 = 12 * 3600;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("reading who is due failed: {0}")]
    Store(#[from] StoreError),
    #[error("queueing the reminders failed: {0}")]
    Queue(#[from] QueueError),
}

/// What a run found and queued, for its log line and its answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RunSummary {
    pub slot: String,
    pub keys_in_use: usize,
    pub due_keys: Vec<String>,
    /// Earlier slots with no recorded run, covered by this one.
    pub caught_up: Vec<String>,
    /// Waiting entries read under the due keys (one person may have many).
    pub entries_read: usize,
    /// Jobs queued: one per person.
    pub people: usize,
}

pub struct RunReminders<'a> {
    pub inbox: &'a dyn InboxStore,
    pub queue: &'a dyn ReminderQueue,
    /// Where each run is recorded once it has queued its jobs.
    pub runs: &'a dyn ApprovalStore,
}

fn run_key(slot: Slot) -> String {
    format!("reminder-run:{}", slot.start())
}

impl RunReminders<'_> {
    /// Queues a job for each person due in `slot`. `now` only delays jobs that are paced
    /// past it; who is due comes from the slot alone, so a late or repeated run finds the
    /// same people (and the worker's daily guard sends each once).
    pub async fn run(&self, slot: Slot, now: i64) -> Result<RunSummary, RunError> {
        let mut slots = Vec::new();
        for back in (1..=LOOK_BACK_SLOTS).rev() {
            let earlier = Slot::containing(slot.start() - back * crate::reminders::SLOT_SECS);
            if self
                .runs
                .claim_expires_at(&run_key(earlier))
                .await?
                .is_none()
            {
                slots.push(earlier);
            }
        }
        let caught_up: Vec<String> = slots
            .iter()
            .map(|s| crate::time::rfc3339(s.start()))
            .collect();
        slots.push(slot);
        let keys = self.inbox.keys_in_use().await?;
        let mut summary = RunSummary {
            slot: crate::time::rfc3339(slot.start()),
            keys_in_use: keys.len(),
            caught_up,
            ..RunSummary::default()
        };
        let mut jobs = Vec::new();
        for &slot in &slots {
            let mut found = Vec::new();
            for key in due_keys(&keys, slot) {
                for waiter in self.inbox.waiting_under(&key).await? {
                    found.push((key.clone(), waiter));
                }
                summary.due_keys.push(key.to_string());
            }
            summary.entries_read += found.len();
            jobs.extend(plan_run(slot, found, SENDS_PER_SECOND));
        }
        for job in &mut jobs {
            job.queued_at = now;
        }
        self.queue.remind(&jobs, now).await?;
        // Recorded once queued, with the slots it caught up on: a run that failed before
        // recording is covered by the next.
        for slot in slots {
            self.runs
                .claim_once(&run_key(slot), now, now + RUN_RECORD_SECS)
                .await?;
        }
        summary.people = jobs.len();
        Ok(summary)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the digest could not be sent yet: {0}")]
    Slack(#[from] SlackError),
    #[error("no usable token for the digest yet: {0}")]
    Token(TokenError),
}

impl DigestError {
    /// Slack's `Retry-After`, when it asked to wait.
    pub fn retry_after_secs(&self) -> Option<i64> {
        match self {
            Self::Slack(SlackError::RateLimited {
                retry_after_secs, ..
            }) => Some(*retry_after_secs as i64),
            _ => None,
        }
    }

    /// Worth retrying: not a Slack refusal that no retry can change (`user_not_found`,
    /// `messages_tab_disabled`, `invalid_blocks`…).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Slack(error) => error.is_retryable(),
            Self::Store(_) | Self::Token(_) => true,
        }
    }
}

/// What became of one person's reminder job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reminded {
    Sent {
        items: usize,
        more: usize,
    },
    /// Paced for later, or another attempt is sending it right now: bring the job back in
    /// this many seconds.
    Early {
        wait_secs: i64,
    },
    /// Slack may have posted it (the answer was lost): kept as sent, never posted twice.
    MaybeSent,
    /// For a local day that is over: dropped.
    Stale,
    /// Nothing waits on them any more: no DM.
    NothingWaiting,
    /// Reminded already today (a repeated run or a redelivered job).
    AlreadySent,
    /// Not their slot or day (their settings changed since they were filed): re-filed.
    NotDue,
    /// Not (or no longer) mapped to a Slack user: their items show in the host's
    /// not-in-Slack view instead.
    NotInSlack,
    /// The tenant has no usable workspace.
    NotConnected,
}

/// What one attempt came to before the daily guard is settled.
enum Sending {
    /// Nothing to send (or nobody to send it with).
    Nothing(Reminded),
    /// Posted: the digest to record, and the token it was posted with.
    Posted(Digest, crate::secret::SecretToken),
}

pub struct SendDigest<'a> {
    pub people: Inbox<'a>,
    pub tenants: &'a dyn TenantStore,
    pub slack: &'a dyn SlackApi,
    pub tokens: &'a dyn BotTokens,
}

impl SendDigest<'_> {
    /// Sends the person their digest if the job's slot is still their reminder slot, at
    /// most once per local day: a claim keyed by person and local date is taken as a short
    /// lease and kept once sent, and given back when sending failed so the queue retries.
    pub async fn run(&self, job: &ReminderJob, now: i64) -> Result<Reminded, DigestError> {
        if now < job.not_before {
            return Ok(Reminded::Early {
                wait_secs: job.not_before - now,
            });
        }
        if now - job.queued_at > STALE_JOB_SECS {
            return Ok(Reminded::Stale);
        }
        let people = &self.people;
        let Some(user) = people
            .users
            .users(&job.tenant_id, std::slice::from_ref(&job.user_id))
            .await?
            .into_iter()
            .next()
        else {
            return Ok(Reminded::NotInSlack);
        };
        let slack_user_id = match (&user.status, &user.slack_user_id) {
            (MappingStatus::Mapped, Some(id)) => id.clone(),
            _ => return Ok(Reminded::NotInSlack),
        };
        let tenant = people
            .settings
            .tenant_reminders(&job.tenant_id)
            .await?
            .unwrap_or_default();
        let own = people
            .settings
            .user_schedule(&job.tenant_id, &job.user_id)
            .await?;
        let schedule = PersonSchedule::resolve(&tenant, own.as_ref(), user.tz.as_deref());
        let key = schedule.key().map(|key| key.to_string());
        let filed_right = key.as_deref() == Some(job.key.as_str());
        if !filed_right {
            people.refile(&job.tenant_id, &job.user_id).await?;
        }
        let local_date = match schedule.due(job.slot) {
            Due::Now { local_date } => local_date,
            // Filed under an old key, their time passed today unseen: remind them now.
            Due::Passed { local_date } if !filed_right => local_date,
            _ => return Ok(Reminded::NotDue),
        };
        let guard = format!("remind:{}:{}:{local_date}", job.tenant_id, job.user_id);
        let claims = people.approvals;
        if !claims
            .claim_once(&guard, now, now + SENDING_LEASE_SECS)
            .await?
        {
            return match claims.claim_expires_at(&guard).await? {
                // A lease: another attempt is sending it; come back once it has ended.
                Some(until) if until - now <= SENDING_LEASE_SECS => Ok(Reminded::Early {
                    wait_secs: (until - now).max(1),
                }),
                Some(_) => Ok(Reminded::AlreadySent),
                // Given back meanwhile: the next delivery tries again.
                None => Ok(Reminded::Early { wait_secs: 1 }),
            };
        }
        match self.send(job, &slack_user_id, &tenant, now).await {
            Ok(Sending::Nothing(reminded)) => {
                claims.extend_claim(&guard, now + SENT_GUARD_SECS).await?;
                Ok(reminded)
            }
            Ok(Sending::Posted(digest, token)) => {
                // Sent: from here on nothing may give the day back, or it is posted twice.
                claims.extend_claim(&guard, now + SENT_GUARD_SECS).await?;
                if let Err(error) = self.record(&digest, &token, now).await {
                    tracing::warn!(tenant_id = %job.tenant_id, user_id = %job.user_id, %error,
                        "digest sent, but not recorded: its items are not updated in place");
                }
                Ok(Reminded::Sent {
                    items: digest.items.len(),
                    more: digest.more,
                })
            }
            Err(DigestError::Slack(error)) if error.is_ambiguous() => {
                tracing::warn!(tenant_id = %job.tenant_id, user_id = %job.user_id, %error,
                    "the digest's post may have landed; kept as sent rather than risk a second");
                claims.extend_claim(&guard, now + SENT_GUARD_SECS).await?;
                Ok(Reminded::MaybeSent)
            }
            Err(error) => {
                claims.release_claim(&guard).await?;
                Err(error)
            }
        }
    }

    async fn send(
        &self,
        job: &ReminderJob,
        slack_user_id: &str,
        tenant: &crate::reminders::TenantReminders,
        now: i64,
    ) -> Result<Sending, DigestError> {
        let people = &self.people;
        let Some(installation) = self.tenants.installation_for_tenant(&job.tenant_id).await? else {
            return Ok(Sending::Nothing(Reminded::NotConnected));
        };
        let live = people
            .live_waiting(&job.tenant_id, &job.user_id, DIGEST_READ_MAX)
            .await?;
        if live.is_empty() {
            return Ok(Sending::Nothing(Reminded::NothingWaiting));
        }
        let token = match self.tokens.usable_token(&installation, now).await {
            Ok(token) => token,
            Err(TokenError::Revoked) => return Ok(Sending::Nothing(Reminded::NotConnected)),
            Err(error) => return Err(DigestError::Token(error)),
        };
        let kinds = people.kinds(&job.tenant_id, &live).await?;
        let named: Vec<(String, String)> = live
            .iter()
            .map(|(entry, _)| {
                let settings = kinds.get(&entry.kind).cloned().unwrap_or_default();
                (settings.group(), settings.label_of(&entry.kind))
            })
            .collect();
        let groups: Vec<&str> = named.iter().map(|(group, _)| group.as_str()).collect();
        let fits = digest_capacity(&groups);
        let mut items = Vec::with_capacity(fits);
        for ((entry, approval), (group, label)) in live.iter().zip(&named).take(fits) {
            let permalink = match &entry.permalink {
                Some(permalink) => Some(permalink.clone()),
                None => {
                    self.find_permalink(&token, entry, approval, slack_user_id)
                        .await
                }
            };
            items.push(DigestItem {
                approval_id: approval.id.clone(),
                permalink,
                group: group.clone(),
                label: label.clone(),
            });
        }
        let more = live.len() - fits;
        let lines: Vec<InboxLine<'_>> = live
            .iter()
            .zip(&items)
            .map(|((_, approval), item)| line(approval, item))
            .collect();
        let message = digest_message(&lines, more, tenant.inbox_url.as_deref(), now);
        let posted = self
            .slack
            .post_message(&token, slack_user_id, &message)
            .await?;
        let digest = Digest {
            channel_id: posted.channel_id.clone(),
            message_ts: posted.message_ts.clone(),
            tenant_id: job.tenant_id.clone(),
            user_id: job.user_id.clone(),
            slack_user_id: slack_user_id.to_owned(),
            items,
            more,
            inbox_url: tenant.inbox_url.clone(),
            sent_at: now,
        };
        Ok(Sending::Posted(digest, token))
    }

    /// Keeps the digest and makes it a copy of each request it lists, so a decision on any
    /// of them re-renders it; one decided while it was sent is shown decided at once.
    async fn record(
        &self,
        digest: &Digest,
        token: &crate::secret::SecretToken,
        now: i64,
    ) -> Result<(), DigestError> {
        let approvals = self.people.approvals;
        self.people.digests.save_digest(digest).await?;
        let posted = &SlackMessageRef {
            channel_id: digest.channel_id.clone(),
            message_ts: digest.message_ts.clone(),
        };
        let copy = MessageCopy::sent_to(posted.clone(), CopyRole::Digest, &digest.slack_user_id);
        let mut ended_meanwhile = false;
        for item in &digest.items {
            approvals.add_copy(&item.approval_id, &copy).await?;
            if let Some(current) = approvals.get(&item.approval_id).await? {
                ended_meanwhile |= current.status().is_final();
            }
        }
        if ended_meanwhile {
            let message = render_digest(approvals, digest, now).await?;
            if let Err(error) = self.slack.update_message(token, posted, &message).await {
                tracing::warn!(%error, "could not show a decision made while the digest was sent");
            }
        }
        Ok(())
    }

    /// A link to the person's own copy of the request (their DM), else the channel message.
    async fn find_permalink(
        &self,
        token: &crate::secret::SecretToken,
        entry: &InboxEntry,
        approval: &Approval,
        slack_user_id: &str,
    ) -> Option<String> {
        let copies = approval.copies.values();
        let own = copies
            .clone()
            .find(|c| c.role == CopyRole::Direct && c.for_user.as_deref() == Some(slack_user_id));
        let copy = own.or_else(|| copies.clone().find(|c| c.role == CopyRole::Channel))?;
        match self.slack.permalink(token, &copy.at()).await {
            Ok(permalink) => {
                if let Err(error) = self.people.inbox.set_permalink(entry, &permalink).await {
                    tracing::warn!(approval_id = %approval.id, %error, "could not keep the permalink");
                }
                Some(permalink)
            }
            Err(error) => {
                tracing::warn!(approval_id = %approval.id, %error, "no permalink for the digest");
                None
            }
        }
    }
}

fn line<'a>(approval: &'a Approval, item: &'a DigestItem) -> InboxLine<'a> {
    InboxLine {
        approval,
        permalink: item.permalink.as_deref(),
        group: &item.group,
        label: &item.label,
    }
}

/// The digest as its requests stand now: what was decided shows who decided.
pub async fn render_digest(
    approvals: &dyn ApprovalStore,
    digest: &Digest,
    now: i64,
) -> Result<SlackMessage, StoreError> {
    let mut found = Vec::with_capacity(digest.items.len());
    for item in &digest.items {
        if let Some(approval) = approvals.get(&item.approval_id).await? {
            found.push((approval, item));
        }
    }
    let lines: Vec<InboxLine<'_>> = found
        .iter()
        .map(|(approval, item)| line(approval, item))
        .collect();
    Ok(digest_message(
        &lines,
        digest.more,
        digest.inbox_url.as_deref(),
        now,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{installation, request, FakeSlack, MemoryQueue, MemoryStore};
    use crate::people::{Email, HostUser, HostUserId};
    use crate::ports::{UserDirectory, WorkItem};
    use crate::reminders::ReminderKey;
    use crate::usecases::tokens::StaticTokens;

    /// 2026-11-25T03:30:00Z: 09:00 in Kolkata.
    const KOLKATA_NINE: i64 = 1_795_577_400;

    fn cara(tz: &str) -> HostUser {
        HostUser {
            user_id: HostUserId::try_from("u-cara".to_owned()).unwrap(),
            email: Email::try_from("cara@example.com".to_owned()).unwrap(),
            name: "Cara".into(),
            status: MappingStatus::Mapped,
            slack_user_id: Some("U0CARA".into()),
            tz: Some(tz.into()),
            updated_at: 0,
        }
    }

    /// A pending request to Cara, filed in her inbox under her zone's 09:00.
    async fn waiting_on_cara(store: &MemoryStore, tz: &str) -> Approval {
        store.connect("acme", installation("T1"));
        store.save_users("acme", &[cara(tz)]).await.unwrap();
        let mut approval = Approval::new(request("DR-1", Some("C1")), "T1".into(), 0);
        approval.request.approvers = vec![cara(tz).user_id];
        store.insert_if_absent(&approval).await.unwrap();
        let people = Inbox::over(store);
        people
            .file(&approval, &cara(tz).user_id, false)
            .await
            .unwrap();
        approval
    }

    async fn jobs_at(store: &MemoryStore, slot: i64) -> Vec<ReminderJob> {
        let queue = MemoryQueue::default();
        RunReminders {
            inbox: store,
            queue: &queue,
            runs: store,
        }
        .run(Slot::containing(slot), slot)
        .await
        .unwrap();
        queue
            .sent()
            .into_iter()
            .filter_map(|item| match item {
                WorkItem::Remind(job) => Some(job),
                _ => None,
            })
            .collect()
    }

    fn send<'a>(store: &'a MemoryStore, slack: &'a FakeSlack) -> SendDigest<'a> {
        SendDigest {
            people: Inbox::over(store),
            tenants: store,
            slack,
            tokens: &StaticTokens,
        }
    }

    #[tokio::test]
    async fn a_job_is_sent_once_per_local_day_however_often_it_comes() {
        let (store, slack) = (MemoryStore::default(), FakeSlack::default());
        waiting_on_cara(&store, "Asia/Kolkata").await;
        let jobs = jobs_at(&store, KOLKATA_NINE).await;
        assert_eq!(jobs.len(), 1);

        let first = send(&store, &slack)
            .run(&jobs[0], KOLKATA_NINE)
            .await
            .unwrap();
        let again = send(&store, &slack)
            .run(&jobs[0], KOLKATA_NINE + 60)
            .await
            .unwrap();

        assert_eq!(first, Reminded::Sent { items: 1, more: 0 });
        assert_eq!(again, Reminded::AlreadySent);
        assert_eq!(slack.posted().len(), 1);
        assert_eq!(slack.posted()[0].0, "U0CARA");
    }

    #[tokio::test]
    async fn someone_whose_zone_changed_is_refiled_and_found_at_their_new_nine() {
        let (store, slack) = (MemoryStore::default(), FakeSlack::default());
        waiting_on_cara(&store, "Asia/Kolkata").await;
        // Cara moves to Berlin; her entry is still filed under Kolkata's 09:00.
        store
            .save_users("acme", &[cara("Europe/Berlin")])
            .await
            .unwrap();
        let jobs = jobs_at(&store, KOLKATA_NINE).await;

        let reminded = send(&store, &slack)
            .run(&jobs[0], KOLKATA_NINE)
            .await
            .unwrap();

        assert_eq!(
            reminded,
            Reminded::NotDue,
            "04:30 in Berlin is not her time"
        );
        assert!(slack.posted().is_empty());
        let berlin = ReminderKey::parse("09:00@Europe/Berlin").unwrap();
        assert_eq!(store.waiting_under(&berlin).await.unwrap().len(), 1);
        // 09:00 in Berlin (+01:00) is 08:00 UTC.
        let jobs = jobs_at(&store, KOLKATA_NINE + 4 * 3600 + 1800).await;
        assert_eq!(jobs.len(), 1);
        let reminded = send(&store, &slack)
            .run(&jobs[0], KOLKATA_NINE + 5 * 3600)
            .await;
        assert_eq!(reminded.unwrap(), Reminded::Sent { items: 1, more: 0 });
    }

    #[tokio::test]
    async fn a_failed_send_gives_the_day_back_and_a_paced_job_waits() {
        let (store, slack) = (
            MemoryStore::default(),
            FakeSlack::failing_posts("ratelimited"),
        );
        waiting_on_cara(&store, "Asia/Kolkata").await;
        let mut job = jobs_at(&store, KOLKATA_NINE).await.remove(0);

        let failed = send(&store, &slack).run(&job, KOLKATA_NINE).await;

        assert!(matches!(failed, Err(DigestError::Slack(_))));
        let guard = "remind:acme:u-cara:2026-11-25";
        assert_eq!(store.claim_expiry(guard), None, "the retry may send it");
        job.not_before = KOLKATA_NINE + 30;
        let early = send(&store, &slack).run(&job, KOLKATA_NINE).await.unwrap();
        assert_eq!(early, Reminded::Early { wait_secs: 30 });
    }

    #[tokio::test]
    async fn a_run_that_failed_is_caught_up_by_the_next_and_only_once() {
        let (store, slack) = (MemoryStore::default(), FakeSlack::default());
        waiting_on_cara(&store, "Asia/Kolkata").await;
        // The 03:15 run went fine; the 03:30 one (Cara's) never ran.
        assert!(jobs_at(&store, KOLKATA_NINE - 900).await.is_empty());

        let caught = jobs_at(&store, KOLKATA_NINE + 900).await;
        let later = jobs_at(&store, KOLKATA_NINE + 1800).await;

        assert_eq!(caught.len(), 1, "the 03:45 run covers 03:30");
        assert_eq!(caught[0].slot, Slot::containing(KOLKATA_NINE));
        assert!(later.is_empty(), "03:30 is recorded as covered now");
        let reminded = send(&store, &slack)
            .run(&caught[0], KOLKATA_NINE + 900)
            .await;
        assert_eq!(reminded.unwrap(), Reminded::Sent { items: 1, more: 0 });
    }

    #[tokio::test]
    async fn a_redelivery_while_another_attempt_sends_comes_back_later_not_dropped() {
        let (store, slack) = (MemoryStore::default(), FakeSlack::default());
        waiting_on_cara(&store, "Asia/Kolkata").await;
        let job = jobs_at(&store, KOLKATA_NINE).await.remove(0);
        let guard = "remind:acme:u-cara:2026-11-25";
        // Another attempt holds the lease (it was cut off at the worker's deadline).
        assert!(store
            .claim_once(guard, KOLKATA_NINE, KOLKATA_NINE + 120)
            .await
            .unwrap());

        let held = send(&store, &slack)
            .run(&job, KOLKATA_NINE + 20)
            .await
            .unwrap();
        let after = send(&store, &slack)
            .run(&job, KOLKATA_NINE + 121)
            .await
            .unwrap();
        let stale = send(&store, &slack)
            .run(&job, KOLKATA_NINE + 13 * 3600)
            .await
            .unwrap();

        assert_eq!(held, Reminded::Early { wait_secs: 100 });
        assert_eq!(after, Reminded::Sent { items: 1, more: 0 });
        assert_eq!(
            stale,
            Reminded::Stale,
            "tomorrow is too late for today's digest"
        );
        assert_eq!(slack.posted().len(), 1);
    }

    #[tokio::test]
    async fn nothing_waiting_sends_nothing() {
        let (store, slack) = (MemoryStore::default(), FakeSlack::default());
        let approval = waiting_on_cara(&store, "Asia/Kolkata").await;
        let jobs = jobs_at(&store, KOLKATA_NINE).await;
        // Decided between the run and the job: the entry is found stale and dropped.
        store
            .commit(
                &approval.id,
                0,
                &crate::ports::Commit {
                    state: {
                        let mut state = approval.state.clone();
                        state.status = crate::machine::Status::Cancelled;
                        state.version = 1;
                        state
                    },
                    outbox: Vec::new(),
                    command_id: None,
                    copies_seen: 0,
                    created_at: 0,
                    audit: Vec::new(),
                },
            )
            .await
            .unwrap();

        let reminded = send(&store, &slack)
            .run(&jobs[0], KOLKATA_NINE)
            .await
            .unwrap();

        assert_eq!(reminded, Reminded::NothingWaiting);
        assert!(slack.posted().is_empty());
    }
}
