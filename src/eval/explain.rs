//! Why a policy set decided as it did, for the events a change flips: the statements that
//! allowed or denied (for an explicit deny, with the condition values that made it match),
//! and for an implicit deny the statement that came nearest to allowing (right action, failing
//! on its resource or on one condition) with the policy's and the request's values.
//!
//! Computed only for changed events: it re-evaluates the request, statement by statement.

use serde::{Deserialize, Serialize};

use super::authorize::{evaluate, statement_applies, Decision, PolicyKind, PolicyStack};
use super::request::{Env, Request, Resource, TagState};
use crate::policy::compile::{CompiledPolicy, Condition, Effect, Statement};
use crate::policy::condition::{self, KeyState, SplitArn};
use crate::policy::pattern::Tri;

/// A statement, as reports name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementRef {
    /// The policy (file, ARN, `OWNER#NAME` or Terraform address).
    pub policy: String,
    /// 1-based.
    pub index: usize,
    /// Its `Sid`, if any.
    pub sid: Option<String>,
    /// `Allow` or `Deny`.
    pub effect: String,
    /// `identity`, `scp`, `boundary` or `session`.
    pub kind: String,
}

impl std::fmt::Display for StatementRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "statement {}", self.index)?;
        if let Some(sid) = self.sid.as_deref().filter(|s| !s.is_empty()) {
            write!(f, " (Sid {sid})")?;
        }
        write!(f, " of {}", self.policy)
    }
}

/// A condition and the values it compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionCheck {
    /// The operator as written.
    pub operator: String,
    /// The key as written.
    pub key: String,
    /// The policy's values.
    pub policy_values: Vec<String>,
    /// The request's values: `None` when the key is absent.
    pub request_values: Option<Vec<String>>,
    /// The request's value is not known (the log does not carry it).
    pub unknown: bool,
}

impl std::fmt::Display for ConditionCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} [{}]",
            self.operator,
            self.key,
            self.policy_values.join(", ")
        )?;
        match (&self.request_values, self.unknown) {
            (_, true) => f.write_str(", request value unknown"),
            (None, _) => f.write_str(", key absent from the request"),
            (Some(v), _) => write!(f, ", request value [{}]", v.join(", ")),
        }
    }
}

/// Why the nearest statement did not allow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "failed", rename_all = "snake_case")]
pub enum Miss {
    /// Its `Resource` (or `NotResource`) does not cover the resource.
    Resource {
        /// The statement's resource patterns.
        patterns: Vec<String>,
        /// The resource evaluated.
        resource: String,
        /// The patterns are `NotResource` (they exclude the resource).
        not_resource: bool,
    },
    /// A condition is false.
    Condition(ConditionCheck),
}

/// One policy set's explanation of its decision for an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    /// The decision word.
    pub decision: String,
    /// The statements that decided (allowing, or explicitly denying).
    pub statements: Vec<StatementRef>,
    /// For an explicit deny: the denying statement's conditions with the request's values.
    pub matched_conditions: Vec<ConditionCheck>,
    /// For an implicit deny: the statement nearest to allowing and why it did not.
    pub nearest: Option<(StatementRef, Miss)>,
    /// For an implicit deny by a policy type other than identity-based policies: which.
    pub gate: Option<String>,
    /// Keys the decision depends on that the log does not carry.
    pub unknown_keys: Vec<String>,
}

fn kind_word(k: PolicyKind) -> String {
    match k {
        PolicyKind::Identity => "identity".into(),
        PolicyKind::Scp(level) => format!("scp level {}", level + 1),
        PolicyKind::Boundary => "boundary".into(),
        PolicyKind::Session => "session".into(),
    }
}

fn statement_ref(policy: &CompiledPolicy, kind: PolicyKind, s: &Statement) -> StatementRef {
    StatementRef {
        policy: policy.name.to_string(),
        index: s.index + 1,
        sid: s.sid.clone(),
        effect: match s.effect {
            Effect::Allow => "Allow".into(),
            Effect::Deny => "Deny".into(),
        },
        kind: kind_word(kind),
    }
}

fn check(c: &Condition, env: &Env<'_>) -> ConditionCheck {
    let (request_values, unknown) = match env.state(&c.key) {
        KeyState::Present(v) => (Some(v.to_vec()), false),
        KeyState::Absent => (None, false),
        KeyState::Unknown => (None, true),
    };
    ConditionCheck {
        operator: c.operator_name.clone(),
        key: c.key_display.clone(),
        policy_values: c.raw.clone(),
        request_values,
        unknown,
    }
}

fn policies_of<'p>(stack: &PolicyStack<'p>, kind: PolicyKind) -> Vec<&'p CompiledPolicy> {
    match kind {
        PolicyKind::Identity => stack.identity.clone(),
        PolicyKind::Scp(level) => stack.scp_levels.get(level).cloned().unwrap_or_default(),
        PolicyKind::Boundary => stack.boundary.into_iter().collect(),
        PolicyKind::Session => stack.session.clone(),
    }
}

