#!/usr/bin/env bash
# Runs one cargo-fuzz (libFuzzer) target for SECONDS with a corpus seeded from samples/ and
# ../shared/data/public/ (when present):
#
#   bash scripts/fuzz.sh TARGET SECONDS     # e.g. bash scripts/fuzz.sh cloudtrail 600
#   bash scripts/fuzz.sh all SECONDS        # every target, SECONDS each
#   FUZZ_RUNS=10000000 bash scripts/fuzz.sh cloudtrail 86400   # the long campaign: stop
#                                           # after FUZZ_RUNS executions (or SECONDS)
#   FUZZ_MAX_LEN=4096 ...                   # cap input length (default 65536; the long
#                                           # campaign uses libFuzzer's 4096 for speed)
#
# Targets: envelope classify_sniff cloudtrail invocation normalize detector_file secret_scan.
# Hangs count as failures: each input gets FUZZ_TIMEOUT seconds (default 10). A crash or a
# hang leaves its input under fuzz/artifacts/TARGET/ and exits non-zero; turn it into a
# regression test (crates/trailhound/tests/malformed.rs) and fix it.
#
# Toolchain: cargo fuzz passes unstable rustc flags. The machine's stable compiler takes them
# with RUSTC_BOOTSTRAP=1 (CI machines have only the one toolchain and cannot download
# another; using it here too means one instrumented build, the one CI runs). No
# sanitizer: the code has no `unsafe`, and a sanitizer runtime needs a nightly's; debug
# assertions are on, so arithmetic overflow panics. cargo-fuzz is installed from crates.io
# when missing. Builds go to fuzz/target (instrumented; never mixed with the workspace's).
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(envelope classify_sniff cloudtrail invocation normalize detector_file secret_scan)
target=${1:?usage: scripts/fuzz.sh TARGET|all SECONDS}
secs=${2:?usage: scripts/fuzz.sh TARGET|all SECONDS}
timeout=${FUZZ_TIMEOUT:-10}
max_len=${FUZZ_MAX_LEN:-65536}

if [ "$target" = all ]; then
  for t in "${TARGETS[@]}"; do bash "$0" "$t" "$secs"; done
  exit 0
fi
case " ${TARGETS[*]} " in *" $target "*) ;; *)
  echo "fuzz.sh: unknown target '$target'; one of: ${TARGETS[*]} (or all)" >&2; exit 2;;
esac

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz (crates.io)"
  cargo install cargo-fuzz --locked --quiet
fi
export RUSTC_BOOTSTRAP=1
fuzz=(cargo fuzz)

