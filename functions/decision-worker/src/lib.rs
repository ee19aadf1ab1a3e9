//! The SQS decision worker: each record is a click, a host notification, an approval's
//! effects, a completed install (greet, resume) or an installation to retire. Failures are
//! reported per record (`ReportBatchItemFailures`), and each failed record's visibility is
//! set to its backoff (`ChangeMessageVisibility`), so SQS brings it back when it is due.
//! Records still failing after `RETRY_HORIZON_HOURS` are moved to the dead-letter queue by
//! the worker itself; the redrive policy's receive budget only catches poison that crashes it.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tracing::Instrument as _;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};

use approvals_aws::dynamo::DynamoStore;
use approvals_aws::secrets::CachedSecrets;
use approvals_aws::sqs::SqsDecisionQueue;
use approvals_aws::SdkConfig;
use approvals_core::config::{AppSecrets, ConfigError};
use approvals_core::counters::{
    DECISIONS, DUPLICATE_CLICKS_REFUSED, EFFECTS_DEAD_LETTERED, REMINDERS_SENT,
};
use approvals_core::files::AllowedFileUrls;
use approvals_core::outbox::Backoff;
use approvals_core::ports::{
    ApprovalStore, BotTokens, DigestStore, EffectsQueue, FileUploads, HomeFor, HostFiles,
    InboxStore, Installed, QueueError, ReminderSettings, SlackApi, SlackFiles, SlackOAuth,
    StoreError, TenantStore, UserDirectory, WebhookSink, WorkItem,
};
use approvals_core::reminders::ReminderJob;
use approvals_core::time::unix_now;
use approvals_core::usecases::connection::retire_installation;
use approvals_core::usecases::decide::{Decide, DecideOutcome};
use approvals_core::usecases::effects::{resume_parked, FileWork, PerformEffects, Progress};
use approvals_core::usecases::inbox::{HomeTab, Inbox};
use approvals_core::usecases::reminders::{Reminded, SendDigest};
use approvals_core::usecases::tokens::RotatingTokens;
use approvals_core::usecases::welcome::{Welcome, WelcomeError};
use approvals_lambda::env::{
    env_or, file_urls_from_env, required_env, retry_horizon_hours, secret_cache, slack_api_base_url,
};
use approvals_outbound::host_files::HttpHostFiles;
use approvals_outbound::slack_api::{RetryPolicy, SlackHttpClient};
use approvals_outbound::slack_oauth::SlackOAuthClient;
use approvals_outbound::webhook::HttpWebhookSink;
use metrics::counter;

/// Why an install's follow-up must be retried.
#[derive(Debug, thiserror::Error)]
enum AfterInstallError {
    #[error(transparent)]
    Greeting(#[from] WelcomeError),
    #[error("resuming the parked effects failed: {0}")]
    Resume(#[from] StoreError),
    #[error("scheduling the resumed effects failed: {0}")]
    Queue(#[from] QueueError),
}

/// Time kept back from the deadline to answer with the partial batch response.
const DEADLINE_MARGIN: Duration = Duration::from_secs(2);
/// SQS's own ceiling on a message's visibility timeout.
pub const MAX_VISIBILITY_SECS: i64 = 12 * 3600;

/// Where the function's resources are; [`Settings::from_env`] reads them, tests set them.
pub struct Settings {
    pub table: String,
    pub queue_url: String,
    pub slack_api_base_url: String,
    pub slack_retry: RetryPolicy,
    pub webhook_url: String,
    /// Retries of failed effects and records, up to the horizon.
    pub backoff: Backoff,
    /// Where records still failing after the horizon go; unset, they stay on the queue
    /// until its redrive policy moves them.
    pub dead_letter_queue_url: Option<String>,
    /// The longest a failed record is hidden for: SQS's 12 h, or 0 in tests that compress time.
    pub max_visibility_secs: i64,
    /// `HOST_FILE_URL_PREFIXES`: the only places documents are fetched from.
    pub file_urls: AllowedFileUrls,
}

impl Settings {
    /// `APP_TABLE`, `DECISION_QUEUE_URL`, `SLACK_API_BASE_URL`, `HOST_WEBHOOK_URL`,
    /// `RETRY_HORIZON_HOURS`, `DEAD_LETTER_QUEUE_URL` and `HOST_FILE_URL_PREFIXES`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table: required_env("APP_TABLE")?,
            queue_url: required_env("DECISION_QUEUE_URL")?,
            slack_api_base_url: slack_api_base_url(),
            slack_retry: RetryPolicy::default(),
            webhook_url: required_env("HOST_WEBHOOK_URL")?,
            backoff: Backoff::with_horizon_hours(retry_horizon_hours()?),
            dead_letter_queue_url: Some(env_or("DEAD_LETTER_QUEUE_URL", ""))
                .filter(|url| !url.is_empty()),
            max_visibility_secs: MAX_VISIBILITY_SECS,
            file_urls: file_urls_from_env()?,
        })
    }
}

