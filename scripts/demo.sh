#!/usr/bin/env bash
# The main job: replay the committed sample archive with the embedded detectors and print findings.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
# The `demo` profile: optimized without LTO (the Lambda's release build, with thin LTO, is
# for deploy/) and without the `s3` and `lambda` features (the demo replays a local folder), so a
# fresh clone reaches its first finding without compiling the AWS SDK.
cargo build --profile demo --quiet -p trailhound --no-default-features --bin trailhound
exec ./target/demo/trailhound replay samples/ "$@"
