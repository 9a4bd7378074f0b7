#!/usr/bin/env bash
# Whole-process timings behind the README's Performance table, measured side by side.
# Usage: benches/compare.sh [RECORDS] [WORKDIR] [SSM_PERCENT]
#   (default 500000 records, /tmp/trailreplay-bench, 3% session events; for the memory figures:
#    benches/compare.sh 2000000 /tmp/trailreplay-bench 50 writes 1M session events)
# Needs: hyperfine and jq (apt-get install hyperfine jq; NO_JQ=1 skips the jq pipeline). Writes
# nothing in the repository. RUNS=N sets hyperfine's runs (default 5).
set -euo pipefail
records=${1:-500000}
work=${2:-/tmp/trailreplay-bench}
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin trailreplay --example floor
bin=target/release/trailreplay
ssm=${3:-3}
archive="$work/r$records-s$ssm"
if [ ! -d "$archive/AWSLogs" ]; then
  mkdir -p "$archive"
  if [ -n "${3:-}" ]; then
    "$bin" generate -o "$archive" --records "$records" --per-file 4000 --ssm-percent "$ssm" \
      --days 30 --accounts 4 --regions 3
  else
    "$bin" generate -o "$archive" --records "$records" --per-file 2000
  fi
fi
logs="$archive/AWSLogs"
inv="$archive/inventory.csv"
policy=samples/policies/seed-2a-instance-tag.json
echo "archive: $(find "$logs" -name '*.json.gz' | wc -l) files, $(du -sh "$logs" | cut -f1) compressed"
jqfilter='.Records[] | select(.eventSource == "ssm.amazonaws.com" and (.eventName | IN("StartSession","TerminateSession","ResumeSession","DescribeSessions","GetConnectionStatus"))) | .eventID'
hyperfine --warmup 1 --runs "${RUNS:-5}" -N --export-markdown "$work/compare-$records.md" \
  -n "decompression floor (in-process flate2/zlib-rs, 2 threads)" "target/release/examples/floor $logs" \
  -n "trailreplay replay (2 threads)" "$bin replay --candidate $policy --inventory $inv -o $work/out.csv $logs" \
  -n "trailreplay replay --all (2 threads)" "$bin replay --all --candidate $policy --inventory $inv -o $work/all.csv $logs" \
  -n "decompression floor, 1 thread" "env RAYON_NUM_THREADS=1 target/release/examples/floor $logs" \
  -n "trailreplay replay --threads 1" "$bin replay --threads 1 --candidate $policy --inventory $inv -o $work/out.csv $logs" \
  -n "whole-file floor (libdeflate, 2 threads)" "target/release/examples/floor --whole $logs" \
  -n "whole-file floor, 1 thread" "env RAYON_NUM_THREADS=1 target/release/examples/floor --whole $logs"
if [ -z "${NO_JQ:-}" ]; then
  hyperfine --warmup 1 --runs 3 --export-markdown "$work/compare-jq-$records.md" \
    -n "gzip -dc | jq, 2 processes" "find $logs -name '*.json.gz' | xargs -P2 -n 64 sh -c 'for f; do gzip -dc \"\$f\" | jq -c '\''$jqfilter'\''; done' _ > $work/jq.out"
  echo "jq found $(wc -l < "$work/jq.out") session events"
fi
for mode in "" "--all" "--format jsonl --all" "--format summary"; do
  # shellcheck disable=SC2086
  /usr/bin/time -f "peak RSS: %M KB, wall %e s [replay $mode]" "$bin" replay --candidate "$policy" --inventory "$inv" $mode -o "$work/out.$$" "$logs" 2>&1 | tail -1
done
rm -f "$work/out.$$"
echo "rows: $(($(wc -l < "$work/out.csv") - 1))"
# The last two lines: each replay's mean time over its floor's, from hyperfine's export (the
# issue's target: at most 1.3 for each against the streaming floor). The replay decompresses a
# gzip file of up to 32 MiB whole with libdeflate, so the whole-file floor is the stricter one.
awk -F'|' '{gsub(/[^0-9.]/,"",$3)}
  /decompression floor \(/ {f=$3} /decompression floor, 1 thread/ {f1=$3}
  /whole-file floor \(/ {w=$3} /whole-file floor, 1 thread/ {w1=$3}
  /trailreplay replay \(2 threads\)/ {r=$3} /replay --all/ {a=$3} /replay --threads 1/ {r1=$3}
  END {if (w>0 && w1>0) printf "replay / whole-file floor: %.2f (--all %.2f; --threads 1 / 1-thread floor %.2f)\n", r/w, a/w, r1/w1
       if (f>0 && f1>0) printf "replay / floor: %.2f (--all %.2f; --threads 1 / 1-thread floor %.2f)\n", r/f, a/f, r1/f1}' \
  "$work/compare-$records.md"
