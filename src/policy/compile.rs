//! From a policy document (JSON) to compiled statements, with the errors AWS would refuse the
//! document for and the warnings (lints) a reviewer wants to see.
//!
//! Grammar: IAM User Guide, "IAM JSON policy grammar" and "IAM JSON policy elements reference".
//! `Statement` may be one object or an array; `Action`, `Resource` and condition values may be a
//! string or an array; numbers and booleans in condition values are the same as their quoted forms.

use std::fmt;

use serde_json::{Map, Value};

use super::condition::{self, ArnPattern, ArnUse, Operator, OperatorError, Values};
use super::knowledge;
use super::pattern::{Pattern, Syntax};

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// `"Effect": "Allow"`.
    Allow,
    /// `"Effect": "Deny"`.
    Deny,
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        })
    }
}

/// An action pattern, compared case-insensitively over `service:action`.
#[derive(Debug, Clone)]
pub enum ActionPattern {
    Any,
    Glob(Pattern),
    /// Contains a comma or whitespace: matches nothing (observed AWS behaviour, AWS-NOTES 14).
    Nothing,
}

impl ActionPattern {
    /// `action` must already be lowercased.
    pub fn matches(&self, action: &str) -> bool {
        match self {
            ActionPattern::Any => true,
            ActionPattern::Glob(p) => p.matches_prepared(action),
            ActionPattern::Nothing => false,
        }
    }
}

/// One compiled condition: operator, key (lowercased) and values.
#[derive(Debug, Clone)]
pub struct Condition {
    pub operator: Operator,
    /// The operator as written (`StringEqualsIfExists`), for explanations.
    pub operator_name: String,
    pub key: String,
    pub key_display: String,
    pub values: Values,
    /// The values as written, for explanations.
    pub raw: Vec<String>,
}

/// A compiled statement.
#[derive(Debug, Clone)]
pub struct Statement {
    /// Position in the policy (0-based).
    pub index: usize,
    /// `Sid`.
    pub sid: Option<String>,
    /// `Effect`.
    pub effect: Effect,
    /// `Action` or `NotAction` patterns.
    pub actions: Vec<ActionPattern>,
    /// The patterns are `NotAction`.
    pub not_action: bool,
    /// `Resource` or `NotResource` patterns.
    pub resources: Vec<ArnPattern>,
    /// The patterns are `NotResource`.
    pub not_resource: bool,
    /// `Resource` or `NotResource` as written, for explanations.
    pub resource_text: Vec<String>,
    /// `Condition` entries.
    pub conditions: Vec<Condition>,
}

impl Statement {
    /// Does the statement name `action` (lowercased)?
    pub fn action_applies(&self, action: &str) -> bool {
        let any = self.actions.iter().any(|a| a.matches(action));
        any != self.not_action
    }

    /// Does any condition test this (lowercased) key?
    pub fn has_condition_key(&self, key: &str) -> bool {
        self.conditions.iter().any(|c| c.key == key)
    }
}

/// A compiled policy document.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    /// File name, ARN or `file#PolicyName`: how reasons name this policy. Shared, because every
    /// decision names the statements that made it.
    pub name: std::sync::Arc<str>,
    /// `Version` (`2012-10-17`, `2008-10-17` or none).
    pub version: Option<String>,
    /// The statements, in order.
    pub statements: Vec<Statement>,
}

/// Where in a document a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLoc {
    /// 1-based, as people count statements.
    pub number: usize,
    pub sid: Option<String>,
}

impl fmt::Display for StatementLoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "statement {}", self.number)?;
        if let Some(sid) = &self.sid {
            if !sid.is_empty() {
                write!(f, " (Sid `{sid}`)")?;
            }
        }
        Ok(())
    }
}

