//! `trailreplay simulate`: one request against policies, offline (the job of
//! `aws iam simulate-custom-policy`). Keys not given are absent, as in AWS's simulator; keys
//! named with `--unknown` are unknown.

use serde_json::{json, Value};

use crate::eval::{
    evaluate, Context, Deciding, Evaluation, PolicyStack, Request, Resource, TagState,
};
use crate::policy::knowledge::{self, KeyType};
use crate::policy::{condition, CompiledPolicy};

/// The compiled inputs of a simulation.
pub struct Simulation {
    /// The IAM action.
    pub action: String,
    /// Resource ARNs.
    pub resources: Vec<String>,
    /// Identity-based policies.
    pub policies: Vec<CompiledPolicy>,
    /// SCP levels, root first.
    pub scps: Vec<CompiledPolicy>,
    /// A permissions boundary.
    pub boundary: Option<CompiledPolicy>,
    /// Session policies.
    pub session: Vec<CompiledPolicy>,
    /// `KEY=VALUE` pairs, already split.
    pub context: Vec<(String, String)>,
    /// Context keys the request may carry but whose values are not known.
    pub unknown: Vec<String>,
}

/// Splits `KEY=VALUE` at the first `=`, and checks the value of a typed key (a date for
/// `aws:CurrentTime`, a number for `aws:EpochTime`, …): a value AWS would never put there would
/// make the simulation answer a question no request asks.
pub fn parse_context_arg(arg: &str) -> Result<(String, String), String> {
    let (k, v) = match arg.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => (k.trim().to_string(), v.to_string()),
        _ => return Err(format!("`--context {arg}`: expected KEY=VALUE")),
    };
    let ok = match knowledge::key_type(&k.to_lowercase()) {
        None => true,
        Some(KeyType::Date) => crate::timefmt::parse_policy_date(&v).is_some(),
        Some(KeyType::Numeric) => condition::parse_number(&v).is_some(),
        Some(KeyType::Bool) => condition::parse_bool(&v).is_some(),
        Some(KeyType::Ip) => v.trim().parse::<std::net::IpAddr>().is_ok(),
    };
    if !ok {
        let expected = match knowledge::key_type(&k.to_lowercase()) {
            Some(KeyType::Date) => "an ISO 8601 date or epoch seconds",
            Some(KeyType::Numeric) => "a number",
            Some(KeyType::Bool) => "`true` or `false`",
            _ => "an IPv4 or IPv6 address",
        };
        return Err(format!(
            "`--context {arg}`: `{k}` takes {expected}, and AWS would never send `{v}`"
        ));
    }
    Ok((k, v))
}

/// A warning for an action that names no known Session Manager action (it matches nothing
/// AWS evaluates, so every decision is `implicitDeny`).
pub fn action_warning(action: &str) -> Option<String> {
    let Some((service, name)) = action.split_once(':') else {
        let hint = knowledge::suggest(action, knowledge::SSM_ACTIONS.iter().copied())
            .map(|s| format!(" (did you mean `ssm:{s}`?)"))
            .unwrap_or_default();
        return Some(format!(
            "`--action {action}` has no service prefix{hint}: no statement can match it"
        ));
    };
    if !service.eq_ignore_ascii_case("ssm") {
        return None;
    }
    if knowledge::SSM_ACTIONS
        .iter()
        .any(|a| a.eq_ignore_ascii_case(name))
    {
        return None;
    }
    let hint = knowledge::suggest(name, knowledge::SSM_ACTIONS.iter().copied())
        .map(|s| format!(" (did you mean `ssm:{s}`?)"))
        .unwrap_or_default();
    Some(format!(
        "`--action {action}` is not an action of the `ssm` service{hint}"
    ))
}

impl Simulation {
    /// The request this simulation stands for.
    pub fn request(&self) -> Request {
        let mut ctx = Context::simulated();
        for (k, v) in &self.context {
            ctx.push(k, v.clone());
        }
        for k in &self.unknown {
            ctx.set_unknown(k);
        }
        let resources = self
            .resources
            .iter()
            .map(|r| Resource::new(r.clone(), TagState::none()))
            .collect();
        Request::new(&self.action, resources, ctx)
    }

    /// Evaluates it.
    pub fn run(&self) -> Evaluation {
        let stack = PolicyStack {
            identity: self.policies.iter().collect(),
            identity_implicit_allow: false,
            scp_levels: self.scps.iter().map(|p| vec![p]).collect(),
            boundary: self.boundary.as_ref(),
            session: self.session.iter().collect(),
        };
        evaluate(&stack, &self.request(), &TagState::none())
    }
}

fn deciding_json(d: &[Deciding]) -> Value {
    Value::Array(
        d.iter()
            .map(|d| {
                json!({
                    "policy": &*d.policy,
                    "policyType": d.kind.to_string(),
                    "statement": d.statement,
                    "sid": d.sid,
                    "effect": d.effect.to_string(),
                })
            })
            .collect(),
    )
}

/// The JSON form: one object whose `decision` holds one of the four decision words.
pub fn to_json(action: &str, e: &Evaluation) -> Value {
    json!({
        "decision": e.decision.as_str(),
        "action": action,
        "reason": e.reason,
        "unknownKeys": e.unknown_keys,
        "deciding": deciding_json(&e.deciding),
        "resources": e.resources.iter().map(|r| json!({
            "resource": r.arn,
            "decision": r.decision.as_str(),
            "reason": r.reason,
            "unknownKeys": r.unknown_keys,
            "deciding": deciding_json(&r.deciding),
        })).collect::<Vec<_>>(),
    })
}

/// The text form for people.
pub fn to_text(action: &str, e: &Evaluation) -> String {
    let mut out = format!(
        "decision: {}\naction: {action}\nreason: {}\n",
        e.decision, e.reason
    );
    if !e.unknown_keys.is_empty() {
        out.push_str(&format!("unknown keys: {}\n", e.unknown_keys.join(", ")));
    }
    for r in &e.resources {
        out.push_str(&format!(
            "resource {}: {} ({})\n",
            r.arn, r.decision, r.reason
        ));
    }
    out
}
