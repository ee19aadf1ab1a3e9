//! N of M approvals and approval steps: progress on every copy, a vote event per vote,
//! each step's approvers asked only when it opens, and bad policies refused by field.

use serde_json::{json, Value};

use crate::common::Stack;
use crate::people::{ephemeral_to, work};

async fn map_team(stack: &Stack) {
    let path = format!("/v1/tenants/{}/users", stack.tenant_id);
    let users = json!({"users": [
        {"user_id": "u-ana", "email": "ana@sandbox.example", "name": "Ana"},
        {"user_id": "u-ben", "email": "ben@sandbox.example", "name": "Ben"},
        {"user_id": "u-cara", "email": "cara@sandbox.example", "name": "Cara"},
        {"user_id": "u-dev", "email": "dev@sandbox.example", "name": "Dev"},
        {"user_id": "u-zed", "email": "zed@elsewhere.example", "name": "Zed, not in Slack"},
    ]});
    let (status, body) = stack.host_call("PUT", &path, &users).await;
    assert_eq!(status, 200, "{body}");
}

async fn create(stack: &Stack, external_id: &str, extra: Value) -> (u16, Value) {
    let mut body = stack.approval_body(external_id);
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    stack.host_call("POST", "/v1/approvals", &body).await
}

fn shown(stack: &Stack, channel: &str, ts: &str) -> String {
    let message = stack.slack.message(channel, ts).unwrap();
    format!("{} {}", message.text, message.blocks)
}

async fn events_of(stack: &Stack, id: &str) -> Vec<Value> {
    work(stack).await;
    stack
        .host
        .received()
        .into_iter()
        .map(|h| h.body)
        .filter(|e| e["data"]["approval_id"] == id)
        .collect()
}

#[tokio::test]
async fn two_of_three_shows_progress_counts_each_approver_once_and_ends_on_the_second() {
    let stack = Stack::start().await;
    map_team(&stack).await;
    let (status, created) = create(
        &stack,
        "NM-1",
        json!({"approvers": ["u-ana", "u-ben", "u-cara"], "policy": {"min_approvals": 2}}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (channel, ts) = (
        created["slack"]["channel_id"].as_str().unwrap().to_owned(),
        created["slack"]["message_ts"].as_str().unwrap().to_owned(),
    );

    assert_eq!(stack.click(&channel, &ts, "approve", "U0ANA").await, 200);
    let events = events_of(&stack, &id).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "approval.vote");
    assert!(shown(&stack, &channel, &ts).contains("1 of 2 approvals: ✅ <@U0ANA>"));

    // Ana again: nothing changes, and she is told.
    assert_eq!(stack.click(&channel, &ts, "approve", "U0ANA").await, 200);
    work(&stack).await;
    let told = ephemeral_to(&stack, &channel, "U0ANA");
    assert!(told.iter().any(|t| t.contains("already voted")), "{told:?}");
    assert_eq!(stack.approval_item(&id).await["status"], "pending");

    assert_eq!(stack.click(&channel, &ts, "approve", "U0BEN").await, 200);
    let events = events_of(&stack, &id).await;
    let decided: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "approval.decided")
        .collect();
    assert_eq!(decided.len(), 1, "{events:?}");
    assert_eq!(decided[0]["data"]["status"], "approved");
    let voters: Vec<&str> = decided[0]["data"]["votes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(voters, ["u-ana", "u-ben"]);
    assert_eq!(
        events
            .iter()
            .filter(|e| e["type"] == "approval.vote")
            .count(),
        2
    );
}

#[tokio::test]
async fn a_later_steps_approvers_are_asked_only_once_the_step_before_is_approved() {
    let stack = Stack::start().await;
    map_team(&stack).await;
    let (status, created) = create(
        &stack,
        "ST-1",
        json!({"steps": [{"approvers": ["u-ana", "u-ben"], "min_approvals": 1},
                         {"approvers": ["u-cara"]}]}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (channel, ts) = (
        created["slack"]["channel_id"].as_str().unwrap().to_owned(),
        created["slack"]["message_ts"].as_str().unwrap().to_owned(),
    );
    work(&stack).await;
    assert!(!stack.slack.messages("D0ANA").is_empty(), "step 1 is asked");
    assert!(stack.slack.messages("D0CARA").is_empty(), "step 2 waits");
    // Cara may not decide step 1.
    assert_eq!(stack.click(&channel, &ts, "approve", "U0CARA").await, 200);
    work(&stack).await;
    assert_eq!(stack.approval_item(&id).await["status"], "pending");

    assert_eq!(stack.click(&channel, &ts, "approve", "U0BEN").await, 200);
    let events = events_of(&stack, &id).await;
    let completed: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "approval.step_completed")
        .collect();
    assert_eq!(completed.len(), 1, "{events:?}");
    assert_eq!(completed[0]["data"]["step"], 0);
    assert_eq!(completed[0]["data"]["next_step"], 1);
    assert!(shown(&stack, &channel, &ts).contains("(step 2 of 2)"));
    let cara_dm = stack.slack.messages("D0CARA");
    assert_eq!(cara_dm.len(), 1, "Cara is asked now");

    assert_eq!(
        stack
            .click("D0CARA", &cara_dm[0].ts, "approve", "U0CARA")
            .await,
        200
    );
    let events = events_of(&stack, &id).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e["type"] == "approval.decided")
            .count(),
        1
    );
    assert_eq!(stack.approval_item(&id).await["status"], "approved");
}

#[tokio::test]
async fn policies_that_cannot_finish_are_refused_by_field() {
    let stack = Stack::start().await;
    map_team(&stack).await;
    let step = |approvers: Value| json!({"approvers": approvers});
    let cases = [
        (
            json!({"approvers": ["u-ana"], "policy": {"min_approvals": 0}}),
            "policy.min_approvals",
        ),
        (
            json!({"approvers": ["u-ana", "u-ben"], "policy": {"min_approvals": 3}}),
            "policy.min_approvals",
        ),
        (json!({"steps": [step(json!([]))]}), "steps[0].approvers"),
        (
            json!({"steps": (0..11).map(|_| step(json!(["u-ana"]))).collect::<Vec<_>>()}),
            "steps",
        ),
        (
            json!({"steps": [step(json!(["u-ana", "u-ana"]))]}),
            "steps[0].approvers[1]",
        ),
        (
            json!({"steps": [{"approvers": ["u-ana"], "min_approvals": 2}]}),
            "steps[0].min_approvals",
        ),
        (
            json!({"steps": [step(json!(["u-ana"]))], "policy": {"min_approvals": 1}}),
            "steps",
        ),
        // Zed is not in Slack: two approvals from Ana and Zed could never come from Slack.
        (
            json!({"approvers": ["u-ana", "u-zed"], "policy": {"min_approvals": 2}}),
            "policy.min_approvals",
        ),
        (
            json!({"steps": [step(json!(["u-ana"])), step(json!(["u-zed"]))]}),
            "steps[1].approvers",
        ),
    ];
    for (n, (extra, field)) in cases.into_iter().enumerate() {
        let (status, body) = create(&stack, &format!("BAD-{n}"), extra.clone()).await;
        assert_eq!(status, 400, "{extra}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{field}:")),
            "{extra}: {message}"
        );
    }
    assert!(stack.slack.calls(Some("chat.postMessage")).is_empty());
}