/// The clock the worker reads `now` from; tests move it forward to compress a day.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

pub struct DecisionWorker {
    pub approvals: Arc<dyn ApprovalStore>,
    pub tenants: Arc<dyn TenantStore>,
    pub directory: Arc<dyn UserDirectory>,
    pub inbox: Arc<dyn InboxStore>,
    pub reminder_settings: Arc<dyn ReminderSettings>,
    pub digests: Arc<dyn DigestStore>,
    pub slack: Arc<dyn SlackApi>,
    /// The host's documents into threads: fetched, then Files v2.
    pub host_files: Arc<dyn HostFiles>,
    pub slack_files: Arc<dyn SlackFiles>,
    pub uploads: Arc<dyn FileUploads>,
    pub tokens: Arc<dyn BotTokens>,
    pub oauth: Arc<dyn SlackOAuth>,
    pub webhooks: Arc<dyn WebhookSink>,
    pub queue: Arc<SqsDecisionQueue>,
    pub backoff: Backoff,
    pub dead_letter_queue_url: Option<String>,
    pub max_visibility_secs: i64,
    pub clock: Clock,
}

/// What to do with one record once processed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    /// Done with: delete it.
    Done,
    /// Bring it back in this many seconds.
    RetryIn(i64),
    /// Give up: move it to the dead-letter queue.
    DeadLetter(String),
}

