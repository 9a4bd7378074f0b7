//! Policy sets: what `--candidate` and `--baseline` name. A plain policy document applies to
//! every principal; an `aws iam get-account-authorization-details` export gives each user and
//! role its own policies (inline, attached managed, group policies for users) and permissions
//! boundary, using only the default version of each managed policy (AWS-NOTES, "Inputs users
//! already have").

use std::collections::HashMap;

use crate::arn::account_of;

use serde_json::Value;

use crate::eval::TagState;
use crate::policy::compile::{compile_document, CompiledPolicy, Problem};
use crate::policy::embedded::{decode_embedded, decode_text, unwrap_policy_version};

/// A loaded input file: its name (for messages) and text.
pub struct PolicyInput {
    /// A name for messages (file name).
    pub name: String,
    /// The file's text.
    pub text: String,
}

/// The kind of principal a request comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// An IAM user.
    User,
    /// An IAM role.
    Role,
}

#[derive(Debug, Default)]
struct Entry {
    identity: Vec<usize>,
    boundary: Option<usize>,
    tags: Option<TagState>,
    problems: Vec<String>,
}

/// A compiled policy set.
#[derive(Debug, Default)]
pub struct PolicySet {
    /// Documents that apply to every principal.
    pub global: Vec<CompiledPolicy>,
    /// Every document from snapshots, compiled once.
    arena: Vec<CompiledPolicy>,
    principals: HashMap<String, Entry>,
    by_name: HashMap<(String, PrincipalKind, String), String>,
    has_snapshot: bool,
    /// Warnings (lints) from every document.
    pub warnings: Vec<Problem>,
}

/// The policies of one principal, or why they are not known.
pub enum Resolved<'a> {
    /// The principal's policies.
    Found {
        /// Identity-based policies (its own, its groups', managed and inline).
        identity: Vec<&'a CompiledPolicy>,
        /// Its permissions boundary.
        boundary: Option<&'a CompiledPolicy>,
        /// Its tags, when the snapshot has them.
        tags: Option<&'a TagState>,
    },
    /// The snapshot does not describe the principal (why).
    Missing(String),
}

/// Is this JSON an `aws iam get-account-authorization-details` export?
pub fn is_snapshot(v: &Value) -> bool {
    [
        "UserDetailList",
        "RoleDetailList",
        "GroupDetailList",
        "Policies",
    ]
    .iter()
    .any(|k| v.get(k).is_some())
}

fn problem(source: &str, message: String) -> Problem {
    Problem {
        source: source.to_string(),
        statement: None,
        message,
    }
}

impl PolicySet {
    /// A set of documents that apply to every principal.
    pub fn from_documents(global: Vec<CompiledPolicy>) -> PolicySet {
        PolicySet {
            global,
            ..PolicySet::default()
        }
    }

    /// Was an authorization-details snapshot loaded?
    pub fn has_snapshot(&self) -> bool {
        self.has_snapshot
    }

    /// Loads and compiles a policy set from its input files. Any error in any document refuses
    /// the whole set: a broken candidate must never be evaluated as if its bad statement were
    /// simply false.
    pub fn load(inputs: &[PolicyInput]) -> Result<PolicySet, Vec<Problem>> {
        let mut set = PolicySet::default();
        let mut errors: Vec<Problem> = Vec::new();
        let mut snapshots: Vec<(&str, Value)> = Vec::new();
        for input in inputs {
            let parsed = decode_text(&input.text).and_then(|v| {
                if is_snapshot(&v) {
                    Ok(v)
                } else {
                    unwrap_policy_version(v)
                }
            });
            let value = match parsed {
                Ok(v) => v,
                Err(e) => {
                    errors.push(problem(&input.name, e));
                    continue;
                }
            };
            if is_snapshot(&value) {
                snapshots.push((&input.name, value));
            } else {
                let c = compile_document(&input.name, &value);
                set.warnings.extend(c.warnings);
                errors.extend(c.errors);
                if let Some(p) = c.policy {
                    set.global.push(p);
                }
            }
        }
        if !snapshots.is_empty() {
            set.has_snapshot = true;
            set.load_snapshots(&snapshots, &mut errors);
        }
        if errors.is_empty() {
            Ok(set)
        } else {
            Err(errors)
        }
    }

