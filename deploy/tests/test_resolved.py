"""Resolve both templates for concrete parameter values, the way CloudFormation would,
and check what a deploy would actually get: the per-prefix S3 grants and rule
pattern (the 5-slot LogPrefixes trick), the detectors grants, the queue visibility,
the endpoint protocol and the optional settings.

A small evaluator covers the intrinsic functions the templates use (Ref, Fn::If,
Fn::Equals/Not/And, Fn::Select/Split/Join/Sub, Fn::FindInMap, Condition);
resource attributes resolve to "<Resource.Attr>" placeholders.
"""

from __future__ import annotations

import re

import pytest

from cfn_templates import cdk_synthesized, sam_transformed

NO_VALUE = object()
PSEUDO = {"AWS::Partition": "aws", "AWS::AccountId": "111122223333", "AWS::Region": "us-east-1",
          "AWS::StackName": "trailhound"}


class Stack:
    def __init__(self, template: dict, overrides: dict[str, str]):
        self.t = template
        self.params = {}
        for name, p in template["Parameters"].items():
            value = overrides.get(name, p.get("Default"))
            if value is None and name != "BootstrapVersion":
                raise KeyError(f"parameter {name} needs a value")
            if p["Type"] == "CommaDelimitedList":
                value = [x.strip() for x in str(value).split(",")]
            elif value is not None:
                value = str(value)
            self.params[name] = value
        self.conditions: dict[str, bool] = {}
        for name in template.get("Conditions", {}):
            self.cond(name)

    def cond(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = bool(self.ev(self.t["Conditions"][name]))
        return self.conditions[name]

    def ev(self, v):
        if isinstance(v, list):
            return [x for x in (self.ev(i) for i in v) if x is not NO_VALUE]
        if not isinstance(v, dict):
            return str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
        if len(v) != 1:
            return {k: x for k, x in ((k, self.ev(x)) for k, x in v.items()) if x is not NO_VALUE}
        (k, a), = v.items()
        if k == "Ref":
            if a == "AWS::NoValue":
                return NO_VALUE
            return self.params[a] if a in self.params else PSEUDO.get(a, f"<{a}>")
        if k == "Fn::GetAtt":
            return "<%s.%s>" % tuple(a if isinstance(a, list) else a.split(".", 1))
        if k == "Condition":
            return self.cond(a)
        if k == "Fn::If":
            return self.ev(a[1] if self.cond(a[0]) else a[2])
        if k == "Fn::Equals":
            return str(self.ev(a[0])) == str(self.ev(a[1]))
        if k == "Fn::Not":
            return not self.ev(a[0])
        if k == "Fn::And":
            return all(self.ev(x) for x in a)
        if k == "Fn::Or":
            return any(self.ev(x) for x in a)
        if k == "Fn::Select":
            return self.ev(a[1])[int(self.ev(a[0]))]
        if k == "Fn::Split":
            return self.ev(a[1]).split(a[0])
        if k == "Fn::Join":
            return a[0].join(self.ev(a[1]))
        if k == "Fn::FindInMap":
            return str(self.t["Mappings"][a[0]][self.ev(a[1])][self.ev(a[2])])
        if k == "Fn::Sub":
            tmpl, subs = (a, {}) if isinstance(a, str) else (a[0], {n: self.ev(x) for n, x in a[1].items()})

            def one(m):
                name = m.group(1)
                if name in subs:
                    return subs[name]
                if "." in name:
                    return "<%s>" % name
                return str(self.ev({"Ref": name}))
            return re.sub(r"\$\{([^}!]+)\}", one, tmpl)
        return {k: self.ev(a)}

    def resource(self, logical_id: str):
        r = self.t["Resources"][logical_id]
        if "Condition" in r and not self.cond(r["Condition"]):
            return None
        return self.ev(r.get("Properties", {}))

    def statement(self, policy: str, sid: str):
        for st in self.resource(policy)["PolicyDocument"]["Statement"]:
            if st.get("Sid") == sid:
                return st
        return None


TEMPLATES = {"sam": sam_transformed, "cdk": cdk_synthesized}
BASE = {"LogBucketName": "org-log-archive"}


@pytest.fixture(scope="module", params=sorted(TEMPLATES))
def template(request):
    return TEMPLATES[request.param]()


@pytest.mark.parametrize("prefixes", [
    "AWSLogs/",
    "AWSLogs/,bedrock/AWSLogs/",
    "a/,b/,c/,d/,e/",
    "a/,b/,c/,d/,e/,f/",  # more than 5: the sixth is ignored (documented)
])
def test_log_prefixes(template, prefixes):
    stack = Stack(template, {**BASE, "LogPrefixes": prefixes})
    expected = prefixes.split(",")[:5]
    grant = stack.statement("FunctionPolicy", "ReadLogObjects")
    assert grant["Resource"] == [f"arn:aws:s3:::org-log-archive/{p}*" for p in expected]
    pattern = stack.resource("ObjectCreatedRule")["EventPattern"]
    assert pattern["detail"]["bucket"]["name"] == ["org-log-archive"]
    assert pattern["detail"]["object"]["key"] == [{"prefix": p} for p in expected]


def test_eventbridge_mode_defaults(template):
    stack = Stack(template, BASE)
    # The rule feeds the trigger queue, which delivers batches (one group commit each);
    # nothing invokes the function directly.
    target = stack.resource("ObjectCreatedRule")["Targets"][0]
    assert target["Arn"] == "<TriggerQueue.Arn>"
    assert target["DeadLetterConfig"] == {"Arn": "<DeadLetterQueue.Arn>"}
    assert "ObjectCreatedPermission" not in stack.t["Resources"]
    mapping = stack.resource("TriggerQueueMapping")
    assert (int(mapping["BatchSize"]), int(mapping["MaximumBatchingWindowInSeconds"])) == (50, 30)
    assert stack.statement("FunctionPolicy", "ConsumeTriggerQueue")["Resource"] == "<TriggerQueue.Arn>"
    (grant,) = stack.resource("TriggerQueuePolicy")["PolicyDocument"]["Statement"]
    assert (grant["Sid"], grant["Principal"], grant["Condition"]) == (
        "RuleEvents", {"Service": "events.amazonaws.com"}, {"ArnEquals": {"aws:SourceArn": "<ObjectCreatedRule.Arn>"}})
    assert stack.statement("FunctionPolicy", "DecryptLogObjects") is None
    assert stack.statement("FunctionPolicy", "ReadDetectors") is None
    assert "ReservedConcurrentExecutions" not in stack.resource("Function")
    assert stack.resource("EmailSubscription") is None and stack.resource("EndpointSubscription") is None
    assert stack.resource("ErrorsAlarm")["AlarmActions"] == ["<Topic>"]
    assert stack.resource("Function")["Environment"]["Variables"]["TRAILHOUND_DETECTORS"] == ""
    # The optional sinks are off: no grant, and the function is told so.
    assert stack.statement("FunctionPolicy", "ImportFindings") is None
    assert stack.statement("FunctionPolicy", "PutFindingEvents") is None
    env = stack.resource("Function")["Environment"]["Variables"]
    assert (env["TRAILHOUND_SECURITYHUB"], env["TRAILHOUND_EVENT_BUS"], env["TRAILHOUND_SNS_FORMAT"]) == ("false", "", "default")


@pytest.mark.parametrize("timeout,visibility", [("60", "360"), ("300", "1800"), ("900", "5400")])
def test_sqs_mode(template, timeout, visibility):
    stack = Stack(template, {**BASE, "TriggerMode": "SQS", "Timeout": timeout,
                             "SourceTopicArn": "arn:aws:sns:us-east-1:111122223333:s3-events"})
    assert stack.resource("ObjectCreatedRule") is None and stack.resource("DeadLetterQueuePolicy") is None
    assert stack.resource("TriggerQueue")["VisibilityTimeout"] == visibility
    mapping = stack.resource("TriggerQueueMapping")
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # As large as one group commit (lambda::group::MAX_GROUP_OBJECTS), gathered for 30 s.
    assert (int(mapping["BatchSize"]), int(mapping["MaximumBatchingWindowInSeconds"])) == (50, 30)
    assert stack.statement("FunctionPolicy", "ConsumeTriggerQueue")["Resource"] == "<TriggerQueue.Arn>"
    sids = [s["Sid"] for s in stack.resource("TriggerQueuePolicy")["PolicyDocument"]["Statement"]]
    assert sids == ["BucketNotifications", "SourceTopicNotifications"]
    assert stack.resource("SourceTopicSubscription")["TopicArn"] == "arn:aws:sns:us-east-1:111122223333:s3-events"


def test_optional_settings(template):
    stack = Stack(template, {
        **BASE, "LogBucketKmsKeyArn": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "DetectorsLocation": "s3://sec-config/trailhound/detectors/", "ReservedConcurrency": "5",
        "AlertEmail": "secops@example.com", "EmailMinSeverity": "8", "EnableAlarmActions": "false",
        "AlertEndpoint": "arn:aws:sqs:us-east-1:111122223333:tickets",
    })
    assert stack.statement("FunctionPolicy", "DecryptLogObjects")["Resource"].endswith(":key/1234abcd-12ab-34cd-56ef-1234567890ab")
    assert stack.statement("FunctionPolicy", "ReadDetectors")["Resource"] == "arn:aws:s3:::sec-config/trailhound/detectors/*"
    assert stack.statement("FunctionPolicy", "ListDetectors")["Resource"] == "arn:aws:s3:::sec-config"
    assert stack.resource("Function")["ReservedConcurrentExecutions"] == "5"
    assert '[">=",8]' in stack.resource("EmailSubscription")["FilterPolicy"]
    endpoint = stack.resource("EndpointSubscription")
    assert (endpoint["Protocol"], endpoint["RawMessageDelivery"]) == ("sqs", True)
    assert "AlarmActions" not in stack.resource("ErrorsAlarm")
    key_sids = [s["Sid"] for s in stack.resource("TopicKey")["KeyPolicy"]["Statement"]]
    assert key_sids == ["AccountRootAdministers", "FunctionPublishes"]
    https = Stack(template, {**BASE, "AlertEndpoint": "https://hooks.example.com/trailhound"})
    assert (https.resource("EndpointSubscription")["Protocol"], https.resource("EndpointSubscription")["RawMessageDelivery"]) == ("https", False)


@pytest.mark.parametrize("bus,bus_arn", [
    ("security-findings", "arn:aws:events:us-east-1:111122223333:event-bus/security-findings"),
    ("arn:aws:events:eu-west-1:444455556666:event-bus/central", "arn:aws:events:eu-west-1:444455556666:event-bus/central"),
])
def test_sinks(template, bus, bus_arn):
    stack = Stack(template, {**BASE, "SecurityHub": "true", "EventBusName": bus, "SnsFormat": "chatbot"})
    hub = stack.statement("FunctionPolicy", "ImportFindings")
    assert (hub["Action"], hub["Resource"]) == (
        "securityhub:BatchImportFindings",
        "arn:aws:securityhub:us-east-1:111122223333:product/111122223333/default",
    )
    events = stack.statement("FunctionPolicy", "PutFindingEvents")
    assert (events["Action"], events["Resource"]) == ("events:PutEvents", bus_arn)
    env = stack.resource("Function")["Environment"]["Variables"]
    assert (env["TRAILHOUND_SECURITYHUB"], env["TRAILHOUND_EVENT_BUS"], env["TRAILHOUND_SNS_FORMAT"]) == ("true", bus, "chatbot")
