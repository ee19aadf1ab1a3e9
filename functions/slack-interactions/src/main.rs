//! Lambda entrypoint for Slack's interactivity request URL.

use approvals::http::slack_interactions::SlackInteractions;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    approvals::telemetry::init();
    let interactions = &SlackInteractions::from_env().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move {
        Ok::<_, Error>(interactions.handle(&event.payload).await)
    }))
    .await
}