    /// Compiles a document of a snapshot. `name` names the policy in reasons; messages name
    /// the snapshot file too.
    fn compile_into(
        &mut self,
        file: &str,
        name: String,
        doc: &Value,
        errors: &mut Vec<Problem>,
    ) -> Option<usize> {
        let in_file = |mut p: Problem| {
            p.source = format!("{file}: {}", p.source);
            p
        };
        let doc = match decode_embedded(doc) {
            Ok(d) => d,
            Err(e) => {
                errors.push(in_file(problem(&name, e)));
                return None;
            }
        };
        let c = compile_document(&name, &doc);
        self.warnings.extend(c.warnings.into_iter().map(in_file));
        errors.extend(c.errors.into_iter().map(in_file));
        c.policy.map(|p| {
            self.arena.push(p);
            self.arena.len() - 1
        })
    }

    fn load_snapshots(&mut self, snapshots: &[(&str, Value)], errors: &mut Vec<Problem>) {
        // Managed policies first: principals refer to them by ARN.
        let mut managed: HashMap<String, usize> = HashMap::new();
        for (file, v) in snapshots {
            for p in array(v, "Policies") {
                let Some(arn) = p.get("Arn").and_then(Value::as_str) else {
                    errors.push(problem(file, "`Policies` entry without `Arn`".to_string()));
                    continue;
                };
                let default = array(p, "PolicyVersionList").find(|pv| {
                    matches!(pv.get("IsDefaultVersion"), Some(Value::Bool(true)))
                        || pv.get("IsDefaultVersion").and_then(Value::as_str) == Some("true")
                });
                let Some(doc) = default.and_then(|pv| pv.get("Document")) else {
                    errors.push(problem(
                        file,
                        format!("managed policy `{arn}` has no default version with a `Document`"),
                    ));
                    continue;
                };
                if let Some(i) = self.compile_into(file, arn.to_string(), doc, errors) {
                    managed.insert(arn.to_string(), i);
                }
            }
        }
        // Groups: by account and name.
        let mut groups: HashMap<(String, String), Entry> = HashMap::new();
        for (file, v) in snapshots {
            for g in array(v, "GroupDetailList") {
                let arn = g.get("Arn").and_then(Value::as_str).unwrap_or("");
                let name = g.get("GroupName").and_then(Value::as_str).unwrap_or("");
                let mut e = Entry::default();
                self.inline_and_attached(file, arn, g, "GroupPolicyList", &managed, &mut e, errors);
                groups.insert((account_of(arn).to_string(), name.to_string()), e);
            }
        }
        for (file, v) in snapshots {
            for u in array(v, "UserDetailList") {
                let Some(arn) = u.get("Arn").and_then(Value::as_str) else {
                    errors.push(problem(
                        file,
                        "`UserDetailList` entry without `Arn`".to_string(),
                    ));
                    continue;
                };
                let mut e = Entry::default();
                self.inline_and_attached(file, arn, u, "UserPolicyList", &managed, &mut e, errors);
                for g in array(u, "GroupList") {
                    let Some(gname) = g.as_str() else { continue };
                    match groups.get(&(account_of(arn).to_string(), gname.to_string())) {
                        Some(ge) => {
                            e.identity.extend(ge.identity.iter().copied());
                            e.problems.extend(ge.problems.iter().cloned());
                        }
                        None => e
                            .problems
                            .push(format!("group `{gname}` of `{arn}` is not in the snapshot")),
                    }
                }
                boundary(u, &managed, &mut e);
                e.tags = Some(tags_of(u));
                self.insert(arn, PrincipalKind::User, u.get("UserName"), e);
            }
            for r in array(v, "RoleDetailList") {
                let Some(arn) = r.get("Arn").and_then(Value::as_str) else {
                    errors.push(problem(
                        file,
                        "`RoleDetailList` entry without `Arn`".to_string(),
                    ));
                    continue;
                };
                let mut e = Entry::default();
                self.inline_and_attached(file, arn, r, "RolePolicyList", &managed, &mut e, errors);
                boundary(r, &managed, &mut e);
                // Role sessions may carry session tags that override the role's tags, and the
                // log of a session call does not show them: principal tags stay unknown.
                e.tags = None;
                self.insert(arn, PrincipalKind::Role, r.get("RoleName"), e);
            }
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "a private helper; a struct for its arguments would only move the list"
    )]
    fn inline_and_attached(
        &mut self,
        file: &str,
        owner: &str,
        v: &Value,
        inline_key: &str,
        managed: &HashMap<String, usize>,
        e: &mut Entry,
        errors: &mut Vec<Problem>,
    ) {
        for p in array(v, inline_key) {
            let pname = p.get("PolicyName").and_then(Value::as_str).unwrap_or("?");
            let Some(doc) = p.get("PolicyDocument") else {
                errors.push(problem(
                    file,
                    format!("inline policy `{pname}` of `{owner}` has no `PolicyDocument`"),
                ));
                continue;
            };
            if let Some(i) = self.compile_into(file, format!("{owner}#{pname}"), doc, errors) {
                e.identity.push(i);
            }
        }
        for a in array(v, "AttachedManagedPolicies") {
            let Some(parn) = a.get("PolicyArn").and_then(Value::as_str) else {
                continue;
            };
            match managed.get(parn) {
                Some(&i) => e.identity.push(i),
                None => e.problems.push(format!(
                    "managed policy `{parn}` attached to `{owner}` is not in the snapshot"
                )),
            }
        }
    }

