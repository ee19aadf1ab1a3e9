//! The SQS decision worker: each record is one decision command; failures are reported
//! per record (`ReportBatchItemFailures`) so SQS redelivers only those, then dead-letters them.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};

use crate::adapters::webhook_http::HttpWebhookSink;
use crate::backend::Backend;
use crate::config::{required_env, ConfigError};
use crate::ports::{WebhookSink, WorkItem};
use crate::usecases::decide::Decide;

/// Time kept back from the deadline to answer with the partial batch response.
const DEADLINE_MARGIN: Duration = Duration::from_secs(2);

pub struct DecisionWorker {
    pub backend: Backend,
    pub webhooks: Arc<dyn WebhookSink>,
}

impl DecisionWorker {
    /// Cold-start wiring: SDK clients, the secret, the Slack and webhook clients, built once.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let webhook_url = required_env("HOST_WEBHOOK_URL")?;
        let backend = Backend::from_env().await?;
        let webhooks = Arc::new(HttpWebhookSink::new(
            webhook_url,
            backend.secrets.host_webhook_secret.clone(),
        ));
        Ok(Self { backend, webhooks })
    }

    /// Handles a batch with no deadline of its own (tests, the local event source).
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        self.handle_until(event, None).await
    }

    /// Handles a batch, giving up on records still running shortly before `deadline` (the
    /// invocation's, from the Lambda context) so their failure is reported per record
    /// instead of Lambda timing out and retrying the whole batch.
    pub async fn handle_until(
        &self,
        event: SqsEvent,
        deadline: Option<SystemTime>,
    ) -> SqsBatchResponse {
        let budget = deadline.map(|deadline| {
            deadline
                .duration_since(SystemTime::now())
                .unwrap_or_default()
                .saturating_sub(DEADLINE_MARGIN)
        });
        let outcomes = futures::future::join_all(event.records.iter().map(|record| async move {
            match budget {
                Some(budget) => tokio::time::timeout(budget, self.process(record))
                    .await
                    .unwrap_or_else(|_| {
                        tracing::warn!(message_id = record.message_id.as_deref().unwrap_or_default(),
                            "record still running at the invocation's deadline; SQS will redeliver it");
                        false
                    }),
                None => self.process(record).await,
            }
        }))
        .await;
        let mut answer = SqsBatchResponse::default();
        for (record, ok) in event.records.iter().zip(outcomes) {
            if !ok {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = record.message_id.clone().unwrap_or_default();
                answer.batch_item_failures.push(failure);
            }
        }
        answer
    }

    /// True when the record is done with (decided, refused, already decided, delivered).
    async fn process(&self, record: &SqsMessage) -> bool {
        let message_id = record.message_id.as_deref().unwrap_or_default();
        let item: WorkItem = match serde_json::from_str(record.body.as_deref().unwrap_or_default())
        {
            Ok(item) => item,
            Err(error) => {
                // Left to fail until it reaches the DLQ, where it can be inspected.
                tracing::error!(message_id, %error, "unreadable work item");
                return false;
            }
        };
        match item {
            WorkItem::Decide(command) => {
                let decide = Decide {
                    approvals: self.backend.approvals.as_ref(),
                    tenants: self.backend.tenants.as_ref(),
                    slack: self.backend.slack.as_ref(),
                    webhooks: self.webhooks.as_ref(),
                    tokens: self.backend.tokens.as_ref(),
                };
                match decide.run(&command, crate::unix_now()).await {
                    Ok(outcome) => {
                        tracing::info!(message_id, approval_id = %command.approval_id, ?outcome, "decision command done");
                        true
                    }
                    Err(error) => {
                        tracing::warn!(message_id, approval_id = %command.approval_id, %error,
                            retryable = error.is_retryable(), "decision command failed; SQS will redeliver it");
                        false
                    }
                }
            }
            WorkItem::NotifyHost(event) => match self.webhooks.deliver(&event).await {
                Ok(()) => true,
                Err(error) => {
                    tracing::warn!(message_id, event_id = %event.id, %error, "host webhook failed; SQS will redeliver it");
                    false
                }
            },
        }
    }
}
