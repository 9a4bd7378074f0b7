//! The edge of `trailreplay replay`: arguments → [`ReplayConfig`], run, write the report, print
//! problems, choose the exit code.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};

use super::{error, warning, ExitCode};
use crate::cli::{FailOn, ReplayArgs, ReplayFormat, MAX_THREADS};
use crate::config::{self, ConfigError};
use crate::decode::DecodeOptions;
use crate::mapping::Inventory;
use crate::replay::{self, ReplayConfig};
use crate::report::{self, Row};
use crate::sanitize::for_terminal;
use crate::source;
use crate::timefmt;

fn build_config(a: &ReplayArgs) -> Result<ReplayConfig, ConfigError> {
    let candidate = config::load_policy_set("candidate", &a.candidate)?;
    let baseline = if a.baseline.is_empty() {
        None
    } else {
        Some(config::load_policy_set("baseline", &a.baseline)?)
    };
    let (scps, scp_warnings) = config::load_policies(&a.scps)?;
    if a.min_fidelity.is_some() && baseline.is_none() {
        return Err(ConfigError::Argument(
            "`--min-fidelity` measures a `--baseline` policy set against the log: give `--baseline`"
                .to_string(),
        ));
    }
    if let Some(p) = a.min_fidelity {
        if !(0.0..=100.0).contains(&p) {
            return Err(ConfigError::Argument(format!(
                "`--min-fidelity {p}`: a percentage from 0 to 100"
            )));
        }
    }
    let mut inventory = Inventory::default();
    for p in &a.inventory {
        let text = config::read_text(p)?;
        inventory
            .add(&p.display().to_string(), &text)
            .map_err(ConfigError::Argument)?;
    }
    let time = |flag: &str, v: &Option<String>| -> Result<_, ConfigError> {
        v.as_deref()
            .map(|s| {
                timefmt::parse_datetime(s).ok_or_else(|| {
                    ConfigError::Argument(format!(
                        "`{flag} {s}`: not an ISO 8601 time (e.g. 2024-08-01 or 2024-08-01T12:00:00Z)"
                    ))
                })
            })
            .transpose()
    };
    let since = time("--since", &a.since)?;
    let until = time("--until", &a.until)?;
    if let (Some(s), Some(u)) = (since, until) {
        if s >= u {
            return Err(ConfigError::Argument(format!(
                "`--since {}` is not before `--until {}`: the window holds no time",
                timefmt::iso(&s),
                timefmt::iso(&u)
            )));
        }
    }
    let warn_count = candidate.warnings.len()
        + baseline.as_ref().map_or(0, |b| b.warnings.len())
        + scp_warnings.len();
    if warn_count > 0 {
        warning(&format!(
            "{warn_count} policy warning(s); run `trailreplay validate` on the policy files to see them"
        ));
    }
    Ok(ReplayConfig {
        candidate,
        baseline,
        scps,
        inventory,
        since,
        until,
        decode: DecodeOptions {
            verify: a.verify,
            ..DecodeOptions::default()
        },
        keep_unchanged: a.all,
    })
}

fn write_report(a: &ReplayArgs, rows: &[&Row], summary_text: &str) -> std::io::Result<()> {
    let body = |w: &mut dyn Write| -> std::io::Result<()> {
        match a.format {
            ReplayFormat::Csv => report::write_csv(w, rows),
            ReplayFormat::Jsonl => report::write_jsonl(w, rows),
            ReplayFormat::Summary => w.write_all(summary_text.as_bytes()),
        }
    };
    match &a.output {
        Some(path) => {
            // Written under a temporary name and renamed when whole: an interrupted run never
            // leaves a report that looks complete.
            let mut tmp = path.clone().into_os_string();
            tmp.push(".partial");
            let tmp = std::path::PathBuf::from(tmp);
            let written = File::create(&tmp).and_then(|f| {
                let mut w = BufWriter::new(f);
                body(&mut w)?;
                w.flush()
            });
            match written.and_then(|_| std::fs::rename(&tmp, path)) {
                Ok(()) => Ok(()),
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    Err(e)
                }
            }
        }
        None => {
            // Streamed, not buffered whole; a closed pipe (`| head`) is a clean end.
            let mut w = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            match body(&mut w).and_then(|_| w.flush()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => other,
            }
        }
    }
}

