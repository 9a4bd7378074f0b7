//! Rows of Athena's CloudTrail table (`UNLOAD … WITH (format = 'JSON')`) replay like the records
//! they came from; fields the table lacks are unknown, not absent.

use serde_json::Value;

use crate::common::{data, run, sample, tempdir};

const POLICY: &str = "samples/policies/seed-2a-instance-tag.json";

fn rows_without_file(input: &str, policy: &str) -> Vec<Value> {
    let inv = sample("inventory/describe-instances.json");
    let r = run([
        "replay",
        "--candidate",
        policy,
        "--inventory",
        inv.to_str().expect("utf8"),
        "--all",
        "--format",
        "jsonl",
        input,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.json_lines()
        .into_iter()
        .map(|mut v| {
            v.as_object_mut().expect("row").remove("file");
            v
        })
        .collect()
}

#[test]
fn athena_rows_replay_like_the_records() {
    let rows = data("athena/unload-samples.json");
    let from_table = rows_without_file(rows.to_str().expect("utf8"), POLICY);
    let from_logs = rows_without_file(sample("AWSLogs").to_str().expect("utf8"), POLICY);
    assert_eq!(from_table.len(), 15);
    assert_eq!(from_table, from_logs);
}

#[test]
fn a_key_the_table_has_no_column_for_is_unknown() {
    // Allowed only without a source identity: definite for records (the key is absent), but a
    // row cannot say whether the record had one.
    let dir = tempdir();
    let policy = dir.path().join("no-source-identity.json");
    std::fs::write(
        &policy,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:*","Resource":"*","Condition":{"Null":{"aws:SourceIdentity":"true"}}}}"#,
    )
    .expect("write");
    let p = policy.to_str().expect("utf8");
    let rows = data("athena/unload-samples.json");
    let candidate = |v: &Value| v["candidate"].as_str().unwrap_or_default().to_string();
    let from_logs = rows_without_file(sample("AWSLogs").to_str().expect("utf8"), p);
    assert!(
        from_logs.iter().all(|v| candidate(v) == "allowed"),
        "{from_logs:?}"
    );
    let from_table = rows_without_file(rows.to_str().expect("utf8"), p);
    assert!(
        from_table.iter().all(|v| candidate(v) == "indeterminate"),
        "{from_table:?}"
    );
    assert!(from_table[0]["candidate_reason"]
        .as_str()
        .unwrap_or_default()
        .contains("aws:SourceIdentity"));
}
