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
use crate::policy::embedded::{decode_text, unwrap_policy_version};
use crate::policy::snapshot::{Doc, HolderKind, Snapshot};

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

/// Where a policy is: its file, the line range of each statement when the file is the document
/// itself, and its name inside the file otherwise (an ARN in an export, a Terraform address in
/// a plan).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub file: String,
    /// The policy's name inside the file, when the file holds more than the document.
    pub logical: Option<String>,
    /// First and last line of each statement (empty when not known).
    pub lines: Vec<(usize, usize)>,
}

/// A compiled policy set.
#[derive(Debug, Default)]
pub struct PolicySet {
    /// Where each policy (by name, as reasons name it) is.
    pub locations: HashMap<String, Location>,
    /// Documents that apply to every principal.
    pub global: Vec<CompiledPolicy>,
    /// Every document from snapshots, compiled once.
    arena: Vec<CompiledPolicy>,
    principals: HashMap<String, Entry>,
    by_name: HashMap<(String, PrincipalKind, String), String>,
    has_snapshot: bool,
    /// See [`Snapshot::partial`].
    partial: Option<String>,
    /// Service control policies on this side, one per level, root first.
    pub scps: Vec<CompiledPolicy>,
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
    /// The set describes only the principals a change manages, and this is not one of them:
    /// its decision is whatever it was.
    Outside,
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

/// A policy set's inputs read but not compiled: documents for everyone, and the model of the
/// principals when an export was given. Overlays and plans edit the model before it is
/// compiled.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Documents that apply to every principal: (name, document).
    pub global: Vec<(String, Value)>,
    /// Line ranges of the statements of each document of `global`, by name.
    pub lines: HashMap<String, Vec<(usize, usize)>>,
    /// The principals, from exports.
    pub snapshot: Option<Snapshot>,
}

