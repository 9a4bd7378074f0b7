"""Select the Session Manager records of a CloudTrail archive with Spark, and write them as a
trailreplay subset (the format `trailreplay extract` writes): `part-*.gz` files of JSON lines
`{"source": FILE, "index": N, "record": RECORD}` and a `manifest.json` with a SHA-256 per part.

    python3 contrib/spark/extract_sessions.py INPUT OUTPUT_DIR      # local mode, 2 cores
    spark-submit contrib/spark/extract_sessions.py s3a://trail/AWSLogs/ /data/subset

RECORD is the record's original JSON text (line breaks between tokens become spaces), FILE the
file it came from and N its 0-based position there, so `trailreplay replay OUTPUT_DIR` reports
the original file and record. Every record is parsed here (no pre-filter); the manifest's counts
describe the files read. The manifest is written by the driver, so OUTPUT_DIR must be a local
(or mounted) directory; INPUT may be anything Spark reads (`s3a://` with hadoop-aws).
"""

import gzip
import hashlib
import json
import os
import sys

SESSION_EVENTS = {
    "StartSession",
    "TerminateSession",
    "ResumeSession",
    "DescribeSessions",
    "GetConnectionStatus",
}
# Calls that change resource tags: trailreplay rebuilds each session's tags at its time from
# them (README, "Tags as they were"); failed calls change nothing and are left out.
TAGGING = {
    ("ec2.amazonaws.com", "CreateTags"),
    ("ec2.amazonaws.com", "DeleteTags"),
    ("ec2.amazonaws.com", "RunInstances"),
    ("ssm.amazonaws.com", "AddTagsToResource"),
    ("ssm.amazonaws.com", "RemoveTagsFromResource"),
}
WS = " \t\r\n"


