//! The edge of `trailreplay replay`: arguments → [`ReplayConfig`], run, write the report, print
//! problems, choose the exit code.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use super::{error, warning, ExitCode};
use crate::cli::{FailOn, ReplayArgs, ReplayFormat};
use crate::compare::Change;
use crate::config::{self, ConfigError};
use crate::decode::DecodeOptions;
use crate::mapping::Inventory;
use crate::replay::{self, ReplayConfig};
use crate::report::{self, Row, RowWriter};
use crate::sanitize::for_terminal;
use crate::source;
use crate::subset;
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
            .map_err(|e| ConfigError::Argument(e.to_string()))?;
    }
    let (since, until) = super::window(&a.scope)?;
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
        temp_dir: a.temp_dir.clone().unwrap_or_else(std::env::temp_dir),
        memory_budget: (a.memory as usize) << 20,
        accounts: a.scope.accounts.clone(),
        regions: a.scope.regions.clone(),
    })
}

/// A subset holds what its extraction's window and filters selected: a replay over it may ask
/// for that or less, never more.
fn check_subset_scope(
    dir: &Path,
    m: &subset::Manifest,
    a: &ReplayArgs,
    cfg: &ReplayConfig,
) -> Result<(), String> {
    let s = &m.scope;
    let refuse = |what: String| {
        Err(format!(
            "{}: this subset was extracted with {what}; replay it with the same or a narrower scope, or extract again",
            dir.display()
        ))
    };
    let time = |t: &Option<String>| t.as_deref().and_then(timefmt::parse_datetime);
    let (since, until) = (time(&s.since), time(&s.until));
    if let Some(from) = since {
        if cfg.since.is_none_or(|mine| mine < from) {
            return refuse(format!("`--since {}`", timefmt::iso(&from)));
        }
    }
    if let Some(to) = until {
        if cfg.until.is_none_or(|mine| mine > to) {
            return refuse(format!("`--until {}`", timefmt::iso(&to)));
        }
        if a.scope.delivery_margin > s.delivery_margin_hours {
            return refuse(format!("`--delivery-margin {}`", s.delivery_margin_hours));
        }
    }
    let narrower = |theirs: &[String], mine: &[String]| {
        theirs.is_empty() || (!mine.is_empty() && mine.iter().all(|x| theirs.contains(x)))
    };
    if !narrower(&s.accounts, &a.scope.accounts) {
        return refuse(format!("`--account {}`", s.accounts.join(" --account ")));
    }
    if !narrower(&s.regions, &a.scope.regions) {
        return refuse(format!("`--region {}`", s.regions.join(" --region ")));
    }
    if a.verify && !s.verify {
        return refuse("no `--verify` (its records were pre-filtered)".to_string());
    }
    Ok(())
}

/// Where the report goes: stdout, or a file written under a temporary name and renamed when
/// whole, so that an interrupted run never leaves a report that looks complete.
enum Destination {
    Stdout(BufWriter<std::io::Stdout>),
    File {
        partial: PathBuf,
        path: PathBuf,
        w: BufWriter<File>,
    },
}

impl Write for Destination {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Destination::Stdout(w) => w.write(buf),
            Destination::File { w, .. } => w.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Destination::Stdout(w) => w.flush(),
            Destination::File { w, .. } => w.flush(),
        }
    }
}

fn partial_name(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".partial");
    PathBuf::from(p)
}

fn open_report(a: &ReplayArgs) -> std::io::Result<RowWriter<Destination>> {
    let dest = match &a.output {
        Some(path) => {
            let partial = partial_name(path);
            let f = File::create(&partial)?;
            Destination::File {
                partial,
                path: path.clone(),
                w: BufWriter::with_capacity(1 << 16, f),
            }
        }
        None => Destination::Stdout(BufWriter::with_capacity(1 << 16, std::io::stdout())),
    };
    match a.format {
        ReplayFormat::Csv => RowWriter::csv(dest),
        ReplayFormat::Jsonl => Ok(RowWriter::Jsonl(dest)),
        ReplayFormat::Summary => Ok(RowWriter::Nothing(dest)),
    }
}

/// Flushes the report (and the summary table for `--format summary`) and puts a file in
/// place. A closed stdout is a clean end.
fn close_report(w: RowWriter<Destination>, summary_text: Option<&str>) -> std::io::Result<()> {
    let mut dest = w.into_inner()?;
    if let Some(t) = summary_text {
        dest.write_all(t.as_bytes())?;
    }
    dest.flush()?;
    if let Destination::File { partial, path, w } = dest {
        drop(w);
        std::fs::rename(&partial, &path)?;
    }
    Ok(())
}

