//! The sandbox answers as Slack's Web API does: error shapes, token checks, limits, faults.

use sandbox::slack::{Fault, SandboxConfig, SlackSandbox};
use serde_json::{json, Value};

async fn started() -> (std::sync::Arc<SlackSandbox>, String, String) {
    let slack = SlackSandbox::new(SandboxConfig::default());
    let base = slack.start().await.unwrap();
    let token = slack.issue_bot_token("T0SANDBOX");
    (slack, base, token)
}

async fn call(
    base: &str,
    method: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{base}/api/{method}"))
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer = request.send().await.unwrap();
    let (status, headers) = (answer.status().as_u16(), answer.headers().clone());
    (status, headers, answer.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn tokens_are_checked_like_slack_does() {
    let (_, base, token) = started().await;
    let post = json!({"channel": "C0APPROVALS", "text": "hi"});
    assert_eq!(
        call(&base, "chat.postMessage", None, post.clone()).await.2,
        json!({"ok": false, "error": "not_authed"})
    );
    assert_eq!(
        call(&base, "chat.postMessage", Some("xoxb-forged"), post.clone())
            .await
            .2["error"],
        "invalid_auth"
    );
    let (status, _, answer) = call(&base, "chat.postMessage", Some(&token), post).await;
    assert_eq!((status, answer["ok"].as_bool()), (200, Some(true)));
    assert_eq!(answer["channel"], "C0APPROVALS");
    call(&base, "auth.revoke", Some(&token), json!({})).await;
    assert_eq!(
        call(&base, "auth.test", Some(&token), json!({})).await.2["error"],
        "token_revoked"
    );
}

#[tokio::test]
async fn errors_are_http_200_with_slacks_codes() {
    let (_, base, token) = started().await;
    let cases = [
        (
            "chat.postMessage",
            json!({"channel": "C0NOPE", "text": "x"}),
            "channel_not_found",
        ),
        (
            "chat.postMessage",
            json!({"channel": "C0APPROVALS", "text": "x".repeat(40_001)}),
            "msg_too_long",
        ),
        (
            "chat.postMessage",
            json!({"channel": "C0APPROVALS", "text": "x", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h".repeat(151)}}]}),
            "invalid_blocks",
        ),
        (
            "chat.update",
            json!({"channel": "C0APPROVALS", "ts": "1.000001", "text": "x"}),
            "message_not_found",
        ),
        (
            "users.lookupByEmail",
            json!({"email": "nobody@sandbox.example"}),
            "users_not_found",
        ),
        (
            "views.open",
            json!({"trigger_id": "1.2.3", "view": {"type": "modal"}}),
            "invalid_trigger_id",
        ),
        ("no.such.method", json!({}), "unknown_method"),
    ];
    for (method, body, code) in cases {
        let (status, _, answer) = call(&base, method, Some(&token), body).await;
        assert_eq!(
            (status, answer["ok"].as_bool(), answer["error"].as_str()),
            (200, Some(false), Some(code)),
            "{method}"
        );
    }
    let (_, _, found) = call(
        &base,
        "users.lookupByEmail",
        Some(&token),
        json!({"email": "ana@sandbox.example"}),
    )
    .await;
    assert_eq!(found["user"]["id"], "U0ANA");
    assert_eq!(found["user"]["tz"], "Europe/Lisbon");
}

#[tokio::test]
async fn faults_answer_429_with_retry_after_then_recover() {
    let (slack, base, token) = started().await;
    slack.inject(
        "auth.test",
        Fault::RateLimited {
            retry_after_secs: 7,
        },
        1,
    );
    slack.inject("users.list", Fault::ServerError { status: 503 }, 1);
    let (status, headers, answer) = call(&base, "auth.test", Some(&token), json!({})).await;
    assert_eq!(
        (status, headers["retry-after"].to_str().unwrap()),
        (429, "7")
    );
    assert_eq!(answer["error"], "ratelimited");
    assert_eq!(
        call(&base, "auth.test", Some(&token), json!({})).await.0,
        200
    );
    assert_eq!(
        call(&base, "users.list", Some(&token), json!({})).await.0,
        503
    );
    let recorded = slack.calls(Some("auth.test"));
    assert_eq!(
        recorded.iter().map(|c| c.http_status).collect::<Vec<_>>(),
        vec![429, 200]
    );
}

#[tokio::test]
async fn files_v2_upload_then_complete_into_a_thread() {
    let (slack, base, token) = started().await;
    let (_, _, parent) = call(
        &base,
        "chat.postMessage",
        Some(&token),
        json!({"channel": "C0APPROVALS", "text": "deal"}),
    )
    .await;
    let pdf = b"%PDF-1.4 sandbox".to_vec();
    let (_, _, slot) = call(
        &base,
        "files.getUploadURLExternal",
        Some(&token),
        json!({"filename": "deal.pdf", "length": pdf.len()}),
    )
    .await;
    let file_id = slot["file_id"].as_str().unwrap().to_owned();
    let early = call(
        &base,
        "files.completeUploadExternal",
        Some(&token),
        json!({"files": [{"id": file_id}], "channel_id": "C0APPROVALS"}),
    )
    .await;
    assert_eq!(early.2["error"], "file_upload_not_complete");
    let uploaded = reqwest::Client::new()
        .post(slot["upload_url"].as_str().unwrap())
        .body(pdf.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), 200);
    let (_, _, done) = call(&base, "files.completeUploadExternal", Some(&token),
        json!({"files": [{"id": file_id, "title": "Deal PDF"}], "channel_id": "C0APPROVALS", "thread_ts": parent["ts"]})).await;
    assert_eq!(done["ok"], true, "{done}");
    assert_eq!(slack.upload(&file_id).unwrap().bytes.unwrap(), pdf);
    let in_thread = slack
        .messages("C0APPROVALS")
        .into_iter()
        .filter(|m| m.thread_ts.as_ref() == parent["ts"].as_str().map(str::to_owned).as_ref())
        .count();
    assert_eq!(in_thread, 1);
}

#[tokio::test]
async fn a_click_gives_a_trigger_for_views_open_and_a_response_url_for_five_uses() {
    let (slack, base, token) = started().await;
    let blocks = json!([{"type": "actions", "block_id": "a", "elements": [{"type": "button", "action_id": "reject", "value": "apr_1", "text": {"type": "plain_text", "text": "Reject"}}]}]);
    let (_, _, posted) = call(
        &base,
        "chat.postMessage",
        Some(&token),
        json!({"channel": "C0APPROVALS", "text": "x", "blocks": blocks}),
    )
    .await;
    let form = slack
        .click_payload(
            "C0APPROVALS",
            posted["ts"].as_str().unwrap(),
            "reject",
            "U0ANA",
        )
        .unwrap();
    let payload: Value = serde_json::from_str(
        &serde_urlencoded::from_str::<Vec<(String, String)>>(&form).unwrap()[0].1,
    )
    .unwrap();

    let modal =
        json!({"type": "modal", "title": {"type": "plain_text", "text": "Reject"}, "blocks": []});
    let (_, _, opened) = call(
        &base,
        "views.open",
        Some(&token),
        json!({"trigger_id": payload["trigger_id"], "view": modal}),
    )
    .await;
    assert_eq!(opened["ok"], true, "{opened}");
    assert_eq!(slack.views("U0ANA").len(), 1);

    let url = payload["response_url"].as_str().unwrap();
    let note = json!({"response_type": "ephemeral", "replace_original": false, "text": "only you"});
    let client = reqwest::Client::new();
    for _ in 0..5 {
        assert_eq!(
            client.post(url).json(&note).send().await.unwrap().status(),
            200
        );
    }
    assert_eq!(
        client.post(url).json(&note).send().await.unwrap().status(),
        404,
        "a sixth use is refused"
    );
    assert_eq!(
        slack
            .messages("C0APPROVALS")
            .iter()
            .filter(|m| m.ephemeral_for.as_deref() == Some("U0ANA"))
            .count(),
        5
    );
}
