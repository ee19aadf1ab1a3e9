//! `make load`: the click race at scale. Requests in the kind's channel (or, with
//! `LOAD_DMS=1`, to 20 named approvers, each with a DM copy), 20 approvers clicking at once,
//! through the gateway over HTTP; the real `decision-worker` binary as processes under a local Runtime API, fed
//! by SQS with redelivery on, and a share of its runs SIGKILLed at random. It checks that
//! each request was decided once, every copy shows the decision, the host got one decision
//! event id per request, each losing approver got at most one note, and nothing was
//! dead-lettered; it prints the throughput and click-to-updated latency.
//!
//! Settings (environment): `LOAD_REQUESTS` (1000), `LOAD_CLICKS` (20 approvers, each a click),
//! `LOAD_KILL_PERCENT` (1), `LOAD_WORKERS` (4 processes), `LOAD_CONCURRENCY` (requests in
//! flight, 8), `LOAD_VISIBILITY_SECS` (60: the worker's timeout; the template's 360 s
//! compressed, so a killed run's records return within a minute), `LOAD_DRAIN_SECS` (900: how
//! long everything may take to settle), `LOAD_DMS` (0), `DECISION_WORKER_BIN` (the release
//! build, as `make load` sets).

#[allow(dead_code)]
#[path = "../integration/common/mod.rs"]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::sqs::SqsBatchResponse;
use aws_sdk_sqs::types::QueueAttributeName;
use devserver::runtime_api::{FunctionProcess, InvokeError};
use futures::StreamExt as _;
use serde_json::{json, Value};

use common::{worker_process, Options, Stack};

/// The worker's timeout in template.yaml: an invocation without an answer by then is over.
const WORKER_TIMEOUT: Duration = Duration::from_secs(60);

struct Settings {
    requests: usize,
    clicks: usize,
    kill_percent: f64,
    workers: usize,
    concurrency: usize,
    visibility_secs: u32,
    drain_secs: u64,
    /// Name the clickers as approvers, so each also gets a DM copy (and an App Home); off,
    /// they are members of the kind's channel, where anyone may decide, and click there.
    dms: bool,
}

fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(raw) => raw
            .parse()
            .unwrap_or_else(|_| panic!("{name}={raw:?} is not a valid value")),
        Err(_) => default,
    }
}

