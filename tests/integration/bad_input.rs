//! The bad-input corpus: every file in `tests/corpus/<route>/` is one malformed or forged
//! request, with the status it must get. Each is sent through its function's handler as
//! API Gateway would deliver it, and must change nothing: no item in the table (beyond
//! the replay guard's record of a signature it saw), nothing queued, no Slack call, no
//! webhook. A new case is one new file.

use std::collections::{BTreeMap, BTreeSet};

use approvals_core::signing::{sign_host_request, sign_slack};
use approvals_core::time::unix_now;
use base64::Engine as _;
use serde::Deserialize;

use crate::common::{http_event, invoke, Options, Stack};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    why: String,
    route: String,
    method: String,
    path: String,
    #[serde(default)]
    query: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    body_base64: Option<String>,
    /// `none`, `host` or `slack` (signed right), `stale`, `future`, `milliseconds`,
    /// `wrong_secret`, `malformed`, `host_other_path`, `slack_upper` (header names in capitals).
    sign: String,
    #[serde(default)]
    is_base64_encoded: bool,
    /// Signed, then a byte added: the signature no longer covers what arrives.
    #[serde(default)]
    tamper: bool,
    expect: u16,
}

/// What a refused request must leave as it was.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    items: BTreeSet<(String, String)>,
    slack_calls: usize,
    webhooks: usize,
}

async fn snapshot(stack: &Stack) -> Snapshot {
    let mut items = BTreeSet::new();
    let mut start = None;
    loop {
        let page = stack
            .dynamodb
            .scan()
            .table_name(&stack.table)
            .projection_expression("pk, sk")
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for item in page.items() {
            let key = |name: &str| item[name].as_s().unwrap().clone();
            let (pk, sk) = (key("pk"), key("sk"));
            // The replay guard remembers each signed request it let through.
            if !pk.starts_with("CLAIM#HOSTSIG#") {
                items.insert((pk, sk));
            }
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    Snapshot {
        items,
        slack_calls: stack.slack.calls(None).len(),
        webhooks: stack.host.received().len(),
    }
}

/// The case's placeholders filled in: this stack's tenant, request, thread and workspace,
/// another tenant of the workspace, and where files may come from.
fn fill(text: &str, values: &[(&str, &str)]) -> String {
    values.iter().fold(text.to_owned(), |text, (name, value)| {
        text.replace(&format!("{{{name}}}"), value)
    })
}

#[tokio::test]
async fn every_case_of_the_bad_input_corpus_is_refused_and_changes_nothing() {
    let stack = Stack::start_with(Options {
        own_table: true,
        ..Options::default()
    })
    .await;
    let other_tenant = format!("{}-b", stack.tenant_id);
    stack.connect(&other_tenant, &stack.team_id).await;
    let (approval_id, channel, ts) = stack.create_approval("CORPUS-1").await;
    stack.host_events().await;
    let files_prefix = format!("{}/files/", stack.host_base);
    let values = [
        ("tenant_id", stack.tenant_id.as_str()),
        ("other_tenant", other_tenant.as_str()),
        ("approval_id", approval_id.as_str()),
        ("channel", channel.as_str()),
        ("ts", ts.as_str()),
        ("team_id", stack.team_id.as_str()),
        ("files_prefix", files_prefix.as_str()),
    ];

    let mut files: Vec<_> = std::fs::read_dir(CORPUS)
        .unwrap()
        .flat_map(|route| std::fs::read_dir(route.unwrap().path()).unwrap())
        .map(|file| file.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 60, "the corpus has {} cases", files.len());

    let before = snapshot(&stack).await;
    let mut failures = Vec::new();
    for file in &files {
        let name = file.strip_prefix(CORPUS).unwrap().display().to_string();
        let case: Case = serde_json::from_str(&std::fs::read_to_string(file).unwrap())
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        let path = fill(&case.path, &values);
        let query = fill(&case.query, &values);
        let target = if query.is_empty() {
            path.clone()
        } else {
            format!("{path}?{query}")
        };
        let mut body = match (&case.body, &case.body_base64) {
            (_, Some(encoded)) => base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .unwrap(),
            (Some(text), None) if text == "{{oversize}}" => vec![b' '; 7 * 1024 * 1024],
            (Some(text), None) => fill(text, &values).into_bytes(),
            (None, None) => Vec::new(),
        };
        let now = unix_now();
        let secrets = &stack.secrets;
        let host = |secret: &[u8], at: i64, signed_target: &str| {
            sign_host_request(secret, at, &case.method, signed_target, &body)
        };
        let slack = |secret: &[u8], at: i64| sign_slack(secret, at, &body);
        let (host_api, signing) = (
            secrets.host_api_secret.as_bytes(),
            secrets.slack_signing_secret.as_bytes(),
        );
        let for_host = case.route == "approvals-api";
        let signed = |secret: &[u8], at: i64| {
            if for_host {
                host(secret, at, &target)
            } else {
                slack(secret, at)
            }
        };
        let right = if for_host { host_api } else { signing };
        let (timestamp, signature) = match case.sign.as_str() {
            "none" => (None, None),
            "host" | "slack" | "slack_upper" => (Some(now), Some(signed(right, now))),
            "stale" => (Some(now - 600), Some(signed(right, now - 600))),
            "future" => (Some(now + 600), Some(signed(right, now + 600))),
            "milliseconds" => (Some(now * 1000), Some(signed(right, now * 1000))),
            "wrong_secret" => (Some(now), Some(signed(b"not-the-secret", now))),
            "malformed" => (
                Some(now),
                Some(if for_host { "v1=zz" } else { "v0=zz" }.to_owned()),
            ),
            "host_other_path" => (Some(now), Some(host(host_api, now, "/v1/approvals"))),
            other => panic!("{name}: unknown sign mode {other}"),
        };
        if case.tamper {
            body.push(b' ');
        }
        let (timestamp_header, signature_header) = match (for_host, case.sign.as_str()) {
            (true, _) => ("x-approvals-timestamp", "x-approvals-signature"),
            (false, "slack_upper") => ("X-Slack-Request-Timestamp", "X-Slack-Signature"),
            (false, _) => ("x-slack-request-timestamp", "x-slack-signature"),
        };
        let timestamp = timestamp.map(|at| at.to_string());
        let mut headers: Vec<(&str, &str)> = case
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if let (Some(timestamp), Some(signature)) = (&timestamp, &signature) {
            headers.push((timestamp_header, timestamp));
            headers.push((signature_header, signature));
        }
        let base64_body = case.is_base64_encoded || std::str::from_utf8(&body).is_err();
        let event = http_event(&case.method, &target, &headers, &body, base64_body);
        let router = match case.route.as_str() {
            "approvals-api" => &stack.api_router,
            "slack-interactions" => &stack.interactions_router,
            "slack-events" => &stack.events_router,
            "oauth-callback" => &stack.oauth_router,
            other => panic!("{name}: unknown route {other}"),
        };
        let (status, answer) = invoke(router, event).await;
        if status != case.expect {
            failures.push(format!(
                "{name} ({}): expected {}, got {status}: {answer}",
                case.why, case.expect
            ));
        }
        let queued = stack.drain_queue().await;
        if !queued.is_empty() {
            failures.push(format!("{name}: queued {} messages", queued.len()));
        }
        let after = snapshot(&stack).await;
        if after != before {
            let added: Vec<_> = after.items.difference(&before.items).collect();
            failures.push(format!(
                "{name}: changed things: new items {added:?}, Slack calls {} → {}, webhooks {} → {}",
                before.slack_calls, after.slack_calls, before.webhooks, after.webhooks
            ));
            break;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
