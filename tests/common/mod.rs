//! Helpers: run the real binary, find the repository's files, make temporary directories.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn sample(rel: &str) -> PathBuf {
    root().join("samples").join(rel)
}

pub fn data(rel: &str) -> PathBuf {
    root().join("tests").join("data").join(rel)
}

/// The public CloudTrail samples carried in the repository (`tests/data/real/`, each folder with
/// its SOURCE.md and licence). A missing fixture fails loudly.
pub fn real_samples() -> PathBuf {
    let p = root().join("tests/data/real");
    assert!(
        p.join("README.md").is_file(),
        "tests/data/real is missing: the repository carries the public CloudTrail samples its tests use"
    );
    p
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Stdout as JSON lines (`--format jsonl`), one value per row.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect()
    }
}

pub fn run<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    run_in(&root(), args)
}

pub fn run_in<I, S>(dir: &Path, args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    run_with(dir, &[], args)
}

/// Runs the binary with environment variables set, an empty value removing the variable (the
/// rest of the environment is kept).
pub fn run_env<I, S>(env: &[(&str, &str)], args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    run_with(&root(), env, args)
}

fn run_with<I, S>(dir: &Path, env: &[(&str, &str)], args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trailreplay"));
    for (k, v) in env {
        if v.is_empty() {
            cmd.env_remove(k);
        } else {
            cmd.env(k, v);
        }
    }
    let out: Output = cmd
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the trailreplay binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Writes a generated archive (`trailreplay generate`) to `dir`: `records` records over `days`
/// days, 500 per file unless `extra` says otherwise.
pub fn generate(dir: &Path, records: &str, days: &str, extra: &[&str]) {
    let mut args = vec![
        "generate",
        "-o",
        dir.to_str().expect("utf8 path"),
        "--records",
        records,
        "--days",
        days,
    ];
    if !extra.contains(&"--per-file") {
        args.extend(["--per-file", "500"]);
    }
    args.extend_from_slice(extra);
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Writes gzip-compressed bytes.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).expect("gzip");
    e.finish().expect("gzip")
}