impl DecisionWorker {
    /// Cold-start wiring: SDK clients, the secret, the Slack and webhook clients, built once.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let settings = Settings::from_env()?;
        let aws = approvals_aws::aws_config().await;
        let (live, secrets) =
            CachedSecrets::load(&aws, &required_env("APP_SECRET_ID")?, secret_cache()?).await?;
        let webhook_url = settings.webhook_url.clone();
        let mut worker = Self::new(&aws, settings, &secrets)?;
        worker.webhooks = Arc::new(
            HttpWebhookSink::new(webhook_url, secrets.host_webhook_secret.clone())
                .with_secrets(Arc::new(live)),
        );
        Ok(worker)
    }

    pub fn new(
        aws: &SdkConfig,
        settings: Settings,
        secrets: &AppSecrets,
    ) -> Result<Self, ConfigError> {
        let store = Arc::new(DynamoStore::from_secrets(aws, settings.table, secrets)?);
        let queue = Arc::new(SqsDecisionQueue::from_config(aws, settings.queue_url));
        let slack = SlackHttpClient::with_retry(&settings.slack_api_base_url, settings.slack_retry);
        let oauth = Arc::new(SlackOAuthClient::from_secrets(slack.clone(), secrets));
        Ok(Self {
            approvals: store.clone(),
            tenants: store.clone(),
            directory: store.clone(),
            inbox: store.clone(),
            reminder_settings: store.clone(),
            digests: store.clone(),
            uploads: store.clone(),
            host_files: Arc::new(HttpHostFiles::new(settings.file_urls)),
            slack_files: Arc::new(slack.clone()),
            slack: Arc::new(slack),
            tokens: Arc::new(RotatingTokens::new(store, oauth.clone(), queue.clone())),
            oauth,
            webhooks: Arc::new(HttpWebhookSink::new(
                settings.webhook_url,
                secrets.host_webhook_secret.clone(),
            )),
            queue,
            backoff: settings.backoff,
            dead_letter_queue_url: settings.dead_letter_queue_url,
            max_visibility_secs: settings.max_visibility_secs,
            clock: Arc::new(unix_now),
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
            // Every line logged for the record carries what it is about (filled in once
            // the body is read), under the invocation's own span with its request id.
            let span = tracing::info_span!(
                "record",
                message_id = record.message_id.as_deref().unwrap_or_default(),
                approval_id = tracing::field::Empty,
                command_id = tracing::field::Empty,
                team_id = tracing::field::Empty,
                tenant_id = tracing::field::Empty,
            );
            let work = async {
                let Some(budget) = budget else {
                    return self.process(record).await;
                };
                tokio::time::timeout(budget, self.process(record))
                    .await
                    .unwrap_or_else(|_| {
                        tracing::warn!(
                            "record still running at the invocation's deadline; SQS will redeliver it"
                        );
                        Verdict::RetryIn(0)
                    })
            };
            let verdict = work.instrument(span.clone()).await;
            self.settle(record, verdict).instrument(span).await
        }))
        .await;
        let mut answer = SqsBatchResponse::default();
        for (record, done) in event.records.iter().zip(outcomes) {
            if !done {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = record.message_id.clone().unwrap_or_default();
                answer.batch_item_failures.push(failure);
            }
        }
        answer
    }

    /// Carries out a verdict; true when the record may be deleted.
    async fn settle(&self, record: &SqsMessage, verdict: Verdict) -> bool {
        let message_id = record.message_id.as_deref().unwrap_or_default();
        match verdict {
            Verdict::Done => true,
            Verdict::RetryIn(secs) => {
                let secs = secs.clamp(0, self.max_visibility_secs);
                if let Some(receipt) = record.receipt_handle.as_deref() {
                    if let Err(error) = self.queue.hide_for(receipt, secs as i32).await {
                        // The queue's own visibility timeout applies instead.
                        tracing::warn!(message_id, %error, "could not set the record's backoff");
                    }
                }
                false
            }
            Verdict::DeadLetter(reason) => {
                counter!(EFFECTS_DEAD_LETTERED).increment(1);
                let Some(dlq) = &self.dead_letter_queue_url else {
                    tracing::error!(message_id, %reason, "record given up on; no DEAD_LETTER_QUEUE_URL, so the redrive policy will move it");
                    return false;
                };
                let body = record.body.as_deref().unwrap_or_default();
                match self.queue.send_raw(dlq, body).await {
                    Ok(()) => {
                        tracing::error!(message_id, %reason, "record moved to the dead-letter queue");
                        true
                    }
                    Err(error) => {
                        tracing::error!(message_id, %reason, %error, "could not dead-letter the record; it stays on the queue");
                        false
                    }
                }
            }
        }
    }

    /// How long the record has been retried, and how often, as SQS counts them.
    fn record_age_and_receives(record: &SqsMessage, now: i64) -> (i64, u32) {
        let sent_secs = record
            .attributes
            .get("SentTimestamp")
            .and_then(|ms| ms.parse::<i64>().ok())
            .map_or(now, |ms| ms / 1000);
        let receives = record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|count| count.parse().ok())
            .unwrap_or(1);
        (now - sent_secs, receives)
    }

    /// A record that failed as a whole (a table error, a host down): back off by its receive
    /// count, and give up once it is older than the horizon.
    fn retry_record(&self, record: &SqsMessage, now: i64, reason: String) -> Verdict {
        let (age, receives) = Self::record_age_and_receives(record, now);
        if age >= self.backoff.horizon_secs {
            return Verdict::DeadLetter(reason);
        }
        Verdict::RetryIn(self.backoff.delay_secs(receives, jitter()))
    }

    async fn process(&self, record: &SqsMessage) -> Verdict {
        let message_id = record.message_id.as_deref().unwrap_or_default();
        let now = (self.clock)();
        let item: WorkItem = match serde_json::from_str(record.body.as_deref().unwrap_or_default())
        {
            Ok(item) => item,
            Err(error) => {
                tracing::error!(message_id, %error, "unreadable work item");
                return Verdict::DeadLetter(format!("unreadable work item: {error}"));
            }
        };
        record_ids(&item);
        match item {
            WorkItem::Decide(command) => {
                let decide = Decide {
                    approvals: self.approvals.as_ref(),
                    tenants: self.tenants.as_ref(),
                    slack: self.slack.as_ref(),
                    webhooks: self.webhooks.as_ref(),
                    tokens: self.tokens.as_ref(),
                    directory: self.directory.as_ref(),
                    people: self.people(),
                    backoff: self.backoff,
                    files: Some(self.files()),
                };
                match decide.run(&command, now).await {
                    Ok(decided) => {
                        count_decision(&decided.outcome);
                        let progress = &decided.progress;
                        tracing::info!(message_id, approval_id = %command.approval_id,
                            outcome = ?decided.outcome, open_effects = progress.open, "decision command done");
                        self.verdict_on(progress, &command.approval_id, now)
                    }
                    Err(error) => {
                        tracing::warn!(message_id, approval_id = %command.approval_id, %error,
                            "decision command failed; it will be retried");
                        self.retry_record(record, now, error.to_string())
                    }
                }
            }
            WorkItem::RetireInstallation(retire) => {
                match retire_installation(
                    self.tenants.as_ref(),
                    self.oauth.as_ref(),
                    self.tokens.as_ref(),
                    &retire,
                    now,
                )
                .await
                {
                    Ok(retired) => {
                        tracing::info!(message_id, installation_id = %retire.installation_id, retired, "installation retirement done");
                        Verdict::Done
                    }
                    Err(error) => {
                        tracing::warn!(message_id, installation_id = %retire.installation_id, %error,
                            "installation retirement failed; it will be retried");
                        self.retry_record(record, now, error.to_string())
                    }
                }
            }
            WorkItem::Installed(installed) => match self.after_install(&installed, now).await {
                Ok(()) => Verdict::Done,
                Err(error) => {
                    tracing::warn!(message_id, installation_id = %installed.installation_id, %error,
                        "install follow-up failed; it will be retried");
                    self.retry_record(record, now, error.to_string())
                }
            },
            WorkItem::Perform { approval_id } => {
                let performed = match self.approvals.get(&approval_id).await {
                    Ok(Some(approval)) => {
                        self.perform_effects().run(&approval, now).await.map(Some)
                    }
                    Ok(None) => Ok(None),
                    Err(error) => Err(error),
                };
                match performed {
                    Ok(Some(progress)) => self.verdict_on(&progress, &approval_id, now),
                    Ok(None) => {
                        tracing::warn!(message_id, %approval_id, "effects asked for an approval that is gone");
                        Verdict::Done
                    }
                    Err(error) => {
                        tracing::warn!(message_id, %approval_id, %error, "effects failed; they will be retried");
                        self.retry_record(record, now, error.to_string())
                    }
                }
            }
            WorkItem::Remind(job) => self.remind(record, &job, now).await,
            WorkItem::PublishHome(home) => self.publish_home(record, &home, now).await,
            WorkItem::NotifyHost(event) => match self.webhooks.deliver(&event).await {
                Ok(()) => Verdict::Done,
                Err(error) => {
                    tracing::warn!(message_id, event_id = %event.id, %error, "host webhook failed; it will be retried");
                    self.retry_record(record, now, error.to_string())
                }
            },
        }
    }
}

