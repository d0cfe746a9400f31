#!/usr/bin/env bash
# Instruction counts per stage (valgrind --tool=callgrind: deterministic, unlike wall time)
# on the 2 MB realistic CloudTrail file of the benchmark data:
#   init     trailhound replay on an empty folder (detectors, geo database, runtime)
#   floor    bench/floor: inflate + skip-only parse
#   decode   trailhound replay --decode-only: inflate, split, parse, normalize (minus init)
#   full     trailhound replay with all default detectors (minus init)
# and, inside the full run, the inclusive counts of the main functions (callgrind_annotate).
# Writes bench/callgrind.md. Compare two commits by running it on each.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
DATA="$PWD/target/bench-data"
[ -n "${BENCH_NO_BUILD:-}" ] || { cargo build --release --quiet -p trailhound --bin trailhound && cargo build --release --quiet -p trailhound-samples -p trailhound-bench-floor; }
./target/release/trailhound-samples bench "$DATA" >/dev/null 2>&1
file=$(awk -F'\t' '$1 == "callgrind" { print $2 }' "$DATA/manifest.tsv")
records=$(awk -F'\t' '$1 == "callgrind" { print $4 }' "$DATA/manifest.tsv")
bytes=$(awk -F'\t' '$1 == "callgrind" { print $6 }' "$DATA/manifest.tsv")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir "$TMP/empty"

run() { # NAME CMD...: total instructions
  local name=$1
  shift
  valgrind --tool=callgrind --callgrind-out-file="$TMP/$name.out" "$@" >/dev/null 2>"$TMP/$name.err"
  awk '/^summary:|^totals:/ { print $2; exit }' "$TMP/$name.out"
}
TH=./target/release/trailhound
init=$(run init "$TH" replay --no-progress --jobs 1 "$TMP/empty")
floor=$(run floor ./target/release/floor "$file")
decode=$(run decode "$TH" replay --no-progress --jobs 1 --decode-only "$file")
full=$(run full "$TH" replay --no-progress --jobs 1 "$file")

per() { awk -v i="$1" -v n="$records" 'BEGIN { printf "%.0f", i / n }'; }
perb() { awk -v i="$1" -v b="$bytes" 'BEGIN { printf "%.1f", i / b }'; }
{
  echo "# Instruction counts (callgrind)"
  echo
  echo "On \`$(basename "$file")\`: $records records, $bytes bytes inflated (the realistic CloudTrail shape)."
  echo "Commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(date -u +%Y-%m-%d)."
  echo
  echo "Replay frees its state store and detectors on a thread it does not wait for (since 2026-12-04);"
  echo "callgrind runs one thread at a time and the process may end first, so these totals leave most"
  echo "of that freeing out (earlier tables included it, about 4,000 instructions per record here)."
  echo
  echo "| stage | instructions | per record | per inflated byte |"
  echo "|---|---:|---:|---:|"
  echo "| init (empty replay) | $init | - | - |"
  echo "| floor: inflate + skip-only parse | $floor | $(per "$floor") | $(perb "$floor") |"
  d=$((decode - init))
  f=$((full - init))
  echo "| decode + normalize (decode-only minus init) | $d | $(per "$d") | $(perb "$d") |"
  echo "| full pipeline (minus init) | $f | $(per "$f") | $(perb "$f") |"
  echo "| state + detect (full minus decode-only) | $((full - decode)) | $(per $((full - decode))) | $(perb $((full - decode))) |"
  echo
  echo "Inclusive counts in the full run (top functions of trailhound's own code):"
  echo
  echo '```'
  callgrind_annotate --inclusive=yes "$TMP/full.out" 2>/dev/null \
    | grep -E 'trailhound_core::|trailhound::' | grep -vE '::\{\{closure\}\}$' | head -25
  echo '```'
} >bench/callgrind.md
cat bench/callgrind.md