impl Settings {
    fn from_env() -> Self {
        Self {
            requests: setting("LOAD_REQUESTS", 1000),
            clicks: setting("LOAD_CLICKS", 20),
            kill_percent: setting("LOAD_KILL_PERCENT", 1.0),
            workers: setting("LOAD_WORKERS", 4),
            concurrency: setting("LOAD_CONCURRENCY", 8),
            visibility_secs: setting("LOAD_VISIBILITY_SECS", 60),
            drain_secs: setting("LOAD_DRAIN_SECS", 900),
            dms: setting("LOAD_DMS", 0) == 1,
        }
    }
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

/// What the event source mapping stand-ins saw.
#[derive(Default)]
struct WorkerRuns {
    runs: AtomicU64,
    killed: AtomicU64,
    failed_records: AtomicU64,
    /// Run durations, for the kill moments (milliseconds).
    durations: Mutex<Vec<u64>>,
}

impl WorkerRuns {
    /// A kill moment inside a typical run: uniform up to the median run so far.
    fn kill_after(&self) -> Duration {
        let median = {
            let durations = self.durations.lock().unwrap();
            let mut sorted = durations.clone();
            sorted.sort_unstable();
            sorted.get(sorted.len() / 2).copied().unwrap_or(50)
        };
        Duration::from_millis(rand::random_range(0..=median.max(1)))
    }
}

/// Feeds one worker process from the queue, as Lambda's event source mapping does, and
/// kills `kill_percent` of its runs at a random moment.
async fn feed(
    sqs: aws_sdk_sqs::Client,
    queue: String,
    process: Arc<FunctionProcess>,
    runs: Arc<WorkerRuns>,
    kill_percent: f64,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::SeqCst) {
        let batch = match devserver::esm::receive(&sqs, &queue, 1).await {
            Ok(Some(batch)) => batch,
            Ok(None) => continue,
            Err(error) => {
                eprintln!("receive failed: {error}");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let mut batch = batch;
        let event = json!(std::mem::take(&mut batch.event));
        runs.runs.fetch_add(1, Ordering::SeqCst);
        let doomed = rand::random::<f64>() * 100.0 < kill_percent;
        let started = Instant::now();
        let kill = doomed.then(|| {
            let process = process.clone();
            let after = runs.kill_after();
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                process.kill().await;
            })
        });
        let answer = process.invoke(event, WORKER_TIMEOUT).await;
        if let Some(kill) = kill {
            // A run that ended before its kill moment was not killed: the kill is called off.
            kill.abort();
        }
        match answer {
            Ok(answer) => {
                runs.durations
                    .lock()
                    .unwrap()
                    .push(started.elapsed().as_millis() as u64);
                let answer: SqsBatchResponse = match serde_json::from_value(answer) {
                    Ok(answer) => answer,
                    Err(error) => {
                        // Nothing is deleted: the records come back, as on Lambda.
                        eprintln!("the worker's answer is no partial batch response: {error}");
                        continue;
                    }
                };
                runs.failed_records
                    .fetch_add(answer.batch_item_failures.len() as u64, Ordering::SeqCst);
                if let Err(error) = batch.settle(&sqs, &queue, &answer).await {
                    eprintln!("delete failed: {error}");
                }
            }
            Err(InvokeError::Killed) => {
                runs.killed.fetch_add(1, Ordering::SeqCst);
                // Its records come back after the visibility timeout, to a fresh process.
                if let Err(error) = process.restart_if_gone().await {
                    eprintln!("the worker did not start again: {error}");
                }
            }
            Err(error) => {
                eprintln!("worker run failed: {error}");
                let _ = process.restart_if_gone().await;
            }
        }
    }
}

/// One request as created and clicked.
struct Clicked {
    id: String,
    /// Every copy: (channel, ts).
    copies: Vec<(String, String)>,
    /// Where each approver clicked, by Slack user: their DM copy, or the channel's.
    clicked_at: BTreeMap<String, (String, String)>,
    clicks_sent_ms: u128,
    click_statuses: Vec<u16>,
}

