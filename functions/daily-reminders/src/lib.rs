//! The 15-minute run: from the schedule's `scheduled_time`, find who is due a reminder and
//! queue one job per person for the decision worker, which sends the digests; and expire the
//! requests whose deadline passed.
//!
//! It works from the time the schedule names, never from the clock, so a late or repeated
//! invocation finds the same people, and the worker's daily guard sends each of them once.
//! Invoked by hand with any `scheduled_time`, it does what the schedule would have done then.

use std::sync::Arc;

use approvals_aws::dynamo::DynamoStore;
use approvals_aws::sqs::SqsDecisionQueue;
use approvals_aws::SdkConfig;
use approvals_core::config::ConfigError;
use approvals_core::domain::ValidationError;
use approvals_core::ports::{
    ApprovalStore, DeadlineStore, EffectsQueue, InboxStore, ReminderQueue,
};
use approvals_core::reminders::Slot;
use approvals_core::time::unix_now;
use approvals_core::usecases::deadlines::{SweepDeadlines, SweepError, Swept};
use approvals_core::usecases::reminders::{RunError, RunReminders, RunSummary};
use approvals_lambda::env::required_env;

/// Where the function's resources are; [`Settings::from_env`] reads them, tests set them.
pub struct Settings {
    pub table: String,
    pub queue_url: String,
}

impl Settings {
    /// `APP_TABLE` and `DECISION_QUEUE_URL`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table: required_env("APP_TABLE")?,
            queue_url: required_env("DECISION_QUEUE_URL")?,
        })
    }
}

/// Why a run did nothing: the input names no usable time, or the table or queue failed.
/// The invocation fails loudly; the scheduler invokes asynchronously, so Lambda's own
/// retries (`EventInvokeConfig` in the template) run it again for the same slot.
#[derive(Debug, thiserror::Error)]
pub enum ReminderRunError {
    #[error("the input is not the schedule's: {0}")]
    Input(#[from] ValidationError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Sweep(#[from] SweepError),
}

/// What one run did: the reminders it queued and the requests it expired.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Tick {
    pub reminders: RunSummary,
    pub deadlines: Swept,
}

/// The schedule's input: `{"scheduled_time": "<aws.scheduler.scheduled-time>"}`.
#[derive(serde::Deserialize)]
struct ScheduleInput {
    scheduled_time: Option<String>,
}

/// The slot a schedule input names, or the error that names the field.
pub fn slot_of(input: &serde_json::Value) -> Result<Slot, ValidationError> {
    let tick: ScheduleInput = serde_json::from_value(input.clone()).map_err(|_| {
        ValidationError::new(
            "scheduled_time",
            "the input must be a JSON object with scheduled_time",
        )
    })?;
    let text = tick.scheduled_time.ok_or_else(|| {
        ValidationError::new(
            "scheduled_time",
            "required, e.g. {\"scheduled_time\": \"2026-11-25T03:30:00Z\"}",
        )
    })?;
    Slot::from_scheduled_time(&text)
}

pub struct DailyReminders {
    pub inbox: Arc<dyn InboxStore>,
    pub queue: Arc<dyn ReminderQueue>,
    /// Records each run, so the next one covers a slot whose run failed; and the requests
    /// the sweep expires.
    pub runs: Arc<dyn ApprovalStore>,
    pub deadlines: Arc<dyn DeadlineStore>,
    /// The worker performs what an expiry arms.
    pub effects: Arc<dyn EffectsQueue>,
}

impl DailyReminders {
    /// Cold-start wiring: the table and the queue, built once.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let aws = approvals_aws::aws_config().await;
        Self::new(&aws, Settings::from_env()?)
    }

    pub fn new(aws: &SdkConfig, settings: Settings) -> Result<Self, ConfigError> {
        let store = Arc::new(DynamoStore::without_token_keys(aws, settings.table)?);
        let queue = Arc::new(SqsDecisionQueue::from_config(aws, settings.queue_url));
        Ok(Self {
            inbox: store.clone(),
            queue: queue.clone(),
            runs: store.clone(),
            deadlines: store,
            effects: queue,
        })
    }

    /// One run. The clock only spreads jobs paced past the present; who is due comes from
    /// the input's slot alone.
    pub async fn handle(&self, input: &serde_json::Value) -> Result<Tick, ReminderRunError> {
        let slot = slot_of(input).inspect_err(|error| {
            tracing::error!(%error, "reminder run refused its input; nothing was sent");
        })?;
        let run = RunReminders {
            inbox: self.inbox.as_ref(),
            queue: self.queue.as_ref(),
            runs: self.runs.as_ref(),
        };
        // The sweep runs whatever became of the reminders: one failing never starves the
        // other; the invocation still fails, so Lambda retries (both are repeat-safe).
        let reminded = run.run(slot, unix_now()).await;
        let swept = SweepDeadlines {
            approvals: self.runs.as_ref(),
            deadlines: self.deadlines.as_ref(),
            later: self.effects.as_ref(),
        }
        .run(slot)
        .await;
        let summary = reminded?;
        tracing::info!(slot = %summary.slot, keys_in_use = summary.keys_in_use,
            due_keys = ?summary.due_keys, caught_up = ?summary.caught_up,
            entries_read = summary.entries_read,
            people = summary.people, "reminder run queued its jobs");
        let swept = swept?;
        tracing::info!(slot = %summary.slot, due = swept.due, expired = swept.expired,
            escalated = swept.escalated, already_ended = swept.already_ended,
            failed = swept.failed, "deadline sweep done");
        Ok(Tick {
            reminders: summary,
            deadlines: swept,
        })
    }
}
