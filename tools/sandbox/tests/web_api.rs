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
    // Sharing in a channel needs the bot in it (chat:write.public does not cover files).
    let (_, _, joined) = call(
        &base,
        "conversations.join",
        Some(&token),
        json!({"channel": "C0APPROVALS"}),
    )
    .await;
    assert_eq!(joined["ok"], true, "{joined}");
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
            "U0NOOR",
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

/// What the app under test received: (signature valid, body). JSON bodies as they are; form
/// bodies (interactions) as their decoded `payload`.
type Delivered = tokio::sync::mpsc::UnboundedReceiver<(bool, Value)>;

fn payload_of(form: &str) -> Value {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(form).unwrap_or_default();
    pairs
        .iter()
        .find(|(key, _)| key == "payload")
        .and_then(|(_, payload)| serde_json::from_str(payload).ok())
        .unwrap_or(Value::Null)
}

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
            let parsed = serde_json::from_str(&body).unwrap_or_else(|_| payload_of(&body));
            let _ = sender.send((valid, parsed));
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

#[tokio::test]
async fn the_demo_workspace_has_someone_in_newfoundland() {
    let (_, base, token) = started().await;
    let (_, _, answer) = call(&base, "users.info", Some(&token), json!({"user": "U0NOOR"})).await;
    let noor = &answer["user"];
    assert_eq!(noor["name"], "noor", "{answer}");
    assert_eq!(noor["real_name"], "Noor Newfoundland");
    assert_eq!(noor["profile"]["email"], "noor@sandbox.example");
    assert_eq!(noor["tz"], "America/St_Johns");
    assert!(
        noor["tz_offset"] == -12_600 || noor["tz_offset"] == -9_000,
        "half an hour off the hour: {noor}"
    );
    assert_eq!(noor["deleted"], false);
}

