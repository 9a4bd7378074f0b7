//! Possible worlds: when the fast three-valued pass says `indeterminate`, check whether the
//! decision really depends on the unknown keys.
//!
//! Three-valued logic per condition loses facts that hold across statements: an `Allow` under
//! `Null {"k": "true"}` and another under `Null {"k": "false"}` together allow whatever `k` holds.
//! For each unknown key the policies test, the values it could take fall into finitely many
//! classes that every condition treats alike: absent, each literal the policies name, one value
//! matching a wildcard pattern but no literal, one matching nothing, and for numbers and dates
//! each bound, its neighbours and the gaps between bounds. One representative per class, every
//! combination over the keys, each evaluated with every key known: when all give one decision,
//! that decision is AWS's whatever the keys hold. Where the classes cannot be listed soundly (set
//! operators, IP and ARN operators, policy variables, several wildcard patterns on one key) or
//! the combinations exceed [`MAX_WORLDS`], the answer stays `indeterminate` and the reason says
//! why.

use std::collections::BTreeSet;

use super::authorize::PolicyStack;
use super::request::{Env, Request, TagState};
use crate::policy::compile::{CompiledPolicy, Condition};
use crate::policy::condition::{KeyState, SplitArn, Values};
use crate::policy::pattern::{Pattern, Piece, VarValue};

/// The most combinations checked for one request.
pub const MAX_WORLDS: usize = 4096;

/// Where a world's value for an unknown key goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// A condition key of the request context (lowercased).
    Context(String),
    /// A tag (lowercased key) of the request's resource number `index`; `index ==
    /// resources.len()` is the default document.
    ResourceTag { index: usize, tag: String },
    /// A tag of the principal.
    PrincipalTag(String),
}

/// One unknown key and the representatives of its classes (`None` = absent).
#[derive(Debug, Clone)]
pub struct Variable {
    pub slot: Slot,
    /// How reasons name it (`ssm:resourceTag/Env`).
    pub name: String,
    pub values: Vec<Option<String>>,
}

/// The outcome of listing worlds.
#[derive(Debug)]
pub enum Enumeration {
    /// Every combination of these variables' values is one world.
    Worlds(Vec<Variable>),
    /// The classes of some key cannot be listed soundly, or there are too many combinations.
    Unsettled(String),
}

const RESOURCE_TAG_PREFIXES: [&str; 2] = ["aws:resourcetag/", "ssm:resourcetag/"];
const PRINCIPAL_TAG_PREFIX: &str = "aws:principaltag/";

fn policies<'a, 'p>(stack: &'a PolicyStack<'p>) -> impl Iterator<Item = &'p CompiledPolicy> + 'a {
    stack
        .identity
        .iter()
        .copied()
        .chain(stack.scp_levels.iter().flatten().copied())
        .chain(stack.boundary)
        .chain(stack.session.iter().copied())
}

