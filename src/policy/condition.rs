//! Condition operators: parsing the operator name, compiling its values, and evaluating a
//! condition against request values with three-valued logic.
//!
//! Semantics follow the IAM User Guide, "IAM JSON policy elements: Condition operators" and
//! "Single-valued vs. multivalued context keys": a missing key makes a condition false, except
//! for negated operators (true), `...IfExists` (true) and `Null`; `ForAllValues:` is true and
//! `ForAnyValue:` false on a missing or empty key; for negated operators the request value must
//! match none of the listed values.

use std::net::IpAddr;

use ipnet::IpNet;

use super::pattern::{Pattern, Piece, Syntax, Tri, VarValue};
use crate::timefmt;

/// A comparison used by numeric and date operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Cmp::Eq | Cmp::Ne => ord == Equal,
            Cmp::Lt => ord == Less,
            Cmp::Le => ord != Greater,
            Cmp::Gt => ord == Greater,
            Cmp::Ge => ord != Less,
        }
    }
}

/// The operator without its `ForAnyValue:`/`ForAllValues:` prefix and `IfExists` suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseOp {
    String {
        negated: bool,
        ignore_case: bool,
        like: bool,
    },
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    Binary,
    Ip {
        negated: bool,
    },
    Arn {
        negated: bool,
    },
    Null,
}

impl BaseOp {
    /// Negated operators are true when the key is missing and need every value to miss.
    pub fn negated(self) -> bool {
        match self {
            BaseOp::String { negated, .. } | BaseOp::Ip { negated } | BaseOp::Arn { negated } => {
                negated
            }
            BaseOp::Numeric(c) | BaseOp::Date(c) => c == Cmp::Ne,
            _ => false,
        }
    }

    /// Operators whose values may contain policy variables (IAM User Guide, "Where you can use
    /// policy variables": string and ARN operators).
    pub fn takes_variables(self) -> bool {
        matches!(self, BaseOp::String { .. } | BaseOp::Arn { .. })
    }
}

/// The set prefix of an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOp {
    ForAnyValue,
    ForAllValues,
}

/// A parsed operator name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub name: String,
    pub set: Option<SetOp>,
    pub base: BaseOp,
    pub if_exists: bool,
}

const BASE_NAMES: &[(&str, BaseOp)] = &[
    (
        "StringEquals",
        BaseOp::String {
            negated: false,
            ignore_case: false,
            like: false,
        },
    ),
    (
        "StringNotEquals",
        BaseOp::String {
            negated: true,
            ignore_case: false,
            like: false,
        },
    ),
    (
        "StringEqualsIgnoreCase",
        BaseOp::String {
            negated: false,
            ignore_case: true,
            like: false,
        },
    ),
    (
        "StringNotEqualsIgnoreCase",
        BaseOp::String {
            negated: true,
            ignore_case: true,
            like: false,
        },
    ),
    (
        "StringLike",
        BaseOp::String {
            negated: false,
            ignore_case: false,
            like: true,
        },
    ),
    (
        "StringNotLike",
        BaseOp::String {
            negated: true,
            ignore_case: false,
            like: true,
        },
    ),
    ("NumericEquals", BaseOp::Numeric(Cmp::Eq)),
    ("NumericNotEquals", BaseOp::Numeric(Cmp::Ne)),
    ("NumericLessThan", BaseOp::Numeric(Cmp::Lt)),
    ("NumericLessThanEquals", BaseOp::Numeric(Cmp::Le)),
    ("NumericGreaterThan", BaseOp::Numeric(Cmp::Gt)),
    ("NumericGreaterThanEquals", BaseOp::Numeric(Cmp::Ge)),
    ("DateEquals", BaseOp::Date(Cmp::Eq)),
    ("DateNotEquals", BaseOp::Date(Cmp::Ne)),
    ("DateLessThan", BaseOp::Date(Cmp::Lt)),
    ("DateLessThanEquals", BaseOp::Date(Cmp::Le)),
    ("DateGreaterThan", BaseOp::Date(Cmp::Gt)),
    ("DateGreaterThanEquals", BaseOp::Date(Cmp::Ge)),
    ("Bool", BaseOp::Bool),
    ("BinaryEquals", BaseOp::Binary),
    ("IpAddress", BaseOp::Ip { negated: false }),
    ("NotIpAddress", BaseOp::Ip { negated: true }),
    ("ArnEquals", BaseOp::Arn { negated: false }),
    ("ArnLike", BaseOp::Arn { negated: false }),
    ("ArnNotEquals", BaseOp::Arn { negated: true }),
    ("ArnNotLike", BaseOp::Arn { negated: true }),
    ("Null", BaseOp::Null),
];

