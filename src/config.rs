//! From arguments to a validated configuration: files read, policies compiled, times parsed.
//! After this step nothing downstream fails because of a bad argument.

use std::path::{Path, PathBuf};

use crate::policy::set::{PolicyInput, PolicySet, Sources};
use crate::policy::snapshot::{Doc, Snapshot};
use crate::policy::{compile_text, CompiledPolicy, Problem};

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

/// Has `-` (stdin) been read already? It can be read once.
static STDIN_TAKEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Reads a file as UTF-8 text, naming it in the error; `-` reads stdin (once).
pub fn read_text(path: &Path) -> Result<String, ConfigError> {
    let bytes = if path.as_os_str() == "-" {
        if STDIN_TAKEN.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err(ConfigError::Argument(
                "`-` (stdin) is given twice: stdin can be read once".to_string(),
            ));
        }
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut b).map_err(|source| {
            ConfigError::Read {
                path: path.to_path_buf(),
                source,
            }
        })?;
        b
    } else {
        std::fs::read(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?
    };
    String::from_utf8(bytes).map_err(|e| {
        ConfigError::Policy(vec![Problem {
            source: path.display().to_string(),
            statement: None,
            message: format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
        }])
    })
}

/// Loads and compiles one policy document file; warnings are returned beside it. An
/// authorization-details export is refused with a message saying what to give instead.
pub fn load_policy(path: &Path) -> Result<(CompiledPolicy, Vec<Problem>), ConfigError> {
    let text = read_text(path)?;
    let snapshot = crate::policy::embedded::decode_text(&text)
        .map(|v| crate::policy::set::is_snapshot(&v))
        .unwrap_or(false);
    if snapshot {
        return Err(ConfigError::Policy(vec![Problem {
            source: display(path),
            statement: None,
            message:
                "this is a `get-account-authorization-details` export, not a policy document: \
                      give the document of one policy here (`aws iam get-policy-version` output \
                      works), or use the export with `replay --candidate`/`--baseline`"
                    .to_string(),
        }]));
    }
    let c = compile_text(&display(path), &text);
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

/// How messages name a file (`-` is `<stdin>`).
pub fn display(path: &Path) -> String {
    if path.as_os_str() == "-" {
        "<stdin>".to_string()
    } else {
        path.display().to_string()
    }
}

/// Names the side (`candidate`, `baseline`) in front of each problem's file.
fn on_side(side: &str, problems: Vec<Problem>) -> ConfigError {
    ConfigError::Policy(
        problems
            .into_iter()
            .map(|mut p| {
                p.source = format!("{side} {}", p.source);
                p
            })
            .collect(),
    )
}

/// Reads a policy set's files without compiling them (overlays and plans edit the model
/// first). `side` (`candidate`, `baseline`) names the set in errors, beside the file.
pub fn read_policy_sources(side: &str, paths: &[PathBuf]) -> Result<Sources, ConfigError> {
    let mut inputs = Vec::with_capacity(paths.len());
    for p in paths {
        inputs.push(PolicyInput {
            name: display(p),
            text: read_text(p)?,
        });
    }
    Sources::read(&inputs).map_err(|problems| on_side(side, problems))
}

/// Compiles a policy set's sources, with `snapshot` in place of the model read.
pub fn compile_sources(
    side: &str,
    sources: &Sources,
    snapshot: Option<&Snapshot>,
) -> Result<PolicySet, ConfigError> {
    sources
        .compile(snapshot)
        .map_err(|problems| on_side(side, problems))
}

/// Loads a policy set from its files. `side` (`candidate`, `baseline`) names the set in errors,
/// beside the file.
pub fn load_policy_set(side: &str, paths: &[PathBuf]) -> Result<PolicySet, ConfigError> {
    compile_sources(side, &read_policy_sources(side, paths)?, None)
}

/// Reads one policy document for an overlay: any embedded form or `get-policy-version` output.
pub fn read_document(path: &Path) -> Result<Doc, ConfigError> {
    let text = read_text(path)?;
    let name = display(path);
    crate::policy::embedded::decode_text(&text)
        .and_then(crate::policy::embedded::unwrap_policy_version)
        .map(|value| Doc {
            name: name.clone(),
            file: name.clone(),
            value,
            lines: crate::policy::positions::statement_lines(&text),
        })
        .map_err(|message| {
            ConfigError::Policy(vec![Problem {
                source: name.clone(),
                statement: None,
                message,
            }])
        })
}
