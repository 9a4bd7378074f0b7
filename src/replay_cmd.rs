//! The edge of `trailreplay replay`: arguments → [`ReplayConfig`], run, write the report, print
//! problems, choose the exit code.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};

use crate::app::{error, warning, ExitCode};
use crate::cli::{FailOn, ReplayArgs, ReplayFormat};
use crate::config::{self, ConfigError};
use crate::decode::DecodeOptions;
use crate::mapping::Inventory;
use crate::replay::{self, ReplayConfig};
use crate::report::{self, Row};
use crate::sanitize::for_terminal;
use crate::source;
use crate::timefmt;

fn build_config(a: &ReplayArgs) -> Result<ReplayConfig, ConfigError> {
    let candidate = config::load_policy_set(&a.candidate)?;
    let baseline = if a.baseline.is_empty() {
        None
    } else {
        Some(config::load_policy_set(&a.baseline)?)
    };
    let (scps, _) = config::load_policies(&a.scps)?;
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
    let warn_count = candidate.warnings.len() + baseline.as_ref().map_or(0, |b| b.warnings.len());
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
            let mut w = BufWriter::new(File::create(path)?);
            body(&mut w)?;
            w.flush()
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

pub fn run(a: ReplayArgs) -> ExitCode {
    if let Some(n) = a.threads {
        if n == 0 {
            error("`--threads 0`: give at least 1");
            return ExitCode::Trouble;
        }
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
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
    let hit = |k: &str| out.summary.changes.get(k).copied().unwrap_or(0) > 0;
    let failed = a.fail_on.iter().any(|f| match f {
        FailOn::NewlyDenied => hit("newly_denied"),
        FailOn::NewlyAllowed => hit("newly_allowed"),
        FailOn::Uncertain => hit("uncertain"),
        FailOn::Any => hit("newly_denied") || hit("newly_allowed") || hit("uncertain"),
    });
    // The process exits next: freeing hundreds of thousands of strings one by one would cost
    // tens of milliseconds on a large archive for nothing.
    std::mem::forget(out);
    if failed {
        ExitCode::Found
    } else {
        ExitCode::Success
    }
}
