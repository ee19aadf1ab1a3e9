//! The host stays in charge: it withdraws a request or decides it in its own screen, racing
//! safely with clicks in Slack.

use approvals_core::domain::TenantLink;
use serde_json::{json, Value};

use crate::common::{sqs_event, Stack};
use crate::people::{ephemeral_to, work};

async fn cancel(stack: &Stack, id: &str, body: Value) -> (u16, Value) {
    stack
        .host_call("POST", &format!("/v1/approvals/{id}/cancel"), &body)
        .await
}

async fn decide(stack: &Stack, id: &str, body: Value) -> (u16, Value) {
    stack
        .host_call("POST", &format!("/v1/approvals/{id}/decision"), &body)
        .await
}

fn text_of(stack: &Stack, channel: &str, ts: &str) -> String {
    let message = stack
        .slack
        .message(channel, ts)
        .expect("the message is there");
    format!("{} {}", message.text, message.blocks)
}

#[tokio::test]
async fn a_withdrawn_request_shows_it_everywhere_and_a_late_click_is_told() {
    let stack = Stack::start().await;
    let (id, channel, ts) = stack.create_approval("WD-1").await;

    let (status, body) = cancel(
        &stack,
        &id,
        json!({"tenant_id": stack.tenant_id, "reason": "the partner withdrew the deal"}),
    )
    .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "cancelled");
    let events = stack.host_events().await;
    let cancelled: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "approval.cancelled")
        .collect();
    assert_eq!(cancelled.len(), 1, "{events:?}");
    assert_eq!(
        cancelled[0]["data"]["reason"],
        "the partner withdrew the deal"
    );
    let shown = text_of(&stack, &channel, &ts);
    assert!(shown.contains("Withdrawn"), "{shown}");
    assert!(shown.contains("the partner withdrew the deal"), "{shown}");
    assert!(
        !shown.contains("\"action_id\":\"approve\""),
        "no buttons left: {shown}"
    );

    // Ana's screen had not refreshed: her click is told, and changes nothing.
    let body = stack
        .slack
        .click_payload(&channel, &ts, "approve", "U0ANA")
        .unwrap();
    assert_eq!(stack.interact(&body).await.0, 200);
    work(&stack).await;
    let told = ephemeral_to(&stack, &channel, "U0ANA");
    assert!(
        told.iter()
            .any(|t| t.contains("This request was withdrawn: *the partner withdrew the deal*")),
        "{told:?}"
    );
    assert_eq!(stack.approval_item(&id).await["status"], "cancelled");

    // Withdrawing again, or deciding now, is a 409 with how it ended.
    let (status, again) = cancel(&stack, &id, json!({"tenant_id": stack.tenant_id})).await;
    assert_eq!(status, 409, "{again}");
    assert_eq!(again["error"], "already_decided");
    assert_eq!(again["approval"]["status"], "cancelled");
    let (status, late) = decide(
        &stack,
        &id,
        json!({"tenant_id": stack.tenant_id, "decision": "approved", "user_id": "u-ana"}),
    )
    .await;
    assert_eq!(status, 409, "{late}");
}

