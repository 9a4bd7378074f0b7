//! Evaluation: compiled policies × authorization request → decision with the statements that
//! decided it. Like [`crate::policy`], this module does no I/O.

pub mod authorize;
pub mod request;
pub mod variants;
pub mod worlds;

pub use authorize::{evaluate, Deciding, Decision, Evaluation, PolicyKind, PolicyStack};
pub use request::{Context, KeyValue, Request, Resource, TagState};
