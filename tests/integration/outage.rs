//! The fault matrix: retries outlast a day-long outage (the host or Slack down for most of a
//! day, then back) through the template's queue, redrive policy and dead-letter queue, with
//! time compressed: a failed record is visible again at once, and the worker's clock jumps to
//! the moment its next retry is due, so a day of backoff runs in seconds. The killed-worker
//! row runs the real binary as a process and waits out its real 60 s lease.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use decision_worker::DecisionWorker;
use sandbox::slack::Fault;
use serde_json::Value;

use crate::common::{
    effects_done, offset_clock, queue_with_dlq, worker_process, worker_settings, Stack,
};

const HOUR: i64 = 3600;

/// A queue and its DLQ as the template declares them (its `maxReceiveCount`), and a worker
/// on them whose failed records come back at once and whose clock the test moves.
struct TemplateQueue {
    queue: String,
    dlq: String,
    worker: DecisionWorker,
    clock: Arc<AtomicI64>,
}

async fn template_queue(stack: &Stack) -> TemplateQueue {
    let template: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap(),
    )
    .unwrap();
    let max_receives = template["Resources"]["DecisionQueue"]["Properties"]["RedrivePolicy"]
        ["maxReceiveCount"]
        .as_u64()
        .unwrap();
    let (queue, dlq) = queue_with_dlq(&stack.sqs, max_receives, &[]).await;
    let mut settings = worker_settings(&stack.table, &queue, &stack.slack_base, &stack.host_base);
    settings.dead_letter_queue_url = Some(dlq.clone());
    settings.max_visibility_secs = 0;
    let mut worker = DecisionWorker::new(&stack.aws, settings, &stack.secrets).unwrap();
    let clock = Arc::new(AtomicI64::new(0));
    worker.clock = offset_clock(clock.clone());
    TemplateQueue {
        queue,
        dlq,
        worker,
        clock,
    }
}

impl TemplateQueue {
    /// Clicks Approve on a fresh approval and puts the command on this queue.
    async fn approve(&self, stack: &Stack, external_id: &str) -> (String, String, String) {
        let (id, channel, ts) = stack.create_approval(external_id).await;
        stack.click(&channel, &ts, "approve", "U0ANA").await;
        let body = stack.drain_queue().await.remove(0).body.unwrap();
        stack
            .sqs
            .send_message()
            .queue_url(&self.queue)
            .message_body(body)
            .send()
            .await
            .unwrap();
        (id, channel, ts)
    }

    /// One poll of the event source mapping; returns how many records the worker got.
    async fn poll(&self, stack: &Stack) -> usize {
        devserver::esm::poll_once(&stack.sqs, &self.queue, &self.worker, 0)
            .await
            .unwrap()
    }

    /// Moves the worker's clock to `at` (epoch seconds).
    fn jump_to(&self, at: i64) {
        let offset = at - approvals_core::time::unix_now();
        self.clock.fetch_max(offset, Ordering::SeqCst);
    }

    fn now(&self) -> i64 {
        approvals_core::time::unix_now() + self.clock.load(Ordering::SeqCst)
    }

    /// After a storm: the message edited once, the host told once, the copy's effect done,
    /// nothing left on the queue and nothing dead-lettered.
    async fn assert_updated_once_and_settled(
        &self,
        stack: &Stack,
        id: &str,
        channel: &str,
        ts: &str,
    ) {
        assert_eq!(stack.slack.message(channel, ts).unwrap().edits, 1);
        assert_eq!(stack.host.received().len(), 1);
        assert!(effects_done(&stack.approval_item(id).await, "copy:"));
        assert_eq!(self.poll(stack).await, 0);
        assert_eq!(self.dead_letters(stack).await, 0);
    }

    async fn dead_letters(&self, stack: &Stack) -> usize {
        stack
            .sqs
            .receive_message()
            .queue_url(&self.dlq)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default()
            .len()
    }

    /// Polls while the outage lasts (`down_for` seconds of worker time), jumping the clock to
    /// each retry; returns how many times the record was received.
    async fn ride_out(&self, stack: &Stack, id: &str, down_for: i64) -> u32 {
        let start = self.now();
        let mut receives = 0;
        for _ in 0..200 {
            assert_eq!(
                self.poll(stack).await,
                1,
                "the failed record is back at once"
            );
            receives += 1;
            let Some(due) = next_due(&stack.approval_item(id).await) else {
                break;
            };
            if due - start >= down_for {
                break;
            }
            self.jump_to(due);
        }
        receives
    }
}

