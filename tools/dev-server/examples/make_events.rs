//! Writes `events/*.json`: one sample event per function, signed now with the local dev
//! secret (`scripts/dev-secret.json`), for `cargo lambda invoke --data-file` and `sam local invoke`.

use approvals_core::config::AppSecrets;
use approvals_core::domain::approval_id_for;
use approvals_core::signing::{sign_host_request, sign_slack};
use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let secrets = AppSecrets::from_json(&std::fs::read_to_string(
        root.join("scripts/dev-secret.json"),
    )?)?;
    let now = approvals_core::time::unix_now();
    let approval_id = approval_id_for("acme", "DR-1042");

    let create = json!({
        "tenant_id": "acme", "external_id": "DR-1042", "kind": "deal_registration",
        "title": "Deal registration: Initech, $48,000",
        "fields": [{"label": "Account", "value": "Initech"}, {"label": "Deal value", "value": "$48,000"},
                   {"label": "Expected close", "value": "2026-12-15"}],
        "notes": "Partner notes…", "link": "https://host.example/deals/1042",
        "requester": {"name": "Pat Partner", "email": "pat@reseller.example"},
        "channel_id": "C0APPROVALS"
    })
    .to_string();
    let host_signature = sign_host_request(
        secrets.host_api_secret.as_bytes(),
        now,
        "POST",
        "/v1/approvals",
        create.as_bytes(),
    );
    let api_event = http_event(
        "POST",
        "/v1/approvals",
        &create,
        json!({
            "content-type": "application/json",
            "x-approvals-timestamp": now.to_string(),
            "x-approvals-signature": host_signature,
        }),
    );

    let payload = json!({
        "type": "block_actions",
        "team": {"id": "T0SANDBOX", "domain": "sandbox-co"},
        "user": {"id": "U0ANA", "username": "ana", "team_id": "T0SANDBOX"},
        "api_app_id": "A0SANDBOX",
        "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": "C0APPROVALS"},
        "channel": {"id": "C0APPROVALS", "name": "approvals"},
        "response_url": "http://127.0.0.1:9/response/sample",
        "actions": [{"type": "button", "action_id": "approve", "block_id": "approval_actions",
                     "value": approval_id, "action_ts": format!("{now}.000001")}],
    });
    let click = serde_urlencoded::to_string([("payload", payload.to_string())])?;
    let interactions_event = http_event(
        "POST",
        "/slack/interactions",
        &click,
        json!({
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": now.to_string(),
            "x-slack-signature": sign_slack(secrets.slack_signing_secret.as_bytes(), now, click.as_bytes()),
        }),
    );

    let command = json!({"type": "decide", "body": {
        "command_id": format!("T0SANDBOX:U0ANA:{now}.000001:{approval_id}"),
        "approval_id": approval_id, "decision": "approved", "user_id": "U0ANA",
        "team_id": "T0SANDBOX", "response_url": "http://127.0.0.1:9/response/sample"
    }});
    let sqs_event = json!({"Records": [{
        "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d", "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
        "body": command.to_string(), "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": (now * 1000).to_string()},
        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:approvals-dev-DecisionQueue", "awsRegion": "us-east-1"
    }]});

    let mut install_event = http_event(
        "GET",
        "/slack/install",
        "",
        json!({"user-agent": "Mozilla/5.0"}),
    );
    install_event["rawQueryString"] = json!("t=0123456789abcdef");
    install_event["queryStringParameters"] = json!({"t": "0123456789abcdef"});
    if let Some(fields) = install_event.as_object_mut() {
        fields.remove("body");
    }

    let verification = json!({"token": "deprecated", "type": "url_verification",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
    .to_string();
    let events_event = http_event(
        "POST",
        "/slack/events",
        &verification,
        json!({
            "content-type": "application/json",
            "x-slack-request-timestamp": now.to_string(),
            "x-slack-signature": sign_slack(secrets.slack_signing_secret.as_bytes(), now, verification.as_bytes()),
        }),
    );

    std::fs::create_dir_all(root.join("events"))?;
    let events = [
        ("approvals-api", api_event),
        ("slack-interactions", interactions_event),
        ("decision-worker", sqs_event),
        ("oauth-callback", install_event),
        ("slack-events", events_event),
    ];
    for (name, event) in events {
        std::fs::write(
            root.join(format!("events/{name}.json")),
            serde_json::to_string_pretty(&event)? + "\n",
        )?;
        println!("events/{name}.json");
    }
    Ok(())
}

fn http_event(
    method: &str,
    path: &str,
    body: &str,
    headers: serde_json::Value,
) -> serde_json::Value {
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": headers,
        "requestContext": {"accountId": "123456789012", "apiId": "local", "domainName": "localhost",
                           "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                                    "sourceIp": "127.0.0.1", "userAgent": "make-events"},
                           "requestId": "sample", "routeKey": "$default", "stage": "$default", "timeEpoch": 0},
        "body": body, "isBase64Encoded": false
    })
}
