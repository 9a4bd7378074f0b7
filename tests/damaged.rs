//! Hostile and broken input: no panic, every problem named with its file, every session record
//! accounted for, exit status 2 on a partial read, safe output.

use std::path::Path;

use serde_json::{json, Value};

use crate::common::{gzip, run_in, tempdir};

fn record(id: &str, name: &str, who: &str, target: &str) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": format!("arn:aws:iam::111122223333:user/{who}"), "accountId": "111122223333", "userName": who},
        "eventTime": "2024-05-01T10:00:00Z", "eventSource": "ssm.amazonaws.com", "eventName": name,
        "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.5", "userAgent": "aws-cli/2",
        "requestParameters": {"target": target}, "responseElements": {"sessionId": format!("{who}-{id}")},
        "eventID": id, "eventType": "AwsApiCall", "recipientAccountId": "111122223333"
    })
}

fn trail(records: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({ "Records": records })).expect("json")
}

fn replay(dir: &Path, extra: &[&str]) -> crate::common::Run {
    let policy = dir.join("admin.json");
    std::fs::write(
        &policy,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:*","Resource":"*"}}"#,
    )
    .expect("policy");
    let summary = dir.join("summary.json");
    let mut args = vec![
        "replay".to_string(),
        "--candidate".into(),
        policy.display().to_string(),
        "--all".into(),
        "--summary".into(),
        summary.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    run_in(dir, &args)
}

fn summary(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).expect("summary"))
        .expect("json")
}

#[test]
fn truncated_gzip_is_named_and_the_rest_is_kept() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::create_dir(d.join("logs")).expect("mkdir");
    let good: Vec<Value> = (0..5)
        .map(|i| record(&format!("good-{i}"), "StartSession", "alice", "i-1"))
        .collect();
    std::fs::write(d.join("logs/good.json.gz"), gzip(&trail(&good))).expect("write");
    let many: Vec<Value> = (0..400)
        .map(|i| record(&format!("bad-{i}"), "StartSession", "bob", "i-2"))
        .collect();
    let gz = gzip(&trail(&many));
    std::fs::write(d.join("logs/cut.json.gz"), &gz[..gz.len() / 2]).expect("write");
    let mut corrupt = gzip(&trail(&many));
    let mid = corrupt.len() / 2;
    for b in &mut corrupt[mid..mid + 16] {
        *b ^= 0x5a;
    }
    std::fs::write(d.join("logs/corrupt.json.gz"), corrupt).expect("write");
    let r = replay(d, &["logs"]);
    assert_eq!(r.code, 2, "a partial read is never success");
    assert!(r.stderr.contains("cut.json.gz"), "{}", r.stderr);
    assert!(r.stderr.contains("corrupt.json.gz"), "{}", r.stderr);
    for i in 0..5 {
        assert!(
            r.stdout.contains(&format!("good-{i}")),
            "good file's rows are written"
        );
    }
    let s = summary(d);
    assert_eq!(s["files"]["failed"], 2);
    assert_eq!(s["files"]["read"], 1);
}

