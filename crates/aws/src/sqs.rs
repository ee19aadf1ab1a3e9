//! The decision queue over SQS.

use async_trait::async_trait;

use approvals_core::domain::DecisionCommand;
use approvals_core::ports::{
    CleanupQueue, DecisionQueue, EffectsQueue, HomeFor, HomeQueue, HostEvent, HostNotifier,
    InstallFollowUp, Installed, QueueError, ReminderQueue, RetireInstallation, WorkItem,
};
use approvals_core::reminders::ReminderJob;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

/// SQS's `SendMessageBatch` limit.
const SEND_BATCH: usize = 10;
/// SQS's longest `DelaySeconds`.
const MAX_DELAY_SECS: i64 = 900;

pub struct SqsDecisionQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsDecisionQueue {
    /// The queue over a client built from the shared SDK configuration.
    pub fn from_config(aws: &aws_config::SdkConfig, queue_url: impl Into<String>) -> Self {
        Self::new(aws_sdk_sqs::Client::new(aws), queue_url)
    }

    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

impl SqsDecisionQueue {
    /// Hides a received message for `secs` more seconds (`ChangeMessageVisibility`): how a
    /// failed record waits out its backoff instead of the queue's fixed visibility timeout.
    pub async fn hide_for(&self, receipt_handle: &str, secs: i32) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(secs)
            .send()
            .await
            .map_err(|e| QueueError(crate::sdk_error_text(&e)))?;
        Ok(())
    }

    /// Sends a body as it is to another queue: the worker moving a record to its DLQ.
    pub async fn send_raw(&self, queue_url: &str, body: &str) -> Result<(), QueueError> {
        self.client
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| QueueError(crate::sdk_error_text(&e)))?;
        Ok(())
    }

    async fn send(&self, item: &WorkItem) -> Result<(), QueueError> {
        self.send_after(item, 0).await
    }

    /// Sends `item`, visible after `delay_secs` (SQS allows up to 15 minutes).
    async fn send_after(&self, item: &WorkItem, delay_secs: i32) -> Result<(), QueueError> {
        let body = serde_json::to_string(item).map_err(|e| QueueError(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(delay_secs.clamp(0, 900))
            .send()
            .await
            .map_err(|e| QueueError(crate::sdk_error_text(&e)))?;
        Ok(())
    }

    /// Sends one batch of at most ten entries; any entry SQS did not take fails the call,
    /// so the caller retries the run rather than losing someone's reminder.
    async fn send_batch(
        &self,
        entries: Vec<SendMessageBatchRequestEntry>,
    ) -> Result<(), QueueError> {
        let answer = self
            .client
            .send_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| QueueError(crate::sdk_error_text(&e)))?;
        match answer.failed.first() {
            None => Ok(()),
            Some(first) => Err(QueueError(format!(
                "{} of the batch's messages were not sent; entry {}: {} {}",
                answer.failed.len(),
                first.id,
                first.code,
                first.message.as_deref().unwrap_or(""),
            ))),
        }
    }
}

/// A reminder job as a batch entry, held back until its `not_before` as far as SQS allows.
fn remind_entry(
    index: usize,
    job: &ReminderJob,
    now: i64,
) -> Result<SendMessageBatchRequestEntry, QueueError> {
    let body = serde_json::to_string(&WorkItem::Remind(job.clone()))
        .map_err(|e| QueueError(e.to_string()))?;
    let delay = (job.not_before - now).clamp(0, MAX_DELAY_SECS);
    SendMessageBatchRequestEntry::builder()
        .id(index.to_string())
        .message_body(body)
        .delay_seconds(i32::try_from(delay).unwrap_or(0))
        .build()
        .map_err(|e| QueueError(e.to_string()))
}

#[async_trait]
impl DecisionQueue for SqsDecisionQueue {
    async fn enqueue(&self, command: &DecisionCommand) -> Result<(), QueueError> {
        self.send(&WorkItem::Decide(command.clone())).await
    }
}

#[async_trait]
impl HostNotifier for SqsDecisionQueue {
    async fn notify(&self, event: &HostEvent) -> Result<(), QueueError> {
        self.send(&WorkItem::NotifyHost(event.clone())).await
    }
}

#[async_trait]
impl CleanupQueue for SqsDecisionQueue {
    async fn retire_installation(&self, retire: &RetireInstallation) -> Result<(), QueueError> {
        self.send(&WorkItem::RetireInstallation(retire.clone()))
            .await
    }
}

#[async_trait]
impl InstallFollowUp for SqsDecisionQueue {
    async fn installed(&self, installed: &Installed) -> Result<(), QueueError> {
        self.send(&WorkItem::Installed(installed.clone())).await
    }
}

#[async_trait]
impl EffectsQueue for SqsDecisionQueue {
    async fn perform_later(&self, approval_id: &str, delay_secs: i64) -> Result<(), QueueError> {
        let item = WorkItem::Perform {
            approval_id: approval_id.to_owned(),
        };
        self.send_after(&item, delay_secs.clamp(0, 900) as i32)
            .await
    }
}

#[async_trait]
impl ReminderQueue for SqsDecisionQueue {
    async fn remind(&self, jobs: &[ReminderJob], now: i64) -> Result<(), QueueError> {
        for batch in jobs.chunks(SEND_BATCH) {
            let entries = batch
                .iter()
                .enumerate()
                .map(|(index, job)| remind_entry(index, job, now))
                .collect::<Result<Vec<_>, _>>()?;
            self.send_batch(entries).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl HomeQueue for SqsDecisionQueue {
    async fn publish_home(&self, home: &HomeFor) -> Result<(), QueueError> {
        self.send(&WorkItem::PublishHome(home.clone())).await
    }
}
