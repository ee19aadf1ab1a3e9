//! Rotating a signing secret without downtime: a warm function reads the rotated secret
//! within `SECRET_CACHE_SECONDS` (0 here), or at once when a request fails its signature,
//! accepts the previous one while the rotation is under way, and refuses it once it is
//! dropped.

use std::sync::Arc;
use std::time::Duration;

use approvals_aws::secrets::CachedSecrets;
use approvals_aws::sqs::SqsDecisionQueue;
use approvals_core::signing::sign_slack;
use approvals_core::time::unix_now;
use axum::http::HeaderMap;
use serde_json::{json, Value};
use slack_interactions::SlackInteractions;

use crate::common::{env, unique, Stack};

/// A body that passes the signature check and then fails to parse: 400, not 401.
const BODY: &[u8] = b"payload=%7B%7D";

async fn status_signed_with(interactions: &SlackInteractions, secret: &str) -> u16 {
    let now = unix_now();
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-slack-request-timestamp",
        now.to_string().parse().unwrap(),
    );
    let signature = sign_slack(secret.as_bytes(), now, BODY);
    headers.insert("x-slack-signature", signature.parse().unwrap());
    interactions
        .handle_at(&headers, BODY, now)
        .await
        .status()
        .as_u16()
}

/// A secret of the test's own (the others share the provisioned one), like it but for the
/// Slack signing secret, and the interactions handler reading it every `max_age`.
struct OwnSecret {
    client: aws_sdk_secretsmanager::Client,
    id: String,
    value: Value,
    interactions: SlackInteractions,
}

impl OwnSecret {
    async fn new(stack: &Stack, signing_secret: &str, max_age: Duration) -> Self {
        let client = aws_sdk_secretsmanager::Client::new(&stack.aws);
        let provisioned = client
            .get_secret_value()
            .secret_id(env("APP_SECRET_ID"))
            .send()
            .await
            .unwrap();
        let mut value: Value = serde_json::from_str(provisioned.secret_string().unwrap()).unwrap();
        value["slack_signing_secret"] = json!(signing_secret);
        let id = unique("rotation-");
        client
            .create_secret()
            .name(&id)
            .secret_string(value.to_string())
            .send()
            .await
            .unwrap();
        let (live, _) = CachedSecrets::load(&stack.aws, &id, max_age).await.unwrap();
        let queue = Arc::new(SqsDecisionQueue::from_config(
            &stack.aws,
            stack.queue_url.clone(),
        ));
        let interactions = SlackInteractions::new("not-used", queue).with_secrets(Arc::new(live));
        Self {
            client,
            id,
            value,
            interactions,
        }
    }

    /// Puts the secret as `change` leaves it, as an operator's `put-secret-value` would.
    async fn rotate(&mut self, change: impl FnOnce(&mut Value)) {
        change(&mut self.value);
        self.client
            .put_secret_value()
            .secret_id(&self.id)
            .secret_string(self.value.to_string())
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_rotated_slack_signing_secret_reaches_a_warm_function_without_downtime() {
    let stack = Stack::start().await;
    let mut secret = OwnSecret::new(&stack, "first-signing-secret", Duration::ZERO).await;
    let status = |signing_secret| status_signed_with(&secret.interactions, signing_secret);

    assert_eq!(status("first-signing-secret").await, 400);
    assert_eq!(status("second-signing-secret").await, 401);

    secret
        .rotate(|value| {
            value["slack_signing_secret"] = json!("second-signing-secret");
            value["previous_slack_signing_secrets"] = json!(["first-signing-secret"]);
        })
        .await;
    let status = |signing_secret| status_signed_with(&secret.interactions, signing_secret);
    assert_eq!(
        status("second-signing-secret").await,
        400,
        "the new secret is read without a restart"
    );
    assert_eq!(
        status("first-signing-secret").await,
        400,
        "Slack may still sign with the previous one"
    );
    assert_eq!(status("a-forged-secret").await, 401);

    secret
        .rotate(|value| value["previous_slack_signing_secrets"] = json!([]))
        .await;
    assert_eq!(
        status_signed_with(&secret.interactions, "first-signing-secret").await,
        401,
        "dropped once the rotation is over"
    );
}

/// Secrets Manager reads of `secret_id` so far, as the local AWS counted them.
async fn reads_of(secret_id: &str) -> u64 {
    let url = format!("{}/_counts/{secret_id}", env("AWS_ENDPOINT_URL"));
    let counts: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    counts["GetSecretValue"]["calls"].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn a_refused_signature_reads_the_secret_again_at_once_but_not_for_every_forgery() {
    let stack = Stack::start().await;
    // Trusted for an hour: only a refusal makes the function read it sooner.
    let mut secret = OwnSecret::new(&stack, "before-regenerating", Duration::from_secs(3600)).await;
    secret
        .rotate(|value| value["slack_signing_secret"] = json!("regenerated-in-slack"))
        .await;
    let before = reads_of(&secret.id).await;
    assert_eq!(
        status_signed_with(&secret.interactions, "regenerated-in-slack").await,
        400,
        "the first request signed with the new secret reads it and passes"
    );
    assert_eq!(reads_of(&secret.id).await, before + 1);

    for _ in 0..3 {
        assert_eq!(
            status_signed_with(&secret.interactions, "forged").await,
            401
        );
    }
    assert_eq!(
        reads_of(&secret.id).await,
        before + 1,
        "forgeries right after do not make the function read the secret again"
    );
}
