//! The local AWS resources and routes are exactly what template.yaml declares: a drift
//! between the template and `scripts/provision.py`, `make dev`'s gateway or a function's
//! router fails here.

use serde_yaml::Value as Yaml;

fn template() -> Yaml {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

fn resource<'a>(template: &'a Yaml, logical_id: &str) -> &'a Yaml {
    &template["Resources"][logical_id]["Properties"]
}

fn key_schema(yaml: &Yaml) -> Vec<(String, String)> {
    yaml.as_sequence()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["AttributeName"].as_str().unwrap().into(),
                k["KeyType"].as_str().unwrap().into(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_table_matches_the_template() {
    let template = template();
    let declared = resource(&template, "AppTable");
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let table = crate::common::env("APP_TABLE");

    let described = dynamodb
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let actual_keys: Vec<(String, String)> = described
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name().into(), k.key_type().as_str().into()))
        .collect();
    assert_eq!(actual_keys, key_schema(&declared["KeySchema"]));
    assert_eq!(
        actual_keys,
        vec![("pk".into(), "HASH".into()), ("sk".into(), "RANGE".into())]
    );

    let mut declared_attributes: Vec<(String, String)> = declared["AttributeDefinitions"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["AttributeName"].as_str().unwrap().into(),
                a["AttributeType"].as_str().unwrap().into(),
            )
        })
        .collect();
    let mut actual_attributes: Vec<(String, String)> = described
        .attribute_definitions()
        .iter()
        .map(|a| {
            (
                a.attribute_name().into(),
                a.attribute_type().as_str().into(),
            )
        })
        .collect();
    declared_attributes.sort();
    actual_attributes.sort();
    assert_eq!(actual_attributes, declared_attributes);

    let declared_indexes = declared["GlobalSecondaryIndexes"].as_sequence().unwrap();
    let actual_indexes = described.global_secondary_indexes();
    assert_eq!(actual_indexes.len(), declared_indexes.len());
    for declared_index in declared_indexes {
        let name = declared_index["IndexName"].as_str().unwrap();
        let actual = actual_indexes
            .iter()
            .find(|i| i.index_name() == Some(name))
            .expect(name);
        let actual_keys: Vec<(String, String)> = actual
            .key_schema()
            .iter()
            .map(|k| (k.attribute_name().into(), k.key_type().as_str().into()))
            .collect();
        assert_eq!(
            actual_keys,
            key_schema(&declared_index["KeySchema"]),
            "index {name}"
        );
        assert_eq!(
            actual
                .projection()
                .and_then(|p| p.projection_type())
                .map(|p| p.as_str().to_owned()),
            declared_index["Projection"]["ProjectionType"]
                .as_str()
                .map(str::to_owned),
            "index {name} projection"
        );
    }

    let ttl = dynamodb
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(
        ttl.attribute_name(),
        declared["TimeToLiveSpecification"]["AttributeName"].as_str()
    );
    assert_eq!(ttl.attribute_name(), Some("expires_at"));
    assert_eq!(
        ttl.time_to_live_status().map(|s| s.as_str()),
        Some("ENABLED")
    );

    let backups = dynamodb
        .describe_continuous_backups()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let pitr = backups
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        .map(|s| s.as_str().to_owned());
    assert_eq!(pitr.as_deref(), Some("ENABLED"));
    assert_eq!(
        declared["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        Yaml::Bool(true)
    );
}

