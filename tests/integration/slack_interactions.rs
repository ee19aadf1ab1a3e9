//! The interactivity endpoint's signature checks over raw bytes, against a real SQS queue:
//! a refused request enqueues nothing.

use crate::common::{http_event, Stack};

/// A named refusal case: headers and body sent.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a [u8]);

struct Signed {
    body: String,
    timestamp: String,
    signature: String,
}

async fn signed_click(stack: &Stack) -> Signed {
    let (_, channel, ts) = stack.create_approval("DR-SIG").await;
    let body = stack
        .slack
        .click_payload(&channel, &ts, "approve", "U0ANA")
        .unwrap();
    let (timestamp, signature) = stack.slack.sign(&body);
    Signed {
        body,
        timestamp,
        signature,
    }
}

async fn status(stack: &Stack, headers: &[(&str, &str)], body: &[u8], base64: bool) -> u16 {
    let event = http_event("POST", "/slack/interactions", headers, body, base64);
    crate::common::invoke(&stack.interactions_router, event)
        .await
        .0
}

#[tokio::test]
async fn header_names_are_case_insensitive_and_base64_bodies_verify() {
    let stack = Stack::start().await;
    let click = signed_click(&stack).await;
    let upper = [
        ("X-Slack-Request-Timestamp", click.timestamp.as_str()),
        ("X-Slack-Signature", click.signature.as_str()),
    ];
    let lower = [
        ("x-slack-request-timestamp", click.timestamp.as_str()),
        ("x-slack-signature", click.signature.as_str()),
    ];
    assert_eq!(
        status(&stack, &upper, click.body.as_bytes(), false).await,
        200
    );
    assert_eq!(
        status(&stack, &lower, click.body.as_bytes(), false).await,
        200
    );
    assert_eq!(
        status(&stack, &lower, click.body.as_bytes(), true).await,
        200
    );
    assert_eq!(stack.drain_queue().await.len(), 3);
}

#[tokio::test]
async fn refused_requests_are_401_and_enqueue_nothing() {
    let stack = Stack::start().await;
    let click = signed_click(&stack).await;
    let now = approvals_core::time::unix_now();
    let body = click.body.as_bytes();
    let sign_at = |ts: i64| {
        approvals_core::signing::sign_slack(stack.secrets.slack_signing_secret.as_bytes(), ts, body)
    };
    let (stale_ts, future_ts) = ((now - 301).to_string(), (now + 301).to_string());
    let (stale_sig, future_sig) = (sign_at(now - 301), sign_at(now + 301));
    let wrong_secret = approvals_core::signing::sign_slack(b"another-apps-secret", now, body);
    let now_text = now.to_string();
    let mut tampered = click.body.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;

    let cases: Vec<Case> = vec![
        ("no headers", vec![], body),
        (
            "no signature",
            vec![("x-slack-request-timestamp", &click.timestamp)],
            body,
        ),
        (
            "no timestamp",
            vec![("x-slack-signature", &click.signature)],
            body,
        ),
        (
            "stale",
            vec![
                ("x-slack-request-timestamp", &stale_ts),
                ("x-slack-signature", &stale_sig),
            ],
            body,
        ),
        (
            "future",
            vec![
                ("x-slack-request-timestamp", &future_ts),
                ("x-slack-signature", &future_sig),
            ],
            body,
        ),
        (
            "tampered body",
            vec![
                ("x-slack-request-timestamp", &click.timestamp),
                ("x-slack-signature", &click.signature),
            ],
            &tampered,
        ),
        (
            "wrong secret",
            vec![
                ("x-slack-request-timestamp", &now_text),
                ("x-slack-signature", &wrong_secret),
            ],
            body,
        ),
        (
            "garbage signature",
            vec![
                ("x-slack-request-timestamp", &now_text),
                ("x-slack-signature", "v0=nothex"),
            ],
            body,
        ),
    ];
    for (name, headers, body) in cases {
        assert_eq!(status(&stack, &headers, body, false).await, 401, "{name}");
    }
    assert!(
        stack.drain_queue().await.is_empty(),
        "a refused request enqueued a command"
    );
}

#[tokio::test]
async fn unknown_actions_are_acknowledged_and_ignored() {
    let stack = Stack::start().await;
    let (_, channel, ts) = stack.create_approval("DR-OPEN").await;
    assert_eq!(stack.click(&channel, &ts, "open", "U0ANA").await, 200);
    assert!(stack.drain_queue().await.is_empty());
}
