//! Evaluation: compiled policies × authorization request → decision with the statements that
//! decided it. Like [`crate::policy`], this module does no I/O.

pub(crate) mod authorize;
mod conditional;
pub(crate) mod decide;
pub mod explain;
pub(crate) mod request;
pub(crate) mod variants;
pub(crate) mod worlds;

pub use authorize::{
    evaluate, Deciding, Decision, Evaluation, PolicyKind, PolicyStack, ResourceEvaluation,
};
pub use request::{Conditional, Context, KeyValue, PartialTags, Request, Resource, TagState};
