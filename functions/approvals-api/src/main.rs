//! Lambda entrypoint for the host's HTTP API.

use std::sync::Arc;

use approvals_api::ApprovalsApi;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    approvals_lambda::telemetry::init();
    let api = Arc::new(ApprovalsApi::from_env().await?);
    let emf = approvals_lambda::emf::Emf::install("approvals-api");
    approvals_lambda::http::run(api.router(), emf).await
}