#[tokio::test]
async fn the_queues_match_the_template() {
    let template = template();
    let declared = resource(&template, "DecisionQueue");
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(crate::common::env("DECISION_QUEUE_URL"))
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    let get = |name: &str| {
        attributes
            .get(&aws_sdk_sqs::types::QueueAttributeName::from(name))
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(
        get("VisibilityTimeout"),
        declared["VisibilityTimeout"].as_u64().unwrap().to_string()
    );

    let redrive: serde_json::Value =
        serde_json::from_str(&get("RedrivePolicy")).expect("a redrive policy");
    assert_eq!(
        redrive["maxReceiveCount"].as_u64(),
        declared["RedrivePolicy"]["maxReceiveCount"].as_u64()
    );
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(crate::common::env("DECISION_DLQ_URL"))
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()
        .remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .unwrap();
    assert_eq!(redrive["deadLetterTargetArn"], dlq_arn.as_str());

    // The receive budget covers the longest retry horizon the template allows, at the
    // smallest jitter: the redrive policy never moves a record that is still retrying.
    let longest = template["Parameters"]["RetryHorizonHours"]["MaxValue"]
        .as_i64()
        .unwrap();
    assert_eq!(longest, approvals_lambda::env::MAX_RETRY_HORIZON_HOURS);
    let needed =
        approvals_core::outbox::Backoff::with_horizon_hours(longest).attempts_within_horizon();
    assert!(
        declared["RedrivePolicy"]["maxReceiveCount"]
            .as_u64()
            .unwrap()
            >= u64::from(needed),
        "{needed} receives needed"
    );

    // Lambda's guidance: the visibility timeout is at least 6 x the consumer's timeout.
    let worker_timeout = template["Resources"]["DecisionWorkerFunction"]["Properties"]["Timeout"]
        .as_u64()
        .unwrap();
    assert!(declared["VisibilityTimeout"].as_u64().unwrap() >= 6 * worker_timeout);
    let mapping = &template["Resources"]["DecisionWorkerFunction"]["Properties"]["Events"]
        ["Decisions"]["Properties"];
    assert_eq!(
        mapping["FunctionResponseTypes"][0].as_str(),
        Some("ReportBatchItemFailures")
    );
}

#[tokio::test]
async fn the_secret_holds_every_documented_key() {
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_secretsmanager::Client::new(&aws);
    let secrets =
        approvals_aws::secrets::load_app_secrets(&client, &crate::common::env("APP_SECRET_ID"))
            .await;
    assert!(secrets.is_ok(), "{secrets:?}");
}

/// Every `HttpApi` event of the template: (binary, method, path).
fn declared_routes(template: &Yaml) -> Vec<(String, String, String)> {
    let mut routes = Vec::new();
    for (_, resource) in template["Resources"].as_mapping().unwrap() {
        let binary = &resource["Metadata"]["BuildProperties"]["Binary"];
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for (_, event) in events {
            if event["Type"].as_str() == Some("HttpApi") {
                routes.push((
                    binary.as_str().unwrap().to_owned(),
                    event["Properties"]["Method"].as_str().unwrap().to_owned(),
                    event["Properties"]["Path"].as_str().unwrap().to_owned(),
                ));
            }
        }
    }
    routes.sort();
    routes
}

#[tokio::test]
async fn the_local_gateway_and_each_router_serve_the_templates_routes() {
    let declared = declared_routes(&template());
    assert_eq!(declared.len(), 5, "{declared:?}");

    let placeholder = axum::Router::new;
    let mut local: Vec<(String, String)> = devserver::gateway::template_routes(
        placeholder(),
        placeholder(),
        placeholder(),
        placeholder(),
    )
    .iter()
    .map(|route| (route.method.to_owned(), route.path.to_owned()))
    .collect();
    local.sort();
    let mut in_template: Vec<(String, String)> = declared
        .iter()
        .map(|(_, method, path)| (method.clone(), path.clone()))
        .collect();
    in_template.sort();
    assert_eq!(
        local, in_template,
        "make dev's gateway drifted from template.yaml"
    );

    // Each function's own router answers the paths the template sends it, with anything
    // but its "no such route" answer.
    let stack = crate::common::Stack::start().await;
    for (binary, method, path) in declared {
        let router = match binary.as_str() {
            "approvals-api" => &stack.api_router,
            "slack-interactions" => &stack.interactions_router,
            "slack-events" => &stack.events_router,
            "oauth-callback" => &stack.oauth_router,
            other => panic!("a route for an unknown function {other}"),
        };
        let path = path.replace("{proxy+}", "approvals");
        let method = if method == "ANY" { "POST" } else { &method };
        let now = approvals_core::time::unix_now();
        let signature = approvals_core::signing::sign_host_request(
            stack.secrets.host_api_secret.as_bytes(),
            now,
            method,
            &path,
            b"{}",
        );
        let event = crate::common::http_event(
            method,
            &path,
            &[
                ("content-type", "application/json"),
                ("x-approvals-timestamp", &now.to_string()),
                ("x-approvals-signature", &signature),
            ],
            b"{}",
            false,
        );
        let (status, body) = crate::common::invoke(router, event).await;
        let unrouted = status == 404
            && (body["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("no route"))
                || body
                    .as_str()
                    .is_some_and(|page| page.contains("Not found.")));
        assert!(!unrouted, "{binary} does not serve {method} {path}: {body}");
    }
}