/// The allow statement of `policies` that came nearest to allowing `action` on `resource`:
/// one whose resource matched and that failed on the latest condition, else one that names the
/// action but not the resource.
fn nearest(
    policies: &[&CompiledPolicy],
    kind: PolicyKind,
    action: &str,
    env: &Env<'_>,
) -> Option<(StatementRef, Miss)> {
    let lookup = |k: &str| env.var(k);
    let mut best: Option<(usize, StatementRef, Miss)> = None;
    for p in policies {
        for s in p.statements.iter().filter(|s| s.effect == Effect::Allow) {
            if !s.action_applies(action) {
                continue;
            }
            let mut res = s.resources.iter().fold(Tri::False, |acc, pat| {
                acc.or(pat.matches_split(&env.split, &lookup))
            });
            if s.not_resource {
                res = res.negate();
            }
            let (score, miss) = if res == Tri::False {
                (
                    0,
                    Miss::Resource {
                        patterns: s.resource_text.clone(),
                        resource: env.resource.arn.clone(),
                        not_resource: s.not_resource,
                    },
                )
            } else {
                let failed = s.conditions.iter().enumerate().find(|(_, c)| {
                    condition::evaluate(&c.operator, &c.values, env.state(&c.key), &lookup)
                        == Tri::False
                });
                match failed {
                    Some((i, c)) => (1 + i, Miss::Condition(check(c, env))),
                    None => continue,
                }
            };
            if best.as_ref().is_none_or(|(b, _, _)| score > *b) {
                best = Some((score, statement_ref(p, kind, s), miss));
            }
        }
    }
    best.map(|(_, s, m)| (s, m))
}

/// Explains a policy stack's decision for a request.
pub fn explain(stack: &PolicyStack<'_>, request: &Request, tags: &TagState) -> Explanation {
    explain_evaluated(stack, request, tags, &evaluate(stack, request, tags))
}

/// [`explain`], given the request's evaluation, `e`, which must be `evaluate(stack, request,
/// tags)` (a replay has it from deciding: not evaluating twice saves a changed event's
/// explanation about half its cost).
pub fn explain_evaluated(
    stack: &PolicyStack<'_>,
    request: &Request,
    tags: &TagState,
    e: &super::Evaluation,
) -> Explanation {
    let mut out = Explanation {
        decision: e.decision.as_str().to_string(),
        statements: Vec::new(),
        matched_conditions: Vec::new(),
        nearest: None,
        gate: None,
        unknown_keys: e.unknown_keys.clone(),
    };
    let resources: Vec<&Resource> = request
        .resources
        .iter()
        .chain(request.conditional.as_ref().map(|c| &c.resource))
        .collect();
    let Some(decisive) = e
        .resources
        .iter()
        .find(|r| r.decision == e.decision)
        .and_then(|r| {
            resources
                .iter()
                .find(|res| res.arn == r.arn)
                .map(|res| (r, *res))
        })
    else {
        return out;
    };
    let (evaluation, resource) = decisive;
    let env = Env {
        context: &request.context,
        resource,
        split: SplitArn::new(&resource.arn),
        principal_tags: tags,
    };
    let all_policies = || {
        let mut v: Vec<(PolicyKind, &CompiledPolicy)> = Vec::new();
        v.extend(stack.identity.iter().map(|p| (PolicyKind::Identity, *p)));
        for (l, level) in stack.scp_levels.iter().enumerate() {
            v.extend(level.iter().map(|p| (PolicyKind::Scp(l), *p)));
        }
        v.extend(stack.boundary.iter().map(|p| (PolicyKind::Boundary, *p)));
        v.extend(stack.session.iter().map(|p| (PolicyKind::Session, *p)));
        v
    };
    for d in &evaluation.deciding {
        let found = all_policies().into_iter().find_map(|(kind, p)| {
            (p.name == d.policy && kind == d.kind)
                .then(|| {
                    p.statements
                        .iter()
                        .find(|s| s.index + 1 == d.statement)
                        .map(|s| (kind, p, s))
                })
                .flatten()
        });
        if let Some((kind, p, s)) = found {
            out.statements.push(statement_ref(p, kind, s));
            if e.decision == Decision::ExplicitDeny {
                let mut unknown = Vec::new();
                if statement_applies(s, request.action_lower(), &env, &mut unknown) == Tri::True {
                    out.matched_conditions
                        .extend(s.conditions.iter().map(|c| check(c, &env)));
                }
            }
        }
    }
    if e.decision == Decision::ImplicitDeny {
        let kind = evaluation
            .denied_by
            .iter()
            .find(|(explicit, _)| !explicit)
            .map_or(PolicyKind::Identity, |(_, k)| *k);
        if kind != PolicyKind::Identity {
            out.gate = Some(kind_word(kind));
        }
        out.nearest = nearest(
            &policies_of(stack, kind),
            kind,
            request.action_lower(),
            &env,
        );
    }
    out
}

