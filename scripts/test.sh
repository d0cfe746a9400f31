#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests (moto started by the
# harness), then the deploy checks (cfn-lint, sam validate/build, cdk synth + assertions).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
step() { echo; echo "==> $*"; date +%s > /tmp/.th_step; }
took() { echo "    ($(( $(date +%s) - $(cat /tmp/.th_step) ))s)"; }

step "setup"; bash scripts/setup.sh; took
step "cargo fmt --check"; cargo fmt --all -- --check; took
step "cargo clippy"; cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p trailhound --no-default-features -- -D warnings; took
if cargo nextest --version >/dev/null 2>&1; then
  step "cargo nextest run"; cargo nextest run --workspace --no-fail-fast; took
else
  step "cargo test"; cargo test --workspace --no-fail-fast; took
fi
# A short fuzz run per target (scripts/fuzz.sh): optional, because the first instrumented
# build compiles the AWS SDK and takes tens of minutes on a 2-core machine. Set
# TRAILHOUND_FUZZ_SECONDS (e.g. 30) to run it.
if [ -n "${TRAILHOUND_FUZZ_SECONDS:-}" ]; then
  step "fuzz (${TRAILHOUND_FUZZ_SECONDS}s per target)"; bash scripts/fuzz.sh all "$TRAILHOUND_FUZZ_SECONDS"; took
else
  echo; echo "==> fuzz: skipped (set TRAILHOUND_FUZZ_SECONDS=30 to run every target; see scripts/fuzz.sh)"
fi
if [ -f deploy/test.sh ]; then
  step "deploy setup"; bash deploy/setup.sh; took
  step "deploy checks"; bash deploy/test.sh; took
fi
echo; echo "all checks passed"
