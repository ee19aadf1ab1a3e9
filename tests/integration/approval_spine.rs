//! The approval loop end to end: host API → Slack message → signed click → SQS → worker
//! → DynamoDB, `chat.update` and one signed webhook. Real SDK against moto, Slack sandbox.

use std::time::Duration;

use crate::common::{effects_done, sqs_event, Stack};
use sandbox::slack::Fault;
use serde_json::json;

#[tokio::test]
async fn full_loop_decides_updates_slack_and_tells_the_host() {
    // GIVEN a connected tenant and a posted approval
    let stack = Stack::start().await;
    let (id, channel, ts) = stack.create_approval("DR-1042").await;
    let posted = stack
        .slack
        .message(&channel, &ts)
        .expect("the message is in Slack");
    assert!(posted
        .blocks
        .to_string()
        .contains("\"action_id\":\"approve\""));

    // WHEN Ana clicks Approve and the worker takes the queued command
    assert_eq!(stack.click(&channel, &ts, "approve", "U0ANA").await, 200);
    let records = stack.drain_queue().await;
    assert_eq!(records.len(), 1);
    let answer = stack.worker.handle(sqs_event(records)).await;

    // THEN it is approved once, in DynamoDB, in Slack and at the host
    assert!(answer.batch_item_failures.is_empty());
    let item = stack.approval_item(&id).await;
    assert_eq!(item["status"], "approved");
    assert_eq!(item["ending"]["by"]["user_id"], "U0ANA");
    assert_eq!(item["version"], 1);
    assert!(effects_done(&item, "copy:") && effects_done(&item, "event:"));
    assert!(
        item.get("gsi1pk").is_none(),
        "a decided approval leaves the pending index"
    );

    let updated = stack.slack.message(&channel, &ts).unwrap();
    assert_eq!(updated.edits, 1);
    let shown = updated.blocks.to_string();
    assert!(
        shown.contains("✅ Approved by <@U0ANA> on <!date^"),
        "{shown}"
    );
    assert!(!shown.contains("\"actions\""), "the buttons are gone");

    let hooks = stack.host.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(hooks.len(), 1);
    assert!(hooks[0].signature_valid);
    let data = &hooks[0].body["data"];
    assert_eq!(hooks[0].body["type"], "approval.decided");
    assert_eq!(data["approval_id"], id.as_str());
    assert_eq!(data["external_id"], "DR-1042");
    assert_eq!(data["decision"], "approved");
    assert_eq!(data["decided_by"]["slack_user_id"], "U0ANA");
    assert_eq!(data["decided_by"]["slack_team_id"], stack.team_id.as_str());

    let (status, body) = stack
        .host_call(
            "GET",
            &format!("/v1/approvals/{id}?tenant_id={}", stack.tenant_id),
            &json!(null),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "approved");
    assert_eq!(body["decided_by"], "U0ANA");
    assert!(body["decided_at"].is_string());
}

#[tokio::test]
async fn twenty_concurrent_clicks_make_exactly_one_decision() {
    // GIVEN a posted approval and 20 different approvers clicking at once
    let stack = Stack::start().await;
    let (id, channel, ts) = stack.create_approval("PO-20").await;
    for i in 0..20 {
        let action = if i % 2 == 0 { "approve" } else { "reject" };
        let user = format!("U{i:03}{}", stack.team_id);
        assert_eq!(stack.click(&channel, &ts, action, &user).await, 200);
    }
    let records = stack.drain_queue().await;
    assert_eq!(records.len(), 20);

    // WHEN 20 worker invocations run concurrently, one command each
    let answers = futures::future::join_all(
        records
            .iter()
            .map(|record| stack.worker.handle(sqs_event(vec![record.clone()]))),
    )
    .await;
    // A record that met an effect leased by a concurrent worker comes back once the lease
    // has run out, and finds it done.
    let back: Vec<_> = records
        .into_iter()
        .zip(&answers)
        .filter(|(_, answer)| !answer.batch_item_failures.is_empty())
        .map(|(record, _)| record)
        .collect();
    stack.time_passes(61);
    let again = stack.worker.handle(sqs_event(back)).await;

    // THEN one decision, one deciding chat.update, one webhook; 19 "already decided" notes
    assert!(again.batch_item_failures.is_empty());
    let item = stack.approval_item(&id).await;
    assert!(item["status"] == "approved" || item["status"] == "rejected");
    let updates = stack.slack.calls(Some("chat.update"));
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert_eq!(
        stack.host.wait_for(1, Duration::from_secs(5)).await.len(),
        1
    );
    let notes = stack.slack.calls(Some("response_url"));
    assert_eq!(notes.len(), 19);
    let winner = item["ending"]["by"]["user_id"].as_str().unwrap();
    assert_eq!(item["version"], 1, "one transition, however many raced");
    assert!(notes
        .iter()
        .all(|n| n.params["response_type"] == "ephemeral"
            && n.params["text"]
                .as_str()
                .unwrap()
                .contains(&format!("<@{winner}>"))));
    let ephemeral = stack
        .slack
        .messages(&channel)
        .into_iter()
        .filter(|m| m.ephemeral_for.is_some())
        .count();
    assert_eq!(ephemeral, 19);
}

