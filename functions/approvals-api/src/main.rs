//! Lambda entrypoint for the host's HTTP API (API Gateway HTTP API, payload v2).

use approvals::http::approvals_api::ApprovalsApi;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    approvals::telemetry::init();
    let api = &ApprovalsApi::from_env().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move {
        Ok::<_, Error>(api.handle(&event.payload).await)
    }))
    .await
}
