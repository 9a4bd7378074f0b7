//! Requests with a resource the log does not name.
//!
//! A denied call may be logged without its request parameters; the error message then names
//! only the resource IAM refused first (CloudTrail User Guide; IAM User Guide, "Troubleshoot
//! access denied error messages"). The request is known in part: the named resources, plus one
//! resource of a known shape (a session document, a target) whose name is not in the log. It is
//! decided three-valued: denied when the named resources alone are denied (every request adds to
//! them); otherwise the same decision in every variant (each concrete case and a probe standing
//! for "any other name"), provided no statement names resources of that shape specifically
//! without matching the probe (then the probe stands for some names only); else
//! `indeterminate`, naming what is missing.

use super::authorize::{evaluate, Decision, Evaluation, PolicyStack};
use super::request::{Request, TagState};

/// A name no policy author writes, for a probe resource: only a pattern that matches every name
/// matches it. Reasons show it as `<unnamed>`.
pub const PROBE_NAME: &str = "\u{1}trailreplay-probe-any-name\u{1}";

fn unprobe(text: &str) -> String {
    text.replace(PROBE_NAME, "<unnamed>")
}

/// A request known in part.
pub struct Partial<'r> {
    /// The named resources only.
    pub named: &'r Request,
    /// One request per case of the missing resource.
    pub variants: &'r [Request],
    /// The missing resource's possible ARN shapes: (service, resource-part prefix).
    pub kinds: &'r [(&'static str, &'static str)],
    /// What is missing, for reasons.
    pub what: &'static str,
}

/// Decides a partially known request.
pub fn evaluate_partial(
    stack: &PolicyStack<'_>,
    partial: &Partial<'_>,
    principal_tags: &TagState,
) -> Evaluation {
    let named = evaluate(stack, partial.named, principal_tags);
    if named.decision.is_denied() {
        let mut e = named;
        e.reason = format!(
            "{} (whatever the {}, which the record does not name)",
            e.reason, partial.what
        );
        return e;
    }
    let outcomes: Vec<Evaluation> = partial
        .variants
        .iter()
        .map(|r| evaluate(stack, r, principal_tags))
        .collect();
    let complete = !names_specifically(stack, partial);
    let first_allowed = outcomes.iter().find(|e| e.decision == Decision::Allowed);
    let first_denied = outcomes.iter().find(|e| e.decision.is_denied());
    let unknown_keys: Vec<String> = outcomes
        .iter()
        .flat_map(|e| e.unknown_keys.iter().cloned())
        .fold(Vec::new(), |mut acc, k| {
            if !acc.contains(&k) {
                acc.push(k);
            }
            acc
        });
    let agreed = |d: Decision| outcomes.iter().all(|e| e.decision == d);
    match (first_allowed, first_denied) {
        (Some(_), None) if complete && agreed(Decision::Allowed) => {
            let mut e = named;
            e.reason = format!(
                "{}, whatever the {} (the record does not name it)",
                e.reason, partial.what
            );
            e
        }
        (None, Some(d)) if complete && outcomes.iter().all(|e| e.decision.is_denied()) => {
            let mut e = d.clone();
            e.reason = format!(
                "{} (whatever the {}, which the record does not name)",
                unprobe(&e.reason),
                partial.what
            );
            e
        }
        _ => {
            let detail = match (first_allowed, first_denied) {
                (Some(_), Some(d)) => format!(
                    "allowed for some, denied for others ({})",
                    unprobe(&d.reason)
                ),
                _ if !complete => {
                    format!("a statement names some {}s and not others", partial.what)
                }
                _ => "its decision depends on unknown keys".to_string(),
            };
            Evaluation {
                decision: Decision::Indeterminate,
                resources: named.resources,
                deciding: Vec::new(),
                unknown_keys,
                denied_by: Vec::new(),
                reason: format!(
                    "depends on the {}, which the record does not name (a denied call is logged without request parameters): {detail}",
                    partial.what
                ),
            }
        }
    }
}

/// Does a statement that applies to the action name resources of the missing shape without
/// matching the probe (so that the probe does not stand for every name)?
pub fn names_specifically(stack: &PolicyStack<'_>, partial: &Partial<'_>) -> bool {
    let action = partial.named.action_lower();
    // The probe resources: those of the variants that are not among the named ones.
    let probes: Vec<&str> = partial
        .variants
        .iter()
        .flat_map(|r| r.resources.iter())
        .filter(|r| !partial.named.resources.contains(r))
        .map(|r| r.arn.as_str())
        .collect();
    let policies = stack
        .identity
        .iter()
        .chain(stack.scp_levels.iter().flatten())
        .chain(stack.boundary.iter())
        .chain(stack.session.iter());
    for p in policies {
        for s in &p.statements {
            if !s.action_applies(action) {
                continue;
            }
            for pattern in &s.resources {
                let names_kind = partial
                    .kinds
                    .iter()
                    .any(|(service, prefix)| pattern.could_name(service, prefix));
                if !names_kind {
                    continue;
                }
                let matches_probe = probes.iter().any(|arn| {
                    pattern.matches_with(arn, &|_| crate::policy::pattern::VarValue::Unknown)
                        == crate::policy::Tri::True
                });
                // Under `NotResource`, a listed name is excluded: the probe cannot stand for it.
                if s.not_resource || !matches_probe {
                    return true;
                }
            }
        }
    }
    false
}