impl DecisionWorker {
    fn perform_effects(&self) -> PerformEffects<'_> {
        PerformEffects {
            approvals: self.approvals.as_ref(),
            tenants: self.tenants.as_ref(),
            slack: self.slack.as_ref(),
            webhooks: Some(self.webhooks.as_ref()),
            tokens: self.tokens.as_ref(),
            backoff: self.backoff,
            people: self.people(),
            files: Some(self.files()),
        }
    }

    fn files(&self) -> FileWork<'_> {
        FileWork {
            source: self.host_files.as_ref(),
            slack: self.slack_files.as_ref(),
            uploads: self.uploads.as_ref(),
        }
    }

    fn people(&self) -> Inbox<'_> {
        Inbox {
            inbox: self.inbox.as_ref(),
            settings: self.reminder_settings.as_ref(),
            digests: self.digests.as_ref(),
            users: self.directory.as_ref(),
            approvals: self.approvals.as_ref(),
        }
    }

    /// Sends one person's digest; a job paced for later comes back when it is due, and a
    /// 429 waits out Slack's `Retry-After`.
    async fn remind(&self, record: &SqsMessage, job: &ReminderJob, now: i64) -> Verdict {
        let send = SendDigest {
            people: self.people(),
            tenants: self.tenants.as_ref(),
            slack: self.slack.as_ref(),
            tokens: self.tokens.as_ref(),
        };
        match send.run(job, now).await {
            Ok(Reminded::Early { wait_secs }) => Verdict::RetryIn(wait_secs),
            Ok(reminded) => {
                if matches!(reminded, Reminded::Sent { .. }) {
                    counter!(REMINDERS_SENT).increment(1);
                }
                tracing::info!(tenant_id = %job.tenant_id, user_id = %job.user_id,
                    ?reminded, "reminder job done");
                Verdict::Done
            }
            Err(error) if !error.is_retryable() => {
                // Slack refused it for good (a deactivated person, the Messages tab off):
                // retrying cannot help, and tomorrow's run tries again.
                tracing::error!(tenant_id = %job.tenant_id, user_id = %job.user_id, %error,
                    "reminder refused by Slack; dropped");
                Verdict::Done
            }
            Err(error) => {
                tracing::warn!(tenant_id = %job.tenant_id, user_id = %job.user_id, %error,
                    "reminder failed; it will be retried");
                match (
                    self.retry_record(record, now, error.to_string()),
                    error.retry_after_secs(),
                ) {
                    (Verdict::RetryIn(secs), Some(wait)) => Verdict::RetryIn(secs.max(wait)),
                    (verdict, _) => verdict,
                }
            }
        }
    }

    async fn publish_home(&self, record: &SqsMessage, home: &HomeFor, now: i64) -> Verdict {
        let tab = HomeTab {
            inbox: self.people(),
            tenants: self.tenants.as_ref(),
            slack: self.slack.as_ref(),
            tokens: self.tokens.as_ref(),
        };
        match tab.publish(home, now).await {
            Ok(published) => {
                tracing::info!(slack_user_id = %home.slack_user_id, ?published, "App Home published");
                Verdict::Done
            }
            Err(error) => {
                tracing::warn!(slack_user_id = %home.slack_user_id, %error,
                    "App Home publish failed; it will be retried");
                self.retry_record(record, now, error.to_string())
            }
        }
    }

    /// Greets the installer, then resumes what waited for the workspace. Both are
    /// repeat-safe, so a failure of either retries the whole record.
    async fn after_install(
        &self,
        installed: &Installed,
        now: i64,
    ) -> Result<(), AfterInstallError> {
        let greeting = Welcome {
            claims: self.approvals.as_ref(),
            tenants: self.tenants.as_ref(),
            slack: self.slack.as_ref(),
            tokens: self.tokens.as_ref(),
        }
        .greet(installed, now)
        .await?;
        let resumed =
            resume_parked(&self.perform_effects(), &installed.installation_id, now).await?;
        for (approval_id, due) in &resumed.still_open {
            self.queue.perform_later(approval_id, due - now).await?;
        }
        tracing::info!(installation_id = %installed.installation_id, resumed = resumed.approvals,
            ?greeting, "install follow-up done");
        Ok(())
    }

    /// Done once nothing is open; back when the earliest open effect is due; dead-lettered
    /// once all that is left was given up on.
    fn verdict_on(&self, progress: &Progress, approval_id: &str, now: i64) -> Verdict {
        if !progress.gave_up.is_empty() && progress.open == 0 {
            Verdict::DeadLetter(format!(
                "effects {:?} of approval {approval_id} gave up after the retry horizon",
                progress.gave_up
            ))
        } else if let Some(due) = progress.next_due.filter(|_| progress.open > 0) {
            Verdict::RetryIn(due - now)
        } else if progress.open > 0 {
            // Waiting on another entry that this pass could not schedule.
            Verdict::RetryIn(self.backoff.delay_secs(1, jitter()))
        } else {
            Verdict::Done
        }
    }
}

