//! The principals of one or more accounts as an editable model: who holds which inline and
//! managed policies, which groups, which permissions boundary. Read from
//! `aws iam get-account-authorization-details` exports (IAM API Reference,
//! GetAccountAuthorizationDetails: only the default version of a managed policy is in force),
//! edited by overlays (`--replace-policy`, `--attach`, `--detach`) and by Terraform plans, then
//! compiled into a [`PolicySet`](super::set::PolicySet). Nothing here compiles or evaluates.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::arn::account_of;
use crate::eval::TagState;
use crate::policy::embedded::decode_embedded;
use crate::policy::Problem;

/// A policy document as the model keeps it: decoded, not compiled yet.
#[derive(Debug, Clone)]
pub struct Doc {
    /// How reasons name the policy (an ARN, `OWNER#NAME`, a file, a Terraform address).
    pub name: String,
    /// Where it came from, for error messages (a file name).
    pub file: String,
    /// The document.
    pub value: Value,
    /// First and last line of each statement in `file`, when the file is the document itself.
    pub lines: Vec<(usize, usize)>,
}

/// What kind of IAM identity holds policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HolderKind {
    /// An IAM user.
    User,
    /// An IAM role.
    Role,
    /// An IAM group (its policies apply to its users).
    Group,
}

impl HolderKind {
    /// The word overlays and messages use: `user`, `role`, `group`.
    pub fn as_str(self) -> &'static str {
        match self {
            HolderKind::User => "user",
            HolderKind::Role => "role",
            HolderKind::Group => "group",
        }
    }

    fn parse(s: &str) -> Option<HolderKind> {
        match s {
            "user" => Some(HolderKind::User),
            "role" => Some(HolderKind::Role),
            "group" => Some(HolderKind::Group),
            _ => None,
        }
    }
}

/// A user, role or group and its policies.
#[derive(Debug, Clone)]
pub struct Holder {
    /// User, role or group.
    pub kind: HolderKind,
    /// Its ARN (with path).
    pub arn: String,
    /// Its account.
    pub account: String,
    /// Its name (without path).
    pub name: String,
    /// Inline policies by name.
    pub inline: BTreeMap<String, Doc>,
    /// Attached managed policies, by ARN.
    pub attached: Vec<String>,
    /// Permissions boundary (a managed policy ARN).
    pub boundary: Option<String>,
    /// Groups (users only), by name.
    pub groups: Vec<String>,
    /// Its tags (users; a role session's tags can differ from the role's: unknown).
    pub tags: Option<TagState>,
    /// Why its policies cannot be known (for example a value Terraform knows only after apply).
    pub uncertain: Vec<String>,
}

impl Holder {
    /// A holder with no policies.
    pub fn new(kind: HolderKind, arn: &str, name: &str) -> Holder {
        Holder {
            kind,
            arn: arn.to_string(),
            account: account_of(arn).to_string(),
            name: name.to_string(),
            inline: BTreeMap::new(),
            attached: Vec::new(),
            boundary: None,
            groups: Vec::new(),
            tags: None,
            uncertain: Vec::new(),
        }
    }
}

/// The model: managed policies and the identities holding policies.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Managed policies (default version) by ARN.
    pub managed: BTreeMap<String, Doc>,
    /// Users, roles and groups.
    pub holders: Vec<Holder>,
    /// Managed policies whose text is not known (a Terraform value known only after apply):
    /// ARN → why. Their holders are uncertain.
    pub unknown_policies: BTreeMap<String, String>,
    /// Principals outside the model: `None` when the model describes every principal (an
    /// export: one it does not list is unknown); `Some(reason)` when it describes only the
    /// principals a change manages (a Terraform plan without an export): the others are
    /// untouched, and `reason` is non-empty when they may be touched after all (a changed
    /// managed policy whose other holders are unknown).
    pub partial: Option<String>,
}

