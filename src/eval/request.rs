//! The authorization request: action, resources (each with its tags) and condition context,
//! where every key is known, absent, or unknown (the log cannot tell).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use crate::policy::condition::KeyState;
use crate::policy::pattern::VarValue;

/// What the request carries for one condition key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyValue {
    /// Known value(s).
    Known(Vec<String>),
    /// The key is not in the request.
    Absent,
    /// The key may be in the request; the log does not say.
    Unknown,
}

/// Tags of a resource or principal. Keys are stored lowercased: tag keys in condition keys
/// compare case-insensitively (IAM User Guide, "Controlling access using tags").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagState {
    /// Shared: one inventory entry serves every event on its resource.
    Known(Arc<HashMap<String, String>>),
    /// The resource's tags are not known.
    Unknown,
    /// Some keys known (present or absent), some not: tags rebuilt in time, where a change
    /// between the event and the snapshot leaves a key's earlier value unknown.
    Partial(Arc<PartialTags>),
}

/// Tags of which some keys are known (present or absent) and some are not.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartialTags {
    /// Known keys (lowercased): `Some(value)` present, `None` absent.
    pub values: HashMap<String, Option<String>>,
    /// Keys (lowercased) whose value is not known.
    pub unknown: std::collections::HashSet<String>,
    /// Keys in neither set are unknown (else absent).
    pub others_unknown: bool,
}

impl TagState {
    /// Tags known, from key–value pairs.
    pub fn known<I, K, V>(tags: I) -> TagState
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        TagState::Known(Arc::new(
            tags.into_iter()
                .map(|(k, v)| (k.as_ref().to_lowercase(), v.into()))
                .collect(),
        ))
    }
    /// Known to have no tags.
    pub fn none() -> TagState {
        TagState::Known(Arc::new(HashMap::new()))
    }
    fn state(&self, key: &str) -> KeyState<'_> {
        match self {
            TagState::Known(map) => match map.get(key) {
                Some(v) => KeyState::Present(std::slice::from_ref(v)),
                None => KeyState::Absent,
            },
            TagState::Unknown => KeyState::Unknown,
            TagState::Partial(p) => {
                if p.unknown.contains(key) {
                    return KeyState::Unknown;
                }
                match p.values.get(key) {
                    Some(Some(v)) => KeyState::Present(std::slice::from_ref(v)),
                    Some(None) => KeyState::Absent,
                    None if p.others_unknown => KeyState::Unknown,
                    None => KeyState::Absent,
                }
            }
        }
    }
}

/// A resource the request names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// The resource's ARN.
    pub arn: String,
    /// Its tags.
    pub tags: TagState,
}

impl Resource {
    /// A resource with its tags.
    pub fn new(arn: impl Into<String>, tags: TagState) -> Resource {
        Resource {
            arn: arn.into(),
            tags,
        }
    }
}

/// The condition context. Keys are lowercased (condition key names are case-insensitive).
///
/// A request carries a few dozen keys and a policy tests a handful, so a vector searched
/// linearly beats a hash map here: building it allocates nothing for the keys (`&'static str`
/// for the ones the mapping knows) and hashes nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    values: Vec<(Cow<'static, str>, KeyValue)>,
    /// In a replay, a key the mapping did not set is one the log cannot tell: unknown. In
    /// `simulate`, like AWS's simulator, it is absent.
    pub missing_is_unknown: bool,
    /// Lowercased key prefixes known to be absent whatever follows (a replayed call that
    /// carries no request tags has no `aws:RequestTag/…` key at all).
    pub absent_prefixes: Vec<&'static str>,
}

fn lower(key: &str) -> Cow<'static, str> {
    Cow::Owned(key.to_lowercase())
}

impl Context {
    fn new(missing_is_unknown: bool) -> Context {
        Context {
            values: Vec::with_capacity(32),
            missing_is_unknown,
            absent_prefixes: Vec::new(),
        }
    }

