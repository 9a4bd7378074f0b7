//! Flat memory and pruning: spilled replays equal in-memory ones, temporary files never outlive
//! a run (success, failure, Ctrl-C), and the S3 layout's paths prune what a window or filter
//! rules out without changing the rows.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{run, tempdir};

const POLICY: &str = "samples/policies/seed-2a-instance-tag.json";

/// A generated multi-day, multi-account, multi-region archive.
fn archive(dir: &Path, records: &str, days: &str) {
    let r = run([
        "generate",
        "-o",
        dir.to_str().expect("utf8"),
        "--records",
        records,
        "--ssm-percent",
        "40",
        "--days",
        days,
        "--accounts",
        "2",
        "--regions",
        "2",
        "--per-file",
        "500",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

fn replay(dir: &Path, extra: &[&str]) -> crate::common::Run {
    let inv = dir.join("inventory.csv");
    let logs = dir.join("AWSLogs");
    let mut args: Vec<&str> = vec![
        "replay",
        "--candidate",
        POLICY,
        "--inventory",
        inv.to_str().expect("utf8"),
    ];
    args.extend_from_slice(extra);
    args.push(logs.to_str().expect("utf8"));
    run(&args)
}

fn entries(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn spilled_replay_equals_in_memory_and_cleans_up() {
    let dir = tempdir();
    archive(dir.path(), "12000", "3");
    let tmp = tempdir();
    let t = tmp.path().to_str().expect("utf8");
    for format in ["csv", "jsonl"] {
        let whole = replay(dir.path(), &["--all", "--format", format]);
        assert_eq!(whole.code, 0, "{}", whole.stderr);
        let spilled = replay(
            dir.path(),
            &[
                "--all",
                "--format",
                format,
                "--memory",
                "1",
                "--temp-dir",
                t,
            ],
        );
        assert_eq!(spilled.code, 0, "{}", spilled.stderr);
        assert!(whole.stdout.lines().count() > 3000);
        assert!(
            whole.stdout == spilled.stdout,
            "{format}: spilled report differs"
        );
        assert_eq!(entries(tmp.path()), 0, "temporary files removed");
    }
    // Default output (changes only) and the summary too.
    let a = replay(dir.path(), &["--format", "summary"]);
    let b = replay(
        dir.path(),
        &["--format", "summary", "--memory", "1", "--temp-dir", t],
    );
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn temporary_directory_problems_are_named() {
    let dir = tempdir();
    archive(dir.path(), "3000", "1");
    let r = replay(
        dir.path(),
        &["--memory", "1", "--temp-dir", "/proc/no-such-dir"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("temporary files in /proc/no-such-dir"),
        "{}",
        r.stderr
    );
}

#[test]
fn an_interrupted_run_leaves_nothing_behind() {
    let dir = tempdir();
    archive(dir.path(), "60000", "2");
    let tmp = tempdir();
    let out = tempdir();
    let report = out.path().join("report.csv");
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailreplay"))
        .current_dir(crate::common::root())
        .args([
            "replay",
            "--candidate",
            POLICY,
            "--all",
            "--memory",
            "1",
            "--temp-dir",
            tmp.path().to_str().expect("utf8"),
            "-o",
            report.to_str().expect("utf8"),
            dir.path().join("AWSLogs").to_str().expect("utf8"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    // Wait until it writes temporary files, then interrupt it as Ctrl-C would.
    let start = Instant::now();
    while entries(tmp.path()) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no temporary files appeared"
        );
        if child.try_wait().expect("wait").is_some() {
            panic!("the run ended before it could be interrupted");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130));
    assert_eq!(entries(tmp.path()), 0, "temporary files removed");
    assert!(!report.exists(), "no report that looks whole");
    assert_eq!(entries(out.path()), 0, "no partial report left");
}

/// Asserts two row lists are equal, showing the first difference only.
fn assert_same_rows(got: &[Value], want: &[Value], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: row counts");
    if let Some(i) = (0..got.len()).find(|&i| got[i] != want[i]) {
        panic!("{what}: row {i} differs:\n{}\n{}", got[i], want[i]);
    }
}

#[test]
fn pruning_by_path_keeps_the_window_rows() {
    let dir = tempdir();
    archive(dir.path(), "40000", "10");
    let s = dir.path().join("s.json");
    let since = "2024-03-05T00:00:00Z";
    let until = "2024-03-06T00:00:00Z";
    let window = replay(
        dir.path(),
        &[
            "--since",
            since,
            "--until",
            until,
            "--all",
            "--format",
            "jsonl",
            "--summary",
            s.to_str().expect("utf8"),
        ],
    );
    assert_eq!(window.code, 0, "{}", window.stderr);
    let whole = replay(dir.path(), &["--all", "--format", "jsonl"]);
    let in_window: Vec<Value> = whole
        .json_lines()
        .into_iter()
        .filter(|r| {
            let t = r["event_time"].as_str().unwrap_or_default();
            t >= since && t < until
        })
        .collect();
    let got = window.json_lines();
    assert!(got.len() > 100, "{} rows", got.len());
    assert_same_rows(
        &got,
        &in_window,
        "the window's rows equal the whole archive's",
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&s).expect("read")).expect("json");
    let pruned = v["files"]["pruned"].as_u64().unwrap_or(0)
        + v["files"]["pruned_directories"].as_u64().unwrap_or(0);
    assert!(pruned > 0, "{v}");
    let read = v["files"]["read"].as_u64().unwrap_or(0);
    assert!(read < 80 / 10 * 4, "read {read} of 80 files");
    // Account and region: other folders are not read, other events not reported.
    let acct = "987654321098";
    let only = replay(
        dir.path(),
        &[
            "--account",
            acct,
            "--region",
            "us-east-2",
            "--all",
            "--format",
            "jsonl",
        ],
    );
    assert_eq!(only.code, 0, "{}", only.stderr);
    let only_rows = only.json_lines();
    assert!(!only_rows.is_empty());
    assert!(only_rows
        .iter()
        .all(|r| r["account"] == acct && r["region"] == "us-east-2"));
    let expected: Vec<Value> = whole
        .json_lines()
        .into_iter()
        .filter(|r| r["account"] == acct && r["region"] == "us-east-2")
        .collect();
    assert_same_rows(&only_rows, &expected, "account and region");
}