/// An overlay's or a plan's reference to a user, role or group: `role/NAME`, `user/NAME`,
/// `group/NAME`, or its ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolderRef {
    /// User, role or group.
    pub kind: HolderKind,
    /// Its name (the last part of a path), or its full ARN.
    pub name: String,
}

impl HolderRef {
    /// Parses `role/NAME`, `user/NAME`, `group/NAME` or an IAM ARN of one of them.
    pub fn parse(s: &str) -> Result<HolderRef, String> {
        let (kind, name) = if let Some(rest) = s.strip_prefix("arn:") {
            let resource = rest.splitn(5, ':').nth(4).unwrap_or("");
            let (k, _) = resource.split_once('/').unwrap_or(("", ""));
            (HolderKind::parse(k), s.to_string())
        } else {
            let (k, n) = s.split_once('/').unwrap_or(("", ""));
            (HolderKind::parse(k), n.to_string())
        };
        match kind {
            Some(kind) if !name.is_empty() => Ok(HolderRef { kind, name }),
            _ => Err(format!(
                "`{s}`: name a principal as `role/NAME`, `user/NAME`, `group/NAME` or by its IAM ARN"
            )),
        }
    }
}

impl std::fmt::Display for HolderRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.name.starts_with("arn:") {
            f.write_str(&self.name)
        } else {
            write!(f, "{}/{}", self.kind.as_str(), self.name)
        }
    }
}

fn problem(source: &str, message: String) -> Problem {
    Problem {
        source: source.to_string(),
        statement: None,
        message,
    }
}

