//! The host API's refusals and idempotency, against moto and the Slack sandbox.

use crate::common::{http_event, invoke, Stack};
use serde_json::json;

#[tokio::test]
async fn a_bad_signature_is_401_and_stores_nothing() {
    let stack = Stack::start().await;
    let body = stack.approval_body("DR-UNSIGNED").to_string();
    let now = approvals_core::time::unix_now().to_string();
    let forged = approvals_core::signing::sign_host_request(
        b"not-the-secret",
        approvals_core::time::unix_now(),
        "POST",
        "/v1/approvals",
        body.as_bytes(),
    );
    for headers in [
        vec![],
        vec![
            ("x-approvals-timestamp", now.as_str()),
            ("x-approvals-signature", forged.as_str()),
        ],
    ] {
        let event = http_event("POST", "/v1/approvals", &headers, body.as_bytes(), false);
        let (status, answer) = invoke(&stack.api_router, event).await;
        assert_eq!(status, 401, "{answer}");
        assert_eq!(answer["error"], "invalid_signature");
    }
    let id = approvals_core::domain::approval_id_for(&stack.tenant_id, "DR-UNSIGNED");
    assert!(stack
        .approval_item(&id)
        .await
        .as_object()
        .unwrap()
        .is_empty());
    assert!(stack.slack.calls(Some("chat.postMessage")).is_empty());
}

#[tokio::test]
async fn invalid_input_is_400_naming_the_field() {
    let stack = Stack::start().await;
    let mut body = stack.approval_body("DR-BAD");
    body["fields"][1]["value"] = json!(12);
    let (status, answer) = stack.host_call("POST", "/v1/approvals", &body).await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"], "invalid_request");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .starts_with("fields[1].value"),
        "{answer}"
    );

    let mut body = stack.approval_body("DR-BAD");
    body.as_object_mut().unwrap().remove("title");
    let (status, answer) = stack.host_call("POST", "/v1/approvals", &body).await;
    assert_eq!(status, 400);
    assert!(
        answer["message"].as_str().unwrap().starts_with("title"),
        "{answer}"
    );
    assert!(stack.slack.calls(Some("chat.postMessage")).is_empty());
}

#[tokio::test]
async fn the_same_request_twice_is_one_approval_and_a_changed_one_conflicts() {
    let stack = Stack::start().await;
    let body = stack.approval_body("DR-TWICE");
    let (first_status, first) = stack.host_call("POST", "/v1/approvals", &body).await;
    let (again_status, again) = stack.host_call("POST", "/v1/approvals", &body).await;
    assert_eq!((first_status, again_status), (201, 200));
    assert_eq!(first, again);
    assert_eq!(first["status"], "pending");
    assert_eq!(stack.slack.calls(Some("chat.postMessage")).len(), 1);

    let mut changed = body.clone();
    changed["title"] = json!("Deal registration: Initech, $1");
    let (status, answer) = stack.host_call("POST", "/v1/approvals", &changed).await;
    assert_eq!(status, 409);
    assert_eq!(answer["error"], "conflict");
    assert_eq!(stack.slack.calls(Some("chat.postMessage")).len(), 1);
}

#[tokio::test]
async fn a_tenant_without_slack_gets_409_slack_not_connected() {
    let stack = Stack::start().await;
    let mut body = stack.approval_body("DR-NC");
    body["tenant_id"] = json!("tenant-never-connected");
    let (status, answer) = stack.host_call("POST", "/v1/approvals", &body).await;
    assert_eq!(status, 409);
    assert_eq!(answer["error"], "slack_not_connected");
}

#[tokio::test]
async fn the_channel_for_a_kind_is_used_when_none_is_given() {
    let stack = Stack::start().await;
    let path = format!("/v1/tenants/{}/channels/purchase_order", stack.tenant_id);
    let (status, _) = stack
        .host_call("PUT", &path, &json!({"channel_id": "C0GENERAL"}))
        .await;
    assert_eq!(status, 200);
    let (status, answer) = stack
        .host_call("PUT", &path, &json!({"channel_id": "general"}))
        .await;
    assert_eq!(status, 400);
    assert!(answer["message"]
        .as_str()
        .unwrap()
        .starts_with("channel_id"));

    let mut body = stack.approval_body("PO-7");
    body["kind"] = json!("purchase_order");
    body.as_object_mut().unwrap().remove("channel_id");
    let (status, answer) = stack.host_call("POST", "/v1/approvals", &body).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["slack"]["channel_id"], "C0GENERAL");

    let mut body = stack.approval_body("X-1");
    body["kind"] = json!("unrouted_kind");
    body.as_object_mut().unwrap().remove("channel_id");
    let (status, answer) = stack.host_call("POST", "/v1/approvals", &body).await;
    assert_eq!(status, 400);
    assert!(answer["message"]
        .as_str()
        .unwrap()
        .starts_with("channel_id"));
}

