//! Lambda entrypoint for the install routes: `GET /slack/install` and `GET /slack/oauth/callback`.

use std::sync::Arc;

use oauth_callback::OAuthCallback;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    approvals_lambda::telemetry::init();
    let callback = Arc::new(OAuthCallback::from_env().await?);
    let emf = approvals_lambda::emf::Emf::install("oauth-callback");
    approvals_lambda::http::run(callback.router(), emf).await
}