#[tokio::test]
async fn a_command_delivered_three_times_has_one_outcome() {
    let stack = Stack::start().await;
    let (id, channel, ts) = stack.create_approval("DR-3X").await;
    stack.click(&channel, &ts, "reject", "U0BEN").await;
    let record = stack.drain_queue().await.remove(0);

    for _ in 0..3 {
        let answer = stack.worker.handle(sqs_event(vec![record.clone()])).await;
        assert!(answer.batch_item_failures.is_empty());
    }

    let item = stack.approval_item(&id).await;
    assert_eq!(item["status"], "rejected");
    assert_eq!(stack.slack.calls(Some("chat.update")).len(), 1);
    assert!(
        stack.slack.calls(Some("response_url")).is_empty(),
        "the winner is not told it lost"
    );
    assert_eq!(
        stack.host.wait_for(1, Duration::from_secs(5)).await.len(),
        1
    );
    assert!(stack
        .slack
        .message(&channel, &ts)
        .unwrap()
        .blocks
        .to_string()
        .contains("❌ Rejected by <@U0BEN>"));
}

#[tokio::test]
async fn a_crash_after_the_decision_is_finished_by_the_redelivery() {
    // GIVEN chat.update fails on every in-process retry, as if the worker died there
    let stack = Stack::start().await;
    let (id, channel, ts) = stack.create_approval("DR-CRASH").await;
    stack.click(&channel, &ts, "approve", "U0ANA").await;
    let record = stack.drain_queue().await.remove(0);
    stack
        .slack
        .inject("chat.update", Fault::ServerError { status: 500 }, 3);

    // WHEN the first delivery fails and SQS redelivers
    let first = stack.worker.handle(sqs_event(vec![record.clone()])).await;
    assert_eq!(first.batch_item_failures.len(), 1);
    assert_eq!(
        first.batch_item_failures[0].item_identifier,
        record.message_id.clone().unwrap()
    );
    let half_done = stack.approval_item(&id).await;
    assert_eq!(half_done["status"], "approved");
    assert!(!effects_done(&half_done, "copy:"));
    // The host does not wait for Slack: its webhook went out on the first delivery.
    assert!(effects_done(&half_done, "event:"));
    assert_eq!(stack.host.received().len(), 1);

    stack.time_passes(3600);
    let second = stack.worker.handle(sqs_event(vec![record])).await;

    // THEN the redelivery completes it: the message updated, and still one webhook
    assert!(second.batch_item_failures.is_empty());
    let updates = stack.slack.calls(Some("chat.update"));
    assert_eq!(updates.iter().filter(|c| c.error.is_none()).count(), 1);
    assert_eq!(stack.slack.message(&channel, &ts).unwrap().edits, 1);
    assert_eq!(
        stack.host.received().len(),
        1,
        "the webhook is not repeated"
    );
    assert!(effects_done(&stack.approval_item(&id).await, "copy:"));
}