/// Every valid operator name, for "did you mean" suggestions.
pub fn all_operator_names() -> Vec<String> {
    let mut out = Vec::new();
    for (name, base) in BASE_NAMES {
        for prefix in ["", "ForAnyValue:", "ForAllValues:"] {
            out.push(format!("{prefix}{name}"));
            if *base != BaseOp::Null {
                out.push(format!("{prefix}{name}IfExists"));
            }
        }
    }
    out
}

/// Why an operator name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorError {
    Unknown,
    NullIfExists,
}

impl Operator {
    /// Parses an operator name exactly as AWS spells it.
    pub fn parse(name: &str) -> Result<Operator, OperatorError> {
        let (set, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
            (Some(SetOp::ForAnyValue), r)
        } else if let Some(r) = name.strip_prefix("ForAllValues:") {
            (Some(SetOp::ForAllValues), r)
        } else {
            (None, name)
        };
        let (base_name, if_exists) = match rest.strip_suffix("IfExists") {
            Some(b) => (b, true),
            None => (rest, false),
        };
        let base = BASE_NAMES
            .iter()
            .find(|(n, _)| *n == base_name)
            .map(|(_, b)| *b)
            .ok_or(OperatorError::Unknown)?;
        if base == BaseOp::Null && if_exists {
            return Err(OperatorError::NullIfExists);
        }
        Ok(Operator {
            name: name.to_string(),
            set,
            base,
            if_exists,
        })
    }
}

/// Compiled values of one condition key.
#[derive(Debug, Clone)]
pub enum Values {
    Str(Vec<Pattern>),
    Num(Vec<f64>),
    Date(Vec<i64>),
    Bool(Vec<bool>),
    Binary(Vec<String>),
    Ip(Vec<IpNet>),
    Arn(Vec<ArnPattern>),
    Null(Vec<bool>),
}

/// A value that does not fit its operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError(pub String);

/// Compiles the policy's values for `op`.
pub fn compile_values(
    op: &Operator,
    raw: &[String],
    variables: bool,
) -> Result<Values, ValueError> {
    let var_check = |v: &str| -> Result<(), ValueError> {
        if variables && v.contains("${") && !op.base.takes_variables() {
            return Err(ValueError(format!(
                "policy variable in `{v}`: `{}` does not take policy variables",
                op.name
            )));
        }
        Ok(())
    };
    for v in raw {
        var_check(v)?;
    }
    Ok(match op.base {
        BaseOp::String {
            ignore_case, like, ..
        } => {
            let syntax = Syntax {
                wildcards: like,
                variables,
                ignore_case,
            };
            Values::Str(
                raw.iter()
                    .map(|v| Pattern::parse(v, syntax).map_err(|e| ValueError(e.0)))
                    .collect::<Result<_, _>>()?,
            )
        }
        BaseOp::Numeric(_) => Values::Num(
            raw.iter()
                .map(|v| {
                    parse_number(v).ok_or_else(|| {
                        ValueError(format!("`{v}` is not a number for `{}`", op.name))
                    })
                })
                .collect::<Result<_, _>>()?,
        ),
        BaseOp::Date(_) => Values::Date(
            raw.iter()
                .map(|v| {
                    timefmt::parse_policy_date(v).ok_or_else(|| {
                        ValueError(format!(
                            "`{v}` is not an ISO 8601 date or epoch seconds for `{}`",
                            op.name
                        ))
                    })
                })
                .collect::<Result<_, _>>()?,
        ),
        BaseOp::Bool => Values::Bool(
            raw.iter()
                .map(|v| {
                    parse_bool(v).ok_or_else(|| {
                        ValueError(format!("`{v}` is not `true` or `false` for `Bool`"))
                    })
                })
                .collect::<Result<_, _>>()?,
        ),
        BaseOp::Null => Values::Null(
            raw.iter()
                .map(|v| {
                    parse_bool(v).ok_or_else(|| {
                        ValueError(format!("`{v}` is not `true` or `false` for `Null`"))
                    })
                })
                .collect::<Result<_, _>>()?,
        ),
        BaseOp::Binary => Values::Binary(raw.to_vec()),
        BaseOp::Ip { .. } => Values::Ip(
            raw.iter()
                .map(|v| {
                    parse_cidr(v).ok_or_else(|| {
                        ValueError(format!(
                            "`{v}` is not an IPv4 or IPv6 address or CIDR range for `{}`",
                            op.name
                        ))
                    })
                })
                .collect::<Result<_, _>>()?,
        ),
        BaseOp::Arn { .. } => Values::Arn(
            raw.iter()
                .map(|v| ArnPattern::parse(v, variables).map_err(|e| ValueError(e.0)))
                .collect::<Result<_, _>>()?,
        ),
    })
}

