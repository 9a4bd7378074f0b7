//! trailreplay: replay CloudTrail Session Manager events against candidate IAM policies.
//!
//! The pipeline, one module a stage: [`source`] finds and opens log files, [`decode`] turns
//! bytes into CloudTrail records, [`mapping`] turns a record back into the authorization request
//! AWS evaluated, [`eval`] decides it against compiled [`policy`] documents, [`compare`] sets the
//! candidate's decision against the baseline, and [`report`] writes the findings. [`replay`]
//! wires the stages and owns the threading.

mod cli;
mod commands;
pub mod compare;
pub mod config;
pub mod decode;
pub mod eval;
pub mod generate;
pub mod mapping;
pub mod policy;
pub mod policyset;
pub mod replay;
pub mod report;
pub mod sanitize;
pub mod simulate;
pub mod source;
pub mod spill;
pub mod timefmt;
pub mod validate;

/// Runs the command line (the `trailreplay` binary is this and an exit): parses the arguments,
/// runs the command, returns the exit code (0 success, 1 a `--fail-on` change, 2 trouble).
pub fn main_with_args() -> i32 {
    use clap::Parser;
    let cli = cli::Cli::parse();
    commands::run(cli) as i32
}
