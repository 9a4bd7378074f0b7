//! Why an event cannot be evaluated: a kind the summary groups by, and the detail for its row.

use std::fmt;

/// The kinds of reason an event is skipped. The summary counts skipped events per kind; the row
/// carries the detail (which may name the record's own values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipKind {
    /// Fields of the wrong JSON type, or missing ones the record needs.
    UnreadableFields,
    /// No `eventTime` that parses.
    NoEventTime,
    /// Neither `recipientAccountId` nor `userIdentity.accountId`.
    NoAccount,
    /// A StartSession or GetConnectionStatus without a target.
    NoTarget,
    /// A target that is not an instance, managed instance or ECS task.
    UnrecognisedTarget,
    /// A Terminate/ResumeSession without a session ID.
    NoSessionId,
    /// An access-denied message that names another action or principal than the record.
    MessageContradictsRecord,
    /// A caller whose policies cannot be found (no `userIdentity.type`, no ARN, no issuer).
    UnknownPrincipal,
    /// A caller type that identity-based policies do not govern (`AWSService`, `AWSAccount`).
    CallerNotEvaluable,
}

impl SkipKind {
    /// Every kind, in the order the summary lists them.
    pub const ALL: [SkipKind; 9] = [
        SkipKind::UnreadableFields,
        SkipKind::NoEventTime,
        SkipKind::NoAccount,
        SkipKind::NoTarget,
        SkipKind::UnrecognisedTarget,
        SkipKind::NoSessionId,
        SkipKind::MessageContradictsRecord,
        SkipKind::UnknownPrincipal,
        SkipKind::CallerNotEvaluable,
    ];

    /// The words the summary groups by.
    pub fn label(self) -> &'static str {
        match self {
            SkipKind::UnreadableFields => "record fields missing or of the wrong type",
            SkipKind::NoEventTime => "no usable `eventTime`",
            SkipKind::NoAccount => "no account (`recipientAccountId` or `userIdentity.accountId`)",
            SkipKind::NoTarget => "no `requestParameters.target`",
            SkipKind::UnrecognisedTarget => "unrecognised target",
            SkipKind::NoSessionId => "no `requestParameters.sessionId`",
            SkipKind::MessageContradictsRecord => {
                "the error message names another action or principal than the record"
            }
            SkipKind::UnknownPrincipal => "caller's user or role unknown",
            SkipKind::CallerNotEvaluable => {
                "caller type not evaluable against identity-based policies"
            }
        }
    }

    /// For temporary files.
    pub fn index(self) -> u8 {
        self as u8
    }

    /// Inverse of [`SkipKind::index`].
    pub fn from_index(i: u8) -> Option<SkipKind> {
        SkipKind::ALL.get(usize::from(i)).copied()
    }
}

/// Why one event was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// What kind of reason.
    pub kind: SkipKind,
    /// The reason in full, naming the record's values where they matter.
    pub detail: String,
}

impl Skip {
    /// A reason whose detail is its kind's label.
    pub fn plain(kind: SkipKind) -> Skip {
        Skip {
            kind,
            detail: kind.label().to_string(),
        }
    }

    /// A reason with its own detail.
    pub fn new(kind: SkipKind, detail: impl Into<String>) -> Skip {
        Skip {
            kind,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_round_trip_and_labels_differ() {
        let mut labels = std::collections::HashSet::new();
        for k in SkipKind::ALL {
            assert_eq!(SkipKind::from_index(k.index()), Some(k));
            assert!(labels.insert(k.label()), "{k:?}");
        }
        assert_eq!(SkipKind::from_index(SkipKind::ALL.len() as u8), None);
    }
}