pub fn parse_number(v: &str) -> Option<f64> {
    let t = v.trim();
    if t.is_empty() {
        return None;
    }
    t.parse::<f64>().ok().filter(|f| f.is_finite())
}

pub fn parse_bool(v: &str) -> Option<bool> {
    if v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A bare address means /32 (IPv4) or /128 (IPv6).
pub fn parse_cidr(v: &str) -> Option<IpNet> {
    let t = v.trim();
    if let Ok(net) = t.parse::<IpNet>() {
        return Some(net);
    }
    t.parse::<IpAddr>().ok().map(IpNet::from)
}

/// An ARN pattern.
///
/// In `Resource`/`NotResource`, wildcards are used within the colon-separated segments, and
/// "if the `*` wildcard is the last character of a resource ARN segment, it can expand to match
/// beyond colon boundaries" (IAM User Guide, "IAM JSON policy elements: Resource", "Using
/// wildcards in resource ARNs"): `arn:aws:ec2:*:instance/i-1` matches
/// `arn:aws:ec2:us-east-2:111122223333:instance/i-1`. In the resource part (after the fifth
/// colon) `*` and `?` match any character, `:` included.
///
/// For `ArnLike`/`ArnEquals` conditions the IAM User Guide ("IAM JSON policy elements:
/// Condition operators", "Amazon Resource Name (ARN) condition operators") says instead that
/// "each of the six colon-delimited components of the ARN is checked separately": condition
/// patterns are compared part by part and never cross colons.
#[derive(Debug, Clone)]
pub enum ArnPattern {
    Any,
    /// Six parts compared one by one. `crossing` holds the whole-string form when a `*` ends one
    /// of the first five parts of a `Resource` pattern; it decides only when the request ARN has
    /// more than five colons (with exactly five, every colon of the pattern meets one of the
    /// ARN's and the part-by-part answer is the same).
    Segments {
        segs: Box<[Pattern; 6]>,
        crossing: Option<Box<CrossingArn>>,
    },
    /// A `Resource` pattern with fewer than six parts whose trailing `*` crosses colons.
    Crossing(Box<CrossingArn>),
    /// Not `*`, fewer than six colon-separated parts and no `*` that may cross a colon: matches
    /// no ARN.
    Malformed,
}

/// Where the ARN pattern is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArnUse {
    /// `Resource` / `NotResource`: a trailing `*` in a part crosses colons.
    Resource,
    /// `ArnLike`, `ArnEquals` and their negations: the six parts are compared separately.
    Condition,
}

impl ArnPattern {
    /// Parses a condition value (`ArnLike` and friends).
    pub fn parse(text: &str, variables: bool) -> Result<ArnPattern, super::pattern::VariableError> {
        ArnPattern::parse_for(text, variables, ArnUse::Condition)
    }

    pub fn parse_for(
        text: &str,
        variables: bool,
        usage: ArnUse,
    ) -> Result<ArnPattern, super::pattern::VariableError> {
        let syntax = Syntax {
            wildcards: true,
            variables,
            ignore_case: false,
        };
        if text == "*" {
            return Ok(ArnPattern::Any);
        }
        let parts = split_arn_pattern(text, variables);
        let compiled: Vec<Pattern> = parts
            .iter()
            .map(|p| Pattern::parse(p, syntax))
            .collect::<Result<_, _>>()?;
        let crossing = match usage {
            ArnUse::Resource => CrossingArn::build(&compiled),
            ArnUse::Condition => None,
        };
        match <[Pattern; 6]>::try_from(compiled) {
            Ok(segs) => Ok(ArnPattern::Segments {
                segs: Box::new(segs),
                crossing: crossing.map(Box::new),
            }),
            Err(_) => Ok(match crossing {
                Some(c) => ArnPattern::Crossing(Box::new(c)),
                None => ArnPattern::Malformed,
            }),
        }
    }

