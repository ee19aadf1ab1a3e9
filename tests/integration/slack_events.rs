//! The Events API endpoint and token rotation: uninstalls (fresh and stale), retried
//! deliveries, URL verification, single-flight refresh, and refused refresh tokens.

use std::sync::Arc;

use crate::common::{http_event, invoke, Options, Stack};
use approvals_core::ports::BotTokens;
use sandbox::slack::Fault;
use serde_json::{json, Value};

pub(crate) async fn send_event(stack: &Stack, body: &Value, retry: Option<&str>) -> (u16, Value) {
    let raw = body.to_string();
    let (timestamp, signature) = stack.slack.sign(&raw);
    let mut headers = vec![
        ("content-type", "application/json"),
        ("x-slack-request-timestamp", timestamp.as_str()),
        ("x-slack-signature", signature.as_str()),
    ];
    if let Some(retry) = retry {
        headers.push(("x-slack-retry-num", retry));
        headers.push(("x-slack-retry-reason", "http_timeout"));
    }
    let event = http_event("POST", "/slack/events", &headers, raw.as_bytes(), false);
    invoke(&stack.events_router, event).await
}

fn uninstalled(team_id: &str, event_time: i64) -> Value {
    json!({
        "token": "deprecated", "team_id": team_id, "api_app_id": "A0SANDBOX", "type": "event_callback",
        "event_id": format!("Ev{}", crate::common::unique("")), "event_time": event_time,
        "authorizations": [{"team_id": team_id, "user_id": "U0BOT", "is_bot": true, "is_enterprise_install": false}],
        "event": {"type": "app_uninstalled"},
    })
}

async fn connection(stack: &Stack, tenant_id: &str) -> Value {
    stack
        .host_call(
            "GET",
            &format!("/v1/tenants/{tenant_id}/slack"),
            &json!(null),
        )
        .await
        .1
}

