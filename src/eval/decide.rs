//! A mapped event decided against a policy set: the principal's policies found (identity,
//! boundary, SCPs), then evaluated.

use crate::eval::{self, evaluate, Decision, PolicyKind, PolicyStack, TagState};
use crate::mapping::{Mapped, PrincipalType};
use crate::policy::set::{PolicySet, Resolved};
use crate::policy::CompiledPolicy;

/// One policy set's decision for an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    /// The decision.
    pub decision: Decision,
    /// Why, in words: the deciding statements, or what the answer depends on.
    pub reason: String,
    /// For a denial by policies, the kinds of policy that denied (explicitly or by not
    /// allowing).
    pub denied_by: Vec<(bool, PolicyKind)>,
}

/// Tags of a principal the policy set does not describe.
pub(crate) static UNKNOWN_TAGS: TagState = TagState::Unknown;

/// The policies that apply to a mapped event's principal, with the principal's tags, or the
/// decision to report when they cannot be known.
pub(crate) fn stack_for<'p>(
    set: &'p PolicySet,
    scps: &'p [CompiledPolicy],
    m: &Mapped,
) -> Result<(PolicyStack<'p>, Option<&'p TagState>), Decided> {
    let p = &m.principal;
    // SCPs do not apply to service-linked roles (AWS Organizations User Guide, "SCP effects on
    // permissions").
    let scp_levels: Vec<Vec<&CompiledPolicy>> = if p.service_linked {
        Vec::new()
    } else {
        scps.iter().map(|s| vec![s]).collect()
    };
    let resolved = p
        .kind
        .policy_holder()
        .map(|holder| set.resolve(holder, &p.policy_arn, &p.account, &p.name));
    let (mut stack, tags) = match resolved {
        // The root user is not subject to identity-based policies, only to SCPs.
        None => (
            PolicyStack {
                identity_implicit_allow: true,
                ..PolicyStack::default()
            },
            None,
        ),
        Some(Resolved::Outside) => {
            return Err(Decided {
                decision: Decision::Indeterminate,
                reason: "not managed by the change".to_string(),
                denied_by: Vec::new(),
            })
        }
        Some(Resolved::Missing(why)) => {
            return Err(Decided {
                decision: Decision::Indeterminate,
                reason: why,
                denied_by: Vec::new(),
            })
        }
        Some(Resolved::Found {
            identity,
            boundary,
            tags,
        }) => (
            PolicyStack {
                identity,
                boundary,
                ..PolicyStack::default()
            },
            tags,
        ),
    };
    stack.scp_levels = scp_levels;
    Ok((stack, tags))
}

/// Does the policy set describe only the principals a change manages, without this event's?
/// Its decision for the event is then whatever happened.
pub fn outside(set: &PolicySet, m: &Mapped) -> bool {
    let p = &m.principal;
    set.is_partial()
        && p.kind.policy_holder().is_some_and(|holder| {
            matches!(
                set.resolve(holder, &p.policy_arn, &p.account, &p.name),
                Resolved::Outside
            )
        })
}

/// Evaluates a mapped event against a policy set (plus SCPs).
pub fn decide(set: &PolicySet, scps: &[CompiledPolicy], m: &Mapped) -> Decided {
    decide_keeping(set, scps, m).0
}

