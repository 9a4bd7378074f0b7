//! The decision: compiled policies × request → `allowed`, `explicitDeny`, `implicitDeny` or
//! `indeterminate`, with the statements that decided it.
//!
//! IAM User Guide, "Policy evaluation logic": an explicit deny in any policy wins; otherwise the
//! identity-based policies must allow, every SCP level must allow, and the permissions boundary
//! and session policies must allow when present. A boundary, SCP or session policy alone grants
//! nothing. Evaluation is three-valued: where a key is unknown and the decision would differ with
//! its value, the decision is `indeterminate` and names the keys.

use std::fmt;

use super::request::{Env, Request, Resource, TagState};
use super::worlds;
use crate::policy::compile::{CompiledPolicy, Effect, Statement};
use crate::policy::condition::{self, SplitArn};
use crate::policy::pattern::Tri;

/// The four decision words (the first three are those of AWS's policy simulator).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Decision {
    /// Every applicable policy type allows.
    Allowed,
    /// The answer depends on keys the request does not carry.
    Indeterminate,
    /// No statement allows (or a policy type that must allow does not).
    ImplicitDeny,
    /// A statement denies.
    ExplicitDeny,
}

impl Decision {
    /// The report's word (`allowed`, `implicitDeny`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::ExplicitDeny => "explicitDeny",
            Decision::ImplicitDeny => "implicitDeny",
            Decision::Indeterminate => "indeterminate",
        }
    }
    /// An explicit or implicit deny.
    pub fn is_denied(self) -> bool {
        matches!(self, Decision::ExplicitDeny | Decision::ImplicitDeny)
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which kind of policy a statement came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// Identity-based policies of the principal.
    Identity,
    /// A service control policy, by level (0: the root).
    Scp(usize),
    /// The permissions boundary.
    Boundary,
    /// A session policy.
    Session,
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyKind::Identity => f.write_str("identity-based policy"),
            PolicyKind::Scp(level) => write!(f, "SCP level {}", level + 1),
            PolicyKind::Boundary => f.write_str("permissions boundary"),
            PolicyKind::Session => f.write_str("session policy"),
        }
    }
}

/// A statement that took part in a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deciding {
    /// The policy's source (file name).
    pub policy: std::sync::Arc<str>,
    /// Its kind.
    pub kind: PolicyKind,
    /// 1-based.
    pub statement: usize,
    /// The statement's `Sid`.
    pub sid: Option<String>,
    /// `Allow` or `Deny`.
    pub effect: Effect,
}

impl fmt::Display for Deciding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} statement {}", self.policy, self.statement)?;
        if let Some(sid) = self.sid.as_deref().filter(|s| !s.is_empty()) {
            write!(f, " (Sid {sid})")?;
        }
        Ok(())
    }
}

/// The policies that apply to one principal.
#[derive(Debug, Clone, Default)]
pub struct PolicyStack<'p> {
    /// Identity-based policies (inline and managed).
    pub identity: Vec<&'p CompiledPolicy>,
    /// The root user: identity policies do not apply and the identity gate is open.
    pub identity_implicit_allow: bool,
    /// SCP levels, root first; every level must allow.
    pub scp_levels: Vec<Vec<&'p CompiledPolicy>>,
    /// The permissions boundary, if any.
    pub boundary: Option<&'p CompiledPolicy>,
    /// Session policies, if any.
    pub session: Vec<&'p CompiledPolicy>,
}

/// The decision for one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceEvaluation {
    /// The resource.
    pub arn: String,
    /// Its decision.
    pub decision: Decision,
    /// The statements that decided.
    pub deciding: Vec<Deciding>,
    /// Keys the decision depends on that the request does not know.
    pub unknown_keys: Vec<String>,
    /// Why, in words.
    pub reason: String,
    /// For a denial, the kinds of policy that denied: `(true, kind)` for an explicit deny in
    /// that kind, `(false, kind)` for that kind not allowing. AWS names one of them in its
    /// access-denied message (IAM User Guide, "Troubleshoot access denied error messages").
    pub denied_by: Vec<(bool, PolicyKind)>,
}