#[test]
fn broken_json_records_and_files() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::create_dir(d.join("logs")).expect("mkdir");
    // A file cut inside a record, plain JSON.
    let mut cut = trail(&[
        record("c1", "StartSession", "a", "i-1"),
        record("c2", "StartSession", "a", "i-1"),
    ]);
    cut.truncate(cut.len() - 40);
    std::fs::write(d.join("logs/cut.json"), cut).expect("write");
    // Invalid UTF-8 inside a string: read with a replacement character, not lost.
    let mut bad_utf8 = trail(&[record("u1", "StartSession", "zoë", "i-1")]);
    let pos = bad_utf8
        .windows(3)
        .position(|w| w == b"zo\xc3")
        .expect("name")
        + 2;
    bad_utf8[pos] = 0xff;
    std::fs::write(d.join("logs/utf8.json"), bad_utf8).expect("write");
    // JSON that is not CloudTrail, an empty file, text that is not JSON.
    std::fs::write(d.join("logs/other.json"), br#"{"hello":"world"}"#).expect("write");
    std::fs::write(d.join("logs/empty.json"), b"").expect("write");
    std::fs::write(d.join("logs/notjson.json"), b"this is not json").expect("write");
    // Wrong types in a session record, and a record with a syntax error among good ones.
    let mut wrong = record("w1", "StartSession", "a", "i-1");
    wrong["userIdentity"] = json!("arn:aws:iam::1:user/a");
    let mut wrong_time = record("w2", "StartSession", "a", "i-1");
    wrong_time["eventTime"] = json!(1714557600);
    let mut wrong_params = record("w3", "StartSession", "a", "i-1");
    wrong_params["requestParameters"] = json!(["i-1"]);
    std::fs::write(
        d.join("logs/types.json"),
        trail(&[wrong, wrong_time, wrong_params]),
    )
    .expect("write");
    let good = serde_json::to_string(&record("s1", "StartSession", "a", "i-1")).expect("json");
    std::fs::write(
        d.join("logs/lines.jsonl"),
        format!("{good}\n{{\"eventSource\":\"ssm.amazonaws.com\",\"eventName\":\"StartSession\",\"eventID\":tru}}\n"),
    )
    .expect("write");
    let r = replay(d, &["logs"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    for f in ["cut.json", "notjson.json", "lines.jsonl"] {
        assert!(r.stderr.contains(f), "{f} named: {}", r.stderr);
    }
    assert!(
        r.stderr.contains("lines.jsonl: record 2: invalid JSON"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.contains("u1"), "invalid UTF-8 record kept");
    assert!(r.stdout.contains("zo\u{fffd}"), "{}", r.stdout);
    let csv: Vec<&str> = r.stdout.lines().collect();
    for (id, why) in [
        ("w1", "`userIdentity` is a string"),
        ("w2", "`eventTime` is a number"),
        ("w3", "`requestParameters` is an array"),
    ] {
        let row = csv
            .iter()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{id} has a row"));
        assert!(row.contains(",skipped,"), "{row}");
        assert!(row.contains(why), "{row}");
    }
    let s = summary(d);
    assert_eq!(
        s["files"]["without_records"], 2,
        "other.json and empty.json"
    );
    assert_eq!(s["records"]["malformed"], 1);
    assert_eq!(s["records"]["malformed_ssm"], 1);
}

#[test]
fn deep_nesting_long_strings_and_oversize_records() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::create_dir(d.join("logs")).expect("mkdir");
    let mut deep = record("d1", "StartSession", "a", "i-1");
    let mut nest = String::new();
    for _ in 0..100_000 {
        nest.push('[');
    }
    for _ in 0..100_000 {
        nest.push(']');
    }
    let text = serde_json::to_string(&deep).expect("json");
    let deep_text = text.replacen(
        "\"eventType\"",
        &format!("\"deep\":{nest},\"eventType\""),
        1,
    );
    deep["x"] = json!(1);
    std::fs::write(
        d.join("logs/deep.json"),
        format!("{{\"Records\":[{deep_text}]}}"),
    )
    .expect("write");
    let mut long = record("l1", "StartSession", "a", "i-1");
    long["userAgent"] = json!("x".repeat(500_000));
    let mut huge = record("h1", "StartSession", "a", "i-1");
    huge["userAgent"] = json!("y".repeat(3_000_000));
    std::fs::write(
        d.join("logs/long.json"),
        trail(&[long, huge, record("after", "StartSession", "a", "i-1")]),
    )
    .expect("write");
    let r = replay(d, &["logs"]);
    assert_eq!(
        r.code, 0,
        "records over the limit are reported, not a failed read: {}",
        r.stderr
    );
    assert!(
        r.stdout.contains("l1"),
        "a 500 KB record is within the limit"
    );
    assert!(
        r.stdout.contains("after"),
        "the scan goes on after an oversize record"
    );
    assert!(
        r.stderr
            .contains("long.json: 1 record(s) larger than 1048576 bytes skipped"),
        "{}",
        r.stderr
    );
    // 100,000 nested arrays in a field trailreplay does not read are skipped without
    // recursion: the record is kept.
    assert!(r.stdout.contains("d1"), "{}", r.stderr);
    let s = summary(d);
    assert_eq!(s["records"]["oversize"], 1);
}

#[test]
fn zip_bomb_is_bounded() {
    // 200 MB of one record's worth of spaces inside a string compresses to about 200 KB.
    let dir = tempdir();
    let d = dir.path();
    std::fs::create_dir(d.join("logs")).expect("mkdir");
    let mut body = Vec::with_capacity(200 << 20);
    body.extend_from_slice(br#"{"Records":[{"eventSource":"ssm.amazonaws.com","x":""#);
    body.resize(200 << 20, b' ');
    body.extend_from_slice(br#""}, "#);
    body.extend_from_slice(
        &serde_json::to_vec(&record("z1", "StartSession", "a", "i-1")).expect("json"),
    );
    body.extend_from_slice(b"]}");
    let gz = gzip(&body);
    assert!(gz.len() < 2 << 20);
    std::fs::write(d.join("logs/bomb.json.gz"), gz).expect("write");
    let r = replay(d, &["logs"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("z1"));
    assert!(r.stderr.contains("larger than"), "{}", r.stderr);
}

#[test]
fn spreadsheet_formulas_and_terminal_escapes_are_neutralised() {
    let dir = tempdir();
    let d = dir.path();
    let mut evil = record(
        "f1",
        "StartSession",
        "=HYPERLINK(\"http://evil\",\"x\")",
        "@SUM(1+1)",
    );
    evil["userIdentity"]["arn"] = json!("=cmd|' /C calc'!A0");
    evil["requestParameters"]["target"] = json!("i-\u{1b}[2J\u{1b}]0;pwned\u{7}");
    std::fs::write(d.join("evil.json"), trail(&[evil])).expect("write");
    let r = replay(d, &["evil.json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut rdr = csv::Reader::from_reader(r.stdout.as_bytes());
    for rec in rdr.records() {
        for cell in rec.expect("csv").iter() {
            assert!(
                !matches!(
                    cell.as_bytes().first(),
                    Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
                ),
                "formula cell {cell:?}"
            );
        }
    }
    let s = replay(d, &["--format", "summary", "evil.json"]);
    assert!(
        !s.stdout.contains('\u{1b}'),
        "no escape sequence reaches the terminal"
    );
    assert!(!s.stderr.contains('\u{1b}'));
    let j = replay(d, &["--format", "jsonl", "evil.json"]);
    let v: Value = serde_json::from_str(j.stdout.lines().next().expect("row")).expect("json");
    assert_eq!(
        v["principal_arn"], "=cmd|' /C calc'!A0",
        "JSON keeps the value, escaped by the serializer"
    );
}

#[test]
fn symlink_loops_and_missing_paths() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::create_dir_all(d.join("logs/sub")).expect("mkdir");
    std::fs::write(
        d.join("logs/sub/a.json"),
        trail(&[record("s1", "StartSession", "a", "i-1")]),
    )
    .expect("write");
    #[cfg(unix)]
    std::os::unix::fs::symlink(d.join("logs"), d.join("logs/sub/loop")).expect("symlink");
    let r = replay(d, &["logs", "missing"]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.contains("s1"));
    assert!(r.stderr.contains("missing"), "{}", r.stderr);
    #[cfg(unix)]
    assert!(r.stderr.contains("symbolic link loop"), "{}", r.stderr);
}

#[test]
fn bad_policies_stop_before_any_log_is_read() {
    let dir = tempdir();
    let d = dir.path();
    for (i, doc) in [
        "{not json",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:*","Resource":"*","Condition":{"StringEqualz":{"a:b":"c"}}}}"#,
        r#"{"Statement":{"Effect":"Maybe","Action":"ssm:*","Resource":"*"}}"#,
    ]
    .iter()
    .enumerate()
    {
        let p = d.join(format!("bad{i}.json"));
        std::fs::write(&p, doc).expect("write");
        let r = run_in(d, ["replay", "--candidate", p.to_str().expect("utf8"), "no-such-logs"]);
        assert_eq!(r.code, 2);
        assert!(r.stderr.contains(&format!("bad{i}.json")), "{}", r.stderr);
        assert!(!r.stderr.contains("no-such-logs"), "logs are not read: {}", r.stderr);
        assert!(r.stdout.is_empty());
    }
}

#[test]
fn regression_fuzz_events_key_without_colon() {
    // Found by the `decode_records` fuzz target: `{"Events"@[{…}]}` is invalid JSON that the
    // two splitters split differently. Decoding must not panic, and the malformed record is
    // counted, not silently dropped.
    let data =
        std::fs::read(crate::common::data("fuzz-crash-events-no-colon.json")).expect("crash input");
    let name: std::sync::Arc<str> = std::sync::Arc::from("crash");
    let total = |s: trailreplay::decode::FileStats| {
        s.prefiltered
            + s.session_events
            + s.other_ssm
            + s.other_service
            + s.not_records
            + s.malformed
            + s.oversize
    };
    let out = trailreplay::decode::decode_stream(&data[..], &name, Default::default());
    assert_eq!(out.stats.records, total(out.stats));
    // It holds no `ssm.amazonaws.com` (the fuzzer broke it), so the pre-filter rules it out;
    // parsing every record shows it is malformed.
    let opts = trailreplay::decode::DecodeOptions {
        verify: true,
        ..Default::default()
    };
    let verified = trailreplay::decode::decode_stream(&data[..], &name, opts);
    assert_eq!(verified.stats.records, total(verified.stats));
    assert_eq!(verified.stats.malformed, 1, "{:?}", verified.stats);
}

#[test]
fn regression_fuzz_policy_text_starting_with_a_multibyte_character() {
    // Found by the `policy_compile` fuzz target: sniffing the URL-encoded form sliced the text
    // at byte 3, inside a four-byte character, and panicked.
    let bytes = std::fs::read(crate::common::data(
        "fuzz-crash-policy-multibyte-prefix.txt",
    ))
    .expect("crash input");
    let text = String::from_utf8_lossy(&bytes);
    let c = trailreplay::policy::compile_text("crash.json", &text);
    assert!(c.policy.is_none());
    assert!(!c.errors.is_empty());
    let r = trailreplay::validate::check("crash.json", "\u{5158b}{}");
    assert!(!r.errors.is_empty());
}

#[test]
fn regression_fuzz_top_level_scalar() {
    // Found by the `decode_records` fuzz target (an invariant of the target, not a crash of
    // trailreplay): a file whose top-level value is a number is valid JSON but no log shape.
    // Both splitters refuse it, and the file is reported as not read.
    let data = std::fs::read(crate::common::data("fuzz-crash-top-level-number.json"))
        .expect("crash input");
    let name: std::sync::Arc<str> = std::sync::Arc::from("crash");
    let out = trailreplay::decode::decode_stream(&data[..], &name, Default::default());
    let fatal = out.fatal.expect("reported");
    assert!(fatal.contains("expected JSON objects or arrays"), "{fatal}");
    let reference = trailreplay::decode::scan_reference::scan(&data[..], 1 << 20, |_, _, _| {});
    assert!(reference.is_err());
}
