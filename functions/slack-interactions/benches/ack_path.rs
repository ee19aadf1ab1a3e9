//! The ack path, our headline figure: a signed `block_actions` request in, a decision
//! command out to the queue port (in memory). Slack's Bolt for Python takes ~128 µs here.

use std::sync::Arc;

use approvals_core::fakes::MemoryQueue;
use approvals_core::signing::{sign_slack, verify_slack};
use axum::http::HeaderMap;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::json;
use slack_interactions::SlackInteractions;

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const NOW: i64 = 1_700_000_000;

/// A realistic click: the full message comes back in the payload, as Slack sends it.
fn block_actions_body() -> String {
    let blocks: Vec<_> = (0..4)
        .map(|i| {
            json!({"type": "section", "block_id": format!("b{i}"),
                        "text": {"type": "mrkdwn", "text": "*Account*\nInitech ".repeat(8)}})
        })
        .collect();
    let payload = json!({
        "type": "block_actions",
        "team": {"id": "T0SANDBOX", "domain": "sandbox-co"},
        "user": {"id": "U0ANA", "username": "ana", "name": "ana", "team_id": "T0SANDBOX"},
        "api_app_id": "A0SANDBOX", "token": "deprecated",
        "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": "C0APPROVALS", "is_ephemeral": false},
        "trigger_id": "1700000000.123.abcdef",
        "channel": {"id": "C0APPROVALS", "name": "approvals"},
        "message": {"type": "message", "ts": "1700000000.000100", "text": "Approval requested", "blocks": blocks},
        "response_url": "https://hooks.slack.com/actions/T0SANDBOX/1/abcdef",
        "actions": [{"type": "button", "action_id": "approve", "block_id": "approval_actions",
                     "text": {"type": "plain_text", "text": "Approve"}, "style": "primary",
                     "value": "apr_0123456789abcdef0123456789abcdef", "action_ts": "1700000001.000200"}],
    });
    serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap()
}

fn signed_headers(body: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    headers.insert(
        "x-slack-request-timestamp",
        NOW.to_string().parse().unwrap(),
    );
    headers.insert(
        "x-slack-signature",
        sign_slack(SECRET.as_bytes(), NOW, body.as_bytes())
            .parse()
            .unwrap(),
    );
    headers
}

fn ack_path(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let body = block_actions_body();
    let headers = signed_headers(&body);
    let queue = Arc::new(MemoryQueue::default());
    let interactions = SlackInteractions::new(SECRET, queue.clone());

    let mut group = c.benchmark_group("ack_path");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("verify_parse_enqueue", |b| {
        b.to_async(&runtime).iter(|| async {
            let answer = interactions.handle_at(&headers, body.as_bytes(), NOW).await;
            assert_eq!(answer.status(), 200);
        })
    });
    // The same request as Lambda hands it over: the event's JSON through lambda_http's
    // conversion, the stage handling and the axum router (signed now: the route reads the clock).
    group.bench_function("through_lambda_http_and_router", |b| {
        let router = Arc::new(SlackInteractions::new(SECRET, queue.clone())).router();
        let now = approvals_core::time::unix_now();
        let event = json!({
            "version": "2.0", "routeKey": "$default", "rawPath": "/slack/interactions",
            "rawQueryString": "",
            "headers": {"content-type": "application/x-www-form-urlencoded",
                        "x-slack-request-timestamp": now.to_string(),
                        "x-slack-signature": sign_slack(SECRET.as_bytes(), now, body.as_bytes())},
            "requestContext": {"http": {"method": "POST", "path": "/slack/interactions",
                                        "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"},
                               "requestId": "bench", "routeKey": "$default", "stage": "$default", "timeEpoch": 0},
            "body": body, "isBase64Encoded": false,
        });
        b.to_async(&runtime).iter(|| async {
            let answer = approvals_lambda::http::invoke(&router, event.clone())
                .await
                .unwrap();
            assert_eq!(answer["statusCode"], 200);
        })
    });
    group.bench_function("verify_signature_only", |b| {
        let ts = NOW.to_string();
        let signature = sign_slack(SECRET.as_bytes(), NOW, body.as_bytes());
        b.iter(|| {
            verify_slack(
                SECRET.as_bytes(),
                Some(&ts),
                Some(&signature),
                body.as_bytes(),
                NOW,
            )
            .unwrap()
        })
    });
    group.bench_function("parse_payload_only", |b| {
        b.iter(|| approvals_core::usecases::ack_click::decision_commands(body.as_bytes()).unwrap())
    });
    group.finish();
    assert!(!queue.sent().is_empty(), "the benchmark enqueued commands");
}

criterion_group!(benches, ack_path);
criterion_main!(benches);
