//! No false green: what a CI gate must refuse to pass, bounds on what users type, closed pipes,
//! and messages that name the thing (issue "No false green in CI").

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::{run, tempdir};

const CANDIDATE: &str = "samples/policies/seed-2a-instance-tag.json";

fn replay(extra: &[&str]) -> crate::common::Run {
    let mut args = vec!["replay", "--candidate", CANDIDATE];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn nothing_read_is_an_error_unless_allowed() {
    let dir = tempdir();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let notes = dir.path().join("notes");
    std::fs::create_dir(&notes).expect("mkdir");
    std::fs::write(notes.join("notes.txt"), "hello\n").expect("write");
    for d in [&empty, &notes] {
        let r = replay(&["--fail-on", "any", d.to_str().expect("utf8")]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(
            r.stderr.contains("no CloudTrail record in the input"),
            "{}",
            r.stderr
        );
        let ok = replay(&["--allow-empty", d.to_str().expect("utf8")]);
        assert_eq!(ok.code, 0, "{}", ok.stderr);
    }
    // A `lookup-events` export of other services' calls only: CloudTrail records (inside JSON
    // strings), not an empty input.
    let lookup = dir.path().join("lookup");
    std::fs::create_dir(&lookup).expect("mkdir");
    let inner = serde_json::json!({"eventVersion": "1.09", "eventSource": "ec2.amazonaws.com",
        "eventName": "DescribeInstances", "eventTime": "2024-09-02T10:00:00Z", "awsRegion": "us-east-2",
        "eventID": "x1", "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/a"}});
    let export =
        serde_json::json!({"Events": [{"EventId": "x1", "CloudTrailEvent": inner.to_string()}]});
    std::fs::write(lookup.join("events.json"), export.to_string()).expect("write");
    let r = replay(&[lookup.to_str().expect("utf8")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Policies passed as logs by mistake: JSON, but not one CloudTrail record.
    let r = replay(&["samples/policies"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("no CloudTrail record in the input"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("without CloudTrail records"),
        "{}",
        r.stderr
    );
}

#[test]
fn min_events_and_min_fidelity() {
    let r = replay(&["--min-events", "1000", "samples/AWSLogs"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("fewer than `--min-events 1000`"),
        "{}",
        r.stderr
    );
    assert_eq!(replay(&["--min-events", "5", "samples/AWSLogs"]).code, 0);
    // A baseline that cannot reproduce what AWS recorded.
    let r = replay(&[
        "--baseline",
        "samples/policies/seed-1-specific-instances.json",
        "--min-fidelity",
        "95",
        "samples/AWSLogs",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("baseline fidelity"), "{}", r.stderr);
    assert!(
        r.stderr.contains("first mismatches: e0000000"),
        "{}",
        r.stderr
    );
    let r = replay(&["--min-fidelity", "95", "samples/AWSLogs"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("give `--baseline`"), "{}", r.stderr);
}

#[test]
fn an_empty_window_is_refused() {
    let r = replay(&[
        "--since",
        "2024-09-03",
        "--until",
        "2024-09-02",
        "samples/AWSLogs",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("is not before `--until"), "{}", r.stderr);
}

#[test]
fn fail_on_says_why_on_stderr() {
    let r = replay(&[
        "--inventory",
        "samples/inventory/describe-instances.json",
        "--fail-on",
        "newly-denied",
        "samples/AWSLogs",
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("--fail-on: 7 newly_denied, 0 newly_allowed, 0 uncertain"),
        "{}",
        r.stderr
    );
}

#[test]
fn threads_are_bounded() {
    for n in ["0", "100000", "99999999999"] {
        let r = replay(&["--threads", n, "samples/AWSLogs"]);
        assert_eq!(r.code, 2, "--threads {n}: {}", r.stderr);
    }
    // Above 4 × the cores (this machine has far fewer than 256).
    let r = replay(&["--threads", "1024", "samples/AWSLogs"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("at most"), "{}", r.stderr);
    assert_eq!(replay(&["--threads", "1", "samples/AWSLogs"]).code, 0);
}

/// Runs the binary with stdout closed before it writes: (exit code, stderr).
fn with_closed_stdout(args: &[&str]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailreplay"))
        .current_dir(crate::common::root())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_closed_stdout_is_a_quiet_success() {
    for format in ["csv", "jsonl", "summary"] {
        let (code, err) = with_closed_stdout(&[
            "replay",
            "--candidate",
            CANDIDATE,
            "--all",
            "--format",
            format,
            "samples/AWSLogs",
        ]);
        assert_eq!(code, 0, "{format}: {err}");
        assert!(!err.contains("Broken pipe"), "{format}: {err}");
    }
    let dir = tempdir();
    let out = dir.path().join("g");
    let (code, err) = with_closed_stdout(&[
        "generate",
        "-o",
        out.to_str().expect("utf8"),
        "--records",
        "10",
    ]);
    assert_eq!(code, 0, "generate: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn generate_checks_its_options_and_folder() {
    let dir = tempdir();
    let out = dir.path().join("g");
    let o = out.to_str().expect("utf8");
    for (flag, value, says) in [
        ("--per-file", "0", "`--per-file 0`"),
        ("--ssm-percent", "150", "from 0 to 100"),
        ("--days", "0", "`--days 0`"),
        ("--regions", "9", "from 1 to 4"),
    ] {
        let r = run(["generate", "-o", o, flag, value]);
        assert_eq!(r.code, 2, "{flag} {value}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{}", r.stderr);
    }
    assert_eq!(run(["generate", "-o", o, "--records", "10"]).code, 0);
    let again = run(["generate", "-o", o, "--records", "10"]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("not empty"), "{}", again.stderr);
    assert_eq!(
        run(["generate", "--out", o, "--records", "10", "--force"]).code,
        0
    );
    let r = run(["generate", "-o", "/proc/nope", "--records", "10"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("/proc/nope"), "{}", r.stderr);
}

#[test]
fn simulate_warns_and_checks_typed_keys() {
    let sim = |action: &str, extra: &[&str]| {
        let mut a = vec![
            "simulate",
            "--policy",
            "samples/policies/seed-4-admin.json",
            "--action",
            action,
            "--resource",
            "arn:aws:ec2:us-east-2:987654321098:instance/i-1",
        ];
        a.extend_from_slice(extra);
        run(&a)
    };
    let r = sim("ssm:StartSesion", &[]);
    assert!(
        r.stderr.contains("did you mean `ssm:StartSession`?"),
        "{}",
        r.stderr
    );
    let r = sim("StartSession", &[]);
    assert!(r.stderr.contains("no service prefix"), "{}", r.stderr);
    let r = sim(
        "ssm:StartSession",
        &["--context", "aws:CurrentTime=notadate"],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("takes an ISO 8601 date"), "{}", r.stderr);
    let r = sim(
        "ssm:StartSession",
        &["--context", "aws:SourceIp=ssm.amazonaws.com"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    // simulate takes documents, not authorization-details exports: one clear error.
    let r = run([
        "simulate",
        "--policy",
        "samples/policies/authorization-details.json",
        "--action",
        "ssm:StartSession",
        "--resource",
        "*",
    ]);
    assert_eq!(r.code, 2);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("not a policy document"), "{}", r.stderr);
}

/// Runs the binary with `stdin` as its standard input.
fn with_stdin(args: &[&str], stdin: &str) -> crate::common::Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailreplay"))
        .current_dir(crate::common::root())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    crate::common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn policies_from_stdin() {
    let policy = std::fs::read_to_string(crate::common::root().join(CANDIDATE)).expect("read");
    let r = with_stdin(&["validate", "-"], &policy);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("ok: <stdin>"), "{}", r.stdout);
    let r = with_stdin(
        &[
            "replay",
            "--candidate",
            "-",
            "--format",
            "summary",
            "samples/AWSLogs",
        ],
        &policy,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = with_stdin(&["replay", "--candidate", "-", "-"], &policy);
    assert_eq!(r.code, 2, "stdin read twice: {}", r.stderr);
}

#[test]
fn messages_name_the_file_and_the_side() {
    let dir = tempdir();
    let inv = dir.path().join("inv.csv");
    std::fs::write(&inv, "arn,tag,val\nx,y,z\n").expect("write");
    let r = replay(&[
        "--inventory",
        inv.to_str().expect("utf8"),
        "samples/AWSLogs",
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("found `arn,tag,val`"), "{}", r.stderr);
    // A broken inline policy inside an authorization-details export.
    let text = std::fs::read_to_string(
        crate::common::root().join("samples/policies/authorization-details.json"),
    )
    .expect("read");
    let mut v: Value = serde_json::from_str(&text).expect("json");
    let roles = v["RoleDetailList"].as_array_mut().expect("roles");
    roles[0]["RolePolicyList"] = serde_json::json!([{"PolicyName": "Broken", "PolicyDocument": {"Version": "2012-10-17", "Statement": {"Effect": "Maybe", "Action": "ssm:*", "Resource": "*"}}}]);
    let snap = dir.path().join("snapshot.json");
    std::fs::write(&snap, v.to_string()).expect("write");
    let s = snap.to_str().expect("utf8");
    let r = run([
        "replay",
        "--candidate",
        CANDIDATE,
        "--baseline",
        s,
        "samples/AWSLogs",
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains(&format!("baseline {s}: ")) && r.stderr.contains("#Broken"),
        "{}",
        r.stderr
    );
}

#[test]
fn summary_units_and_shapes() {
    let dir = tempdir();
    let s = dir.path().join("s.json");
    let r = replay(&[
        "--format",
        "summary",
        "--summary",
        s.to_str().expect("utf8"),
        "samples/AWSLogs",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(" KiB)"),
        "binary units as the progress bar: {}",
        r.stdout
    );
    assert!(!r.stdout.contains("(0 MB)"), "{}", r.stdout);
    assert!(
        r.stdout.contains("told apart only with --verify"),
        "{}",
        r.stdout
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&s).expect("read")).expect("json");
    let t = &v["top_targets"][0];
    assert!(t["target"].is_string() && t["events"].is_u64(), "{v}");
    let p = &v["top_principals"][0];
    assert!(p["principal"].is_string(), "{v}");
}

#[test]
fn help_texts() {
    for cmd in ["replay", "extract", "simulate", "validate", "generate"] {
        let r = run([cmd, "--help"]);
        assert_eq!(r.code, 0);
        insta::assert_snapshot!(format!("help_{cmd}"), r.stdout);
    }
}
