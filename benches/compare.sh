#!/usr/bin/env bash
# Whole-process timings behind the README's Performance table, measured side by side.
# Usage: benches/compare.sh [RECORDS] [WORKDIR] [SSM_PERCENT]
#   (default 500000 records, /tmp/trailreplay-bench, 3% session events; for the memory figures:
#    benches/compare.sh 2000000 /tmp/trailreplay-bench 50 writes 1M session events)
# Needs: hyperfine and jq (apt-get install hyperfine jq). Writes nothing in the repository.
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
hyperfine --warmup 1 --runs "${RUNS:-5}" --export-markdown "$work/compare-$records.md" \
  -n "decompression floor (in-process flate2/zlib-rs, 2 threads)" "target/release/examples/floor $logs" \
  -n "trailreplay replay (2 threads)" "$bin replay --candidate $policy --inventory $inv -o $work/out.csv $logs" \
  -n "trailreplay replay --threads 1" "$bin replay --threads 1 --candidate $policy --inventory $inv -o $work/out.csv $logs" \
  -n "gzip -dc | jq, 2 processes" "find $logs -name '*.json.gz' | xargs -P2 -n 64 sh -c 'for f; do gzip -dc \"\$f\" | jq -c '\''$jqfilter'\''; done' _ > $work/jq.out"
for mode in "" "--all" "--format jsonl --all" "--format summary"; do
  # shellcheck disable=SC2086
  /usr/bin/time -f "peak RSS: %M KB, wall %e s [replay $mode]" "$bin" replay --candidate "$policy" --inventory "$inv" $mode -o "$work/out.$$" "$logs" 2>&1 | tail -1
done
rm -f "$work/out.$$"
echo "rows: $(($(wc -l < "$work/out.csv") - 1)); jq found $(wc -l < "$work/jq.out") session events"
# The last line: the replay's mean time over the floor's, from hyperfine's export.
awk -F'|' '/decompression floor/ {f=$3} /trailreplay replay \(2 threads\)/ {r=$3}
  END {gsub(/[^0-9.]/,"",f); gsub(/[^0-9.]/,"",r); if (f>0) printf "replay / floor: %.2f\n", r/f}' "$work/compare-$records.md"