#[tokio::test]
async fn an_unknown_channel_is_400_and_a_corrected_retry_succeeds() {
    let stack = Stack::start().await;
    let mut body = stack.approval_body("DR-CH");
    body["channel_id"] = json!("C0NOSUCH");
    let (status, answer) = stack.host_call("POST", "/v1/approvals", &body).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["message"]
        .as_str()
        .unwrap()
        .contains("channel_not_found"));

    let (status, _) = stack
        .host_call("POST", "/v1/approvals", &stack.approval_body("DR-CH"))
        .await;
    assert_eq!(
        status, 201,
        "the failed attempt left nothing behind to conflict with"
    );
}

#[tokio::test]
async fn long_text_is_truncated_so_slack_accepts_it() {
    let stack = Stack::start().await;
    let mut body = stack.approval_body("DR-LONG");
    body["title"] = json!("T".repeat(2000));
    body["notes"] = json!("<n> & ".repeat(1500));
    body["fields"] = json!((0..20)
        .map(|i| json!({"label": format!("L{i}"), "value": "v".repeat(3000)}))
        .collect::<Vec<_>>());
    let (status, answer) = stack.host_call("POST", "/v1/approvals", &body).await;
    assert_eq!(status, 201, "{answer}");
    let calls = stack.slack.calls(Some("chat.postMessage"));
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].error, None, "Slack accepted the blocks");
    assert!(calls[0].params["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap()
        .ends_with('…'));
}

