//! The sandbox answers as Slack's Web API does: error shapes, token checks, limits, faults.

use sandbox::slack::{Fault, SandboxConfig, SandboxError, SlackSandbox, User, UserChange};
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

/// Every page of `users.list` at `limit`, following `next_cursor`; bounded.
async fn all_pages(base: &str, token: &str, limit: u64) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut cursor = String::new();
    for _ in 0..100 {
        let (_, _, page) = call(
            base,
            "users.list",
            Some(token),
            json!({"limit": limit, "cursor": cursor}),
        )
        .await;
        assert_eq!(page["ok"], true, "{page}");
        assert!(page["cache_ts"].is_i64(), "{page}");
        cursor = page["response_metadata"]["next_cursor"]
            .as_str()
            .unwrap()
            .to_owned();
        pages.push(page);
        if cursor.is_empty() {
            return pages;
        }
    }
    panic!("users.list never ended");
}

fn ids(members: &Value) -> Vec<String> {
    members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn users_list_pages_walk_every_member_exactly_once() {
    let (_, base, token) = started().await;
    let everything = all_pages(&base, &token, 0).await;
    assert_eq!(everything.len(), 1, "no limit: one page with everything");
    let all = ids(&everything[0]["members"]);
    assert_eq!(
        all,
        [
            "U0ANA",
            "U0BEN",
            "U0PAT",
            "U0CARA",
            "U0DEV",
            "U0GIA",
            "U0GONE",
            "U0BOT",
            "USLACKBOT"
        ],
        "deactivated users, bots and Slackbot are listed; the Slack Connect outsider is not"
    );

    let pages = all_pages(&base, &token, 2).await;
    assert_eq!(pages.len(), 5);
    assert!(pages
        .iter()
        .all(|p| p["members"].as_array().unwrap().len() <= 2));
    let walked: Vec<String> = pages.iter().flat_map(|p| ids(&p["members"])).collect();
    assert_eq!(walked, all, "each member once, in order");

    let members = &everything[0]["members"];
    let member = |id: &str| {
        members
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(member("U0GONE")["deleted"], true);
    assert_eq!(member("U0BOT")["is_bot"], true);
    assert_eq!(member("USLACKBOT")["is_bot"], false, "as in Slack");
    assert!(member("USLACKBOT")["profile"].get("email").is_none());
    assert_eq!(member("U0GIA")["is_restricted"], true);

    for cursor in ["garbage!!", "bm90LWEtdXNlcg==", "dXNlcjpVME5PQk9EWQ=="] {
        let (_, _, answer) = call(
            &base,
            "users.list",
            Some(&token),
            json!({"limit": 2, "cursor": cursor}),
        )
        .await;
        assert_eq!(
            answer,
            json!({"ok": false, "error": "invalid_cursor"}),
            "{cursor}"
        );
    }
}

#[tokio::test]
async fn user_objects_have_slacks_shape() {
    let (_, base, token) = started().await;
    let info = |user: &'static str| {
        let (base, token) = (base.clone(), token.clone());
        async move {
            call(&base, "users.info", Some(&token), json!({"user": user}))
                .await
                .2
        }
    };
    let cara = info("U0CARA").await["user"].clone();
    for (field, value) in [
        ("id", json!("U0CARA")),
        ("team_id", json!("T0SANDBOX")),
        ("name", json!("cara")),
        ("deleted", json!(false)),
        ("is_bot", json!(false)),
        ("is_app_user", json!(false)),
        ("is_restricted", json!(false)),
        ("is_ultra_restricted", json!(false)),
        ("tz", json!("Asia/Kolkata")),
        ("tz_label", json!("India Standard Time")),
        ("tz_offset", json!(19_800)),
    ] {
        assert_eq!(cara[field], value, "{field}: {cara}");
    }
    assert!(cara["updated"].is_i64());
    assert_eq!(cara["profile"]["email"], "cara@sandbox.example");
    assert_eq!(cara["profile"]["display_name"], "cara");

    let ana = info("U0ANA").await["user"].clone();
    let ben = info("U0BEN").await["user"].clone();
    assert_eq!(
        (ana["tz"].as_str(), ben["tz"].as_str()),
        (Some("Europe/Lisbon"), Some("America/New_York"))
    );
    assert!(
        ben["tz_offset"] == -18_000 || ben["tz_offset"] == -14_400,
        "{ben}"
    );

    let gone = info("U0GONE").await;
    assert_eq!(
        gone["user"]["deleted"], true,
        "users.info returns deactivated users"
    );
    let out = info("U0OUT").await;
    assert_eq!(
        out["user"]["team_id"], "T0OUTSIDE",
        "an outsider's home team"
    );
    assert!(info("U0BOT").await["user"]["profile"]
        .get("email")
        .is_none());
    assert_eq!(
        info("U0NOBODY").await,
        json!({"ok": false, "error": "user_not_found"})
    );
}

#[tokio::test]
async fn lookup_by_email_ignores_case_and_skips_deactivated_users() {
    let (_, base, token) = started().await;
    let lookup = |body: Value| {
        let (base, token) = (base.clone(), token.clone());
        async move {
            call(&base, "users.lookupByEmail", Some(&token), body)
                .await
                .2
        }
    };
    assert_eq!(
        lookup(json!({"email": "Ana@Sandbox.EXAMPLE"})).await["user"]["id"],
        "U0ANA"
    );
    assert_eq!(
        lookup(json!({"email": "gone@sandbox.example"})).await,
        json!({"ok": false, "error": "users_not_found"})
    );
    assert_eq!(
        lookup(json!({})).await,
        json!({"ok": false, "error": "invalid_arguments"})
    );
    let out = lookup(json!({"email": "out@partner.example"})).await;
    assert_eq!(
        (out["user"]["id"].as_str(), out["user"]["team_id"].as_str()),
        (Some("U0OUT"), Some("T0OUTSIDE"))
    );
}

#[tokio::test]
async fn dms_open_like_slack_and_chat_update_needs_the_d_id() {
    let (slack, base, token) = started().await;
    let open = |users: &'static str| {
        let (base, token) = (base.clone(), token.clone());
        async move {
            call(
                &base,
                "conversations.open",
                Some(&token),
                json!({"users": users}),
            )
            .await
            .2
        }
    };
    let first = open("U0BEN").await;
    assert_eq!(first["channel"]["id"], "D0BEN", "{first}");
    assert!(first.get("already_open").is_none());
    let again = open("U0BEN").await;
    assert_eq!(
        (
            again["channel"]["id"].as_str(),
            again["already_open"].as_bool()
        ),
        (Some("D0BEN"), Some(true))
    );
    assert_eq!(open("U0GONE").await["error"], "user_disabled");
    let (_, _, to_gone) = call(
        &base,
        "chat.postMessage",
        Some(&token),
        json!({"channel": "U0GONE", "text": "hello?"}),
    )
    .await;
    assert_eq!(to_gone["error"], "channel_not_found");
    assert_eq!(open("U0NOBODY").await["error"], "user_not_found");
    assert_eq!(open("").await["error"], "users_list_not_supplied");

    // Posting to a user id lands in the DM; updating needs the DM's own id.
    let (_, _, posted) = call(
        &base,
        "chat.postMessage",
        Some(&token),
        json!({"channel": "U0CARA", "text": "Please approve"}),
    )
    .await;
    assert_eq!(posted["channel"], "D0CARA", "{posted}");
    let ts = posted["ts"].clone();
    let (_, _, by_user) = call(
        &base,
        "chat.update",
        Some(&token),
        json!({"channel": "U0CARA", "ts": ts, "text": "Approved"}),
    )
    .await;
    assert_eq!(by_user, json!({"ok": false, "error": "channel_not_found"}));
    let (_, _, by_dm) = call(
        &base,
        "chat.update",
        Some(&token),
        json!({"channel": "D0CARA", "ts": ts, "text": "Approved"}),
    )
    .await;
    assert_eq!(by_dm["ok"], true, "{by_dm}");
    assert_eq!(slack.messages("D0CARA")[0].text, "Approved");
}