impl Snapshot {
    /// Adds an authorization-details export (`file` names it in messages). Entries it cannot
    /// use are errors: a broken export must not be evaluated as if the entry did not exist.
    pub fn add_export(&mut self, file: &str, v: &Value, errors: &mut Vec<Problem>) {
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
            if let Some(doc) = embedded(file, arn.to_string(), doc, errors) {
                self.managed.insert(arn.to_string(), doc);
            }
        }
        let lists = [
            (
                "GroupDetailList",
                "GroupPolicyList",
                "GroupName",
                HolderKind::Group,
            ),
            (
                "UserDetailList",
                "UserPolicyList",
                "UserName",
                HolderKind::User,
            ),
            (
                "RoleDetailList",
                "RolePolicyList",
                "RoleName",
                HolderKind::Role,
            ),
        ];
        for (list, inline_key, name_key, kind) in lists {
            for h in array(v, list) {
                let Some(arn) = h.get("Arn").and_then(Value::as_str) else {
                    errors.push(problem(file, format!("`{list}` entry without `Arn`")));
                    continue;
                };
                let name = h.get(name_key).and_then(Value::as_str).unwrap_or("");
                let mut holder = Holder::new(kind, arn, name);
                for p in array(h, inline_key) {
                    let pname = p.get("PolicyName").and_then(Value::as_str).unwrap_or("?");
                    let Some(doc) = p.get("PolicyDocument") else {
                        errors.push(problem(
                            file,
                            format!("inline policy `{pname}` of `{arn}` has no `PolicyDocument`"),
                        ));
                        continue;
                    };
                    if let Some(doc) = embedded(file, format!("{arn}#{pname}"), doc, errors) {
                        holder.inline.insert(pname.to_string(), doc);
                    }
                }
                holder.attached = array(h, "AttachedManagedPolicies")
                    .filter_map(|a| a.get("PolicyArn").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect();
                holder.boundary = h
                    .get("PermissionsBoundary")
                    .and_then(|b| b.get("PermissionsBoundaryArn"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
                if kind == HolderKind::User {
                    holder.groups = array(h, "GroupList")
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect();
                    holder.tags = Some(tags_of(h));
                }
                self.put_holder(holder);
            }
        }
    }

    /// Adds or replaces a holder (same kind and ARN).
    pub fn put_holder(&mut self, holder: Holder) {
        match self
            .holders
            .iter_mut()
            .find(|h| h.kind == holder.kind && h.arn == holder.arn)
        {
            Some(h) => *h = holder,
            None => self.holders.push(holder),
        }
    }

    /// The holder a reference names: by ARN, else by kind and name; a name found in several
    /// accounts is refused rather than guessed.
    pub fn holder_mut(&mut self, r: &HolderRef) -> Result<&mut Holder, String> {
        let by_arn = r.name.starts_with("arn:");
        let matches: Vec<usize> = self
            .holders
            .iter()
            .enumerate()
            .filter(|(_, h)| {
                h.kind == r.kind
                    && if by_arn {
                        h.arn == r.name
                    } else {
                        h.name == r.name
                    }
            })
            .map(|(i, _)| i)
            .collect();
        match matches.as_slice() {
            [i] => Ok(&mut self.holders[*i]),
            [] => Err(format!("{r} is not in the baseline")),
            several => Err(format!(
                "{r} is in several accounts ({}): name it by its ARN",
                several
                    .iter()
                    .map(|&i| self.holders[i].arn.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// The ARN of a managed policy named by ARN or by name (unique among the model's).
    pub fn managed_arn(&self, key: &str) -> Result<String, String> {
        if self.managed.contains_key(key) {
            return Ok(key.to_string());
        }
        if key.starts_with("arn:") {
            return Err(format!("managed policy `{key}` is not in the baseline"));
        }
        let named: Vec<&String> = self
            .managed
            .keys()
            .filter(|arn| arn.rsplit('/').next() == Some(key))
            .collect();
        match named.as_slice() {
            [arn] => Ok((*arn).clone()),
            [] => Err(format!("no managed policy named `{key}` in the baseline")),
            several => Err(format!(
                "several managed policies are named `{key}` ({}): name it by its ARN",
                several
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}

/// Decodes an embedded document, or records why it cannot be.
pub(crate) fn embedded(
    file: &str,
    name: String,
    doc: &Value,
    errors: &mut Vec<Problem>,
) -> Option<Doc> {
    match decode_embedded(doc) {
        Ok(value) => Some(Doc {
            name,
            file: file.to_string(),
            value,
            lines: Vec::new(),
        }),
        Err(e) => {
            errors.push(problem(&format!("{file}: {name}"), e));
            None
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

/// The elements of an array member (none when absent or not an array).
pub(crate) fn array<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter())
        .into_iter()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holder_references() {
        assert_eq!(
            HolderRef::parse("role/Ops").expect("parses"),
            HolderRef {
                kind: HolderKind::Role,
                name: "Ops".into()
            }
        );
        let by_arn = HolderRef::parse("arn:aws:iam::1:user/dev/alice").expect("parses");
        assert_eq!(by_arn.kind, HolderKind::User);
        assert!(HolderRef::parse("policy/x").is_err());
        assert!(HolderRef::parse("role/").is_err());
        assert!(HolderRef::parse("Ops").is_err());
    }

    #[test]
    fn names_found_in_several_accounts_are_refused() {
        let mut s = Snapshot::default();
        s.put_holder(Holder::new(
            HolderKind::Role,
            "arn:aws:iam::1:role/Ops",
            "Ops",
        ));
        s.put_holder(Holder::new(
            HolderKind::Role,
            "arn:aws:iam::2:role/a/Ops",
            "Ops",
        ));
        let r = HolderRef::parse("role/Ops").expect("parses");
        assert!(s
            .holder_mut(&r)
            .is_err_and(|e| e.contains("several accounts")));
        let exact = HolderRef::parse("arn:aws:iam::2:role/a/Ops").expect("parses");
        assert_eq!(
            s.holder_mut(&exact).map(|h| h.account.clone()),
            Ok("2".into())
        );
        let user = HolderRef::parse("user/Ops").expect("parses");
        assert!(s
            .holder_mut(&user)
            .is_err_and(|e| e.contains("not in the baseline")));
    }
}
