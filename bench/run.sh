#!/usr/bin/env bash
# The benchmark, side by side on the same files (see README, "Performance"):
#   the floor (gzip -dc / pigz -dc to /dev/null, and bench/floor: inflate + skip-only parse),
#   trailhound replay --decode-only, the Python peer (bench/peer.py), and trailhound replay
#   with all default detectors, on the realistic CloudTrail file, the invocation-log file,
#   the many-small-objects archive and the uniform file.
# Each command runs BENCH_RUNS times (default 5), round-robin over all cases but the 1 GB one; the median wall time, MB/s of inflated
# JSON, ratios and peak RSS (/usr/bin/time) go to stdout and to bench/results.md.
# BENCH_LARGE=1 also generates and replays a 1 GB CloudTrail file (memory check).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${BENCH_RUNS:-5}
DATA="$PWD/target/bench-data"
OUT=bench/results.md
TH=./target/release/trailhound
[ -f geo/country.mmdb ] || echo "note: no geo/country.mmdb (run scripts/setup.sh): geo lookups are not measured" >&2

# BENCH_NO_BUILD=1: use the release binaries already built.
if [ -z "${BENCH_NO_BUILD:-}" ]; then
  echo "==> building (release)" >&2
  cargo build --release --quiet -p trailhound --bin trailhound
  cargo build --release --quiet -p trailhound-samples -p trailhound-bench-floor
fi
echo "==> benchmark data under $DATA" >&2
./target/release/trailhound-samples bench ${BENCH_LARGE:+--large} "$DATA"

