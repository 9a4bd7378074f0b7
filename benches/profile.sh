#!/usr/bin/env bash
# Where a replay's CPU time goes, by pipeline stage: the README's "where each millisecond goes".
# Usage: benches/profile.sh ARCHIVE_DIR [EXTRA REPLAY ARGS...]
#   ARCHIVE_DIR is one written by `trailreplay generate -o DIR` (AWSLogs/ and inventory.csv),
#   for example the one benches/compare.sh makes. Needs perf (apt-get install linux-perf) and
#   python3. Samples at 2 kHz with DWARF call graphs (which slow the run itself down by about
#   a third: read the shares, and the milliseconds as CPU time under the profiler).
set -euo pipefail
archive=$1; shift
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin trailreplay
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
perf record -q -F 2000 --call-graph dwarf,16384 -o "$work/perf.data" \
  target/release/trailreplay replay --candidate samples/policies/seed-2a-instance-tag.json \
  --inventory "$archive/inventory.csv" -o "$work/out.csv" "$@" "$archive/AWSLogs" 2>/dev/null
perf script -i "$work/perf.data" 2>/dev/null > "$work/perf.txt"
python3 - "$work/perf.txt" <<'EOF'
import collections, re, sys
# The first stage whose function is on a sample's stack names the sample (order matters).
stages = [
    ("kernel: zeroing fresh memory", lambda leaf, txt: "clear_page" in leaf),
    ("gunzip (libdeflate whole files; zlib-rs streamed)",
     lambda leaf, txt: "inflate_whole" in txt or "deflate_decompress" in txt or "zlib_rs" in txt),
    ("read the files (system calls)",
     lambda leaf, txt: "read_whole" in txt or "read_up_to" in txt or "source::open" in txt),
    ("split: record starts, source, escapes", lambda leaf, txt: "fast::split" in txt),
    ("split: structural scan (fallback)", lambda leaf, txt: "scan_with_buffer" in txt),
    ("parse the candidate records", lambda leaf, txt: "record::parse" in txt or "classify" in txt),
    ("screen each record (names, eventSource)",
     lambda leaf, txt: "Decoder::record" in txt or "names_session_call" in txt),
    ("map, evaluate, build rows", lambda leaf, txt: "replay::item" in txt),
    ("free what is no longer needed", lambda leaf, txt: "trailreplay-fre" in txt),
    ("write the report (CSV)", lambda leaf, txt: "RowWriter" in txt or "sanitize" in txt),
    ("collect the workers' results", lambda leaf, txt: "add_file" in txt or "process_file" in txt),
    ("after the scan: session join, rechecks",
     lambda leaf, txt: "join_sessions" in txt or "replay::recheck" in txt),
    ("merge, de-duplicate, count", lambda leaf, txt: "replay::run" in txt or "SortedSpill" in txt),
    ("start up, other", lambda leaf, txt: True),
]
counts = collections.Counter()
total = 0
for sample in open(sys.argv[1]).read().split("\n\n"):
    lines = [l.strip() for l in sample.strip().split("\n")]
    if len(lines) < 2:
        continue
    frames = [re.sub(r"^[0-9a-f]+ ", "", l) for l in lines[1:]]
    txt = lines[0] + " " + " ".join(frames)
    total += 1
    for name, test in stages:
        if test(frames[0], txt):
            counts[name] += 1
            break
print(f"{total} samples at 2 kHz ({total / 2:.0f} ms of CPU under the profiler)")
for name, _ in stages:
    n = counts[name]
    print(f"{name:48} {100 * n / max(total, 1):5.1f}%  {n / 2:6.0f} ms")
EOF