    /// The context of a replayed event: a key the mapping did not set is one the log cannot
    /// tell, so it is unknown (unless AWS never puts it in a Session Manager call's context).
    pub fn replayed() -> Context {
        Context::new(true)
    }

    /// The context of a simulated request: a key not given is absent, as in AWS's policy
    /// simulator.
    pub fn simulated() -> Context {
        Context::new(false)
    }
    fn slot(&mut self, key: Cow<'static, str>) -> &mut KeyValue {
        match self.values.iter().position(|(k, _)| *k == key) {
            Some(i) => &mut self.values[i].1,
            None => {
                self.values.push((key, KeyValue::Absent));
                let last = self.values.len() - 1;
                &mut self.values[last].1
            }
        }
    }
    /// Sets a key whose name is a lowercase literal (no allocation for the name).
    pub fn put(&mut self, key: &'static str, value: KeyValue) {
        debug_assert_eq!(key, key.to_lowercase());
        *self.slot(Cow::Borrowed(key)) = value;
    }
    /// Adds a key that is not set yet (the caller knows; no search). The name is a lowercase
    /// literal.
    pub fn put_new(&mut self, key: &'static str, value: KeyValue) {
        debug_assert_eq!(key, key.to_lowercase());
        debug_assert!(self.lookup(key).is_none(), "{key} set twice");
        self.values.push((Cow::Borrowed(key), value));
    }
    /// Sets a key to one known value.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        *self.slot(lower(key)) = KeyValue::Known(vec![value.into()]);
    }
    /// Adds a value to a multi-valued key.
    pub fn push(&mut self, key: &str, value: impl Into<String>) {
        match self.slot(lower(key)) {
            KeyValue::Known(v) => v.push(value.into()),
            slot => *slot = KeyValue::Known(vec![value.into()]),
        }
    }
    /// Marks a key absent.
    pub fn set_absent(&mut self, key: &str) {
        *self.slot(lower(key)) = KeyValue::Absent;
    }
    /// Marks a key unknown.
    pub fn set_unknown(&mut self, key: &str) {
        *self.slot(lower(key)) = KeyValue::Unknown;
    }
    /// The value of a key, any case.
    pub fn get(&self, key: &str) -> Option<&KeyValue> {
        let key = key.to_lowercase();
        self.lookup(&key)
    }
    /// The value of a lowercased key.
    fn lookup(&self, key: &str) -> Option<&KeyValue> {
        self.values.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    /// Iterates over the keys set explicitly (lowercased), in the order they were set.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &KeyValue)> {
        self.values.iter().map(|(k, v)| (k.as_ref(), v))
    }
}

/// A resource the request names but IAM evaluates only when every identity-based statement that
/// allows the request (on every other resource) uses a given condition key. Services define such
/// rules; the mapping of a service's events says which (for Session Manager: the default
/// session document and `ssm:SessionDocumentAccessCheck`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conditional {
    /// The resource.
    pub resource: Resource,
    /// The condition key, in lower case (keys are case-insensitive).
    pub key: String,
}

/// An authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    action: String,
    action_lower: String,
    /// The resources the action applies to.
    pub resources: Vec<Resource>,
    /// A resource evaluated only when the statements that allow the request ask for it (see
    /// [`Conditional`]).
    pub conditional: Option<Conditional>,
    /// The condition context.
    pub context: Context,
}

impl Request {
    /// A request for `action` on `resources`.
    pub fn new(action: &str, resources: Vec<Resource>, context: Context) -> Request {
        Request {
            action: action.to_string(),
            action_lower: action.to_ascii_lowercase(),
            resources,
            conditional: None,
            context,
        }
    }
    /// The action as written.
    pub fn action(&self) -> &str {
        &self.action
    }
    /// The action in lower case (IAM actions are case-insensitive).
    pub fn action_lower(&self) -> &str {
        &self.action_lower
    }
}

/// Everything a condition may look up while one resource is evaluated.
pub struct Env<'a> {
    pub context: &'a Context,
    pub resource: &'a Resource,
    /// The resource's ARN, split once for all the patterns it meets.
    pub split: crate::policy::condition::SplitArn<'a>,
    pub principal_tags: &'a TagState,
}

