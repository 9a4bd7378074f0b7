//! The distributed path: `contrib/spark/extract_sessions.py` in Spark local mode selects the
//! Session Manager records and writes a subset; trailreplay's replay of it equals the replay of
//! the original files, every column (the job records each record's file and position).

use std::path::Path;
use std::process::Command;

use crate::common::{generate, root, run, sample, tempdir};

const POLICY: &str = "samples/policies/seed-2a-instance-tag.json";

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

/// Runs the Spark job on `input` (an absolute path) into `out`.
fn spark_extract(input: &Path, out: &Path) {
    let job = root().join("contrib/spark/extract_sessions.py");
    let o = Command::new("python3")
        .arg(&job)
        .arg(input)
        .arg(out)
        .env("SPARK_LOCAL_IP", "127.0.0.1")
        .env("PYSPARK_PYTHON", "python3")
        .output()
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success(),
        "the Spark job failed (it needs Java 17+ and pyspark: `python3 -m pip install -r tests/requirements.txt`):\n{stderr}"
    );
    assert!(out.join("manifest.json").is_file());
}

fn replay_all(inventory: &Path, input: &Path) -> String {
    let r = run([
        "replay",
        "--candidate",
        POLICY,
        "--inventory",
        s(inventory),
        "--all",
        s(input),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.stdout
}

#[test]
fn spark_subset_replays_like_the_archive() {
    let dir = tempdir();
    // The samples (with a digest file, skipped), then a generated multi-day archive.
    let logs = sample("AWSLogs");
    let out = dir.path().join("spark-samples");
    spark_extract(&logs, &out);
    let inv = sample("inventory/describe-instances.json");
    let spark = replay_all(&inv, &out);
    assert_eq!(spark, replay_all(&inv, &logs));
    assert!(spark.lines().count() > 15, "{spark}");

    let archive = dir.path().join("archive");
    generate(
        &archive,
        "20000",
        "3",
        &["--ssm-percent", "20", "--per-file", "1000"],
    );
    let out = dir.path().join("spark-archive");
    spark_extract(&archive.join("AWSLogs"), &out);
    let inv = archive.join("inventory.csv");
    let spark = replay_all(&inv, &out);
    assert_eq!(spark, replay_all(&inv, &archive.join("AWSLogs")));
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("manifest.json")).expect("manifest"),
    )
    .expect("JSON");
    assert_eq!(manifest["files"]["found"], 20, "{manifest}");
    assert_eq!(manifest["records"]["records"], 20000, "{manifest}");
}
