//! The edge: runs a parsed command, prints results and human messages, and returns the exit
//! code. Library code below this never prints.

use std::io::Write;

use crate::cli::{Cli, Command, SimulateArgs, SimulateFormat, ValidateArgs};
use crate::config::{self, ConfigError};
use crate::sanitize::for_terminal;
use crate::simulate::{self, Simulation};

/// Exit codes: 0 success, 1 a `--fail-on` change occurred, 2 trouble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Success = 0,
    Found = 1,
    Trouble = 2,
}

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Simulate(a) => run_simulate(a),
        Command::Validate(a) => run_validate(a),
        Command::Replay(a) => crate::replay_cmd::run(a),
        Command::Generate(a) => match crate::generate::run(&a) {
            Ok(summary) => {
                println!("{summary}");
                ExitCode::Success
            }
            Err(e) => {
                error(&e.to_string());
                ExitCode::Trouble
            }
        },
    }
}

/// Prints an error line on stderr, sanitised.
pub fn error(msg: &str) {
    for line in msg.lines() {
        eprintln!("trailreplay: error: {}", for_terminal(line));
    }
}

pub fn warning(msg: &str) {
    eprintln!("trailreplay: warning: {}", for_terminal(msg));
}

fn config_error(e: ConfigError) -> ExitCode {
    error(&e.to_string());
    ExitCode::Trouble
}

fn run_simulate(a: SimulateArgs) -> ExitCode {
    let (policies, mut warnings) = match config::load_policies(&a.policies) {
        Ok(p) => p,
        Err(e) => return config_error(e),
    };
    let (scps, w) = match config::load_policies(&a.scps) {
        Ok(p) => p,
        Err(e) => return config_error(e),
    };
    warnings.extend(w);
    let (session, w) = match config::load_policies(&a.session_policies) {
        Ok(p) => p,
        Err(e) => return config_error(e),
    };
    warnings.extend(w);
    let boundary = match &a.boundary {
        Some(b) => match config::load_policy(b) {
            Ok((p, w)) => {
                warnings.extend(w);
                Some(p)
            }
            Err(e) => return config_error(e),
        },
        None => None,
    };
    let mut context = Vec::new();
    for c in &a.context {
        match simulate::parse_context_arg(c) {
            Ok(kv) => context.push(kv),
            Err(e) => {
                error(&e);
                return ExitCode::Trouble;
            }
        }
    }
    for w in &warnings {
        warning(&w.to_string());
    }
    let sim = Simulation {
        action: a.action.clone(),
        resources: a.resources.clone(),
        policies,
        scps,
        boundary,
        session,
        context,
        unknown: a.unknown.clone(),
    };
    let eval = sim.run();
    let out = match a.format {
        SimulateFormat::Json => simulate::to_json(&a.action, &eval).to_string() + "\n",
        SimulateFormat::Text => simulate::to_text(&a.action, &eval)
            .lines()
            .map(|l| for_terminal(l).into_owned() + "\n")
            .collect(),
    };
    print_stdout(&out)
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

fn run_validate(a: ValidateArgs) -> ExitCode {
    let mut any_error = false;
    let mut out = String::new();
    for f in &a.files {
        let name = f.display().to_string();
        let text = match config::read_text(f) {
            Ok(t) => t,
            Err(e) => {
                out.push_str(&format!("error: {e}\n"));
                any_error = true;
                continue;
            }
        };
        let report = crate::validate::check(&name, &text);
        for e in &report.errors {
            out.push_str(&format!("error: {}\n", for_terminal(&e.to_string())));
        }
        for w in &report.warnings {
            out.push_str(&format!("warning: {}\n", for_terminal(&w.to_string())));
        }
        if report.errors.is_empty() && report.warnings.is_empty() {
            out.push_str(&format!("ok: {name}\n"));
        }
        any_error |= !report.errors.is_empty();
    }
    let code = print_stdout(&out);
    if any_error {
        ExitCode::Trouble
    } else {
        code
    }
}