/// The earliest `next_attempt_at` of the open outbox entries of a stored approval.
fn next_due(item: &Value) -> Option<i64> {
    item["outbox"]
        .as_object()?
        .values()
        .filter(|entry| entry["done"] != true && entry.get("failed").is_none())
        .filter_map(|entry| entry["next_attempt_at"].as_i64())
        .min()
}

#[tokio::test]
async fn a_host_down_for_23_hours_then_back_gets_the_decision_once_and_the_dlq_stays_empty() {
    // GIVEN a click on the template's queue, and a host that answers 500 to everything
    let stack = Stack::start().await;
    let queue = template_queue(&stack).await;
    let (id, _, _) = queue.approve(&stack, "DR-OUTAGE").await;
    stack.host.fail_next(u32::MAX);

    // WHEN the host stays down for 23 hours, then comes back
    let receives = queue.ride_out(&stack, &id, 23 * HOUR).await;
    stack.host.fail_next(0);
    let due = next_due(&stack.approval_item(&id).await).unwrap();
    queue.jump_to(due);
    assert_eq!(queue.poll(&stack).await, 1);

    // THEN it was retried far beyond the old 5 receives, delivered exactly once by id,
    // the record is gone and nothing was dead-lettered
    assert!(receives > 5, "{receives} receives");
    let received = stack.host.received();
    let delivered: Vec<_> = received
        .iter()
        .filter(|hook| hook.answered == 200)
        .collect();
    assert_eq!(delivered.len(), 1);
    assert!(received
        .iter()
        .all(|hook| hook.body["id"] == delivered[0].body["id"]));
    assert_eq!(queue.poll(&stack).await, 0, "the record was deleted");
    assert_eq!(queue.dead_letters(&stack).await, 0);
    let item = stack.approval_item(&id).await;
    assert!(effects_done(&item, "event:") && effects_done(&item, "copy:"));
}

#[tokio::test]
async fn a_slack_rate_limit_storm_on_chat_update_is_waited_out_and_the_message_updated_once() {
    // GIVEN chat.update answers 429 (Retry-After: 30 s) twenty times over
    let stack = Stack::start().await;
    let queue = template_queue(&stack).await;
    let (id, channel, ts) = queue.approve(&stack, "DR-STORM").await;
    stack.slack.inject(
        "chat.update",
        Fault::RateLimited {
            retry_after_secs: 30,
        },
        20,
    );

    // WHEN the worker keeps at it
    let receives = queue.ride_out(&stack, &id, 24 * HOUR).await;

    // THEN the storm passed, the message lost its buttons once, the host heard once
    assert!(receives > 5, "{receives} receives");
    queue
        .assert_updated_once_and_settled(&stack, &id, &channel, &ts)
        .await;
}

