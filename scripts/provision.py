#!/usr/bin/env python3
"""Creates the table, queues and secret in the local AWS emulator exactly as template.yaml
defines them (one source of truth), and prints the environment that points at them."""

import json
import pathlib
import sys

import boto3
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
PREFIX = "approvals-dev"


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (!Ref, !GetAtt, !Sub) as plain mappings."""


def _intrinsic(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template():
    with open(ROOT / "template.yaml", encoding="utf-8") as handle:
        return yaml.load(handle, Loader=CfnLoader)


def main(endpoint):
    template = load_template()
    resources = template["Resources"]
    session = boto3.session.Session(region_name="us-east-1")
    dynamodb = session.client("dynamodb", endpoint_url=endpoint)
    sqs = session.client("sqs", endpoint_url=endpoint)
    secrets = session.client("secretsmanager", endpoint_url=endpoint)
    env = {}
    arns = {}

    for logical_id, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::DynamoDB::Table":
            name = f"{PREFIX}-{logical_id}"
            args = {k: props[k] for k in ("AttributeDefinitions", "KeySchema", "BillingMode") if k in props}
            if props.get("GlobalSecondaryIndexes"):
                args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
            if props.get("SSESpecification"):
                args["SSESpecification"] = {"Enabled": props["SSESpecification"]["SSEEnabled"]}
            dynamodb.create_table(TableName=name, **args)
            ttl = props.get("TimeToLiveSpecification")
            if ttl:
                dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
            pitr = props.get("PointInTimeRecoverySpecification")
            if pitr:
                dynamodb.update_continuous_backups(
                    TableName=name, PointInTimeRecoverySpecification=pitr)
            env[logical_id] = name

    # Queues without a redrive policy first, so dead-letter targets exist.
    queues = [(lid, r) for lid, r in resources.items() if r["Type"] == "AWS::SQS::Queue"]
    queues.sort(key=lambda item: "RedrivePolicy" in item[1].get("Properties", {}))
    for logical_id, resource in queues:
        props = dict(resource.get("Properties", {}))
        attributes = {}
        for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "SqsManagedSseEnabled"):
            if key in props:
                attributes[key] = str(props[key]).lower() if isinstance(props[key], bool) else str(props[key])
        if "RedrivePolicy" in props:
            policy = dict(props["RedrivePolicy"])
            target = policy["deadLetterTargetArn"]["Fn::GetAtt"][0]
            policy["deadLetterTargetArn"] = arns[target]
            attributes["RedrivePolicy"] = json.dumps(policy)
        url = sqs.create_queue(QueueName=f"{PREFIX}-{logical_id}", Attributes=attributes)["QueueUrl"]
        arns[logical_id] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        env[logical_id] = url

    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::SecretsManager::Secret":
            name = f"{PREFIX}-{logical_id}"
            secret = (ROOT / "scripts" / "dev-secret.json").read_text(encoding="utf-8")
            secrets.create_secret(Name=name, SecretString=secret)
            env[logical_id] = name

    print(f"export APP_TABLE={env['AppTable']}")
    print(f"export DECISION_QUEUE_URL={env['DecisionQueue']}")
    print(f"export DECISION_DLQ_URL={env['DecisionDeadLetterQueue']}")
    print(f"export APP_SECRET_ID={env['AppSecret']}")


if __name__ == "__main__":
    main(sys.argv[1])