    /// Could this pattern match some ARN of `service` whose resource part starts with
    /// `prefix`? Conservative: `true` where unsure.
    pub fn could_name(&self, service: &str, prefix: &str) -> bool {
        match self {
            ArnPattern::Any | ArnPattern::Crossing(_) => true,
            ArnPattern::Malformed => false,
            ArnPattern::Segments { segs, crossing } => {
                // The service part stays in place unless a `*` ending an earlier part crosses.
                let ends_in_star = |p: &Pattern| p.pieces().last() == Some(&Piece::Star);
                let service_fixed = !ends_in_star(&segs[0]) && !ends_in_star(&segs[1]);
                if service_fixed && !segs[2].has_vars() && !segs[2].matches(service) {
                    return false;
                }
                crossing.is_some() || segs[5].can_match_prefix(prefix)
            }
        }
    }

    /// True when no ARN can match (the `validate` warning).
    pub fn matches_nothing(&self) -> bool {
        matches!(self, ArnPattern::Malformed)
    }

    pub fn has_vars(&self) -> bool {
        match self {
            ArnPattern::Any | ArnPattern::Malformed => false,
            ArnPattern::Segments { segs, .. } => segs.iter().any(|p| p.has_vars()),
            ArnPattern::Crossing(c) => c.has_vars(),
        }
    }

    pub fn variables(&self) -> Vec<&str> {
        match self {
            ArnPattern::Any | ArnPattern::Malformed => vec![],
            ArnPattern::Segments { segs, .. } => segs.iter().flat_map(|p| p.variables()).collect(),
            ArnPattern::Crossing(c) => c.variables().collect(),
        }
    }

    pub fn matches_with<'v>(&self, arn: &str, lookup: &dyn Fn(&str) -> VarValue<'v>) -> Tri {
        self.matches_split(&SplitArn::new(arn), lookup)
    }

    /// Like [`ArnPattern::matches_with`], with the ARN split once by the caller (a request's
    /// resource is compared with many patterns).
    pub fn matches_split<'v>(
        &self,
        arn: &SplitArn<'_>,
        lookup: &dyn Fn(&str) -> VarValue<'v>,
    ) -> Tri {
        match self {
            ArnPattern::Any => Tri::True,
            ArnPattern::Malformed => Tri::False,
            ArnPattern::Crossing(c) => c.matches_with(arn.text, lookup),
            ArnPattern::Segments { segs, crossing } => {
                if let Some(c) = crossing {
                    if arn.colons > 5 {
                        return c.matches_with(arn.text, lookup);
                    }
                }
                let Some(parts) = &arn.parts else {
                    return Tri::False;
                };
                let mut out = Tri::True;
                // The resource part first: it differs most often.
                for i in [5, 2, 4, 3, 0, 1] {
                    out = out.and(segs[i].matches_with(parts[i], lookup));
                    if out == Tri::False {
                        return Tri::False;
                    }
                }
                out
            }
        }
    }
}

/// One piece of a whole-ARN pattern whose wildcards know whether they may match `:`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ArnPiece {
    Lit(String),
    Star {
        colons: bool,
    },
    One {
        colons: bool,
    },
    Var {
        key: String,
        default: Option<String>,
    },
}

/// A `Resource` pattern matched against the whole ARN: `*` and `?` do not match `:` in the
/// first five parts, except a `*` that ends its part; in the resource part both match anything.
#[derive(Debug, Clone)]
pub struct CrossingArn {
    pieces: Vec<ArnPiece>,
}

