//! `trailreplay extract` and replays of subsets: every report byte-identical to the replay of the
//! original files (the `file` column keeps naming them), a tampered subset refused, a replay
//! asking for more than the subset holds refused.

use std::path::Path;

use crate::common::{generate, run, sample, tempdir, Run};

const POLICY: &str = "samples/policies/seed-2a-instance-tag.json";

/// Report modes compared, with `--summary` JSON each time.
const MODES: [&[&str]; 4] = [
    &[],
    &["--all"],
    &["--format", "jsonl", "--all"],
    &["--format", "summary"],
];

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

fn extract(out: &Path, extra: &[&str], inputs: &[&Path]) -> Run {
    let mut args = vec!["extract", "-o", s(out)];
    args.extend_from_slice(extra);
    args.extend(inputs.iter().map(|p| s(p)));
    run(&args)
}

fn replay(inventory: &[&Path], extra: &[&str], summary: &Path, input: &Path) -> Run {
    let mut args = vec!["replay", "--candidate", POLICY, "--summary", s(summary)];
    for i in inventory {
        args.extend(["--inventory", s(i)]);
    }
    args.extend_from_slice(extra);
    args.push(s(input));
    run(&args)
}

/// Replays the archive and the subset in every mode and asserts identical stdout, stderr, exit
/// code and summary JSON.
fn assert_identical(inventory: &[&Path], window: &[&str], archive: &Path, subset: &Path) {
    let dir = tempdir();
    for mode in MODES {
        let extra: Vec<&str> = window.iter().chain(mode.iter()).copied().collect();
        let (sa, sb) = (dir.path().join("a.json"), dir.path().join("b.json"));
        let a = replay(inventory, &extra, &sa, archive);
        let b = replay(inventory, &extra, &sb, subset);
        assert_eq!(a.code, b.code, "{mode:?}: {}\n{}", a.stderr, b.stderr);
        assert!(!a.stdout.is_empty() || mode == ["--format", "jsonl", "--all"]);
        assert_eq!(a.stdout, b.stdout, "{mode:?}: report differs");
        assert_eq!(a.stderr, b.stderr, "{mode:?}: messages differ");
        let read = |p: &Path| std::fs::read_to_string(p).expect("summary written");
        assert_eq!(read(&sa), read(&sb), "{mode:?}: summary JSON differs");
    }
}

#[test]
fn samples_subset_replays_byte_identically() {
    let dir = tempdir();
    let sub = dir.path().join("subset");
    let logs = sample("AWSLogs");
    let x = extract(&sub, &[], &[&logs]);
    assert_eq!(x.code, 0, "{}", x.stderr);
    assert!(
        x.stdout
            .contains("extracted 16 Session Manager record(s) from 4 file(s)"),
        "{}",
        x.stdout
    );
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(sub.join("manifest.json")).expect("manifest"),
    )
    .expect("JSON");
    assert_eq!(manifest["events"]["StartSession"], 7, "{manifest}");
    assert_eq!(manifest["events"]["TerminateSession"], 4, "{manifest}");
    assert_eq!(manifest["files"]["skipped"]["CloudTrail digest file"], 1);
    let inv = [
        sample("inventory/describe-instances.json"),
        sample("inventory/managed-instances.csv"),
    ];
    let inv: Vec<&Path> = inv.iter().map(|p| p.as_path()).collect();
    assert_identical(&inv, &[], &logs, &sub);
    // The `file` column names the original file and record.
    let r = replay(&inv, &["--all"], &dir.path().join("s.json"), &sub);
    assert!(
        r.stdout
            .contains("samples/AWSLogs/987654321098/CloudTrail/us-east-2/2024/09/02/"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("part-00000"), "{}", r.stdout);
}

