//! Daily reminders and the App Home: who is due in which 15-minute run (time zones, DST,
//! local weekends), one digest a day, decisions from the digest and the Home, and a run's
//! cost that follows the pending work, not the table.
//!
//! The table is shared by every test, so each test files its people under reminder slots
//! (local time @ zone) no other test uses, and reads only its own tenant's jobs.

use std::sync::Arc;

use approvals_aws::dynamo::DynamoStore;
use approvals_aws::sqs::SqsDecisionQueue;
use approvals_core::inbox::InboxEntry;
use approvals_core::people::HostUserId;
use approvals_core::ports::{InboxStore, WorkItem};
use approvals_core::reminders::ReminderKey;
use aws_lambda_events::sqs::SqsMessage;
use daily_reminders::{DailyReminders, ReminderRunError};
use sandbox::slack::{Message, User};
use serde_json::{json, Value};

use crate::common::{sqs_event, Stack};
use crate::slack_events::send_event;

/// The reminder function over the stack's table and queue, as its binary wires it.
pub(crate) fn reminders(stack: &Stack) -> DailyReminders {
    DailyReminders::new(
        &stack.aws,
        daily_reminders::Settings {
            table: stack.table.clone(),
            queue_url: stack.queue_url.clone(),
        },
    )
    .expect("the run wires up")
}

async fn put(stack: &Stack, path: &str, body: Value) -> (u16, Value) {
    stack.host_call("PUT", path, &body).await
}

async fn map(stack: &Stack, users: Value) {
    let path = format!("/v1/tenants/{}/users", stack.tenant_id);
    let (status, body) = put(stack, &path, json!({ "users": users })).await;
    assert_eq!(status, 200, "{body}");
}

async fn set_tenant_reminders(stack: &Stack, body: Value) {
    let path = format!("/v1/tenants/{}/reminders", stack.tenant_id);
    let (status, answer) = put(stack, &path, body).await;
    assert_eq!(status, 200, "{answer}");
}