#[tokio::test]
async fn url_verification_answers_the_challenge_and_unsigned_events_are_refused() {
    let stack = Stack::start().await;
    let (code, body) = send_event(&stack, &json!({"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "token": "x"}), None).await;
    assert_eq!(code, 200);
    assert_eq!(
        body["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );

    let raw = uninstalled(&stack.team_id, approvals_core::time::unix_now()).to_string();
    let event = http_event(
        "POST",
        "/slack/events",
        &[
            ("x-slack-request-timestamp", "1"),
            ("x-slack-signature", "v0=00"),
        ],
        raw.as_bytes(),
        false,
    );
    assert_eq!(invoke(&stack.events_router, event).await.0, 401);
    assert_eq!(
        connection(&stack, &stack.tenant_id).await["status"],
        "active"
    );
}

#[tokio::test]
async fn app_uninstalled_disconnects_every_linked_tenant_once() {
    let stack = Stack::start().await;
    let other = format!("{}-b", stack.tenant_id);
    stack.connect(&other, &stack.team_id).await;
    let event = uninstalled(&stack.team_id, approvals_core::time::unix_now() + 1);

    let (first, _) = send_event(&stack, &event, None).await;
    let (retried, _) = send_event(&stack, &event, Some("1")).await;

    assert_eq!((first, retried), (200, 200));
    for tenant in [&stack.tenant_id, &other] {
        let status = connection(&stack, tenant).await;
        assert_eq!(status["status"], "disconnected");
        assert_eq!(status["disconnect_reason"], "app_uninstalled");
    }
    assert!(stack
        .store()
        .installation(&stack.team_id)
        .await
        .unwrap()
        .is_none());
    let notices: Vec<Value> = stack
        .host_events()
        .await
        .into_iter()
        .filter(|e| e["type"] == "slack.disconnected")
        .collect();
    assert_eq!(
        notices.len(),
        2,
        "one per tenant, not one per delivery: {notices:?}"
    );
    assert!(notices
        .iter()
        .all(|n| n["data"]["reason"] == "app_uninstalled"));
    let (code, body) = stack
        .host_call("POST", "/v1/approvals", &stack.approval_body("DR-GONE"))
        .await;
    assert_eq!(
        (code, body["error"].as_str()),
        (409, Some("slack_not_connected"))
    );
}

#[tokio::test]
async fn a_stale_uninstall_from_before_a_reinstall_changes_nothing() {
    let stack = Stack::start().await;
    let installed_at = stack
        .store()
        .installation(&stack.team_id)
        .await
        .unwrap()
        .unwrap()
        .installed_at;

    let (code, _) = send_event(
        &stack,
        &uninstalled(&stack.team_id, installed_at - 60),
        None,
    )
    .await;

    assert_eq!(code, 200);
    assert_eq!(
        connection(&stack, &stack.tenant_id).await["status"],
        "active"
    );
    assert!(
        stack
            .store()
            .installation(&stack.team_id)
            .await
            .unwrap()
            .is_some(),
        "fresh tokens kept"
    );
    let (code, _) = stack
        .host_call("POST", "/v1/approvals", &stack.approval_body("DR-STILL"))
        .await;
    assert_eq!(code, 201);
}

#[tokio::test]
async fn bot_tokens_revoked_disconnects_but_user_tokens_revoked_does_not() {
    let stack = Stack::start().await;
    let mut event = uninstalled(&stack.team_id, approvals_core::time::unix_now() + 1);
    event["event"] = json!({"type": "tokens_revoked", "tokens": {"oauth": ["U0ANA"], "bot": []}});
    send_event(&stack, &event, None).await;
    assert_eq!(
        connection(&stack, &stack.tenant_id).await["status"],
        "active"
    );

    event["event_id"] = json!(format!("Ev{}", crate::common::unique("")));
    event["event"] = json!({"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["U0BOT"]}});
    send_event(&stack, &event, None).await;
    let status = connection(&stack, &stack.tenant_id).await;
    assert_eq!(status["status"], "disconnected");
    assert_eq!(status["disconnect_reason"], "tokens_revoked");
}

/// Installs through oauth.v2.access with rotation on (unless connected already), then moves
/// the expiry close.
async fn rotating_installation(stack: &Stack) -> approvals_core::domain::Installation {
    if stack
        .store()
        .installation(&stack.team_id)
        .await
        .unwrap()
        .is_none()
    {
        stack.connect_via_oauth().await;
    }
    let installation = stack
        .store()
        .installation(&stack.team_id)
        .await
        .unwrap()
        .unwrap();
    assert!(installation.bot_token.expose().starts_with("xoxe.xoxb-"));
    assert!(installation.bot_refresh_token.is_some());
    stack
        .move_token_expiry(&stack.team_id, approvals_core::time::unix_now() + 600)
        .await;
    stack
        .store()
        .installation(&stack.team_id)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn ten_concurrent_uses_near_expiry_refresh_exactly_once() {
    let stack = Stack::start_with(Options {
        token_rotation: true,
        not_connected: true,
        ..Options::default()
    })
    .await;
    let stale = rotating_installation(&stack).await;
    let refreshes = || {
        stack
            .slack
            .calls(Some("oauth.v2.access"))
            .into_iter()
            .filter(|c| c.params["grant_type"] == "refresh_token")
            .count()
    };
    assert_eq!(refreshes(), 0);

    let tokens: Arc<dyn BotTokens> = stack.api.tokens.clone();
    let now = approvals_core::time::unix_now();
    let used = futures::future::join_all((0..10).map(|_| {
        let (tokens, stale) = (tokens.clone(), stale.clone());
        tokio::spawn(async move { tokens.usable_token(&stale, now).await })
    }))
    .await;

    assert_eq!(refreshes(), 1);
    let fresh: Vec<String> = used
        .into_iter()
        .map(|r| r.unwrap().unwrap().expose().to_owned())
        .collect();
    assert!(
        fresh
            .iter()
            .all(|t| t == &fresh[0] && t != stale.bot_token.expose()),
        "all reuse the winner's token"
    );
    let stored = stack
        .store()
        .installation(&stack.team_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.bot_token.expose(), fresh[0]);
    assert!(stored.bot_token_expires_at.unwrap() > now + 7200);
    let (code, _) = stack
        .host_call("POST", "/v1/approvals", &stack.approval_body("DR-ROTATED"))
        .await;
    assert_eq!(code, 201);
    stack.assert_no_plaintext_tokens().await;
}

#[tokio::test]
async fn a_refused_refresh_token_disconnects_and_tells_the_host() {
    let stack = Stack::start_with(Options {
        token_rotation: true,
        not_connected: true,
        ..Options::default()
    })
    .await;
    // A refused refresh token, and an access token Slack no longer takes either.
    let installation = rotating_installation(&stack).await;
    stack.slack.expire_token(installation.bot_token.expose());
    stack.slack.inject(
        "oauth.v2.access",
        Fault::Error {
            code: "invalid_refresh_token".into(),
        },
        1,
    );

    let (code, body) = stack
        .host_call("POST", "/v1/approvals", &stack.approval_body("DR-REFUSED"))
        .await;

    assert_eq!(
        (code, body["error"].as_str()),
        (409, Some("slack_not_connected"))
    );
    let status = connection(&stack, &stack.tenant_id).await;
    assert_eq!(status["status"], "disconnected");
    assert_eq!(status["disconnect_reason"], "tokens_revoked");
    let notices = stack.host_events().await;
    assert!(notices
        .iter()
        .any(|e| e["type"] == "slack.disconnected" && e["data"]["reason"] == "tokens_revoked"));
}

#[tokio::test]
async fn a_refresh_whose_answer_was_lost_never_disconnects_while_the_token_works() {
    // GIVEN a rotating installation near expiry, and Slack rotating the grant but the
    // answer never arriving (review finding H4)
    let stack = Stack::start_with(Options {
        token_rotation: true,
        not_connected: true,
        ..Options::default()
    })
    .await;
    let installation = rotating_installation(&stack).await;
    stack.slack.inject(
        "oauth.v2.access",
        Fault::CommitThenFail {
            status: 502,
            millis: 0,
        },
        1,
    );
    let (lost, _) = stack
        .host_call("POST", "/v1/approvals", &stack.approval_body("DR-LOST-1"))
        .await;

    // WHEN the next use finds its stored refresh token refused
    let (code, body) = stack
        .host_call("POST", "/v1/approvals", &stack.approval_body("DR-LOST-2"))
        .await;

    // THEN the current token is still used, and the tenant stays connected
    assert_eq!(lost, 503);
    assert_eq!(code, 201, "{body}");
    assert_eq!(
        connection(&stack, &stack.tenant_id).await["status"],
        "active"
    );
    let stored = stack
        .store()
        .installation(&stack.team_id)
        .await
        .unwrap()
        .expect("the installation is kept");
    assert_eq!(stored.bot_token.expose(), installation.bot_token.expose());
    assert!(stack
        .slack
        .calls(Some("auth.test"))
        .iter()
        .any(|call| call.error.is_none()));
    assert!(stack
        .host_events()
        .await
        .iter()
        .all(|e| e["type"] != "slack.disconnected"));
}

#[tokio::test]
async fn the_worker_refreshes_an_expiring_token_before_updating_the_message() {
    // GIVEN a rotating installation whose token Slack no longer accepts
    let stack = Stack::start_with(Options {
        token_rotation: true,
        not_connected: true,
        ..Options::default()
    })
    .await;
    stack.connect_via_oauth().await;
    let (_, channel, ts) = stack.create_approval("DR-EXPIRING").await;
    let stale = rotating_installation(&stack).await;
    stack.slack.expire_token(stale.bot_token.expose());

    // WHEN the click is decided
    stack.click(&channel, &ts, "approve", "U0ANA").await;
    let records = stack.drain_queue().await;
    let answer = stack.worker.handle(crate::common::sqs_event(records)).await;

    // THEN the token was refreshed first and the message shows the decision
    assert!(answer.batch_item_failures.is_empty());
    let updates = stack.slack.calls(Some("chat.update"));
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].error, None, "{updates:?}");
    assert_eq!(stack.slack.message(&channel, &ts).unwrap().edits, 1);
}
