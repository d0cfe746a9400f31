#!/usr/bin/env python3
"""The Lambda's costs, measured on the real binary (`trailhound` in Lambda mode).

    python3 bench/lambda.py [--batch N[,N...]] [--s3-latency-ms MS] TRAILHOUND_BINARY GEO_MMDB NAME=PATH[:MATCH]...

For each NAME=PATH (a .gz file or a folder of them, laid out as in S3; with :MATCH only the
objects whose file name contains MATCH, e.g. `small-1h=target/bench-data/small:T00`), and
for each batch size (default 1), this:
- starts a local moto server (S3, DynamoDB, SNS) behind a metering proxy that records every
  DynamoDB request and response, and a fake Lambda runtime API;
- uploads the objects, creates the table (pk/sk, on-demand, as deploy/ does) and the topic;
- starts the binary with AWS_LAMBDA_RUNTIME_API pointing at the fake API, 10 times for the
  cold start (process start to its first `invocation/next` request: config, AWS config,
  detectors, geo database), then once to process every object in key order, reading the
  process's CPU time (/proc/PID/stat) and peak RSS (VmHWM) around the invocations: one S3
  notification per invocation (batch 1), or SQS batches of N notifications (the SQS trigger
  mode; the function commits each batch's objects together); the result is named NAME, or
  NAME/batch-N when several sizes are given;
- computes DynamoDB capacity units from the recorded requests, as AWS bills on-demand
  tables: a strongly consistent read is 1 RRU per started 4 KB of each item returned
  (at least 1 per item asked for), a transactional write 2 WRU per started 1 KB of each
  item written (condition checks included), a plain write 1 WRU per started 1 KB. Item
  sizes follow DynamoDB's rule (attribute names + values).
With --s3-latency-ms, every S3 GetObject waits that long in the proxy before moto answers
(in-region S3 takes about 10-30 ms to the first byte; moto answers at once), so wall times
show how much of an invocation is waiting on S3.
Prints one JSON document on stdout.
"""
import gzip
import http.client
import http.server
import json
import math
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

import boto3
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
BUCKET = "bench-logs"
TABLE = "trailhound-bench"

# ---- DynamoDB item sizes and units ---------------------------------------------------


def value_size(v):
    (t, x), = v.items()
    if t == "S":
        return len(x.encode())
    if t == "N":
        digits = len(x.lstrip("-").replace(".", "").lstrip("0")) or 1
        return (digits + 1) // 2 + 1
    if t == "B":
        return len(x) * 3 // 4
    if t in ("BOOL", "NULL"):
        return 1
    if t == "SS":
        return sum(len(s.encode()) for s in x)
    if t == "NS":
        return sum(value_size({"N": n}) for n in x)
    if t == "L":
        return 3 + sum(value_size(e) + 1 for e in x)
    if t == "M":
        return 3 + sum(len(k.encode()) + value_size(e) + 1 for k, e in x.items())
    return len(json.dumps(x))


def item_size(item):
    return sum(len(k.encode()) + value_size(v) for k, v in item.items())


