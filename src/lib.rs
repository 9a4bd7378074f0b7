//! trailreplay: replay CloudTrail Session Manager events against candidate IAM policies.
//!
//! The pipeline, one module a stage: [`source`] finds and opens log files, [`decode`] turns
//! bytes into CloudTrail records, [`mapping`] turns a record back into the authorization request
//! AWS evaluated, [`eval`] decides it against compiled [`policy`] documents, [`compare`] sets the
//! candidate's decision against the baseline, and [`report`] writes the findings. [`replay`]
//! wires the stages and owns the threading.

pub mod app;
pub mod cli;
pub mod compare;
pub mod config;
pub mod decode;
pub mod eval;
pub mod generate;
pub mod mapping;
pub mod policy;
pub mod policyset;
pub mod replay;
pub mod replay_cmd;
pub mod report;
pub mod sanitize;
pub mod simulate;
pub mod source;
pub mod timefmt;
pub mod validate;