    fn insert(&mut self, arn: &str, kind: PrincipalKind, name: Option<&Value>, e: Entry) {
        if let Some(n) = name.and_then(Value::as_str) {
            self.by_name.insert(
                (account_of(arn).to_string(), kind, n.to_string()),
                arn.to_string(),
            );
        }
        self.principals.insert(arn.to_string(), e);
    }

    /// The policies of a principal: by ARN, else by account and name (role ARNs in logs can
    /// differ in path from the snapshot's).
    pub fn resolve(
        &self,
        kind: PrincipalKind,
        arn: &str,
        account: &str,
        name: &str,
    ) -> Resolved<'_> {
        let global: Vec<&CompiledPolicy> = self.global.iter().collect();
        if !self.has_snapshot {
            return Resolved::Found {
                identity: global,
                boundary: None,
                tags: None,
            };
        }
        let entry = self.principals.get(arn).or_else(|| {
            self.by_name
                .get(&(account.to_string(), kind, name.to_string()))
                .and_then(|a| self.principals.get(a))
        });
        match entry {
            None => Resolved::Missing(format!(
                "{} `{}` is not in the policy snapshot",
                match kind {
                    PrincipalKind::User => "user",
                    PrincipalKind::Role => "role",
                },
                if arn.is_empty() { name } else { arn }
            )),
            Some(e) if !e.problems.is_empty() => Resolved::Missing(e.problems.join("; ")),
            Some(e) => {
                let mut identity = global;
                identity.extend(e.identity.iter().map(|&i| &self.arena[i]));
                Resolved::Found {
                    identity,
                    boundary: e.boundary.map(|i| &self.arena[i]),
                    tags: e.tags.as_ref(),
                }
            }
        }
    }
}

fn boundary(v: &Value, managed: &HashMap<String, usize>, e: &mut Entry) {
    if let Some(b) = v
        .get("PermissionsBoundary")
        .and_then(|b| b.get("PermissionsBoundaryArn"))
        .and_then(Value::as_str)
    {
        match managed.get(b) {
            Some(&i) => e.boundary = Some(i),
            None => e
                .problems
                .push(format!("permissions boundary `{b}` is not in the snapshot")),
        }
    }
}

fn tags_of(v: &Value) -> TagState {
    TagState::known(array(v, "Tags").filter_map(|t| {
        Some((
            t.get("Key")?.as_str()?.to_string(),
            t.get("Value")?.as_str()?.to_string(),
        ))
    }))
}

