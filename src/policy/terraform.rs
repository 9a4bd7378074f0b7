//! Terraform plans as change descriptions: `terraform show -json PLANFILE` output (the JSON
//! output format, format_version 1.x: <https://developer.hashicorp.com/terraform/internals/json-format>)
//! read into facts about who holds which policy, before and after the plan, and applied to a
//! [`Snapshot`]: the plan's prior state (or an export given as baseline) is the baseline, the
//! same with the plan's changes applied is the candidate.
//!
//! Every IAM attribute that holds a document is a JSON *string* in the plan (the AWS provider's
//! `policy`, `inline_policy[].policy`, Identity Center's `inline_policy`). A value Terraform knows
//! only after apply (`after_unknown`) is never guessed: the principals it concerns are
//! uncertain, naming the resource's address.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use crate::policy::embedded::decode_embedded;
use crate::policy::snapshot::{array, Doc, Holder, HolderKind, Snapshot};

/// A resource as the plan shows it.
#[derive(Debug, Clone)]
struct Resource {
    address: String,
    kind: String,
    values: Value,
}

/// A planned change of one resource instance.
#[derive(Debug, Clone)]
struct Planned {
    address: String,
    kind: String,
    actions: Vec<String>,
    before: Value,
    after: Value,
    after_unknown: Value,
}

/// A plan read from `terraform show -json` output.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The file, for messages.
    pub file: String,
    /// The account from `data.aws_caller_identity` in the prior state, when present.
    pub caller_account: Option<String>,
    prior: Vec<Resource>,
    changes: Vec<Planned>,
}

/// The two sides a plan describes.
#[derive(Debug)]
pub struct Sides {
    /// Before the plan.
    pub baseline: Snapshot,
    /// After the plan.
    pub candidate: Snapshot,
    /// How many resource instances the plan changes (create, update, delete, replace) that
    /// concern IAM or Identity Center policies.
    pub changed: usize,
    /// Things worth saying that are not errors (resources whose link to a principal is known
    /// only after apply).
    pub notes: Vec<String>,
}

/// Why a plan cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct PlanError {
    /// The plan file.
    pub file: String,
    /// What is wrong, and what to do.
    pub message: String,
}

fn resources_of(module: &Value, out: &mut Vec<Resource>, data: &mut Vec<Resource>) {
    for r in array(module, "resources") {
        let res = Resource {
            address: str_of(r, "address").to_string(),
            kind: str_of(r, "type").to_string(),
            values: r.get("values").cloned().unwrap_or(Value::Null),
        };
        if str_of(r, "mode") == "data" {
            data.push(res);
        } else {
            out.push(res);
        }
    }
    for child in array(module, "child_modules") {
        resources_of(child, out, data);
    }
}

