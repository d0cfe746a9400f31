#!/usr/bin/env bash
# The main job: replay the committed sample archive with the embedded detectors and print findings.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
cargo build --release --quiet --bin trailhound
exec ./target/release/trailhound replay samples/ "$@"
