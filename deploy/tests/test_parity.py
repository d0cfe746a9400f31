"""The SAM template and the CDK app must deploy the same thing.

Compares deploy/sam/template.yaml (after the SAM transform, offline) with the
CDK-synthesized template (deploy/cdk/cdk.out/Trailhound.template.json):
resource types and counts, key properties, the IAM actions granted to the
function (with their resources), and finally every property of every resource,
parameter, condition, mapping and output after normalization.

Run: .venv/bin/python -m pytest deploy/tests   (after `npx cdk synth` in deploy/cdk)
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from cfn_templates import alternatives, cdk_synthesized, norm, policy_statements, resources, sam_transformed


@pytest.fixture(scope="module")
def sam() -> dict:
    return sam_transformed()


@pytest.fixture(scope="module")
def cdk() -> dict:
    return cdk_synthesized()


def type_counts(template: dict) -> Counter:
    return Counter((r["Type"], r.get("Condition", "")) for r in resources(template).values())


def test_resource_types_and_counts(sam, cdk):
    assert type_counts(sam) == type_counts(cdk)
    counts = Counter(t for t, _ in type_counts(sam).elements())
    # What the stack is made of (both tools), so a change here is deliberate.
    assert counts == Counter({
        "AWS::Lambda::Function": 1, "AWS::Lambda::LayerVersion": 1, "AWS::Logs::LogGroup": 1,
        "AWS::IAM::Role": 1, "AWS::IAM::Policy": 2, "AWS::DynamoDB::Table": 1,
        "AWS::KMS::Key": 1, "AWS::KMS::Alias": 1, "AWS::SNS::Topic": 1, "AWS::SNS::Subscription": 3,
        "AWS::SQS::Queue": 2, "AWS::SQS::QueuePolicy": 2, "AWS::Events::Rule": 1,
        "AWS::Lambda::EventSourceMapping": 1, "AWS::CloudWatch::Alarm": 4,
    })


def test_same_logical_ids(sam, cdk):
    assert sorted(resources(sam)) == sorted(resources(cdk))


KEY_PROPERTIES = {
    "Function": {
        "Runtime": "provided.al2023", "Architectures": ["arm64"], "Handler": "bootstrap",
        "MemorySize": "${MemorySize}", "Timeout": "${Timeout}",
        "DeadLetterConfig": {"TargetArn": "${DeadLetterQueue.Arn}"}, "Layers": ["${GeoDatabase}"],
    },
    "StateTable": {
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS"},
    },
    "Topic": {"KmsMasterKeyId": "${TopicKey.Arn}"},
    "TopicKey": {"EnableKeyRotation": True},
    "DeadLetterQueue": {"SqsManagedSseEnabled": True},
    "TriggerQueue": {"SqsManagedSseEnabled": True},
    "TriggerQueueMapping": {"FunctionResponseTypes": ["ReportBatchItemFailures"], "BatchSize": 50,
                            "MaximumBatchingWindowInSeconds": 30},
}


@pytest.mark.parametrize("logical_id", sorted(KEY_PROPERTIES))
def test_key_properties(sam, cdk, logical_id):
    for prop, expected in KEY_PROPERTIES[logical_id].items():
        s = norm(sam["Resources"][logical_id]["Properties"].get(prop))
        c = norm(cdk["Resources"][logical_id]["Properties"].get(prop))
        assert s == c, f"{logical_id}.{prop}: SAM {s!r} != CDK {c!r}"
        assert s == norm(expected), f"{logical_id}.{prop}: {s!r}"


def test_function_environment(sam, cdk):
    s = norm(sam["Resources"]["Function"]["Properties"]["Environment"])
    assert s == norm(cdk["Resources"]["Function"]["Properties"]["Environment"])
    assert sorted(s["Variables"]) == [
        "RUST_LOG", "TRAILHOUND_DETECTORS", "TRAILHOUND_EVENT_BUS", "TRAILHOUND_GEOIP",
        "TRAILHOUND_LEARNING_DAYS", "TRAILHOUND_MIN_SEVERITY", "TRAILHOUND_SECURITYHUB", "TRAILHOUND_SNS_FORMAT",
        "TRAILHOUND_TABLE", "TRAILHOUND_TOPIC_ARN",
    ]
    assert s["Variables"]["TRAILHOUND_GEOIP"] == "/opt/geo/country.mmdb"


def test_alarms(sam, cdk):
    def alarms(t):
        return {
            k: {p: norm(r["Properties"].get(p)) for p in (
                "Namespace", "MetricName", "Dimensions", "Statistic", "Period", "EvaluationPeriods",
                "Threshold", "ComparisonOperator", "AlarmActions")}
            for k, r in resources(t).items() if r["Type"] == "AWS::CloudWatch::Alarm"
        }
    assert alarms(sam) == alarms(cdk)
    metrics = sorted((a["Namespace"], a["MetricName"]) for a in alarms(sam).values())
    assert metrics == [("AWS/Lambda", "Errors"), ("AWS/Lambda", "Throttles"),
                       ("AWS/SQS", "ApproximateNumberOfMessagesVisible"), ("Trailhound", "ProcessingLagSeconds")]


FUNCTION_ACTIONS = {
    "dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem",
    "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
    "events:PutEvents", "securityhub:BatchImportFindings", "kms:Decrypt", "kms:GenerateDataKey*", "logs:CreateLogStream", "logs:PutLogEvents",
    "s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "sns:Publish",
    "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:SendMessage",
}


def function_policies(t: dict) -> list[str]:
    """Logical ids of the identity policies attached to the function's role."""
    role = t["Resources"]["Function"]["Properties"]["Role"]["Fn::GetAtt"][0]
    assert "Policies" not in t["Resources"][role]["Properties"], "the role must have no inline policy"
    assert "ManagedPolicyArns" not in t["Resources"][role]["Properties"]
    return sorted(
        k for k, r in t["Resources"].items()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role} in r["Properties"]["Roles"]
    )


