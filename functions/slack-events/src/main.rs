//! Lambda entrypoint for Slack's Events API request URL.

use std::sync::Arc;

use slack_events::SlackEventsEndpoint;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    approvals_lambda::telemetry::init();
    let events = Arc::new(SlackEventsEndpoint::from_env().await?);
    let emf = approvals_lambda::emf::Emf::install("slack-events");
    approvals_lambda::http::run(events.router(), emf).await
}