impl CrossingArn {
    /// `None` when no `*` ends one of the first five parts (nothing crosses a colon).
    fn build(parts: &[Pattern]) -> Option<CrossingArn> {
        let prefix = parts.len().min(5);
        let crosses = parts[..prefix]
            .iter()
            .any(|p| p.pieces().last() == Some(&Piece::Star));
        if !crosses {
            return None;
        }
        let mut pieces = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                pieces.push(ArnPiece::Lit(":".to_string()));
            }
            let resource_part = i == 5;
            let n = part.pieces().len();
            for (j, piece) in part.pieces().iter().enumerate() {
                pieces.push(match piece {
                    Piece::Lit(s) => ArnPiece::Lit(s.clone()),
                    Piece::Star => ArnPiece::Star {
                        colons: resource_part || j + 1 == n,
                    },
                    Piece::One => ArnPiece::One {
                        colons: resource_part,
                    },
                    Piece::Var { key, default } => ArnPiece::Var {
                        key: key.clone(),
                        default: default.clone(),
                    },
                });
            }
        }
        Some(CrossingArn { pieces })
    }

    fn has_vars(&self) -> bool {
        self.variables().next().is_some()
    }

    fn variables(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            ArnPiece::Var { key, .. } => Some(key.as_str()),
            _ => None,
        })
    }

    fn matches_with<'v>(&self, arn: &str, lookup: &dyn Fn(&str) -> VarValue<'v>) -> Tri {
        let mut resolved: Vec<ArnPiece> = Vec::with_capacity(self.pieces.len());
        let mut unknown = false;
        for p in &self.pieces {
            match p {
                ArnPiece::Var { key, default } => match lookup(key) {
                    VarValue::Known(v) => resolved.push(ArnPiece::Lit(v.to_string())),
                    VarValue::Absent => match default {
                        Some(d) => resolved.push(ArnPiece::Lit(d.clone())),
                        None => return Tri::False,
                    },
                    VarValue::Unknown => {
                        // Stand-in for any value: if even that cannot match, the answer is no.
                        unknown = true;
                        resolved.push(ArnPiece::Star { colons: true });
                    }
                },
                other => resolved.push(other.clone()),
            }
        }
        match (whole_match(&resolved, arn), unknown) {
            (false, _) => Tri::False,
            (true, false) => Tri::True,
            (true, true) => Tri::Unknown,
        }
    }
}

/// Dynamic programming over (piece, text position): two kinds of star rule out the usual
/// backtrack-to-the-last-star matcher. ARNs are short, so the O(pieces × length) table is cheap.
fn whole_match(pieces: &[ArnPiece], text: &str) -> bool {
    let t = text.as_bytes();
    let n = t.len();
    let boundary = |i: usize| i == n || (i < n && (t[i] & 0xC0) != 0x80);
    let mut cur = vec![false; n + 1];
    cur[0] = true;
    let mut next = vec![false; n + 1];
    for p in pieces {
        next.iter_mut().for_each(|x| *x = false);
        match p {
            ArnPiece::Lit(s) => {
                let s = s.as_bytes();
                for j in 0..=n {
                    if cur[j] && t[j..].starts_with(s) {
                        next[j + s.len()] = true;
                    }
                }
            }
            ArnPiece::One { colons } => {
                for j in 0..n {
                    if cur[j] && boundary(j) && (*colons || t[j] != b':') {
                        let mut k = j + 1;
                        while !boundary(k) {
                            k += 1;
                        }
                        next[k] = true;
                    }
                }
            }
            ArnPiece::Star { colons } => {
                let mut reach = false;
                for j in 0..=n {
                    if j > 0 && t[j - 1] == b':' && !colons {
                        reach = false;
                    }
                    reach |= cur[j];
                    next[j] = reach && boundary(j);
                }
            }
            ArnPiece::Var { .. } => {}
        }
        std::mem::swap(&mut cur, &mut next);
        if !cur.iter().any(|x| *x) {
            return false;
        }
    }
    cur[n]
}

/// An ARN split into its six parts (`None` when it has fewer, like `*`).
pub struct SplitArn<'a> {
    text: &'a str,
    colons: usize,
    parts: Option<[&'a str; 6]>,
}

