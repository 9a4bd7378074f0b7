//! Baseline against candidate: each event's change.
//!
//! The baseline is the outcome recorded in the log (an access-denied `errorCode` means denied;
//! any other outcome passed authorization) or a second policy set. `uncertain` when either side
//! is indeterminate or cannot be resolved; `skipped` when the event cannot be evaluated at all.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::decode::SsmEvent;
use crate::eval::decide::{decide, decide_keeping, outside, stack_for, Decided, UNKNOWN_TAGS};
use crate::eval::explain::{explain, explain_evaluated, Explanation};
use crate::eval::{self, evaluate, Decision, PolicyKind};
use crate::mapping::denial::{Layer, Reason};
use crate::mapping::{self, Mapped, PrincipalType};
use crate::policy::set::PolicySet;

/// What the candidate changes for one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// The candidate denies what the baseline allowed.
    NewlyDenied,
    /// The candidate allows what the baseline denied.
    NewlyAllowed,
    /// Either side depends on what the log does not tell.
    Uncertain,
    /// Both sides agree.
    Unchanged,
    /// The event cannot be evaluated (the reason says why).
    Skipped,
}

impl Change {
    /// Every change, in report order.
    pub const ALL: [Change; 5] = [
        Change::NewlyDenied,
        Change::NewlyAllowed,
        Change::Uncertain,
        Change::Unchanged,
        Change::Skipped,
    ];
    /// The report's word.
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
    /// Passed authorization.
    Allowed,
    /// Failed authorization.
    Denied,
    /// Depends on what the log does not tell.
    Uncertain,
}

/// What one side says of an event: a policy set's decision, or the outcome the log recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Decided by a policy set.
    Evaluated(Decision),
    /// Recorded in the log: passed authorization (`false`) or was denied (`true`).
    Recorded {
        /// The call was denied.
        denied: bool,
    },
}

impl Verdict {
    /// Every verdict, in a fixed order (see [`Verdict::index`]).
    pub const ALL: [Verdict; 6] = [
        Verdict::Evaluated(Decision::Allowed),
        Verdict::Evaluated(Decision::ExplicitDeny),
        Verdict::Evaluated(Decision::ImplicitDeny),
        Verdict::Evaluated(Decision::Indeterminate),
        Verdict::Recorded { denied: false },
        Verdict::Recorded { denied: true },
    ];

    /// The report's word (`allowed`, `implicitDeny`, `denied`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Evaluated(d) => d.as_str(),
            Verdict::Recorded { denied: true } => "denied",
            Verdict::Recorded { denied: false } => "allowed",
        }
    }

    /// What comparison needs of it.
    pub fn outcome(self) -> Outcome {
        match self {
            Verdict::Evaluated(d) => d.into(),
            Verdict::Recorded { denied: true } => Outcome::Denied,
            Verdict::Recorded { denied: false } => Outcome::Allowed,
        }
    }

    /// Its place in [`Verdict::ALL`] (for temporary files).
    pub fn index(self) -> u8 {
        Verdict::ALL.iter().position(|v| *v == self).unwrap_or(0) as u8
    }

    /// Inverse of [`Verdict::index`].
    pub fn from_index(i: u8) -> Option<Verdict> {
        Verdict::ALL.get(usize::from(i)).copied()
    }
}

/// One side of the comparison for an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Side {
    /// The side's verdict.
    pub verdict: Verdict,
    /// Why, in words.
    pub reason: String,
    /// For a denial by policies, the kinds of policy that denied.
    pub denied_by: Vec<(bool, PolicyKind)>,
}

impl Side {
    fn outcome(&self) -> Outcome {
        self.verdict.outcome()
    }
}

impl From<Decided> for Side {
    fn from(d: Decided) -> Side {
        Side {
            verdict: Verdict::Evaluated(d.decision),
            reason: d.reason,
            denied_by: d.denied_by,
        }
    }
}

/// The side the log recorded.
pub fn recorded_side(ev: &SsmEvent) -> Side {
    let denied = recorded(ev.error_code.as_deref()) == Outcome::Denied;
    let reason = if denied {
        format!(
            "recorded {}: {}",
            ev.error_code.as_deref().unwrap_or(""),
            ev.error_message.as_deref().unwrap_or("")
        )
    } else {
        match ev.error_code.as_deref() {
            Some(c) => format!("recorded: passed authorization (failed later with {c})"),
            None => "recorded: succeeded".to_string(),
        }
    };
    Side {
        verdict: Verdict::Recorded { denied },
        reason,
        denied_by: Vec::new(),
    }
}