async fn post_blocks(base: &str, token: &str, channel: &str, blocks: Value) -> String {
    let (_, _, posted) = call(
        base,
        "chat.postMessage",
        Some(token),
        json!({"channel": channel, "text": "x", "blocks": blocks}),
    )
    .await;
    assert_eq!(posted["ok"], true, "{posted}");
    posted["ts"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn chat_get_permalink_answers_like_slack_and_the_link_opens_the_message() {
    let (slack, base, token) = started().await;
    let (_, _, parent) = call(
        &base,
        "chat.postMessage",
        Some(&token),
        json!({"channel": "C0APPROVALS", "text": "Deal desk digest"}),
    )
    .await;
    let ts = parent["ts"].as_str().unwrap().to_owned();
    let (_, _, reply) = call(
        &base,
        "chat.postMessage",
        Some(&token),
        json!({"channel": "C0APPROVALS", "text": "Approved", "thread_ts": ts}),
    )
    .await;
    let reply_ts = reply["ts"].as_str().unwrap().to_owned();
    let expected = format!("{base}/archives/C0APPROVALS/p{}", ts.replace('.', ""));

    // JSON, form and query-string arguments all work, as in Slack.
    let (status, _, answer) = call(
        &base,
        "chat.getPermalink",
        Some(&token),
        json!({"channel": "C0APPROVALS", "message_ts": ts}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        answer,
        json!({"ok": true, "channel": "C0APPROVALS", "permalink": expected})
    );
    let http = reqwest::Client::new();
    let by_query: Value = http
        .get(format!(
            "{base}/api/chat.getPermalink?channel=C0APPROVALS&message_ts={ts}"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_query["permalink"], json!(expected), "{by_query}");
    let token_in_query: Value = http
        .get(format!(
            "{base}/api/chat.getPermalink?token={token}&channel=C0APPROVALS&message_ts={ts}"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        token_in_query["error"], "not_authed",
        "Slack takes no tokens from the query string"
    );
    let by_form: Value = http
        .post(format!("{base}/api/chat.getPermalink"))
        .form(&[
            ("token", token.as_str()),
            ("channel", "C0APPROVALS"),
            ("message_ts", ts.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_form["permalink"], json!(expected), "{by_form}");

    // A thread reply's link names its thread, as Slack's does.
    let (_, _, threaded) = call(
        &base,
        "chat.getPermalink",
        Some(&token),
        json!({"channel": "C0APPROVALS", "message_ts": reply_ts}),
    )
    .await;
    assert_eq!(
        threaded["permalink"],
        json!(format!(
            "{base}/archives/C0APPROVALS/p{}?thread_ts={ts}&cid=C0APPROVALS",
            reply_ts.replace('.', "")
        ))
    );

    // Slack's refusals.
    let (_, _, note) = call(
        &base,
        "chat.postEphemeral",
        Some(&token),
        json!({"channel": "C0APPROVALS", "user": "U0ANA", "text": "only you"}),
    )
    .await;
    for (body, code) in [
        (
            json!({"channel": "C0NOPE", "message_ts": ts}),
            "channel_not_found",
        ),
        (
            json!({"channel": "U0ANA", "message_ts": ts}),
            "channel_not_found",
        ),
        (
            json!({"channel": "C0APPROVALS", "message_ts": "1.000001"}),
            "message_not_found",
        ),
        (
            json!({"channel": "C0GENERAL", "message_ts": ts}),
            "message_not_found",
        ),
        (
            json!({"channel": "C0APPROVALS", "message_ts": note["message_ts"]}),
            "message_not_found",
        ),
        (json!({"channel": "C0APPROVALS"}), "invalid_arguments"),
        (json!({"message_ts": ts}), "invalid_arguments"),
    ] {
        let (status, _, answer) =
            call(&base, "chat.getPermalink", Some(&token), body.clone()).await;
        assert_eq!(
            (status, answer),
            (200, json!({"ok": false, "error": code})),
            "{body}"
        );
    }
    let unauthed = json!({"channel": "C0APPROVALS", "message_ts": ts});
    assert_eq!(
        call(&base, "chat.getPermalink", None, unauthed.clone())
            .await
            .2["error"],
        "not_authed"
    );
    assert_eq!(
        call(
            &base,
            "chat.getPermalink",
            Some("xoxb-forged"),
            unauthed.clone()
        )
        .await
        .2["error"],
        "invalid_auth"
    );

    // Rate limits, injected like any method's, and every call recorded.
    slack.inject(
        "chat.getPermalink",
        Fault::RateLimited {
            retry_after_secs: 3,
        },
        1,
    );
    let (status, headers, answer) =
        call(&base, "chat.getPermalink", Some(&token), unauthed.clone()).await;
    assert_eq!(
        (status, headers["retry-after"].to_str().unwrap()),
        (429, "3")
    );
    assert_eq!(answer["error"], "ratelimited");
    assert_eq!(
        call(&base, "chat.getPermalink", Some(&token), unauthed)
            .await
            .2["ok"],
        true
    );
    let recorded = slack.calls(Some("chat.getPermalink"));
    assert_eq!(recorded.len(), 16);
    assert_eq!(
        recorded
            .iter()
            .rev()
            .take(2)
            .map(|c| c.http_status)
            .collect::<Vec<_>>(),
        [200, 429]
    );

    // The link itself: 303 to the page with the message highlighted; `as` is kept.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let followed = no_redirects.get(&expected).send().await.unwrap();
    assert_eq!(followed.status(), 303);
    assert_eq!(
        followed.headers()["location"],
        format!("/?team=T0SANDBOX&channel=C0APPROVALS&ts={ts}").as_str()
    );
    let as_ben = no_redirects
        .get(format!("{expected}?as=U0BEN"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        as_ben.headers()["location"],
        format!("/?team=T0SANDBOX&channel=C0APPROVALS&ts={ts}&as=U0BEN").as_str()
    );
    let page = http
        .get(format!("{expected}?as=U0BEN"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!(
            "<article class=\"message highlighted\" data-ts=\"{ts}\""
        )),
        "{page}"
    );
    assert_eq!(page.matches("class=\"linked-note\"").count(), 1);
    assert!(
        page.contains(&format!("data-ts=\"{ts}\">")),
        "the script knows the ts"
    );
    assert!(page.contains("<option value=\"U0BEN\" selected>"));
    let reply_page = http
        .get(threaded["permalink"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(reply_page.contains(&format!(
        "<article class=\"message reply highlighted\" data-ts=\"{reply_ts}\""
    )));
    for bad in [
        "/archives/C0NOPE/p1234567890123456",
        "/archives/C0APPROVALS/x12",
    ] {
        let answer = no_redirects
            .get(format!("{base}{bad}"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 404, "{bad}");
    }
}

fn home(blocks: Value) -> Value {
    json!({"type": "home", "callback_id": "approvals_home", "private_metadata": "v1",
           "external_id": "", "blocks": blocks})
}

fn home_blocks() -> Value {
    json!([
        {"type": "header", "text": {"type": "plain_text", "text": "Waiting for you"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Deal desk*: Initech"}},
        {"type": "actions", "block_id": "req_apr_1", "elements": [
            {"type": "button", "action_id": "approve", "value": "apr_1", "style": "primary",
             "text": {"type": "plain_text", "text": "Approve"}},
            {"type": "button", "action_id": "open", "url": "https://host.example/apr_1",
             "text": {"type": "plain_text", "text": "Open"}}]}
    ])
}

#[tokio::test]
async fn views_publish_stores_the_home_view_and_answers_like_slack() {
    let (slack, base, token) = started().await;
    assert!(slack.home_view("T0SANDBOX", "U0ANA").is_none());
    let (status, _, first) = call(
        &base,
        "views.publish",
        Some(&token),
        json!({"user_id": "U0ANA", "view": home(home_blocks())}),
    )
    .await;
    assert_eq!((status, &first["ok"]), (200, &json!(true)), "{first}");
    let view = &first["view"];
    assert!(view["id"].as_str().unwrap().starts_with('V'), "{view}");
    for (field, value) in [
        ("team_id", json!("T0SANDBOX")),
        ("type", json!("home")),
        ("app_id", json!("A0SANDBOX")),
        ("private_metadata", json!("v1")),
        ("callback_id", json!("approvals_home")),
        ("external_id", json!("")),
        ("state", json!({"values": {}})),
        ("root_view_id", view["id"].clone()),
    ] {
        assert_eq!(view[field], value, "{field}: {view}");
    }
    assert!(view["bot_id"].as_str().unwrap().starts_with('B'));
    assert!(!view["hash"].as_str().unwrap().is_empty());
    let blocks = view["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 3);
    assert!(
        blocks.iter().all(|b| b["block_id"].is_string()),
        "Slack gives every block an id: {view}"
    );
    assert_eq!(blocks[2]["block_id"], "req_apr_1");
    assert_eq!(slack.home_view("T0SANDBOX", "U0ANA").as_ref(), Some(view));
    assert!(slack.home_view("T0SANDBOX", "U0BEN").is_none());

    // A form body with the view as a JSON string and the current hash: a new view and hash.
    let http = reqwest::Client::new();
    let second: Value = http
        .post(format!("{base}/api/views.publish"))
        .bearer_auth(&token)
        .form(&[
            ("user_id", "U0ANA"),
            ("view", &home(json!([])).to_string()),
            ("hash", view["hash"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second["ok"], true, "{second}");
    assert_ne!(second["view"]["id"], view["id"]);
    assert_ne!(second["view"]["hash"], view["hash"]);
    assert_eq!(second["view"]["blocks"], json!([]));

    // The old hash is stale now: hash_conflict, and the stored view stays.
    let (_, _, stale) = call(
        &base,
        "views.publish",
        Some(&token),
        json!({"user_id": "U0ANA", "view": home(home_blocks()), "hash": view["hash"]}),
    )
    .await;
    assert_eq!(stale, json!({"ok": false, "error": "hash_conflict"}));
    assert_eq!(
        slack.home_view("T0SANDBOX", "U0ANA").unwrap()["id"],
        second["view"]["id"]
    );
    let (_, _, first_hash) = call(
        &base,
        "views.publish",
        Some(&token),
        json!({"user_id": "U0BEN", "view": home(json!([])), "hash": "1.abc"}),
    )
    .await;
    assert_eq!(
        first_hash["error"], "hash_conflict",
        "a hash with nothing published yet"
    );

    // Slack's refusals, each HTTP 200 with ok:false.
    let many: Vec<Value> = (0..101).map(|_| json!({"type": "divider"})).collect();
    let big_text = "x".repeat(2_900);
    let big: Vec<Value> = (0..90)
        .map(|_| json!({"type": "section", "text": {"type": "mrkdwn", "text": big_text}}))
        .collect();
    let mut modal = home(json!([]));
    modal["type"] = json!("modal");
    let cases = [
        (
            json!({"view": home(json!([]))}),
            json!({"ok": false, "error": "invalid_arguments",
                   "response_metadata": {"messages": ["invalid `user_id`"]}}),
        ),
        (
            json!({"user_id": "U0NOBODY", "view": home(json!([]))}),
            json!({"ok": false, "error": "user_not_found"}),
        ),
        (
            json!({"user_id": "U0OUT", "view": home(json!([]))}),
            json!({"ok": true}),
        ),
        (
            json!({"user_id": "U0ANA"}),
            json!({"ok": false, "error": "invalid_arguments"}),
        ),
        (
            json!({"user_id": "U0ANA", "view": "{not json"}),
            json!({"ok": false, "error": "invalid_arguments"}),
        ),
        (
            json!({"user_id": "U0ANA", "view": modal}),
            json!({"ok": false, "error": "invalid_arguments"}),
        ),
        (
            json!({"user_id": "U0ANA", "view": home(Value::Array(many))}),
            json!({"ok": false, "error": "invalid_arguments", "response_metadata": {"messages":
                ["[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]"]}}),
        ),
        (
            json!({"user_id": "U0ANA", "view": home(Value::Array(big))}),
            json!({"ok": false, "error": "view_too_large"}),
        ),
        (
            json!({"user_id": "U0ANA", "view": home(json!([{"type": "header",
                "text": {"type": "plain_text", "text": "h".repeat(151)}}]))}),
            json!({"ok": false, "error": "invalid_arguments"}),
        ),
        (
            json!({"user_id": "U0ANA", "view": {"type": "home", "blocks": [],
                "private_metadata": "m".repeat(3_001)}}),
            json!({"ok": false, "error": "invalid_arguments", "response_metadata": {"messages":
                ["[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]"]}}),
        ),
    ];
    for (body, expected) in cases {
        let (status, _, answer) = call(&base, "views.publish", Some(&token), body.clone()).await;
        assert_eq!(status, 200);
        if expected["ok"] == true {
            assert_eq!(answer["ok"], true, "{answer}");
            continue;
        }
        if expected.get("response_metadata").is_some() {
            assert_eq!(answer, expected, "{body}");
        } else {
            assert_eq!(
                (&answer["ok"], &answer["error"]),
                (&expected["ok"], &expected["error"]),
                "{body}: {answer}"
            );
        }
    }
    // The bad header block is pointed at.
    let (_, _, bad_block) = call(
        &base,
        "views.publish",
        Some(&token),
        json!({"user_id": "U0ANA", "view": home(json!([{"type": "divider"}, {"type": "header",
            "text": {"type": "plain_text", "text": "h".repeat(151)}}]))}),
    )
    .await;
    let message = bad_block["response_metadata"]["messages"][0]
        .as_str()
        .unwrap();
    assert!(
        message.starts_with("[ERROR] ") && message.ends_with("[json-pointer:/view/blocks/1]"),
        "{message}"
    );

    // external_id is unique in a team: another person's Home cannot take it.
    let mut tagged = home(json!([]));
    tagged["external_id"] = json!("home-ana");
    let (_, _, ana) = call(
        &base,
        "views.publish",
        Some(&token),
        json!({"user_id": "U0ANA", "view": tagged}),
    )
    .await;
    assert_eq!(ana["view"]["external_id"], "home-ana", "{ana}");
    let (_, _, ben) = call(
        &base,
        "views.publish",
        Some(&token),
        json!({"user_id": "U0BEN", "view": tagged}),
    )
    .await;
    assert_eq!(ben, json!({"ok": false, "error": "duplicate_external_id"}));

    // Tokens, faults and the call log, as for every method.
    let body = json!({"user_id": "U0ANA", "view": home(json!([]))});
    assert_eq!(
        call(&base, "views.publish", None, body.clone()).await.2,
        json!({"ok": false, "error": "not_authed"})
    );
    slack.inject(
        "views.publish",
        Fault::RateLimited {
            retry_after_secs: 2,
        },
        1,
    );
    let (status, headers, answer) = call(&base, "views.publish", Some(&token), body.clone()).await;
    assert_eq!(
        (status, headers["retry-after"].to_str().unwrap()),
        (429, "2")
    );
    assert_eq!(answer["error"], "ratelimited");
    let before = slack.home_view("T0SANDBOX", "U0ANA").unwrap();
    slack.inject(
        "views.publish",
        Fault::Error {
            code: "internal_error".into(),
        },
        1,
    );
    assert_eq!(
        call(&base, "views.publish", Some(&token), body.clone())
            .await
            .2["error"],
        "internal_error"
    );
    assert_eq!(
        slack.home_view("T0SANDBOX", "U0ANA").unwrap(),
        before,
        "a refused publish stores nothing"
    );
    let recorded = slack.calls(Some("views.publish"));
    assert_eq!(recorded.len(), 20);
    let last_two: Vec<(u16, Option<String>)> = recorded
        .iter()
        .rev()
        .take(2)
        .map(|c| (c.http_status, c.error.clone()))
        .collect();
    assert_eq!(
        last_two,
        [
            (200, Some("internal_error".to_owned())),
            (429, Some("http_429".to_owned()))
        ]
    );
    assert_eq!(recorded[0].params["user_id"], "U0ANA");

    slack.reset();
    assert!(slack.home_view("T0SANDBOX", "U0ANA").is_none());
}

#[tokio::test]
async fn a_disabled_home_tab_answers_not_enabled() {
    let slack = SlackSandbox::new(SandboxConfig {
        home_tab_enabled: false,
        ..SandboxConfig::default()
    });
    let base = slack.start().await.unwrap();
    let token = slack.issue_bot_token("T0SANDBOX");
    let (_, _, answer) = call(
        &base,
        "views.publish",
        Some(&token),
        json!({"user_id": "U0ANA", "view": home(json!([]))}),
    )
    .await;
    assert_eq!(answer, json!({"ok": false, "error": "not_enabled"}));
    assert!(slack.home_view("T0SANDBOX", "U0ANA").is_none());
    assert!(matches!(
        slack.app_home_opened_event("T0SANDBOX", "U0ANA"),
        Err(SandboxError::HomeTabDisabled)
    ));
    let page = reqwest::get(format!("{base}/?tab=home"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("id=\"home-tab\""), "no Home tab to open");
    assert!(page.contains("<section id=\"home-view\""));
    assert!(page.contains("data-tab=\"\""), "the channel shows instead");
}

#[tokio::test]
async fn app_home_opened_is_shaped_like_slacks_and_carries_a_published_view() {
    let (slack, base, token) = started().await;
    let (url, mut delivered) = events_app("sandbox-signing-secret").await;

    let envelope = slack.app_home_opened_event("T0SANDBOX", "U0NOOR").unwrap();
    for (field, value) in [
        ("token", json!("deprecated-verification-token")),
        ("team_id", json!("T0SANDBOX")),
        ("enterprise_id", json!("E0SANDBOX")),
        ("api_app_id", json!("A0SANDBOX")),
        ("type", json!("event_callback")),
    ] {
        assert_eq!(envelope[field], value, "{field}: {envelope}");
    }
    assert!(envelope["event_id"].as_str().unwrap().starts_with("Ev"));
    assert!(envelope["event_time"].is_i64());
    assert_eq!(
        envelope["authorizations"],
        json!([{"enterprise_id": "E0SANDBOX", "team_id": "T0SANDBOX", "user_id": "U0BOT",
                "is_bot": true, "is_enterprise_install": false}])
    );
    let event = &envelope["event"];
    assert_eq!(event["type"], "app_home_opened");
    assert_eq!(event["user"], "U0NOOR");
    assert_eq!(event["channel"], "D0NOOR", "the app's DM with the person");
    assert_eq!(event["tab"], "home");
    assert!(event["event_ts"].as_str().unwrap().contains('.'));
    assert!(
        event.get("view").is_none(),
        "no view before one was published: {event}"
    );
    // Opening the App Home opened the DM, which conversations.open now finds.
    let (_, _, dm) = call(
        &base,
        "conversations.open",
        Some(&token),
        json!({"users": "U0NOOR"}),
    )
    .await;
    assert_eq!(
        (dm["channel"]["id"].as_str(), dm["already_open"].as_bool()),
        (Some("D0NOOR"), Some(true))
    );
    assert_eq!(
        slack
            .deliver(&url, "application/json", envelope.to_string())
            .await
            .unwrap(),
        200
    );
    let (valid, received) = delivered.try_recv().unwrap();
    assert!(valid, "signed with the signing secret");
    assert_eq!(received, envelope);

    // Once a view is published, every later open carries it, hash included.
    let (_, _, published) = call(
        &base,
        "views.publish",
        Some(&token),
        json!({"user_id": "U0NOOR", "view": home(home_blocks())}),
    )
    .await;
    let event = slack.app_home_opened_event("T0SANDBOX", "U0NOOR").unwrap()["event"].clone();
    assert_eq!(event["view"], published["view"]);
    assert_eq!(event["view"]["hash"], published["view"]["hash"]);

    assert!(matches!(
        slack.app_home_opened_event("T0SANDBOX", "U0NOBODY"),
        Err(SandboxError::NoUser(_))
    ));
    assert!(matches!(
        slack.app_home_opened_event("T0SANDBOX", "U0GONE"),
        Err(SandboxError::Deactivated(_))
    ));
    assert!(matches!(
        slack.app_home_opened_event("TNOPE", "U0ANA"),
        Err(SandboxError::NoWorkspace(_))
    ));

    // The page's Home tab sends the same event for the person acting.
    let open_home = |user: &'static str| {
        let base = base.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{base}/_sandbox/ui/home"))
                .json(&json!({"team": "T0SANDBOX", "user": user}))
                .send()
                .await
                .unwrap()
        }
    };
    let answer: Value = open_home("U0ANA").await.json().await.unwrap();
    assert_eq!(answer["sent"], Value::Null, "no events URL yet: {answer}");
    assert!(answer["note"].as_str().unwrap().contains("events_url"));
    assert!(delivered.try_recv().is_err());
    slack.set_events_url(Some(url));
    let answer: Value = open_home("U0NOOR").await.json().await.unwrap();
    assert_eq!(
        (answer["sent"].as_str(), answer["status"].as_u64()),
        (Some("app_home_opened"), Some(200)),
        "{answer}"
    );
    let (valid, received) = delivered.try_recv().unwrap();
    assert!(valid);
    assert_eq!(received["event"]["type"], "app_home_opened");
    assert_eq!(received["event"]["user"], "U0NOOR");
    assert_eq!(received["event"]["view"]["id"], published["view"]["id"]);
    assert_eq!(open_home("U0GONE").await.status(), 400);
    assert_eq!(open_home("U0NOBODY").await.status(), 404);
}

#[tokio::test]
async fn home_tab_clicks_carry_the_view_and_no_response_url() {
    let (slack, base, token) = started().await;
    let (_, _, published) = call(
        &base,
        "views.publish",
        Some(&token),
        json!({"user_id": "U0CARA", "view": home(home_blocks())}),
    )
    .await;
    let view = published["view"].clone();
    let form = slack
        .home_click_payload("T0SANDBOX", "U0CARA", "req_apr_1", "approve")
        .unwrap();
    let payload = payload_of(&form);
    assert_eq!(payload["type"], "block_actions");
    assert_eq!(
        payload["container"],
        json!({"type": "view", "view_id": view["id"]})
    );
    assert_eq!(
        payload["view"], view,
        "the stored view, hash and state included"
    );
    assert_eq!(payload["view"]["state"], json!({"values": {}}));
    assert_eq!(payload["user"]["id"], "U0CARA");
    assert_eq!(payload["user"]["team_id"], "T0SANDBOX");
    assert_eq!(payload["team"]["id"], "T0SANDBOX");
    assert_eq!(payload["api_app_id"], "A0SANDBOX");
    for absent in ["response_url", "response_urls", "channel", "message"] {
        assert!(
            payload.get(absent).is_none(),
            "{absent} is not sent for the Home tab: {payload}"
        );
    }
    let action = &payload["actions"][0];
    assert_eq!(payload["actions"].as_array().unwrap().len(), 1);
    for (field, value) in [
        ("type", json!("button")),
        ("action_id", json!("approve")),
        ("block_id", json!("req_apr_1")),
        ("value", json!("apr_1")),
        ("style", json!("primary")),
        ("text", json!({"type": "plain_text", "text": "Approve"})),
    ] {
        assert_eq!(action[field], value, "{field}: {action}");
    }
    assert!(action["action_ts"].as_str().unwrap().contains('.'));
    let open = slack
        .home_click_payload("T0SANDBOX", "U0CARA", "req_apr_1", "open")
        .unwrap();
    let open_action = payload_of(&open)["actions"][0].clone();
    assert!(
        open_action.get("style").is_none() && open_action.get("value").is_none(),
        "what the button lacks is left out: {open_action}"
    );

    // The click's trigger opens a modal, as from a message.
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

    assert!(matches!(
        slack.home_click_payload("T0SANDBOX", "U0BEN", "req_apr_1", "approve"),
        Err(SandboxError::NoHomeView { .. })
    ));
    assert!(matches!(
        slack.home_click_payload("T0SANDBOX", "U0CARA", "req_apr_2", "approve"),
        Err(SandboxError::NoHomeButton { .. })
    ));
    assert!(matches!(
        slack.home_click_payload("T0SANDBOX", "U0GONE", "req_apr_1", "approve"),
        Err(SandboxError::Deactivated(_))
    ));

    // The page's Home tab button sends it, signed, to the interactivity URL.
    let (url, mut delivered) = events_app("sandbox-signing-secret").await;
    slack.set_interactivity_url(Some(url));
    let answer: Value = reqwest::Client::new()
        .post(format!("{base}/_sandbox/ui/home-click"))
        .json(&json!({"team": "T0SANDBOX", "user": "U0CARA",
                      "block_id": "req_apr_1", "action_id": "approve"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["status"], 200, "{answer}");
    let (valid, received) = delivered.try_recv().unwrap();
    assert!(valid);
    assert_eq!(received["container"]["type"], "view");
    assert_eq!(received["actions"][0]["value"], "apr_1");
}

#[tokio::test]
async fn digest_clicks_are_the_button_in_the_clicked_block() {
    let (slack, base, token) = started().await;
    let request = |id: &str| {
        json!({"type": "actions", "block_id": format!("req_{id}"), "elements": [
            {"type": "button", "action_id": "approve", "value": id,
             "text": {"type": "plain_text", "text": "Approve"}},
            {"type": "button", "action_id": "reject", "value": id,
             "text": {"type": "plain_text", "text": "Reject"}}]})
    };
    let ts = post_blocks(
        &base,
        &token,
        "C0APPROVALS",
        json!([request("apr_1"), request("apr_2"), request("apr_3")]),
    )
    .await;
    let clicked = |form: Result<String, SandboxError>| {
        let payload = payload_of(&form.unwrap());
        (
            payload["actions"][0]["block_id"]
                .as_str()
                .unwrap()
                .to_owned(),
            payload["actions"][0]["value"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(
        clicked(slack.click_payload_in_block("C0APPROVALS", &ts, "req_apr_2", "reject", "U0ANA")),
        ("req_apr_2".to_owned(), "apr_2".to_owned())
    );
    assert_eq!(
        clicked(slack.click_payload("C0APPROVALS", &ts, "reject", "U0ANA")),
        ("req_apr_1".to_owned(), "apr_1".to_owned()),
        "click_payload still takes the first"
    );
    assert!(matches!(
        slack.click_payload_in_block("C0APPROVALS", &ts, "req_apr_9", "approve", "U0ANA"),
        Err(SandboxError::NoButton(_))
    ));

    // apr_2 is decided: the digest loses its block, and a stale screen can still click it.
    let (_, _, updated) = call(
        &base,
        "chat.update",
        Some(&token),
        json!({"channel": "C0APPROVALS", "ts": ts, "text": "x",
               "blocks": [request("apr_1"), request("apr_3")]}),
    )
    .await;
    assert_eq!(updated["ok"], true, "{updated}");
    assert_eq!(
        clicked(slack.click_payload_in_block("C0APPROVALS", &ts, "req_apr_2", "approve", "U0ANA")),
        ("req_apr_2".to_owned(), "apr_2".to_owned())
    );
    assert_eq!(
        clicked(slack.click_payload_in_block("C0APPROVALS", &ts, "req_apr_3", "approve", "U0ANA")),
        ("req_apr_3".to_owned(), "apr_3".to_owned())
    );

    // The page passes the block of the button that was clicked.
    let (url, mut delivered) = events_app("sandbox-signing-secret").await;
    slack.set_interactivity_url(Some(url));
    let http = reqwest::Client::new();
    let click = |body: Value| {
        http.post(format!("{base}/_sandbox/ui/click"))
            .json(&body)
            .send()
    };
    let answer: Value = click(
        json!({"channel": "C0APPROVALS", "ts": ts, "block_id": "req_apr_3",
                                     "action_id": "reject", "user": "U0BEN"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(answer["status"], 200, "{answer}");
    let (valid, payload) = delivered.try_recv().unwrap();
    assert!(valid);
    assert_eq!(
        (
            payload["actions"][0]["block_id"].as_str(),
            payload["actions"][0]["value"].as_str()
        ),
        (Some("req_apr_3"), Some("apr_3"))
    );
    assert!(
        payload["response_url"].is_string(),
        "message clicks keep theirs"
    );
    let missing = click(
        json!({"channel": "C0APPROVALS", "ts": ts, "block_id": "req_nope",
                               "action_id": "reject", "user": "U0BEN"}),
    )
    .await
    .unwrap();
    assert_eq!(missing.status(), 404);
    // An empty block id (a block posted without one) clicks the first such button.
    let answer: Value = click(json!({"channel": "C0APPROVALS", "ts": ts, "block_id": "",
                                     "action_id": "approve", "user": "U0BEN"}))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(answer["status"], 200, "{answer}");
    assert_eq!(
        delivered.try_recv().unwrap().1["actions"][0]["value"],
        "apr_1"
    );
}

/// A stand-in for the app's reminders endpoint: records each body; answers `status` with
/// `answer`.
async fn reminders_app(
    status: u16,
    answer: &'static str,
) -> (String, tokio::sync::mpsc::UnboundedReceiver<Value>) {
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let handler = move |body: String| {
        let sender = sender.clone();
        async move {
            let _ = sender.send(serde_json::from_str(&body).unwrap_or(Value::Null));
            (
                axum::http::StatusCode::from_u16(status).unwrap(),
                [("content-type", "application/json")],
                answer,
            )
        }
    };
    let listener = sandbox::loopback_listener().await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new().route("/dev/reminders", axum::routing::post(handler));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("{base}/dev/reminders"), receiver)
}

async fn sandbox_with_reminders(url: Option<String>) -> String {
    let slack = SlackSandbox::new(SandboxConfig {
        reminders_url: url,
        ..SandboxConfig::default()
    });
    slack.start().await.unwrap()
}

#[tokio::test]
async fn run_reminders_forwards_the_time_and_answers_what_the_app_said() {
    let (url, mut received) = reminders_app(200, r#"{"summary":"3 people due","due":3}"#).await;
    let base = sandbox_with_reminders(Some(url.clone())).await;
    let http = reqwest::Client::new();
    let answer: Value = http
        .post(format!("{base}/_sandbox/run-reminders"))
        .json(&json!({"scheduled_time": "2026-11-25T03:30:00Z"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer,
        json!({"scheduled_time": "2026-11-25T03:30:00Z", "url": url, "status": 200,
               "body": r#"{"summary":"3 people due","due":3}"#, "summary": "3 people due"})
    );
    assert_eq!(
        received.try_recv().unwrap(),
        json!({"scheduled_time": "2026-11-25T03:30:00Z"}),
        "exactly the schedule's time, as RFC 3339 UTC"
    );

    // The page's form posts the time as shown, form-encoded.
    let answer: Value = http
        .post(format!("{base}/_sandbox/run-reminders"))
        .form(&[("scheduled_time", "2026-11-25 03:45 UTC")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["scheduled_time"], "2026-11-25T03:45:00Z", "{answer}");
    assert_eq!(
        received.try_recv().unwrap()["scheduled_time"],
        "2026-11-25T03:45:00Z"
    );

    // Refused times never reach the app.
    for body in [
        json!({"scheduled_time": "soon"}),
        json!({}),
        json!({"scheduled_time": 5}),
    ] {
        let refused = http
            .post(format!("{base}/_sandbox/run-reminders"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 400, "{body}");
        let error: Value = refused.json().await.unwrap();
        assert!(error["error"].as_str().unwrap().contains("scheduled_time"));
    }
    assert!(received.try_recv().is_err());

    // The page has the control, with the ids a browser test uses.
    let page = http
        .get(format!("{base}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for id in [
        "reminders-form",
        "reminders-time",
        "reminders-run",
        "reminders-result",
    ] {
        assert!(page.contains(&format!("id=\"{id}\"")), "{id}");
    }
    assert!(page.contains("<label for=\"reminders-time\">Run reminders at</label>"));
    let prefilled = page
        .split("id=\"reminders-time\" name=\"scheduled_time\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap();
    assert!(
        prefilled.ends_with(" UTC") && prefilled.len() == "2026-11-25 03:30 UTC".len(),
        "{prefilled}"
    );
    let minute: u32 = prefilled[14..16].parse().unwrap();
    assert_eq!(minute % 15, 0, "floored to the quarter hour: {prefilled}");
}

#[tokio::test]
async fn run_reminders_passes_on_failures_and_refuses_without_a_loopback_target() {
    let (url, mut received) = reminders_app(500, "boom").await;
    let base = sandbox_with_reminders(Some(url)).await;
    let run = |base: String| async move {
        let answer = reqwest::Client::new()
            .post(format!("{base}/_sandbox/run-reminders"))
            .json(&json!({"scheduled_time": "2026-11-25 03:30"}))
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        (status, answer.json::<Value>().await.unwrap())
    };
    let (status, answer) = run(base).await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            answer["status"].as_u64(),
            answer["body"].as_str(),
            &answer["summary"]
        ),
        (Some(500), Some("boom"), &Value::Null)
    );
    assert!(received.try_recv().is_ok());

    let (status, answer) = run(sandbox_with_reminders(None).await).await;
    assert_eq!(status, 409);
    assert!(answer["error"].as_str().unwrap().contains("reminders_url"));
    let without = reqwest::get(sandbox_with_reminders(None).await)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !without.contains("id=\"reminders-form\""),
        "no control without a URL"
    );

    let (status, answer) =
        run(sandbox_with_reminders(Some("http://192.0.2.1/dev/reminders".into())).await).await;
    assert_eq!(status, 409);
    assert!(answer["error"].as_str().unwrap().contains("loopback"));

    // Nothing listening: a 502 that says so.
    let closed = sandbox::loopback_listener().await.unwrap();
    let dead = format!("http://{}/dev/reminders", closed.local_addr().unwrap());
    drop(closed);
    let (status, answer) = run(sandbox_with_reminders(Some(dead)).await).await;
    assert_eq!(status, 502, "{answer}");
    assert!(answer["error"]
        .as_str()
        .unwrap()
        .contains("could not reach"));
}

/// What the app under test heard: (`x-slack-retry-num`, `x-slack-retry-reason`, signature
/// valid, body).
type Heard = tokio::sync::mpsc::UnboundedReceiver<(Option<String>, Option<String>, bool, Value)>;

/// A stand-in app that keeps Slack's retry headers with each event.
async fn listening_app() -> (String, Heard) {
    use hmac::{Hmac, Mac};
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let handler = move |headers: axum::http::HeaderMap, body: String| {
        let sender = sender.clone();
        async move {
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"sandbox-signing-secret").unwrap();
            let timestamp = header("x-slack-request-timestamp").unwrap_or_default();
            mac.update(format!("v0:{timestamp}:{body}").as_bytes());
            let valid = header("x-slack-signature")
                == Some(format!("v0={}", hex::encode(mac.finalize().into_bytes())));
            let parsed = serde_json::from_str(&body).unwrap_or(Value::Null);
            let _ = sender.send((
                header("x-slack-retry-num"),
                header("x-slack-retry-reason"),
                valid,
                parsed,
            ));
            ""
        }
    };
    let listener = sandbox::loopback_listener().await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new().fallback(axum::routing::post(handler));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("{base}/slack/events"), receiver)
}

/// The next event the app hears, waiting at most five seconds (for events sent after a Web
/// API call was answered).
async fn next_heard(heard: &mut Heard) -> (Option<String>, Option<String>, bool, Value) {
    tokio::time::timeout(std::time::Duration::from_secs(5), heard.recv())
        .await
        .expect("an event within 5 s")
        .expect("the app is listening")
}

async fn ui(base: &str, path: &str, body: Value) -> (u16, Value) {
    control(base, path, &body.to_string()).await
}

/// A bot token issued through the authorize page and `oauth.v2.access`, granted `scope`.
async fn installed_token(base: &str, scope: &str) -> String {
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let allowed = no_redirects
        .post(format!("{base}/oauth/v2/authorize"))
        .form(&[
            ("scope", scope),
            ("redirect_uri", "http://127.0.0.1:1/cb"),
            ("state", "s1"),
            ("team_id", "T0SANDBOX"),
            ("user_id", "U0ANA"),
            ("decision", "allow"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 302);
    let location = reqwest::Url::parse(allowed.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(key, _)| key == "code")
        .map(|(_, code)| code.into_owned())
        .unwrap();
    let (_, _, installed) = call(
        base,
        "oauth.v2.access",
        None,
        json!({"client_id": "1111.2222", "client_secret": "sandbox-client-secret",
               "code": code, "redirect_uri": "http://127.0.0.1:1/cb"}),
    )
    .await;
    assert_eq!(installed["scope"], scope, "{installed}");
    installed["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn conversations_join_adds_the_bot_and_private_channels_stay_hidden() {
    let (slack, base, token) = started().await;
    let members = |channel: &str| slack.channel("T0SANDBOX", channel).unwrap().members;
    assert!(!members("C0APPROVALS").contains(&"U0BOT".to_owned()));
    assert_eq!(members("C0FINANCE"), ["U0ANA", "U0CARA"]);
    let join = |channel: &'static str| {
        let (base, token) = (base.clone(), token.clone());
        async move {
            call(
                &base,
                "conversations.join",
                Some(&token),
                json!({"channel": channel}),
            )
            .await
            .2
        }
    };

    let first = join("C0APPROVALS").await;
    assert_eq!(first["ok"], true, "{first}");
    for (field, value) in [
        ("id", json!("C0APPROVALS")),
        ("name", json!("approvals")),
        ("is_channel", json!(true)),
        ("is_private", json!(false)),
        ("is_member", json!(true)),
    ] {
        assert_eq!(first["channel"][field], value, "{field}: {first}");
    }
    assert!(first.get("warning").is_none());
    assert!(members("C0APPROVALS").contains(&"U0BOT".to_owned()));
    let again = join("C0APPROVALS").await;
    assert_eq!(
        (again["ok"].as_bool(), again["warning"].as_str()),
        (Some(true), Some("already_in_channel")),
        "joining twice is no error: {again}"
    );
    assert_eq!(
        members("C0APPROVALS")
            .iter()
            .filter(|m| *m == "U0BOT")
            .count(),
        1
    );

    assert_eq!(
        join("C0FINANCE").await,
        json!({"ok": false, "error": "method_not_supported_for_channel_type"})
    );
    call(
        &base,
        "conversations.open",
        Some(&token),
        json!({"users": "U0BEN"}),
    )
    .await;
    assert_eq!(
        join("D0BEN").await["error"],
        "method_not_supported_for_channel_type"
    );
    assert_eq!(join("C0NOPE").await["error"], "channel_not_found");

    // A private channel the bot is not in does not exist for it; an invite changes that.
    let info = |channel: &'static str| {
        let (base, token) = (base.clone(), token.clone());
        async move {
            call(
                &base,
                "conversations.info",
                Some(&token),
                json!({"channel": channel}),
            )
            .await
            .2
        }
    };
    let post = json!({"channel": "C0FINANCE", "text": "Budget request"});
    assert_eq!(
        call(&base, "chat.postMessage", Some(&token), post.clone())
            .await
            .2,
        json!({"ok": false, "error": "channel_not_found"})
    );
    assert_eq!(info("C0FINANCE").await["error"], "channel_not_found");
    let general = info("C0GENERAL").await;
    assert_eq!(
        (
            general["channel"]["is_member"].as_bool(),
            general["channel"]["is_private"].as_bool()
        ),
        (Some(false), Some(false)),
        "{general}"
    );
    let (status, invited) = ui(
        &base,
        "/_sandbox/channels/C0FINANCE/invite-app",
        json!({"team": "T0SANDBOX"}),
    )
    .await;
    assert_eq!(
        (status, &invited["invited"]),
        (200, &json!(true)),
        "{invited}"
    );
    assert_eq!(invited["members"], json!(["U0ANA", "U0CARA", "U0BOT"]));
    let finance = info("C0FINANCE").await;
    for (field, value) in [
        ("is_channel", json!(true)),
        ("is_group", json!(false)),
        ("is_im", json!(false)),
        ("is_private", json!(true)),
        ("is_member", json!(true)),
        ("is_archived", json!(false)),
    ] {
        assert_eq!(finance["channel"][field], value, "{field}: {finance}");
    }
    let (_, _, posted) = call(&base, "chat.postMessage", Some(&token), post).await;
    assert_eq!(posted["ok"], true, "{posted}");
    let dm = info("D0BEN").await;
    assert_eq!(
        (
            dm["channel"]["is_im"].as_bool(),
            dm["channel"]["user"].as_str()
        ),
        (Some(true), Some("U0BEN"))
    );

    // The control's refusals name what was wrong; an invite without a team finds it.
    let (status, again) = control(&base, "/_sandbox/channels/C0FINANCE/invite-app", "").await;
    assert_eq!((status, &again["invited"]), (200, &json!(false)), "{again}");
    for (path, body, expected, field) in [
        ("/_sandbox/channels/C0NOPE/invite-app", "{}", 404, "channel"),
        (
            "/_sandbox/channels/C0GENERAL/invite-app",
            r#"{"team": "TNOPE"}"#,
            404,
            "team",
        ),
        (
            "/_sandbox/channels/C0GENERAL/invite-app",
            r#"{"team": 5}"#,
            400,
            "team",
        ),
        ("/_sandbox/channels/C0GENERAL/invite-app", "[", 400, "JSON"),
    ] {
        let (status, answer) = control(&base, path, body).await;
        assert_eq!(status, expected, "{path} {body}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(field),
            "{answer}"
        );
    }
    // Recorded like every method, and faults apply.
    slack.inject(
        "conversations.join",
        Fault::Error {
            code: "ratelimited".into(),
        },
        1,
    );
    assert_eq!(join("C0GENERAL").await["error"], "ratelimited");
    assert_eq!(slack.calls(Some("conversations.join")).len(), 6);
}

#[tokio::test]
async fn scopes_granted_at_install_are_checked() {
    let (_, base, _) = started().await;
    let token = installed_token(&base, "chat:write,chat:write.public,files:write").await;
    let (status, _, refused) = call(
        &base,
        "conversations.join",
        Some(&token),
        json!({"channel": "C0APPROVALS"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        refused,
        json!({"ok": false, "error": "missing_scope", "needed": "channels:join",
               "provided": "chat:write,chat:write.public,files:write"})
    );
    let (_, _, info) = call(
        &base,
        "conversations.info",
        Some(&token),
        json!({"channel": "C0APPROVALS"}),
    )
    .await;
    assert_eq!(
        (info["error"].as_str(), info["needed"].as_str()),
        (Some("missing_scope"), Some("channels:read"))
    );
    let (_, _, slot) = call(
        &base,
        "files.getUploadURLExternal",
        Some(&token),
        json!({"filename": "a.txt", "length": 1}),
    )
    .await;
    assert_eq!(slot["ok"], true, "files:write granted: {slot}");

    // Without chat:write.customize a username is ignored, silently, as Slack does.
    let (_, _, posted) = call(
        &base,
        "chat.postMessage",
        Some(&token),
        json!({"channel": "C0APPROVALS", "text": "hi", "username": "Pat via Host"}),
    )
    .await;
    assert_eq!(posted["ok"], true, "{posted}");
    assert!(posted["message"].get("username").is_none());

    let customizing = installed_token(&base, "chat:write,chat:write.customize,channels:join").await;
    assert_eq!(
        call(
            &base,
            "conversations.join",
            Some(&customizing),
            json!({"channel": "C0APPROVALS"})
        )
        .await
        .2["ok"],
        true
    );
    let (_, _, slot) = call(
        &base,
        "files.getUploadURLExternal",
        Some(&customizing),
        json!({"filename": "a.txt", "length": 1}),
    )
    .await;
    assert_eq!(
        (slot["error"].as_str(), slot["needed"].as_str()),
        (Some("missing_scope"), Some("files:write"))
    );
    let (_, _, posted) = call(
        &base,
        "chat.postMessage",
        Some(&customizing),
        json!({"channel": "C0APPROVALS", "text": "hi", "username": "Pat via Host"}),
    )
    .await;
    assert_eq!(posted["message"]["username"], "Pat via Host", "{posted}");
    let page = reqwest::get(format!("{base}/?channel=C0APPROVALS"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(
            "<span class=\"author\">Pat via Host</span> <span class=\"badge\">APP</span>"
        ),
        "the chosen name, still with the APP badge"
    );
}

#[tokio::test]
async fn files_share_only_where_the_bot_is_once_and_are_served() {
    let (slack, base, token) = started().await;
    let (_, _, parent) = call(
        &base,
        "chat.postMessage",
        Some(&token),
        json!({"channel": "C0APPROVALS", "text": "deal"}),
    )
    .await;
    let upload =
        |filename: &'static str, bytes: &'static [u8], content_type: Option<&'static str>| {
            let (base, token) = (base.clone(), token.clone());
            async move {
                let (_, _, slot) = call(
                    &base,
                    "files.getUploadURLExternal",
                    Some(&token),
                    json!({"filename": filename, "length": bytes.len()}),
                )
                .await;
                let mut request = reqwest::Client::new()
                    .post(slot["upload_url"].as_str().unwrap())
                    .body(bytes);
                if let Some(content_type) = content_type {
                    request = request.header("content-type", content_type);
                }
                assert_eq!(request.send().await.unwrap().status(), 200);
                slot["file_id"].as_str().unwrap().to_owned()
            }
        };
    let complete = |file_id: String, channel: &'static str| {
        let (base, token, thread) = (base.clone(), token.clone(), parent["ts"].clone());
        async move {
            call(
                &base,
                "files.completeUploadExternal",
                Some(&token),
                json!({"files": [{"id": file_id, "title": "Deal PDF"}],
                       "channel_id": channel, "thread_ts": thread}),
            )
            .await
            .2
        }
    };
    let pdf = upload("deal.pdf", b"%PDF-1.4 sandbox", None).await;
    assert_eq!(
        complete(pdf.clone(), "C0APPROVALS").await,
        json!({"ok": false, "error": "not_in_channel"})
    );
    assert_eq!(
        complete(pdf.clone(), "C0FINANCE").await["error"],
        "not_in_channel"
    );
    call(
        &base,
        "conversations.join",
        Some(&token),
        json!({"channel": "C0APPROVALS"}),
    )
    .await;
    let done = complete(pdf.clone(), "C0APPROVALS").await;
    assert_eq!(
        done,
        json!({"ok": true, "files": [{"id": pdf, "title": "Deal PDF"}]})
    );
    assert_eq!(
        complete(pdf.clone(), "C0APPROVALS").await,
        json!({"ok": false, "error": "file_not_found"}),
        "the upload ticket works once"
    );

    // The share is one message in the thread, with Slack's file fields.
    let shares: Vec<_> = slack
        .messages("C0APPROVALS")
        .into_iter()
        .filter(|m| !m.files.is_empty())
        .collect();
    assert_eq!(shares.len(), 1);
    assert_eq!(shares[0].thread_ts.as_deref(), parent["ts"].as_str());
    let file = &shares[0].files[0];
    assert_eq!(
        (
            file.name.as_str(),
            file.title.as_str(),
            file.mimetype.as_str(),
            file.size
        ),
        ("deal.pdf", "Deal PDF", "application/pdf", 16)
    );
    assert_eq!(file.url_private, format!("{base}/files/{pdf}/deal.pdf"));
    let served = reqwest::get(&file.url_private).await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "application/pdf");
    assert_eq!(served.bytes().await.unwrap().as_ref(), b"%PDF-1.4 sandbox");
    let page = reqwest::get(format!("{base}/?channel=C0APPROVALS"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!("<div class=\"file\" data-file-id=\"{pdf}\">")));
    assert!(page.contains("class=\"file-preview\""));

    // Without an extension the upload's content type is kept; DMs need no join.
    let notes = upload("notes", b"plain words", Some("text/plain; charset=utf-8")).await;
    for (path, expected) in [
        (format!("/files/{notes}/notes"), 404),
        ("/files/FNOPE/notes".to_owned(), 404),
    ] {
        let answer = reqwest::get(format!("{base}{path}")).await.unwrap();
        assert_eq!(answer.status(), expected, "before completion: {path}");
    }
    let (_, _, in_dm) = call(
        &base,
        "files.completeUploadExternal",
        Some(&token),
        json!({"files": [{"id": notes}], "channel_id": "U0BEN"}),
    )
    .await;
    assert_eq!(in_dm["ok"], true, "{in_dm}");
    let served = reqwest::get(format!("{base}/files/{notes}/notes"))
        .await
        .unwrap();
    assert_eq!(served.headers()["content-type"], "text/plain");
    assert_eq!(
        reqwest::get(format!("{base}/files/{notes}/other-name"))
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(slack.messages("D0BEN")[0].files[0].title, "notes");
}

#[tokio::test]
async fn replies_reach_the_app_only_from_conversations_it_is_in() {
    let (slack, base, token) = started().await;
    let (url, mut heard) = listening_app().await;
    let (_, _, parent) = call(
        &base,
        "chat.postMessage",
        Some(&token),
        json!({"channel": "C0APPROVALS", "text": "Approve the Initech deal?"}),
    )
    .await;
    let thread = parent["ts"].as_str().unwrap().to_owned();
    slack.set_events_url(Some(url));
    let reply = |user: &'static str, text: &'static str| {
        let (base, thread) = (base.clone(), thread.clone());
        async move {
            ui(
                &base,
                "/_sandbox/ui/reply",
                json!({"channel": "C0APPROVALS", "thread_ts": thread, "user": user, "text": text}),
            )
            .await
        }
    };

    let (status, answer) = reply("U0BEN", "before the invite").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["reason"],
        "the app is not in #approvals, so Slack sends it no message events"
    );
    assert_eq!(answer["sent"], Value::Null);
    assert!(answer["ts"].is_string(), "stored all the same: {answer}");
    assert!(heard.try_recv().is_err());
    assert_eq!(slack.messages("C0APPROVALS").len(), 2);

    let (status, _) = control(&base, "/_sandbox/channels/C0APPROVALS/invite-app", "{}").await;
    assert_eq!(status, 200);
    let (_, answer) = reply("U0BEN", "Why so <big>? cc <@U0CARA> & <@U0ANA>").await;
    assert_eq!(
        (answer["sent"].as_str(), answer["status"].as_u64()),
        (Some("message"), Some(200)),
        "{answer}"
    );
    let (retry, _, valid, callback) = heard.try_recv().unwrap();
    assert!(valid && retry.is_none());
    assert_eq!(callback["event_id"], answer["event_id"]);
    let event = &callback["event"];
    for (field, value) in [
        ("type", json!("message")),
        ("channel", json!("C0APPROVALS")),
        ("channel_type", json!("channel")),
        ("user", json!("U0BEN")),
        ("team", json!("T0SANDBOX")),
        ("thread_ts", json!(thread)),
        ("parent_user_id", json!("U0BOT")),
        (
            "text",
            json!("Why so &lt;big&gt;? cc <@U0CARA> &amp; <@U0ANA>"),
        ),
    ] {
        assert_eq!(event[field], value, "{field}: {event}");
    }
    assert_eq!(event["ts"], answer["ts"]);
    assert_eq!(event["event_ts"], answer["ts"]);
    let client_msg_id = event["client_msg_id"].as_str().unwrap();
    assert_eq!(
        client_msg_id.split('-').map(str::len).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12],
        "{client_msg_id}"
    );
    let elements = &event["blocks"][0]["elements"][0]["elements"];
    assert_eq!(elements[1], json!({"type": "user", "user_id": "U0CARA"}));
    assert_eq!(
        elements[0],
        json!({"type": "text", "text": "Why so <big>? cc "})
    );

    // A private channel: only its people write there; the app hears once invited.
    let (_, _, budget) = call(
        &base,
        "chat.postMessage",
        Some(&token),
        json!({"channel": "C0FINANCE", "text": "x"}),
    )
    .await;
    assert_eq!(budget["error"], "channel_not_found");
    assert!(slack.invite_app("T0SANDBOX", "C0FINANCE").unwrap());
    // The app's own post in a channel it is in comes back to it, after the answer.
    let (_, _, budget) = call(
        &base,
        "chat.postMessage",
        Some(&token),
        json!({"channel": "C0FINANCE", "text": "Budget request"}),
    )
    .await;
    let (_, _, _, own) = next_heard(&mut heard).await;
    assert_eq!(own["event"]["bot_id"], "B0BOT");
    assert_eq!(own["event"]["channel_type"], "group");
    let ts = budget["ts"].as_str().unwrap().to_owned();
    let (status, refused) = ui(
        &base,
        "/_sandbox/ui/reply",
        json!({"channel": "C0FINANCE", "thread_ts": ts, "user": "U0BEN", "text": "hi"}),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["error"]
        .as_str()
        .unwrap()
        .starts_with("user: U0BEN is not in"));
    let (_, answer) = ui(
        &base,
        "/_sandbox/ui/reply",
        json!({"channel": "C0FINANCE", "thread_ts": ts, "user": "U0CARA", "text": "ok"}),
    )
    .await;
    assert_eq!(answer["sent"], "message", "{answer}");
    assert_eq!(
        heard.try_recv().unwrap().3["event"]["channel_type"],
        "group"
    );
}

#[tokio::test]
async fn the_apps_own_posts_come_back_as_message_events() {
    let (slack, base, token) = started().await;
    let (url, mut heard) = listening_app().await;
    slack.set_events_url(Some(url));
    // Not in #approvals: nothing comes back; a DM always does.
    let (_, _, in_channel) = call(
        &base,
        "chat.postMessage",
        Some(&token),
        json!({"channel": "C0APPROVALS", "text": "to the channel"}),
    )
    .await;
    let (_, _, in_dm) = call(
        &base,
        "chat.postMessage",
        Some(&token),
        json!({"channel": "U0BEN", "text": "to Ben", "username": "Pat via Host"}),
    )
    .await;
    let (_, _, valid, callback) = next_heard(&mut heard).await;
    assert!(valid);
    let event = &callback["event"];
    assert_eq!(event["ts"], in_dm["ts"], "only the DM's post: {event}");
    for (field, value) in [
        ("type", json!("message")),
        ("subtype", json!("bot_message")),
        ("username", json!("Pat via Host")),
        ("channel", json!("D0BEN")),
        ("channel_type", json!("im")),
        ("user", json!("U0BOT")),
        ("bot_id", json!("B0BOT")),
        ("app_id", json!("A0SANDBOX")),
        ("text", json!("to Ben")),
    ] {
        assert_eq!(event[field], value, "{field}: {event}");
    }
    assert_eq!(event["event_ts"], in_dm["ts"]);
    assert!(event.get("thread_ts").is_none());
    assert_ne!(in_channel["ts"], in_dm["ts"]);
    assert_eq!(
        call(&base, "auth.test", Some(&token), json!({})).await.2["bot_id"],
        "B0BOT",
        "auth.test names the bot id the events carry"
    );

    // Joined: a thread post comes back too, with its thread and no subtype.
    call(
        &base,
        "conversations.join",
        Some(&token),
        json!({"channel": "C0APPROVALS"}),
    )
    .await;
    let (_, _, threaded) = call(
        &base,
        "chat.postMessage",
        Some(&token),
        json!({"channel": "C0APPROVALS", "text": "Approved", "thread_ts": in_channel["ts"]}),
    )
    .await;
    let (_, _, _, callback) = next_heard(&mut heard).await;
    assert_eq!(callback["event"]["ts"], threaded["ts"]);
    assert_eq!(callback["event"]["thread_ts"], in_channel["ts"]);
    assert_eq!(callback["event"]["channel_type"], "channel");
    assert!(callback["event"].get("subtype").is_none());
    assert!(
        heard.try_recv().is_err(),
        "the post in #approvals never came"
    );

    // An app that is down costs the call nothing.
    slack.set_events_url(Some("http://127.0.0.1:1/slack/events".into()));
    let (status, _, posted) = call(
        &base,
        "chat.postMessage",
        Some(&token),
        json!({"channel": "C0APPROVALS", "text": "still fine"}),
    )
    .await;
    assert_eq!((status, &posted["ok"]), (200, &json!(true)));
}

#[tokio::test]
async fn edits_and_deletes_by_their_author_send_slacks_events() {
    let (slack, base, token) = started().await;
    let (url, mut heard) = listening_app().await;
    let (_, _, parent) = call(
        &base,
        "chat.postMessage",
        Some(&token),
        json!({"channel": "C0APPROVALS", "text": "Approve?"}),
    )
    .await;
    let thread = parent["ts"].as_str().unwrap().to_owned();
    slack.invite_app("T0SANDBOX", "C0APPROVALS").unwrap();
    slack.set_events_url(Some(url));
    let (_, replied) = ui(
        &base,
        "/_sandbox/ui/reply",
        json!({"channel": "C0APPROVALS", "thread_ts": thread, "user": "U0BEN", "text": "first"}),
    )
    .await;
    let original = heard.try_recv().unwrap().3["event"].clone();
    let ts = replied["ts"].as_str().unwrap().to_owned();

    let (status, refused) = ui(
        &base,
        "/_sandbox/ui/edit",
        json!({"channel": "C0APPROVALS", "ts": ts, "user": "U0ANA", "text": "hijacked"}),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["error"]
        .as_str()
        .unwrap()
        .starts_with("user: only the message's author"));
    let (status, answer) = ui(
        &base,
        "/_sandbox/ui/edit",
        json!({"channel": "C0APPROVALS", "ts": ts, "user": "U0BEN", "text": "second <@U0ANA>"}),
    )
    .await;
    assert_eq!(
        (status, answer["sent"].as_str()),
        (200, Some("message_changed")),
        "{answer}"
    );
    let edit_ts = answer["edited_ts"].as_str().unwrap().to_owned();
    let event = heard.try_recv().unwrap().3["event"].clone();
    assert!(event.get("user").is_none(), "no top-level user: {event}");
    for (field, value) in [
        ("type", json!("message")),
        ("subtype", json!("message_changed")),
        ("hidden", json!(true)),
        ("channel", json!("C0APPROVALS")),
        ("channel_type", json!("channel")),
        ("ts", json!(edit_ts)),
        ("event_ts", json!(edit_ts)),
    ] {
        assert_eq!(event[field], value, "{field}: {event}");
    }
    let message = &event["message"];
    for (field, value) in [
        ("type", json!("message")),
        ("user", json!("U0BEN")),
        ("text", json!("second <@U0ANA>")),
        ("ts", json!(ts)),
        ("thread_ts", json!(thread)),
        ("client_msg_id", original["client_msg_id"].clone()),
        ("edited", json!({"user": "U0BEN", "ts": edit_ts})),
    ] {
        assert_eq!(message[field], value, "{field}: {message}");
    }
    let previous = &event["previous_message"];
    assert_eq!(
        (
            previous["text"].as_str(),
            previous["ts"].as_str(),
            previous["thread_ts"].as_str()
        ),
        (Some("first"), Some(ts.as_str()), Some(thread.as_str()))
    );
    let stored = slack.message("C0APPROVALS", &ts).unwrap();
    assert_eq!((stored.text.as_str(), stored.edits), ("second <@U0ANA>", 1));
    let page = reqwest::get(format!("{base}/?channel=C0APPROVALS&user=U0BEN"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!("class=\"edit-reply\" data-ts=\"{ts}\"")));
    assert!(page.contains(&format!("class=\"delete-reply\" data-ts=\"{ts}\"")));
    assert!(page.contains("(edited)"));

    let (status, _) = ui(
        &base,
        "/_sandbox/ui/delete",
        json!({"channel": "C0APPROVALS", "ts": ts, "user": "U0CARA"}),
    )
    .await;
    assert_eq!(status, 400);
    let (status, answer) = ui(
        &base,
        "/_sandbox/ui/delete",
        json!({"channel": "C0APPROVALS", "ts": ts, "user": "U0BEN"}),
    )
    .await;
    assert_eq!(
        (status, answer["sent"].as_str()),
        (200, Some("message_deleted")),
        "{answer}"
    );
    let event = heard.try_recv().unwrap().3["event"].clone();
    assert!(event.get("user").is_none(), "{event}");
    for (field, value) in [
        ("subtype", json!("message_deleted")),
        ("hidden", json!(true)),
        ("channel_type", json!("channel")),
        ("deleted_ts", json!(ts)),
        ("ts", answer["ts"].clone()),
        ("event_ts", answer["ts"].clone()),
    ] {
        assert_eq!(event[field], value, "{field}: {event}");
    }
    assert_eq!(event["previous_message"]["text"], "second <@U0ANA>");
    assert_eq!(event["previous_message"]["user"], "U0BEN");
    assert_eq!(event["previous_message"]["thread_ts"], json!(thread));
    assert!(slack.message("C0APPROVALS", &ts).is_none());

    // Refusals name the field; nothing is sent for them.
    for (path, body, expected) in [
        (
            "/_sandbox/ui/edit",
            json!({"channel": "C0APPROVALS", "ts": ts, "user": "U0BEN", "text": "x"}),
            404,
        ),
        (
            "/_sandbox/ui/delete",
            json!({"channel": "C0APPROVALS", "ts": ts, "user": "U0BEN"}),
            404,
        ),
        (
            "/_sandbox/ui/edit",
            json!({"channel": "C0APPROVALS", "ts": ts, "user": "U0BEN"}),
            400,
        ),
        (
            "/_sandbox/ui/edit",
            json!({"channel": "C0APPROVALS", "ts": thread, "user": "U0BEN", "text": " "}),
            400,
        ),
    ] {
        let (status, answer) = ui(&base, path, body.clone()).await;
        assert_eq!(status, expected, "{body}: {answer}");
        assert!(
            answer["error"]
                .as_str()
                .is_some_and(|e| e.contains("ts") || e.contains("text")),
            "{answer}"
        );
    }
    assert!(heard.try_recv().is_err());
}

#[tokio::test]
async fn sent_events_can_be_resent_as_retries_or_under_a_new_id() {
    let (slack, base, token) = started().await;
    let (url, mut heard) = listening_app().await;
    let (_, _, parent) = call(
        &base,
        "chat.postMessage",
        Some(&token),
        json!({"channel": "U0BEN", "text": "Approve?"}),
    )
    .await;
    slack.set_events_url(Some(url));
    let (_, replied) = ui(
        &base,
        "/_sandbox/ui/reply",
        json!({"channel": "D0BEN", "thread_ts": parent["ts"], "user": "U0BEN", "text": "yes"}),
    )
    .await;
    let first = heard.try_recv().unwrap();
    let event_id = replied["event_id"].as_str().unwrap().to_owned();
    assert_eq!(first.3["event_id"], json!(event_id));
    let listed: Value = reqwest::get(format!("{base}/_sandbox/events-sent"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let last = listed.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (
            last["event_id"].as_str(),
            last["type"].as_str(),
            last["status"].as_u64()
        ),
        (Some(event_id.as_str()), Some("message"), Some(200)),
        "{last}"
    );
    assert_eq!(last["body"], first.3);

    let resend = |new: Option<bool>| {
        let (base, event_id) = (base.clone(), event_id.clone());
        async move {
            let body = new
                .map(|new| json!({"new_event_id": new}).to_string())
                .unwrap_or_default();
            control(
                &base,
                &format!("/_sandbox/events-sent/{event_id}/resend"),
                &body,
            )
            .await
        }
    };
    for expected in ["1", "2"] {
        let (status, answer) = resend(Some(false)).await;
        assert_eq!(
            (status, answer["status"].as_u64()),
            (200, Some(200)),
            "{answer}"
        );
        assert_eq!(answer["event_id"], json!(event_id));
        let (retry, reason, valid, body) = heard.try_recv().unwrap();
        assert!(valid, "signed afresh");
        assert_eq!(
            (retry.as_deref(), reason.as_deref()),
            (Some(expected), Some("http_timeout"))
        );
        assert_eq!(body, first.3, "the same envelope, same event_id");
    }
    let (_, answer) = resend(None).await;
    assert_eq!(answer["retry_num"], 3, "no body: a retry, as with false");
    heard.try_recv().unwrap();

    let (status, answer) = resend(Some(true)).await;
    assert_eq!(status, 200, "{answer}");
    let (retry, reason, _, body) = heard.try_recv().unwrap();
    assert_eq!((retry, reason), (None, None));
    assert_ne!(body["event_id"], json!(event_id));
    assert_eq!(answer["event_id"], body["event_id"]);
    assert_eq!(body["event"], first.3["event"], "the same event");
    assert_eq!(slack.events_sent().len(), 5);

    let page = reqwest::get(format!("{base}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!(
        "<button type=\"button\" class=\"resend-same\" data-event-id=\"{event_id}\">Resend (same id)</button>"
    )));
    assert!(page.contains("class=\"resend-new\""));

    for (path, body, expected) in [
        ("/_sandbox/events-sent/EvNOPE/resend", "{}", 404),
        (
            &format!("/_sandbox/events-sent/{event_id}/resend") as &str,
            r#"{"new_event_id": "yes"}"#,
            400,
        ),
    ] {
        let (status, answer) = control(&base, path, body).await;
        assert_eq!(status, expected, "{answer}");
        assert!(answer["error"]
            .as_str()
            .unwrap()
            .contains(if expected == 404 {
                "EvNOPE"
            } else {
                "new_event_id"
            }));
    }
    slack.set_events_url(None);
    let (status, answer) = resend(Some(false)).await;
    assert_eq!(status, 409, "{answer}");
}

#[tokio::test]
async fn the_reply_box_offers_people_to_mention() {
    let (_, base, token) = started().await;
    call(
        &base,
        "chat.postMessage",
        Some(&token),
        json!({"channel": "C0APPROVALS", "text": "x"}),
    )
    .await;
    let page = reqwest::get(format!("{base}/?channel=C0APPROVALS&user=U0ANA"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"mention-picker\""));
    assert!(page.contains(
        "<li class=\"mention-option\" role=\"option\" id=\"mention-U0BEN\" data-user=\"U0BEN\" data-name=\"ben\""
    ));
    for absent in ["U0GONE", "U0BOT", "USLACKBOT"] {
        assert!(
            !page.contains(&format!("data-user=\"{absent}\" data-name")),
            "{absent}"
        );
    }
    for id in [
        "reply-text",
        "reply-edit-ts",
        "reply-submit",
        "channel-status",
        "invite-app",
        "events-sent-list",
    ] {
        assert!(page.contains(&format!("id=\"{id}\"")), "{id}");
    }
    assert!(page.contains("The app is not in this public channel"));
    assert!(page.contains("🔒finance-private (private)"));
}
