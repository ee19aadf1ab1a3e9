//! The names of the counters the system keeps (CloudWatch namespace `SlackApprovals`).
//!
//! They go through the `metrics` facade: without a recorder (tests, the local stack) they
//! cost nothing; the deployed functions print them as CloudWatch EMF after each invocation.

/// CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "SlackApprovals";

/// Approve/Reject clicks verified and queued.
pub const CLICKS_ACKED: &str = "ClicksAcked";
/// Requests to the interactivity URL refused for their signature.
pub const UNAUTHORIZED_CLICKS: &str = "UnauthorizedClicks";
/// Decision commands the worker finished, by `outcome`.
pub const DECISIONS: &str = "Decisions";
/// Clicks that changed nothing because the same person's click, or a decision, came first.
pub const DUPLICATE_CLICKS_REFUSED: &str = "DuplicateClicksRefused";
/// Slack answered 429, by `method`.
pub const SLACK_RATE_LIMITED: &str = "SlackRateLimited";
/// Slack answered an error, a 5xx or nothing, by `method`.
pub const SLACK_ERRORS: &str = "SlackErrors";
/// Host webhooks delivered (a 2xx), and not (anything else).
pub const WEBHOOKS_DELIVERED: &str = "WebhooksDelivered";
pub const WEBHOOK_FAILURES: &str = "WebhookFailures";
/// Effects that failed and will be tried again.
pub const EFFECTS_RETRIED: &str = "EffectsRetried";
/// Records the worker gave up on and moved to the dead-letter queue.
pub const EFFECTS_DEAD_LETTERED: &str = "EffectsDeadLettered";
/// Daily digests sent.
pub const REMINDERS_SENT: &str = "RemindersSent";
