//! The decision queue over SQS.

use async_trait::async_trait;

use approvals_core::domain::DecisionCommand;
use approvals_core::ports::{DecisionQueue, HostEvent, HostNotifier, QueueError, WorkItem};

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
    async fn send(&self, item: &WorkItem) -> Result<(), QueueError> {
        let body = serde_json::to_string(item).map_err(|e| QueueError(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| QueueError(crate::sdk_error_text(&e)))?;
        Ok(())
    }
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
