#!/usr/bin/env bash
# Byte-for-byte comparison of two trailreplay binaries' reports, for changes that must not change
# behaviour (refactors, memory and speed work).
# Usage: benches/identical.sh OLD_BINARY NEW_BINARY ARCHIVE_DIR...
#   Each ARCHIVE_DIR is one written by `trailreplay generate -o DIR` (it holds AWSLogs/ and
#   inventory.csv). Every report mode is compared: CSV of changes, --all, JSON lines, summary.
# Exit status 0 when every report is identical, 1 otherwise. Writes only under $TMPDIR.
set -euo pipefail
old=$1; new=$2; shift 2
cd "$(dirname "$0")/.."
policy=samples/policies/seed-2a-instance-tag.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for archive in "$@"; do
  for mode in csv all jsonl summary; do
    case $mode in
      csv) extra=();;
      all) extra=(--all);;
      jsonl) extra=(--format jsonl --all);;
      summary) extra=(--format summary);;
    esac
    for side in old new; do
      bin=$old; [ "$side" = new ] && bin=$new
      "$bin" replay --candidate "$policy" --inventory "$archive/inventory.csv" "${extra[@]}" \
        -o "$work/$side.out" "$archive/AWSLogs" 2>/dev/null || true
    done
    if cmp -s "$work/old.out" "$work/new.out"; then
      echo "identical: $archive $mode ($(wc -c < "$work/new.out") bytes)"
    else
      echo "DIFFERENT: $archive $mode"; status=1
    fi
  done
done
exit $status
