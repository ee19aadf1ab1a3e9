//! The SQS decision worker: each record is one decision command; failures are reported
//! per record (`ReportBatchItemFailures`) so SQS redelivers only those, then dead-letters them.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};

use approvals_aws::dynamo::DynamoStore;
use approvals_aws::sqs::SqsDecisionQueue;
use approvals_aws::SdkConfig;
use approvals_core::config::{AppSecrets, ConfigError};
use approvals_core::ports::{
    ApprovalStore, BotTokens, SlackApi, TenantStore, WebhookSink, WorkItem,
};
use approvals_core::time::unix_now;
use approvals_core::usecases::decide::Decide;
use approvals_core::usecases::tokens::RotatingTokens;
use approvals_lambda::env::{required_env, slack_api_base_url};
use approvals_outbound::slack_api::{RetryPolicy, SlackHttpClient};
use approvals_outbound::slack_oauth::SlackOAuthClient;
use approvals_outbound::webhook::HttpWebhookSink;

/// Time kept back from the deadline to answer with the partial batch response.
const DEADLINE_MARGIN: Duration = Duration::from_secs(2);

/// Where the function's resources are; [`Settings::from_env`] reads them, tests set them.
pub struct Settings {
    pub table: String,
    pub queue_url: String,
    pub slack_api_base_url: String,
    pub slack_retry: RetryPolicy,
    pub webhook_url: String,
}

impl Settings {
    /// `APP_TABLE`, `DECISION_QUEUE_URL`, `SLACK_API_BASE_URL` and `HOST_WEBHOOK_URL`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table: required_env("APP_TABLE")?,
            queue_url: required_env("DECISION_QUEUE_URL")?,
            slack_api_base_url: slack_api_base_url(),
            slack_retry: RetryPolicy::default(),
            webhook_url: required_env("HOST_WEBHOOK_URL")?,
        })
    }
}

pub struct DecisionWorker {
    pub approvals: Arc<dyn ApprovalStore>,
    pub tenants: Arc<dyn TenantStore>,
    pub slack: Arc<dyn SlackApi>,
    pub tokens: Arc<dyn BotTokens>,
    pub webhooks: Arc<dyn WebhookSink>,
}

impl DecisionWorker {
    /// Cold-start wiring: SDK clients, the secret, the Slack and webhook clients, built once.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let settings = Settings::from_env()?;
        let aws = approvals_aws::aws_config().await;
        let secrets = approvals_aws::secrets::load(&aws, &required_env("APP_SECRET_ID")?).await?;
        Self::new(&aws, settings, &secrets)
    }

    pub fn new(
        aws: &SdkConfig,
        settings: Settings,
        secrets: &AppSecrets,
    ) -> Result<Self, ConfigError> {
        let store = Arc::new(DynamoStore::from_secrets(aws, settings.table, secrets)?);
        let queue = Arc::new(SqsDecisionQueue::from_config(aws, settings.queue_url));
        let slack = SlackHttpClient::with_retry(&settings.slack_api_base_url, settings.slack_retry);
        let oauth = Arc::new(SlackOAuthClient::new(
            slack.clone(),
            secrets.slack_client_id.clone(),
            secrets.slack_client_secret.clone(),
        ));
        Ok(Self {
            approvals: store.clone(),
            tenants: store.clone(),
            slack: Arc::new(slack),
            tokens: Arc::new(RotatingTokens::new(store, oauth, queue)),
            webhooks: Arc::new(HttpWebhookSink::new(
                settings.webhook_url,
                secrets.host_webhook_secret.clone(),
            )),
        })
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
                    approvals: self.approvals.as_ref(),
                    tenants: self.tenants.as_ref(),
                    slack: self.slack.as_ref(),
                    webhooks: self.webhooks.as_ref(),
                    tokens: self.tokens.as_ref(),
                };
                match decide.run(&command, unix_now()).await {
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