impl Plan {
    /// Reads `terraform show -json` output. Refuses other JSON (a state file, a plan of
    /// another major format version) with a message saying what to give.
    pub fn read(file: &str, text: &str) -> Result<Plan, PlanError> {
        let err = |message: String| PlanError {
            file: file.to_string(),
            message,
        };
        let v: Value = serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(|e| {
            err(format!(
                "not JSON ({e}): give the output of `terraform show -json PLANFILE`"
            ))
        })?;
        let version = v
            .get("format_version")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                err(
                    "no `format_version`: give the output of `terraform show -json PLANFILE`"
                        .into(),
                )
            })?;
        if version.split('.').next() != Some("1") {
            return Err(err(format!(
                "plan format version {version}: this trailreplay reads format 1.x"
            )));
        }
        if v.get("resource_changes").is_none() && v.get("planned_values").is_none() {
            return Err(err(
                "this is a state, not a plan (no `resource_changes`): run `terraform plan -out=PLANFILE` and give `terraform show -json PLANFILE`".into(),
            ));
        }
        let mut prior = Vec::new();
        let mut data = Vec::new();
        if let Some(root) = v.pointer("/prior_state/values/root_module") {
            resources_of(root, &mut prior, &mut data);
        }
        let caller_account = data
            .iter()
            .filter(|d| d.kind == "aws_caller_identity")
            .find_map(|d| d.values.get("account_id").and_then(Value::as_str))
            .map(str::to_string);
        let mut changes = Vec::new();
        for rc in array(&v, "resource_changes") {
            if str_of(rc, "mode") == "data" {
                continue;
            }
            let change = rc.get("change").unwrap_or(&Value::Null);
            changes.push(Planned {
                address: str_of(rc, "address").to_string(),
                kind: str_of(rc, "type").to_string(),
                actions: array(change, "actions")
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
                before: change.get("before").cloned().unwrap_or(Value::Null),
                after: change.get("after").cloned().unwrap_or(Value::Null),
                after_unknown: change.get("after_unknown").cloned().unwrap_or(Value::Null),
            });
        }
        Ok(Plan {
            file: file.to_string(),
            caller_account,
            prior,
            changes,
        })
    }

    /// Every account number in ARNs the plan's prior state holds.
    fn accounts_seen(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for r in &self.prior {
            if let Some(arn) = r.values.get("arn").and_then(Value::as_str) {
                let account = crate::arn::account_of(arn);
                if !account.is_empty() && account != "aws" {
                    out.insert(account.to_string());
                }
            }
        }
        out
    }

    /// The account the plan manages: `--plan-account`, else `data.aws_caller_identity`, else
    /// the one account of the ARNs in its prior state. Several or none: refused.
    pub fn account(&self, given: Option<&str>) -> Result<String, PlanError> {
        if let Some(a) = given.or(self.caller_account.as_deref()) {
            return Ok(a.to_string());
        }
        let seen = self.accounts_seen();
        match seen.len() {
            1 => Ok(seen.into_iter().next().unwrap_or_default()),
            0 => Err(PlanError {
                file: self.file.clone(),
                message: "the plan does not say which account it manages (no `data.aws_caller_identity`): give `--plan-account ID`".into(),
            }),
            _ => Err(PlanError {
                file: self.file.clone(),
                message: format!(
                    "the plan's resources are in several accounts ({}): give `--plan-account ID`",
                    seen.into_iter().collect::<Vec<_>>().join(", ")
                ),
            }),
        }
    }

    /// Builds both sides. With `export`, it is the baseline and the plan's changes are applied
    /// on top of it; without, the baseline is the plan's prior state and both sides describe only
    /// the principals the plan changes (the others are untouched).
    pub fn sides(&self, export: Option<&Snapshot>, account: &str) -> Result<Sides, PlanError> {
        let mut problems = Vec::new();
        let explicit = self.explicit_inline();
        let ctx = Ctx {
            file: &self.file,
            account,
            explicit: &explicit,
            permission_sets: self.permission_sets(),
        };
        let mut notes = Vec::new();
        let mut baseline = match export {
            Some(s) => s.clone(),
            None => {
                let mut s = Snapshot {
                    partial: Some(String::new()),
                    ..Snapshot::default()
                };
                let mut model = Model::new(&mut s, account, false);
                for r in &self.prior {
                    let facts = ctx.facts(&r.kind, &r.address, &r.values, &Value::Null);
                    model.apply(&[], &facts, &mut problems);
                }
                s
            }
        };
        let mut candidate = baseline.clone();
        let mut touched = Touched::default();
        let mut changed = 0;
        let mut changed_managed = Vec::new();
        {
            let mut model = Model::new(&mut candidate, account, export.is_some());
            for c in &self.changes {
                let acts: Vec<&str> = c.actions.iter().map(String::as_str).collect();
                if acts.is_empty() || acts == ["no-op"] || acts == ["read"] {
                    continue;
                }
                let before = if acts.contains(&"delete") || acts.contains(&"update") {
                    ctx.facts(&c.kind, &c.address, &c.before, &Value::Null)
                } else {
                    Vec::new()
                };
                let after = if acts.contains(&"create") || acts.contains(&"update") {
                    ctx.facts(&c.kind, &c.address, &c.after, &c.after_unknown)
                } else {
                    Vec::new()
                };
                if before.is_empty() && after.is_empty() {
                    if ctx.links_unknown(&c.kind, &c.after_unknown) {
                        notes.push(format!(
                            "{}: which principal it concerns is known only after apply; its effect is not replayed",
                            c.address
                        ));
                    }
                    continue;
                }
                changed += 1;
                for f in before.iter().chain(&after) {
                    touched.note(f);
                    if let Fact::Managed { arn, .. } = f {
                        changed_managed.push((arn.clone(), c.address.clone()));
                    }
                }
                model.apply(&before, &after, &mut problems);
            }
        }
        if !problems.is_empty() {
            return Err(PlanError {
                file: self.file.clone(),
                message: problems.join("\n"),
            });
        }
        // A managed policy's holders: every principal attaching it on either side.
        for (arn, _) in &changed_managed {
            for s in [&baseline, &candidate] {
                for h in &s.holders {
                    if h.attached.contains(arn) || h.boundary.as_deref() == Some(arn.as_str()) {
                        touched.holders.insert((h.kind, h.name.clone()));
                    }
                }
            }
        }
        if export.is_none() {
            if let Some((arn, address)) = changed_managed.first() {
                candidate.partial = Some(format!(
                    "managed policy `{arn}` is changed by `{address}`, and without `--baseline EXPORT` its holders outside the plan are not known"
                ));
            }
            for s in [&mut baseline, &mut candidate] {
                touched.restrict(s);
            }
        }
        Ok(Sides {
            baseline,
            candidate,
            changed,
            notes,
        })
    }

    /// Inline policies managed by their own resources (`aws_iam_role_policy` and the user and
    /// group forms): the computed `aws_iam_role.inline_policy` can still list them with their
    /// old text, and the explicit resource wins.
    fn explicit_inline(&self) -> BTreeSet<(HolderKind, String, String)> {
        let mut out = BTreeSet::new();
        let all = self
            .prior
            .iter()
            .map(|r| (&r.kind, &r.values))
            .chain(self.changes.iter().map(|c| (&c.kind, &c.after)));
        for (kind, v) in all {
            if let Some((holder_kind, attr)) = inline_resource(kind) {
                out.insert((
                    holder_kind,
                    str_of(v, attr).to_string(),
                    str_of(v, "name").to_string(),
                ));
            }
        }
        out
    }

    /// Identity Center permission sets by ARN: their names.
    fn permission_sets(&self) -> HashMap<String, String> {
        let mut out = HashMap::new();
        let all = self
            .prior
            .iter()
            .map(|r| (&r.kind, &r.values))
            .chain(self.changes.iter().map(|c| (&c.kind, &c.after)))
            .chain(self.changes.iter().map(|c| (&c.kind, &c.before)));
        for (kind, v) in all {
            if kind == "aws_ssoadmin_permission_set" {
                let (arn, name) = (str_of(v, "arn"), str_of(v, "name"));
                if !arn.is_empty() && !name.is_empty() {
                    out.insert(arn.to_string(), name.to_string());
                }
            }
        }
        out
    }
}