class Meter:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.rru = 0.0
        self.wru = 0.0
        self.calls = {}
        self.items_read = 0
        self.items_written = 0
        self.sns_messages = 0
        # Transactional write units by item kind: applied-object items, entity puts,
        # entity condition checks (entities read and left unchanged).
        self.wru_by_kind = {"object_items": 0, "entity_puts": 0, "entity_checks": 0}

    def record(self, op, req, resp):
        with self.lock:
            self.calls[op] = self.calls.get(op, 0) + 1
            if op == "BatchGetItem":
                asked = sum(len(v.get("Keys", [])) for v in req.get("RequestItems", {}).values())
                got = [i for items in resp.get("Responses", {}).values() for i in items]
                self.items_read += len(got)
                self.rru += sum(math.ceil(item_size(i) / 4096) for i in got) + (asked - len(got))
            elif op in ("GetItem", "Query", "Scan"):
                got = resp.get("Items") or ([resp["Item"]] if "Item" in resp else [])
                self.items_read += len(got)
                self.rru += max(1, math.ceil(sum(item_size(i) for i in got) / 4096))
            elif op == "TransactWriteItems":
                for t in req.get("TransactItems", []):
                    (kind, body), = t.items()
                    item = body.get("Item") or body.get("Key", {})
                    size = item_size(item) + sum(
                        len(json.dumps(v)) for v in body.get("ExpressionAttributeValues", {}).values()
                    )
                    self.items_written += 1
                    units = 2 * max(1, math.ceil(size / 1024))
                    self.wru += units
                    pk = item.get("pk", {}).get("S", "")
                    kind = ("object_items" if pk.startswith("obj#")
                            else "entity_checks" if kind == "ConditionCheck" else "entity_puts")
                    self.wru_by_kind[kind] += units
            elif op in ("PutItem", "UpdateItem", "DeleteItem"):
                item = req.get("Item") or req.get("Key", {})
                size = item_size(item) + sum(
                    len(json.dumps(v)) for v in req.get("ExpressionAttributeValues", {}).values()
                )
                self.items_written += 1
                self.wru += max(1, math.ceil(size / 1024))
            elif op == "BatchWriteItem":
                for reqs in req.get("RequestItems", {}).values():
                    for r in reqs:
                        item = r.get("PutRequest", {}).get("Item") or r.get("DeleteRequest", {}).get("Key", {})
                        self.items_written += 1
                        self.wru += max(1, math.ceil(item_size(item) / 1024))


METER = Meter()


S3_LATENCY_S = 0.0


