//! The same events in every layout users have: the report must not change. Key order,
//! pretty-printing, one record per line, bare arrays, EventBridge envelopes, `lookup-events`
//! output, concatenated gzip members and `\u` escapes.

use std::io::Read;
use std::path::Path;

use serde_json::{json, Value};

use crate::common::{gzip, run, sample, tempdir};

fn sample_records() -> Vec<Value> {
    let mut out = Vec::new();
    let mut files: Vec<_> = walk(&sample("AWSLogs"));
    files.sort();
    for f in files {
        if f.to_string_lossy().contains("Digest") {
            continue;
        }
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(&f).expect("open"))
            .read_to_string(&mut text)
            .expect("gunzip");
        let v: Value = serde_json::from_str(&text).expect("json");
        out.extend(v["Records"].as_array().expect("records").iter().cloned());
    }
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Rows without the `file` column, which names the layout's file.
fn rows(path: &Path) -> Vec<Value> {
    let r = run([
        "replay".as_ref(),
        "--candidate".as_ref(),
        "samples/policies/seed-2a-instance-tag.json".as_ref(),
        "--inventory".as_ref(),
        "samples/inventory/describe-instances.json".as_ref(),
        "--format".as_ref(),
        "jsonl".as_ref(),
        "--all".as_ref(),
        path.as_os_str(),
    ]);
    assert_eq!(r.code, 0, "{}: {}", path.display(), r.stderr);
    r.stdout
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).expect("row");
            v.as_object_mut().expect("object").remove("file");
            v
        })
        .collect()
}

#[test]
fn every_layout_gives_the_same_report() {
    let records = sample_records();
    assert_eq!(records.len(), 22);
    let baseline = rows(&sample("AWSLogs"));
    assert_eq!(baseline.len(), 15);
    let dir = tempdir();
    let d = dir.path();
    let compact = |v: &Value| serde_json::to_string(v).expect("json");
    let variants: Vec<(&str, Vec<u8>)> = vec![
        // serde_json sorts keys: `eventVersion` is no longer first.
        ("pretty-sorted.json", serde_json::to_string_pretty(&json!({ "Records": records })).expect("json").into_bytes()),
        ("lines.jsonl", records.iter().map(compact).collect::<Vec<_>>().join("\n").into_bytes()),
        ("array.json", serde_json::to_string_pretty(&Value::Array(records.clone())).expect("json").into_bytes()),
        (
            "eventbridge.jsonl",
            records
                .iter()
                .map(|r| compact(&json!({"version":"0","id":"x","detail-type":"AWS API Call via CloudTrail","source":"aws.ssm","detail": r})))
                .collect::<Vec<_>>()
                .join("\n")
                .into_bytes(),
        ),
        (
            "lookup-events.json",
            serde_json::to_string_pretty(&json!({"Events": records.iter().map(|r| json!({
                "EventId": r["eventID"], "EventName": r["eventName"], "CloudTrailEvent": compact(r)
            })).collect::<Vec<_>>()}))
            .expect("json")
            .into_bytes(),
        ),
        (
            "escaped.json",
            compact(&json!({ "Records": records }))
                .replace("\"ssm.amazonaws.com\"", "\"ssm\\u002eamazonaws.com\"")
                .replace("\"StartSession\"", "\"Start\\u0053ession\"")
                .into_bytes(),
        ),
    ];
    for (name, bytes) in variants {
        let p = d.join(name);
        std::fs::write(&p, &bytes).expect("write");
        assert_eq!(rows(&p), baseline, "plain {name}");
        let gz = d.join(format!("{name}.gz"));
        std::fs::write(&gz, gzip(&bytes)).expect("write");
        assert_eq!(rows(&gz), baseline, "gzip {name}");
    }
    // Two gzip members in one file (concatenated uploads): both are read.
    let half = records.len() / 2;
    let mut two = gzip(compact(&json!({ "Records": records[..half] })).as_bytes());
    two.extend(gzip(
        compact(&json!({ "Records": records[half..] })).as_bytes(),
    ));
    let p = d.join("two-members.json.gz");
    std::fs::write(&p, two).expect("write");
    assert_eq!(rows(&p), baseline, "concatenated gzip members");
}
