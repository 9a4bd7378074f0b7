//! The principal behind an event, from `userIdentity` (CloudTrail User Guide, "CloudTrail
//! userIdentity element"). Policies of a role session belong to
//! `sessionContext.sessionIssuer.arn`: the `assumed-role/…` ARN drops the role's path.

use super::skip::{Skip, SkipKind};
use crate::decode::SsmEvent;
use crate::policy::set::PrincipalKind;

/// The kind of caller, as far as policies go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PrincipalType {
    /// An IAM user.
    User,
    /// A role session.
    AssumedRole,
    /// A federated user (GetFederationToken).
    FederatedUser,
    /// The account's root user.
    Root,
}

impl PrincipalType {
    /// The value of `aws:PrincipalType`.
    pub fn context_value(self) -> &'static str {
        match self {
            PrincipalType::User => "User",
            PrincipalType::AssumedRole => "AssumedRole",
            PrincipalType::FederatedUser => "FederatedUser",
            PrincipalType::Root => "Account",
        }
    }
    /// The kind of IAM identity whose policies apply: the user (for a federated user, the
    /// issuing user), the role; none for the root user, which identity-based policies do not
    /// govern.
    pub fn policy_holder(self) -> Option<PrincipalKind> {
        match self {
            PrincipalType::User | PrincipalType::FederatedUser => Some(PrincipalKind::User),
            PrincipalType::AssumedRole => Some(PrincipalKind::Role),
            PrincipalType::Root => None,
        }
    }
    /// The `userIdentity.type` word, for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalType::User => "IAMUser",
            PrincipalType::AssumedRole => "AssumedRole",
            PrincipalType::FederatedUser => "FederatedUser",
            PrincipalType::Root => "Root",
        }
    }
}

/// Who made the call and where their policies are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The kind of caller.
    pub kind: PrincipalType,
    /// `userIdentity.arn` as logged (for reports).
    pub arn: String,
    /// The IAM user or role whose policies apply (the issuing user for federated users).
    pub policy_arn: String,
    /// That user's or role's name.
    pub name: String,
    /// The caller's account.
    pub account: String,
    /// The value of `aws:PrincipalArn` (the role ARN for role sessions).
    pub context_arn: String,
    /// A service-linked role: SCPs do not apply (IAM User Guide, "Policy evaluation logic").
    pub service_linked: bool,
}

fn last_segment(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// A role session whose record lost `sessionContext` (a `jq` filter, an export that keeps a few
/// fields): the role's name is in `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`, its path is
/// not. The policy set finds the role by name (account, name); `aws:PrincipalArn`, which holds
/// the path, stays unknown.
fn role_from_session_arn(arn: &str, account: String) -> Result<Principal, Skip> {
    let name = arn
        .split_once(":assumed-role/")
        .and_then(|(_, rest)| rest.split('/').next())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            Skip::new(SkipKind::UnknownPrincipal, "assumed role without `sessionContext.sessionIssuer.arn` and without an `assumed-role/ROLE/SESSION` ARN: its role is unknown")
        })?;
    Ok(Principal {
        kind: PrincipalType::AssumedRole,
        arn: arn.to_string(),
        policy_arn: String::new(),
        name: name.to_string(),
        account,
        context_arn: String::new(),
        // Service-linked roles are named AWSServiceRoleFor… (IAM User Guide, "Using
        // service-linked roles").
        service_linked: name.starts_with("AWSServiceRoleFor"),
    })
}

/// The principal of an event, or why it cannot be evaluated.
pub fn from_identity(ev: &SsmEvent) -> Result<Principal, Skip> {
    let id = &ev.identity;
    let kind = id.kind.as_deref().unwrap_or("");
    let arn = id.arn.clone().unwrap_or_default();
    let account = id
        .account_id
        .clone()
        .unwrap_or_else(|| crate::arn::account_of(&arn).to_string());
    match kind {
        "IAMUser" => {
            if arn.is_empty() {
                return Err(Skip::new(
                    SkipKind::UnknownPrincipal,
                    "IAM user without `userIdentity.arn`",
                ));
            }
            let name = id
                .user_name
                .clone()
                .unwrap_or_else(|| last_segment(&arn).to_string());
            Ok(Principal {
                kind: PrincipalType::User,
                policy_arn: arn.clone(),
                context_arn: arn.clone(),
                arn,
                name,
                account,
                service_linked: false,
            })
        }
        "AssumedRole" => {
            let Some(role) = id.issuer_arn.clone().filter(|a| !a.is_empty()) else {
                return role_from_session_arn(&arn, account);
            };
            let name = id
                .issuer_user_name
                .clone()
                .unwrap_or_else(|| last_segment(&role).to_string());
            Ok(Principal {
                kind: PrincipalType::AssumedRole,
                service_linked: role.contains(":role/aws-service-role/"),
                policy_arn: role.clone(),
                context_arn: role,
                arn,
                name,
                account,
            })
        }
        "FederatedUser" => {
            let Some(user) = id.issuer_arn.clone().filter(|a| !a.is_empty()) else {
                return Err(Skip::new(
                    SkipKind::UnknownPrincipal,
                    "federated user without `sessionContext.sessionIssuer.arn`",
                ));
            };
            let name = id
                .issuer_user_name
                .clone()
                .unwrap_or_else(|| last_segment(&user).to_string());
            Ok(Principal {
                kind: PrincipalType::FederatedUser,
                policy_arn: user,
                context_arn: arn.clone(),
                arn,
                name,
                account,
                service_linked: false,
            })
        }
        "Root" => Ok(Principal {
            kind: PrincipalType::Root,
            policy_arn: arn.clone(),
            context_arn: arn.clone(),
            name: String::new(),
            arn,
            account,
            service_linked: false,
        }),
        "" => Err(Skip::new(
            SkipKind::UnknownPrincipal,
            "no `userIdentity.type`",
        )),
        other => Err(Skip::new(
            SkipKind::CallerNotEvaluable,
            format!("caller type `{other}` is not evaluable against identity-based policies"),
        )),
    }
}