/// The policies a replay compares: the candidates and the baseline (none: the log's outcomes),
/// each with its SCPs.
#[derive(Clone, Copy)]
pub struct Sides<'a> {
    /// The proposed policy sets (usually one), each compared with the baseline.
    pub candidates: &'a [PolicySet],
    /// The policies in force, when given (`--baseline`).
    pub baseline: Option<&'a PolicySet>,
}

/// One candidate's verdict on an event.
pub struct Candidate {
    /// The candidate's side.
    pub side: Side,
    /// What the candidate changes.
    pub change: Change,
    /// For a changed event: what decided on each side, and why.
    pub explained: Option<Box<Explained>>,
}

/// What flipped: each side's explanation of its decision (the baseline's only when it is a
/// policy set; the log's outcome has no statements).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explained {
    /// The candidate's.
    pub candidate: Explanation,
    /// The baseline policy set's.
    pub baseline: Option<Explanation>,
}

impl Explained {
    /// One line: `candidate: …; baseline: …`.
    pub fn line(&self) -> String {
        match &self.baseline {
            Some(b) => format!(
                "candidate: {}; baseline: {}",
                self.candidate.line(),
                b.line()
            ),
            None => format!("candidate: {}", self.candidate.line()),
        }
    }
}

/// A policy set's explanation of its decision for a mapped event (none when its policies are
/// not known).
fn explanation(
    set: &PolicySet,
    m: &Mapped,
    evaluated: Option<&eval::Evaluation>,
) -> Option<Explanation> {
    let (stack, tags) = stack_for(set, &set.scps, m).ok()?;
    let tags = tags.unwrap_or(&UNKNOWN_TAGS);
    Some(match evaluated {
        Some(e) => explain_evaluated(&stack, &m.request, tags, e),
        None => explain(&stack, &m.request, tags),
    })
}

/// An event's verdict before any row is built.
pub struct Judged {
    /// The event as the authorization request.
    pub mapped: Mapped,
    /// Each candidate's side and change, in [`Sides::candidates`] order.
    pub candidates: Vec<Candidate>,
    /// The baseline's side (the log's, without a baseline policy set), decided once.
    pub baseline: Side,
    /// With a baseline policy set: does it reproduce the recorded outcome?
    pub fidelity: Option<Agreement>,
}

/// Decides a mapped event on the baseline's side and every candidate's, and compares them.
pub fn judge(sides: Sides<'_>, ev: &SsmEvent, mapped: Mapped) -> Judged {
    let recorded = recorded_side(ev);
    let as_recorded = recorded.verdict;
    let (baseline, fidelity) = match sides.baseline {
        Some(b) if outside(b, &mapped) => (untouched(as_recorded), None),
        Some(b) => {
            let side: Side = decide(b, &b.scps, &mapped).into();
            let agreement = agreement(&side, &recorded, ev);
            (side, Some(agreement))
        }
        None => (recorded, None),
    };
    // Each candidate's evaluation of the request, kept for its explanation.
    let mut evaluations: Vec<Option<eval::Evaluation>> = Vec::new();
    let candidates = sides
        .candidates
        .iter()
        .map(|set| {
            if outside(set, &mapped) {
                evaluations.push(None);
                let side = untouched(as_recorded);
                let change = compare(baseline.outcome(), side.outcome());
                return Candidate {
                    side,
                    change,
                    explained: None,
                };
            }
            let (decided, evaluation) = decide_keeping(set, &set.scps, &mapped);
            evaluations.push(evaluation);
            let side: Side = decided.into();
            let mut change = compare(baseline.outcome(), side.outcome());
            if change == Change::Uncertain {
                if let Some(b) = sides.baseline {
                    if let Some(settled) = change_in_every_world(set, b, &mapped) {
                        change = settled;
                    }
                }
            }
            Candidate {
                side,
                change,
                explained: None,
            }
        })
        .collect::<Vec<_>>();
    // What flipped, for the changed events only (the rest is never explained).
    let mut candidates = candidates;
    let mut base_explained: Option<Option<Explanation>> = None;
    for ((c, set), evaluated) in candidates
        .iter_mut()
        .zip(sides.candidates)
        .zip(&evaluations)
    {
        if !matches!(
            c.change,
            Change::NewlyDenied | Change::NewlyAllowed | Change::Uncertain
        ) || outside(set, &mapped)
        {
            continue;
        }
        let Some(candidate) = explanation(set, &mapped, evaluated.as_ref()) else {
            continue;
        };
        let baseline = base_explained
            .get_or_insert_with(|| sides.baseline.and_then(|b| explanation(b, &mapped, None)))
            .clone();
        c.explained = Some(Box::new(Explained {
            candidate,
            baseline,
        }));
    }
    Judged {
        mapped,
        candidates,
        baseline,
        fidelity,
    }
}

