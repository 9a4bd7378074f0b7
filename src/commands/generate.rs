//! `trailreplay generate`: options from the command line, the archive written, one line printed.

use super::{error, print_stdout, ExitCode};
use crate::cli::GenerateArgs;
use crate::generate::{self, GenerateOptions};

pub fn run(a: GenerateArgs) -> ExitCode {
    let options = GenerateOptions {
        out: a.output,
        records: a.records,
        ssm_percent: a.ssm_percent,
        tag_percent: a.tag_percent,
        per_file: a.per_file,
        accounts: a.accounts,
        regions: a.regions,
        days: a.days,
        seed: a.seed,
        force: a.force,
    };
    match generate::run(&options) {
        Ok(summary) => print_stdout(&format!("{summary}\n")),
        Err(e) => {
            error(&e.to_string());
            ExitCode::Trouble
        }
    }
}