fn inline_resource(kind: &str) -> Option<(HolderKind, &'static str)> {
    match kind {
        "aws_iam_role_policy" => Some((HolderKind::Role, "role")),
        "aws_iam_user_policy" => Some((HolderKind::User, "user")),
        "aws_iam_group_policy" => Some((HolderKind::Group, "group")),
        _ => None,
    }
}

/// A principal the plan names: kind and name (an Identity Center permission set `X` is the
/// role `AWSReservedSSO_X_…` of every account it is assigned to).
type HRef = (HolderKind, String);

/// What a resource says about who holds what. Keys decide what a later fact replaces.
#[derive(Debug, Clone)]
enum Fact {
    /// The principal exists (with this path).
    Holder { who: HRef, path: String },
    /// An inline policy; `doc: Err(reason)` when known only after apply.
    Inline {
        who: HRef,
        name: String,
        doc: Result<Doc, String>,
    },
    /// An attached managed policy.
    Attach { who: HRef, arn: String },
    /// A permissions boundary.
    Boundary { who: HRef, arn: String },
    /// A user in a group.
    Member { user: String, group: String },
    /// A managed policy's default version.
    Managed {
        arn: String,
        doc: Result<Doc, String>,
    },
    /// The principal's policies cannot be known (an attribute known only after apply).
    Unknown { who: HRef, reason: String },
    /// Only these inline policies (`inline`) or managed attachments remain (`*_exclusive`).
    Exclusive {
        who: HRef,
        inline: bool,
        keep: Vec<String>,
    },
}

impl Fact {
    fn key(&self) -> String {
        match self {
            Fact::Holder { who, .. } => format!("h {who:?}"),
            Fact::Inline { who, name, .. } => format!("i {who:?} {name}"),
            Fact::Attach { who, arn } => format!("a {who:?} {arn}"),
            Fact::Boundary { who, .. } => format!("b {who:?}"),
            Fact::Member { user, group } => format!("m {user} {group}"),
            Fact::Managed { arn, .. } => format!("p {arn}"),
            Fact::Unknown { who, reason } => format!("u {who:?} {reason}"),
            Fact::Exclusive { who, inline, .. } => format!("x {who:?} {inline}"),
        }
    }
}

/// Which principals a plan's changes concern.
#[derive(Default)]
struct Touched {
    holders: BTreeSet<HRef>,
}

impl Touched {
    fn note(&mut self, f: &Fact) {
        match f {
            Fact::Holder { who, .. }
            | Fact::Inline { who, .. }
            | Fact::Attach { who, .. }
            | Fact::Boundary { who, .. }
            | Fact::Unknown { who, .. }
            | Fact::Exclusive { who, .. } => {
                self.holders.insert(who.clone());
            }
            Fact::Member { user, .. } => {
                self.holders.insert((HolderKind::User, user.clone()));
            }
            Fact::Managed { .. } => {}
        }
    }

    /// Keeps the touched principals (a touched group's users are touched; a touched user keeps
    /// its groups).
    fn restrict(&self, s: &mut Snapshot) {
        let groups_touched: BTreeSet<&str> = self
            .holders
            .iter()
            .filter(|(k, _)| *k == HolderKind::Group)
            .map(|(_, n)| n.as_str())
            .collect();
        let mut keep_groups: BTreeSet<String> = BTreeSet::new();
        let users: BTreeSet<String> = s
            .holders
            .iter()
            .filter(|h| {
                h.kind == HolderKind::User
                    && (self.holders.contains(&(h.kind, h.name.clone()))
                        || h.groups.iter().any(|g| groups_touched.contains(g.as_str())))
            })
            .map(|h| {
                keep_groups.extend(h.groups.iter().cloned());
                h.name.clone()
            })
            .collect();
        s.holders.retain(|h| match h.kind {
            HolderKind::User => users.contains(&h.name),
            HolderKind::Group => keep_groups.contains(&h.name),
            HolderKind::Role => self.holders.contains(&(h.kind, h.name.clone())),
        });
    }
}

/// What facts need to know about the plan.
struct Ctx<'a> {
    file: &'a str,
    account: &'a str,
    explicit: &'a BTreeSet<(HolderKind, String, String)>,
    permission_sets: HashMap<String, String>,
}

fn str_of<'v>(v: &'v Value, key: &str) -> &'v str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    array(v, key)
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// Is anything under `key` of an `after_unknown` object unknown?
fn unknown(u: &Value, key: &str) -> bool {
    fn any(v: &Value) -> bool {
        match v {
            Value::Bool(b) => *b,
            Value::Array(a) => a.iter().any(any),
            Value::Object(o) => o.values().any(any),
            _ => false,
        }
    }
    u.get(key).is_some_and(any)
}

