//! `trailreplay replay` end to end on the bundled samples and the public CloudTrail samples,
//! with snapshots of what a user sees (CSV, JSON lines, summary).

use serde_json::Value;

use crate::common::{real_samples, run, tempdir};

const INV: [&str; 4] = [
    "--inventory",
    "samples/inventory/describe-instances.json",
    "--inventory",
    "samples/inventory/managed-instances.csv",
];

fn quick_start(extra: &[&str]) -> crate::common::Run {
    let mut args = vec![
        "replay",
        "--candidate",
        "samples/policies/seed-2a-instance-tag.json",
    ];
    args.extend_from_slice(&INV);
    args.extend_from_slice(extra);
    args.push("samples/AWSLogs");
    run(&args)
}

#[test]
fn quick_start_csv() {
    let r = quick_start(&[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!("quick_start_csv", r.stdout);
}

#[test]
fn quick_start_jsonl_all() {
    let r = quick_start(&["--format", "jsonl", "--all"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows: Vec<Value> = r.json_lines();
    // 16 session events in the archive, one delivered twice.
    assert_eq!(rows.len(), 15);
    insta::assert_snapshot!("quick_start_jsonl_all", r.stdout);
}

#[test]
fn quick_start_summary() {
    let r = quick_start(&["--format", "summary"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!("quick_start_summary", r.stdout);
}

#[test]
fn summary_json_accounts_for_every_event() {
    let dir = tempdir();
    let s = dir.path().join("summary.json");
    let r = quick_start(&["--all", "--summary", s.to_str().expect("utf8")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(&s).expect("summary")).expect("JSON");
    let n = |p: &str| v.pointer(p).and_then(Value::as_u64).unwrap_or(u64::MAX);
    assert_eq!(n("/ssm_session_events"), 16);
    assert_eq!(n("/duplicates"), 1);
    assert_eq!(
        n("/ssm_session_events"),
        n("/duplicates") + n("/outside_window") + n("/rows")
    );
    assert_eq!(n("/rows"), n("/evaluated") + n("/skipped"));
    assert_eq!(n("/files/skipped/CloudTrail digest file"), 1);
    assert_eq!(n("/changes/newly_denied"), 7);
    assert_eq!(
        n("/changes/uncertain"),
        0,
        "alice's session on the launched instance is decided by its launch tags"
    );
    assert_eq!(r.stdout.lines().count(), 1 + 15, "--all writes every event");
}

#[test]
fn fail_on_gates_ci() {
    assert_eq!(quick_start(&["--fail-on", "newly-denied"]).code, 1);
    assert_eq!(quick_start(&["--fail-on", "newly-allowed"]).code, 0);
    assert_eq!(quick_start(&["--fail-on", "any"]).code, 1);
}

/// The quick start with a baseline policy set: every row as JSON lines, and the JSON summary.
fn with_baseline(baseline: &str) -> (crate::common::Run, Value) {
    let dir = tempdir();
    let s = dir.path().join("summary.json");
    let r = quick_start(&[
        "--baseline",
        baseline,
        "--summary",
        s.to_str().expect("utf8"),
        "--format",
        "jsonl",
        "--all",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(&s).expect("summary")).expect("JSON");
    (r, v)
}

#[test]
fn baseline_policy_set_and_fidelity() {
    let (r, v) = with_baseline("samples/policies/authorization-details.json");
    assert_eq!(v["baseline"], "policy");
    assert_eq!(v["fidelity"]["agree"], 15);
    assert_eq!(v["fidelity"]["disagree"], 0);
    // Bob's inline deny (URL-encoded in the snapshot) decides his Payroll attempt.
    let bob_payroll = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON"))
        .find(|row| row["target"] == "i-0a1b2c3d4e5f60002")
        .expect("bob's denied start");
    assert_eq!(bob_payroll["baseline"], "explicitDeny");
    assert!(bob_payroll["baseline_reason"]
        .as_str()
        .is_some_and(|s| s.contains("user/bob#DenyPayroll statement 1")));
}

#[test]
fn principal_missing_from_snapshot_is_uncertain() {
    let dir = tempdir();
    let snap = dir.path().join("only-alice.json");
    std::fs::write(
        &snap,
        r#"{"UserDetailList":[{"UserName":"alice","Arn":"arn:aws:iam::987654321098:user/alice","UserPolicyList":[{"PolicyName":"all","PolicyDocument":{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:*","Resource":"*"}}}],"GroupList":[],"AttachedManagedPolicies":[]}],"RoleDetailList":[],"GroupDetailList":[],"Policies":[]}"#,
    )
    .expect("write");
    let r = run([
        "replay",
        "--candidate",
        snap.to_str().expect("utf8"),
        "--format",
        "jsonl",
        "--all",
        "samples/AWSLogs",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows: Vec<Value> = r.json_lines();
    let carol = rows
        .iter()
        .find(|row| {
            row["principal_arn"]
                .as_str()
                .is_some_and(|a| a.ends_with("/carol"))
        })
        .expect("carol");
    assert_eq!(carol["change"], "uncertain");
    assert!(carol["candidate_reason"]
        .as_str()
        .is_some_and(|s| s.contains("is not in the policy snapshot")));
    let alice = rows
        .iter()
        .find(|row| {
            row["principal_arn"]
                .as_str()
                .is_some_and(|a| a.ends_with("user/alice"))
        })
        .expect("alice");
    assert_eq!(alice["candidate"], "allowed");
}

#[test]
fn output_is_identical_across_thread_counts() {
    let one = quick_start(&["--all", "--threads", "1"]);
    let two = quick_start(&["--all", "--threads", "2"]);
    assert_eq!(one.code, 0);
    assert_eq!(one.stdout, two.stdout);
}

#[test]
fn time_window() {
    let r = quick_start(&[
        "--all",
        "--since",
        "2024-09-03",
        "--until",
        "2024-09-03T08:42:00Z",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // 08:00 start, 08:10 resume, 08:40 terminate, 08:41 describe.
    assert_eq!(r.stdout.lines().count(), 1 + 4, "{}", r.stdout);
    let bad = quick_start(&["--since", "last tuesday"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("--since last tuesday"),
        "{}",
        bad.stderr
    );
}

#[test]
fn reads_stdin() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let bytes = std::fs::read(
        "samples/AWSLogs/987654321098/CloudTrail/us-east-2/2024/09/02/987654321098_CloudTrail_us-east-2_20240902T0905Z_Q1w2E3r4T5y6U7i8.json.gz",
    )
    .expect("sample");
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailreplay"))
        .current_dir(crate::common::root())
        .args([
            "replay",
            "--candidate",
            "samples/policies/seed-4-admin.json",
            "--all",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&bytes)
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 1 + 2, "{text}");
    assert!(text.contains(",<stdin>#1,"), "{text}");
}

#[test]
fn missing_policy_or_path_is_trouble() {
    let r = run(["replay", "--candidate", "nope.json", "samples/AWSLogs"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("nope.json: cannot read"), "{}", r.stderr);
    let r = run([
        "replay",
        "--candidate",
        "samples/policies/seed-4-admin.json",
        "--all",
        "samples/AWSLogs",
        "no-such-dir",
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no-such-dir"), "{}", r.stderr);
    assert_eq!(
        r.stdout.lines().count(),
        1 + 15,
        "the rest is still written"
    );
}

#[test]
fn real_public_samples_read_without_error() {
    let real = real_samples();
    let dir = tempdir();
    let s = dir.path().join("summary.json");
    let r = run([
        "replay".as_ref(),
        "--candidate".as_ref(),
        "samples/policies/seed-1-specific-instances.json".as_ref(),
        "--all".as_ref(),
        "--verify".as_ref(),
        "--summary".as_ref(),
        s.as_os_str(),
        real.as_os_str(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(&s).expect("summary")).expect("JSON");
    // Totals from tests/data/real/README.md: 418 records, 138 from ssm.amazonaws.com,
    // of which 3 StartSession and 3 TerminateSession. `--verify` parses every record.
    assert_eq!(v["records"]["records"], 418);
    assert_eq!(v["records"]["verify_misses"], 0);
    assert_eq!(v["records"]["malformed"], 0);
    assert_eq!(v["ssm_session_events"], 6);
    assert_eq!(v["records"]["other_ssm"], 132);
    assert_eq!(v["files"]["failed"], 0);
    // The three StartSessions target instances not in the policy; the terminations are the
    // user's own sessions (`christophe-…`, `${aws:username}-*`).
    assert_eq!(v["changes"]["newly_denied"], 3);
    assert_eq!(v["changes"]["unchanged"], 3);
}

#[test]
fn verify_mode_agrees_with_the_prefilter() {
    let real = real_samples();
    let r = run([
        "replay".as_ref(),
        "--candidate".as_ref(),
        "samples/policies/seed-4-admin.json".as_ref(),
        "--verify".as_ref(),
        "--format".as_ref(),
        "summary".as_ref(),
        real.as_os_str(),
        "samples/AWSLogs".as_ref(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn same_policy_on_both_sides_changes_nothing_even_when_indeterminate() {
    // Without an inventory, the tag-based seed policy leaves instance tags unknown: each side is
    // `indeterminate`, but in every possible world both sides decide alike.
    let p = "samples/policies/seed-2a-instance-tag.json";
    let r = run([
        "replay",
        "--baseline",
        p,
        "--candidate",
        p,
        "--all",
        "--format",
        "jsonl",
        "samples/AWSLogs",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows: Vec<Value> = r.json_lines();
    assert!(
        rows.iter().any(|r| r["candidate"] == "indeterminate"),
        "the case needs indeterminate decisions"
    );
    for row in &rows {
        assert!(
            row["change"] == "unchanged" || row["change"] == "skipped",
            "{row}"
        );
    }
}

/// (event ID suffix, candidate decision, change) for every row of a replay of `denied-sessions.json`.
fn denied_rows(candidate: &str) -> Vec<(String, String, String)> {
    let r = run([
        "replay",
        "--candidate",
        candidate,
        "--all",
        "--format",
        "jsonl",
        "tests/data/denied/denied-sessions.json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("JSON line");
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            (s("event_id")[34..].to_string(), s("candidate"), s("change"))
        })
        .collect()
}

#[test]
fn denied_records_without_request_parameters_are_evaluated() {
    // CloudTrail logs a denied StartSession with `requestParameters: null`; the error message
    // names the refused resource (target or document) and trailreplay recovers it.
    let admin = denied_rows("samples/policies/seed-4-admin.json");
    let expect = |rows: &[(String, String, String)], id: &str, cand: &str, change: &str| {
        let row = rows.iter().find(|r| r.0 == id).expect(id);
        assert_eq!(
            (row.1.as_str(), row.2.as_str()),
            (cand, change),
            "event {id}"
        );
    };
    // An admin candidate allows every possible document and target: definite newly_allowed.
    for id in ["01", "02", "03", "04", "05", "06", "07", "09"] {
        expect(&admin, id, "allowed", "newly_allowed");
    }
    // The message names another principal than `userIdentity`: not guessed.
    expect(&admin, "08", "", "skipped");
    // Instances allowed, only the SSH document: the unnamed document decides.
    let ssh = denied_rows("tests/data/denied/instances-and-ssh-document.json");
    expect(&ssh, "01", "indeterminate", "uncertain");
    // The named document is refused: denied whatever the target.
    expect(&ssh, "02", "implicitDeny", "unchanged");
    // Everything but one instance: a named other instance is allowed whatever the document; a
    // named document may go with the denied instance; the denied instance is denied.
    let most = denied_rows("tests/data/denied/everything-but-one-instance.json");
    expect(&most, "01", "allowed", "newly_allowed");
    expect(&most, "02", "indeterminate", "uncertain");
    expect(&most, "09", "explicitDeny", "unchanged");
}

#[test]
fn exports_as_people_save_them() {
    // UTF-16LE with a BOM and CRLF (Windows PowerShell 5.1), UTF-16BE gzip, UTF-8 with a BOM,
    // UTF-16 without a BOM, NDJSON named `.log`, a role session without `sessionContext`.
    let dir = "tests/data/encodings";
    let r = run([
        "replay",
        "--candidate",
        "samples/policies/seed-4-admin.json",
        "--all",
        "--format",
        "jsonl",
        dir,
    ]);
    // The UTF-32 file is named with its encoding and fails (exit 2); everything else is read.
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("utf32.json") && r.stderr.contains("UTF-32LE text"),
        "{}",
        r.stderr
    );
    let rows: Vec<Value> = r.json_lines();
    let ids: Vec<&str> = rows
        .iter()
        .map(|r| r["event_id"].as_str().unwrap_or_default())
        .collect();
    for n in 1..=7 {
        let id = format!("f0000000-0000-4000-8000-00000000000{n}");
        assert!(ids.contains(&id.as_str()), "event {n} missing: {ids:?}");
    }
    for row in &rows {
        assert_eq!(row["candidate"], "allowed", "{row}");
    }
    let from = |id: &str| {
        rows.iter()
            .find(|r| r["event_id"].as_str().is_some_and(|e| e.ends_with(id)))
            .map(|r| r["file"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    };
    assert!(from("01").contains("lookup-events-utf16le-bom.json"));
    assert!(from("07").contains("lookup-events-utf16be-bom.json.gz"));
    assert!(from("04").contains("siem-export.log"));
    // `notes.txt` is skipped with a reason that is true.
    let s = run([
        "replay",
        "--candidate",
        "samples/policies/seed-4-admin.json",
        "--format",
        "summary",
        dir,
    ]);
    assert!(
        s.stdout.contains("does not start with `{` or `[`"),
        "{}",
        s.stdout
    );
}

#[test]
fn fidelity_compares_the_kind_of_policy_aws_named() {
    // AWS's message says Bob's start met an explicit deny in an identity-based policy; a
    // baseline that merely fails to allow it reproduces the outcome but not the reason.
    let (r, v) = with_baseline("samples/policies/seed-1-specific-instances.json");
    let disagreeing: Vec<&str> = v["fidelity"]["disagreeing"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        disagreeing.iter().any(|d| d.starts_with("e0000000-0000-4000-8000-000000000005")
            && d.contains("AWS: explicit deny in an identity-based policy; baseline: no identity-based policy allows")),
        "{disagreeing:?}"
    );
    // The recorded reason is the last CSV column and a JSONL field.
    let bob = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON"))
        .find(|row| row["event_id"] == "e0000000-0000-4000-8000-000000000005")
        .expect("bob's denied start");
    assert_eq!(
        bob["recorded_reason"],
        "explicit deny in an identity-based policy"
    );
}
