//! The edge: each command turns parsed arguments into library calls, prints results and human
//! messages, and returns the exit code. Library code below this never prints.

mod generate;
mod replay;
mod simulate;
mod validate;

use std::io::Write;

use crate::cli::{Cli, Command};
use crate::config::ConfigError;
use crate::sanitize::for_terminal;

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
        Command::Replay(a) => replay::run(a),
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