#[tokio::test]
async fn slack_rate_limits_are_waited_out_as_told() {
    let stack = Stack::start().await;
    let (_, channel, ts) = stack.create_approval("DR-429").await;
    stack.click(&channel, &ts, "approve", "U0ANA").await;
    let record = stack.drain_queue().await.remove(0);
    stack.slack.inject(
        "chat.update",
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        1,
    );

    let answer = stack.worker.handle(sqs_event(vec![record])).await;

    assert!(answer.batch_item_failures.is_empty());
    let calls = stack.slack.calls(Some("chat.update"));
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].http_status, 429);
    assert_eq!(calls[1].error, None);
    assert!(
        calls[1].at_ms - calls[0].at_ms >= 1000,
        "Retry-After: 1 was not honoured"
    );
    assert_eq!(stack.slack.message(&channel, &ts).unwrap().edits, 1);
}

#[tokio::test]
async fn a_failed_webhook_is_retried_with_the_same_event_id() {
    // A host having a bad minute (500), and one whose endpoint moved behind a sign-in page
    // that answers 200 (302): a redirect is never followed, so it fails like the 500.
    for (external_id, fault, refused_with) in
        [("DR-HOOK", "error", 500), ("DR-MOVED", "redirect", 302)]
    {
        let stack = Stack::start().await;
        let (_, channel, ts) = stack.create_approval(external_id).await;
        stack.click(&channel, &ts, "approve", "U0ANA").await;
        let record = stack.drain_queue().await.remove(0);
        match fault {
            "redirect" => stack.host.redirect_next(1),
            _ => stack.host.fail_next(1),
        }

        let first = stack.worker.handle(sqs_event(vec![record.clone()])).await;
        stack.time_passes(3600);
        let second = stack.worker.handle(sqs_event(vec![record])).await;

        assert_eq!(first.batch_item_failures.len(), 1, "{fault}");
        assert!(second.batch_item_failures.is_empty(), "{fault}");
        let hooks = stack.host.wait_for(2, Duration::from_secs(5)).await;
        assert_eq!(hooks.len(), 2, "{fault}");
        assert_eq!((hooks[0].answered, hooks[1].answered), (refused_with, 200));
        assert_eq!(hooks[0].body["id"], hooks[1].body["id"]);
        assert_eq!(
            stack.slack.calls(Some("chat.update")).len(),
            1,
            "the message is not updated twice"
        );
    }
}

#[tokio::test]
async fn a_forged_approval_id_from_another_team_changes_nothing() {
    // GIVEN an approval of this stack's team and a click from a user of another workspace
    let stack = Stack::start().await;
    let (id, channel, ts) = stack.create_approval("DR-FORGED").await;
    let outsider = Stack::start().await;
    let (_, other_channel, other_ts) = outsider.create_approval("DR-OUTSIDER").await;
    let payload = outsider
        .slack
        .click_payload(&other_channel, &other_ts, "approve", "U0ANA")
        .unwrap()
        .replace(&outsider_id(&outsider).await, &id);
    let (timestamp, signature) = stack.slack.sign(&payload);
    let event = crate::common::http_event(
        "POST",
        "/slack/interactions",
        &[
            ("x-slack-request-timestamp", &timestamp),
            ("x-slack-signature", &signature),
        ],
        payload.as_bytes(),
        false,
    );
    assert_eq!(
        crate::common::invoke(&stack.interactions_router, event)
            .await
            .0,
        200
    );

    // WHEN the worker takes the forged command
    let records = stack.drain_queue().await;
    assert_eq!(records.len(), 1);
    let answer = stack.worker.handle(sqs_event(records)).await;

    // THEN nothing changed
    assert!(
        answer.batch_item_failures.is_empty(),
        "a forged click is dropped, not retried"
    );
    assert_eq!(stack.approval_item(&id).await["status"], "pending");
    assert!(stack.slack.calls(Some("chat.update")).is_empty());
    assert_eq!(stack.slack.message(&channel, &ts).unwrap().edits, 0);
    assert!(stack.host.received().is_empty());
}

async fn outsider_id(outsider: &Stack) -> String {
    approvals_core::domain::approval_id_for(&outsider.tenant_id, "DR-OUTSIDER")
}