/// The side of a policy set that does not manage the event's principal: what the log recorded.
fn untouched(recorded: Verdict) -> Side {
    Side {
        verdict: recorded,
        reason: "not managed by the change: as recorded".to_string(),
        denied_by: Vec::new(),
    }
}

/// Does the baseline side reproduce the recorded outcome, and for a denial the kind of policy
/// AWS's message names?
fn agreement(side: &Side, recorded: &Side, ev: &SsmEvent) -> Agreement {
    if side.outcome() == Outcome::Uncertain {
        return Agreement::Uncertain;
    }
    if side.outcome() != recorded.outcome() {
        return Agreement::Disagrees(format!(
            "recorded {}, baseline {}",
            recorded.verdict.as_str(),
            side.verdict.as_str()
        ));
    }
    let Some(named) = mapping::recorded_reason(ev) else {
        return Agreement::Agrees;
    };
    let layer = |kind: PolicyKind| match kind {
        PolicyKind::Identity => Layer::Identity,
        PolicyKind::Scp(_) => Layer::ServiceControl,
        PolicyKind::Boundary => Layer::Boundary,
        PolicyKind::Session => Layer::Session,
    };
    if side
        .denied_by
        .iter()
        .any(|(explicit, kind)| *explicit == named.explicit && layer(*kind) == named.layer)
    {
        return Agreement::Agrees;
    }
    let baseline: Vec<String> = side
        .denied_by
        .iter()
        .map(|(explicit, kind)| {
            Reason {
                explicit: *explicit,
                layer: layer(*kind),
            }
            .to_string()
        })
        .collect();
    Agreement::Disagrees(format!(
        "AWS: {named}; baseline: {}",
        if baseline.is_empty() {
            "denied".to_string()
        } else {
            baseline.join(", ")
        }
    ))
}

/// With two policy sets, an event whose side is `indeterminate` may still have one change in
/// every possible world of the unknown keys (the same policy on both sides changes nothing,
/// whatever the keys hold). `Some(change)` when every joint world gives that change.
fn change_in_every_world(
    candidate: &PolicySet,
    baseline: &PolicySet,
    m: &Mapped,
) -> Option<Change> {
    if m.principal.kind == PrincipalType::FederatedUser {
        return None;
    }
    let (base, base_tags) = stack_for(baseline, &baseline.scps, m).ok()?;
    let (cand, cand_tags) = stack_for(candidate, &candidate.scps, m).ok()?;
    // Principal tags come from the same snapshot on both sides when both have them.
    let tags = match (base_tags, cand_tags) {
        (Some(a), Some(b)) if a == b => a,
        (None, None) => &UNKNOWN_TAGS,
        _ => return None,
    };
    // A request known in part stands for its variants, when they cover every case on both
    // sides.
    let requests: &[eval::Request] = match &m.unlogged {
        None => std::slice::from_ref(&m.request),
        Some(u) => {
            let partial = eval::variants::Partial {
                named: &m.request,
                variants: &u.variants,
                kinds: &u.kinds,
                what: u.what,
            };
            if eval::variants::names_specifically(&base, &partial)
                || eval::variants::names_specifically(&cand, &partial)
            {
                return None;
            }
            &u.variants
        }
    };
    let mut changes: HashSet<Change> = HashSet::new();
    for request in requests {
        let eval::worlds::Enumeration::Worlds(variables) =
            eval::worlds::enumerate(&[&base, &cand], request, tags)
        else {
            return None;
        };
        eval::worlds::for_each_world(&variables, request, tags, |_, req, t| {
            let b = evaluate(&base, req, t).decision;
            let c = evaluate(&cand, req, t).decision;
            changes.insert(compare(b.into(), c.into()));
        });
    }
    match changes.len() {
        1 => changes.into_iter().next(),
        _ => None,
    }
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
    /// Same outcome, and for a denial the kind of policy AWS's message names.
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

/// The change from the baseline's outcome to the candidate's.
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

    #[test]
    fn verdict_indexes_round_trip() {
        for v in Verdict::ALL {
            assert_eq!(Verdict::from_index(v.index()), Some(v));
        }
        assert_eq!(Verdict::from_index(6), None);
        assert_eq!(
            Verdict::Recorded { denied: true }.outcome(),
            Outcome::Denied
        );
        assert_eq!(
            Verdict::Evaluated(Decision::Indeterminate).outcome(),
            Outcome::Uncertain
        );
    }
}
