#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests (moto started by the
# harness), then the deploy checks (cfn-lint, sam validate/build, cdk synth + assertions).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
step() { echo; echo "==> $*"; date +%s > /tmp/.th_step; }
took() { echo "    ($(( $(date +%s) - $(cat /tmp/.th_step) ))s)"; }

step "setup"; bash scripts/setup.sh; took
# Every crate of Cargo.lock, for every platform: the supply-chain test reads licenses with
# `cargo metadata --offline`, which needs the crates a host build never downloads.
step "cargo fetch"; cargo fetch --locked; took
step "cargo fmt --check"; cargo fmt --all -- --check; took
step "cargo clippy"; cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p trailhound --no-default-features -- -D warnings; took
if cargo nextest --version >/dev/null 2>&1; then
  step "cargo nextest run"; cargo nextest run --workspace --no-fail-fast; took
else
  step "cargo test"; cargo test --workspace --no-fail-fast; took
fi
# A short fuzz run per target (scripts/fuzz.sh; libFuzzer through cargo fuzz, installed from
# crates.io when missing; the stable compiler with RUSTC_BOOTSTRAP=1). Any crash or hang
# fails the suite. TRAILHOUND_FUZZ_SECONDS sets the time per target (default 20; 0 skips it).
fuzz_secs=${TRAILHOUND_FUZZ_SECONDS:-20}
if [ "$fuzz_secs" != 0 ]; then
  step "fuzz (${fuzz_secs}s per target)"; bash scripts/fuzz.sh all "$fuzz_secs"; took
else
  echo; echo "==> fuzz: skipped (TRAILHOUND_FUZZ_SECONDS=0)"
fi
if [ -f deploy/test.sh ]; then
  step "deploy setup"; bash deploy/setup.sh; took
  step "deploy checks"; bash deploy/test.sh; took
fi
echo; echo "all checks passed"