/// What the app under test received at its events URL: (signature valid, body).
type Delivered = tokio::sync::mpsc::UnboundedReceiver<(bool, Value)>;

/// A stand-in app on loopback that checks Slack's signature on every request it gets.
async fn events_app(secret: &'static str) -> (String, Delivered) {
    use hmac::{Hmac, Mac};
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let handler = move |headers: axum::http::HeaderMap, body: String| {
        let sender = sender.clone();
        async move {
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned()
            };
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
            mac.update(format!("v0:{}:{body}", header("x-slack-request-timestamp")).as_bytes());
            let expected = format!("v0={}", hex::encode(mac.finalize().into_bytes()));
            let valid = header("x-slack-signature") == expected;
            let _ = sender.send((valid, serde_json::from_str(&body).unwrap_or(Value::Null)));
            ""
        }
    };
    let listener = sandbox::loopback_listener().await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new().fallback(axum::routing::post(handler));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("{base}/slack/events"), receiver)
}

async fn control(base: &str, path: &str, body: &str) -> (u16, Value) {
    let answer = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn directory_controls_send_signed_team_join_and_user_change() {
    let (slack, base, token) = started().await;

    // No events URL yet: the person joins, nothing is delivered.
    let (status, answer) = control(
        &base,
        "/_sandbox/users",
        r#"{"name": "erin", "real_name": "Erin Early", "email": "erin@sandbox.example", "tz": "Asia/Tokyo"}"#,
    )
    .await;
    assert_eq!(
        (status, &answer["delivered"]),
        (200, &Value::Null),
        "{answer}"
    );
    assert!(answer["user"]["id"].as_str().unwrap().starts_with('U'));
    assert_eq!(answer["user"]["tz_offset"], 32_400);

    let (url, mut delivered) = events_app("sandbox-signing-secret").await;
    slack.set_events_url(Some(url));

    let (status, answer) = control(
        &base,
        "/_sandbox/users",
        r#"{"id": "U0FAY", "name": "fay", "email": "Fay@Sandbox.Example"}"#,
    )
    .await;
    assert_eq!(
        (status, answer["delivered"].as_u64()),
        (200, Some(200)),
        "{answer}"
    );
    let (valid, callback) = delivered.try_recv().expect("delivered before the answer");
    assert!(valid, "signed with the signing secret");
    assert_eq!(callback["type"], "event_callback");
    assert_eq!(callback["team_id"], "T0SANDBOX");
    assert_eq!(callback["event"]["type"], "team_join");
    assert_eq!(callback["event"]["user"]["id"], "U0FAY");
    assert_eq!(callback["event"]["user"]["tz"], "UTC", "the default zone");
    let (_, _, found) = call(
        &base,
        "users.lookupByEmail",
        Some(&token),
        json!({"email": "fay@sandbox.example"}),
    )
    .await;
    assert_eq!(found["user"]["id"], "U0FAY");

    // A move to another zone, then a deactivation.
    let (status, answer) = control(
        &base,
        "/_sandbox/users/U0BEN",
        r#"{"tz": "Pacific/Auckland"}"#,
    )
    .await;
    assert_eq!(
        (status, answer["delivered"].as_u64()),
        (200, Some(200)),
        "{answer}"
    );
    let (valid, callback) = delivered.try_recv().unwrap();
    assert!(valid);
    assert_eq!(callback["event"]["type"], "user_change");
    assert_eq!(callback["event"]["user"]["tz"], "Pacific/Auckland");
    let (status, answer) = control(&base, "/_sandbox/users/U0BEN", r#"{"deleted": true}"#).await;
    assert_eq!(status, 200, "{answer}");
    let (_, callback) = delivered.try_recv().unwrap();
    assert_eq!(callback["event"]["user"]["deleted"], true);
    let (_, _, gone) = call(
        &base,
        "users.lookupByEmail",
        Some(&token),
        json!({"email": "ben@sandbox.example"}),
    )
    .await;
    assert_eq!(gone["error"], "users_not_found");
    let (_, _, dm) = call(
        &base,
        "conversations.open",
        Some(&token),
        json!({"users": "U0BEN"}),
    )
    .await;
    assert_eq!(dm["error"], "user_disabled");

    // Bad input is refused with a reason, and nothing is sent.
    for (path, body, expected) in [
        ("/_sandbox/users", "{", 400),
        ("/_sandbox/users", r#"{"name": "x"}"#, 400),
        ("/_sandbox/users", r#"{"name": "x", "email": "nope"}"#, 400),
        (
            "/_sandbox/users",
            r#"{"name": "x", "email": "x@sandbox.example", "tz": "Mars/Base"}"#,
            400,
        ),
        (
            "/_sandbox/users",
            r#"{"name": "x", "email": "x@sandbox.example", "team_id": "TNOPE"}"#,
            400,
        ),
        (
            "/_sandbox/users",
            r#"{"name": "x", "email": "x@sandbox.example", "colour": "red"}"#,
            400,
        ),
        (
            "/_sandbox/users",
            r#"{"name": "x", "email": "ANA@sandbox.example"}"#,
            409,
        ),
        (
            "/_sandbox/users",
            r#"{"id": "U0ANA", "name": "x", "email": "x@sandbox.example"}"#,
            409,
        ),
        ("/_sandbox/users/U0PAT", "{}", 400),
        ("/_sandbox/users/U0PAT", r#"{"tz": "Nowhere"}"#, 400),
        (
            "/_sandbox/users/U0PAT",
            r#"{"email": "cara@sandbox.example"}"#,
            409,
        ),
        ("/_sandbox/users/U0NOBODY", r#"{"deleted": true}"#, 404),
    ] {
        let (status, answer) = control(&base, path, body).await;
        assert_eq!(status, expected, "{path} {body}: {answer}");
        assert!(
            answer["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{answer}"
        );
    }
    assert!(
        delivered.try_recv().is_err(),
        "no event for refused changes"
    );
}

#[tokio::test]
async fn the_rust_api_returns_the_events_for_tests_to_deliver() {
    let (slack, base, token) = started().await;
    let (url, mut delivered) = events_app("sandbox-signing-secret").await;
    slack.set_events_url(Some(url));

    let joiner = User::new(
        "U0HAL",
        "hal",
        "Hal Hire",
        "hal@sandbox.example",
        "Asia/Kolkata",
    );
    let event = slack.add_user("T0SANDBOX", joiner.clone()).unwrap();
    assert_eq!(event["type"], "team_join");
    assert_eq!(event["user"]["tz_offset"], 19_800);
    assert_eq!(slack.send_event("T0SANDBOX", event).await.unwrap(), 200);
    let (valid, callback) = delivered.try_recv().unwrap();
    assert!(valid);
    assert_eq!(callback["event"]["user"]["id"], "U0HAL");
    assert!(matches!(
        slack.add_user("T0SANDBOX", joiner),
        Err(SandboxError::Conflict(_))
    ));
    assert!(matches!(
        slack.add_user("TNOPE", User::new("U0X", "x", "X", "", "UTC")),
        Err(SandboxError::NoWorkspace(_))
    ));

    let change = UserChange {
        deleted: Some(true),
        ..UserChange::default()
    };
    let event = slack.change_user("T0SANDBOX", "U0HAL", &change).unwrap();
    assert_eq!(
        (event["type"].as_str(), event["user"]["deleted"].as_bool()),
        (Some("user_change"), Some(true))
    );
    assert!(slack.user("T0SANDBOX", "U0HAL").unwrap().deleted);
    assert!(matches!(
        slack.change_user("T0SANDBOX", "U0NOBODY", &change),
        Err(SandboxError::NoUser(_))
    ));

    // A deactivated person can no longer click.
    let blocks = json!([{"type": "actions", "elements": [{"type": "button", "action_id": "approve", "text": {"type": "plain_text", "text": "Approve"}}]}]);
    let (_, _, posted) = call(
        &base,
        "chat.postMessage",
        Some(&token),
        json!({"channel": "C0APPROVALS", "text": "x", "blocks": blocks}),
    )
    .await;
    let ts = posted["ts"].as_str().unwrap();
    assert!(matches!(
        slack.click_payload("C0APPROVALS", ts, "approve", "U0GONE"),
        Err(SandboxError::Deactivated(_))
    ));
    assert!(slack
        .click_payload("C0APPROVALS", ts, "approve", "U0CARA")
        .is_ok());
}