async fn create_and_click(
    stack: &Stack,
    http: &reqwest::Client,
    n: usize,
    settings: &Settings,
) -> Clicked {
    let clicks = settings.clicks;
    let mut body = stack.approval_body(&format!("LOAD-{n}"));
    if settings.dms {
        body["approvers"] = json!((0..clicks).map(|i| format!("u-{i}")).collect::<Vec<_>>());
    }
    let (status, created) = stack.host_call("POST", "/v1/approvals", &body).await;
    assert_eq!(status, 201, "request {n} was not created: {created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let item = stack.approval_item(&id).await;
    let mut copies = Vec::new();
    let mut dms = BTreeMap::new();
    for copy in item["copies"].as_object().unwrap().values() {
        let at = (
            copy["channel_id"].as_str().unwrap().to_owned(),
            copy["message_ts"].as_str().unwrap().to_owned(),
        );
        if let Some(user) = copy["for_user"].as_str() {
            dms.insert(user.to_owned(), at.clone());
        }
        copies.push(at);
    }
    let clicked_at = if settings.dms {
        assert_eq!(dms.len(), clicks, "request {n}: one DM per approver");
        dms
    } else {
        let channel_copy = (
            created["slack"]["channel_id"].as_str().unwrap().to_owned(),
            created["slack"]["message_ts"].as_str().unwrap().to_owned(),
        );
        (0..clicks)
            .map(|i| (format!("U{i:03}{}", stack.team_id), channel_copy.clone()))
            .collect()
    };
    let payloads: Vec<String> = clicked_at
        .iter()
        .map(|(user, (channel, ts))| {
            stack
                .slack
                .click_payload(channel, ts, "approve", user)
                .expect("the copy has the buttons")
        })
        .collect();
    let clicks_sent_ms = now_ms();
    let click_statuses = futures::future::join_all(payloads.iter().map(|payload| async {
        let (timestamp, signature) = stack.slack.sign(payload);
        http.post(format!("{}/slack/interactions", stack.gateway))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", timestamp)
            .header("x-slack-signature", signature)
            .body(payload.clone())
            .send()
            .await
            .map(|answer| answer.status().as_u16())
            .unwrap_or(0)
    }))
    .await;
    Clicked {
        id,
        copies,
        clicked_at,
        clicks_sent_ms,
        click_statuses,
    }
}

async fn queue_depth(sqs: &aws_sdk_sqs::Client, queue: &str) -> u64 {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(queue)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .expect("the queue's attributes are read")
        .attributes
        .unwrap_or_default();
    attributes
        .values()
        .map(|count| count.parse::<u64>().unwrap_or(0))
        .sum()
}

fn percentile(sorted: &[u128], p: f64) -> u128 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn is_final(blocks: &Value) -> bool {
    let text = blocks.to_string();
    let has_buttons = blocks
        .as_array()
        .is_some_and(|blocks| blocks.iter().any(|b| b["type"] == "actions"));
    !has_buttons && (text.contains("Approved by") || text.contains("Rejected by"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let settings = Settings::from_env();
    let stack = Stack::start_with(Options {
        own_table: true,
        ..Options::default()
    })
    .await;

    // The approvers, mapped by email to the sandbox workspace's people.
    let users: Vec<Value> = (0..settings.clicks)
        .map(|i| {
            json!({"user_id": format!("u-{i}"), "email": format!("approver{i}@sandbox.example"),
                        "name": format!("Approver {i}")})
        })
        .collect();
    let (status, body) = stack
        .host_call(
            "PUT",
            &format!("/v1/tenants/{}/users", stack.tenant_id),
            &json!({ "users": users }),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // The decision queue with redelivery on: its dead-letter queue and the redrive policy of
    // template.yaml, a visibility timeout compressed from the template's.
    let (dlq, dlq_arn) = common::dead_letter_queue(&stack.sqs).await;
    stack
        .sqs
        .set_queue_attributes()
        .queue_url(&stack.queue_url)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            settings.visibility_secs.to_string(),
        )
        .attributes(
            QueueAttributeName::RedrivePolicy,
            json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 200}).to_string(),
        )
        .send()
        .await
        .unwrap();

    let runs = Arc::new(WorkerRuns::default());
    let stop = Arc::new(AtomicBool::new(false));
    // This run's worker log only (the processes append to it across their restarts).
    let _ = std::fs::remove_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../build/logs/load-worker.log"
    ));
    let mut processes = Vec::new();
    let mut feeders = Vec::new();
    for _ in 0..settings.workers {
        let process = Arc::new(worker_process(&stack, &stack.queue_url, &dlq, "load-worker").await);
        processes.push(process.clone());
        feeders.push(tokio::spawn(feed(
            stack.sqs.clone(),
            stack.queue_url.clone(),
            process,
            runs.clone(),
            settings.kill_percent,
            stop.clone(),
        )));
    }

    println!(
        "load: {} requests × {} approvers clicking at once ({}), {} worker processes, {}% of runs killed, {} requests in flight",
        settings.requests, settings.clicks,
        if settings.dms { "each in their own DM" } else { "in the kind's channel" },
        settings.workers, settings.kill_percent, settings.concurrency
    );
    let http = reqwest::Client::new();
    let started = Instant::now();
    let done = AtomicU64::new(0);
    let clicked: Vec<Clicked> = futures::stream::iter(0..settings.requests)
        .map(|n| {
            let (stack, http, done, settings) = (&stack, &http, &done, &settings);
            async move {
                let clicked = create_and_click(stack, http, n, settings).await;
                let count = done.fetch_add(1, Ordering::SeqCst) + 1;
                if count % 100 == 0 {
                    println!(
                        "  {count} requests clicked ({:.0} s)",
                        started.elapsed().as_secs_f64()
                    );
                }
                clicked
            }
        })
        .buffer_unordered(settings.concurrency)
        .collect()
        .await;
    let clicking = started.elapsed();

    // Everything settles: a decision webhook per request, then an empty queue.
    let deadline = Instant::now() + Duration::from_secs(settings.drain_secs);
    let wanted: BTreeSet<&str> = clicked.iter().map(|c| c.id.as_str()).collect();
    let decided_ids = |hooks: &[sandbox::host::ReceivedWebhook]| -> BTreeSet<String> {
        hooks
            .iter()
            .filter(|h| h.body["type"] == "approval.decided" && h.answered == 200)
            .filter_map(|h| h.body["data"]["approval_id"].as_str().map(str::to_owned))
            .collect()
    };
    loop {
        let hooks = stack
            .host
            .wait_for(stack.host.received().len() + 1, Duration::from_secs(1))
            .await;
        if decided_ids(&hooks).len() >= wanted.len() || Instant::now() > deadline {
            break;
        }
    }
    let settled_hooks_at = started.elapsed();
    while queue_depth(&stack.sqs, &stack.queue_url).await > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let total = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    let mut problems: Vec<String> = Vec::new();
    for feeder in feeders {
        if let Err(error) = feeder.await {
            problems.push(format!("a worker feeder failed: {error}"));
        }
    }

    // The checks.
    let mut latencies = Vec::new();
    let mut copies_total = 0;
    let mut copies_final = 0;
    let mut copies_edited_twice = 0;
    let mut notes = 0;
    let messages = stack.slack.all_messages();
    let mut notes_by: BTreeMap<(String, String), u32> = BTreeMap::new();
    for message in &messages {
        if let (Some(user), Some(about)) = (&message.ephemeral_for, &message.response_to) {
            *notes_by.entry((about.clone(), user.clone())).or_default() += 1;
        }
    }
    let by_ts: BTreeMap<(&str, &str), &sandbox::slack::Message> = messages
        .iter()
        .filter(|m| m.ephemeral_for.is_none())
        .map(|m| ((m.channel.as_str(), m.ts.as_str()), m))
        .collect();
    for request in &clicked {
        if request.click_statuses.iter().any(|s| *s != 200) {
            problems.push(format!(
                "{}: clicks answered {:?}",
                request.id, request.click_statuses
            ));
        }
        let item = stack.approval_item(&request.id).await;
        if item["status"] != "approved" || item["version"] != 1 {
            problems.push(format!(
                "{}: status {} at version {} (one decision expected)",
                request.id, item["status"], item["version"]
            ));
        }
        let mut updated_at = Some(0);
        for (channel, ts) in &request.copies {
            copies_total += 1;
            match by_ts.get(&(channel.as_str(), ts.as_str())) {
                Some(message) if is_final(&message.blocks) => {
                    copies_final += 1;
                    if message.edits > 1 {
                        copies_edited_twice += 1;
                    }
                    updated_at = updated_at.zip(message.edited_at_ms).map(|(a, b)| a.max(b));
                }
                _ => {
                    updated_at = None;
                    problems.push(format!("{}: copy {channel}/{ts} not final", request.id));
                }
            }
        }
        // Only a request whose every copy was updated has a click-to-updated time.
        if let Some(updated_at) = updated_at {
            latencies.push(updated_at.saturating_sub(request.clicks_sent_ms));
        }
        for (user, (_, ts)) in &request.clicked_at {
            match notes_by
                .get(&(ts.clone(), user.clone()))
                .copied()
                .unwrap_or(0)
            {
                0 | 1 => {}
                more => problems.push(format!("{}: {user} got {more} notes", request.id)),
            }
            notes += notes_by
                .get(&(ts.clone(), user.clone()))
                .copied()
                .unwrap_or(0);
        }
    }
    let hooks = stack.host.received();
    let decided = decided_ids(&hooks);
    let distinct_event_ids = hooks
        .iter()
        .filter(|h| h.body["type"] == "approval.decided")
        .map(|h| h.body["id"].to_string())
        .collect::<BTreeSet<_>>()
        .len();
    let decision_deliveries = hooks
        .iter()
        .filter(|h| h.body["type"] == "approval.decided")
        .count();
    let mut ids_per_request: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for hook in hooks
        .iter()
        .filter(|h| h.body["type"] == "approval.decided")
    {
        ids_per_request
            .entry(
                hook.body["data"]["approval_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
            .or_default()
            .insert(hook.body["id"].to_string());
    }
    for id in &wanted {
        match ids_per_request.get(*id).map(BTreeSet::len) {
            Some(1) => {}
            other => problems.push(format!("{id}: {other:?} decision event ids")),
        }
    }
    if hooks.iter().any(|h| !h.signature_valid) {
        problems.push("a webhook with a bad signature".into());
    }
    let dead = queue_depth(&stack.sqs, &dlq).await;
    if dead > 0 {
        problems.push(format!("{dead} records in the dead-letter queue"));
    }
    let left = queue_depth(&stack.sqs, &stack.queue_url).await;
    if left > 0 {
        problems.push(format!("{left} records still on the queue"));
    }
    latencies.sort_unstable();
    let table_calls: Value = reqwest::get(format!(
        "{}/_counts/{}",
        common::env("AWS_ENDPOINT_URL"),
        stack.table
    ))
    .await
    .expect("the local AWS answers")
    .json()
    .await
    .unwrap_or_default();
    let per_request = |operation: &str| {
        table_calls[operation]["calls"].as_u64().unwrap_or(0) as f64 / settings.requests as f64
    };

    let clicks = settings.requests * settings.clicks;
    println!();
    println!("| result | value |");
    println!("| --- | --- |");
    println!(
        "| requests decided (one transition each) | {} of {} |",
        decided.len(),
        settings.requests
    );
    println!("| copies in their final state | {copies_final} of {copies_total} |");
    println!("| copies edited twice (a run killed after chat.update, before its done flag) | {copies_edited_twice} |");
    println!(
        "| decision webhooks: distinct event ids / deliveries | {distinct_event_ids} / {decision_deliveries} |"
    );
    println!("| \"already decided\" notes (at most one per losing click) | {notes} |");
    println!(
        "| worker runs / killed mid-run | {} / {} |",
        runs.runs.load(Ordering::SeqCst),
        runs.killed.load(Ordering::SeqCst)
    );
    println!(
        "| records retried (reported failures) | {} |",
        runs.failed_records.load(Ordering::SeqCst)
    );
    println!(
        "| worker processes started (cold starts) | {} |",
        processes.iter().map(|p| p.starts()).sum::<u64>()
    );
    println!("| dead-letter queue | {dead} |");
    println!(
        "| DynamoDB calls per request: GetItem, UpdateItem, PutItem, Query, BatchWriteItem | {:.0}, {:.0}, {:.0}, {:.0}, {:.0} |",
        per_request("GetItem"), per_request("UpdateItem"), per_request("PutItem"),
        per_request("Query"), per_request("BatchWriteItem")
    );
    println!(
        "| requests created and clicked (clicks, all checked for 200) | {clicks} in {:.1} s ({:.0} clicks/s) |",
        clicking.as_secs_f64(),
        clicks as f64 / clicking.as_secs_f64()
    );
    println!(
        "| every decision webhook in | {:.1} s ({:.1} decisions/s) |",
        settled_hooks_at.as_secs_f64(),
        settings.requests as f64 / settled_hooks_at.as_secs_f64()
    );
    println!("| queue empty | {:.1} s |", total.as_secs_f64());
    println!(
        "| click → every copy updated, p50 / p99 / max | {} / {} / {} ms |",
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(0)
    );
    if problems.is_empty() {
        println!("\nload: every check passed");
        ExitCode::SUCCESS
    } else {
        for problem in problems.iter().take(30) {
            eprintln!("  {problem}");
        }
        eprintln!("load: {} problems", problems.len());
        ExitCode::FAILURE
    }
}