fn array<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter())
        .into_iter()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOW_START: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:StartSession","Resource":"*"}}"#;

    fn load(text: &str) -> Result<PolicySet, Vec<Problem>> {
        PolicySet::load(&[PolicyInput {
            name: "details.json".into(),
            text: text.into(),
        }])
    }

    fn sources(r: &Resolved<'_>) -> Vec<String> {
        match r {
            Resolved::Found { identity, .. } => {
                identity.iter().map(|p| p.name.to_string()).collect()
            }
            Resolved::Missing(why) => vec![format!("missing: {why}")],
        }
    }

    /// An `aws iam get-account-authorization-details` export (IAM API Reference,
    /// GetAccountAuthorizationDetails): documents are JSON text or objects, managed policies
    /// carry every version and only the default one applies.
    fn snapshot() -> String {
        format!(
            r#"{{
  "UserDetailList": [{{
    "UserName": "alice", "Arn": "arn:aws:iam::111122223333:user/alice",
    "UserPolicyList": [{{"PolicyName": "own", "PolicyDocument": {ALLOW_START}}}],
    "GroupList": ["ops"],
    "AttachedManagedPolicies": [{{"PolicyArn": "arn:aws:iam::111122223333:policy/sessions"}}],
    "PermissionsBoundary": {{"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": "arn:aws:iam::111122223333:policy/sessions"}},
    "Tags": [{{"Key": "team", "Value": "web"}}]
  }}, {{
    "UserName": "bob", "Arn": "arn:aws:iam::111122223333:user/bob",
    "AttachedManagedPolicies": [{{"PolicyArn": "arn:aws:iam::111122223333:policy/gone"}}]
  }}],
  "GroupDetailList": [{{
    "GroupName": "ops", "Arn": "arn:aws:iam::111122223333:group/ops",
    "GroupPolicyList": [{{"PolicyName": "grp", "PolicyDocument": {text:?}}}]
  }}],
  "RoleDetailList": [{{
    "RoleName": "Ops", "Arn": "arn:aws:iam::111122223333:role/team/Ops",
    "AttachedManagedPolicies": [{{"PolicyArn": "arn:aws:iam::111122223333:policy/sessions"}}]
  }}],
  "Policies": [{{
    "PolicyName": "sessions", "Arn": "arn:aws:iam::111122223333:policy/sessions",
    "PolicyVersionList": [
      {{"VersionId": "v1", "IsDefaultVersion": false, "Document": {{"Version":"2012-10-17","Statement":{{"Effect":"Deny","Action":"*","Resource":"*"}}}}}},
      {{"VersionId": "v2", "IsDefaultVersion": true, "Document": {ALLOW_START}}}
    ]
  }}]
}}"#,
            text = ALLOW_START
        )
    }

    #[test]
    fn users_get_inline_group_and_default_managed_versions() {
        let set = load(&snapshot()).expect("loads");
        assert!(set.has_snapshot());
        let alice = set.resolve(
            PrincipalKind::User,
            "arn:aws:iam::111122223333:user/alice",
            "111122223333",
            "alice",
        );
        assert_eq!(
            sources(&alice),
            [
                "arn:aws:iam::111122223333:user/alice#own",
                "arn:aws:iam::111122223333:policy/sessions",
                "arn:aws:iam::111122223333:group/ops#grp",
            ]
        );
        let Resolved::Found {
            identity,
            boundary,
            tags,
        } = alice
        else {
            panic!("alice is in the snapshot")
        };
        // Only the default version: v1 (a Deny) is not compiled in.
        assert!(identity.iter().all(|p| p
            .statements
            .iter()
            .all(|s| s.effect == crate::policy::Effect::Allow)));
        assert!(boundary.is_some());
        assert_eq!(tags, Some(&TagState::known([("team", "web")])));
    }

    #[test]
    fn roles_are_found_by_name_when_the_logged_path_differs() {
        let set = load(&snapshot()).expect("loads");
        // `sessionContext.sessionIssuer.arn` carries the path; a record without it only the
        // name.
        let by_name = set.resolve(PrincipalKind::Role, "", "111122223333", "Ops");
        assert_eq!(
            sources(&by_name),
            ["arn:aws:iam::111122223333:policy/sessions"]
        );
        let Resolved::Found { tags, .. } = by_name else {
            panic!("found")
        };
        assert_eq!(tags, None, "session tags can override a role's: unknown");
        // Same name in another account: not this role.
        let other = set.resolve(PrincipalKind::Role, "", "444455556666", "Ops");
        assert!(
            matches!(other, Resolved::Missing(ref why) if why.contains("not in the policy snapshot"))
        );
        // A user of the same name is not the role.
        let user = set.resolve(PrincipalKind::User, "", "111122223333", "Ops");
        assert!(matches!(user, Resolved::Missing(_)));
    }

    #[test]
    fn a_principal_with_a_policy_missing_from_the_snapshot_is_unresolved() {
        let set = load(&snapshot()).expect("loads");
        let bob = set.resolve(
            PrincipalKind::User,
            "arn:aws:iam::111122223333:user/bob",
            "111122223333",
            "bob",
        );
        assert!(
            matches!(bob, Resolved::Missing(ref why) if why.contains("policy/gone")),
            "{:?}",
            sources(&bob)
        );
    }

    #[test]
    fn a_plain_document_applies_to_everyone_and_errors_refuse_the_set() {
        let set = load(ALLOW_START).expect("loads");
        assert!(!set.has_snapshot());
        let anyone = set.resolve(PrincipalKind::Role, "arn:aws:iam::1:role/x", "1", "x");
        assert_eq!(sources(&anyone), ["details.json"]);
        let broken = load(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Permit","Action":"*","Resource":"*"}}"#,
        );
        assert!(broken.is_err());
        let no_arn = load(r#"{"UserDetailList":[{"UserName":"x"}],"Policies":[]}"#)
            .expect_err("an entry without Arn is an error");
        assert!(no_arn[0].message.contains("without `Arn`"), "{:?}", no_arn);
    }
}