# The seed corpus: small real inputs of the target's kind (inflated, so mutations reach
# the decoder; gzip is also decoded, so a few stay compressed).
corpus=fuzz/corpus/$target
mkdir -p "$corpus"
public=../shared/data/public
seed() { # NAME < content (the first 64 KiB; the rest is read and dropped)
  local f="$corpus/seed-$1"
  if [ -e "$f" ]; then cat > /dev/null; else { head -c 65536 > "$f"; cat > /dev/null; }; fi
}
small_gz() { # DIR PATTERN COUNT: the smallest matching .gz files under DIR
  find "$1" -path "$2" -name '*.gz' -size -8k 2>/dev/null | sort | head -n "$3"
}
set +o pipefail
case "$target" in
  cloudtrail|classify_sniff)
    n=0
    for f in $(small_gz samples '*/CloudTrail/*' 30) $(small_gz samples '*CloudTrail-*' 4); do
      n=$((n + 1))
      if [ "$target" = cloudtrail ]; then gunzip -c "$f" | seed "ct-$n"
      else { echo "${f#samples/}"; gunzip -c "$f"; } | seed "ct-$n"; fi
    done
    for f in "$public"/cloudtrail/*; do
      [ -f "$f" ] || continue
      if [ "$target" = cloudtrail ]; then seed "pub-$(basename "$f")" < "$f"
      else { echo "AWSLogs/1/CloudTrail/us-east-1/2026/10/01/$(basename "$f")"; cat "$f"; } | seed "pub-$(basename "$f")"; fi
    done
    [ "$target" = cloudtrail ] && f=$(small_gz samples '*/CloudTrail/*' 1) && [ -n "$f" ] && seed gz < "$f"
    ;;&
  invocation|classify_sniff|secret_scan)
    n=0
    for f in $(small_gz samples '*BedrockModelInvocationLogs*' 30); do
      n=$((n + 1))
      case "$target" in
        invocation|secret_scan) gunzip -c "$f" | seed "inv-$n" ;;
        classify_sniff) { echo "${f#samples/}"; gunzip -c "$f"; } | seed "inv-$n" ;;
      esac
    done
    for f in "$public"/bedrock/*; do
      [ -f "$f" ] || continue
      if [ "$target" = classify_sniff ]; then
        { echo "AWSLogs/1/BedrockModelInvocationLogs/us-east-1/2026/10/01/01/$(basename "$f")"; cat "$f"; } | seed "pub-$(basename "$f")"
      else seed "pub-$(basename "$f")" < "$f"; fi
    done
    if [ "$target" = secret_scan ]; then
      printf 'my key is AKIAR7K2M4QQJV5SXE3D and sk-proj-%s\n' "$(printf 'a%.0s' {1..40})" | seed planted
      printf 'ghp_%s xoxb-1-2-abc -----BEGIN RSA PRIVATE KEY-----\n' "$(printf 'b%.0s' {1..36})" | seed planted2
    fi
    ;;
  envelope)
    for f in "$public"/envelopes/*.json; do [ -f "$f" ] && seed "pub-$(basename "$f")" < "$f"; done
    printf '%s' '{"Records":[{"eventSource":"aws:s3","s3":{"bucket":{"name":"b"},"object":{"key":"AWSLogs/1/CloudTrail/us-east-1/2026/10/01/a+b%20c.json.gz","eTag":"e","size":3}}}]}' | seed s3
    printf '%s' '{"Records":[{"messageId":"m","eventSource":"aws:sqs","body":"{\"Type\":\"Notification\",\"Message\":\"{\\\"detail-type\\\":\\\"Object Created\\\",\\\"source\\\":\\\"aws.s3\\\",\\\"detail\\\":{\\\"bucket\\\":{\\\"name\\\":\\\"b\\\"},\\\"object\\\":{\\\"key\\\":\\\"k\\\"}}}\"}"}]}' | seed sqs-sns-eb
    ;;
  normalize)
    printf 'arn:aws:sts::111122223333:assumed-role/Admin/alice@example.com\x012026-10-01T01:02:03Z\x01203.0.113.7\x01us-east-1' | seed role
    printf 'arn:aws:iam::111122223333:user/bob\x012026-10-01T01:02:03.123+02:00\x01010.000.000.001\x01eu-west-3' | seed user
    printf 'arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123/carol\x011759280000\x012001:db8::1\x01x' | seed sso
    printf 'arn:aws:iam::111122223333:root\x01\x01bedrock.amazonaws.com\x0130d' | seed root
    ;;
  detector_file)
    for f in detectors/*.toml; do seed "$(basename "$f")" < "$f"; done
    ;;
esac
set -o pipefail

echo "fuzz.sh: $target for ${secs}s, corpus $corpus ($(ls "$corpus" | wc -l) inputs), ${timeout}s per input"
log=$(mktemp)
set +e
"${fuzz[@]}" run --sanitizer none --debug-assertions --fuzz-dir fuzz "$target" "$corpus" -- \
  -max_total_time="$secs" -timeout="$timeout" -rss_limit_mb=2048 -max_len="$max_len" \
  -print_final_stats=1 ${FUZZ_RUNS:+-runs="$FUZZ_RUNS"} 2>&1 | tee "$log" | grep --line-buffered -E '^(#[0-9]+[[:space:]]+(INITED|DONE|pulse)|Done|==|SUMMARY|.*panicked|.*ERROR|stat::number_of_executed_units|stat::peak_rss_mb)' 
rc=${PIPESTATUS[0]}
set -e
execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
echo "fuzz.sh: $target: ${execs:-?} executions in ${secs}s, corpus $(ls "$corpus" | wc -l) inputs, exit $rc"
if [ "$rc" != 0 ]; then
  echo "fuzz.sh: $target FAILED; the input is under fuzz/artifacts/$target/ (last lines of the log:)" >&2
  tail -n 40 "$log" >&2
fi
rm -f "$log"
exit "$rc"