#[tokio::test]
async fn a_record_still_running_at_the_deadline_is_reported_not_lost() {
    // GIVEN Slack hangs on chat.update for longer than the invocation has left
    let stack = Stack::start().await;
    let (id, channel, ts) = stack.create_approval("DR-DEADLINE").await;
    stack.click(&channel, &ts, "approve", "U0ANA").await;
    let record = stack.drain_queue().await.remove(0);
    stack
        .slack
        .inject("chat.update", Fault::Hang { millis: 8_000 }, 1);
    let deadline = std::time::SystemTime::now() + Duration::from_secs(3);

    // WHEN the worker runs with that deadline
    let answer = stack
        .worker
        .handle_until(sqs_event(vec![record.clone()]), Some(deadline))
        .await;

    // THEN the record is reported failed (for redelivery), and the decision stands
    assert_eq!(answer.batch_item_failures.len(), 1);
    assert_eq!(stack.approval_item(&id).await["status"], "approved");
    // The cut-off attempt holds the copy's lease until it runs out.
    stack.time_passes(61);
    let redelivered = stack.worker.handle(sqs_event(vec![record])).await;
    assert!(redelivered.batch_item_failures.is_empty());
    assert_eq!(stack.slack.message(&channel, &ts).unwrap().edits, 1);
}

#[tokio::test]
async fn a_slack_connect_outsider_in_the_channel_cannot_decide() {
    // GIVEN an approval in a channel shared over Slack Connect, and a click from a member of
    // another organisation: the payload's `team.id` is ours, `user.team_id` is theirs
    let stack = Stack::start().await;
    let (id, channel, ts) = stack.create_approval("DR-CONNECT").await;
    let form = stack
        .slack
        .click_payload(&channel, &ts, "approve", "U0ANA")
        .unwrap();
    let (_, payload) = serde_urlencoded::from_str::<Vec<(String, String)>>(&form)
        .unwrap()
        .into_iter()
        .find(|(key, _)| key == "payload")
        .unwrap();
    let mut payload: serde_json::Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(payload["team"]["id"], stack.team_id.as_str());
    payload["user"]["team_id"] = json!("T0EXTERNAL");
    let form = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
    let (timestamp, signature) = stack.slack.sign(&form);
    let event = crate::common::http_event(
        "POST",
        "/slack/interactions",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-slack-request-timestamp", &timestamp),
            ("x-slack-signature", &signature),
        ],
        form.as_bytes(),
        false,
    );
    assert_eq!(
        crate::common::invoke(&stack.interactions_router, event)
            .await
            .0,
        200
    );

    // WHEN the worker takes the command
    let answer = stack
        .worker
        .handle(sqs_event(stack.drain_queue().await))
        .await;

    // THEN nothing is decided, and the host hears nothing
    assert!(answer.batch_item_failures.is_empty());
    assert_eq!(stack.approval_item(&id).await["status"], "pending");
    assert!(stack.slack.calls(Some("chat.update")).is_empty());
    assert!(stack.host.received().is_empty());
}

#[tokio::test]
async fn the_largest_valid_request_is_posted_and_its_decision_still_removes_the_buttons() {
    // GIVEN 20 fields of 3 000 characters (past Slack's ~12 000-character cumulative block
    // text limit, which the sandbox enforces) and a 2 900-character link (review finding M2)
    let stack = Stack::start().await;
    let mut body = stack.approval_body("DR-HUGE");
    body["fields"] = (0..20)
        .map(|i| json!({"label": format!("Field {i}"), "value": "x".repeat(3000)}))
        .collect();
    body["link"] = json!(format!("https://host.example/d?{}", "a=1&".repeat(720)));
    let (status, created) = stack.host_call("POST", "/v1/approvals", &body).await;
    assert_eq!(status, 201, "{created}");
    let (channel, ts) = (
        created["slack"]["channel_id"].as_str().unwrap().to_owned(),
        created["slack"]["message_ts"].as_str().unwrap().to_owned(),
    );

    // WHEN it is approved
    stack.click(&channel, &ts, "approve", "U0ANA").await;
    let answer = stack
        .worker
        .handle(sqs_event(stack.drain_queue().await))
        .await;

    // THEN Slack took the decided message and the buttons are gone
    assert!(answer.batch_item_failures.is_empty());
    let shown = stack.slack.message(&channel, &ts).unwrap();
    assert_eq!(shown.edits, 1);
    assert!(!shown.blocks.to_string().contains("\"actions\""));
    assert!(shown.blocks.to_string().contains("✅ Approved by <@U0ANA>"));
}
