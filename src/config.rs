//! From arguments to a validated configuration: files read, policies compiled, times parsed.
//! After this step nothing downstream fails because of a bad argument.

use std::path::{Path, PathBuf};

use crate::policy::{compile_text, CompiledPolicy, Problem};
use crate::policyset::{PolicyInput, PolicySet};

/// A configuration error, with the file or argument it concerns.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Policy(Vec<Problem>),
    #[error("{0}")]
    Argument(String),
}

/// Reads a file as UTF-8 text, naming it in the error.
pub fn read_text(path: &Path) -> Result<String, ConfigError> {
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|e| {
        ConfigError::Policy(vec![Problem {
            source: path.display().to_string(),
            statement: None,
            message: format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
        }])
    })
}

/// Loads and compiles one policy document file; warnings are returned beside it.
pub fn load_policy(path: &Path) -> Result<(CompiledPolicy, Vec<Problem>), ConfigError> {
    let text = read_text(path)?;
    let c = compile_text(&path.display().to_string(), &text);
    match c.policy {
        Some(p) if c.errors.is_empty() => Ok((p, c.warnings)),
        _ => Err(ConfigError::Policy(c.errors)),
    }
}

/// Loads several policy documents.
pub fn load_policies(
    paths: &[PathBuf],
) -> Result<(Vec<CompiledPolicy>, Vec<Problem>), ConfigError> {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        match load_policy(p) {
            Ok((pol, w)) => {
                out.push(pol);
                warnings.extend(w);
            }
            Err(ConfigError::Policy(e)) => errors.extend(e),
            Err(other) => return Err(other),
        }
    }
    if errors.is_empty() {
        Ok((out, warnings))
    } else {
        Err(ConfigError::Policy(errors))
    }
}

/// Loads a policy set from its files.
pub fn load_policy_set(paths: &[PathBuf]) -> Result<PolicySet, ConfigError> {
    let mut inputs = Vec::with_capacity(paths.len());
    for p in paths {
        inputs.push(PolicyInput {
            name: p.display().to_string(),
            text: read_text(p)?,
        });
    }
    PolicySet::load(&inputs).map_err(ConfigError::Policy)
}