/// Sets the worker pool's size: 1 to 4 × the cores, at most [`MAX_THREADS`] (clap checks the
/// range; thousands of threads abort the process or exhaust memory).
fn set_threads(n: u16) -> Result<(), String> {
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let bound = (4 * cores).min(MAX_THREADS);
    if usize::from(n) > bound {
        return Err(format!(
            "`--threads {n}`: at most {bound} (4 × the {cores} cores of this machine)"
        ));
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(usize::from(n))
        .build_global()
        .map_err(|e| format!("`--threads {n}`: cannot start the worker threads: {e}"))
}

pub fn run(a: ReplayArgs) -> ExitCode {
    if let Some(n) = a.threads {
        if let Err(e) = set_threads(n) {
            error(&e);
            return ExitCode::Trouble;
        }
    }
    let cfg = match build_config(&a) {
        Ok(c) => c,
        Err(e) => {
            error(&e.to_string());
            return ExitCode::Trouble;
        }
    };
    let listing = source::list(&a.paths);
    let total_files = listing.inputs.len() as u64;
    // A progress bar on stderr, drawn only when stderr is a terminal (indicatif hides it
    // otherwise); it counts files and decompressed bytes.
    let bar = if std::io::stderr().is_terminal() && total_files > 1 {
        indicatif::ProgressBar::new(total_files)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "trailreplay: {bar:30} {pos}/{len} files, {msg} decompressed, {elapsed}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let bytes = std::sync::atomic::AtomicU64::new(0);
    let progress = |n: u64| {
        let total = bytes.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n;
        bar.set_message(indicatif::HumanBytes(total).to_string());
        bar.inc(1);
    };
    let out = replay::run(&cfg, &listing, &progress);
    bar.finish_and_clear();
    for p in &out.problems {
        let msg = if p.file.is_empty() {
            p.message.clone()
        } else {
            format!("{}: {}", p.file, p.message)
        };
        if p.fatal {
            error(&msg);
        } else {
            warning(&msg);
        }
    }
    if out.summary.records.verify_misses > 0 {
        error(&format!(
            "--verify: the pre-filter missed {} session event(s); please report this",
            out.summary.records.verify_misses
        ));
    }
    let selected: Vec<&Row> = out
        .rows
        .iter()
        .filter(|r| a.all || r.change != "unchanged")
        .collect();
    let summary_text = out.summary.render();
    if let Err(e) = write_report(&a, &selected, &summary_text) {
        error(&format!(
            "{}: cannot write the report: {e}",
            a.output
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "stdout".to_string())
        ));
        return ExitCode::Trouble;
    }
    if let Some(path) = &a.summary {
        let written = serde_json::to_string_pretty(&out.summary)
            .map_err(std::io::Error::other)
            .and_then(|s| std::fs::write(path, s + "\n"));
        if let Err(e) = written {
            error(&format!(
                "{}: cannot write the summary: {e}",
                for_terminal(&path.display().to_string())
            ));
            return ExitCode::Trouble;
        }
    }
    if out.trouble() || out.summary.records.verify_misses > 0 {
        return ExitCode::Trouble;
    }
    let code = gate(&a, &out.summary);
    // The process exits next: freeing hundreds of thousands of strings one by one would cost
    // tens of milliseconds on a large archive for nothing.
    std::mem::forget(out);
    code
}

/// The CI gate: no false green. Input without a CloudTrail record, fewer events than
/// `--min-events`, a baseline below `--min-fidelity`, and a `--fail-on` change each fail, with
/// one line on stderr saying why.
fn gate(a: &ReplayArgs, s: &report::Summary) -> ExitCode {
    if s.records.cloudtrail_records() == 0 && !a.allow_empty {
        let skipped: u64 = s.files.skipped.values().sum();
        error(&format!(
            "no CloudTrail record in the input: {} file(s) read ({} without CloudTrail records), {} skipped, {} failed; nothing was checked (add `--allow-empty` if that is expected)",
            s.files.read, s.files.without_records, skipped, s.files.failed
        ));
        return ExitCode::Trouble;
    }
    if let Some(min) = a.min_events {
        if s.evaluated < min {
            error(&format!(
                "only {} session event(s) evaluated ({} skipped), fewer than `--min-events {min}`",
                s.evaluated, s.skipped
            ));
            return ExitCode::Trouble;
        }
    }
    let count = |k: &str| s.changes.get(k).copied().unwrap_or(0);
    let mut code = ExitCode::Success;
    if let (Some(min), Some(f)) = (a.min_fidelity, &s.fidelity) {
        let total = f.agree + f.disagree;
        let pct = if total == 0 {
            0.0
        } else {
            100.0 * f.agree as f64 / total as f64
        };
        if pct < min {
            let first: Vec<&str> = f.disagreeing.iter().take(3).map(String::as_str).collect();
            error(&format!(
                "baseline fidelity {pct:.1}% ({} of {total} recorded outcomes) is below `--min-fidelity {min}`; first mismatches: {}",
                f.agree,
                if first.is_empty() { "none (no recorded outcome to compare)".to_string() } else { first.join("; ") }
            ));
            code = ExitCode::Found;
        }
    }
    let hit = |k: &str| count(k) > 0;
    let failed = a.fail_on.iter().any(|f| match f {
        FailOn::NewlyDenied => hit("newly_denied"),
        FailOn::NewlyAllowed => hit("newly_allowed"),
        FailOn::Uncertain => hit("uncertain"),
        FailOn::Any => hit("newly_denied") || hit("newly_allowed") || hit("uncertain"),
    });
    if failed {
        error(&format!(
            "--fail-on: {} newly_denied, {} newly_allowed, {} uncertain",
            count("newly_denied"),
            count("newly_allowed"),
            count("uncertain")
        ));
        code = ExitCode::Found;
    }
    code
}