def proxy_handler(upstream):
    host, port = upstream

    class Proxy(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def forward(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            if S3_LATENCY_S and self.command == "GET" and "x-id=GetObject" in self.path:
                time.sleep(S3_LATENCY_S)
            conn = http.client.HTTPConnection(host, port, timeout=120)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
            conn.request(self.command, self.path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
            target = self.headers.get("X-Amz-Target", "")
            if target.startswith("DynamoDB_20120810.") and r.status == 200:
                METER.record(target.split(".", 1)[1], json.loads(body or b"{}"), json.loads(data or b"{}"))
            elif r.status == 200 and (b"Action=PublishBatch" in body or b"Action=Publish&" in body):
                # SNS bills each message of a batch as one request.
                with METER.lock:
                    METER.sns_messages += max(1, len(re.findall(rb"PublishBatchRequestEntries\.member\.\d+\.Id=", body)))
            self.send_response(r.status)
            for k, v in r.getheaders():
                if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            conn.close()

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = forward

    return Proxy


class Runtime:
    """A fake Lambda runtime API: hands out queued events, records the first /next time."""

    def __init__(self):
        self.events = []
        self.cv = threading.Condition()
        self.first_next = None
        self.responses = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reply(self, code, body=b"{}", headers=()):
                self.send_response(code)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                with outer.cv:
                    if outer.first_next is None:
                        outer.first_next = time.monotonic()
                        outer.cv.notify_all()
                    while not outer.events:
                        outer.cv.wait()
                    rid, ev = outer.events.pop(0)
                deadline = str(int((time.time() + 900) * 1000))
                self.reply(200, json.dumps(ev).encode(), [
                    ("Lambda-Runtime-Aws-Request-Id", rid),
                    ("Lambda-Runtime-Deadline-Ms", deadline),
                    ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:111122223333:function:trailhound"),
                    ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000"),
                ])

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with outer.cv:
                    outer.responses.append((self.path, body))
                    outer.cv.notify_all()
                self.reply(202)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.addr = "127.0.0.1:%d" % self.server.server_address[1]


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def objects(path, match=None):
    """(file, key) of every object, in the order S3 would notify them: by the delivery time
    in the key's file name (every account and region interleaved), then by key."""
    found = []
    if os.path.isdir(path):
        for root, dirs, files in os.walk(path):
            for f in files:
                if f.endswith(".gz") and (match is None or match in f):
                    full = os.path.join(root, f)
                    found.append((full, full[full.index("AWSLogs/"):]))
    else:
        found.append((path, path[path.index("AWSLogs/"):]))

    def delivered(item):
        m = re.search(r"(\d{8}T\d{4,6})Z", os.path.basename(item[1]))
        if m:
            return (m.group(1).ljust(15, "0"), item[1])
        # Invocation logs named by a hash: the hour folder of their path.
        d = re.search(r"/(\d{4})/(\d{2})/(\d{2})/(\d{2})/", item[1])
        return ("%s%s%sT%s0000" % d.groups() if d else "", item[1])
    return sorted(found, key=delivered)


def inflated_and_records(path):
    """(inflated bytes, log records) of one object (digests and other non-log JSON: 0)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if "BedrockModelInvocationLogs" in path:
        return len(data), sum(1 for line in data.splitlines() if line.strip().startswith(b'{"schemaType"'))
    try:
        return len(data), len(json.loads(data).get("Records") or [])
    except (ValueError, AttributeError):
        return len(data), 0


def s3_event(key, size, etag):
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
        "eventTime": "2026-10-01T01:10:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AROAEXAMPLE:cloudtrail"},
        "requestParameters": {"sourceIPAddress": "10.0.0.1"},
        "responseElements": {"x-amz-request-id": "0000000000000000", "x-amz-id-2": "bench"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "trailhound",
               "bucket": {"name": BUCKET, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                          "arn": "arn:aws:s3:::" + BUCKET},
               "object": {"key": urllib.parse.quote(key), "size": size, "eTag": etag,
                          "sequencer": "0055AED6DCD90281E5"}},
    }]}


def sqs_event(messages):
    return {"Records": [{
        "messageId": "msg-%d" % i, "receiptHandle": "rh-%d" % i, "body": json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "md5OfBody": "x", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:%s:111122223333:trailhound-trigger" % REGION, "awsRegion": REGION,
    } for i, body in enumerate(messages)]}


def main():
    args = sys.argv[1:]
    batches = [1]
    global S3_LATENCY_S
    while args[:1] in (["--batch"], ["--s3-latency-ms"]):
        if args[0] == "--batch":
            batches = [int(b) for b in args[1].split(",")]
        else:
            S3_LATENCY_S = float(args[1]) / 1000
        args = args[2:]
    binary, geo, cases = args[0], args[1], args[2:]
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    mhost, mport = moto.get_host_and_port()
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), proxy_handler((mhost, mport)))
    proxy.daemon_threads = True
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    endpoint = "http://127.0.0.1:%d" % proxy.server_address[1]
    creds = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION}
    os.environ.update(creds)
    kw = {"endpoint_url": "http://%s:%d" % (mhost, mport), "region_name": REGION}
    s3 = boto3.client("s3", **kw)
    ddb = boto3.client("dynamodb", **kw)
    sns = boto3.client("sns", **kw)
    s3.create_bucket(Bucket=BUCKET)
    topic = sns.create_topic(Name="trailhound-bench")["TopicArn"]

    def env_for(api, table):
        return dict(creds, PATH=os.environ.get("PATH", ""), AWS_LAMBDA_RUNTIME_API=api,
                    AWS_ENDPOINT_URL=endpoint, AWS_LAMBDA_FUNCTION_NAME="trailhound",
                    AWS_LAMBDA_FUNCTION_MEMORY_SIZE="1024", AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
                    AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/trailhound", AWS_LAMBDA_LOG_STREAM_NAME="bench",
                    TRAILHOUND_TABLE=table,
                    TRAILHOUND_TOPIC_ARN=topic, TRAILHOUND_GEOIP=geo, RUST_LOG="warn")

    def create_table(name):
        ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "sk", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                    {"AttributeName": "sk", "KeyType": "RANGE"}])

    # Cold start: process start to the first request for an event.
    create_table(TABLE + "-cold")
    colds = []
    for _ in range(10):
        rt = Runtime()
        t0 = time.monotonic()
        p = subprocess.Popen([binary], env=env_for(rt.addr, TABLE + "-cold"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with rt.cv:
            while rt.first_next is None and p.poll() is None:
                rt.cv.wait(0.05)
        if rt.first_next is None:
            sys.exit("the Lambda binary exited during its cold start (run it by hand with the same environment to see why)")
        colds.append((rt.first_next - t0) * 1000)
        p.kill()
        p.wait()
        rt.server.shutdown()
    out = {"cold_start_ms": {"median": round(statistics.median(colds), 1), "min": round(min(colds), 1),
                             "max": round(max(colds), 1), "runs": len(colds)}, "cases": {}}

    runs = [(case, b) for case in cases for b in batches]
    for i, (case, batch) in enumerate(runs):
        name, path = case.split("=", 1)
        match = None
        if ":" in path:
            path, match = path.split(":", 1)
        if len(batches) > 1:
            name = "%s/batch-%d" % (name, batch)
        table = "%s-%d" % (TABLE, i)
        create_table(table)
        objs = list(objects(path, match))
        gz = inflated = records = 0
        etags = {}
        for full, key in objs:
            s3.upload_file(full, BUCKET, key)
            etags[key] = s3.head_object(Bucket=BUCKET, Key=key)["ETag"].strip('"')
            gz += os.path.getsize(full)
            n, r = inflated_and_records(full)
            inflated += n
            records += r
        rt = Runtime()
        p = subprocess.Popen([binary], env=env_for(rt.addr, table),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        with rt.cv:
            while rt.first_next is None:
                rt.cv.wait(0.05)
        cpu0 = proc_cpu(p.pid)
        hwm0 = proc_hwm_kib(p.pid)
        METER.reset()
        t0 = time.monotonic()
        invocations = 0
        for j in range(0, len(objs), batch):
            notes = [s3_event(key, os.path.getsize(full), etags[key]) for full, key in objs[j:j + batch]]
            ev = notes[0] if batch == 1 else sqs_event(notes)
            with rt.cv:
                rt.events.append(("req-%d" % invocations, ev))
                rt.cv.notify_all()
                while len(rt.responses) <= invocations:
                    rt.cv.wait(1)
            invocations += 1
        wall = time.monotonic() - t0
        cpu = proc_cpu(p.pid) - cpu0
        hwm = proc_hwm_kib(p.pid)
        errors = [body for path, body in rt.responses if path.endswith("/error")]
        # An SQS batch answers with the messages that failed.
        errors += [body for path, body in rt.responses
                   if path.endswith("/response") and b'"itemIdentifier"' in body]
        p.kill()
        p.wait()
        rt.server.shutdown()
        out["cases"][name] = {
            "objects": len(objs), "records": records, "gz_bytes": gz, "inflated_bytes": inflated,
            "batch": batch, "invocations": invocations, "s3_latency_ms": S3_LATENCY_S * 1000,
            "invocation_errors": len(errors),
            "first_error": errors[0].decode(errors="replace")[:400] if errors else None,
            "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
            "cpu_ms_per_inflated_mb": round(cpu * 1000 / (inflated / 1e6), 2),
            "peak_rss_mib": round(hwm / 1024, 1), "rss_after_cold_start_mib": round(hwm0 / 1024, 1),
            "sns_messages": METER.sns_messages,
            "dynamodb": {"read_units": METER.rru, "write_units": METER.wru,
                         "items_read": METER.items_read, "items_written": METER.items_written,
                         "calls": METER.calls, "transactional_write_units": METER.wru_by_kind,
                         "read_units_per_object": round(METER.rru / len(objs), 2),
                         "write_units_per_object": round(METER.wru / len(objs), 2),
                         "read_units_per_million_events": round(METER.rru * 1e6 / max(records, 1)),
                         "write_units_per_million_events": round(METER.wru * 1e6 / max(records, 1))},
        }
    proxy.shutdown()
    moto.stop()
    json.dump(out, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
