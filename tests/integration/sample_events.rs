//! The sample events in `events/` are what each function accepts.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::sqs::SqsEvent;

fn read(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../events/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn http_samples_are_api_gateway_v2_events_with_signatures() {
    for (name, header) in [
        ("approvals-api", "x-approvals-signature"),
        ("slack-interactions", "x-slack-signature"),
    ] {
        let event: ApiGatewayV2httpRequest = serde_json::from_str(&read(name)).unwrap();
        assert!(
            event.headers.contains_key(header),
            "{name} carries {header}"
        );
        assert_eq!(event.request_context.http.method, "POST");
    }
}

#[test]
fn the_install_sample_is_a_get_with_a_link_token() {
    let event: ApiGatewayV2httpRequest = serde_json::from_str(&read("oauth-callback")).unwrap();
    assert_eq!(event.request_context.http.method, "GET");
    assert_eq!(event.raw_path.as_deref(), Some("/slack/install"));
    assert!(event.query_string_parameters.first("t").is_some());
}

#[test]
fn the_worker_sample_is_an_sqs_batch_of_one_decision_command() {
    let event: SqsEvent = serde_json::from_str(&read("decision-worker")).unwrap();
    let item: approvals_core::ports::WorkItem =
        serde_json::from_str(event.records[0].body.as_deref().unwrap()).unwrap();
    let approvals_core::ports::WorkItem::Decide(command) = item else {
        panic!("the sample is a decision command")
    };
    assert_eq!(
        command.approval_id,
        approvals_core::domain::approval_id_for("acme", "DR-1042")
    );
}

#[test]
fn the_reminders_sample_is_the_schedules_input_for_the_kolkata_slot() {
    let input: serde_json::Value = serde_json::from_str(&read("daily-reminders")).unwrap();
    let slot = daily_reminders::slot_of(&input).unwrap();
    assert_eq!(
        approvals_core::time::rfc3339(slot.start()),
        "2026-11-25T03:30:00Z"
    );
}

/// The sample as `cargo lambda invoke` would send it now: the same request, its timestamp
/// moved to now and signed again with the local secret (the one the stack runs with).
fn signed_now(name: &str, sign: impl Fn(i64, &str, &str, &str) -> String) -> serde_json::Value {
    let mut event: serde_json::Value = serde_json::from_str(&read(name)).unwrap();
    let now = approvals_core::time::unix_now();
    let body = event["body"].as_str().unwrap_or_default().to_owned();
    let method = event["requestContext"]["http"]["method"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = event["rawPath"].as_str().unwrap().to_owned();
    let headers = event["headers"].as_object_mut().unwrap();
    let (timestamp, signature) = if headers.contains_key("x-approvals-signature") {
        ("x-approvals-timestamp", "x-approvals-signature")
    } else {
        ("x-slack-request-timestamp", "x-slack-signature")
    };
    headers.insert(timestamp.into(), serde_json::json!(now.to_string()));
    headers.insert(
        signature.into(),
        serde_json::json!(sign(now, &method, &path, &body)),
    );
    event
}

#[tokio::test]
async fn each_sample_event_runs_through_its_functions_handler() {
    use crate::common::{invoke, sqs_event, Stack};
    use approvals_core::signing::{sign_host_request, sign_slack};

    let stack = Stack::start().await;
    // The samples name tenant `acme` in the sandbox's workspace, with #approvals.
    stack.connect("acme", &stack.team_id).await;
    let secrets = &stack.secrets;

    let api = signed_now("approvals-api", |now, method, path, body| {
        sign_host_request(
            secrets.host_api_secret.as_bytes(),
            now,
            method,
            path,
            body.as_bytes(),
        )
    });
    let (status, created) = invoke(&stack.api_router, api).await;
    assert!(status == 201 || status == 200, "{status} {created}");
    assert_eq!(
        created["id"],
        approvals_core::domain::approval_id_for("acme", "DR-1042").as_str()
    );

    let slack_signed = |name| {
        signed_now(name, |now, _, _, body| {
            sign_slack(
                secrets.slack_signing_secret.as_bytes(),
                now,
                body.as_bytes(),
            )
        })
    };
    let (status, _) = invoke(
        &stack.interactions_router,
        slack_signed("slack-interactions"),
    )
    .await;
    assert_eq!(status, 200, "the click is acknowledged");
    let (status, challenge) = invoke(&stack.events_router, slack_signed("slack-events")).await;
    assert_eq!(status, 200);
    assert!(challenge["challenge"].is_string(), "{challenge}");

    // The install sample's link token was made elsewhere: the page says the link is no good.
    let install: serde_json::Value = serde_json::from_str(&read("oauth-callback")).unwrap();
    let (status, _) = invoke(&stack.oauth_router, install).await;
    assert!(
        (400..500).contains(&status) && status != 404,
        "a refusal page, not a missing route: {status}"
    );

    // The worker takes its sample (and the click just queued) without a failed record.
    let mut worker_sample: SqsEvent = serde_json::from_str(&read("decision-worker")).unwrap();
    worker_sample.records.extend(stack.drain_queue().await);
    let answer = stack.worker.handle(sqs_event(worker_sample.records)).await;
    assert!(
        answer.batch_item_failures.is_empty(),
        "{:?}",
        answer.batch_item_failures
    );

    let reminders = daily_reminders::DailyReminders::new(
        &stack.aws,
        daily_reminders::Settings {
            table: stack.table.clone(),
            queue_url: stack.queue_url.clone(),
        },
    )
    .unwrap();
    let input: serde_json::Value = serde_json::from_str(&read("daily-reminders")).unwrap();
    reminders
        .handle(&input)
        .await
        .expect("the run takes its sample");
}
