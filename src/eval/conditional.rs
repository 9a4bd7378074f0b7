//! Resources evaluated only when the allowing statements ask for them ([`super::Conditional`]).
//! The engine knows no service: the mapping of a service's events names the resource and the
//! condition key (Session Manager's default document and `ssm:SessionDocumentAccessCheck`).

use super::authorize::{
    combine, find_statement, Deciding, PolicyKind, PolicyStack, ResourceEvaluation,
};
use super::Decision;
use crate::policy::Effect;

/// Is the conditional resource evaluated? Only when the request is allowed so far and, on every
/// resource, every identity-based statement that allows it uses `key` (lower case).
pub(super) fn is_evaluated(
    stack: &PolicyStack<'_>,
    per_resource: &[ResourceEvaluation],
    key: &str,
) -> bool {
    combine(per_resource) == Decision::Allowed
        && per_resource.iter().all(|r| {
            let allows: Vec<&Deciding> = r
                .deciding
                .iter()
                .filter(|d| d.effect == Effect::Allow && d.kind == PolicyKind::Identity)
                .collect();
            !allows.is_empty()
                && allows
                    .iter()
                    .all(|d| find_statement(stack, d).is_some_and(|s| s.has_condition_key(key)))
        })
}
