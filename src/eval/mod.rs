//! Evaluation: compiled policies × authorization request → decision with the statements that
//! decided it. Like [`crate::policy`], this module does no I/O.

pub(crate) mod authorize;
pub(crate) mod decide;
pub(crate) mod request;
mod session_document;
pub(crate) mod variants;
pub(crate) mod worlds;

pub use authorize::{
    evaluate, Deciding, Decision, Evaluation, PolicyKind, PolicyStack, ResourceEvaluation,
};
pub use request::{Context, KeyValue, Request, Resource, TagState};