#[tokio::test]
async fn another_tenants_request_is_not_found_and_bad_bodies_name_the_field() {
    let stack = Stack::start().await;
    let (id, _, _) = stack.create_approval("WD-2").await;

    let (status, body) = cancel(&stack, &id, json!({"tenant_id": "someone-else"})).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = cancel(
        &stack,
        "apr_not-an-id",
        json!({"tenant_id": stack.tenant_id}),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = decide(
        &stack,
        &id,
        json!({"tenant_id": stack.tenant_id, "decision": "maybe", "user_id": "u-ana"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().starts_with("decision"),
        "{body}"
    );
    let (status, body) = cancel(
        &stack,
        &id,
        json!({"tenant_id": stack.tenant_id, "why": "x"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().starts_with("why"),
        "{body}"
    );

    assert_eq!(
        stack.approval_item(&id).await["status"],
        "pending",
        "nothing changed"
    );
    assert!(stack.host_events().await.is_empty());
}

#[tokio::test]
async fn a_decision_in_the_host_names_who_and_where_and_the_webhook_says_host() {
    let stack = Stack::start().await;
    let path = format!("/v1/tenants/{}/users", stack.tenant_id);
    let users = json!({"users": [{"user_id": "u-ana", "email": "ana@sandbox.example", "name": "Ana Alvarez"}]});
    assert_eq!(stack.host_call("PUT", &path, &users).await.0, 200);
    let mut link = stack.store().link(&stack.tenant_id).await.unwrap().unwrap();
    link.tenant_name = Some("Acme".into());
    stack
        .store()
        .save_link(&TenantLink { ..link })
        .await
        .unwrap();
    let (id, channel, ts) = stack.create_approval("HD-1").await;

    let (status, body) = decide(
        &stack,
        &id,
        json!({"tenant_id": stack.tenant_id, "decision": "approved", "user_id": "u-ana"}),
    )
    .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "approved");
    let events = stack.host_events().await;
    let decided: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "approval.decided")
        .collect();
    assert_eq!(decided.len(), 1);
    assert_eq!(decided[0]["data"]["decided_by"]["source"], "host");
    assert_eq!(decided[0]["data"]["decided_by"]["user_id"], "u-ana");
    assert_eq!(decided[0]["data"]["decided_by"]["email"], Value::Null);
    let shown = text_of(&stack, &channel, &ts);
    assert!(shown.contains("Approved by Ana Alvarez in Acme"), "{shown}");
}

#[tokio::test]
async fn a_host_decision_racing_a_click_ends_the_request_exactly_once() {
    let stack = Stack::start().await;
    for n in 0..5 {
        let (id, channel, ts) = stack.create_approval(&format!("RACE-{n}")).await;
        let click_body = stack
            .slack
            .click_payload(&channel, &ts, "reject", "U0BEN")
            .unwrap();
        let host = decide(
            &stack,
            &id,
            json!({"tenant_id": stack.tenant_id, "decision": "approved", "user_id": "u-mgr"}),
        );
        let click = stack.interact(&click_body);
        let ((host_status, _), (click_status, _)) = tokio::join!(host, click);
        assert_eq!(click_status, 200);
        assert!(host_status == 200 || host_status == 409, "{host_status}");
        // The click's command and the host's follow-up may meet in one batch: whichever
        // leases an effect performs it, the other comes back later with nothing left to do.
        let records = stack.drain_queue().await;
        stack.worker.handle(sqs_event(records)).await;
        let events: Vec<Value> = stack.host.received().into_iter().map(|h| h.body).collect();
        let ended: Vec<&Value> = events
            .iter()
            .filter(|e| e["type"] == "approval.decided" && e["data"]["approval_id"] == id.as_str())
            .collect();
        assert_eq!(ended.len(), 1, "one outcome for {id}: {events:?}");
        let status = stack.approval_item(&id).await["status"].clone();
        assert_eq!(ended[0]["data"]["status"], status);
        // The host's answer agrees with what was stored.
        if host_status == 200 {
            assert_eq!(status, "approved");
        } else {
            assert_eq!(status, "rejected");
        }
    }
}

/// A request to expire at `at` (epoch seconds).
async fn expiring(stack: &Stack, external_id: &str, at: i64) -> (String, String, String) {
    let mut body = stack.approval_body(external_id);
    body["expires_at"] = json!(approvals_core::time::rfc3339(at));
    let (status, created) = stack.host_call("POST", "/v1/approvals", &body).await;
    assert_eq!(status, 201, "{created}");
    (
        created["id"].as_str().unwrap().into(),
        created["slack"]["channel_id"].as_str().unwrap().into(),
        created["slack"]["message_ts"].as_str().unwrap().into(),
    )
}

/// The 15-minute run for the quarter hour after `deadline`'s, and the worker's clock moved
/// to it (an expiry's follow-up is due from the run's time on).
async fn sweep_after(stack: &Stack, deadline: i64) -> approvals_core::usecases::deadlines::Swept {
    let slot = deadline - deadline.rem_euclid(900) + 900;
    let offset = slot + 60 - approvals_core::time::unix_now();
    stack
        .clock_offset
        .store(offset, std::sync::atomic::Ordering::SeqCst);
    let input = json!({"scheduled_time": approvals_core::time::rfc3339(slot)});
    crate::reminders::reminders(stack)
        .handle(&input)
        .await
        .expect("the run succeeds")
        .deadlines
}

#[tokio::test]
async fn a_request_expires_once_within_a_quarter_hour_of_its_deadline() {
    let stack = Stack::start().await;
    let deadline = approvals_core::time::unix_now() + 3600;
    let (id, channel, ts) = expiring(&stack, "EXP-1", deadline).await;
    let stored = stack.approval_item(&id).await;
    assert_eq!(stored["status"], "pending");
    assert_eq!(stored["deadline_at"], deadline);
    assert!(
        stored.get("expires_at").is_none(),
        "the table's TTL attribute would delete the request at its deadline"
    );

    let first = sweep_after(&stack, deadline).await;
    let again = sweep_after(&stack, deadline).await;

    assert!(first.expired >= 1, "{first:?}");
    assert_eq!(stack.approval_item(&id).await["status"], "expired");
    let records = stack.drain_queue().await;
    stack.worker.handle(sqs_event(records)).await;
    let expired: Vec<Value> = stack
        .host
        .received()
        .into_iter()
        .map(|h| h.body)
        .filter(|e| e["type"] == "approval.expired" && e["data"]["approval_id"] == id.as_str())
        .collect();
    assert_eq!(
        expired.len(),
        1,
        "one webhook, however often the sweep runs: {again:?}"
    );
    let shown = text_of(&stack, &channel, &ts);
    assert!(shown.contains("Expired"), "{shown}");
    assert!(
        !shown.contains("\"action_id\":\"approve\""),
        "no buttons left: {shown}"
    );
}

#[tokio::test]
async fn expiry_racing_a_click_ends_the_request_once() {
    let stack = Stack::start().await;
    let deadline = approvals_core::time::unix_now() + 7200;
    let mut requests = Vec::new();
    for n in 0..4 {
        requests.push(expiring(&stack, &format!("EXP-RACE-{n}"), deadline).await);
    }

    let stack = &stack;
    let clicks = futures::future::join_all(requests.iter().map(|(_, channel, ts)| {
        let body = stack
            .slack
            .click_payload(channel, ts, "approve", "U0ANA")
            .unwrap();
        async move { stack.interact(&body).await.0 }
    }));
    let (clicked, _) = tokio::join!(clicks, sweep_after(stack, deadline));
    assert!(clicked.iter().all(|status| *status == 200));
    let records = stack.drain_queue().await;
    stack.worker.handle(sqs_event(records)).await;

    let events: Vec<Value> = stack.host.received().into_iter().map(|h| h.body).collect();
    for (id, _, _) in &requests {
        let ended: Vec<&Value> = events
            .iter()
            .filter(|e| {
                (e["type"] == "approval.decided" || e["type"] == "approval.expired")
                    && e["data"]["approval_id"] == id.as_str()
            })
            .collect();
        let status = stack.approval_item(id).await["status"].clone();
        assert!(status == "approved" || status == "expired", "{status}");
        assert_eq!(ended.len(), 1, "one outcome for {id}: {ended:?}");
        assert_eq!(ended[0]["data"]["status"], status);
    }
}

#[tokio::test]
async fn a_deadline_in_the_past_too_far_ahead_or_unreadable_is_refused_by_field() {
    let stack = Stack::start().await;
    let now = approvals_core::time::unix_now();
    for (n, expires_at) in [
        json!(approvals_core::time::rfc3339(now - 60)),
        json!(approvals_core::time::rfc3339(now + 400 * 86_400)),
        json!("next tuesday"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut body = stack.approval_body(&format!("EXP-BAD-{n}"));
        body["expires_at"] = expires_at.clone();
        let (status, answer) = stack.host_call("POST", "/v1/approvals", &body).await;
        assert_eq!(status, 400, "{expires_at}: {answer}");
        assert!(
            answer["message"]
                .as_str()
                .unwrap()
                .starts_with("expires_at"),
            "{answer}"
        );
    }
    assert!(
        stack.slack.calls(Some("chat.postMessage")).is_empty(),
        "nothing posted"
    );
}

#[tokio::test]
async fn the_audit_trail_lists_what_happened_in_order_page_by_page() {
    let stack = Stack::start().await;
    let path = format!("/v1/tenants/{}/users", stack.tenant_id);
    let users =
        json!({"users": [{"user_id": "u-ana", "email": "ana@sandbox.example", "name": "Ana"}]});
    assert_eq!(stack.host_call("PUT", &path, &users).await.0, 200);
    let mut body = stack.approval_body("AUD-1");
    body["approvers"] = json!(["u-ana"]);
    let (status, created) = stack.host_call("POST", "/v1/approvals", &body).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let channel = created["slack"]["channel_id"].as_str().unwrap().to_owned();
    let ts = created["slack"]["message_ts"].as_str().unwrap().to_owned();
    // Ben is no approver: refused. Ana approves.
    assert_eq!(stack.click(&channel, &ts, "approve", "U0BEN").await, 200);
    work(&stack).await;
    assert_eq!(stack.click(&channel, &ts, "approve", "U0ANA").await, 200);
    work(&stack).await;

    let stack = &stack;
    let trail = |query: String| {
        let path = format!(
            "/v1/approvals/{id}/events?tenant_id={}{query}",
            stack.tenant_id
        );
        async move { stack.host_call("GET", &path, &Value::Null).await }
    };
    let (status, all) = trail(String::new()).await;
    assert_eq!(status, 200, "{all}");
    let kinds: Vec<&str> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    let position = |kind: &str| {
        kinds
            .iter()
            .position(|k| *k == kind)
            .unwrap_or_else(|| panic!("no {kind} in {kinds:?}"))
    };
    assert_eq!(kinds[0], "created", "{kinds:?}");
    assert!(
        position("copy_posted") < position("click_refused"),
        "{kinds:?}"
    );
    assert!(
        position("click_refused") < position("approved"),
        "{kinds:?}"
    );
    assert!(kinds.contains(&"effect_done"), "{kinds:?}");
    let refused = &all["events"][position("click_refused")];
    assert_eq!(refused["detail"]["slack_user_id"], "U0BEN");
    assert_eq!(refused["detail"]["reason"], "not_an_approver");
    let approved = &all["events"][position("approved")];
    assert_eq!(approved["detail"]["by"]["slack_user_id"], "U0ANA");
    let webhook = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["detail"]["effect"] == "deliver_event")
        .expect("the webhook's delivery is in the trail");
    assert_eq!(webhook["kind"], "effect_done");

    // Two at a time, the same events in the same order.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..50 {
        let query = match &cursor {
            Some(cursor) => format!("&limit=2&cursor={}", urlencode(cursor)),
            None => "&limit=2".into(),
        };
        let (status, page) = trail(query).await;
        assert_eq!(status, 200, "{page}");
        paged.extend(page["events"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(paged, *all["events"].as_array().unwrap());

    let other = format!("/v1/approvals/{id}/events?tenant_id=someone-else");
    assert_eq!(stack.host_call("GET", &other, &Value::Null).await.0, 404);
    let bad = format!(
        "/v1/approvals/{id}/events?tenant_id={}&cursor=x",
        stack.tenant_id
    );
    assert_eq!(stack.host_call("GET", &bad, &Value::Null).await.0, 400);
}

fn urlencode(text: &str) -> String {
    serde_urlencoded::to_string([("v", text)]).unwrap()[2..].to_owned()
}

#[tokio::test]
async fn a_request_escalates_once_adding_approvers_and_telling_the_first_in_the_thread() {
    let stack = Stack::start().await;
    let path = format!("/v1/tenants/{}/users", stack.tenant_id);
    let users = json!({"users": [
        {"user_id": "u-ana", "email": "ana@sandbox.example", "name": "Ana"},
        {"user_id": "u-cara", "email": "cara@sandbox.example", "name": "Cara"},
    ]});
    assert_eq!(stack.host_call("PUT", &path, &users).await.0, 200);
    let mut body = stack.approval_body("ESC-1");
    body["approvers"] = json!(["u-ana"]);
    body["escalate_after_hours"] = json!(48);
    body["escalate_to"] = json!(["u-cara"]);
    let created_at = approvals_core::time::unix_now();
    let (status, created) = stack.host_call("POST", "/v1/approvals", &body).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let channel = created["slack"]["channel_id"].as_str().unwrap().to_owned();
    let ts = created["slack"]["message_ts"].as_str().unwrap().to_owned();
    work(&stack).await;
    assert!(
        stack.slack.messages("D0CARA").is_empty(),
        "Cara is not asked yet"
    );

    let first = sweep_after(&stack, created_at + 48 * 3600).await;
    let again = sweep_after(&stack, created_at + 48 * 3600).await;
    let records = stack.drain_queue().await;
    stack.worker.handle(sqs_event(records)).await;

    assert_eq!((first.escalated, again.escalated), (1, 0));
    let replies: Vec<String> = stack
        .slack
        .messages(&channel)
        .into_iter()
        .filter(|m| m.thread_ts.as_deref() == Some(ts.as_str()) && m.ts != ts)
        .map(|m| m.text)
        .collect();
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(
        replies[0].contains("Escalated to <@U0CARA> after 48 h without a decision")
            && replies[0].contains("<@U0ANA>"),
        "{replies:?}"
    );
    let cara = stack.slack.messages("D0CARA");
    assert_eq!(cara.len(), 1, "Cara is asked in her DM");
    let trail = format!("/v1/approvals/{id}/events?tenant_id={}", stack.tenant_id);
    let (_, trail) = stack.host_call("GET", &trail, &Value::Null).await;
    let escalated: Vec<&Value> = trail["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "escalated")
        .collect();
    assert_eq!(escalated.len(), 1, "{trail}");
    assert_eq!(escalated[0]["detail"]["added"], json!(["U0CARA"]));
    // And she may decide now.
    assert_eq!(
        stack
            .click("D0CARA", &cara[0].ts, "approve", "U0CARA")
            .await,
        200
    );
    let records = stack.drain_queue().await;
    stack.worker.handle(sqs_event(records)).await;
    let item = stack.approval_item(&id).await;
    assert_eq!(item["status"], "approved", "{}", item["policy"]);
    assert_eq!(item["ending"]["by"]["user_id"], "U0CARA");
}

#[tokio::test]
async fn an_escalation_without_whom_or_when_is_refused_by_field() {
    let stack = Stack::start().await;
    let path = format!("/v1/tenants/{}/users", stack.tenant_id);
    let users =
        json!({"users": [{"user_id": "u-ana", "email": "ana@sandbox.example", "name": "Ana"}]});
    assert_eq!(stack.host_call("PUT", &path, &users).await.0, 200);
    for (n, (extra, field)) in [
        (json!({"escalate_to": ["u-ana"]}), "escalate_after_hours"),
        (json!({"escalate_after_hours": 48}), "escalate_to"),
        (
            json!({"escalate_after_hours": 0, "escalate_to": ["u-ana"]}),
            "escalate_after_hours",
        ),
        (
            json!({"escalate_after_hours": 4, "escalate_to": ["u-nobody"]}),
            "escalate_to[0]",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let mut body = stack.approval_body(&format!("ESC-BAD-{n}"));
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        let (status, answer) = stack.host_call("POST", "/v1/approvals", &body).await;
        assert_eq!(status, 400, "{extra}: {answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{field}:")),
            "{extra}: {message}"
        );
    }
}
