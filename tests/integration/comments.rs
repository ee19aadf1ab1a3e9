//! The host's comments in a request's thread: under the author's name, mentions of mapped
//! users as Slack mentions, once per `comment_id`.

use serde_json::{json, Value};

use crate::common::Stack;

async fn comment(stack: &Stack, id: &str, body: Value) -> (u16, Value) {
    stack
        .host_call("POST", &format!("/v1/approvals/{id}/comments"), &body)
        .await
}

fn replies(stack: &Stack, channel: &str, ts: &str) -> Vec<String> {
    stack
        .slack
        .messages(channel)
        .into_iter()
        .filter(|m| m.thread_ts.as_deref() == Some(ts) && m.ts != ts)
        .map(|m| m.text)
        .collect()
}

#[tokio::test]
async fn a_host_comment_lands_in_the_thread_once_under_its_authors_name() {
    let stack = Stack::start().await;
    let path = format!("/v1/tenants/{}/users", stack.tenant_id);
    let users =
        json!({"users": [{"user_id": "u-ben", "email": "ben@sandbox.example", "name": "Ben"}]});
    assert_eq!(stack.host_call("PUT", &path, &users).await.0, 200);
    let (id, channel, ts) = stack.create_approval("CM-1").await;
    let body = json!({"tenant_id": stack.tenant_id, "comment_id": "c-1",
                      "author": {"user_id": "u-ana", "name": "Ana Alvarez"},
                      "text": "Can you check the discount, @u-ben? <!channel>"});

    let (status, first) = comment(&stack, &id, body.clone()).await;
    let (again_status, again) = comment(&stack, &id, body.clone()).await;

    assert_eq!(status, 201, "{first}");
    assert_eq!(again_status, 200, "{again}");
    assert_eq!(first["slack"], again["slack"], "the same message");
    let thread = replies(&stack, &channel, &ts);
    assert_eq!(
        thread,
        ["*Ana Alvarez*: Can you check the discount, <@U0BEN>? &lt;!channel&gt;"],
        "one reply, the mention resolved, the host's text unable to ping the channel"
    );

    let mut other = body.clone();
    other["text"] = json!("something else");
    let (status, conflict) = comment(&stack, &id, other).await;
    assert_eq!(status, 409, "{conflict}");
    assert_eq!(conflict["error"], "conflict");
    assert_eq!(replies(&stack, &channel, &ts).len(), 1);
}

#[tokio::test]
async fn concurrent_repeats_post_once_and_bad_comments_change_nothing() {
    let stack = Stack::start().await;
    let (id, channel, ts) = stack.create_approval("CM-2").await;
    let body = json!({"tenant_id": stack.tenant_id, "comment_id": "c-2",
                      "author": {"name": "Pat"}, "text": "Approved budget attached."});

    let (one, two) = tokio::join!(
        comment(&stack, &id, body.clone()),
        comment(&stack, &id, body.clone())
    );

    let mut statuses = [one.0, two.0];
    statuses.sort();
    assert!(
        statuses == [200, 201] || statuses == [201, 409],
        "{statuses:?}"
    );
    assert_eq!(replies(&stack, &channel, &ts).len(), 1, "posted once");

    for (mut bad, status, field) in [
        (json!({"text": ""}), 400, "text"),
        (json!({"text": "x".repeat(40_001)}), 400, "text"),
        (json!({"tenant_id": "someone-else"}), 404, ""),
        (
            json!({"author": {"name": "Pat", "role": "boss"}}),
            400,
            "author.role",
        ),
    ] {
        let mut request = json!({"tenant_id": stack.tenant_id, "comment_id": "c-bad",
                                 "author": {"name": "Pat"}, "text": "fine"});
        for (key, value) in bad.as_object_mut().unwrap().iter() {
            request[key] = value.clone();
        }
        let (got, answer) = comment(&stack, &id, request).await;
        assert_eq!(got, status, "{answer}");
        if !field.is_empty() {
            assert!(
                answer["message"].as_str().unwrap().starts_with(field),
                "{answer}"
            );
        }
    }
    assert_eq!(
        replies(&stack, &channel, &ts).len(),
        1,
        "nothing else posted"
    );
}
