//! The edge: each command turns parsed arguments into library calls, prints results and human
//! messages, and returns the exit code. Library code below this never prints.

mod extract;
mod generate;
mod replay;
mod simulate;
mod validate;

use std::io::Write;

use chrono::{DateTime, Utc};

use crate::cli::{Cli, Command, ScopeArgs};
use crate::config::ConfigError;
use crate::sanitize::for_terminal;
use crate::source;
use crate::timefmt;

/// Exit codes: 0 success, 1 a `--fail-on` change occurred (or fidelity too low), 2 trouble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Success = 0,
    Found = 1,
    Trouble = 2,
}

/// Runs a parsed command.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Simulate(a) => simulate::run(a),
        Command::Validate(a) => validate::run(a),
        Command::Replay(a) => replay::run(*a),
        Command::Extract(a) => extract::run(a),
        Command::Generate(a) => generate::run(a),
    }
}

/// Prints an error line on stderr, sanitised.
pub fn error(msg: &str) {
    for line in msg.lines() {
        eprintln!("trailreplay: error: {}", for_terminal(line));
    }
}

/// Prints a warning line on stderr, sanitised.
pub fn warning(msg: &str) {
    eprintln!("trailreplay: warning: {}", for_terminal(msg));
}

/// Prints a configuration error; the run stops with exit 2.
fn config_error(e: ConfigError) -> ExitCode {
    error(&e.to_string());
    ExitCode::Trouble
}

/// Writes to stdout and flushes.
fn write_stdout(s: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(s.as_bytes())?;
    out.flush()
}

/// Writes to stdout; a closed pipe is a clean exit.
pub fn print_stdout(s: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => ExitCode::Success,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::Success,
        Err(e) => {
            error(&format!("cannot write to stdout: {e}"));
            ExitCode::Trouble
        }
    }
}

/// `--since` and `--until`, when given.
type Window = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// `--since` and `--until`, parsed and checked.
fn window(s: &ScopeArgs) -> Result<Window, ConfigError> {
    let time = |flag: &str, v: &Option<String>| -> Result<_, ConfigError> {
        v.as_deref()
            .map(|text| {
                timefmt::parse_datetime(text).ok_or_else(|| {
                    ConfigError::Argument(format!(
                        "`{flag} {text}`: not an ISO 8601 time (e.g. 2024-08-01 or 2024-08-01T12:00:00Z)"
                    ))
                })
            })
            .transpose()
    };
    let since = time("--since", &s.since)?;
    let until = time("--until", &s.until)?;
    if let (Some(a), Some(b)) = (since, until) {
        if a >= b {
            return Err(ConfigError::Argument(format!(
                "`--since {}` is not before `--until {}`: the window holds no time",
                timefmt::iso(&a),
                timefmt::iso(&b)
            )));
        }
    }
    Ok((since, until))
}

/// What the S3 layout lets the walk leave out: files delivered more than the session lookback
/// before `--since` (a file's name holds its delivery time, after its events; a few minutes
/// more for the minute the name rounds down to), or more than the delivery margin after
/// `--until`, and other accounts' and regions' folders.
fn prune(
    s: &ScopeArgs,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> source::Prune {
    source::Prune {
        from: since.map(|t| t - crate::replay::SESSION_LOOKBACK - chrono::Duration::minutes(5)),
        to: until.map(|t| t + chrono::Duration::hours(i64::from(s.delivery_margin))),
        accounts: s.accounts.clone(),
        regions: s.regions.clone(),
    }
}

/// Sets the worker pool's size: 1 to 4 × the cores, at most [`crate::cli::MAX_THREADS`] (clap
/// checks the range; thousands of threads abort the process or exhaust memory).
fn set_threads(n: u16) -> Result<(), String> {
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let bound = (4 * cores).min(crate::cli::MAX_THREADS);
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

/// Prints files' problems: fatal ones as errors, the rest as warnings.
fn print_problems(problems: &[crate::replay::FileProblem]) {
    for p in problems {
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
}

/// A progress bar on stderr, drawn only when stderr is a terminal (indicatif hides it
/// otherwise): files and bytes (on disk, or as S3 lists them) read so far, with an estimate of
/// the time left.
struct Progress<'a> {
    bar: indicatif::ProgressBar,
    sizes: &'a [u64],
    done: std::sync::atomic::AtomicU64,
    total: usize,
}

impl<'a> Progress<'a> {
    fn new(listing: &'a source::Listing) -> Progress<'a> {
        use std::io::IsTerminal;
        let bar = if std::io::stderr().is_terminal() && listing.inputs.len() > 1 {
            indicatif::ProgressBar::new(listing.sizes.iter().sum())
        } else {
            indicatif::ProgressBar::hidden()
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "trailreplay: {bar:30} {binary_bytes}/{binary_total_bytes} read, {msg} files, {elapsed} (about {eta} left)",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Progress {
            bar,
            sizes: &listing.sizes,
            done: std::sync::atomic::AtomicU64::new(0),
            total: listing.inputs.len(),
        }
    }

    /// One more file read (its index in the listing).
    fn file_done(&self, index: usize) {
        let n = self.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        self.bar.set_message(format!("{n}/{}", self.total));
        self.bar.inc(self.sizes.get(index).copied().unwrap_or(0));
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