impl Ctx<'_> {
    fn later(address: &str, attr: &str) -> String {
        format!("`{address}`: `{attr}` is known only after apply")
    }

    fn doc(&self, address: &str, name: String, text: &Value) -> Result<Doc, String> {
        decode_embedded(text)
            .map(|value| Doc {
                name,
                file: self.file.to_string(),
                value,
                lines: Vec::new(),
            })
            .map_err(|e| format!("`{address}`: {e}"))
    }

    /// A document attribute: the document, or why it is unknown.
    fn doc_attr(
        &self,
        address: &str,
        v: &Value,
        u: &Value,
        attr: &str,
        problems: &mut Vec<Fact>,
    ) -> Option<Result<Doc, String>> {
        if unknown(u, attr) {
            return Some(Err(Self::later(address, attr)));
        }
        match v.get(attr) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(text) => match self.doc(address, address.to_string(), text) {
                Ok(d) => Some(Ok(d)),
                Err(e) => {
                    problems.push(Fact::Unknown {
                        who: (HolderKind::Role, String::new()),
                        reason: e,
                    });
                    None
                }
            },
        }
    }

    /// Links to a principal that are unknown: the resource's effect cannot be placed.
    fn links_unknown(&self, kind: &str, u: &Value) -> bool {
        [
            "role",
            "user",
            "group",
            "users",
            "roles",
            "groups",
            "permission_set_arn",
            "role_name",
            "user_name",
            "group_name",
        ]
        .iter()
        .any(|k| unknown(u, k))
            && (kind.starts_with("aws_iam_") || kind.starts_with("aws_ssoadmin_"))
    }

    fn sso(&self, v: &Value) -> Option<HRef> {
        let name = self.permission_sets.get(str_of(v, "permission_set_arn"))?;
        Some((HolderKind::Role, format!("AWSReservedSSO_{name}")))
    }

    fn customer_managed(&self, r: &Value) -> String {
        let path = match str_of(r, "path") {
            "" => "/",
            p => p,
        };
        format!(
            "arn:aws:iam::{}:policy{}{}",
            self.account,
            path,
            str_of(r, "name")
        )
    }

    /// The facts a resource's values state. `u` is its `after_unknown` (`Null` for known
    /// values). Documents that fail to decode become `Unknown` facts with an empty principal
    /// (reported as problems by the model).
    fn facts(&self, kind: &str, address: &str, v: &Value, u: &Value) -> Vec<Fact> {
        let mut out = Vec::new();
        if v.is_null() {
            return out;
        }
        let unknown_link = self.links_unknown(kind, u);
        if unknown_link {
            return out;
        }
        match kind {
            "aws_iam_role" | "aws_iam_user" | "aws_iam_group" => {
                let hk = match kind {
                    "aws_iam_role" => HolderKind::Role,
                    "aws_iam_user" => HolderKind::User,
                    _ => HolderKind::Group,
                };
                let who: HRef = (hk, str_of(v, "name").to_string());
                if who.1.is_empty() {
                    return out;
                }
                out.push(Fact::Holder {
                    who: who.clone(),
                    path: str_of(v, "path").to_string(),
                });
                if unknown(u, "permissions_boundary") {
                    out.push(Fact::Unknown {
                        who: who.clone(),
                        reason: Self::later(address, "permissions_boundary"),
                    });
                } else if let Some(b) = v.get("permissions_boundary").and_then(Value::as_str) {
                    if !b.is_empty() {
                        out.push(Fact::Boundary {
                            who: who.clone(),
                            arn: b.to_string(),
                        });
                    }
                }
                if hk == HolderKind::Role {
                    if unknown(u, "inline_policy") {
                        out.push(Fact::Unknown {
                            who: who.clone(),
                            reason: Self::later(address, "inline_policy"),
                        });
                    }
                    for p in array(v, "inline_policy") {
                        let name = str_of(p, "name").to_string();
                        if name.is_empty()
                            || self.explicit.contains(&(hk, who.1.clone(), name.clone()))
                        {
                            continue;
                        }
                        let doc = p
                            .get("policy")
                            .map(|t| {
                                self.doc(address, format!("{address} inline_policy {name}"), t)
                            })
                            .unwrap_or_else(|| Err(format!("`{address}`: no policy text")));
                        out.push(Fact::Inline {
                            who: who.clone(),
                            name,
                            doc,
                        });
                    }
                    if unknown(u, "managed_policy_arns") {
                        out.push(Fact::Unknown {
                            who: who.clone(),
                            reason: Self::later(address, "managed_policy_arns"),
                        });
                    }
                    for arn in strings(v, "managed_policy_arns") {
                        out.push(Fact::Attach {
                            who: who.clone(),
                            arn,
                        });
                    }
                }
            }
            "aws_iam_role_policy" | "aws_iam_user_policy" | "aws_iam_group_policy" => {
                let Some((hk, attr)) = inline_resource(kind) else {
                    return out;
                };
                let who: HRef = (hk, str_of(v, attr).to_string());
                let name = str_of(v, "name").to_string();
                let mut bad = Vec::new();
                let doc = self
                    .doc_attr(address, v, u, "policy", &mut bad)
                    .unwrap_or_else(|| Err(format!("`{address}`: no `policy`")));
                out.extend(bad);
                out.push(Fact::Inline { who, name, doc });
            }
            "aws_iam_policy" => {
                let arn = match v.get("arn").and_then(Value::as_str) {
                    Some(a) if !a.is_empty() && !unknown(u, "arn") => a.to_string(),
                    _ => {
                        let path = match str_of(v, "path") {
                            "" => "/",
                            p => p,
                        };
                        format!(
                            "arn:aws:iam::{}:policy{path}{}",
                            self.account,
                            str_of(v, "name")
                        )
                    }
                };
                let mut bad = Vec::new();
                if let Some(doc) = self.doc_attr(address, v, u, "policy", &mut bad) {
                    out.push(Fact::Managed { arn, doc });
                }
                out.extend(bad);
            }
            "aws_iam_role_policy_attachment"
            | "aws_iam_user_policy_attachment"
            | "aws_iam_group_policy_attachment" => {
                let (hk, attr) = match kind {
                    "aws_iam_role_policy_attachment" => (HolderKind::Role, "role"),
                    "aws_iam_user_policy_attachment" => (HolderKind::User, "user"),
                    _ => (HolderKind::Group, "group"),
                };
                let who: HRef = (hk, str_of(v, attr).to_string());
                if unknown(u, "policy_arn") {
                    out.push(Fact::Unknown {
                        who,
                        reason: Self::later(address, "policy_arn"),
                    });
                } else {
                    out.push(Fact::Attach {
                        who,
                        arn: str_of(v, "policy_arn").to_string(),
                    });
                }
            }
            "aws_iam_policy_attachment" => {
                let arn = str_of(v, "policy_arn").to_string();
                for (hk, attr) in [
                    (HolderKind::Role, "roles"),
                    (HolderKind::User, "users"),
                    (HolderKind::Group, "groups"),
                ] {
                    for name in strings(v, attr) {
                        let who: HRef = (hk, name);
                        out.push(if unknown(u, "policy_arn") {
                            Fact::Unknown {
                                who,
                                reason: Self::later(address, "policy_arn"),
                            }
                        } else {
                            Fact::Attach {
                                who,
                                arn: arn.clone(),
                            }
                        });
                    }
                }
            }
            "aws_iam_user_group_membership" => {
                let user = str_of(v, "user").to_string();
                for group in strings(v, "groups") {
                    out.push(Fact::Member {
                        user: user.clone(),
                        group,
                    });
                }
            }
            "aws_iam_group_membership" => {
                let group = str_of(v, "group").to_string();
                for user in strings(v, "users") {
                    out.push(Fact::Member {
                        user,
                        group: group.clone(),
                    });
                }
            }
            "aws_iam_role_policies_exclusive"
            | "aws_iam_user_policies_exclusive"
            | "aws_iam_group_policies_exclusive"
            | "aws_iam_role_policy_attachments_exclusive"
            | "aws_iam_user_policy_attachments_exclusive"
            | "aws_iam_group_policy_attachments_exclusive" => {
                let (hk, attr) = if kind.starts_with("aws_iam_role_") {
                    (HolderKind::Role, "role_name")
                } else if kind.starts_with("aws_iam_user_") {
                    (HolderKind::User, "user_name")
                } else {
                    (HolderKind::Group, "group_name")
                };
                let inline = kind.contains("_policies_exclusive");
                let list = if inline {
                    "policy_names"
                } else {
                    "policy_arns"
                };
                let who: HRef = (hk, str_of(v, attr).to_string());
                if unknown(u, list) {
                    out.push(Fact::Unknown {
                        who,
                        reason: Self::later(address, list),
                    });
                } else {
                    out.push(Fact::Exclusive {
                        who,
                        inline,
                        keep: strings(v, list),
                    });
                }
            }
            "aws_ssoadmin_permission_set_inline_policy" => {
                let Some(who) = self.sso(v) else {
                    return out;
                };
                let mut bad = Vec::new();
                let doc = self
                    .doc_attr(address, v, u, "inline_policy", &mut bad)
                    .unwrap_or_else(|| Err(format!("`{address}`: no `inline_policy`")));
                out.extend(bad);
                out.push(Fact::Inline {
                    who,
                    name: "AwsSSOInlinePolicy".to_string(),
                    doc,
                });
            }
            "aws_ssoadmin_managed_policy_attachment" => {
                if let Some(who) = self.sso(v) {
                    out.push(Fact::Attach {
                        who,
                        arn: str_of(v, "managed_policy_arn").to_string(),
                    });
                }
            }
            "aws_ssoadmin_customer_managed_policy_attachment" => {
                if let Some(who) = self.sso(v) {
                    for r in array(v, "customer_managed_policy_reference") {
                        out.push(Fact::Attach {
                            who: who.clone(),
                            arn: self.customer_managed(r),
                        });
                    }
                }
            }
            "aws_ssoadmin_permissions_boundary_attachment" => {
                if let Some(who) = self.sso(v) {
                    for b in array(v, "permissions_boundary") {
                        let arn = match b.get("managed_policy_arn").and_then(Value::as_str) {
                            Some(a) if !a.is_empty() => a.to_string(),
                            _ => match array(b, "customer_managed_policy_reference").next() {
                                Some(r) => self.customer_managed(r),
                                None => continue,
                            },
                        };
                        out.push(Fact::Boundary {
                            who: who.clone(),
                            arn,
                        });
                    }
                }
            }
            _ => {}
        }
        out
    }
}

