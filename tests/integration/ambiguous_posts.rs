//! A `chat.postMessage` that Slack carried out but whose answer was lost (review finding H2)
//! never leads to a second decision, a deleted decided approval, or a copy whose buttons
//! stay live. The sandbox's `commit_then_fail` fault posts the message, then answers 502.

use std::time::Duration;

use sandbox::slack::Fault;
use serde_json::{json, Value};

use crate::common::{sqs_event, Stack};

/// The channel's messages that still carry Approve/Reject buttons for `approval_id`.
fn live_copies(stack: &Stack, approval_id: &str) -> Vec<String> {
    stack
        .slack
        .messages(&stack.channel_id)
        .into_iter()
        .filter(|message| message.ephemeral_for.is_none())
        .filter(|message| {
            let blocks = message.blocks.to_string();
            blocks.contains("\"actions\"") && blocks.contains(approval_id)
        })
        .map(|message| message.ts)
        .collect()
}

/// Messages in the channel (ephemeral notes aside): each post that landed.
fn posted_copies(stack: &Stack) -> Vec<String> {
    stack
        .slack
        .messages(&stack.channel_id)
        .into_iter()
        .filter(|message| message.ephemeral_for.is_none())
        .map(|message| message.ts)
        .collect()
}

async fn lost_answer_create(stack: &Stack, external_id: &str) -> (String, String) {
    stack.slack.inject(
        "chat.postMessage",
        Fault::CommitThenFail {
            status: 502,
            millis: 0,
        },
        1,
    );
    let (status, body) = stack
        .host_call("POST", "/v1/approvals", &stack.approval_body(external_id))
        .await;
    assert_eq!(
        status, 503,
        "an ambiguous post is a retryable failure: {body}"
    );
    let id = approvals_core::domain::approval_id_for(&stack.tenant_id, external_id);
    let landed = stack.slack.messages(&stack.channel_id);
    assert_eq!(landed.len(), 1, "Slack did post it");
    (id, landed[0].ts.clone())
}

async fn decide_all(stack: &Stack) {
    let records = stack.drain_queue().await;
    let answer = stack.worker.handle(sqs_event(records)).await;
    assert!(answer.batch_item_failures.is_empty());
}

async fn approval(stack: &Stack, id: &str) -> (u16, Value) {
    stack
        .host_call(
            "GET",
            &format!("/v1/approvals/{id}?tenant_id={}", stack.tenant_id),
            &json!(null),
        )
        .await
}

#[tokio::test]
async fn a_click_on_the_lost_copy_decides_once_and_retries_never_repost_or_delete_it() {
    // GIVEN a create whose post landed but whose answer was lost, and Ana approving that copy
    let stack = Stack::start().await;
    let (id, lost_ts) = lost_answer_create(&stack, "DR-LOST").await;
    stack
        .click(&stack.channel_id, &lost_ts, "approve", "U0ANA")
        .await;
    decide_all(&stack).await;

    // WHEN the host retries while Slack rate-limits posts, then retries again
    stack.slack.inject(
        "chat.postMessage",
        Fault::RateLimited {
            retry_after_secs: 30,
        },
        1,
    );
    let (throttled, first_retry) = stack
        .host_call("POST", "/v1/approvals", &stack.approval_body("DR-LOST"))
        .await;
    let (again, second_retry) = stack
        .host_call("POST", "/v1/approvals", &stack.approval_body("DR-LOST"))
        .await;

    // THEN both retries answer the decided approval, nothing was posted again, the lost copy
    // lost its buttons, and the host heard of one decision
    assert_eq!(
        (throttled, again),
        (200, 200),
        "{first_retry} {second_retry}"
    );
    assert_eq!(second_retry["status"], "approved");
    assert_eq!(posted_copies(&stack).len(), 1, "never posted again");
    assert_eq!(approval(&stack, &id).await.1["status"], "approved");
    assert!(live_copies(&stack, &id).is_empty());
    let hooks = stack.host.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(hooks.len(), 1);
    assert_eq!(
        hooks[0].body["data"]["decided_by"]["slack_user_id"],
        "U0ANA"
    );
}

#[tokio::test]
async fn a_copy_posted_twice_is_updated_wherever_it_is_clicked() {
    // GIVEN a lost answer, a retry once the posting lease lapsed (a second copy), and a
    // decision on the second copy
    let stack = Stack::start().await;
    let (id, lost_ts) = lost_answer_create(&stack, "DR-TWICE").await;
    stack
        .dynamodb
        .delete_item()
        .table_name(&stack.table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("CLAIM#POST#{id}")),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("CLAIM".into()),
        )
        .send()
        .await
        .unwrap();
    let (status, body) = stack
        .host_call("POST", "/v1/approvals", &stack.approval_body("DR-TWICE"))
        .await;
    assert_eq!(status, 201, "{body}");
    let known_ts = body["slack"]["message_ts"].as_str().unwrap().to_owned();
    assert_ne!(known_ts, lost_ts);
    stack
        .click(&stack.channel_id, &known_ts, "reject", "U0BEN")
        .await;
    decide_all(&stack).await;
    assert_eq!(live_copies(&stack, &id), vec![lost_ts.clone()]);

    // WHEN somebody clicks the copy the store never knew of
    stack
        .click(&stack.channel_id, &lost_ts, "approve", "U0ANA")
        .await;
    decide_all(&stack).await;

    // THEN that copy shows the decision too, the clicker is told, and it is still rejected
    assert!(live_copies(&stack, &id).is_empty());
    let lost = stack.slack.message(&stack.channel_id, &lost_ts).unwrap();
    assert!(lost.blocks.to_string().contains("❌ Rejected by <@U0BEN>"));
    let (_, body) = approval(&stack, &id).await;
    assert_eq!(body["status"], "rejected");
    assert_eq!(body["slack"]["copies"].as_array().unwrap().len(), 2);
    let notes = stack.slack.calls(Some("response_url"));
    assert_eq!(notes.len(), 1);
    assert!(notes[0].params["text"]
        .as_str()
        .unwrap()
        .starts_with("Already rejected by <@U0BEN>"));
    assert_eq!(
        stack.host.wait_for(1, Duration::from_secs(5)).await.len(),
        1
    );
}

#[tokio::test]
async fn a_failed_create_never_deletes_an_approval_that_was_decided_meanwhile() {
    // GIVEN a lost answer and a decision on the lost copy
    let stack = Stack::start().await;
    let (id, lost_ts) = lost_answer_create(&stack, "DR-KEEP").await;
    stack
        .click(&stack.channel_id, &lost_ts, "approve", "U0ANA")
        .await;
    decide_all(&stack).await;

    // WHEN the store is asked to clean up after a failed create
    let deleted = stack.api.approvals.delete_untouched(&id).await.unwrap();

    // THEN the decided approval stays
    assert!(!deleted);
    assert_eq!(approval(&stack, &id).await.1["status"], "approved");
}
