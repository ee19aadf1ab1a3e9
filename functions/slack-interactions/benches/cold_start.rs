//! Cold start, the other headline figure: the work a Lambda does once before its first
//! event — SDK configuration and clients, the secret's parsing, the token cipher, the
//! outbound HTTP clients — measured without the network (the secret's fetch and the
//! runtime's own start are not in it). The HTTP client is built once per process and shared,
//! so `api_and_worker_adapters` shows the cost after the first build, and the first build is
//! measured on its own.

use std::sync::Arc;

use approvals_aws::cipher::TokenCipher;
use approvals_aws::dynamo::DynamoStore;
use approvals_aws::sqs::SqsDecisionQueue;
use approvals_core::config::AppSecrets;
use approvals_outbound::slack_api::SlackHttpClient;
use criterion::{criterion_group, criterion_main, Criterion};
use slack_interactions::SlackInteractions;

const SECRET_JSON: &str = include_str!("../../../scripts/dev-secret.json");

async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "id", "secret", None, None, "bench",
        ))
        .endpoint_url("http://127.0.0.1:9")
        .load()
        .await
}

fn cold_start(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("cold_start");
    group.bench_function("interactions_handler", |b| {
        b.to_async(&runtime).iter(|| async {
            let aws = sdk_config().await;
            let secrets = AppSecrets::from_json(SECRET_JSON).unwrap();
            let queue = SqsDecisionQueue::from_config(&aws, "http://127.0.0.1:9/q");
            SlackInteractions::new(secrets.slack_signing_secret, Arc::new(queue))
        })
    });
    group.bench_function("api_and_worker_adapters", |b| {
        b.to_async(&runtime).iter(|| async {
            let aws = sdk_config().await;
            let secrets = AppSecrets::from_json(SECRET_JSON).unwrap();
            let cipher = TokenCipher::from_secrets(&secrets).unwrap();
            let store = DynamoStore::from_config(&aws, "approvals", cipher);
            let queue = SqsDecisionQueue::from_config(&aws, "http://127.0.0.1:9/q");
            let slack = SlackHttpClient::new("https://slack.com/api");
            (store, queue, slack)
        })
    });
    // Paid once per process: every adapter shares the client.
    group.bench_function("outbound_http_client_tls_roots", |b| {
        b.iter(approvals_outbound::build_http_client)
    });
    group.finish();
}

criterion_group!(benches, cold_start);
criterion_main!(benches);