/// A snapshot being edited by facts.
struct Model<'s> {
    s: &'s mut Snapshot,
    account: &'s str,
    /// The snapshot is an export: a principal it lacks is not described by it.
    export: bool,
}

impl<'s> Model<'s> {
    fn new(s: &'s mut Snapshot, account: &'s str, export: bool) -> Model<'s> {
        Model { s, account, export }
    }

    fn is_sso(who: &HRef) -> bool {
        who.0 == HolderKind::Role && who.1.starts_with("AWSReservedSSO_")
    }

    /// The holders a reference names in the plan's account (a permission set: every account's
    /// `AWSReservedSSO_X_<suffix>` role).
    fn find(&self, who: &HRef) -> Vec<usize> {
        let sso = Self::is_sso(who);
        self.s
            .holders
            .iter()
            .enumerate()
            .filter(|(_, h)| {
                h.kind == who.0
                    && if sso {
                        h.name == who.1
                            || h.name.strip_prefix(&who.1).is_some_and(|rest| {
                                rest.strip_prefix('_').is_some_and(|hex| {
                                    !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit())
                                })
                            })
                    } else {
                        h.name == who.1 && (h.account == self.account || h.account == "*")
                    }
            })
            .map(|(i, _)| i)
            .collect()
    }

    fn implicit(&self, who: &HRef) -> String {
        if self.export {
            format!(
                "{} `{}` is not in the baseline export",
                who.0.as_str(),
                who.1
            )
        } else {
            format!(
                "{} `{}` is not managed by the plan: its other policies are not known (give `--baseline EXPORT`)",
                who.0.as_str(),
                who.1
            )
        }
    }

    fn arn_for(&self, who: &HRef, path: &str) -> String {
        let path = if path.is_empty() { "/" } else { path };
        if Self::is_sso(who) {
            return format!(
                "arn:aws:iam::*:role/aws-reserved/sso.amazonaws.com/{}",
                who.1
            );
        }
        format!(
            "arn:aws:iam::{}:{}{path}{}",
            self.account,
            who.0.as_str(),
            who.1
        )
    }

    /// The holders of a reference, created (with the reason their other policies are unknown)
    /// when missing.
    fn holders(&mut self, who: &HRef) -> Vec<usize> {
        let found = self.find(who);
        if !found.is_empty() {
            return found;
        }
        let mut h = Holder::new(who.0, &self.arn_for(who, "/"), &who.1);
        if Self::is_sso(who) {
            h.account = "*".to_string();
        }
        h.uncertain.push(self.implicit(who));
        self.s.holders.push(h);
        vec![self.s.holders.len() - 1]
    }

    /// Applies one change: facts only `before` states are undone, `after`'s are set.
    fn apply(&mut self, before: &[Fact], after: &[Fact], problems: &mut Vec<String>) {
        let keys: BTreeSet<String> = after.iter().map(Fact::key).collect();
        let gone: Vec<&Fact> = before.iter().filter(|f| !keys.contains(&f.key())).collect();
        // Principals last when removing, first when adding.
        for f in gone.iter().filter(|f| !matches!(f, Fact::Holder { .. })) {
            self.undo(f);
        }
        for f in gone.iter().filter(|f| matches!(f, Fact::Holder { .. })) {
            self.undo(f);
        }
        for f in after.iter().filter(|f| matches!(f, Fact::Holder { .. })) {
            self.set(f, problems);
        }
        for f in after.iter().filter(|f| !matches!(f, Fact::Holder { .. })) {
            self.set(f, problems);
        }
    }

    fn set(&mut self, f: &Fact, problems: &mut Vec<String>) {
        match f {
            Fact::Holder { who, path } => {
                let found = self.find(who);
                if found.is_empty() {
                    let h = Holder::new(who.0, &self.arn_for(who, path), &who.1);
                    self.s.holders.push(h);
                } else {
                    let implicit = self.implicit(who);
                    for i in found {
                        self.s.holders[i].uncertain.retain(|r| *r != implicit);
                    }
                }
            }
            Fact::Inline { who, name, doc } => {
                for i in self.holders(who) {
                    let h = &mut self.s.holders[i];
                    match doc {
                        Ok(d) => {
                            h.inline.insert(name.clone(), d.clone());
                        }
                        Err(why) => h.uncertain.push(why.clone()),
                    }
                }
            }
            Fact::Attach { who, arn } => {
                for i in self.holders(who) {
                    let h = &mut self.s.holders[i];
                    if !h.attached.contains(arn) {
                        h.attached.push(arn.clone());
                    }
                }
            }
            Fact::Boundary { who, arn } => {
                for i in self.holders(who) {
                    self.s.holders[i].boundary = Some(arn.clone());
                }
            }
            Fact::Member { user, group } => {
                for i in self.holders(&(HolderKind::User, user.clone())) {
                    let h = &mut self.s.holders[i];
                    if !h.groups.contains(group) {
                        h.groups.push(group.clone());
                    }
                }
                self.holders(&(HolderKind::Group, group.clone()));
            }
            Fact::Managed { arn, doc } => match doc {
                Ok(d) => {
                    self.s.managed.insert(arn.clone(), d.clone());
                }
                Err(why) => {
                    self.s.managed.remove(arn);
                    self.s.unknown_policies.insert(arn.clone(), why.clone());
                }
            },
            Fact::Unknown { who, reason } => {
                if who.1.is_empty() {
                    problems.push(reason.clone());
                    return;
                }
                for i in self.holders(who) {
                    self.s.holders[i].uncertain.push(reason.clone());
                }
            }
            Fact::Exclusive { who, inline, keep } => {
                for i in self.holders(who) {
                    let h = &mut self.s.holders[i];
                    if *inline {
                        h.inline.retain(|name, _| keep.contains(name));
                    } else {
                        h.attached.retain(|arn| keep.contains(arn));
                    }
                }
            }
        }
    }

    fn undo(&mut self, f: &Fact) {
        match f {
            Fact::Holder { who, .. } => {
                let found: BTreeSet<usize> = self.find(who).into_iter().collect();
                let mut i = 0;
                self.s.holders.retain(|_| {
                    i += 1;
                    !found.contains(&(i - 1))
                });
            }
            Fact::Inline { who, name, .. } => {
                for i in self.find(who) {
                    self.s.holders[i].inline.remove(name);
                }
            }
            Fact::Attach { who, arn } => {
                for i in self.find(who) {
                    self.s.holders[i].attached.retain(|a| a != arn);
                }
            }
            Fact::Boundary { who, .. } => {
                for i in self.find(who) {
                    self.s.holders[i].boundary = None;
                }
            }
            Fact::Member { user, group } => {
                for i in self.find(&(HolderKind::User, user.clone())) {
                    self.s.holders[i].groups.retain(|g| g != group);
                }
            }
            Fact::Managed { arn, .. } => {
                self.s.managed.remove(arn);
            }
            // The next apply states what holds now; an exclusive list that goes away leaves
            // the policies as they are (Terraform stops managing them).
            Fact::Unknown { .. } | Fact::Exclusive { .. } => {}
        }
    }
}