#[tokio::test]
async fn past_the_horizon_the_event_is_failed_with_its_reason_and_the_command_dead_lettered() {
    // GIVEN a host that never comes back
    let stack = Stack::start().await;
    let queue = template_queue(&stack).await;
    let (id, _, _) = queue.approve(&stack, "DR-GONE").await;
    stack.host.fail_next(u32::MAX);

    // WHEN a day and more passes
    queue.ride_out(&stack, &id, 25 * HOUR).await;

    // THEN the effect is failed, shown by the host API with its reason, and only that
    // command sits in the dead-letter queue
    let (status, body) = stack
        .host_call(
            "GET",
            &format!("/v1/approvals/{id}?tenant_id={}", stack.tenant_id),
            &serde_json::json!(null),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "approved");
    let event = body["effects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|effect| effect["kind"] == "deliver_event")
        .unwrap()
        .clone();
    assert_eq!(event["status"], "failed", "{event}");
    assert!(
        event["failed_reason"].as_str().unwrap().contains("24 h"),
        "{event}"
    );
    assert_eq!(queue.poll(&stack).await, 0, "the record left the queue");
    assert_eq!(queue.dead_letters(&stack).await, 1);
}

#[tokio::test]
async fn a_slack_5xx_storm_on_chat_update_is_retried_with_backoff_and_done_once() {
    // GIVEN chat.update answers 503 ten times over
    let stack = Stack::start().await;
    let queue = template_queue(&stack).await;
    let (id, channel, ts) = queue.approve(&stack, "DR-5XX").await;
    stack
        .slack
        .inject("chat.update", Fault::ServerError { status: 503 }, 10);

    // WHEN the worker keeps at it
    let receives = queue.ride_out(&stack, &id, 24 * HOUR).await;

    // THEN the storm passed: one edit, one webhook, nothing left, nothing dead-lettered
    assert!(receives > 1, "{receives} receives");
    queue
        .assert_updated_once_and_settled(&stack, &id, &channel, &ts)
        .await;
}

#[tokio::test]
async fn a_slack_that_hangs_is_given_up_on_in_time_and_retried_once() {
    // GIVEN chat.update hangs past the client's timeout once
    let stack = Stack::start().await;
    let queue = template_queue(&stack).await;
    let (id, channel, ts) = queue.approve(&stack, "DR-HANG").await;
    stack
        .slack
        .inject("chat.update", Fault::Hang { millis: 15_000 }, 1);

    // WHEN the worker keeps at it
    queue.ride_out(&stack, &id, HOUR).await;

    // THEN the message was edited once, the host told once
    assert_eq!(stack.slack.message(&channel, &ts).unwrap().edits, 1);
    assert_eq!(stack.host.received().len(), 1);
    assert!(effects_done(&stack.approval_item(&id).await, "copy:"));
    assert_eq!(queue.dead_letters(&stack).await, 0);
}

#[tokio::test]
async fn a_poison_message_is_dead_lettered_and_touches_nothing() {
    // GIVEN a record that is no command at all
    let stack = Stack::start().await;
    let queue = template_queue(&stack).await;
    stack
        .sqs
        .send_message()
        .queue_url(&queue.queue)
        .message_body("{\"not\": \"a command\"}")
        .send()
        .await
        .unwrap();
    let slack_calls = stack.slack.calls(None).len();

    // WHEN the worker takes it
    assert_eq!(queue.poll(&stack).await, 1);

    // THEN it is in the dead-letter queue, gone from the queue, and nothing else happened
    assert_eq!(queue.dead_letters(&stack).await, 1);
    assert_eq!(queue.poll(&stack).await, 0);
    assert_eq!(stack.slack.calls(None).len(), slack_calls);
    assert!(stack.host.received().is_empty());
}

/// Makes the local AWS answer the next `count` `operation`s on `table` as a throttled table
/// does (`scripts/moto_server.py`, the fault-injecting proxy in front of moto).
async fn throttle(table: &str, operation: &str, count: u32) {
    let url = format!("{}/_faults", crate::common::env("AWS_ENDPOINT_URL"));
    let fault = serde_json::json!({"resource": table, "operation": operation, "count": count});
    let answer = reqwest::Client::new()
        .post(url)
        .json(&fault)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
}

#[tokio::test]
async fn a_throttled_table_is_retried_by_the_sdk_then_by_sqs_and_no_click_is_lost() {
    // GIVEN a click on the template's queue, on a table of the test's own
    let stack = Stack::start_with(crate::common::Options {
        own_table: true,
        ..Default::default()
    })
    .await;
    let queue = template_queue(&stack).await;
    let (id, channel, ts) = queue.approve(&stack, "DR-THROTTLED").await;

    // WHEN every write to the table is throttled for a while: longer than the SDK's own
    // retries of one call, so the record itself fails and comes back
    throttle(&stack.table, "UpdateItem", 12).await;
    throttle(&stack.table, "PutItem", 6).await;
    let mut receives = 0;
    for _ in 0..30 {
        if queue.poll(&stack).await == 0 {
            break;
        }
        receives += 1;
        if let Some(due) = next_due(&stack.approval_item(&id).await) {
            queue.jump_to(due);
        }
    }

    // THEN the click was decided once, the message updated once, the host told once,
    // and nothing was dead-lettered
    assert!(
        receives > 1,
        "the record failed and came back: {receives} receives"
    );
    let item = stack.approval_item(&id).await;
    assert_eq!(item["status"], "approved", "{item}");
    assert_eq!(stack.slack.message(&channel, &ts).unwrap().edits, 1);
    let decided: Vec<_> = stack
        .host
        .received()
        .into_iter()
        .filter(|hook| hook.body["type"] == "approval.decided" && hook.answered == 200)
        .collect();
    assert_eq!(decided.len(), 1);
    assert_eq!(queue.dead_letters(&stack).await, 0);
}

#[tokio::test]
async fn a_worker_process_killed_between_the_decision_and_the_slack_update_is_finished_by_the_redelivery(
) {
    use aws_sdk_sqs::types::QueueAttributeName;
    use devserver::runtime_api::InvokeError;
    use std::time::Duration;

    // GIVEN a click on a queue whose visibility timeout is 1 s (the template's 360 s,
    // compressed), the real worker binary as its own process, and a chat.update that hangs
    let stack = Stack::start().await;
    // Five receives at most before SQS itself dead-letters it: the kill, the lease waited
    // out and the finish take three.
    let (queue, dlq) = queue_with_dlq(
        &stack.sqs,
        5,
        &[(QueueAttributeName::VisibilityTimeout, "1")],
    )
    .await;
    let (id, channel, ts) = stack.create_approval("PO-KILLED").await;
    stack.click(&channel, &ts, "approve", "U0ANA").await;
    let command = stack.drain_queue().await.remove(0).body.unwrap();
    stack
        .sqs
        .send_message()
        .queue_url(&queue)
        .message_body(command)
        .send()
        .await
        .unwrap();
    stack
        .slack
        .inject("chat.update", Fault::Hang { millis: 120_000 }, 1);
    let worker = worker_process(&stack, &queue, &dlq, "killed-worker").await;
    let batch = devserver::esm::receive(&stack.sqs, &queue, 5)
        .await
        .unwrap()
        .expect("the click is on the queue");

    // WHEN the process is SIGKILLed the moment its chat.update is in flight
    let mut changes = stack.slack.subscribe();
    let kill_while_updating = async {
        tokio::time::timeout(Duration::from_secs(30), async {
            while stack.slack.hangs_started("chat.update") == 0 {
                changes.changed().await.unwrap();
            }
        })
        .await
        .expect("the worker reaches chat.update");
        let half_done = stack.approval_item(&id).await;
        worker.kill().await;
        half_done
    };
    let (answer, half_done) = tokio::join!(
        worker.invoke(serde_json::json!(batch.event), Duration::from_secs(60)),
        kill_while_updating
    );
    assert!(matches!(answer, Err(InvokeError::Killed)), "{answer:?}");
    assert_eq!(half_done["status"], "approved", "the decision was written");
    assert!(
        !effects_done(&half_done, "copy:"),
        "the copy was not updated"
    );
    assert_eq!(stack.slack.message(&channel, &ts).unwrap().edits, 0);

    // THEN SQS redelivers to a fresh process, which waits out the dead one's lease on the
    // update and then finishes it: one edit, one decision, one webhook by id, nothing dead
    let mut rounds = 0;
    while !effects_done(&stack.approval_item(&id).await, "copy:") {
        rounds += 1;
        assert!(rounds <= 10, "the redelivery never finished the update");
        let Some(mut batch) = devserver::esm::receive(&stack.sqs, &queue, 20)
            .await
            .unwrap()
        else {
            continue;
        };
        let answer = worker
            .invoke(
                serde_json::json!(std::mem::take(&mut batch.event)),
                Duration::from_secs(60),
            )
            .await
            .expect("the fresh process answers");
        let answer = serde_json::from_value(answer).expect("a partial batch response");
        batch.settle(&stack.sqs, &queue, &answer).await.unwrap();
    }
    assert_eq!(worker.starts(), 2, "one cold start after the kill");
    let item = stack.approval_item(&id).await;
    assert_eq!(item["status"], "approved");
    assert_eq!(item["version"], 1, "one transition");
    let message = stack.slack.message(&channel, &ts).unwrap();
    assert_eq!(message.edits, 1);
    assert!(message.blocks.to_string().contains("Approved by <@U0ANA>"));
    let webhooks = stack.host.received();
    let ids: std::collections::BTreeSet<_> =
        webhooks.iter().map(|w| w.body["id"].to_string()).collect();
    assert_eq!(ids.len(), 1, "{webhooks:?}");
    assert_eq!(
        stack
            .sqs
            .receive_message()
            .queue_url(&dlq)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default()
            .len(),
        0
    );
}