/// The decision for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The decision.
    pub decision: Decision,
    /// Per resource, its own decision.
    pub resources: Vec<ResourceEvaluation>,
    /// The statements that decided.
    pub deciding: Vec<Deciding>,
    /// Keys the decision depends on that the request does not know.
    pub unknown_keys: Vec<String>,
    /// Why, in words.
    pub reason: String,
    /// For a denial, the kinds of policy that denied (see [`ResourceEvaluation::denied_by`]).
    pub denied_by: Vec<(bool, PolicyKind)>,
}

/// Evaluates `request` against `stack`. An `indeterminate` answer of the three-valued pass is
/// checked over the possible worlds of the unknown keys (`eval::worlds`): it stays
/// `indeterminate` only when two worlds decide differently, or when the worlds cannot be listed
/// (the reason says why).
pub fn evaluate(
    stack: &PolicyStack<'_>,
    request: &Request,
    principal_tags: &TagState,
) -> Evaluation {
    let first = evaluate_once(stack, request, principal_tags);
    if first.decision != Decision::Indeterminate {
        return first;
    }
    settle(stack, request, principal_tags, first)
}

/// Decides an `indeterminate` evaluation world by world.
fn settle(
    stack: &PolicyStack<'_>,
    request: &Request,
    principal_tags: &TagState,
    mut first: Evaluation,
) -> Evaluation {
    let variables = match worlds::enumerate(&[stack], request, principal_tags) {
        worlds::Enumeration::Worlds(v) => v,
        worlds::Enumeration::Unsettled(why) => {
            first
                .reason
                .push_str(&format!(" (cannot be settled: {why})"));
            return first;
        }
    };
    let mut outcomes: Vec<(Vec<usize>, Evaluation)> = Vec::new();
    worlds::for_each_world(&variables, request, principal_tags, |choice, req, tags| {
        let e = evaluate_once(stack, req, tags);
        if !outcomes.iter().any(|(_, o)| o.decision == e.decision) {
            outcomes.push((choice.to_vec(), e));
        }
    });
    let names: Vec<&str> = variables.iter().map(|v| v.name.as_str()).collect();
    let world = |choice: &[usize]| -> String {
        variables
            .iter()
            .zip(choice)
            .map(|(v, &i)| worlds::describe(v, i))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let allowed = outcomes
        .iter()
        .find(|(_, e)| e.decision == Decision::Allowed);
    let denied = outcomes.iter().find(|(_, e)| e.decision.is_denied());
    match (allowed, denied) {
        (Some((a, _)), Some((d, _))) => {
            // Name only the keys whose values differ between the two example worlds.
            let differ: Vec<usize> = (0..variables.len()).filter(|&i| a[i] != d[i]).collect();
            let part = |choice: &[usize]| -> String {
                differ
                    .iter()
                    .map(|&i| worlds::describe(&variables[i], choice[i]))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            first.reason = format!(
                "depends on unknown keys: {} (allowed when {}; denied when {})",
                first.unknown_keys.join(", "),
                part(a),
                part(d)
            );
            first
        }
        (Some(_), None) | (None, Some(_)) => {
            // One decision in every world (denials may differ in kind: the implicit one is
            // certain, the explicit one depends on the keys, as in the three-valued pass).
            let pick = outcomes
                .iter()
                .find(|(_, e)| e.decision == Decision::ImplicitDeny)
                .or(outcomes.first());
            let Some((_, e)) = pick else {
                return first;
            };
            let mut e = e.clone();
            let explicit = outcomes
                .iter()
                .find(|(_, o)| o.decision == Decision::ExplicitDeny);
            match explicit {
                Some((c, _)) if e.decision == Decision::ImplicitDeny => {
                    e.reason = format!(
                        "{} (an explicit deny also applies when {})",
                        e.reason,
                        world(c)
                    );
                    e.unknown_keys = first.unknown_keys.clone();
                }
                _ => {
                    e.reason = format!("{}, whatever {} hold", e.reason, names.join(", "));
                }
            }
            e
        }
        (None, None) => first,
    }
}

fn evaluate_once(
    stack: &PolicyStack<'_>,
    request: &Request,
    principal_tags: &TagState,
) -> Evaluation {
    let mut per_resource: Vec<ResourceEvaluation> = request
        .resources
        .iter()
        .map(|r| evaluate_resource(stack, request, r, principal_tags))
        .collect();
    if let Some(c) = &request.conditional {
        if super::conditional::is_evaluated(stack, &per_resource, &c.key) {
            per_resource.push(evaluate_resource(
                stack,
                request,
                &c.resource,
                principal_tags,
            ));
        }
    }
    let decision = combine(&per_resource);
    let deciding_res: Vec<&ResourceEvaluation> = per_resource
        .iter()
        .filter(|r| r.decision == decision)
        .collect();
    let mut deciding: Vec<Deciding> = Vec::new();
    let mut unknown_keys: Vec<String> = Vec::new();
    let mut denied_by: Vec<(bool, PolicyKind)> = Vec::new();
    for r in &deciding_res {
        for d in &r.denied_by {
            if !denied_by.contains(d) {
                denied_by.push(*d);
            }
        }
        for d in &r.deciding {
            if !deciding.contains(d) {
                deciding.push(d.clone());
            }
        }
        for k in &r.unknown_keys {
            if !unknown_keys.contains(k) {
                unknown_keys.push(k.clone());
            }
        }
    }
    let reason = if per_resource.len() == 1 {
        per_resource[0].reason.clone()
    } else {
        deciding_res
            .iter()
            .map(|r| format!("{}: {}", r.arn, r.reason))
            .collect::<Vec<_>>()
            .join("; ")
    };
    Evaluation {
        decision,
        resources: per_resource,
        deciding,
        unknown_keys,
        reason,
        denied_by,
    }
}

pub(super) fn find_statement<'p>(stack: &PolicyStack<'p>, d: &Deciding) -> Option<&'p Statement> {
    stack
        .identity
        .iter()
        .find(|p| p.name == d.policy)
        .and_then(|p| p.statements.iter().find(|s| s.index + 1 == d.statement))
}

