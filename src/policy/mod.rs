//! IAM policy documents: the serde-free JSON walk that validates them, the compiled form the
//! evaluator runs, and the lints `trailreplay validate` prints. Nothing here does I/O.

pub(crate) mod compile;
// Public but hidden and undocumented: for the property tests, benches and fuzz targets, not the
// API.
#[doc(hidden)]
#[allow(missing_docs)]
pub mod condition;
pub(crate) mod embedded;
pub(crate) mod knowledge;
pub mod overlay;
#[doc(hidden)]
#[allow(missing_docs)]
pub mod pattern;
pub(crate) mod positions;
pub mod set;
pub mod snapshot;
pub mod terraform;

pub use compile::{compile_document, Compiled, CompiledPolicy, Effect, Problem, Statement};
pub use pattern::Tri;

/// Parses document text (any of the embedded forms, or `get-policy-version` output) and
/// compiles it.
pub fn compile_text(source: &str, text: &str) -> Compiled {
    let parsed = embedded::decode_text(text).and_then(embedded::unwrap_policy_version);
    match parsed {
        Ok(doc) => compile_document(source, &doc),
        Err(message) => Compiled {
            policy: None,
            errors: vec![Problem {
                source: source.to_string(),
                statement: None,
                message,
            }],
            warnings: vec![],
        },
    }
}