/// A request of `kind` to these approvers, in the stack's channel.
async fn request(stack: &Stack, external_id: &str, kind: &str, approvers: &[&str]) -> String {
    let mut body = stack.approval_body(external_id);
    body["kind"] = json!(kind);
    body["title"] = json!(format!("{kind} {external_id}"));
    body["approvers"] = json!(approvers);
    let (status, created) = stack.host_call("POST", "/v1/approvals", &body).await;
    assert_eq!(status, 201, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

/// Runs the reminder function for `scheduled_time`, then hands this tenant's jobs (and
/// whatever else is queued for it) to the worker; returns the jobs of this tenant.
async fn run_at(stack: &Stack, scheduled_time: &str) -> Vec<String> {
    reminders(stack)
        .handle(&json!({ "scheduled_time": scheduled_time }))
        .await
        .expect("the run succeeds");
    let records: Vec<SqsMessage> = stack.drain_queue().await;
    let mine: Vec<SqsMessage> = records
        .into_iter()
        .filter(
            |record| match serde_json::from_str(record.body.as_deref().unwrap()) {
                Ok(WorkItem::Remind(job)) => job.tenant_id == stack.tenant_id,
                _ => true,
            },
        )
        .collect();
    let people: Vec<String> = mine
        .iter()
        .filter_map(
            |record| match serde_json::from_str(record.body.as_deref().unwrap()) {
                Ok(WorkItem::Remind(job)) => Some(job.user_id.to_string()),
                _ => None,
            },
        )
        .collect();
    // Jobs are paced from the slot's start, which for a test's past date is long gone.
    let answer = stack.worker.handle(sqs_event(mine)).await;
    assert!(answer.batch_item_failures.is_empty(), "{answer:?}");
    people
}

async fn work(stack: &Stack) {
    crate::people::work(stack).await;
}

/// The digests in a user's DM with the app, oldest first.
fn digests(stack: &Stack, slack_user_id: &str) -> Vec<Message> {
    let channel = format!("D{}", slack_user_id.trim_start_matches('U'));
    stack
        .slack
        .messages(&channel)
        .into_iter()
        .filter(|m| m.text.starts_with("Waiting for your decision"))
        .collect()
}

fn block_texts(message: &Message) -> String {
    message.blocks.to_string()
}

#[tokio::test]
async fn kolkata_is_reminded_in_the_0330_run_once_and_decides_from_the_digest() {
    let stack = Stack::start().await;
    map(
        &stack,
        json!([
            {"user_id": "u-cara", "email": "cara@sandbox.example", "name": "Cara Chen"},
            {"user_id": "u-noor", "email": "noor@sandbox.example", "name": "Noor N"},
            {"user_id": "u-zed", "email": "zed@elsewhere.example", "name": "Zed Zimmer"},
        ]),
    )
    .await;
    let kinds = format!("/v1/tenants/{}/kinds", stack.tenant_id);
    let (status, kind) = put(
        &stack,
        &format!("{kinds}/invoice"),
        json!({"label": "Invoices to pay", "reminder_group": "To pay", "channel_id": stack.channel_id}),
    )
    .await;
    assert_eq!(status, 200, "{kind}");
    assert_eq!(kind["reminder_group"], "To pay");
    let deal = request(
        &stack,
        "DR-1",
        "deal_registration",
        &["u-cara", "u-noor", "u-zed"],
    )
    .await;
    let invoice = request(&stack, "INV-1", "invoice", &["u-cara"]).await;
    work(&stack).await;

    // Wednesday 2026-11-25: Kolkata's 09:00 (+05:30) is 03:30 UTC; St John's (-03:30) 12:30.
    assert_eq!(
        run_at(&stack, "2026-11-25T03:15:00Z").await,
        Vec::<String>::new()
    );
    assert_eq!(run_at(&stack, "2026-11-25T03:30:00Z").await, vec!["u-cara"]);
    assert_eq!(
        run_at(&stack, "2026-11-25T03:45:00Z").await,
        Vec::<String>::new()
    );
    // A late or repeated invocation of the same slot finds her again but sends nothing.
    assert_eq!(run_at(&stack, "2026-11-25T03:44:10Z").await, vec!["u-cara"]);
    let sent = digests(&stack, "U0CARA");
    assert_eq!(sent.len(), 1, "one digest a day");
    let digest = &sent[0];
    assert_eq!(digest.text, "Waiting for your decision (2)");
    let text = block_texts(digest);
    assert!(
        text.contains("*To pay*") && text.contains("*To approve*"),
        "{text}"
    );
    assert!(text.contains("Invoices to pay"), "{text}");
    assert!(
        text.contains("/archives/"),
        "each item links its Slack message: {text}"
    );
    assert!(
        digests(&stack, "U0NOOR").is_empty(),
        "St John's is not due yet"
    );
    assert_eq!(run_at(&stack, "2026-11-25T12:30:00Z").await, vec!["u-noor"]);
    assert_eq!(
        digests(&stack, "U0NOOR")[0].text,
        "Waiting for your decision (1)"
    );

    // Zed is not in Slack: no send, and his item is in the not-in-Slack view.
    let path = format!("/v1/tenants/{}/users?status=not_in_slack", stack.tenant_id);
    let (status, listed) = stack.host_call("GET", &path, &Value::Null).await;
    assert_eq!(status, 200, "{listed}");
    let zed = &listed["users"][0];
    assert_eq!(zed["user_id"], "u-zed");
    assert_eq!(zed["waiting"][0]["approval_id"], deal.as_str());

    // Cara approves the invoice from the digest: exactly like a click on the original.
    let body = stack
        .slack
        .click_payload_in_block(
            &digest.channel,
            &digest.ts,
            &format!("inbox:{invoice}"),
            "approve",
            "U0CARA",
        )
        .unwrap();
    assert_eq!(stack.interact(&body).await.0, 200);
    work(&stack).await;
    let decided = stack.approval_item(&invoice).await;
    assert_eq!(decided["status"], "approved");
    let after = stack.slack.message(&digest.channel, &digest.ts).unwrap();
    assert_eq!(
        after.text, "Waiting for your decision (1)",
        "the digest's copy is updated"
    );
    assert!(
        block_texts(&after).contains("Approved by"),
        "{}",
        block_texts(&after)
    );
    let channel_copy = decided["copies"]
        .as_object()
        .unwrap()
        .values()
        .find(|c| c["role"] == "channel")
        .unwrap();
    let original = stack
        .slack
        .message(
            channel_copy["channel_id"].as_str().unwrap(),
            channel_copy["message_ts"].as_str().unwrap(),
        )
        .unwrap();
    assert!(original.text.contains("Approved") || block_texts(&original).contains("Approved by"));
    // It left her inbox: tomorrow's digest lists only the deal.
    let cara = HostUserId::try_from("u-cara".to_owned()).unwrap();
    let waiting = stack
        .api
        .inbox
        .waiting(&stack.tenant_id, &cara, 10)
        .await
        .unwrap();
    assert_eq!(
        waiting
            .iter()
            .map(|e| e.approval_id.as_str())
            .collect::<Vec<_>>(),
        [deal.as_str()]
    );
    run_at(&stack, "2026-11-26T03:30:00Z").await;
    assert_eq!(
        digests(&stack, "U0CARA")[1].text,
        "Waiting for your decision (1)"
    );
}

#[tokio::test]
async fn berlin_is_reminded_at_its_own_time_across_the_dst_change() {
    let stack = Stack::start().await;
    map(
        &stack,
        json!([{"user_id": "u-pat", "email": "pat@sandbox.example", "name": "Pat"}]),
    )
    .await;
    // 07:45 local: a slot no other test files anyone under.
    set_tenant_reminders(&stack, json!({"time": "07:45", "days": ["mon", "fri"]})).await;
    request(&stack, "DR-B", "deal_registration", &["u-pat"]).await;
    work(&stack).await;

    // Friday 2026-10-23, CEST (+02:00): 07:45 is 05:45 UTC.
    assert_eq!(run_at(&stack, "2026-10-23T05:45:00Z").await, vec!["u-pat"]);
    assert_eq!(digests(&stack, "U0PAT").len(), 1);
    // Monday 2026-10-26, after the change to CET (+01:00): 06:45 UTC, not 05:45.
    assert_eq!(
        run_at(&stack, "2026-10-26T05:45:00Z").await,
        Vec::<String>::new()
    );
    assert_eq!(run_at(&stack, "2026-10-26T06:45:00Z").await, vec!["u-pat"]);
    assert_eq!(digests(&stack, "U0PAT").len(), 2);
}

#[tokio::test]
async fn weekends_are_the_approvers_own_and_a_personal_schedule_wins() {
    let stack = Stack::start().await;
    stack
        .slack
        .add_user(
            &stack.team_id,
            User::new(
                "U0TARO",
                "taro",
                "Taro Tanaka",
                "taro@sandbox.example",
                "Asia/Tokyo",
            ),
        )
        .unwrap();
    map(
        &stack,
        json!([
            {"user_id": "u-taro", "email": "taro@sandbox.example", "name": "Taro"},
            {"user_id": "u-noor", "email": "noor@sandbox.example", "name": "Noor"},
        ]),
    )
    .await;
    set_tenant_reminders(&stack, json!({"time": "08:30"})).await;
    let path = format!("/v1/tenants/{}/users/u-noor/reminders", stack.tenant_id);
    let (status, own) = put(&stack, &path, json!({"enabled": false})).await;
    assert_eq!(status, 200, "{own}");
    assert_eq!(own["reminder_slot"], Value::Null);
    request(&stack, "DR-T", "deal_registration", &["u-taro", "u-noor"]).await;
    work(&stack).await;

    // Sunday 2026-11-22 23:30 UTC is Monday 08:30 in Tokyo: a weekday there.
    assert_eq!(run_at(&stack, "2026-11-22T23:30:00Z").await, vec!["u-taro"]);
    // Friday 2026-11-27 23:30 UTC is Saturday 08:30 in Tokyo: found, but not sent.
    assert_eq!(run_at(&stack, "2026-11-27T23:30:00Z").await, vec!["u-taro"]);
    assert_eq!(digests(&stack, "U0TARO").len(), 1);
    // Noor turned hers off: never found, never sent (St John's 08:30 is 12:00 UTC).
    assert_eq!(
        run_at(&stack, "2026-11-25T12:00:00Z").await,
        Vec::<String>::new()
    );
    assert!(digests(&stack, "U0NOOR").is_empty());
}

#[tokio::test]
async fn the_home_tab_lists_what_waits_and_a_decision_there_updates_it() {
    let stack = Stack::start().await;
    map(
        &stack,
        json!([
            {"user_id": "u-dev", "email": "dev@sandbox.example", "name": "Dev Director"},
            {"user_id": "u-ana", "email": "ana@sandbox.example", "name": "Ana"},
        ]),
    )
    .await;
    let mut body = stack.approval_body("DR-H");
    body["approvers"] = json!(["u-dev"]);
    body["requester"] = json!({"user_id": "u-ana", "name": "Ana"});
    let (status, created) = stack.host_call("POST", "/v1/approvals", &body).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    work(&stack).await;

    let opened = stack
        .slack
        .app_home_opened_event(&stack.team_id, "U0DEV")
        .unwrap();
    assert_eq!(send_event(&stack, &opened, None).await.0, 200);
    work(&stack).await;
    let home = stack
        .slack
        .home_view(&stack.team_id, "U0DEV")
        .expect("published");
    let text = home["blocks"].to_string();
    assert!(text.contains("Waiting for your decision (1)"), "{text}");

    let click = stack
        .slack
        .home_click_payload(&stack.team_id, "U0DEV", &format!("inbox:{id}"), "approve")
        .unwrap();
    assert_eq!(stack.interact(&click).await.0, 200);
    work(&stack).await;
    assert_eq!(stack.approval_item(&id).await["status"], "approved");
    let home = stack.slack.home_view(&stack.team_id, "U0DEV").unwrap();
    assert!(
        home["blocks"]
            .to_string()
            .contains("Waiting for your decision (0)"),
        "the decider's Home is published again: {}",
        home["blocks"]
    );
    // The requester's Home shows how her request ended.
    let asked = stack
        .slack
        .home_view(&stack.team_id, "U0ANA")
        .expect("published");
    assert!(
        asked["blocks"].to_string().contains("Approved"),
        "{}",
        asked["blocks"]
    );
}

#[tokio::test]
async fn a_run_reads_the_pending_entries_of_the_due_zones_not_the_table() {
    let stack = Stack::start().await;
    // 10,000 decided requests of this tenant, as the table keeps them.
    let tenant = stack.tenant_id.clone();
    let items: Vec<aws_sdk_dynamodb::types::WriteRequest> = (0..10_000)
        .map(|n| {
            let id = format!("decided-{tenant}-{n}");
            let item = std::collections::HashMap::from([
                ("pk".to_owned(), s(&format!("APPROVAL#{id}"))),
                ("sk".to_owned(), s("APPROVAL")),
                ("status".to_owned(), s("approved")),
                ("gsi2pk".to_owned(), s(&format!("APPROVALS#{tenant}"))),
                ("gsi2sk".to_owned(), s(&format!("approved#{n:012}#{id}"))),
            ]);
            let put = aws_sdk_dynamodb::types::PutRequest::builder()
                .set_item(Some(item))
                .build()
                .unwrap();
            aws_sdk_dynamodb::types::WriteRequest::builder()
                .put_request(put)
                .build()
        })
        .collect();
    for chunk in items.chunks(25) {
        let mut left = chunk.to_vec();
        for _ in 0..10 {
            if left.is_empty() {
                break;
            }
            let answer = stack
                .dynamodb
                .batch_write_item()
                .request_items(&stack.table, left)
                .send()
                .await
                .unwrap();
            left = answer
                .unprocessed_items
                .and_then(|mut m| m.remove(&stack.table))
                .unwrap_or_default();
        }
        assert!(left.is_empty());
    }
    // 20 pending ones, waiting on 20 people in Chatham (+13:45 in its summer) at 06:45.
    let key = ReminderKey::parse("06:45@Pacific/Chatham").unwrap();
    let store = Arc::new(DynamoStore::without_token_keys(&stack.aws, &stack.table).unwrap());
    for n in 0..20 {
        let entry = InboxEntry {
            tenant_id: tenant.clone(),
            user_id: HostUserId::try_from(format!("u-{n}")).unwrap(),
            approval_id: format!("pending-{tenant}-{n}"),
            kind: "deal_registration".into(),
            title: format!("Pending {n}"),
            created_at: 1_764_000_000 + n,
            permalink: None,
        };
        store.add_waiting(&entry, Some(&key)).await.unwrap();
    }
    let queue = Arc::new(SqsDecisionQueue::new(
        stack.sqs.clone(),
        stack.queue_url.clone(),
    ));
    let run = DailyReminders {
        inbox: store.clone(),
        queue: queue.clone(),
        runs: store.clone(),
        deadlines: store.clone(),
        effects: queue,
    };
    let before = store.items_read();

    // Thursday 06:45 in Chatham is Wednesday 2026-11-25 17:00 UTC.
    let tick = run
        .handle(&json!({"scheduled_time": "2026-11-25T17:00:00Z"}))
        .await
        .unwrap();
    let (summary, swept) = (&tick.reminders, &tick.deadlines);

    let read = store.items_read() - before;
    assert!(summary.due_keys.contains(&key.to_string()), "{summary:?}");
    assert!(summary.people >= 20);
    // Other tests share the table and may have people due in this slot too, so the bound
    // is what the run itself found: the keys registry, the entries under the due keys, and
    // the records of the slots it looks back over, and the deadlines due (none of them
    // read from requests that are not due).
    assert!(
        read <= (summary.keys_in_use + summary.entries_read + 2 * swept.due) as u64 + 4,
        "read {read} items: {summary:?}"
    );
    assert!(summary.entries_read < 100, "{summary:?}");
    println!("reminder run: {read} items read with 10,000 decided and 20 pending requests");
    let mine = stack
        .drain_queue()
        .await
        .into_iter()
        .filter(|r| r.body.as_deref().unwrap().contains(&tenant))
        .count();
    assert_eq!(mine, 20, "one job per person");
}

fn s(text: &str) -> aws_sdk_dynamodb::types::AttributeValue {
    aws_sdk_dynamodb::types::AttributeValue::S(text.to_owned())
}

#[tokio::test]
async fn bad_settings_are_refused_by_field_and_a_bad_scheduled_time_fails_loudly() {
    let stack = Stack::start().await;
    let path = format!("/v1/tenants/{}/reminders", stack.tenant_id);
    for (body, field) in [
        (json!({"time": "9am"}), "time"),
        (json!({"days": ["mon", "someday"]}), "days[1]"),
        (json!({"time_zone": "Mars/Olympus"}), "time_zone"),
        (
            json!({"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun", "mon"]}),
            "days",
        ),
    ] {
        let (status, answer) = put(&stack, &path, body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            answer["message"].as_str().unwrap().starts_with(field),
            "{body}: {answer}"
        );
    }
    let kind = format!("/v1/tenants/{}/kinds/invoice", stack.tenant_id);
    let (status, answer) = put(&stack, &kind, json!({"reminder_group": "x".repeat(76)})).await;
    assert_eq!(status, 400);
    assert!(answer["message"]
        .as_str()
        .unwrap()
        .starts_with("reminder_group"));
    let user = format!("/v1/tenants/{}/users/u-nobody/reminders", stack.tenant_id);
    assert_eq!(put(&stack, &user, json!({"enabled": false})).await.0, 404);

    let error = reminders(&stack)
        .handle(&json!({"scheduled_time": "tomorrow at nine"}))
        .await
        .unwrap_err();
    assert!(matches!(error, ReminderRunError::Input(ref e) if e.field == "scheduled_time"));
    assert!(stack.drain_queue().await.is_empty(), "nothing was queued");
}

#[tokio::test]
async fn a_rate_limited_digest_waits_out_retry_after_and_is_sent_once_on_redelivery() {
    let stack = Stack::start().await;
    map(
        &stack,
        json!([{"user_id": "u-dev", "email": "dev@sandbox.example", "name": "Dev"}]),
    )
    .await;
    set_tenant_reminders(&stack, json!({"time": "10:45"})).await;
    request(&stack, "DR-R", "deal_registration", &["u-dev"]).await;
    work(&stack).await;
    stack.slack.inject(
        "chat.postMessage",
        sandbox::slack::Fault::RateLimited {
            retry_after_secs: 120,
        },
        1,
    );

    // Wednesday 2026-11-25 10:45 in Los Angeles (-08:00) is 18:45 UTC.
    reminders(&stack)
        .handle(&json!({"scheduled_time": "2026-11-25T18:45:00Z"}))
        .await
        .unwrap();
    let jobs: Vec<SqsMessage> = stack
        .drain_queue()
        .await
        .into_iter()
        .filter(|r| r.body.as_deref().unwrap().contains(&stack.tenant_id))
        .collect();
    assert_eq!(jobs.len(), 1);
    let first = stack.worker.handle(sqs_event(jobs.clone())).await;

    assert_eq!(
        first.batch_item_failures.len(),
        1,
        "Slack said wait: the job comes back"
    );
    assert!(digests(&stack, "U0DEV").is_empty());
    // SQS brings the same job back (here: handed in again): sent now, and only once.
    let second = stack.worker.handle(sqs_event(jobs.clone())).await;
    let third = stack.worker.handle(sqs_event(jobs)).await;
    assert!(second.batch_item_failures.is_empty() && third.batch_item_failures.is_empty());
    assert_eq!(digests(&stack, "U0DEV").len(), 1);
}

#[tokio::test]
async fn a_digest_whose_answer_was_lost_is_never_posted_twice() {
    let stack = Stack::start().await;
    map(
        &stack,
        json!([{"user_id": "u-dev", "email": "dev@sandbox.example", "name": "Dev"}]),
    )
    .await;
    set_tenant_reminders(&stack, json!({"time": "11:15"})).await;
    request(&stack, "DR-L", "deal_registration", &["u-dev"]).await;
    work(&stack).await;
    // Slack posts the digest, then the answer is lost (HTTP 502 after the commit).
    stack.slack.inject(
        "chat.postMessage",
        sandbox::slack::Fault::CommitThenFail {
            status: 502,
            millis: 0,
        },
        1,
    );

    // Wednesday 2026-11-25 11:15 in Los Angeles (-08:00) is 19:15 UTC.
    assert_eq!(run_at(&stack, "2026-11-25T19:15:00Z").await, vec!["u-dev"]);
    // The same slot again (a repeated schedule invocation, a redelivered job).
    assert_eq!(run_at(&stack, "2026-11-25T19:15:00Z").await, vec!["u-dev"]);

    assert_eq!(
        digests(&stack, "U0DEV").len(),
        1,
        "the one Slack committed, no second"
    );
}
