//! Lambda entrypoint for the install routes: `GET /slack/install` and `GET /slack/oauth/callback`.

use approvals::http::oauth_callback::OAuthCallback;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    approvals::telemetry::init();
    let callback = &OAuthCallback::from_env().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move {
        Ok::<_, Error>(callback.handle(&event.payload).await)
    }))
    .await
}
