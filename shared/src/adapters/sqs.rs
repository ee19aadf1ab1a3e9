//! The decision queue over SQS.

use async_trait::async_trait;

use crate::domain::DecisionCommand;
use crate::ports::{DecisionQueue, QueueError};

pub struct SqsDecisionQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsDecisionQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

#[async_trait]
impl DecisionQueue for SqsDecisionQueue {
    async fn enqueue(&self, command: &DecisionCommand) -> Result<(), QueueError> {
        let body = serde_json::to_string(command).map_err(|e| QueueError(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| QueueError(super::sdk_error_text(&e)))?;
        Ok(())
    }
}
