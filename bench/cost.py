#!/usr/bin/env python3
"""The AWS cost per million events of each case of a `bench/lambda.py` result, with the
arithmetic, as a Markdown table per case (the README's "The Lambda's cost").

    python3 bench/cost.py bench/lambda-results.json [CASE...]

Prices: us-east-1, arm64, on-demand. The function's memory is 1,024 MB (the deploy
default). What the bench cannot measure is an assumption, named in the table: each S3 GET
and each DynamoDB or SNS call waits ~15 ms in-region, and the function is billed for it.
The function reads up to 4 objects of an invocation ahead (`lambda::ahead`), so within a
batch S3 GETs wait 4 at a time: `bench/lambda.py --s3-latency-ms 20` measured the samples'
wall time in batches of 50 falling 2.3x from the binary without reading ahead.
Both deploy modes feed the function from the trigger queue (the EventBridge rule, or the
bucket's S3 notifications, send one message per object); Lambda's poller receives and
deletes up to 10 messages a call. The pollers' empty receives on an idle queue are a fixed
monthly cost, not a cost per event, and are left out.
"""
import math
import json
import sys

MEMORY_GB = 1.0
VCPU = 1024 / 1769  # Lambda gives one vCPU at 1,769 MB, proportionally below
GB_S = 0.0000133334
REQUEST = 0.20 / 1e6
RRU = 0.125 / 1e6
WRU = 0.625 / 1e6
S3_GET = 0.0004 / 1000
SNS = 0.50 / 1e6
SQS = 0.40 / 1e6
WAIT_S = 0.015
AHEAD = 4  # trailhound_aws::lambda::ahead::MAX_AHEAD


def rows(c):
    per_m = 1e6 / c["records"]
    objects = c["objects"] * per_m
    invocations = c["invocations"] * per_m
    dd = c["dynamodb"]
    calls = sum(dd["calls"].values()) * per_m
    sns = c.get("sns_messages", 0) * per_m
    # SNS calls: a PublishBatch carries up to 10 messages.
    sns_calls = sns / 10
    # SQS requests: one SendMessage per object; per batch, ReceiveMessage and
    # DeleteMessageBatch calls of up to 10 messages each.
    sqs = objects * (1 + 2 * math.ceil(c["batch"] / 10) / c["batch"])
    cpu_s = c["cpu_s"] * per_m
    cpu_gbs = cpu_s / VCPU * MEMORY_GB
    # GETs overlap within an invocation, up to AHEAD at once.
    overlap = max(1, min(AHEAD, c["batch"]))
    wait_gbs = (objects / overlap + calls + sns_calls) * WAIT_S * MEMORY_GB
    out = [
        ("Lambda compute, CPU", "%.2f CPU-s / %s events x 10^6 = %.0f CPU-s; at 1,024 MB a function has 0.58 vCPU: %.0f GB-s x $%.10f"
         % (c["cpu_s"], f"{c['records']:,}", cpu_s, cpu_gbs, GB_S), cpu_gbs * GB_S),
        ("Lambda compute, waiting", "%s S3 GETs (%d at once) + %s DynamoDB calls + %s SNS calls, ~15 ms each (assumed): %s GB-s"
         % (f"{objects:,.0f}", overlap, f"{calls:,.0f}", f"{sns_calls:,.0f}", f"{wait_gbs:,.0f}"), wait_gbs * GB_S),
        ("Lambda requests", "%s invocations (up to %d %s each) x $0.20 / 10^6"
         % (f"{invocations:,.0f}", c["batch"], "object" if c["batch"] == 1 else "objects"), invocations * REQUEST),
        ("S3 GET", "%s objects x $0.0004 / 1,000" % f"{objects:,.0f}", objects * S3_GET),
        ("DynamoDB reads", "%s RRU x $0.125 / 10^6" % f"{dd['read_units'] * per_m:,.0f}", dd["read_units"] * per_m * RRU),
        ("DynamoDB writes", "%s WRU x $0.625 / 10^6" % f"{dd['write_units'] * per_m:,.0f}", dd["write_units"] * per_m * WRU),
        ("SQS", "%s requests (a send per object; a receive and a delete per 10 messages of a batch) x $0.40 / 10^6"
         % f"{sqs:,.0f}", sqs * SQS),
        ("SNS", "%s messages x $0.50 / 10^6" % f"{sns:,.0f}", sns * SNS),
    ]
    return out


def main():
    results = json.load(open(sys.argv[1]))
    runs = results["runs"] if "runs" in results else [results]
    wanted = sys.argv[2:]
    for run in runs:
        for name, c in run["cases"].items():
            if wanted and name not in wanted:
                continue
            r = rows(c)
            print("#### %s (%s objects, %s events, batches of %d)\n" % (name, f"{c['objects']:,}", f"{c['records']:,}", c["batch"]))
            print("| item | arithmetic | $ per million events |\n|---|---|---:|")
            for item, how, usd in r:
                print("| %s | %s | %.4f |" % (item, how, usd))
            print("| **total** | | **%.3f** |\n" % sum(u for _, _, u in r))


if __name__ == "__main__":
    main()