impl<'a> SplitArn<'a> {
    pub fn new(arn: &'a str) -> SplitArn<'a> {
        let colons = memchr::memchr_iter(b':', arn.as_bytes()).count();
        let mut it = arn.splitn(6, ':');
        let mut parts = [""; 6];
        for p in parts.iter_mut() {
            match it.next() {
                Some(x) => *p = x,
                None => {
                    return SplitArn {
                        text: arn,
                        colons,
                        parts: None,
                    }
                }
            }
        }
        SplitArn {
            text: arn,
            colons,
            parts: Some(parts),
        }
    }
}

/// Splits on `:` outside of `${...}` (variable names contain colons), into at most six parts.
fn split_arn_pattern(text: &str, variables: bool) -> Vec<&str> {
    let mut parts = Vec::with_capacity(6);
    let bytes = text.as_bytes();
    let (mut start, mut i, mut in_var) = (0usize, 0usize, false);
    while i < bytes.len() {
        if parts.len() == 5 {
            break;
        }
        match bytes[i] {
            b'$' if variables && !in_var && bytes.get(i + 1) == Some(&b'{') => in_var = true,
            b'}' if in_var => in_var = false,
            b':' if !in_var => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&text[start..]);
    parts
}

/// What a request carries for a key.
#[derive(Debug, Clone, Copy)]
pub enum KeyState<'a> {
    Present(&'a [String]),
    Absent,
    Unknown,
}

/// Evaluates one condition (operator + key + values) against the request's values for the key.
/// `lookup` resolves policy variables in the policy's values.
pub fn evaluate<'v>(
    op: &Operator,
    values: &Values,
    state: KeyState<'_>,
    lookup: &dyn Fn(&str) -> VarValue<'v>,
) -> Tri {
    if let Values::Null(expect) = values {
        let is_null = match state {
            KeyState::Present(v) => v.is_empty(),
            KeyState::Absent => true,
            KeyState::Unknown => return Tri::Unknown,
        };
        return Tri::from_bool(expect.contains(&is_null));
    }
    let present = match state {
        KeyState::Unknown => return Tri::Unknown,
        KeyState::Present(v) if !v.is_empty() => v,
        _ => {
            // Missing (or empty) key. IAM User Guide, "Single-valued vs. multivalued context
            // keys": `ForAllValues:` is true and `ForAnyValue:` false on a missing or empty
            // key. `IfExists` does not turn a `ForAnyValue:` condition true there: it only
            // says what happens when the key is absent, and for a set operator that answer is
            // already given by the set rule (AWS re:Post, "ForAnyValue:StringEqualsIfExists
            // behaving unexpectedly").
            return Tri::from_bool(match op.set {
                Some(SetOp::ForAllValues) => true,
                Some(SetOp::ForAnyValue) => false,
                None => op.if_exists || op.base.negated(),
            });
        }
    };
    let negated = op.base.negated();
    // `positive(v)`: does the request value match any of the policy's values under the
    // non-negated form of the operator?
    let positive = |v: &str| -> Tri { positive_match(op.base, values, v, lookup) };
    match op.set {
        None => {
            let mut any = Tri::False;
            for v in present {
                any = any.or(positive(v));
                if any == Tri::True {
                    break;
                }
            }
            if negated {
                any.negate()
            } else {
                any
            }
        }
        Some(SetOp::ForAnyValue) => {
            let mut out = Tri::False;
            for v in present {
                let p = positive(v);
                out = out.or(if negated { p.negate() } else { p });
                if out == Tri::True {
                    break;
                }
            }
            out
        }
        Some(SetOp::ForAllValues) => {
            let mut out = Tri::True;
            for v in present {
                let p = positive(v);
                out = out.and(if negated { p.negate() } else { p });
                if out == Tri::False {
                    break;
                }
            }
            out
        }
    }
}

fn positive_match<'v>(
    base: BaseOp,
    values: &Values,
    v: &str,
    lookup: &dyn Fn(&str) -> VarValue<'v>,
) -> Tri {
    match values {
        Values::Str(pats) => {
            let _ = base;
            let mut out = Tri::False;
            for p in pats {
                out = out.or(p.matches_with(v, lookup));
                if out == Tri::True {
                    break;
                }
            }
            out
        }
        Values::Arn(pats) => {
            let mut out = Tri::False;
            for p in pats {
                out = out.or(p.matches_with(v, lookup));
                if out == Tri::True {
                    break;
                }
            }
            out
        }
        Values::Num(nums) => {
            let BaseOp::Numeric(cmp) = base else {
                return Tri::False;
            };
            let Some(x) = parse_number(v) else {
                return Tri::False;
            };
            Tri::from_bool(
                nums.iter()
                    .any(|n| x.partial_cmp(n).map(|ord| cmp.holds(ord)).unwrap_or(false)),
            )
        }
        Values::Date(dates) => {
            let BaseOp::Date(cmp) = base else {
                return Tri::False;
            };
            let Some(x) = timefmt::parse_policy_date(v) else {
                return Tri::False;
            };
            Tri::from_bool(dates.iter().any(|d| cmp.holds(x.cmp(d))))
        }
        Values::Bool(bools) => match parse_bool(v) {
            Some(b) => Tri::from_bool(bools.contains(&b)),
            None => Tri::False,
        },
        Values::Binary(bins) => Tri::from_bool(bins.iter().any(|b| b == v)),
        Values::Ip(nets) => match v.trim().parse::<IpAddr>() {
            Ok(ip) => Tri::from_bool(nets.iter().any(|n| n.contains(&ip))),
            Err(_) => Tri::False,
        },
        Values::Null(_) => Tri::False,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(name: &str) -> Operator {
        Operator::parse(name).expect("valid operator")
    }

    fn eval(name: &str, policy: &[&str], req: Option<&[&str]>) -> Tri {
        let o = op(name);
        let raw: Vec<String> = policy.iter().map(|s| s.to_string()).collect();
        let vals = compile_values(&o, &raw, true).expect("valid values");
        let owned: Vec<String> = req.unwrap_or(&[]).iter().map(|s| s.to_string()).collect();
        let state = match req {
            Some(_) => KeyState::Present(&owned),
            None => KeyState::Absent,
        };
        evaluate(&o, &vals, state, &|_| VarValue::Absent)
    }

    #[test]
    fn operator_names() {
        assert!(Operator::parse("StringEquals").is_ok());
        assert!(Operator::parse("ForAllValues:StringLikeIfExists").is_ok());
        assert_eq!(
            Operator::parse("NullIfExists"),
            Err(OperatorError::NullIfExists)
        );
        assert_eq!(Operator::parse("StringEqualz"), Err(OperatorError::Unknown));
    }

    #[test]
    fn missing_key_rules() {
        // IAM User Guide, "Condition operators": missing key → false, negated → true.
        assert_eq!(eval("StringEquals", &["a"], None), Tri::False);
        assert_eq!(eval("StringNotEquals", &["a"], None), Tri::True);
        assert_eq!(eval("StringEqualsIfExists", &["a"], None), Tri::True);
        assert_eq!(eval("ForAllValues:StringEquals", &["a"], None), Tri::True);
        assert_eq!(eval("ForAnyValue:StringEquals", &["a"], None), Tri::False);
        // `IfExists` and negation do not make `ForAnyValue:` true on a missing or empty key
        // (IAM User Guide, "Single-valued vs. multivalued context keys").
        for name in [
            "ForAnyValue:StringEqualsIfExists",
            "ForAnyValue:StringNotEquals",
            "ForAnyValue:StringNotLikeIfExists",
            "ForAnyValue:StringLikeIfExists",
        ] {
            assert_eq!(eval(name, &["a"], None), Tri::False, "{name} absent");
            assert_eq!(eval(name, &["a"], Some(&[])), Tri::False, "{name} empty");
        }
        for name in [
            "ForAllValues:StringEqualsIfExists",
            "ForAllValues:StringNotEquals",
            "ForAllValues:StringLike",
        ] {
            assert_eq!(eval(name, &["a"], None), Tri::True, "{name} absent");
            assert_eq!(eval(name, &["a"], Some(&[])), Tri::True, "{name} empty");
        }
        assert_eq!(eval("Null", &["true"], None), Tri::True);
        assert_eq!(eval("Null", &["false"], Some(&["x"])), Tri::True);
    }

    #[test]
    fn numeric_date_ip_bool() {
        assert_eq!(eval("NumericLessThan", &["10"], Some(&["9"])), Tri::True);
        assert_eq!(eval("NumericLessThan", &["10"], Some(&["x"])), Tri::False);
        assert_eq!(
            eval(
                "DateGreaterThan",
                &["2020-01-01T00:00:00Z"],
                Some(&["2024-08-01T12:19:17Z"])
            ),
            Tri::True
        );
        assert_eq!(
            eval(
                "DateLessThan",
                &["1577836800"],
                Some(&["2019-12-31T23:59:59Z"])
            ),
            Tri::True
        );
        assert_eq!(
            eval("IpAddress", &["203.0.113.0/24"], Some(&["203.0.113.9"])),
            Tri::True
        );
        assert_eq!(
            eval("IpAddress", &["2001:db8::1"], Some(&["2001:db8::1"])),
            Tri::True
        );
        assert_eq!(
            eval(
                "NotIpAddress",
                &["203.0.113.0/24"],
                Some(&["ssm.amazonaws.com"])
            ),
            Tri::True
        );
        assert_eq!(eval("Bool", &["true"], Some(&["TRUE"])), Tri::True);
    }

    #[test]
    fn arn_condition_parts_do_not_cross_colons() {
        // "ARN condition operators": each of the six parts is checked separately.
        let p =
            ArnPattern::parse("arn:aws:ssm:*:*:session/${aws:username}-*", true).expect("valid");
        let look = |_: &str| VarValue::Known("alice");
        assert_eq!(
            p.matches_with("arn:aws:ssm:us-east-1:1:session/alice-1", &look),
            Tri::True
        );
        let q = ArnPattern::parse("arn:aws:ec2:*:instance/*", false).expect("valid");
        assert!(q.matches_nothing());
        let r = ArnPattern::parse("arn:aws:ec2:us-*:123:instance/*", false).expect("valid");
        assert_eq!(
            r.matches_with("arn:aws:ec2:us-east-1:123:instance/i-1", &look),
            Tri::True
        );
        assert_eq!(
            r.matches_with("arn:aws:ec2:us-east-1:x:123:instance/i-1", &look),
            Tri::False
        );
    }

    #[test]
    fn resource_trailing_star_crosses_colons() {
        // IAM User Guide, "IAM JSON policy elements: Resource", "Using wildcards in resource
        // ARNs": a `*` that is the last character of a segment can match beyond colons.
        let res = |t: &str| ArnPattern::parse_for(t, true, ArnUse::Resource).expect("valid");
        let none = |_: &str| VarValue::Absent;
        let inst = "arn:aws:ec2:us-east-2:111122223333:instance/i-0abc";
        assert_eq!(
            res("arn:aws:ec2:*:instance/i-0abc").matches_with(inst, &none),
            Tri::True
        );
        assert_eq!(res("arn:aws:ec2:*").matches_with(inst, &none), Tri::True);
        assert_eq!(
            res("arn:aws:ssm:us-east-2:*")
                .matches_with("arn:aws:ssm:us-east-2:111122223333:session/alice-1", &none),
            Tri::True
        );
        assert_eq!(
            res("arn:aws:ssm:us-east-2:*")
                .matches_with("arn:aws:ssm:us-east-1:111122223333:session/alice-1", &none),
            Tri::False
        );
        // A `*` inside a segment does not cross.
        assert_eq!(
            res("arn:aws:ec2:us-*-2:instance/i-0abc").matches_with(inst, &none),
            Tri::False
        );
        // Fewer than six parts and nothing that crosses: matches nothing.
        assert!(res("arn:aws:ec2:us-east-2:instance/i-0abc").matches_nothing());
        // Six parts with a crossing star: the whole form decides when the ARN has more colons.
        let p = res("arn:aws:ec2:*:*:instance/i-1");
        assert_eq!(
            p.matches_with("arn:aws:ec2:us-east-1:123:foo:instance/i-1", &none),
            Tri::True
        );
        assert_eq!(
            p.matches_with("arn:aws:ec2:us-east-1:123:instance/i-1", &none),
            Tri::True
        );
        assert_eq!(p.matches_with("*", &none), Tri::False);
        // Variables: a value is literal text; unknown stands for any value.
        let v = res("arn:aws:ssm:*:session/${aws:username}-*");
        let alice = |_: &str| VarValue::Known("alice");
        let unknown = |_: &str| VarValue::Unknown;
        let session = "arn:aws:ssm:us-east-1:1:session/alice-1";
        assert_eq!(v.matches_with(session, &alice), Tri::True);
        assert_eq!(v.matches_with(session, &none), Tri::False);
        assert_eq!(v.matches_with(session, &unknown), Tri::Unknown);
        assert_eq!(
            v.matches_with("arn:aws:ec2:r:1:instance/i", &unknown),
            Tri::False
        );
    }
}
