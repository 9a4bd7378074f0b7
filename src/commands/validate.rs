//! `trailreplay validate`: each file's errors and warnings printed, exit 2 on any error.

use super::{print_stdout, ExitCode};
use crate::cli::ValidateArgs;
use crate::config;
use crate::sanitize::for_terminal;

pub fn run(a: ValidateArgs) -> ExitCode {
    let mut any_error = false;
    let mut out = String::new();
    for f in &a.files {
        let name = config::display(f);
        let text = match config::read_text(f) {
            Ok(t) => t,
            Err(e) => {
                out.push_str(&format!("error: {}\n", for_terminal(&e.to_string())));
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
            out.push_str(&format!("ok: {}\n", for_terminal(&name)));
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
