//! An SQS event source mapping stand-in: polls the queue, hands batches to the worker,
//! deletes what succeeded and leaves reported failures to come back after the visibility
//! timeout, as Lambda does with `ReportBatchItemFailures`; SQS (moto) dead-letters a message
//! after the redrive policy's max receives.

use std::collections::HashSet;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::MessageSystemAttributeName;

use decision_worker::DecisionWorker;

/// Messages received together, as one invocation's event, with their receipts.
pub struct Batch {
    pub event: SqsEvent,
    receipts: Vec<(String, String)>,
}

impl Batch {
    /// Deletes every message the answer does not report as failed. An invocation that gave
    /// no answer (killed, timed out) deletes nothing: its messages come back after the
    /// queue's visibility timeout, as on Lambda.
    pub async fn settle(
        self,
        sqs: &aws_sdk_sqs::Client,
        queue_url: &str,
        answer: &SqsBatchResponse,
    ) -> Result<(), String> {
        let failed: HashSet<&str> = answer
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        for (message_id, receipt) in self.receipts {
            if failed.contains(message_id.as_str()) {
                tracing::debug!(
                    message_id,
                    "worker reported a failure; the message returns after the visibility timeout"
                );
                continue;
            }
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(receipt)
                .send()
                .await
                .map_err(|e| format!("DeleteMessage failed: {e}"))?;
        }
        Ok(())
    }
}

/// Receives up to ten messages, waiting at most `wait_secs` for the first.
pub async fn receive(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    wait_secs: i32,
) -> Result<Option<Batch>, String> {
    let received = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(wait_secs)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .map_err(|e| format!("ReceiveMessage failed: {e}"))?;
    let messages = received.messages.unwrap_or_default();
    if messages.is_empty() {
        return Ok(None);
    }
    let mut event = SqsEvent::default();
    let mut receipts = Vec::new();
    for message in messages {
        let mut record = SqsMessage::default();
        record.message_id = message.message_id.clone();
        record.receipt_handle = message.receipt_handle.clone();
        record.body = message.body.clone();
        if let Some(attributes) = &message.attributes {
            for (name, value) in attributes {
                record
                    .attributes
                    .insert(name.as_str().to_owned(), value.clone());
            }
        }
        receipts.push((
            message.message_id.unwrap_or_default(),
            message.receipt_handle.unwrap_or_default(),
        ));
        event.records.push(record);
    }
    Ok(Some(Batch { event, receipts }))
}

/// One receive-invoke-delete round. Returns how many messages were handed to the worker.
pub async fn poll_once(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    worker: &DecisionWorker,
    wait_secs: i32,
) -> Result<usize, String> {
    let Some(mut batch) = receive(sqs, queue_url, wait_secs).await? else {
        return Ok(0);
    };
    let count = batch.event.records.len();
    let answer = worker.handle(std::mem::take(&mut batch.event)).await;
    batch.settle(sqs, queue_url, &answer).await?;
    Ok(count)
}

/// Polls until the task is dropped, like an enabled event source mapping.
pub async fn run(
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    worker: std::sync::Arc<DecisionWorker>,
) {
    loop {
        if let Err(error) = poll_once(&sqs, &queue_url, &worker, 1).await {
            tracing::error!(%error, "event source mapping poll failed");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}
