#!/usr/bin/env python3
"""The Python peer: how a typical Python Lambda reads these logs.

For every .gz object under the paths: gzip.open + json.load (CloudTrail) or json.loads
per line (Bedrock invocation logs, JSON Lines), then a count of events per principal
(CloudTrail userIdentity.arn, else the invoking service or type; invocation logs
identity.arn). Prints "objects records principals" on stdout.
"""
import collections
import gzip
import json
import os
import sys


def objects(paths):
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs.sort()
                for f in sorted(files):
                    if f.endswith(".gz"):
                        yield os.path.join(root, f)
        elif p.endswith(".gz"):
            yield p


def principal(rec):
    ident = rec.get("userIdentity") or rec.get("identity") or {}
    return ident.get("arn") or ident.get("invokedBy") or ident.get("type") or "?"


def main(paths):
    counts = collections.Counter()
    n_obj = 0
    for path in objects(paths):
        n_obj += 1
        with gzip.open(path, "rb") as f:
            if "BedrockModelInvocationLogs" in path:
                for line in f:
                    if line.strip():
                        counts[principal(json.loads(line))] += 1
            else:
                for rec in json.load(f).get("Records", []):
                    counts[principal(rec)] += 1
    print(n_obj, sum(counts.values()), len(counts))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: peer.py PATH...   (files or folders of .gz log objects)")
    main(sys.argv[1:])
