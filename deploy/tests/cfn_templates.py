"""Load the SAM template (after the SAM transform, offline) and the CDK-synthesized
template, and normalize CloudFormation values so the two can be compared.

    python deploy/tests/cfn_templates.py OUT.json   # writes the transformed SAM template

The SAM transform runs in-process with aws-sam-translator (a dependency of
aws-sam-cli): no credentials and no network. Local CodeUri/ContentUri paths are
replaced by placeholder s3:// URIs first, as `sam validate` does.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

DEPLOY = Path(__file__).resolve().parent.parent
SAM_TEMPLATE = DEPLOY / "sam" / "template.yaml"
CDK_TEMPLATE = Path(
    os.environ.get("TRAILHOUND_CDK_TEMPLATE", DEPLOY / "cdk" / "cdk.out" / "Trailhound.template.json")
)

# Resource types that only one of the tools adds and that carry no behaviour.
IGNORED_TYPES = ("AWS::CDK::Metadata",)
IGNORED_TYPE_PREFIXES = ("Custom::",)


def sam_transformed() -> dict:
    """The SAM template after AWS::Serverless-2016-10-31, with SAM's hashed layer
    logical id (GeoDatabase<hash>) renamed back to GeoDatabase."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse(SAM_TEMPLATE.read_text())
    for res in template["Resources"].values():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::Serverless::Function":
            props["CodeUri"] = "s3://placeholder/function.zip"
        elif res["Type"] == "AWS::Serverless::LayerVersion":
            props["ContentUri"] = "s3://placeholder/layer.zip"

    class NoManagedPolicies:  # the template uses no SAM policy templates / managed policies
        def load(self) -> dict:
            return {}

    out = transform(template, {}, NoManagedPolicies())
    text = json.dumps(out)
    for logical_id, res in out["Resources"].items():
        if res["Type"] == "AWS::Lambda::LayerVersion" and re.fullmatch(r"GeoDatabase[0-9a-f]{10}", logical_id):
            text = text.replace(f'"{logical_id}"', '"GeoDatabase"')
    return json.loads(text)


def cdk_synthesized() -> dict:
    if not CDK_TEMPLATE.exists():
        raise FileNotFoundError(f"{CDK_TEMPLATE} missing: run `npx cdk synth` in deploy/cdk first (deploy/test.sh does)")
    return json.loads(CDK_TEMPLATE.read_text())


def resources(template: dict) -> dict:
    return {
        k: v
        for k, v in template["Resources"].items()
        if v["Type"] not in IGNORED_TYPES and not v["Type"].startswith(IGNORED_TYPE_PREFIXES)
    }


def _as_str(v: Any) -> str:
    return v if isinstance(v, str) else "${~" + json.dumps(v, sort_keys=True) + "}"


def norm(v: Any) -> Any:
    """Canonical form: Ref/GetAtt/Sub/Join become strings (${X}, ${X.Attr}), numbers
    become strings (CloudFormation passes both as strings), everything else is kept."""
    if isinstance(v, dict):
        if len(v) == 1:
            (k, a), = v.items()
            if k == "Ref":
                return "${%s}" % a
            if k == "Fn::GetAtt":
                parts = a if isinstance(a, list) else a.split(".", 1)
                return "${%s.%s}" % (parts[0], parts[1])
            if k == "Fn::Sub":
                tmpl, subs = (a, {}) if isinstance(a, str) else (a[0], a[1])
                subs = {name: _as_str(norm(x)) for name, x in subs.items()}
                return re.sub(r"\$\{([^}!]+)\}", lambda m: subs.get(m.group(1), m.group(0)), tmpl)
            if k == "Fn::Join" and isinstance(a[1], list):
                return a[0].join(_as_str(norm(x)) for x in a[1])
        return {k: norm(x) for k, x in v.items()}
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, (int, float)):
        return str(v)
    return v


def alternatives(v: Any) -> list:
    """Concrete alternatives of a value or list: Fn::If expanded, AWS::NoValue dropped."""
    if v is None or v == {"Ref": "AWS::NoValue"}:
        return []
    if isinstance(v, list):
        return [x for item in v for x in alternatives(item)]
    if isinstance(v, dict) and list(v) == ["Fn::If"]:
        return alternatives(v["Fn::If"][1]) + alternatives(v["Fn::If"][2])
    return [v]


def policy_statements(template: dict, logical_id: str) -> dict:
    """Sid -> (condition-guarded?, sorted actions, normalized resources) of a policy document."""
    res = template["Resources"][logical_id]
    doc = res["Properties"].get("PolicyDocument") or res["Properties"].get("KeyPolicy")
    out = {}
    for st in doc["Statement"]:
        guarded = isinstance(st, dict) and "Fn::If" in st
        for s in alternatives(st):
            actions = sorted(alternatives(s.get("Action")))
            out[s["Sid"]] = {
                "conditional": guarded,
                "actions": actions,
                "resources": [json.dumps(norm(r), sort_keys=True) for r in alternatives(s.get("Resource"))],
                "principal": norm(s.get("Principal")),
                "condition": norm(s.get("Condition")),
            }
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: cfn_templates.py OUT.json")
    Path(sys.argv[1]).write_text(json.dumps(sam_transformed(), indent=1))