/// Removes the temporary files and a partial report on Ctrl-C or SIGTERM, then exits with 130.
fn on_interrupt(partial: Option<PathBuf>) {
    let _ = ctrlc::set_handler(move || {
        for p in crate::spill::temp_paths() {
            let _ = std::fs::remove_dir_all(p);
        }
        if let Some(p) = &partial {
            let _ = std::fs::remove_file(p);
        }
        std::process::exit(130);
    });
}

pub fn run(a: ReplayArgs) -> ExitCode {
    if let Some(n) = a.threads {
        if let Err(e) = super::set_threads(n) {
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
    let (subsets, paths): (Vec<PathBuf>, Vec<PathBuf>) =
        a.paths.iter().cloned().partition(|p| subset::is_subset(p));
    let mut listing = source::list_pruned(&paths, &super::prune(&a.scope, cfg.since, cfg.until));
    for dir in subsets {
        let added = subset::open(&dir)
            .map_err(|e| e.to_string())
            .and_then(|m| check_subset_scope(&dir, &m, &a, &cfg).map(|()| m));
        match added {
            Ok(m) => subset::add_to_listing(&mut listing, &dir, m),
            Err(e) => {
                error(&e);
                return ExitCode::Trouble;
            }
        }
    }
    let total_bytes: u64 = listing.sizes.iter().sum();
    // A progress bar on stderr, drawn only when stderr is a terminal (indicatif hides it
    // otherwise): bytes of the files read so far, with an estimate of the time left.
    let bar = if std::io::stderr().is_terminal() && listing.inputs.len() > 1 {
        indicatif::ProgressBar::new(total_bytes)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "trailreplay: {bar:30} {binary_bytes}/{binary_total_bytes} read, {msg} files, {elapsed} (about {eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let files_done = std::sync::atomic::AtomicU64::new(0);
    let total_files = listing.inputs.len();
    let progress = |index: usize, _decompressed: u64| {
        let n = files_done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        bar.set_message(format!("{n}/{total_files}"));
        bar.inc(listing.sizes.get(index).copied().unwrap_or(0));
    };
    on_interrupt(a.output.as_deref().map(partial_name));
    let mut writer = match open_report(&a) {
        Ok(w) => w,
        Err(e) => {
            error(&format!(
                "{}: cannot write the report: {e}",
                a.output
                    .as_ref()
                    .map(|p| partial_name(p).display().to_string())
                    .unwrap_or_else(|| "stdout".to_string())
            ));
            return ExitCode::Trouble;
        }
    };
    let keep_all = a.all;
    let result = replay::run(&cfg, &listing, &progress, &mut |row: &Row| {
        if keep_all || row.change != Change::Unchanged {
            writer.write(row)
        } else {
            Ok(())
        }
    });
    bar.finish_and_clear();
    let out = match result {
        Ok(o) => o,
        Err(e) => {
            if let Some(p) = &a.output {
                let _ = std::fs::remove_file(partial_name(p));
            }
            error(&e.to_string());
            return ExitCode::Trouble;
        }
    };
    super::print_problems(&out.problems);
    if out.summary.records.verify_misses > 0 {
        error(&format!(
            "--verify: the pre-filter missed {} session event(s); please report this",
            out.summary.records.verify_misses
        ));
    }
    let summary_text = (a.format == ReplayFormat::Summary).then(|| out.summary.render());
    let written = match &out.write_error {
        Some(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Some(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
        None => close_report(writer, summary_text.as_deref()),
    };
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe && a.output.is_none() => {}
        Err(e) => {
            if let Some(p) = &a.output {
                let _ = std::fs::remove_file(partial_name(p));
            }
            error(&format!(
                "{}: cannot write the report: {e}",
                a.output
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "stdout".to_string())
            ));
            return ExitCode::Trouble;
        }
        Ok(()) => {}
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
    let count = |c: Change| s.changes.get(c.as_str()).copied().unwrap_or(0);
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
    let hit = |c: Change| count(c) > 0;
    let failed = a.fail_on.iter().any(|f| match f {
        FailOn::NewlyDenied => hit(Change::NewlyDenied),
        FailOn::NewlyAllowed => hit(Change::NewlyAllowed),
        FailOn::Uncertain => hit(Change::Uncertain),
        FailOn::Any => {
            hit(Change::NewlyDenied) || hit(Change::NewlyAllowed) || hit(Change::Uncertain)
        }
    });
    if failed {
        error(&format!(
            "--fail-on: {} newly_denied, {} newly_allowed, {} uncertain",
            count(Change::NewlyDenied),
            count(Change::NewlyAllowed),
            count(Change::Uncertain)
        ));
        code = ExitCode::Found;
    }
    code
}