/// Lists the unknown keys that the policies of `stacks` test for `request`, with the
/// representatives of their classes.
pub fn enumerate(
    stacks: &[&PolicyStack<'_>],
    request: &Request,
    principal_tags: &TagState,
) -> Enumeration {
    let mut slots: Vec<&crate::eval::Resource> = request.resources.iter().collect();
    slots.extend(request.conditional.as_ref().map(|c| &c.resource));
    let envs: Vec<Env<'_>> = slots
        .iter()
        .map(|r| Env {
            context: &request.context,
            resource: r,
            split: SplitArn::new(&r.arn),
            principal_tags,
        })
        .collect();
    let mut conditions: Vec<&Condition> = Vec::new();
    for stack in stacks {
        for p in policies(stack) {
            for s in &p.statements {
                // A policy variable whose value is unknown cannot be given a finite set of
                // representatives here.
                let vars = s
                    .resources
                    .iter()
                    .flat_map(|r| r.variables())
                    .chain(s.conditions.iter().flat_map(condition_variables));
                for v in vars {
                    if envs.iter().any(|e| e.var(v) == VarValue::Unknown) {
                        return Enumeration::Unsettled(format!(
                            "the policy variable ${{{v}}} is unknown"
                        ));
                    }
                }
                conditions.extend(s.conditions.iter());
            }
        }
    }
    let mut variables: Vec<Variable> = Vec::new();
    let push = |slot: Slot, name: &str, variables: &mut Vec<Variable>| {
        if !variables.iter().any(|v| v.slot == slot) {
            variables.push(Variable {
                slot,
                name: name.to_string(),
                values: Vec::new(),
            });
        }
    };
    for c in &conditions {
        let key = c.key.as_str();
        let resource_tag = RESOURCE_TAG_PREFIXES
            .iter()
            .find_map(|p| key.strip_prefix(p));
        for (index, env) in envs.iter().enumerate() {
            if !matches!(env.state(key), KeyState::Unknown) {
                continue;
            }
            let set_in_context = request.context.get(key).is_some();
            let slot = match resource_tag {
                Some(tag) if !set_in_context => {
                    if slots.len() > 1 {
                        // Several resources, each with its own tags: name the one meant.
                        let part =
                            crate::arn::Arn::parse(&slots[index].arn).map_or("", |a| a.resource);
                        let name = format!("{} of {part}", c.key_display);
                        push(
                            Slot::ResourceTag {
                                index,
                                tag: tag.to_string(),
                            },
                            &name,
                            &mut variables,
                        );
                        continue;
                    }
                    Slot::ResourceTag {
                        index,
                        tag: tag.to_string(),
                    }
                }
                _ => match key.strip_prefix(PRINCIPAL_TAG_PREFIX) {
                    Some(tag) if !set_in_context => Slot::PrincipalTag(tag.to_string()),
                    _ => Slot::Context(key.to_string()),
                },
            };
            push(slot, &c.key_display, &mut variables);
        }
    }
    let mut count: usize = 1;
    for v in &mut variables {
        let on_key: Vec<&Condition> = conditions
            .iter()
            .copied()
            .filter(|c| same_variable(&v.slot, &c.key))
            .collect();
        match representatives(&on_key) {
            Ok(values) => v.values = values,
            Err(why) => return Enumeration::Unsettled(format!("{}: {why}", v.name)),
        }
        count = count.saturating_mul(v.values.len());
        if count > MAX_WORLDS {
            return Enumeration::Unsettled(format!(
                "more than {MAX_WORLDS} combinations of unknown values to check"
            ));
        }
    }
    Enumeration::Worlds(variables)
}

fn condition_variables(c: &Condition) -> Vec<&str> {
    match &c.values {
        Values::Str(ps) => ps.iter().flat_map(|p| p.variables()).collect(),
        Values::Arn(ps) => ps.iter().flat_map(|p| p.variables()).collect(),
        _ => Vec::new(),
    }
}

/// Does a condition on `key` (lowercased) read this slot?
fn same_variable(slot: &Slot, key: &str) -> bool {
    match slot {
        Slot::Context(k) => k == key,
        Slot::ResourceTag { tag, .. } => RESOURCE_TAG_PREFIXES
            .iter()
            .any(|p| key.strip_prefix(p) == Some(tag.as_str())),
        Slot::PrincipalTag(tag) => key.strip_prefix(PRINCIPAL_TAG_PREFIX) == Some(tag.as_str()),
    }
}

/// The literal text of a pattern without wildcards or variables.
fn literal(p: &Pattern) -> Option<String> {
    match p.pieces() {
        [] => Some(String::new()),
        [Piece::Lit(s)] => Some(s.clone()),
        _ => None,
    }
}

/// One value per class of the conditions on one key (`None`: absent).
fn representatives(conds: &[&Condition]) -> Result<Vec<Option<String>>, String> {
    let mut exact: BTreeSet<String> = BTreeSet::new();
    let mut folded: BTreeSet<String> = BTreeSet::new();
    let mut wild: Vec<&Pattern> = Vec::new();
    let mut numbers: Vec<f64> = Vec::new();
    let mut dates: Vec<i64> = Vec::new();
    let mut booleans = false;
    for c in conds {
        if c.operator.set.is_some() {
            return Err(format!("`{}` tests a set of values", c.operator.name));
        }
        match &c.values {
            Values::Str(ps) => {
                for p in ps {
                    match literal(p) {
                        Some(text) if p.ignores_case() => {
                            folded.insert(text);
                        }
                        Some(text) => {
                            exact.insert(text);
                        }
                        None if p.has_vars() => return Err("a value holds a variable".into()),
                        None => {
                            if !wild.iter().any(|w| w.pieces() == p.pieces()) {
                                wild.push(p);
                            }
                        }
                    }
                }
            }
            Values::Binary(bs) => exact.extend(bs.iter().cloned()),
            Values::Num(ns) => numbers.extend(ns.iter().copied()),
            Values::Date(ds) => dates.extend(ds.iter().copied()),
            Values::Bool(_) => booleans = true,
            Values::Null(_) => {}
            Values::Ip(_) => return Err(format!("`{}` is not enumerated", c.operator.name)),
            Values::Arn(_) => return Err(format!("`{}` is not enumerated", c.operator.name)),
        }
    }
    if wild.len() > 1 {
        return Err("several wildcard patterns".into());
    }
    if !wild.is_empty() && !folded.is_empty() {
        return Err("a wildcard pattern with a case-insensitive comparison".into());
    }
    let mut out: Vec<Option<String>> = vec![None];
    let add = |v: String, out: &mut Vec<Option<String>>| {
        if !out.iter().any(|o| o.as_deref() == Some(v.as_str())) {
            out.push(Some(v));
        }
    };
    // Each literal is its own class.
    for e in exact.iter().chain(folded.iter()) {
        add(e.clone(), &mut out);
    }
    // A value equal to a case-insensitive literal in another case, but to no exact literal.
    for f in &folded {
        let upper = f.to_uppercase();
        let mut first_up = f.clone();
        if let Some(c) = f.chars().next() {
            first_up = c.to_uppercase().chain(f.chars().skip(1)).collect();
        }
        let variant = [f.clone(), upper, first_up]
            .into_iter()
            .find(|v| !exact.contains(v) && v.to_lowercase() == *f);
        match variant {
            Some(v) => add(v, &mut out),
            None if f.to_uppercase() == f.to_lowercase() => {}
            None => return Err("case variants of a literal are all literals".into()),
        }
    }
    let outside = |v: &str| !exact.contains(v) && !folded.contains(&v.to_lowercase());
    if let Some(p) = wild.first() {
        // One value matching the pattern and no literal, one matching neither.
        let fills = ["", "x", "\u{2}"];
        let instance = fills
            .iter()
            .map(|f| instantiate(p, f))
            .find(|v| p.matches(v) && outside(v));
        match instance {
            Some(v) => add(v, &mut out),
            None => return Err("no value matches the pattern but no literal".into()),
        }
        let miss = ["", "\u{1}", "\u{1}\u{1}"]
            .into_iter()
            .find(|v| !p.matches(v) && outside(v));
        match miss {
            Some(v) => add(v.to_string(), &mut out),
            None if p.is_any() => {}
            None => return Err("no value matches neither the pattern nor a literal".into()),
        }
    } else if exact.is_empty() && folded.is_empty() {
        // Keys tested only by `Null`, numbers, dates or booleans: any present value.
        add("\u{1}".to_string(), &mut out);
    } else {
        let miss = ["\u{1}", "\u{1}\u{1}"]
            .into_iter()
            .find(|v| outside(v))
            .unwrap_or("\u{1}\u{1}\u{1}");
        add(miss.to_string(), &mut out);
    }
    if !numbers.is_empty() {
        numbers.retain(|n| n.is_finite());
        numbers.sort_by(f64::total_cmp);
        numbers.dedup();
        let mut points = Vec::new();
        for (i, n) in numbers.iter().enumerate() {
            points.push(*n);
            match numbers.get(i + 1) {
                Some(next) => points.push(n + (next - n) / 2.0),
                None => points.push(n + 1.0),
            }
        }
        if let Some(first) = numbers.first() {
            points.push(first - 1.0);
        }
        for p in points {
            add(format!("{p}"), &mut out);
        }
    }
    if !dates.is_empty() {
        dates.sort_unstable();
        dates.dedup();
        for d in &dates {
            for ms in [d - 1, *d, d + 1] {
                add(format!("{}", ms as f64 / 1000.0), &mut out);
            }
        }
    }
    if booleans {
        add("true".into(), &mut out);
        add("false".into(), &mut out);
    }
    Ok(out)
}

/// The pattern with every `*` replaced by `fill` and every `?` by `x`.
fn instantiate(p: &Pattern, fill: &str) -> String {
    let mut s = String::new();
    for piece in p.pieces() {
        match piece {
            Piece::Lit(l) => s.push_str(l),
            Piece::Star => s.push_str(fill),
            Piece::One => s.push('x'),
            Piece::Var { .. } => {}
        }
    }
    s
}

/// Calls `f` with every world: the request and principal tags with each variable set.
pub fn for_each_world(
    variables: &[Variable],
    request: &Request,
    principal_tags: &TagState,
    mut f: impl FnMut(&[usize], &Request, &TagState),
) {
    let mut choice = vec![0usize; variables.len()];
    loop {
        let mut req = request.clone();
        let mut ptags = principal_tags.clone();
        for (v, &i) in variables.iter().zip(&choice) {
            let value = v.values[i].clone();
            match &v.slot {
                Slot::Context(key) => match value {
                    Some(x) => req.context.set(key, x),
                    None => req.context.set_absent(key),
                },
                Slot::ResourceTag { index, tag } => {
                    let res = if *index < req.resources.len() {
                        req.resources.get_mut(*index)
                    } else {
                        req.conditional.as_mut().map(|c| &mut c.resource)
                    };
                    if let Some(r) = res {
                        r.tags = with_tag(&r.tags, tag, value);
                    }
                }
                Slot::PrincipalTag(tag) => ptags = with_tag(&ptags, tag, value),
            }
        }
        f(&choice, &req, &ptags);
        // Next combination (odometer).
        let mut k = 0;
        loop {
            if k == choice.len() {
                return;
            }
            choice[k] += 1;
            if choice[k] < variables[k].values.len() {
                break;
            }
            choice[k] = 0;
            k += 1;
        }
    }
}

/// Tags with one key set (or removed). Unknown tags become known: every tag a policy tests is a
/// variable of the world, so the tags no condition reads do not matter.
fn with_tag(tags: &TagState, tag: &str, value: Option<String>) -> TagState {
    let mut map = match tags {
        TagState::Known(m) => (**m).clone(),
        TagState::Unknown => Default::default(),
        TagState::Partial(p) => {
            // Keep what is known; the world decides this key.
            let mut p = (**p).clone();
            p.unknown.remove(tag);
            p.values.insert(tag.to_string(), value);
            return TagState::Partial(std::sync::Arc::new(p));
        }
    };
    match value {
        Some(v) => {
            map.insert(tag.to_string(), v);
        }
        None => {
            map.remove(tag);
        }
    }
    TagState::Known(std::sync::Arc::new(map))
}

/// Describes one world's value of a variable, for reasons (`Env=prod`, `Env absent`).
pub fn describe(v: &Variable, i: usize) -> String {
    match &v.values[i] {
        None => format!("{} absent", v.name),
        Some(x) if x.chars().all(|c| !c.is_control()) && x.len() <= 40 => {
            format!("{}={x}", v.name)
        }
        Some(_) => format!("{} another value", v.name),
    }
}
