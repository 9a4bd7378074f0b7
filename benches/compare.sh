#!/usr/bin/env bash
# Whole-process timings behind the README's Performance table, measured side by side.
# Usage: benches/compare.sh [RECORDS] [WORKDIR]   (default 500000 records, /tmp/trailreplay-bench)
# Needs: hyperfine and jq (apt-get install hyperfine jq). Writes nothing in the repository.
set -euo pipefail
records=${1:-500000}
work=${2:-/tmp/trailreplay-bench}
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin trailreplay --example floor
bin=target/release/trailreplay
archive="$work/r$records"
if [ ! -d "$archive/AWSLogs" ]; then
  mkdir -p "$archive"
  "$bin" generate -o "$archive" --records "$records" --per-file 2000
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
for r in 1 2 3; do
  /usr/bin/time -f "peak RSS: %M KB, wall %e s" "$bin" replay --candidate "$policy" --inventory "$inv" -o "$work/out.csv" "$logs" 2>&1 | tail -1
done
echo "rows: $(($(wc -l < "$work/out.csv") - 1)); jq found $(wc -l < "$work/jq.out") session events"
