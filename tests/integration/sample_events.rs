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