#[tokio::test]
async fn another_tenants_approval_reads_as_not_found() {
    let stack = Stack::start().await;
    let (id, _, _) = stack.create_approval("DR-MINE").await;
    let (status, answer) = stack
        .host_call(
            "GET",
            &format!("/v1/approvals/{id}?tenant_id=someone-else"),
            &json!(null),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(answer["error"], "not_found");
    let (status, _) = stack
        .host_call("GET", &format!("/v1/approvals/{id}"), &json!(null))
        .await;
    assert_eq!(status, 400);
    let (status, _) = stack
        .host_call("DELETE", "/v1/approvals", &json!(null))
        .await;
    assert_eq!(status, 405);
}

#[tokio::test]
async fn a_replayed_signed_request_is_refused_and_changes_nothing() {
    // GIVEN a signed install-link request, captured on its way
    let stack = Stack::start().await;
    let path = format!("/v1/tenants/{}/slack/install-links", stack.tenant_id);
    let body = json!({"return_url": "https://host.example/settings"}).to_string();
    let now = approvals_core::time::unix_now();
    let signature = approvals_core::signing::sign_host_request(
        stack.secrets.host_api_secret.as_bytes(),
        now,
        "POST",
        &path,
        body.as_bytes(),
    );
    let timestamp = now.to_string();
    let send = || {
        invoke(
            &stack.api_router,
            http_event(
                "POST",
                &path,
                &[
                    ("content-type", "application/json"),
                    ("x-approvals-timestamp", &timestamp),
                    ("x-approvals-signature", &signature),
                ],
                body.as_bytes(),
                false,
            ),
        )
    };
    let (status, first) = send().await;
    assert_eq!(status, 201, "{first}");

    // WHEN the same bytes come again within the five-minute window
    let (status, replayed) = send().await;

    // THEN they are refused, with no second link
    assert_eq!(status, 401, "{replayed}");
    assert_eq!(replayed["error"], "replayed");
    assert!(replayed.get("url").is_none());

    // AND a request signed anew still works, and reads stay repeatable
    let (status, _) = stack
        .host_call(
            "POST",
            &path,
            &json!({"return_url": "https://host.example/settings"}),
        )
        .await;
    assert_eq!(status, 201);
    let status_path = format!("/v1/tenants/{}/slack", stack.tenant_id);
    for _ in 0..2 {
        assert_eq!(
            stack
                .host_call("GET", &status_path, &serde_json::Value::Null)
                .await
                .0,
            200
        );
    }
}

#[tokio::test]
async fn an_unknown_field_is_refused_by_name_on_every_route_and_stores_nothing() {
    let stack = Stack::start().await;
    let mut approval = stack.approval_body("DR-TYPO");
    approval["note"] = json!("meant notes");
    let tenant = &stack.tenant_id;
    let cases = [
        ("POST", "/v1/approvals".to_owned(), approval, "note"),
        (
            "PUT",
            format!("/v1/tenants/{tenant}/channels/deal_registration"),
            json!({"channel_id": "C0APPROVALS", "channel": "x"}),
            "channel",
        ),
        (
            "POST",
            format!("/v1/tenants/{tenant}/slack/install-links"),
            json!({"return_url": "https://host.example/s", "returnUrl": "x"}),
            "returnUrl",
        ),
        (
            "PUT",
            format!("/v1/tenants/{tenant}/users"),
            json!({"users": [{"user_id": "u-1", "email": "a@b.example", "name": "A", "role": "x"}]}),
            "users[0].role",
        ),
        (
            "POST",
            "/v1/notifications".to_owned(),
            json!({"tenant_id": tenant, "external_id": "N-1", "kind": "k", "title": "t",
                   "recipients": {"channel_id": "C0APPROVALS"}, "priority": "high"}),
            "priority",
        ),
    ];
    for (method, path, body, field) in cases {
        let (status, answer) = stack.host_call(method, &path, &body).await;
        let message = answer["message"].as_str().unwrap_or_default();
        assert_eq!(status, 400, "{method} {path}: {answer}");
        assert!(
            message.starts_with(&format!("{field}: unknown field, expected")),
            "{method} {path}: {message}"
        );
    }
    let (status, _) = stack
        .host_call(
            "GET",
            &format!(
                "/v1/approvals/{}?tenant_id={tenant}",
                approval_id("DR-TYPO", tenant)
            ),
            &json!(null),
        )
        .await;
    assert_eq!(status, 404, "nothing was stored");
}

fn approval_id(external_id: &str, tenant: &str) -> String {
    approvals_core::domain::approval_id_for(tenant, external_id)
}

#[tokio::test]
async fn a_tenants_requests_are_listed_by_status_page_by_page_with_what_was_asked() {
    let stack = Stack::start().await;
    let mut ids = Vec::new();
    for external_id in ["DR-L1", "DR-L2", "DR-L3"] {
        ids.push(stack.create_approval(external_id).await);
    }
    let (first, channel, ts) = &ids[0];
    assert_eq!(stack.click(channel, ts, "approve", "U0ANA").await, 200);
    stack.host_events().await;
    let tenant = &stack.tenant_id;

    let mut pending = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..5 {
        let mut path = format!("/v1/approvals?tenant_id={tenant}&status=pending&limit=1");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let (status, page) = stack.host_call("GET", &path, &json!(null)).await;
        assert_eq!(status, 200, "{page}");
        let items = page["approvals"].as_array().unwrap();
        assert!(items.len() <= 1);
        pending.extend(
            items
                .iter()
                .map(|a| a["external_id"].as_str().unwrap().to_owned()),
        );
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    // Created within one second, so their order is the id's; each comes once.
    pending.sort();
    assert_eq!(pending, ["DR-L2", "DR-L3"], "each pending one once");

    let (status, approved) = stack
        .host_call(
            "GET",
            &format!("/v1/approvals?tenant_id={tenant}&status=approved"),
            &json!(null),
        )
        .await;
    assert_eq!(status, 200);
    let listed = &approved["approvals"][0];
    assert_eq!(listed["id"], first.as_str());
    assert_eq!(listed["title"], "Deal registration: Initech, $48,000");
    assert_eq!(listed["fields"][0]["label"], "Account");
    assert_eq!(listed["link"], "https://host.example/deals/1042");
    assert_eq!(listed["requester"]["email"], "pat@reseller.example");
    assert!(approved["next_cursor"].is_null());

    let (status, other) = stack
        .host_call("GET", "/v1/approvals?tenant_id=someone-else", &json!(null))
        .await;
    assert_eq!(
        (status, other["approvals"].as_array().unwrap().len()),
        (200, 0)
    );
    for (query, field) in [
        ("tenant_id=x&sort=new", "sort"),
        ("tenant_id=x&cursor=nope", "cursor"),
        ("tenant_id=x&status=open", "status"),
    ] {
        let (status, answer) = stack
            .host_call("GET", &format!("/v1/approvals?{query}"), &json!(null))
            .await;
        assert_eq!(status, 400);
        assert!(
            answer["message"].as_str().unwrap().starts_with(field),
            "{answer}"
        );
    }
}

#[tokio::test]
async fn a_millisecond_timestamp_is_told_to_use_seconds() {
    let stack = Stack::start().await;
    let millis = approvals_core::time::unix_now() * 1000;
    let signature = approvals_core::signing::sign_host_request(
        stack.secrets.host_api_secret.as_bytes(),
        millis,
        "GET",
        "/v1/approvals?tenant_id=acme",
        b"",
    );
    let event = http_event(
        "GET",
        "/v1/approvals?tenant_id=acme",
        &[
            ("X-Approvals-Timestamp", &millis.to_string()),
            ("X-Approvals-Signature", &signature),
        ],
        b"",
        false,
    );
    let (status, answer) = invoke(&stack.api_router, event).await;
    assert_eq!(status, 401);
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("expected unix seconds"),
        "{answer}"
    );
}
