//! `trailreplay simulate`: one request against policies, offline (the job of
//! `aws iam simulate-custom-policy`). Keys not given are absent, as in AWS's simulator; keys
//! named with `--unknown` are unknown.

use serde_json::{json, Value};

use crate::eval::{
    evaluate, Context, Deciding, Evaluation, PolicyStack, Request, Resource, TagState,
};
use crate::policy::CompiledPolicy;

/// The compiled inputs of a simulation.
pub struct Simulation {
    pub action: String,
    pub resources: Vec<String>,
    pub policies: Vec<CompiledPolicy>,
    pub scps: Vec<CompiledPolicy>,
    pub boundary: Option<CompiledPolicy>,
    pub session: Vec<CompiledPolicy>,
    /// `KEY=VALUE` pairs, already split.
    pub context: Vec<(String, String)>,
    pub unknown: Vec<String>,
}

/// Splits `KEY=VALUE` at the first `=`.
pub fn parse_context_arg(arg: &str) -> Result<(String, String), String> {
    match arg.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("`--context {arg}`: expected KEY=VALUE")),
    }
}

impl Simulation {
    pub fn request(&self) -> Request {
        let mut ctx = Context::new(false);
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
