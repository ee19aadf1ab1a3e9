//! Lambda entrypoint for Slack's Events API request URL.

use approvals::http::slack_events::SlackEventsEndpoint;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    approvals::telemetry::init();
    let events = &SlackEventsEndpoint::from_env().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move {
        Ok::<_, Error>(events.handle(&event.payload).await)
    }))
    .await
}
