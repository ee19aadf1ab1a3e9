//! The SQS decision worker: each record is one decision command; failures are reported
//! per record (`ReportBatchItemFailures`) so SQS redelivers only those, then dead-letters them.

use std::sync::Arc;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};

use crate::adapters::dynamo::DynamoStore;
use crate::adapters::slack_http::SlackHttpClient;
use crate::adapters::webhook_http::HttpWebhookSink;
use crate::config::{required_env, slack_api_base_url, ConfigError};
use crate::crypto::TokenCipher;
use crate::domain::DecisionCommand;
use crate::ports::{ApprovalStore, SlackApi, TenantStore, WebhookSink};
use crate::usecases::decide::Decide;

pub struct DecisionWorker {
    pub approvals: Arc<dyn ApprovalStore>,
    pub tenants: Arc<dyn TenantStore>,
    pub slack: Arc<dyn SlackApi>,
    pub webhooks: Arc<dyn WebhookSink>,
}

impl DecisionWorker {
    /// Cold-start wiring: SDK clients, the secret, the Slack and webhook clients, built once.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let table = required_env("APP_TABLE")?;
        let webhook_url = required_env("HOST_WEBHOOK_URL")?;
        let aws = crate::adapters::aws_config().await;
        let secrets = crate::adapters::secrets::load_app_secrets(
            &aws_sdk_secretsmanager::Client::new(&aws),
            &required_env("APP_SECRET_ID")?,
        )
        .await?;
        let store = Arc::new(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&aws),
            table,
            TokenCipher::new(secrets.encryption_key()?),
        ));
        Ok(Self {
            approvals: store.clone(),
            tenants: store,
            slack: Arc::new(SlackHttpClient::new(slack_api_base_url())),
            webhooks: Arc::new(HttpWebhookSink::new(
                webhook_url,
                secrets.host_webhook_secret,
            )),
        })
    }

    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let outcomes =
            futures::future::join_all(event.records.iter().map(|r| self.process(r))).await;
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

    /// True when the record is done with (decided, refused or already decided).
    async fn process(&self, record: &SqsMessage) -> bool {
        let message_id = record.message_id.as_deref().unwrap_or_default();
        let command: DecisionCommand =
            match serde_json::from_str(record.body.as_deref().unwrap_or_default()) {
                Ok(command) => command,
                Err(error) => {
                    // Left to fail until it reaches the DLQ, where it can be inspected.
                    tracing::error!(message_id, %error, "unreadable decision command");
                    return false;
                }
            };
        let decide = Decide {
            approvals: self.approvals.as_ref(),
            tenants: self.tenants.as_ref(),
            slack: self.slack.as_ref(),
            webhooks: self.webhooks.as_ref(),
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
}