/// An error or a lint in a policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The policy's source (file name).
    pub source: String,
    /// The statement, if the problem is in one.
    pub statement: Option<StatementLoc>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.source)?;
        if let Some(loc) = &self.statement {
            write!(f, "{loc}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// The outcome of compiling one document: the policy (when there are no errors) and every
/// problem found.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The compiled policy, unless it has errors.
    pub policy: Option<CompiledPolicy>,
    /// Problems that make the policy unusable.
    pub errors: Vec<Problem>,
    /// Problems worth knowing (`trailreplay validate` prints them).
    pub warnings: Vec<Problem>,
}

struct Ctx<'a> {
    source: &'a str,
    loc: Option<StatementLoc>,
    errors: Vec<Problem>,
    warnings: Vec<Problem>,
}

impl Ctx<'_> {
    fn error(&mut self, message: String) {
        self.errors.push(Problem {
            source: self.source.to_string(),
            statement: self.loc.clone(),
            message,
        });
    }
    fn warn(&mut self, message: String) {
        self.warnings.push(Problem {
            source: self.source.to_string(),
            statement: self.loc.clone(),
            message,
        });
    }
}

const STATEMENT_KEYS: &[&str] = &[
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
    "Principal",
    "NotPrincipal",
];

/// Compiles a policy document. `source` names it in messages and reasons.
pub fn compile_document(source: &str, doc: &Value) -> Compiled {
    let mut ctx = Ctx {
        source,
        loc: None,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let Some(obj) = doc.as_object() else {
        ctx.error(format!(
            "a policy document must be a JSON object, found {}",
            kind(doc)
        ));
        return finish(ctx, None);
    };
    for key in obj.keys() {
        if !["Version", "Id", "Statement"].contains(&key.as_str()) {
            let hint = knowledge::suggest(key, ["Version", "Id", "Statement"])
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            ctx.error(format!("unknown top-level element `{key}`{hint}"));
        }
    }
    let version = match obj.get("Version") {
        None => None,
        Some(Value::String(v)) => Some(v.clone()),
        Some(other) => {
            ctx.error(format!("`Version` must be a string, found {}", kind(other)));
            None
        }
    };
    let variables = match version.as_deref() {
        Some("2012-10-17") => true,
        Some("2008-10-17") | None => false,
        Some(v) => {
            ctx.error(format!(
                "unknown `Version` `{v}` (use `2012-10-17`, or `2008-10-17` for the old grammar)"
            ));
            false
        }
    };
    let statements: Vec<&Value> = match obj.get("Statement") {
        None => {
            ctx.error("missing `Statement`".to_string());
            vec![]
        }
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        Some(other) => {
            ctx.error(format!(
                "`Statement` must be an object or an array, found {}",
                kind(other)
            ));
            vec![]
        }
    };
    let mut compiled = Vec::with_capacity(statements.len());
    let mut uses_vars = false;
    for (i, st) in statements.into_iter().enumerate() {
        let sid = st
            .get("Sid")
            .and_then(|s| s.as_str())
            .map(|s| s.to_string());
        ctx.loc = Some(StatementLoc { number: i + 1, sid });
        if raw_uses_vars(st) {
            uses_vars = true;
        }
        if let Some(s) = compile_statement(&mut ctx, i, st, variables) {
            compiled.push(s);
        }
    }
    ctx.loc = None;
    if uses_vars && !variables {
        ctx.warn(format!(
            "policy variables (`${{...}}`) are literal text because `Version` is {}: add \"Version\": \"2012-10-17\"",
            match &version {
                Some(v) => format!("`{v}`"),
                None => "missing".to_string(),
            }
        ));
    }
    let policy = CompiledPolicy {
        name: std::sync::Arc::from(source),
        version,
        statements: compiled,
    };
    finish(ctx, Some(policy))
}

fn finish(ctx: Ctx<'_>, policy: Option<CompiledPolicy>) -> Compiled {
    let ok = ctx.errors.is_empty();
    Compiled {
        policy: if ok { policy } else { None },
        errors: ctx.errors,
        warnings: ctx.warnings,
    }
}

fn raw_uses_vars(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("${"),
        Value::Array(a) => a.iter().any(raw_uses_vars),
        Value::Object(o) => o.values().any(raw_uses_vars),
        _ => false,
    }
}

pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A string or an array of strings (numbers and booleans accepted as their text when
/// `scalars` is set, as in condition values).
fn string_list(ctx: &mut Ctx<'_>, what: &str, v: &Value, scalars: bool) -> Option<Vec<String>> {
    let one = |ctx: &mut Ctx<'_>, x: &Value| -> Option<String> {
        match x {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) if scalars => Some(n.to_string()),
            Value::Bool(b) if scalars => Some(b.to_string()),
            other => {
                ctx.error(format!(
                    "`{what}` values must be strings, found {}",
                    kind(other)
                ));
                None
            }
        }
    };
    match v {
        Value::Array(a) => {
            let mut out = Vec::with_capacity(a.len());
            for x in a {
                out.push(one(ctx, x)?);
            }
            Some(out)
        }
        x => one(ctx, x).map(|s| vec![s]),
    }
}

fn compile_statement(
    ctx: &mut Ctx<'_>,
    index: usize,
    st: &Value,
    variables: bool,
) -> Option<Statement> {
    let Some(obj) = st.as_object() else {
        ctx.error(format!("a statement must be an object, found {}", kind(st)));
        return None;
    };
    let before = ctx.errors.len();
    for key in obj.keys() {
        if !STATEMENT_KEYS.contains(&key.as_str()) {
            let hint = knowledge::suggest(key, STATEMENT_KEYS.iter().copied())
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            ctx.error(format!("unknown statement element `{key}`{hint}"));
        }
    }
    for element in ["Principal", "NotPrincipal"] {
        if obj.contains_key(element) {
            // IAM User Guide, "IAM JSON policy elements: Principal": "You cannot use the
            // Principal element in an identity-based policy"; likewise permissions boundaries,
            // session policies and SCPs (AWS Organizations User Guide, "SCP syntax"). These are
            // the only kinds of policy trailreplay evaluates.
            ctx.error(format!(
                "`{element}` is not allowed here: identity-based policies, permissions boundaries, session policies and SCPs name no principal (it belongs in resource-based policies and trust policies)"
            ));
        }
    }
    if let Some(sid) = obj.get("Sid") {
        if !sid.is_string() {
            ctx.error(format!("`Sid` must be a string, found {}", kind(sid)));
        }
    }
    let effect = match obj.get("Effect") {
        Some(Value::String(e)) if e == "Allow" => Some(Effect::Allow),
        Some(Value::String(e)) if e == "Deny" => Some(Effect::Deny),
        Some(Value::String(e)) => {
            ctx.error(format!("`Effect` must be `Allow` or `Deny`, found `{e}`"));
            None
        }
        Some(other) => {
            ctx.error(format!("`Effect` must be a string, found {}", kind(other)));
            None
        }
        None => {
            ctx.error("missing `Effect`".to_string());
            None
        }
    };
    let (actions, not_action) = match (obj.get("Action"), obj.get("NotAction")) {
        (Some(_), Some(_)) => {
            ctx.error("a statement must have `Action` or `NotAction`, not both".to_string());
            (vec![], false)
        }
        (None, None) => {
            ctx.error("a statement must have `Action` or `NotAction`".to_string());
            (vec![], false)
        }
        (Some(a), None) => (compile_actions(ctx, "Action", a), false),
        (None, Some(a)) => (compile_actions(ctx, "NotAction", a), true),
    };
    let (resources, not_resource) = match (obj.get("Resource"), obj.get("NotResource")) {
        (Some(_), Some(_)) => {
            ctx.error("a statement must have `Resource` or `NotResource`, not both".to_string());
            (vec![], false)
        }
        (None, None) => {
            ctx.error("a statement must have `Resource` or `NotResource`".to_string());
            (vec![], false)
        }
        (Some(r), None) => (compile_resources(ctx, "Resource", r, variables), false),
        (None, Some(r)) => (compile_resources(ctx, "NotResource", r, variables), true),
    };
    let conditions = match obj.get("Condition") {
        None => vec![],
        Some(Value::Object(block)) => compile_conditions(ctx, block, variables),
        Some(other) => {
            ctx.error(format!(
                "`Condition` must be an object, found {}",
                kind(other)
            ));
            vec![]
        }
    };
    if ctx.errors.len() > before {
        return None;
    }
    Some(Statement {
        index,
        sid: obj
            .get("Sid")
            .and_then(|s| s.as_str())
            .map(|s| s.to_string()),
        effect: effect?,
        actions,
        not_action,
        resources,
        not_resource,
        resource_text: match obj.get("Resource").or_else(|| obj.get("NotResource")) {
            Some(Value::String(r)) => vec![r.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        },
        conditions,
    })
}

fn compile_actions(ctx: &mut Ctx<'_>, what: &str, v: &Value) -> Vec<ActionPattern> {
    let Some(list) = string_list(ctx, what, v, false) else {
        return vec![];
    };
    let mut out = Vec::with_capacity(list.len());
    for a in list {
        if a == "*" {
            out.push(ActionPattern::Any);
            continue;
        }
        if a.contains(',') || a.chars().any(char::is_whitespace) {
            ctx.warn(format!(
                "action `{}` contains a comma or whitespace and matches nothing",
                a.escape_debug()
            ));
            out.push(ActionPattern::Nothing);
            continue;
        }
        let Some((service, name)) = a.split_once(':') else {
            ctx.error(format!(
                "action `{a}` must have the form `service:action` (for example `ssm:StartSession`)"
            ));
            continue;
        };
        if service.eq_ignore_ascii_case("ssm") {
            lint_ssm_action(ctx, name);
        }
        match Pattern::parse(
            &a,
            Syntax {
                wildcards: true,
                variables: false,
                ignore_case: true,
            },
        ) {
            Ok(p) => out.push(ActionPattern::Glob(p)),
            Err(e) => ctx.error(e.0),
        }
    }
    out
}

fn lint_ssm_action(ctx: &mut Ctx<'_>, name: &str) {
    let p = match Pattern::parse(
        name,
        Syntax {
            wildcards: true,
            variables: false,
            ignore_case: true,
        },
    ) {
        Ok(p) => p,
        Err(_) => return,
    };
    if knowledge::SSM_ACTIONS
        .iter()
        .any(|known| p.matches(&known.to_lowercase()))
    {
        return;
    }
    let hint = knowledge::suggest(name, knowledge::SSM_ACTIONS.iter().copied())
        .map(|s| format!(" (did you mean `ssm:{s}`?)"))
        .unwrap_or_default();
    ctx.warn(format!(
        "action `ssm:{name}` matches no action of the `ssm` service{hint}"
    ));
}

fn compile_resources(ctx: &mut Ctx<'_>, what: &str, v: &Value, variables: bool) -> Vec<ArnPattern> {
    let Some(list) = string_list(ctx, what, v, false) else {
        return vec![];
    };
    let mut out = Vec::with_capacity(list.len());
    for r in list {
        if r.is_empty() {
            ctx.warn(format!(
                "`\"{what}\": \"\"` matches no resource (did you mean `\"*\"`?)"
            ));
        } else if r != "*" && !r.starts_with("arn:") {
            ctx.warn(format!(
                "`{what}` entry `{}` is neither `*` nor an ARN and will match nothing AWS names",
                r.escape_debug()
            ));
        } else if r.chars().any(char::is_whitespace) {
            ctx.warn(format!(
                "`{what}` entry `{}` contains whitespace",
                r.escape_debug()
            ));
        }
        if r != "*" && r.starts_with("arn:") {
            let service = r.split(':').nth(2).unwrap_or("");
            if service.contains('*') || service.contains('?') {
                ctx.warn(format!(
                    "`{what}` entry `{r}` has a wildcard in the service segment, which AWS does not allow"
                ));
            }
        }
        match ArnPattern::parse_for(&r, variables, ArnUse::Resource) {
            Ok(p) => {
                if r.starts_with("arn:") && p.matches_nothing() {
                    ctx.warn(format!(
                        "`{what}` entry `{r}` has fewer than six colon-separated parts and no \
                         `*` ending a part that could span the rest: it matches no ARN"
                    ));
                }
                out.push(p)
            }
            Err(e) => ctx.error(e.0),
        }
    }
    out
}

fn compile_conditions(
    ctx: &mut Ctx<'_>,
    block: &Map<String, Value>,
    variables: bool,
) -> Vec<Condition> {
    let mut out = Vec::new();
    for (op_name, keys) in block {
        let op = match Operator::parse(op_name) {
            Ok(op) => op,
            Err(OperatorError::NullIfExists) => {
                ctx.error(format!("`{op_name}`: `IfExists` cannot be added to `Null`"));
                continue;
            }
            Err(OperatorError::Unknown) => {
                let names = condition::all_operator_names();
                let hint = knowledge::suggest(op_name, names.iter().map(|s| s.as_str()))
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                ctx.error(format!("unknown condition operator `{op_name}`{hint}"));
                continue;
            }
        };
        let Some(keys) = keys.as_object() else {
            ctx.error(format!(
                "`{op_name}` must map condition keys to values, found {}",
                kind(keys)
            ));
            continue;
        };
        let mut seen: Vec<String> = Vec::new();
        for (key, raw) in keys {
            let lower = key.to_lowercase();
            if seen.contains(&lower) {
                // IAM Access Analyzer, "Error – Duplicate keys with different case": condition
                // keys are case-insensitive, so both name one key.
                ctx.error(format!(
                    "`{op_name}` names condition key `{key}` twice (condition keys are case-insensitive): merge the values under one key"
                ));
                continue;
            }
            seen.push(lower);
            let Some(values) = string_list(ctx, key, raw, true) else {
                continue;
            };
            if values.is_empty() {
                ctx.warn(format!(
                    "`{op_name}` `{key}` has an empty list of values and never matches"
                ));
            }
            lint_condition(ctx, &op, key, &values);
            match condition::compile_values(&op, &values, variables) {
                Ok(vals) => out.push(Condition {
                    operator: op.clone(),
                    operator_name: op_name.clone(),
                    key: key.to_lowercase(),
                    key_display: key.clone(),
                    values: vals,
                    raw: values,
                }),
                Err(e) => ctx.error(format!("`{op_name}` `{key}`: {}", e.0)),
            }
        }
    }
    out
}

fn lint_condition(ctx: &mut Ctx<'_>, op: &Operator, key: &str, values: &[String]) {
    let lower = key.to_lowercase();
    if key.chars().any(char::is_whitespace) {
        ctx.warn(format!(
            "condition key `{}` contains whitespace or a newline and will never be present in a request",
            key.escape_debug()
        ));
    }
    if !key.contains(':') {
        ctx.warn(format!(
            "condition key `{key}` has no service prefix (`aws:`, `ssm:`, ...)"
        ));
    }
    if let Some(close) = knowledge::undefined_key(key) {
        // IAM Access Analyzer reports an invalid global condition key as an error; IAM itself
        // accepts the policy, and AWS evaluates the condition with the key absent.
        let hint = if close.is_empty() {
            String::new()
        } else {
            format!(" (did you mean `{close}`?)")
        };
        ctx.warn(format!(
            "condition key `{key}` is not defined by AWS for Session Manager calls{hint}: it is never in a request, so this condition is evaluated with the key absent"
        ));
    }
    if let condition::BaseOp::String { like: false, .. } = op.base {
        if let Some(v) = values.iter().find(|v| {
            let stripped = v.replace("${*}", "").replace("${?}", "");
            stripped.contains('*') || stripped.contains('?')
        }) {
            ctx.warn(format!(
                "`{}` compares `{}` literally: the `*`/`?` in `{v}` are not wildcards (use `StringLike`)",
                op.name, key
            ));
        }
    }
    if let condition::BaseOp::Date(_) = op.base {
        if let Some(v) = values.iter().find(|v| crate::timefmt::is_ambiguous_year(v)) {
            ctx.warn(format!(
                "`{}` `{key}` value `{v}` is both a year and epoch seconds: trailreplay reads it as the year {v} (write `{v}-01-01T00:00:00Z` or more digits of epoch seconds to say which)",
                op.name
            ));
        }
    }
    match op.set {
        Some(_) if knowledge::is_single_valued(&lower) => ctx.warn(format!(
            "set operator `{}` on single-valued key `{key}`: use the operator without `ForAnyValue:`/`ForAllValues:`",
            op.name
        )),
        None if knowledge::is_multivalued(&lower) && op.base != condition::BaseOp::Null => {
            ctx.warn(format!(
                "`{}` on multivalued key `{key}`: use `ForAnyValue:` or `ForAllValues:`",
                op.name
            ))
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refuses_what_aws_refuses() {
        let c = compile_document(
            "p.json",
            &json!({"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"ssm:StartSession","Resource":"*","Condition":{"StringEqualz":{"aws:username":"x"}}}]}),
        );
        assert!(c.policy.is_none());
        assert_eq!(
            c.errors[0].to_string(),
            "p.json: statement 1 (Sid `A`): unknown condition operator `StringEqualz` (did you mean `StringEquals`?)"
        );
        let c = compile_document(
            "p.json",
            &json!({"Statement":{"Effect":"allow","Action":"ssm:X","NotAction":"ssm:Y"}}),
        );
        assert_eq!(c.errors.len(), 3, "{:?}", c.errors);
    }

    #[test]
    fn lints_seed_noise() {
        let c = compile_document(
            "p.json",
            &json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:TerminateSession","Resource":"","Condition":{"StringLike":{"ssm:resourceTag/\ntag-key1\n":"v"}}}]}),
        );
        assert!(c.policy.is_some());
        let text: Vec<String> = c.warnings.iter().map(|w| w.to_string()).collect();
        assert!(
            text.iter().any(|w| w.contains("matches no resource")),
            "{text:?}"
        );
        assert!(text.iter().any(|w| w.contains("whitespace")), "{text:?}");
    }

    #[test]
    fn refuses_principal_and_case_duplicate_keys_warns_undefined_keys() {
        // IAM User Guide, "IAM JSON policy elements: Principal": not in identity-based policies.
        let c = compile_document(
            "p.json",
            &json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"ssm:StartSession","Resource":"*"}]}),
        );
        assert!(c.policy.is_none());
        assert!(
            c.errors[0].message.contains("`Principal` is not allowed"),
            "{:?}",
            c.errors
        );
        // IAM Access Analyzer, "Duplicate keys with different case".
        let c = compile_document(
            "p.json",
            &json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:StartSession","Resource":"*","Condition":{"StringEquals":{"aws:username":"a","AWS:UserName":"b"}}}]}),
        );
        assert!(c.policy.is_none());
        assert!(c.errors[0].message.contains("twice"), "{:?}", c.errors);
        // An invalid global condition key: a warning with a suggestion.
        let c = compile_document(
            "p.json",
            &json!({"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ssm:StartSession","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresnt":"false"}}}]}),
        );
        assert!(c.policy.is_some());
        let w: Vec<String> = c.warnings.iter().map(|w| w.to_string()).collect();
        assert!(
            w.iter()
                .any(|w| w.contains("did you mean `aws:MultiFactorAuthPresent`?")),
            "{w:?}"
        );
    }

    #[test]
    fn quoted_and_unquoted_scalars_are_equal() {
        let c = compile_document(
            "p.json",
            &json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":true},"NumericLessThan":{"aws:MultiFactorAuthAge":3600}}}]}),
        );
        assert!(c.errors.is_empty(), "{:?}", c.errors);
    }
}
