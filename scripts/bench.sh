#!/usr/bin/env bash
# Decode and decode+detect on a generated ~100 MB CloudTrail file (criterion), then a whole
# replay of the same file under /usr/bin/time -v for wall time and peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
cargo bench -p trailhound-core --bench decode -- --noplot "$@"
cargo build --release --quiet -p trailhound --bin trailhound
file=$(ls target/bench-data/cloudtrail-*MB.json.gz | head -1)
echo "==> replay of $file"
/usr/bin/time -v ./target/release/trailhound replay --no-progress "$file" 2>&1 >/dev/null \
  | grep -E "objects read|MB/s|Elapsed|Maximum resident"
