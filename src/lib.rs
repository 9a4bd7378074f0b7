//! trailreplay: replay CloudTrail Session Manager events against candidate IAM policies.
//!
//! The pipeline, one module a stage: [`source`] finds and opens log files, [`decode`] turns
//! bytes into CloudTrail records, [`mapping`] turns a record back into the authorization request
//! AWS evaluated, [`eval`] decides it against compiled [`policy`] documents, [`compare`] sets the
//! candidate's decision against the baseline, and [`report`] writes the findings. [`replay`]
//! wires the stages and owns the threading.
//!
//! The engine (the [`policy`] compiler and the [`eval`] authorizer) can be embedded on its own:
//! compile policies once, then evaluate requests, each key of the context known, absent or
//! unknown.
//!
//! ```
//! use trailreplay::{compile_text, evaluate, Context, Decision, PolicyStack, Request, Resource, TagState};
//!
//! let policy = compile_text(
//!     "dev-sessions.json",
//!     r#"{"Version": "2012-10-17", "Statement": {
//!           "Effect": "Allow", "Action": "ssm:StartSession",
//!           "Resource": "arn:aws:ec2:*:*:instance/*",
//!           "Condition": {"StringEquals": {"ssm:resourceTag/Env": "dev"}}}}"#,
//! )
//! .policy
//! .expect("a valid policy");
//! let stack = PolicyStack { identity: vec![&policy], ..PolicyStack::default() };
//! let on = |tags: TagState| {
//!     let instance = Resource::new("arn:aws:ec2:us-east-1:111122223333:instance/i-0abc", tags);
//!     let request = Request::new("ssm:StartSession", vec![instance], Context::simulated());
//!     evaluate(&stack, &request, &TagState::none()).decision
//! };
//! assert_eq!(on(TagState::known([("Env", "dev")])), Decision::Allowed);
//! assert_eq!(on(TagState::known([("Env", "prod")])), Decision::ImplicitDeny);
//! // Tags the caller cannot see: the answer depends on them, and says so.
//! assert_eq!(on(TagState::Unknown), Decision::Indeterminate);
//! ```

#![warn(missing_docs)]
pub mod accept;
pub mod arn;
mod cli;
mod commands;
pub mod compare;
mod config;
pub mod decode;
pub mod eval;
pub mod generate;
pub mod mapping;
pub mod policy;
pub mod replay;
pub mod report;
pub mod s3;
mod sanitize;
pub mod simulate;
pub mod source;
mod spill;
pub mod subset;
mod timefmt;
pub mod validate;

pub use eval::{
    evaluate, Context, Decision, Evaluation, PolicyKind, PolicyStack, Request, Resource, TagState,
};
pub use policy::{compile_document, compile_text, CompiledPolicy, Problem};

/// Runs the command line (the `trailreplay` binary is this and an exit): parses the arguments,
/// runs the command, returns the exit code (0 success, 1 a `--fail-on` change, 2 trouble).
pub fn main_with_args() -> i32 {
    use clap::Parser;
    let cli = cli::Cli::parse();
    commands::run(cli) as i32
}