def test_iam_actions_granted_to_the_function(sam, cdk):
    assert function_policies(sam) == function_policies(cdk) == ["FunctionLogsPolicy", "FunctionPolicy"]
    granted = set()
    for policy in function_policies(sam):
        s, c = policy_statements(sam, policy), policy_statements(cdk, policy)
        assert s == c, policy
        granted |= {a for st in s.values() for a in st["actions"]}
    assert granted == FUNCTION_ACTIONS


def test_key_policy(sam, cdk):
    s, c = policy_statements(sam, "TopicKey"), policy_statements(cdk, "TopicKey")
    assert s == c
    assert s["FunctionPublishes"]["principal"] == {"AWS": "${FunctionRole.Arn}"}
    assert s["FunctionPublishes"]["actions"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert s["CloudWatchAlarmsPublish"]["condition"] == {
        "StringEquals": {"aws:SourceAccount": "${AWS::AccountId}"}
    }


def test_log_key_is_decrypted_only_through_s3(sam, cdk):
    s, c = policy_statements(sam, "FunctionPolicy"), policy_statements(cdk, "FunctionPolicy")
    assert s["DecryptLogObjects"] == c["DecryptLogObjects"]
    assert s["DecryptLogObjects"]["condition"] == {
        "StringEquals": {"kms:ViaService": "s3.${AWS::Region}.amazonaws.com"}
    }


IGNORED_PROPERTIES = {
    "AWS::Lambda::Function": {"Code"},  # SAM: the sam build artifact; CDK: the asset
    "AWS::Lambda::LayerVersion": {"Content"},
}


def comparable(res: dict) -> dict:
    props = {k: v for k, v in res.get("Properties", {}).items() if k not in IGNORED_PROPERTIES.get(res["Type"], ())}
    if res["Type"] == "AWS::Lambda::Function":  # SAM tags what it creates
        tags = [t for t in props.pop("Tags", []) if t.get("Key") != "lambda:createdBy"]
        if tags:
            props["Tags"] = tags
    return {
        "Type": res["Type"],
        "Condition": res.get("Condition"),
        "DependsOn": sorted(alternatives(res.get("DependsOn"))) if not isinstance(res.get("DependsOn"), str)
        else [res["DependsOn"]],
        "DeletionPolicy": res.get("DeletionPolicy", "Delete"),
        "UpdateReplacePolicy": res.get("UpdateReplacePolicy", "Delete"),
        "Properties": norm(props),
    }


@pytest.mark.parametrize("logical_id", sorted(resources(sam_transformed())))
def test_every_resource_identical(sam, cdk, logical_id):
    s, c = comparable(sam["Resources"][logical_id]), comparable(cdk["Resources"][logical_id])
    assert json.dumps(s, indent=1, sort_keys=True) == json.dumps(c, indent=1, sort_keys=True)


def test_parameters(sam, cdk):
    cdk_params = {k: v for k, v in cdk["Parameters"].items() if k != "BootstrapVersion"}  # CDK bootstrap check
    assert norm(sam["Parameters"]) == norm(cdk_params)


def test_conditions_mappings_outputs(sam, cdk):
    assert norm(sam["Conditions"]) == norm(cdk["Conditions"])
    assert norm(sam["Mappings"]) == norm(cdk["Mappings"])
    assert norm(sam["Outputs"]) == norm(cdk["Outputs"])