fn jitter() -> f64 {
    rand::random::<f64>()
}

/// Names, on the record's span, the request, command, workspace and tenant it is about.
fn record_ids(item: &WorkItem) {
    let span = tracing::Span::current();
    match item {
        WorkItem::Decide(command) => {
            span.record("approval_id", command.approval_id.as_str());
            span.record("command_id", command.command_id.as_str());
            span.record("team_id", command.team_id.as_str());
        }
        WorkItem::Perform { approval_id } => {
            span.record("approval_id", approval_id.as_str());
        }
        WorkItem::RetireInstallation(retire) => {
            span.record("team_id", retire.installation_id.as_str());
        }
        WorkItem::Installed(installed) => {
            span.record("team_id", installed.installation_id.as_str());
            span.record("tenant_id", installed.tenant_id.as_str());
        }
        WorkItem::Remind(job) => {
            span.record("tenant_id", job.tenant_id.as_str());
        }
        WorkItem::PublishHome(home) => {
            span.record("team_id", home.installation_id.as_str());
        }
        WorkItem::NotifyHost(event) => {
            if let Some(tenant_id) = event.data["tenant_id"].as_str() {
                span.record("tenant_id", tenant_id);
            }
            if let Some(approval_id) = event.data["approval_id"].as_str() {
                span.record("approval_id", approval_id);
            }
        }
    }
}

/// `Decisions` by outcome, and the clicks that came second.
fn count_decision(outcome: &DecideOutcome) {
    let label = match outcome {
        DecideOutcome::Counted => "counted",
        DecideOutcome::AlreadyCounted => "already_counted",
        DecideOutcome::AlreadyDecided => "already_decided",
        DecideOutcome::NotCounted => "not_counted",
        DecideOutcome::Refused => "refused",
    };
    counter!(DECISIONS, "outcome" => label).increment(1);
    if matches!(
        outcome,
        DecideOutcome::AlreadyCounted | DecideOutcome::AlreadyDecided
    ) {
        counter!(DUPLICATE_CLICKS_REFUSED).increment(1);
    }
}