impl Sources {
    /// Reads input files: policy documents (any embedded form, `get-policy-version` output) and
    /// authorization-details exports.
    pub fn read(inputs: &[PolicyInput]) -> Result<Sources, Vec<Problem>> {
        let mut out = Sources::default();
        let mut errors: Vec<Problem> = Vec::new();
        for input in inputs {
            let parsed = decode_text(&input.text).and_then(|v| {
                if is_snapshot(&v) {
                    Ok(v)
                } else {
                    unwrap_policy_version(v)
                }
            });
            match parsed {
                Ok(v) if is_snapshot(&v) => out
                    .snapshot
                    .get_or_insert_with(Snapshot::default)
                    .add_export(&input.name, &v, &mut errors),
                Ok(v) => {
                    out.lines.insert(
                        input.name.clone(),
                        crate::policy::positions::statement_lines(&input.text),
                    );
                    out.global.push((input.name.clone(), v))
                }
                Err(e) => errors.push(problem(&input.name, e)),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// Compiles the documents and the model (`snapshot` overrides the model read). Any error
    /// refuses the set.
    pub fn compile(&self, snapshot: Option<&Snapshot>) -> Result<PolicySet, Vec<Problem>> {
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let mut global = Vec::new();
        for (name, v) in &self.global {
            let c = compile_document(name, v);
            warnings.extend(c.warnings);
            errors.extend(c.errors);
            global.extend(c.policy);
        }
        let mut set = PolicySet::compile(global, snapshot.or(self.snapshot.as_ref()));
        if let Ok(s) = &mut set {
            s.warnings.splice(0..0, warnings);
            for (name, _) in &self.global {
                s.locations.insert(
                    name.clone(),
                    Location {
                        file: name.clone(),
                        logical: None,
                        lines: self.lines.get(name).cloned().unwrap_or_default(),
                    },
                );
            }
        }
        match set {
            Ok(s) if errors.is_empty() => Ok(s),
            Ok(_) => Err(errors),
            Err(more) => {
                errors.extend(more);
                Err(errors)
            }
        }
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

    /// Every compiled policy of the set: documents for everyone, the principals', the SCPs.
    pub fn all_policies(&self) -> impl Iterator<Item = &CompiledPolicy> {
        self.global.iter().chain(&self.arena).chain(&self.scps)
    }

    /// Does the set describe only the principals a change manages (a Terraform plan without
    /// an export)?
    pub fn is_partial(&self) -> bool {
        self.partial.is_some()
    }

    /// Was an authorization-details snapshot loaded?
    pub fn has_snapshot(&self) -> bool {
        self.has_snapshot
    }

    /// Loads and compiles a policy set from its input files. Any error in any document refuses
    /// the whole set: a broken candidate must never be evaluated as if its bad statement were
    /// simply false.
    pub fn load(inputs: &[PolicyInput]) -> Result<PolicySet, Vec<Problem>> {
        let sources = Sources::read(inputs)?;
        sources.compile(None)
    }

    /// Compiles a document of the model.
    fn compile_doc(&mut self, doc: &Doc, errors: &mut Vec<Problem>) -> Option<usize> {
        let in_file = |mut p: Problem| {
            if !doc.file.is_empty() && doc.file != doc.name {
                p.source = format!("{}: {}", doc.file, p.source);
            }
            p
        };
        let c = compile_document(&doc.name, &doc.value);
        self.locations.insert(
            doc.name.clone(),
            Location {
                file: doc.file.clone(),
                logical: (doc.file != doc.name).then(|| doc.name.clone()),
                lines: doc.lines.clone(),
            },
        );
        self.warnings.extend(c.warnings.into_iter().map(in_file));
        errors.extend(c.errors.into_iter().map(in_file));
        c.policy.map(|p| {
            self.arena.push(p);
            self.arena.len() - 1
        })
    }

    /// Compiles a model of principals (an export, edited or not) with the documents that apply
    /// to everyone. Any error refuses the set.
    pub fn compile(
        global: Vec<CompiledPolicy>,
        snapshot: Option<&Snapshot>,
    ) -> Result<PolicySet, Vec<Problem>> {
        let mut set = PolicySet::from_documents(global);
        let mut errors = Vec::new();
        if let Some(s) = snapshot {
            set.load_snapshot(s, &mut errors);
        }
        if errors.is_empty() {
            Ok(set)
        } else {
            Err(errors)
        }
    }

    fn load_snapshot(&mut self, s: &Snapshot, errors: &mut Vec<Problem>) {
        self.has_snapshot = true;
        self.partial = s.partial.clone();
        // Managed policies first: principals refer to them by ARN.
        let mut managed: HashMap<&str, usize> = HashMap::new();
        for (arn, doc) in &s.managed {
            if let Some(i) = self.compile_doc(doc, errors) {
                managed.insert(arn, i);
            }
        }
        let mut groups: HashMap<(&str, &str), Entry> = HashMap::new();
        let mut entries = Vec::new();
        for h in &s.holders {
            let mut e = Entry::default();
            for doc in h.inline.values() {
                if let Some(i) = self.compile_doc(doc, errors) {
                    e.identity.push(i);
                }
            }
            for parn in &h.attached {
                match managed.get(parn.as_str()) {
                    Some(&i) => e.identity.push(i),
                    None if s.unknown_policies.contains_key(parn) => {
                        e.problems.push(s.unknown_policies[parn].clone())
                    }
                    None => e.problems.push(format!(
                        "managed policy `{parn}` attached to `{}` is not in the {}",
                        h.arn,
                        self.what()
                    )),
                }
            }
            if let Some(b) = &h.boundary {
                match managed.get(b.as_str()) {
                    Some(&i) => e.boundary = Some(i),
                    None => e.problems.push(format!(
                        "permissions boundary `{b}` is not in the {}",
                        self.what()
                    )),
                }
            }
            e.problems.extend(h.uncertain.iter().cloned());
            e.tags = h.tags.clone();
            if h.kind == HolderKind::Group {
                groups.insert((h.account.as_str(), h.name.as_str()), e);
            } else {
                entries.push((h, e));
            }
        }
        for (h, mut e) in entries {
            for gname in &h.groups {
                match groups.get(&(h.account.as_str(), gname.as_str())) {
                    Some(ge) => {
                        e.identity.extend(ge.identity.iter().copied());
                        e.problems.extend(ge.problems.iter().cloned());
                    }
                    None => e.problems.push(format!(
                        "group `{gname}` of `{}` is not in the {}",
                        h.arn,
                        self.what()
                    )),
                }
            }
            let kind = match h.kind {
                HolderKind::User => PrincipalKind::User,
                _ => PrincipalKind::Role,
            };
            self.insert(&h.arn, kind, &h.name, e);
        }
    }

    /// What the model is called in messages.
    fn what(&self) -> &'static str {
        if self.partial.is_some() {
            "plan"
        } else {
            "snapshot"
        }
    }

    fn insert(&mut self, arn: &str, kind: PrincipalKind, name: &str, e: Entry) {
        if !name.is_empty() {
            self.by_name.insert(
                (account_of(arn).to_string(), kind, name.to_string()),
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
        let by_name = |account: &str, name: &str| {
            self.by_name
                .get(&(account.to_string(), kind, name.to_string()))
                .and_then(|a| self.principals.get(a))
        };
        // An Identity Center permission set `X` described by a plan is the role
        // `AWSReservedSSO_X_<suffix>` of every account it is assigned to (IAM Identity Center
        // User Guide, "Referencing permission sets in resource policies").
        let permission_set = || {
            let rest = name.strip_prefix("AWSReservedSSO_")?;
            let (set, suffix) = rest.rsplit_once('_')?;
            suffix
                .bytes()
                .all(|b| b.is_ascii_hexdigit())
                .then(|| by_name("*", &format!("AWSReservedSSO_{set}")))
                .flatten()
        };
        let entry = self
            .principals
            .get(arn)
            .or_else(|| by_name(account, name))
            .or_else(permission_set);
        match (entry, &self.partial) {
            (None, Some(why)) if why.is_empty() => Resolved::Outside,
            (None, Some(why)) => Resolved::Missing(why.clone()),
            (None, None) => Resolved::Missing(format!(
                "{} `{}` is not in the policy snapshot",
                match kind {
                    PrincipalKind::User => "user",
                    PrincipalKind::Role => "role",
                },
                if arn.is_empty() { name } else { arn }
            )),
            (Some(e), _) if !e.problems.is_empty() => Resolved::Missing(e.problems.join("; ")),
            (Some(e), _) => {
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
            Resolved::Outside => vec!["outside".to_string()],
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
