//! Lambda entrypoint for Slack's interactivity request URL.

use std::sync::Arc;

use slack_interactions::SlackInteractions;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    approvals_lambda::telemetry::init();
    let interactions = Arc::new(SlackInteractions::from_env().await?);
    let emf = approvals_lambda::emf::Emf::install("slack-interactions");
    approvals_lambda::http::run(interactions.router(), emf).await
}
