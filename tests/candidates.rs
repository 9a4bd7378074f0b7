//! Several candidates in one pass: each report equal to a separate run of that candidate, a
//! combined summary side by side, `--fail-on` naming the candidate.

use std::path::Path;

use crate::common::{generate, run, sample, tempdir};

const POLICIES: [&str; 5] = [
    "seed-2a-instance-tag.json",
    "seed-2b-two-tags.json",
    "seed-1-specific-instances.json",
    "seed-4-admin.json",
    "seed-3e-both-tags.json",
];

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

/// Five named candidates over `logs` in one run equal five separate runs, in CSV and JSON lines.
fn assert_five_equal_five_runs(inventory: &Path, logs: &Path, extra: &[&str]) {
    let dir = tempdir();
    let names = ["a", "b", "c", "d", "e"];
    let specs: Vec<String> = names
        .iter()
        .zip(POLICIES)
        .map(|(n, p)| format!("{n}={}", s(&sample("policies").join(p))))
        .collect();
    for (format, ext) in [("csv", "csv"), ("jsonl", "jsonl")] {
        let out = dir.path().join(format);
        let mut args = vec![
            "replay",
            "--inventory",
            s(inventory),
            "--format",
            format,
            "-o",
            s(&out),
        ];
        for spec in &specs {
            args.extend(["--candidate", spec.as_str()]);
        }
        args.extend_from_slice(extra);
        args.push(s(logs));
        let together = run(&args);
        assert_eq!(together.code, 0, "{}", together.stderr);
        assert!(
            together.stdout.contains("5 candidates"),
            "{}",
            together.stdout
        );
        for (name, policy) in names.iter().zip(POLICIES) {
            let p = sample("policies").join(policy);
            let mut one = vec![
                "replay",
                "--inventory",
                s(inventory),
                "--format",
                format,
                "--candidate",
                s(&p),
            ];
            one.extend_from_slice(extra);
            one.push(s(logs));
            let alone = run(&one);
            assert_eq!(alone.code, 0, "{}", alone.stderr);
            let report =
                std::fs::read_to_string(out.join(format!("{name}.{ext}"))).expect("report");
            assert_eq!(
                report, alone.stdout,
                "candidate {name} ({policy}, {format})"
            );
        }
        let summary: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(out.join("summary.json")).expect("summary"),
        )
        .expect("JSON");
        let candidates = summary["candidates"].as_array().expect("candidates");
        assert_eq!(candidates.len(), 5);
        assert_eq!(candidates[3]["name"], "d");
        assert!(summary["disagreements"]["events"].as_u64().expect("count") > 0);
    }
}

#[test]
fn five_candidates_in_one_pass_equal_five_runs_on_the_samples() {
    assert_five_equal_five_runs(
        &sample("inventory/describe-instances.json"),
        &sample("AWSLogs"),
        &["--all"],
    );
}

#[test]
fn five_candidates_in_one_pass_equal_five_runs_on_a_generated_archive() {
    let dir = tempdir();
    let archive = dir.path().join("archive");
    generate(
        &archive,
        "20000",
        "3",
        &["--ssm-percent", "30", "--per-file", "500"],
    );
    // A small memory budget: rows of every candidate go through temporary files.
    assert_five_equal_five_runs(
        &archive.join("inventory.csv"),
        &archive.join("AWSLogs"),
        &["--memory", "1"],
    );
}

#[test]
fn naming_output_and_fail_on_with_several_candidates() {
    let p = |f: &str| sample("policies").join(f);
    let logs = sample("AWSLogs");
    let inv = sample("inventory/describe-instances.json");
    let a = format!("tight={}", s(&p("seed-2a-instance-tag.json")));
    let b = format!("admin={}", s(&p("seed-4-admin.json")));
    // Several reports need a directory.
    let r = run([
        "replay",
        "--candidate",
        &a,
        "--candidate",
        &b,
        "--inventory",
        s(&inv),
        s(&logs),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("give `-o DIR`"), "{}", r.stderr);
    let dup = format!("tight={}", s(&p("seed-2b-two-tags.json")));
    let r = run([
        "replay",
        "--candidate",
        &a,
        "--candidate",
        "x=",
        "--format",
        "summary",
        s(&logs),
    ]);
    assert_eq!(
        r.code, 2,
        "an empty path after `=` is a path, not a name: {}",
        r.stderr
    );
    let bare_and_named = run([
        "replay",
        "--candidate",
        s(&p("seed-2a-instance-tag.json")),
        "--candidate",
        &format!("seed-2a-instance-tag={}", s(&p("seed-4-admin.json"))),
        "--format",
        "summary",
        s(&logs),
    ]);
    assert_eq!(bare_and_named.code, 2);
    assert!(
        bare_and_named
            .stderr
            .contains("two candidates are named `seed-2a-instance-tag`"),
        "{}",
        bare_and_named.stderr
    );
    // Repeating a name adds files to that candidate's set.
    let r = run([
        "replay",
        "--candidate",
        &a,
        "--candidate",
        &dup,
        "--candidate",
        &b,
        "--inventory",
        s(&inv),
        "--format",
        "summary",
        s(&logs),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("2 candidates"), "{}", r.stdout);
    // `--format summary -o FILE`: the side-by-side table goes to the file.
    let table = tempdir();
    let table_file = table.path().join("table.txt");
    let r = run([
        "replay",
        "--candidate",
        &a,
        "--candidate",
        &b,
        "--inventory",
        s(&inv),
        "--format",
        "summary",
        "-o",
        s(&table_file),
        s(&logs),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    let text = std::fs::read_to_string(&table_file).expect("table written");
    assert!(
        text.contains("2 candidates") && text.contains("tight") && text.contains("admin"),
        "{text}"
    );
    // --fail-on applies to every candidate and names the ones that changed.
    let r = run([
        "replay",
        "--candidate",
        &a,
        "--candidate",
        &b,
        "--inventory",
        s(&inv),
        "--format",
        "summary",
        "--fail-on",
        "newly-allowed",
        s(&logs),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("--fail-on: candidate `admin`: 0 newly_denied, 2 newly_allowed"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("candidate `tight`"), "{}", r.stderr);
}