/// A multi-day archive split over several parts, with a window: identical reports; then the
/// refusals.
#[test]
fn windowed_subset_of_a_generated_archive_replays_byte_identically() {
    let dir = tempdir();
    let archive = dir.path().join("archive");
    generate(
        &archive,
        "30000",
        "4",
        &[
            "--ssm-percent",
            "30",
            "--accounts",
            "2",
            "--regions",
            "2",
            "--per-file",
            "500",
        ],
    );
    let logs = archive.join("AWSLogs");
    let inv = archive.join("inventory.csv");
    let window = ["--since", "2024-03-02", "--until", "2024-03-03T12:00:00Z"];
    let sub = dir.path().join("subset");
    let mut extra: Vec<&str> = window.to_vec();
    extra.extend(["--part-size", "1"]);
    let x = extract(&sub, &extra, &[&logs]);
    assert_eq!(x.code, 0, "{}", x.stderr);
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(sub.join("manifest.json")).expect("manifest"),
    )
    .expect("JSON");
    let parts = manifest["parts"].as_array().expect("parts").len();
    assert!(parts >= 2, "1 MiB parts: {parts}");
    assert!(
        manifest["files"]["pruned"].as_u64().expect("pruned") > 0,
        "the window prunes files"
    );
    assert_identical(&[&inv], &window, &logs, &sub);
    // The same window and fewer accounts is accepted, and equals the archive's replay.
    let narrower = [
        "--since",
        "2024-03-02",
        "--until",
        "2024-03-03",
        "--account",
        "987654321098",
    ];
    let a = replay(&[&inv], &narrower, &dir.path().join("a.json"), &logs);
    let b = replay(&[&inv], &narrower, &dir.path().join("b.json"), &sub);
    assert_eq!((a.code, &a.stdout), (b.code, &b.stdout), "{}", b.stderr);

    // More than the subset holds: refused, saying what it was extracted with.
    for wider in [
        &["--since", "2024-03-01", "--until", "2024-03-03T12:00:00Z"][..],
        &["--since", "2024-03-02"][..],
    ] {
        let r = replay(&[&inv], wider, &dir.path().join("c.json"), &sub);
        assert_eq!(r.code, 2, "{wider:?}: {}", r.stdout);
        assert!(
            r.stderr.contains("this subset was extracted with"),
            "{}",
            r.stderr
        );
        assert!(r.stdout.is_empty());
    }

    // Tampering: a changed part, an extra part, a missing part.
    let part = sub.join("part-00000.jsonl.gz");
    let original = std::fs::read(&part).expect("part");
    let mut changed = original.clone();
    let last = changed.len() - 1;
    changed[last] ^= 1;
    std::fs::write(&part, &changed).expect("write");
    let r = replay(&[&inv], &window, &dir.path().join("d.json"), &sub);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("part-00000.jsonl.gz` does not match its checksum"),
        "{}",
        r.stderr
    );
    std::fs::write(&part, &original).expect("restore");
    std::fs::write(sub.join("part-99999.jsonl.gz"), b"").expect("extra");
    let r = replay(&[&inv], &window, &dir.path().join("e.json"), &sub);
    assert!(
        r.stderr
            .contains("`part-99999.jsonl.gz` is not in the manifest"),
        "{}",
        r.stderr
    );
    std::fs::remove_file(sub.join("part-99999.jsonl.gz")).expect("rm");
    std::fs::remove_file(sub.join("part-00001.jsonl.gz")).expect("rm");
    let r = replay(&[&inv], &window, &dir.path().join("f.json"), &sub);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("`part-00001.jsonl.gz` is missing"),
        "{}",
        r.stderr
    );
}

/// A damaged archive: the subset carries the failed file and the record errors, so its replay
/// reports them as the archive's does (and exits 2 the same way).
#[test]
fn damaged_inputs_are_carried_by_the_manifest() {
    let dir = tempdir();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    let good = sample(
        "AWSLogs/987654321098/CloudTrail/us-east-2/2024/09/03/987654321098_CloudTrail_us-east-2_20240903T0800Z_Z1x2C3v4B5n6M7q8.json.gz",
    );
    let bytes = std::fs::read(&good).expect("sample");
    std::fs::write(logs.join("good.json.gz"), &bytes).expect("write");
    std::fs::write(logs.join("truncated.json.gz"), &bytes[..bytes.len() / 2]).expect("write");
    std::fs::write(logs.join("bad.json"), b"{\"Records\":[{\"eventSource\":\"ssm.amazonaws.com\",\"eventName\":\"StartSession\" oops}]}")
        .expect("write");
    let sub = dir.path().join("subset");
    let x = extract(&sub, &[], &[&logs]);
    assert_eq!(
        x.code, 2,
        "a failed file fails the extraction: {}",
        x.stderr
    );
    assert!(x.stderr.contains("truncated.json.gz"), "{}", x.stderr);
    assert!(
        sub.join("manifest.json").is_file(),
        "the subset is written all the same"
    );
    let inv = sample("inventory/describe-instances.json");
    assert_identical(&[&inv], &[], &logs, &sub);
    // Extracting again over it needs --force; --force never replaces a directory that is not a
    // subset.
    let again = extract(&sub, &[], &[&logs]);
    assert!(
        again.stderr.contains("exists and is not empty"),
        "{}",
        again.stderr
    );
    assert_eq!(extract(&sub, &["--force"], &[&logs]).code, 2);
    let not_subset = extract(&logs, &["--force"], &[&sample("AWSLogs")]);
    assert!(
        not_subset.stderr.contains("not a trailreplay subset"),
        "{}",
        not_subset.stderr
    );
}
