//! The local AWS resources are exactly what template.yaml declares: a drift between the
//! template and `scripts/provision.py` fails here.

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
