//! `trailreplay validate`: errors (what AWS would refuse) and warnings (likely mistakes) for
//! policy files of every form trailreplay reads.

use crate::policy::set::{PolicyInput, PolicySet};
use crate::policy::{compile_text, Problem};

/// What one file yielded.
#[derive(Debug, Default)]
pub struct FileReport {
    /// Problems that make a policy unusable.
    pub errors: Vec<Problem>,
    /// Problems worth knowing.
    pub warnings: Vec<Problem>,
}

/// Checks one file's text. `name` names it in messages.
pub fn check(name: &str, text: &str) -> FileReport {
    let is_snapshot = crate::policy::embedded::decode_text(text)
        .map(|v| crate::policy::set::is_snapshot(&v))
        .unwrap_or(false);
    if is_snapshot {
        let input = PolicyInput {
            name: name.to_string(),
            text: text.to_string(),
        };
        match PolicySet::load(std::slice::from_ref(&input)) {
            Ok(set) => FileReport {
                errors: vec![],
                warnings: set.warnings,
            },
            Err(errors) => FileReport {
                errors,
                warnings: vec![],
            },
        }
    } else {
        let c = compile_text(name, text);
        FileReport {
            errors: c.errors,
            warnings: c.warnings,
        }
    }
}