/// For tests: the inline and attached policy names of every holder, by name.
#[cfg(test)]
fn holdings(s: &Snapshot) -> std::collections::BTreeMap<String, Vec<String>> {
    s.holders
        .iter()
        .map(|h| {
            let mut v: Vec<String> = h.inline.values().map(|d| d.name.clone()).collect();
            v.extend(h.attached.iter().cloned());
            v.extend(h.uncertain.iter().map(|u| format!("uncertain: {u}")));
            (format!("{}/{}", h.kind.as_str(), h.name), v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:StartSession","Resource":"*"}]}"#;

    fn plan(v: Value) -> Plan {
        Plan::read("plan.json", &v.to_string()).expect("reads")
    }

    fn change(address: &str, kind: &str, actions: &[&str], before: Value, after: Value) -> Value {
        json!({
            "address": address, "mode": "managed", "type": kind,
            "name": address.rsplit('.').next(), "provider_name": "registry.terraform.io/hashicorp/aws",
            "change": {"actions": actions, "before": before, "after": after, "after_unknown": {}}
        })
    }

    #[test]
    fn refuses_what_is_not_a_plan() {
        for (text, message) in [
            ("[]", "format_version"),
            (
                r#"{"format_version":"2.0","resource_changes":[]}"#,
                "format 1.x",
            ),
            (r#"{"format_version":"1.0","values":{}}"#, "this is a state"),
            ("{", "not JSON"),
        ] {
            let e = Plan::read("p.json", text).expect_err(text);
            assert!(e.to_string().contains(message), "{text}: {e}");
            assert!(e.to_string().starts_with("p.json: "));
        }
    }

    #[test]
    fn account_from_caller_identity_else_arns_else_refused() {
        let with_caller = plan(json!({
            "format_version": "1.2", "resource_changes": [],
            "prior_state": {"format_version": "1.0", "values": {"root_module": {"resources": [
                {"address": "data.aws_caller_identity.me", "mode": "data", "type": "aws_caller_identity",
                 "name": "me", "values": {"account_id": "111122223333"}}
            ]}}}
        }));
        assert_eq!(with_caller.account(None).expect("known"), "111122223333");
        assert_eq!(with_caller.account(Some("9")).expect("given"), "9");
        let none = plan(json!({"format_version": "1.2", "resource_changes": []}));
        assert!(none
            .account(None)
            .is_err_and(|e| e.message.contains("--plan-account")));
    }

    #[test]
    fn an_inline_update_changes_one_role_and_the_explicit_resource_wins() {
        let old = json!({"role": "ops", "name": "sessions", "policy": DOC});
        let new_doc = DOC.replace("ssm:StartSession", "ssm:TerminateSession");
        let new = json!({"role": "ops", "name": "sessions", "policy": new_doc});
        // The role's computed inline_policy still lists the old text: ignored.
        let role = json!({"name": "ops", "path": "/", "arn": "arn:aws:iam::1:role/ops",
            "inline_policy": [{"name": "sessions", "policy": DOC}], "managed_policy_arns": []});
        let p = plan(json!({
            "format_version": "1.2",
            "prior_state": {"values": {"root_module": {
                "resources": [
                    {"address": "aws_iam_role.ops", "mode": "managed", "type": "aws_iam_role", "name": "ops", "values": role},
                    {"address": "aws_iam_role.other", "mode": "managed", "type": "aws_iam_role", "name": "other",
                     "values": {"name": "other", "path": "/", "arn": "arn:aws:iam::1:role/other"}}
                ],
                "child_modules": [{"address": "module.m", "resources": [
                    {"address": "module.m.aws_iam_role_policy.s", "mode": "managed", "type": "aws_iam_role_policy", "name": "s", "values": old}
                ]}]
            }}},
            "resource_changes": [change("module.m.aws_iam_role_policy.s", "aws_iam_role_policy", &["update"], old.clone(), new)]
        }));
        let sides = p.sides(None, "1").expect("sides");
        assert_eq!(sides.changed, 1);
        // Only the touched role is described; `other` is outside (unchanged).
        assert_eq!(
            holdings(&sides.baseline),
            std::collections::BTreeMap::from([(
                "role/ops".into(),
                vec!["module.m.aws_iam_role_policy.s".into()]
            )])
        );
        let cand = &sides.candidate.holders[0];
        let text = cand.inline["sessions"].value.to_string();
        assert!(text.contains("TerminateSession"), "{text}");
        assert_eq!(sides.candidate.partial.as_deref(), Some(""));
    }

    #[test]
    fn values_known_after_apply_make_the_principal_uncertain() {
        let p = plan(json!({
            "format_version": "1.2",
            "resource_changes": [{
                "address": "aws_iam_role_policy.s", "mode": "managed", "type": "aws_iam_role_policy", "name": "s",
                "change": {"actions": ["create"], "before": null,
                           "after": {"role": "ops", "name": "s"},
                           "after_unknown": {"policy": true, "id": true}}
            }]
        }));
        let sides = p.sides(None, "1").expect("sides");
        let h = &sides.candidate.holders[0];
        assert!(
            h.uncertain
                .iter()
                .any(|u| u.contains("`aws_iam_role_policy.s`: `policy` is known only after apply")),
            "{:?}",
            h.uncertain
        );
    }

    #[test]
    fn a_changed_managed_policy_without_an_export_makes_outsiders_uncertain() {
        let before =
            json!({"name": "eng", "path": "/", "arn": "arn:aws:iam::1:policy/eng", "policy": DOC});
        let after = json!({"name": "eng", "path": "/", "arn": "arn:aws:iam::1:policy/eng", "policy": DOC.replace("Allow", "Deny")});
        let p = plan(json!({
            "format_version": "1.2",
            "prior_state": {"values": {"root_module": {"resources": [
                {"address": "aws_iam_policy.eng", "mode": "managed", "type": "aws_iam_policy", "name": "eng", "values": before}
            ]}}},
            "resource_changes": [change("aws_iam_policy.eng", "aws_iam_policy", &["update"], before.clone(), after)]
        }));
        let sides = p.sides(None, "1").expect("sides");
        assert!(sides
            .candidate
            .partial
            .as_deref()
            .is_some_and(|r| r.contains("aws_iam_policy.eng")));
        assert_eq!(sides.baseline.partial.as_deref(), Some(""));
    }

    #[test]
    fn replace_delete_and_count_instances_on_an_export() {
        let mut export = Snapshot::default();
        let mut ops = Holder::new(HolderKind::Role, "arn:aws:iam::1:role/ops", "ops");
        ops.attached.push("arn:aws:iam::1:policy/old".into());
        export.put_holder(ops);
        export.put_holder(Holder::new(
            HolderKind::Role,
            "arn:aws:iam::1:role/dev",
            "dev",
        ));
        let att = |arn: &str| json!({"role": "ops", "policy_arn": arn});
        let p = plan(json!({
            "format_version": "1.2",
            "resource_changes": [
                change("aws_iam_role_policy_attachment.a[\"eu\"]", "aws_iam_role_policy_attachment",
                       &["delete", "create"], att("arn:aws:iam::1:policy/old"), att("arn:aws:iam::1:policy/new")),
                change("aws_iam_role_policy.dev[0]", "aws_iam_role_policy", &["create"], Value::Null,
                       json!({"role": "dev", "name": "x", "policy": DOC})),
                change("aws_iam_role.gone", "aws_iam_role", &["delete"],
                       json!({"name": "dev", "path": "/"}), Value::Null),
            ]
        }));
        let sides = p.sides(Some(&export), "1").expect("sides");
        let h = holdings(&sides.candidate);
        assert_eq!(h["role/ops"], ["arn:aws:iam::1:policy/new"]);
        assert!(!h.contains_key("role/dev"), "deleted: {h:?}");
        assert_eq!(sides.changed, 3);
        assert_eq!(sides.candidate.partial, None);
    }

    #[test]
    fn identity_center_permission_sets_are_their_reserved_roles() {
        let mut export = Snapshot::default();
        export.put_holder(Holder::new(
            HolderKind::Role,
            "arn:aws:iam::1:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123abcd",
            "AWSReservedSSO_Admin_0123abcd",
        ));
        let ps = "arn:aws:sso:::permissionSet/ssoins-1/ps-1";
        let p = plan(json!({
            "format_version": "1.2",
            "prior_state": {"values": {"root_module": {"resources": [
                {"address": "aws_ssoadmin_permission_set.admin", "mode": "managed", "type": "aws_ssoadmin_permission_set",
                 "name": "admin", "values": {"name": "Admin", "arn": ps}}
            ]}}},
            "resource_changes": [change("aws_ssoadmin_permission_set_inline_policy.admin", "aws_ssoadmin_permission_set_inline_policy",
                &["create"], Value::Null, json!({"permission_set_arn": ps, "inline_policy": DOC, "instance_arn": "arn:aws:sso:::instance/ssoins-1"}))]
        }));
        let sides = p.sides(Some(&export), "1").expect("sides");
        assert_eq!(
            holdings(&sides.candidate)["role/AWSReservedSSO_Admin_0123abcd"],
            ["aws_ssoadmin_permission_set_inline_policy.admin"]
        );
    }
}