impl Explanation {
    /// One line for people: what decided, and for a denial why.
    pub fn line(&self) -> String {
        match self.decision.as_str() {
            "allowed" => format!(
                "allowed by {}",
                self.statements
                    .first()
                    .map_or_else(|| "the root user".to_string(), |s| s.to_string())
            ),
            "explicitDeny" => {
                let mut t = format!(
                    "explicit deny by {}",
                    self.statements
                        .first()
                        .map_or_else(String::new, |s| s.to_string())
                );
                if !self.matched_conditions.is_empty() {
                    let c: Vec<String> = self
                        .matched_conditions
                        .iter()
                        .map(|c| c.to_string())
                        .collect();
                    t.push_str(&format!(": {}", c.join("; ")));
                }
                t
            }
            "implicitDeny" => {
                let gate = self
                    .gate
                    .as_deref()
                    .map_or(String::new(), |g| format!(" ({g})"));
                match &self.nearest {
                    None => format!("implicit deny{gate}: no statement allows the action"),
                    Some((s, Miss::Condition(c))) => {
                        format!("implicit deny{gate}: {s} does not match: {c}")
                    }
                    Some((
                        s,
                        Miss::Resource {
                            patterns,
                            resource,
                            not_resource,
                        },
                    )) => format!(
                        "implicit deny{gate}: {s} does not cover the resource: {} [{}] {} {resource}",
                        if *not_resource { "NotResource" } else { "Resource" },
                        patterns.join(", "),
                        if *not_resource { "excludes" } else { "does not match" },
                    ),
                }
            }
            _ => format!("depends on {}", self.unknown_keys.join(", ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{Context, Request, Resource};
    use crate::policy::compile_text;

    fn policy(text: &str) -> CompiledPolicy {
        compile_text("p.json", text).policy.expect("valid")
    }

    fn start(env: &str) -> Request {
        Request::new(
            "ssm:StartSession",
            vec![Resource::new(
                "arn:aws:ec2:us-east-1:111122223333:instance/i-1",
                TagState::known([("Env", env)]),
            )],
            Context::replayed(),
        )
    }

    /// The issue's example: an implicit deny names the statement that nearly allowed, its
    /// condition, the policy's values and the request's.
    #[test]
    fn implicit_deny_names_the_nearest_statement_and_its_failing_condition() {
        let p = policy(
            r#"{"Version":"2012-10-17","Statement":[
                {"Sid":"Other","Effect":"Allow","Action":"ssm:StartSession","Resource":"arn:aws:ssm:*:*:managed-instance/*"},
                {"Sid":"StartOnDevAndLab","Effect":"Allow","Action":"ssm:StartSession","Resource":"*",
                 "Condition":{"StringEquals":{"ssm:resourceTag/Env":["dev","lab"]}}}]}"#,
        );
        let stack = PolicyStack {
            identity: vec![&p],
            ..PolicyStack::default()
        };
        let e = explain(&stack, &start("prod"), &TagState::none());
        assert_eq!(e.decision, "implicitDeny");
        assert_eq!(
            e.line(),
            "implicit deny: statement 2 (Sid StartOnDevAndLab) of p.json does not match: StringEquals ssm:resourceTag/Env [dev, lab], request value [prod]"
        );
        let Some((s, Miss::Condition(c))) = &e.nearest else {
            panic!("{e:?}")
        };
        assert_eq!(s.sid.as_deref(), Some("StartOnDevAndLab"));
        assert_eq!(c.request_values, Some(vec!["prod".to_string()]));
    }

    #[test]
    fn resource_misses_and_explicit_denies_say_what_matched() {
        let p = policy(
            r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":"ssm:StartSession","Resource":"arn:aws:ssm:*:*:managed-instance/*"},
                {"Sid":"NoProd","Effect":"Deny","Action":"ssm:*","Resource":"*",
                 "Condition":{"StringEquals":{"ssm:resourceTag/Env":"prod"}}}]}"#,
        );
        let stack = PolicyStack {
            identity: vec![&p],
            ..PolicyStack::default()
        };
        let dev = explain(&stack, &start("dev"), &TagState::none());
        assert!(
            dev.line().contains("Resource [arn:aws:ssm:*:*:managed-instance/*] does not match arn:aws:ec2:us-east-1:111122223333:instance/i-1"),
            "{}",
            dev.line()
        );
        let prod = explain(&stack, &start("prod"), &TagState::none());
        assert_eq!(
            prod.line(),
            "explicit deny by statement 2 (Sid NoProd) of p.json: StringEquals ssm:resourceTag/Env [prod], request value [prod]"
        );
    }
}
