//! `make reseal-tokens`: after a rotation of `token_encryption_key`, seals every
//! installation's tokens under the current key, so the previous keys can leave the secret.
//!
//! Reads `APP_TABLE` and `APP_SECRET_ID` (the stack's outputs) and the AWS SDK's own
//! settings; prints what it did as one JSON line. Safe to run again, and beside the live
//! functions.

use approvals_aws::dynamo::DynamoStore;
use approvals_lambda::env::required_env;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    approvals_lambda::telemetry::init();
    let aws = approvals_aws::aws_config().await;
    let secrets = approvals_aws::secrets::load(&aws, &required_env("APP_SECRET_ID")?).await?;
    let store = DynamoStore::from_secrets(&aws, required_env("APP_TABLE")?, &secrets)?;
    let done = store.reseal_tokens().await?;
    println!("{}", serde_json::to_string(&done)?);
    Ok(())
}
