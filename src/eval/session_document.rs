//! Session Manager's default-document rule, kept apart from the general evaluator.
//!
//! A StartSession that names no document runs `SSM-SessionManagerRunShell`, and IAM checks that
//! document only when the statements allowing the call use the `ssm:SessionDocumentAccessCheck`
//! condition key (Systems Manager User Guide, "Enforce a session document permission check for
//! the AWS CLI"). The mapping puts that document in [`super::Request::default_document`]; this
//! module decides whether it joins the evaluated resources.

use super::authorize::{
    combine, find_statement, Deciding, PolicyKind, PolicyStack, ResourceEvaluation,
};
use super::Decision;
use crate::policy::Effect;

/// The condition key (lower case: keys are case-insensitive) that asks for the check.
const DOC_CHECK_KEY: &str = "ssm:sessiondocumentaccesscheck";

/// Is the default document checked? Only when the call is allowed so far and, on every
/// resource, every identity-based statement that allows it uses the check key.
pub(super) fn default_document_is_checked(
    stack: &PolicyStack<'_>,
    per_resource: &[ResourceEvaluation],
) -> bool {
    combine(per_resource) == Decision::Allowed
        && per_resource.iter().all(|r| {
            let allows: Vec<&Deciding> = r
                .deciding
                .iter()
                .filter(|d| d.effect == Effect::Allow && d.kind == PolicyKind::Identity)
                .collect();
            !allows.is_empty()
                && allows.iter().all(|d| {
                    find_statement(stack, d).is_some_and(|s| s.has_condition_key(DOC_CHECK_KEY))
                })
        })
}