# manifest: name path objects records gz_bytes inflated_bytes
field() { awk -F'\t' -v n="$1" -v c="$2" '$1 == n { print $c }' "$DATA/manifest.tsv"; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
ROWS="$TMP/rows"
: >"$ROWS"

# add CASE LABEL CMD...: queues a command of the current case.
QUEUE=()
add() {
  local n=${#QUEUE[@]}
  QUEUE+=("$1"$'\t'"$2")
  shift 2
  printf '%s\0' "$@" >"$TMP/cmd.$n"
  : >"$TMP/res.$n"
}

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# run_queue: runs the queued commands RUNS times, round-robin (run 1 of every command, then
# run 2...), so a slow spell of the machine hits every command of the case alike; appends
# "case label median_s maxrss_kib cpu_s" per command to ROWS.
run_queue() {
  local n r argv e m u s
  for r in $(seq "$RUNS"); do
    for n in "${!QUEUE[@]}"; do
      mapfile -d '' -t argv <"$TMP/cmd.$n"
      # Wall time from the shell's microsecond clock (time's %e has 10 ms steps, a few
      # percent of these runs); peak RSS and CPU from /usr/bin/time.
      t0=$EPOCHREALTIME
      /usr/bin/time -f "%e %M %U %S" -o "$TMP/t" "${argv[@]}" >/dev/null 2>"$TMP/err" || {
        echo "failed: ${argv[*]}" >&2
        cat "$TMP/err" >&2
        return 1
      }
      t1=$EPOCHREALTIME
      read -r e m u s <"$TMP/t"
      e=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
      echo "$e $m $(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')" >>"$TMP/res.$n"
    done
  done
  for n in "${!QUEUE[@]}"; do
    local case=${QUEUE[$n]%%$'\t'*} label=${QUEUE[$n]#*$'\t'} med_t med_m med_c
    med_t=$(awk '{ print $1 }' "$TMP/res.$n" | median)
    med_m=$(awk '{ print $2 }' "$TMP/res.$n" | median)
    med_c=$(awk '{ print $3 }' "$TMP/res.$n" | median)
    printf '%s\t%s\t%s\t%s\t%s\n' "$case" "$label" "$med_t" "$med_m" "$med_c" >>"$ROWS"
    printf '  %-14s %-28s %7.2fs %7.1f MiB\n' "$case" "$label" "$med_t" "$(awk -v m="$med_m" 'BEGIN { print m / 1024 }')" >&2
  done
  QUEUE=()
}

gz_list() { find "$1" -name '*.gz' | sort; }

bench_case() {
  local case=$1 path
  path=$(field "$case" 2)
  [ -n "$path" ] || return 0
  echo "==> $case ($(field "$case" 3) objects, $(awk -v b="$(field "$case" 6)" 'BEGIN { printf "%.1f", b / 1e6 }') MB inflated)" >&2
  gz_list "$path" >"$TMP/list.$case"
  add "$case" "gzip -dc" sh -c 'xargs gzip -dc <"$1"' sh "$TMP/list.$case"
  if command -v pigz >/dev/null; then
    add "$case" "pigz -dc" sh -c 'xargs pigz -dc <"$1"' sh "$TMP/list.$case"
  fi
  add "$case" "inflate only" ./target/release/floor --inflate-only "$path"
  add "$case" "floor" ./target/release/floor "$path"
  add "$case" "decode-only" "$TH" replay --no-progress --jobs 1 --decode-only "$path"
  add "$case" "python-peer" python3 bench/peer.py "$path"
  add "$case" "replay --jobs 1" "$TH" replay --no-progress --jobs 1 "$path"
  # Two jobs (the default on this 2-core machine): objects decoded on two threads, or one
  # large object inflated on a second core while it is parsed.
  add "$case" "replay --jobs 2" "$TH" replay --no-progress --jobs 2 "$path"
}

# Every command of every data set in one round-robin: a target compares data sets too (many
# small objects against the big file), and this machine's speed drifts by 1.5x over minutes.
for c in cloudtrail invocations small-objects uniform; do
  bench_case "$c"
done
run_queue
if [ -n "${BENCH_LARGE:-}" ]; then
  path=$(field cloudtrail-1GB 2)
  echo "==> cloudtrail-1GB (1 run each)" >&2
  add cloudtrail-1GB "floor" ./target/release/floor "$path"
  add cloudtrail-1GB "replay --jobs 1" "$TH" replay --no-progress --jobs 1 "$path"
  add cloudtrail-1GB "replay --jobs 2" "$TH" replay --no-progress --jobs 2 "$path"
  # The same with the object held whole (the behaviour before --segment-records).
  add cloudtrail-1GB "replay --jobs 1 (held whole)" "$TH" replay --no-progress --jobs 1 --segment-records 0 "$path"
  RUNS=1 run_queue
fi

# ---- report --------------------------------------------------------------------------
cpu_model=$(lscpu 2>/dev/null | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2; exit }')
mem=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
{
  echo "# Benchmark results"
  echo
  echo "Generated by \`bash bench/run.sh\` on $(date -u +%Y-%m-%dT%H:%MZ) (commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'))."
  echo "Load average when the run ended: $(cut -d' ' -f1-3 /proc/loadavg) (other builds on the machine make the wall times noisy)."
  echo "Machine: $(nproc) cores, ${cpu_model:-unknown CPU}, $mem RAM, $(uname -sr); rustc $(rustc --version | cut -d' ' -f2), Python $(python3 -c 'import platform; print(platform.python_version())')."
  echo "Each command ran $RUNS times, round-robin with every other command of the four data sets (so a slow spell of the machine hits them alike); the table shows the median wall time and the median peak RSS."
  echo "MB/s is inflated JSON per second (MB = 10^6 bytes). \"vs floor\" is the floor program's time over"
  echo "this command's time (1.00 = as fast as inflate + skip-only parse); \"vs python\" is the Python peer's"
  echo "time over this command's time."
  echo
  echo "| data | command | median s | MB/s | vs floor | vs python | peak RSS MiB | CPU s |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|"
  while IFS=$'\t' read -r case label t m c; do
    infl=$(field "$case" 6)
    floor_t=$(awk -F'\t' -v k="$case" '$1 == k && $2 == "floor" { print $3 }' "$ROWS")
    py_t=$(awk -F'\t' -v k="$case" '$1 == k && $2 == "python-peer" { print $3 }' "$ROWS")
    awk -v d="$case" -v l="$label" -v t="$t" -v m="$m" -v c="$c" -v b="$infl" -v f="$floor_t" -v p="$py_t" 'BEGIN {
      r = (f != "" && t > 0) ? sprintf("%.2f", f / t) : "-";
      q = (p != "" && t > 0) ? sprintf("%.2f", p / t) : "-";
      printf "| %s | %s | %.3f | %.1f | %s | %s | %.1f | %.2f |\n", d, l, t, b / 1e6 / (t > 0 ? t : 1e-9), r, q, m / 1024, c
    }'
  done <"$ROWS"
  echo
  echo "## Targets (issue 11)"
  echo
  get() { awk -F'\t' -v k="$1" -v l="$2" '$1 == k && $2 == l { print $'"${3:-3}"' }' "$ROWS"; }
  verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { ok = (op == "ge") ? v >= t : v <= t; print ok ? "met" : "not met" }'; }
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
  # Each ratio target: on one core (--jobs 1), and at the default --jobs 2 of this machine.
  both() {
    local data=$1 base=$2 target=$3 what=$4 r1 r2
    r1=$(ratio "$(get "$data" "$base")" "$(get "$data" 'replay --jobs 1')")
    r2=$(ratio "$(get "$data" "$base")" "$(get "$data" 'replay --jobs 2')")
    echo "- $what: ${r1}x with --jobs 1 ($(verdict "$r1" "$target" ge)), ${r2}x with --jobs 2, the default here ($(verdict "$r2" "$target" ge)); target >= $target."
  }
  both cloudtrail floor 0.5 "Full pipeline on the realistic CloudTrail file vs the floor's throughput"
  both cloudtrail python-peer 12 "Full pipeline vs the Python peer, CloudTrail"
  both invocations python-peer 4 "Full pipeline vs the Python peer, invocation logs"
  for d in cloudtrail invocations; do
    r=$(ratio "$(get "$d" python-peer)" "$(get "$d" 'inflate only')")
    echo "- Bound, $d: inflating alone (one stream, one core) is ${r}x the Python peer."
  done
  m=$(awk -v m="$(get cloudtrail 'replay --jobs 1' 4)" 'BEGIN { printf "%.1f", m / 1024 }')
  m2=$(awk -v m="$(get cloudtrail 'replay --jobs 2' 4)" 'BEGIN { printf "%.1f", m / 1024 }')
  echo "- Peak RSS of the full pipeline on the 100 MB CloudTrail file: ${m} MiB (target <= 64): $(verdict "$m" 64 le); ${m2} MiB with --jobs 2 ($(verdict "$m2" 64 le))."
  if [ -n "$(get cloudtrail-1GB 'replay --jobs 1')" ]; then
    m=$(awk -v m="$(get cloudtrail-1GB 'replay --jobs 1' 4)" 'BEGIN { printf "%.1f", m / 1024 }')
    m2=$(awk -v m="$(get cloudtrail-1GB 'replay --jobs 2' 4)" 'BEGIN { printf "%.1f", m / 1024 }')
    echo "- Peak RSS of the full pipeline on the 1 GB CloudTrail file: ${m} MiB (target <= 64): $(verdict "$m" 64 le); ${m2} MiB with --jobs 2 ($(verdict "$m2" 64 le))."
  else
    echo "- Peak RSS on a 1 GB file: not run (BENCH_LARGE=1 bash bench/run.sh)."
  fi
  big=$(awk -v b="$(field cloudtrail 6)" -v t="$(get cloudtrail 'replay --jobs 1')" 'BEGIN { print b / t }')
  small=$(awk -v b="$(field small-objects 6)" -v t="$(get small-objects 'replay --jobs 1')" 'BEGIN { print b / t }')
  r=$(ratio "$small" "$big")
  echo "- Many small objects vs the big file (MB/s, both --jobs 1): ${r}x (target >= 0.50): $(verdict "$r" 0.5 ge)."
  r=$(ratio "$(get small-objects 'replay --jobs 1')" "$(get small-objects 'replay --jobs 2')")
  echo "- replay --jobs 2 vs --jobs 1 on the many-small-objects archive: ${r}x (target >= 1.7): $(verdict "$r" 1.7 ge)."
  r=$(ratio "$(get uniform 'replay --jobs 1')" "$(get cloudtrail 'replay --jobs 1')")
  b1=$(awk -v b="$(field uniform 6)" -v t="$(get uniform 'replay --jobs 1')" 'BEGIN { printf "%.0f", b / t / 1e6 }')
  echo "- For reference: the uniform file replays at ${b1} MB/s, the realistic one at $(awk -v b="$big" 'BEGIN { printf "%.0f", b / 1e6 }') MB/s."
} >"$TMP/report"
cp "$TMP/report" "$OUT"
cat "$OUT"
