//! The edge: runs a parsed command, prints results and human messages, and returns the exit
//! code. Library code below this never prints.

use std::io::Write;

use crate::cli::{Cli, Command, SimulateArgs, SimulateFormat, ValidateArgs};
use crate::config::{self, ConfigError};
use crate::policy::Problem;
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

/// Arguments → a compiled simulation and the policies' warnings.
fn simulation(a: &SimulateArgs) -> Result<(Simulation, Vec<Problem>), ConfigError> {
    let (policies, mut warnings) = config::load_policies(&a.policies)?;
    let (scps, w) = config::load_policies(&a.scps)?;
    warnings.extend(w);
    let (session, w) = config::load_policies(&a.session_policies)?;
    warnings.extend(w);
    let boundary = match &a.boundary {
        Some(b) => {
            let (p, w) = config::load_policy(b)?;
            warnings.extend(w);
            Some(p)
        }
        None => None,
    };
    let context = a
        .context
        .iter()
        .map(|c| simulate::parse_context_arg(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ConfigError::Argument)?;
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
    Ok((sim, warnings))
}

fn run_simulate(a: SimulateArgs) -> ExitCode {
    let (sim, warnings) = match simulation(&a) {
        Ok(s) => s,
        Err(e) => return config_error(e),
    };
    for w in &warnings {
        warning(&w.to_string());
    }
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
