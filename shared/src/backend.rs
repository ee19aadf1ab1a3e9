//! The adapters every entrypoint shares, built once per cold start from the environment.

use std::sync::Arc;

use crate::adapters::dynamo::DynamoStore;
use crate::adapters::slack_http::{RetryPolicy, SlackHttpClient};
use crate::adapters::slack_oauth::SlackOAuthClient;
use crate::adapters::sqs::SqsDecisionQueue;
use crate::config::{env_or, required_env, slack_api_base_url, AppSecrets, ConfigError};
use crate::ports::{
    ApprovalStore, BotTokens, DecisionQueue, HostNotifier, InstallFlowStore, SlackApi, SlackOAuth,
    TenantStore,
};
use crate::usecases::install::{
    InstallFlow, InstallSettings, DEFAULT_AUTHORIZE_URL, DEFAULT_BOT_SCOPES,
};
use crate::usecases::tokens::RotatingTokens;

/// Ports wired to their AWS and Slack adapters.
pub struct Backend {
    pub approvals: Arc<dyn ApprovalStore>,
    pub tenants: Arc<dyn TenantStore>,
    pub install_flow: Arc<dyn InstallFlowStore>,
    pub queue: Arc<dyn DecisionQueue>,
    pub notifier: Arc<dyn HostNotifier>,
    pub slack: Arc<dyn SlackApi>,
    pub oauth: Arc<dyn SlackOAuth>,
    pub tokens: Arc<dyn BotTokens>,
    pub secrets: AppSecrets,
}

/// Where the AWS resources and Slack are; `from_env` reads them, tests set them.
pub struct BackendSettings {
    pub table: String,
    pub queue_url: String,
    pub slack_api_base_url: String,
    pub slack_retry: RetryPolicy,
}

impl Backend {
    /// Reads `APP_TABLE`, `DECISION_QUEUE_URL`, `SLACK_API_BASE_URL` and the secret.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let settings = BackendSettings {
            table: required_env("APP_TABLE")?,
            queue_url: required_env("DECISION_QUEUE_URL")?,
            slack_api_base_url: slack_api_base_url(),
            slack_retry: RetryPolicy::default(),
        };
        let aws = crate::adapters::aws_config().await;
        let secrets = crate::adapters::secrets::load_app_secrets(
            &aws_sdk_secretsmanager::Client::new(&aws),
            &required_env("APP_SECRET_ID")?,
        )
        .await?;
        Self::new(&aws, settings, secrets)
    }

    pub fn new(
        aws: &aws_config::SdkConfig,
        settings: BackendSettings,
        secrets: AppSecrets,
    ) -> Result<Self, ConfigError> {
        let store = Arc::new(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(aws),
            settings.table,
            secrets.token_cipher()?,
        ));
        let queue = Arc::new(SqsDecisionQueue::new(
            aws_sdk_sqs::Client::new(aws),
            settings.queue_url,
        ));
        let slack = Arc::new(SlackHttpClient::with_retry(
            &settings.slack_api_base_url,
            settings.slack_retry,
        ));
        let oauth = Arc::new(SlackOAuthClient::new(
            SlackHttpClient::with_retry(&settings.slack_api_base_url, settings.slack_retry),
            secrets.slack_client_id.clone(),
            secrets.slack_client_secret.clone(),
        ));
        let tokens = Arc::new(RotatingTokens::new(
            store.clone(),
            oauth.clone(),
            queue.clone(),
        ));
        Ok(Self {
            approvals: store.clone(),
            tenants: store.clone(),
            install_flow: store,
            queue: queue.clone(),
            notifier: queue,
            slack,
            oauth,
            tokens,
            secrets,
        })
    }

    /// The install flow use case over these adapters.
    pub fn install_flow<'a>(&'a self, settings: &'a InstallSettings) -> InstallFlow<'a> {
        InstallFlow {
            flow: self.install_flow.as_ref(),
            tenants: self.tenants.as_ref(),
            oauth: self.oauth.as_ref(),
            notifier: self.notifier.as_ref(),
            settings,
        }
    }

    /// The install flow's settings: `PUBLIC_BASE_URL`, `SLACK_OAUTH_AUTHORIZE_URL`, `SLACK_BOT_SCOPES`.
    pub fn install_settings_from_env(&self) -> Result<InstallSettings, ConfigError> {
        Ok(InstallSettings {
            public_base_url: required_env("PUBLIC_BASE_URL")?
                .trim_end_matches('/')
                .to_owned(),
            authorize_url: env_or("SLACK_OAUTH_AUTHORIZE_URL", DEFAULT_AUTHORIZE_URL),
            client_id: self.secrets.slack_client_id.clone(),
            bot_scopes: env_or("SLACK_BOT_SCOPES", DEFAULT_BOT_SCOPES),
        })
    }
}