/// The most restrictive decision over resources: explicit deny, then implicit deny, then
/// indeterminate, then allowed.
pub fn combine(rs: &[ResourceEvaluation]) -> Decision {
    rs.iter()
        .map(|r| r.decision)
        .max()
        .unwrap_or(Decision::ImplicitDeny)
}

struct Gate {
    kind: PolicyKind,
    name: GateName,
    allow: Tri,
    allowing: Vec<Deciding>,
}

/// Names the policies of a gate, only when a reason needs them.
enum GateName {
    Identity,
    Policies(Vec<std::sync::Arc<str>>),
}

impl fmt::Display for GateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GateName::Identity => Ok(()),
            GateName::Policies(names) => {
                for (i, n) in names.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(n)?;
                }
                Ok(())
            }
        }
    }
}

fn deciding(policy: &CompiledPolicy, kind: PolicyKind, s: &Statement) -> Deciding {
    Deciding {
        policy: policy.name.clone(),
        kind,
        statement: s.index + 1,
        sid: s.sid.clone(),
        effect: s.effect,
    }
}

fn evaluate_resource(
    stack: &PolicyStack<'_>,
    request: &Request,
    resource: &Resource,
    principal_tags: &TagState,
) -> ResourceEvaluation {
    let env = Env {
        context: &request.context,
        resource,
        split: SplitArn::new(&resource.arn),
        principal_tags,
    };
    let action = request.action_lower();
    let mut deny = Tri::False;
    let mut denying: Vec<Deciding> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    let mut gates: Vec<Gate> = Vec::new();

    let mut visit = |policies: &[&CompiledPolicy],
                     kind: PolicyKind,
                     gate_name: GateName,
                     gates: &mut Vec<Gate>| {
        let mut allow = Tri::False;
        let mut allowing = Vec::new();
        for p in policies {
            for s in &p.statements {
                let r = statement_applies(s, action, &env, &mut unknown);
                match (s.effect, r) {
                    (_, Tri::False) => {}
                    (Effect::Deny, t) => {
                        deny = deny.or(t);
                        if t == Tri::True {
                            denying.push(deciding(p, kind, s));
                        }
                    }
                    (Effect::Allow, t) => {
                        allow = allow.or(t);
                        if t == Tri::True {
                            allowing.push(deciding(p, kind, s));
                        }
                    }
                }
            }
        }
        gates.push(Gate {
            kind,
            name: gate_name,
            allow,
            allowing,
        });
    };

    visit(
        &stack.identity,
        PolicyKind::Identity,
        GateName::Identity,
        &mut gates,
    );
    if stack.identity_implicit_allow {
        if let Some(g) = gates.last_mut() {
            g.allow = Tri::True;
        }
    }
    for (level, scps) in stack.scp_levels.iter().enumerate() {
        let name = GateName::Policies(scps.iter().map(|p| p.name.clone()).collect());
        visit(scps, PolicyKind::Scp(level), name, &mut gates);
    }
    if let Some(b) = stack.boundary {
        visit(
            &[b],
            PolicyKind::Boundary,
            GateName::Policies(vec![b.name.clone()]),
            &mut gates,
        );
    }
    if !stack.session.is_empty() {
        let name = GateName::Policies(stack.session.iter().map(|p| p.name.clone()).collect());
        visit(&stack.session, PolicyKind::Session, name, &mut gates);
    }

    let allowed = gates.iter().fold(Tri::True, |acc, g| acc.and(g.allow));
    let arn = resource.arn.clone();
    let (decision, deciding, reason) = match (deny, allowed) {
        (Tri::True, _) => {
            let reason = format!(
                "explicit deny in {}",
                denying
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            (Decision::ExplicitDeny, denying, reason)
        }
        (Tri::False, Tri::True) => {
            let allowing: Vec<Deciding> = gates.iter().flat_map(|g| g.allowing.clone()).collect();
            let reason = if allowing.is_empty() {
                "allowed: the root user is not subject to identity-based policies".to_string()
            } else {
                format!(
                    "allowed by {}",
                    allowing
                        .iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            (Decision::Allowed, allowing, reason)
        }
        (_, Tri::False) => {
            let failed: Vec<String> = gates
                .iter()
                .filter(|g| g.allow == Tri::False)
                .map(|g| match g.kind {
                    PolicyKind::Identity => format!(
                        "no identity-based policy allows {} on {}",
                        request.action(),
                        resource.arn
                    ),
                    kind => format!("{kind} ({}) does not allow it", g.name),
                })
                .collect();
            let mut reason = format!("implicit deny: {}", failed.join("; "));
            if deny == Tri::Unknown {
                unknown.sort();
                unknown.dedup();
                reason.push_str(&format!(
                    " (an explicit deny may also apply, depending on {})",
                    unknown.join(", ")
                ));
            }
            (Decision::ImplicitDeny, Vec::new(), reason)
        }
        _ => {
            unknown.sort();
            unknown.dedup();
            let reason = format!("depends on unknown keys: {}", unknown.join(", "));
            let allowing: Vec<Deciding> = gates.iter().flat_map(|g| g.allowing.clone()).collect();
            (Decision::Indeterminate, allowing, reason)
        }
    };
    let denied_by: Vec<(bool, PolicyKind)> = match decision {
        Decision::ExplicitDeny => deciding.iter().map(|d| (true, d.kind)).collect(),
        Decision::ImplicitDeny => gates
            .iter()
            .filter(|g| g.allow == Tri::False)
            .map(|g| (false, g.kind))
            .collect(),
        _ => Vec::new(),
    };
    if decision != Decision::Indeterminate && deny != Tri::Unknown {
        unknown.clear();
    }
    unknown.sort();
    unknown.dedup();
    ResourceEvaluation {
        arn,
        decision,
        deciding,
        unknown_keys: unknown,
        reason,
        denied_by,
    }
}

/// Adds the policy variables among `vars` whose value the request cannot tell.
fn push_unknown_vars<'a>(
    env: &Env<'_>,
    vars: impl IntoIterator<Item = &'a str>,
    out: &mut Vec<String>,
) {
    for v in vars {
        if matches!(env.var(v), crate::policy::pattern::VarValue::Unknown) {
            out.push(v.to_string());
        }
    }
}

/// Does the statement apply to the request on this resource? Unknown keys that make the answer
/// `Unknown` are added to `unknown`.
pub fn statement_applies(
    s: &Statement,
    action: &str,
    env: &Env<'_>,
    unknown: &mut Vec<String>,
) -> Tri {
    if !s.action_applies(action) {
        return Tri::False;
    }
    let lookup = |k: &str| env.var(k);
    let mut res = Tri::False;
    let mut res_vars_unknown = false;
    for p in &s.resources {
        let m = p.matches_split(&env.split, &lookup);
        if m == Tri::Unknown {
            res_vars_unknown = true;
        }
        res = res.or(m);
        if res == Tri::True {
            break;
        }
    }
    if s.not_resource {
        res = res.negate();
    }
    if res == Tri::False {
        return Tri::False;
    }
    let mut out = res;
    let mut local: Vec<String> = Vec::new();
    if res_vars_unknown && res == Tri::Unknown {
        for p in &s.resources {
            push_unknown_vars(env, p.variables(), &mut local);
        }
    }
    for c in &s.conditions {
        let state = env.state(&c.key);
        let r = condition::evaluate(&c.operator, &c.values, state, &lookup);
        if r == Tri::Unknown {
            if matches!(state, condition::KeyState::Unknown) {
                local.push(c.key_display.clone());
            }
            match &c.values {
                condition::Values::Str(ps) => {
                    for p in ps {
                        push_unknown_vars(env, p.variables(), &mut local);
                    }
                }
                condition::Values::Arn(ps) => {
                    for p in ps {
                        push_unknown_vars(env, p.variables(), &mut local);
                    }
                }
                _ => {}
            }
        }
        out = out.and(r);
        if out == Tri::False {
            return Tri::False;
        }
    }
    if out == Tri::Unknown {
        unknown.append(&mut local);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{Conditional, Context, Request, Resource, TagState};
    use crate::policy::compile_text;

    fn policy(name: &str, statements: &str) -> CompiledPolicy {
        compile_text(
            name,
            &format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#),
        )
        .policy
        .expect("valid policy")
    }

    const ALLOW_ALL: &str = r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#;
    const ALLOW_START: &str =
        r#"{"Effect":"Allow","Action":"ssm:StartSession","Resource":"arn:aws:ec2:*:*:instance/*"}"#;
    const DENY_START: &str = r#"{"Effect":"Deny","Action":"ssm:StartSession","Resource":"*"}"#;
    const ALLOW_TAGGED: &str = r#"{"Effect":"Allow","Action":"ssm:StartSession","Resource":"*","Condition":{"StringEquals":{"ssm:resourceTag/Env":"dev"}}}"#;

    fn start(tags: TagState) -> Request {
        Request::new(
            "ssm:StartSession",
            vec![Resource::new(
                "arn:aws:ec2:us-east-1:111122223333:instance/i-1",
                tags,
            )],
            Context::replayed(),
        )
    }

    /// IAM User Guide, "Policy evaluation logic": an explicit deny in any policy wins; an allow
    /// is needed from identity-based policies and from every SCP level, the permissions
    /// boundary and session policies when present.
    #[test]
    fn evaluation_logic_table() {
        let allow = policy("allow.json", ALLOW_START);
        let deny = policy("deny.json", DENY_START);
        let all = policy("all.json", ALLOW_ALL);
        let none = policy(
            "none.json",
            r#"{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#,
        );
        type Case<'p> = (
            &'static str,
            PolicyStack<'p>,
            Decision,
            Vec<(bool, PolicyKind)>,
        );
        let cases: Vec<Case<'_>> = vec![
            (
                "identity allows",
                PolicyStack {
                    identity: vec![&allow],
                    ..Default::default()
                },
                Decision::Allowed,
                vec![],
            ),
            (
                "nothing allows",
                PolicyStack {
                    identity: vec![&none],
                    ..Default::default()
                },
                Decision::ImplicitDeny,
                vec![(false, PolicyKind::Identity)],
            ),
            (
                "explicit deny beats allow",
                PolicyStack {
                    identity: vec![&allow, &deny],
                    ..Default::default()
                },
                Decision::ExplicitDeny,
                vec![(true, PolicyKind::Identity)],
            ),
            (
                "an SCP level that does not allow denies",
                PolicyStack {
                    identity: vec![&allow],
                    scp_levels: vec![vec![&all], vec![&none]],
                    ..Default::default()
                },
                Decision::ImplicitDeny,
                vec![(false, PolicyKind::Scp(1))],
            ),
            (
                "boundary must allow too",
                PolicyStack {
                    identity: vec![&allow],
                    boundary: Some(&none),
                    ..Default::default()
                },
                Decision::ImplicitDeny,
                vec![(false, PolicyKind::Boundary)],
            ),
            (
                "session policy must allow too",
                PolicyStack {
                    identity: vec![&all],
                    session: vec![&none],
                    ..Default::default()
                },
                Decision::ImplicitDeny,
                vec![(false, PolicyKind::Session)],
            ),
            (
                "root: identity gate open, SCPs still apply",
                PolicyStack {
                    identity_implicit_allow: true,
                    scp_levels: vec![vec![&all, &deny]],
                    ..Default::default()
                },
                Decision::ExplicitDeny,
                vec![(true, PolicyKind::Scp(0))],
            ),
        ];
        for (name, stack, want, denied_by) in cases {
            let e = evaluate(&stack, &start(TagState::none()), &TagState::none());
            assert_eq!(e.decision, want, "{name}: {}", e.reason);
            assert_eq!(e.denied_by, denied_by, "{name}");
        }
    }

    #[test]
    fn unknown_tags_make_a_tag_condition_indeterminate_and_name_the_key() {
        let tagged = policy("tagged.json", ALLOW_TAGGED);
        let stack = PolicyStack {
            identity: vec![&tagged],
            ..Default::default()
        };
        let e = evaluate(&stack, &start(TagState::Unknown), &TagState::none());
        assert_eq!(e.decision, Decision::Indeterminate);
        assert_eq!(e.unknown_keys, ["ssm:resourceTag/Env"]);
        let known = evaluate(
            &stack,
            &start(TagState::known([("Env", "dev")])),
            &TagState::none(),
        );
        assert_eq!(known.decision, Decision::Allowed);
        assert_eq!(known.deciding.len(), 1);
        assert_eq!(known.deciding[0].statement, 1);
    }

    /// A conditional resource joins only when every allowing statement uses its key.
    #[test]
    fn conditional_resource_is_evaluated_only_when_asked_for() {
        let doc = Resource::new("arn:aws:ssm:us-east-1::document/X", TagState::none());
        let mut request = start(TagState::none());
        request.conditional = Some(Conditional {
            resource: doc,
            key: "ssm:sessiondocumentaccesscheck".into(),
        });
        let plain = policy("plain.json", ALLOW_START);
        let checked = policy(
            "checked.json",
            r#"{"Effect":"Allow","Action":"ssm:StartSession","Resource":"arn:aws:ec2:*:*:instance/*","Condition":{"BoolIfExists":{"ssm:SessionDocumentAccessCheck":"true"}}}"#,
        );
        let allowed = |p: &CompiledPolicy| {
            evaluate(
                &PolicyStack {
                    identity: vec![p],
                    ..Default::default()
                },
                &request,
                &TagState::none(),
            )
        };
        // Not asked for: the document is not evaluated, the instance alone decides.
        assert_eq!(allowed(&plain).decision, Decision::Allowed);
        // Asked for: the document must be allowed too, and nothing allows it.
        let e = allowed(&checked);
        assert_eq!(e.decision, Decision::ImplicitDeny, "{}", e.reason);
        assert_eq!(e.resources.len(), 2);
    }
}
