//! Baseline against candidate: each event's change.
//!
//! The baseline is the outcome recorded in the log (an access-denied `errorCode` means denied;
//! any other outcome passed authorization) or a second policy set. `uncertain` when either side
//! is indeterminate or cannot be resolved; `skipped` when the event cannot be evaluated at all.

use serde::Serialize;

use crate::eval::Decision;

/// What the candidate changes for one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    NewlyDenied,
    NewlyAllowed,
    Uncertain,
    Unchanged,
    Skipped,
}

impl Change {
    pub const ALL: [Change; 5] = [
        Change::NewlyDenied,
        Change::NewlyAllowed,
        Change::Uncertain,
        Change::Unchanged,
        Change::Skipped,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Change::NewlyDenied => "newly_denied",
            Change::NewlyAllowed => "newly_allowed",
            Change::Unchanged => "unchanged",
            Change::Uncertain => "uncertain",
            Change::Skipped => "skipped",
        }
    }
}

/// A side's outcome, reduced to what comparison needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Allowed,
    Denied,
    Uncertain,
}

impl From<Decision> for Outcome {
    fn from(d: Decision) -> Outcome {
        match d {
            Decision::Allowed => Outcome::Allowed,
            Decision::ExplicitDeny | Decision::ImplicitDeny => Outcome::Denied,
            Decision::Indeterminate => Outcome::Uncertain,
        }
    }
}

/// Does a baseline policy set reproduce what the log recorded?
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Agreement {
    Agrees,
    /// Why not: another outcome, or a denial by another kind of policy than AWS named.
    Disagrees(String),
    /// The baseline is indeterminate or cannot be resolved.
    Uncertain,
}

/// Error codes that mean the call failed authorization (CloudTrail User Guide; EC2 uses
/// `Client.UnauthorizedOperation`).
pub fn is_access_denied(code: &str) -> bool {
    let c = code.strip_prefix("Client.").unwrap_or(code);
    [
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedAccess",
    ]
    .iter()
    .any(|k| c.eq_ignore_ascii_case(k))
}

/// The outcome recorded in the log.
pub fn recorded(error_code: Option<&str>) -> Outcome {
    match error_code {
        Some(c) if is_access_denied(c) => Outcome::Denied,
        _ => Outcome::Allowed,
    }
}

pub fn compare(baseline: Outcome, candidate: Outcome) -> Change {
    match (baseline, candidate) {
        (Outcome::Uncertain, _) | (_, Outcome::Uncertain) => Change::Uncertain,
        (Outcome::Allowed, Outcome::Denied) => Change::NewlyDenied,
        (Outcome::Denied, Outcome::Allowed) => Change::NewlyAllowed,
        _ => Change::Unchanged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        assert_eq!(
            compare(Outcome::Allowed, Outcome::Denied),
            Change::NewlyDenied
        );
        assert_eq!(
            compare(Outcome::Denied, Outcome::Allowed),
            Change::NewlyAllowed
        );
        assert_eq!(compare(Outcome::Denied, Outcome::Denied), Change::Unchanged);
        assert_eq!(
            compare(Outcome::Allowed, Outcome::Uncertain),
            Change::Uncertain
        );
        assert_eq!(recorded(Some("AccessDenied")), Outcome::Denied);
        assert_eq!(
            recorded(Some("Client.UnauthorizedOperation")),
            Outcome::Denied
        );
        assert_eq!(recorded(Some("TargetNotConnected")), Outcome::Allowed);
        assert_eq!(recorded(None), Outcome::Allowed);
    }
}