/// [`decide`], and the evaluation of the event's request when it is the one the decision came
/// from (the request is fully known): what [`crate::eval::explain::explain_evaluated`] needs.
pub fn decide_keeping(
    set: &PolicySet,
    scps: &[CompiledPolicy],
    m: &Mapped,
) -> (Decided, Option<eval::Evaluation>) {
    let (stack, tags) = match stack_for(set, scps, m) {
        Ok(s) => s,
        Err(d) => return (d, None),
    };
    let tags = tags.unwrap_or(&UNKNOWN_TAGS);
    let (mut e, whole) = match &m.unlogged {
        None => (evaluate(&stack, &m.request, tags), true),
        Some(u) => (
            eval::variants::evaluate_partial(
                &stack,
                &eval::variants::Partial {
                    named: &m.request,
                    variants: &u.variants,
                    kinds: &u.kinds,
                    what: u.what,
                },
                tags,
            ),
            false,
        ),
    };
    let decided = if m.principal.kind == PrincipalType::FederatedUser
        && e.decision == Decision::Allowed
    {
        Decided {
            decision: Decision::Indeterminate,
            reason: format!(
                "{}; but a federated user's permissions are also limited by the session policy passed to GetFederationToken, which the log does not show",
                e.reason
            ),
            // The explanation reads the per-resource evaluations, not these fields.
            denied_by: std::mem::take(&mut e.denied_by),
        }
    } else {
        Decided {
            decision: e.decision,
            reason: std::mem::take(&mut e.reason),
            denied_by: std::mem::take(&mut e.denied_by),
        }
    };
    (decided, whole.then_some(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{Context, Request, Resource};
    use crate::mapping::Principal;
    use crate::policy::compile_text;

    fn policy(name: &str, text: &str) -> CompiledPolicy {
        compile_text(name, text).policy.expect("policy")
    }

    fn mapped(kind: PrincipalType, policy_arn: &str) -> Mapped {
        Mapped {
            principal: Principal {
                kind,
                arn: String::new(),
                policy_arn: policy_arn.to_string(),
                name: policy_arn.rsplit('/').next().unwrap_or("").to_string(),
                account: "1".to_string(),
                context_arn: String::new(),
                service_linked: policy_arn.contains("/aws-service-role/"),
            },
            request: Request::new(
                "ssm:StartSession",
                vec![Resource::new(
                    "arn:aws:ec2:r:1:instance/i-1",
                    TagState::none(),
                )],
                Context::replayed(),
            ),
            session_target: None,
            session_id: None,
            unlogged: None,
        }
    }

    const ALLOW: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:*","Resource":"*"}}"#;
    const DENY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"ssm:StartSession","Resource":"*"}]}"#;

    #[test]
    fn root_is_not_subject_to_identity_policies_but_to_scps() {
        let none = PolicySet::from_documents(vec![]);
        let m = mapped(PrincipalType::Root, "arn:aws:iam::1:root");
        assert_eq!(decide(&none, &[], &m).decision, Decision::Allowed);
        let scp = [policy("scp.json", DENY)];
        assert_eq!(decide(&none, &scp, &m).decision, Decision::ExplicitDeny);
    }

    #[test]
    fn federated_users_depend_on_an_unlogged_session_policy() {
        let set = PolicySet::from_documents(vec![policy("p.json", ALLOW)]);
        let m = mapped(PrincipalType::FederatedUser, "arn:aws:iam::1:user/issuer");
        let side = decide(&set, &[], &m);
        assert_eq!(side.decision, Decision::Indeterminate);
        assert!(
            side.reason.contains("GetFederationToken"),
            "{}",
            side.reason
        );
        let none = PolicySet::from_documents(vec![]);
        assert_eq!(decide(&none, &[], &m).decision, Decision::ImplicitDeny);
    }

    #[test]
    fn scps_do_not_apply_to_service_linked_roles() {
        let set = PolicySet::from_documents(vec![policy("p.json", ALLOW)]);
        let scp = [policy("scp.json", DENY)];
        let slr = mapped(
            PrincipalType::AssumedRole,
            "arn:aws:iam::1:role/aws-service-role/ssm.amazonaws.com/AWSServiceRoleForAmazonSSM",
        );
        assert_eq!(decide(&set, &scp, &slr).decision, Decision::Allowed);
        let role = mapped(PrincipalType::AssumedRole, "arn:aws:iam::1:role/Ops");
        assert_eq!(decide(&set, &scp, &role).decision, Decision::ExplicitDeny);
    }
}