def text_of(data):
    """Bytes of a log file as text: gzip by its magic bytes, UTF-8 (BOM dropped) or UTF-16."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if data[:3] == b"\xef\xbb\xbf":
        return data[3:].decode("utf-8", errors="replace")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16")
    return data.decode("utf-8", errors="replace")


def skip_ws(text, pos):
    while pos < len(text) and text[pos] in WS:
        pos += 1
    return pos


def raw_records(text):
    """(raw text, parsed value) of each record: the elements of a top-level `Records` array, or
    each top-level object of JSON lines."""
    decoder = json.JSONDecoder()  # made here: a module-level one cannot be sent to executors
    pos = skip_ws(text, 0)
    while pos < len(text):
        start = pos
        value, end = decoder.raw_decode(text, pos)
        if isinstance(value, dict) and isinstance(value.get("Records"), list):
            yield from records_array(decoder, text, start)
        else:
            yield text[start:end], value
        pos = skip_ws(text, end)


def records_array(decoder, text, pos):
    """Walks the object at `pos` key by key and yields the raw elements of `Records`."""
    pos = skip_ws(text, pos + 1)  # after `{`
    while pos < len(text) and text[pos] != "}":
        key, pos = decoder.raw_decode(text, pos)
        pos = skip_ws(text, pos)
        pos = skip_ws(text, pos + 1)  # after `:`
        if key == "Records" and text[pos] == "[":
            pos = skip_ws(text, pos + 1)
            while text[pos] != "]":
                value, end = decoder.raw_decode(text, pos)
                yield text[pos:end], value
                pos = skip_ws(text, end)
                if text[pos] == ",":
                    pos = skip_ws(text, pos + 1)
            pos += 1
        else:
            _, pos = decoder.raw_decode(text, pos)
        pos = skip_ws(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos = skip_ws(text, pos + 1)


def process(item):
    """One file → (its subset lines, its counts, its problem or None)."""
    path, data = item
    source = path[len("file:"):] if path.startswith("file:") else path
    stats = {"bytes": 0, "records": 0, "session_events": 0, "other_ssm": 0, "other_service": 0,
             "not_records": 0, "malformed": 0, "tag_events": 0}
    lines, events = [], {}
    try:
        text = text_of(data)
        stats["bytes"] = len(text.encode("utf-8"))
        for index, (raw, rec) in enumerate(raw_records(text)):
            stats["records"] += 1
            if not isinstance(rec, dict) or "eventSource" not in rec:
                stats["not_records"] += 1
                continue
            if (rec.get("eventSource"), rec.get("eventName")) in TAGGING:
                ssm = rec.get("eventSource") == "ssm.amazonaws.com"
                stats["other_ssm" if ssm else "other_service"] += 1
                if not rec.get("errorCode"):
                    stats["tag_events"] += 1
                    raw = raw.replace("\r", " ").replace("\n", " ")
                    lines.append('{"source":%s,"index":%d,"record":%s}'
                                 % (json.dumps(source), index, raw))
                continue
            if rec.get("eventSource") != "ssm.amazonaws.com":
                stats["other_service"] += 1
                continue
            name = rec.get("eventName")
            if name not in SESSION_EVENTS:
                stats["other_ssm"] += 1
                continue
            stats["session_events"] += 1
            events[name] = events.get(name, 0) + 1
            raw = raw.replace("\r", " ").replace("\n", " ")
            lines.append('{"source":%s,"index":%d,"record":%s}'
                         % (json.dumps(source), index, raw))
        return lines, stats, events, source, None
    except Exception as e:  # a damaged file is a failed file, named; the rest goes on
        return lines, stats, events, source, "%s: %s" % (type(e).__name__, e)


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: extract_sessions.py INPUT OUTPUT_DIR")
    source, out = argv[1], argv[2]
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.appName("trailreplay-extract")
             .config("spark.ui.enabled", "false")
             .config("spark.hadoop.mapreduce.input.fileinputformat.input.dir.recursive", "true")
             .getOrCreate())
    sc = spark.sparkContext
    # binaryFiles packs many small files into few partitions: spread them over every core.
    files = (sc.binaryFiles(source)
             .repartition(4 * sc.defaultParallelism)
             .filter(lambda f: "CloudTrail-Digest" not in f[0] and "CloudTrail-Insight" not in f[0])
             .map(process)
             .cache())
    (files.flatMap(lambda r: r[0])
     .saveAsTextFile(out, compressionCodecClass="org.apache.hadoop.io.compress.GzipCodec"))
    results = files.map(lambda r: (r[1], r[2], r[3], r[4])).collect()
    spark.stop()

    records = {k: 0 for k in ("bytes", "records", "prefiltered", "parsed", "session_events",
                              "other_ssm", "other_service", "not_records", "malformed",
                              "malformed_ssm", "oversize", "non_object_elements", "verify_misses",
                              "tag_events")}
    events, inputs_with_events, problems = {}, [], []
    failed = without_records = 0
    for stats, per_file, name, problem in sorted(results, key=lambda r: r[2]):
        for k, v in stats.items():
            records[k] += v
        records["parsed"] += stats["records"]
        for k, v in per_file.items():
            events[k] = events.get(k, 0) + v
        if per_file:
            inputs_with_events.append({"file": name, "events": sum(per_file.values())})
        if problem:
            failed += 1
            problems.append({"file": name, "message": problem, "fatal": True})
        elif stats["records"] == stats["not_records"]:
            without_records += 1
    parts = []
    for name in sorted(os.listdir(out)):
        if not name.startswith("part-"):
            continue
        with open(os.path.join(out, name), "rb") as f:
            data = f.read()
        parts.append({"name": name, "records": len(gzip.decompress(data).splitlines()),
                      "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    manifest = {
        "format": "trailreplay-subset", "version": 1, "trailreplay": "contrib/spark",
        "inputs": [source],
        "scope": {"since": None, "until": None, "delivery_margin_hours": 6, "accounts": [],
                  "regions": [], "verify": False},
        "files": {"found": len(results), "read": len(results) - failed, "failed": failed,
                  "skipped": {}, "listing_errors": 0, "without_records": without_records,
                  "pruned": 0, "pruned_directories": 0},
        "records": records, "problems": problems, "events": events,
        "inputs_with_events": inputs_with_events, "parts": parts,
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print("selected %d Session Manager record(s) from %d file(s) into %s: %d part(s)"
          % (records["session_events"], len(results), out, len(parts)))


if __name__ == "__main__":
    main(sys.argv)