const RESOURCE_TAG_PREFIXES: [&str; 2] = ["aws:resourcetag/", "ssm:resourcetag/"];
const PRINCIPAL_TAG_PREFIX: &str = "aws:principaltag/";

impl<'a> Env<'a> {
    /// The state of a lowercased key.
    pub fn state(&self, key: &str) -> KeyState<'a> {
        // A key set in the context wins (this is how `simulate --context` gives resource tags).
        match self.context.lookup(key) {
            Some(KeyValue::Known(v)) => return KeyState::Present(v),
            Some(KeyValue::Absent) => return KeyState::Absent,
            Some(KeyValue::Unknown) => return KeyState::Unknown,
            None => {}
        }
        for prefix in RESOURCE_TAG_PREFIXES {
            if let Some(tag) = key.strip_prefix(prefix) {
                return self.resource.tags.state(tag);
            }
        }
        if let Some(tag) = key.strip_prefix(PRINCIPAL_TAG_PREFIX) {
            return self.principal_tags.state(tag);
        }
        if self
            .context
            .absent_prefixes
            .iter()
            .any(|p| key.starts_with(p))
        {
            return KeyState::Absent;
        }
        // A key AWS never puts in a session call's context is absent, even in a replay.
        if self.context.missing_is_unknown
            && crate::policy::knowledge::may_be_in_session_request(key)
        {
            KeyState::Unknown
        } else {
            KeyState::Absent
        }
    }

    /// The value of a policy variable (lowercased key).
    pub fn var(&self, key: &str) -> VarValue<'a> {
        match self.state(key) {
            KeyState::Present([one]) => VarValue::Known(one.as_str()),
            KeyState::Present([]) | KeyState::Absent => VarValue::Absent,
            // A multivalued key cannot be a variable; the value to use is unknowable.
            KeyState::Present(_) | KeyState::Unknown => VarValue::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_state(ctx: &Context, key: &str) -> String {
        let resource = Resource::new("*", TagState::Unknown);
        let env = Env {
            context: ctx,
            resource: &resource,
            split: crate::policy::condition::SplitArn::new("*"),
            principal_tags: &TagState::Unknown,
        };
        format!("{:?}", env.state(key))
    }

    #[test]
    fn key_states_in_a_replay_context() {
        let mut ctx = Context::replayed();
        ctx.set("aws:username", "alice");
        ctx.absent_prefixes.push("aws:requesttag/");
        assert!(env_state(&ctx, "aws:username").starts_with("Present"));
        assert_eq!(env_state(&ctx, "aws:requesttag/team"), "Absent");
        assert_eq!(env_state(&ctx, "aws:principalorgid"), "Unknown");
        assert_eq!(
            env_state(&ctx, "ssm:resourcetag/team"),
            "Unknown",
            "resource tags unknown"
        );
        assert_eq!(env_state(&ctx, "aws:principaltag/team"), "Unknown");
        // Keys AWS does not define, or defines only for other calls, are never in a session
        // call's context: absent, not unknown (IAM User Guide, "AWS global condition context
        // keys"; Service Authorization Reference for Systems Manager).
        assert_eq!(env_state(&ctx, "aws:multifactorauthpresnt"), "Absent");
        assert_eq!(env_state(&ctx, "ssm:overwrite"), "Absent");
        assert_eq!(env_state(&ctx, "ssm:sessiondocumentaccesscheckk"), "Absent");
        assert_eq!(env_state(&ctx, "aws:sourcevpc"), "Unknown");
        // Another service's key may be a cross-service global key: not ruled out.
        assert_eq!(env_state(&ctx, "ec2:sourceinstancearn"), "Unknown");
        let sim = Context::simulated();
        assert_eq!(
            env_state(&sim, "aws:principalorgid"),
            "Absent",
            "simulate: absent"
        );
    }
}
