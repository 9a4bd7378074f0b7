//! A CloudTrail Session Manager event → the authorization request AWS evaluated: the principal
//! whose policies apply, the resources, and the condition context with every key known, absent
//! or unknown.

pub mod inventory;
pub mod principal;
pub mod sessions;

use std::net::IpAddr;

use crate::decode::{SsmAction, SsmEvent};
use crate::eval::{Context, Request, Resource, TagState};
use crate::timefmt;

pub use inventory::Inventory;
pub use principal::{Principal, PrincipalType};
pub use sessions::Sessions;

/// The default session document, used when StartSession names none.
pub const DEFAULT_DOCUMENT: &str = "SSM-SessionManagerRunShell";

/// A mapped event.
#[derive(Debug, Clone)]
pub struct Mapped {
    pub principal: Principal,
    pub request: Request,
    /// The session's target for Terminate/ResumeSession, when its start is in the input.
    pub session_target: Option<String>,
}

/// The partition of the principal's ARN (`aws`, `aws-cn`, `aws-us-gov`).
fn partition(ev: &SsmEvent) -> &str {
    ev.identity
        .arn
        .as_deref()
        .and_then(|a| a.split(':').nth(1))
        .filter(|p| !p.is_empty())
        .unwrap_or("aws")
}

/// The target's resource ARN and bare ID. Targets are opaque strings: the anonymised public
/// samples have mixed-case instance IDs (AWS-NOTES, "CloudTrail records").
pub fn target_arn(
    partition: &str,
    region: &str,
    account: &str,
    target: &str,
) -> Option<(String, String)> {
    if target.starts_with("arn:") {
        let id = target.rsplit('/').next().unwrap_or(target).to_string();
        return Some((target.to_string(), id));
    }
    if target.starts_with("i-") {
        return Some((
            format!("arn:{partition}:ec2:{region}:{account}:instance/{target}"),
            target.to_string(),
        ));
    }
    if target.starts_with("mi-") {
        return Some((
            format!("arn:{partition}:ssm:{region}:{account}:managed-instance/{target}"),
            target.to_string(),
        ));
    }
    if let Some(rest) = target.strip_prefix("ecs:") {
        // ecs:CLUSTER_TASKID_RUNTIMEID; cluster names may contain underscores.
        let mut parts = rest.rsplitn(3, '_');
        let _runtime = parts.next()?;
        let task = parts.next()?;
        let cluster = parts.next()?;
        if cluster.is_empty() || task.is_empty() {
            return None;
        }
        return Some((
            format!("arn:{partition}:ecs:{region}:{account}:task/{cluster}/{task}"),
            task.to_string(),
        ));
    }
    None
}

/// A session document's ARN. AWS-owned documents (`AWS-…`, `Amazon…`) have no account.
pub fn document_arn(partition: &str, region: &str, account: &str, name: &str) -> String {
    if name.starts_with("arn:") {
        return name.to_string();
    }
    let lower = name.to_ascii_lowercase();
    let owner =
        if lower.starts_with("aws-") || lower.starts_with("amazon") || lower.starts_with("amzn") {
            ""
        } else {
            account
        };
    format!("arn:{partition}:ssm:{region}:{owner}:document/{name}")
}

/// Maps an event. `Err` is the reason it cannot be evaluated.
pub fn map_event(
    ev: &SsmEvent,
    sessions: &Sessions,
    inventory: &Inventory,
) -> Result<Mapped, String> {
    if !ev.problems.is_empty() {
        return Err(ev.problems.join("; "));
    }
    let Some(time) = ev.time else {
        return Err("no usable `eventTime`".to_string());
    };
    let principal = principal::from_identity(ev)?;
    let part = partition(ev).to_string();
    let (region, account) = (ev.region.as_str(), ev.account.as_str());
    if account.is_empty() {
        return Err("no account (`recipientAccountId` or `userIdentity.accountId`)".to_string());
    }
    let mut session_target = None;
    let mut default_document = None;
    let resources = match ev.action {
        SsmAction::StartSession | SsmAction::GetConnectionStatus => {
            let Some(target) = ev.target.as_deref().filter(|t| !t.is_empty()) else {
                return Err("no `requestParameters.target`".to_string());
            };
            let Some((arn, id)) = target_arn(&part, region, account, target) else {
                return Err(format!("unrecognised target `{target}`"));
            };
            let tags = inventory.tags(&arn, Some(&id));
            let mut rs = vec![Resource::new(arn, tags)];
            if ev.action == SsmAction::StartSession {
                match ev.document_name.as_deref().filter(|d| !d.is_empty()) {
                    Some(doc) => {
                        let arn = document_arn(&part, region, account, doc);
                        let tags = inventory.tags(&arn, None);
                        rs.push(Resource::new(arn, tags));
                    }
                    None => {
                        let arn = document_arn(&part, region, account, DEFAULT_DOCUMENT);
                        let tags = inventory.tags(&arn, None);
                        default_document = Some(Resource::new(arn, tags));
                    }
                }
            }
            rs
        }
        SsmAction::TerminateSession | SsmAction::ResumeSession => {
            let Some(id) = ev.request_session_id.as_deref().filter(|s| !s.is_empty()) else {
                return Err("no `requestParameters.sessionId`".to_string());
            };
            let arn = format!("arn:{part}:ssm:{region}:{account}:session/{id}");
            let tags = match sessions.get(id) {
                Some(s) => {
                    session_target = Some(s.target.clone());
                    TagState::known([
                        ("aws:ssmmessages:target-id", s.target.clone()),
                        ("aws:ssmmessages:session-id", s.starter_principal_id.clone()),
                    ])
                }
                None => TagState::Unknown,
            };
            vec![Resource::new(arn, tags)]
        }
        SsmAction::DescribeSessions => vec![Resource::new("*", TagState::none())],
    };
    let context = build_context(ev, &principal, time);
    let mut request = Request::new(ev.action.iam_action(), resources, context);
    request.default_document = default_document;
    Ok(Mapped {
        principal,
        request,
        session_target,
    })
}

/// The condition context of an event (AWS-NOTES and IAM User Guide, "AWS global condition
/// context keys"). Keys not set here are unknown.
fn build_context(ev: &SsmEvent, p: &Principal, time: chrono::DateTime<chrono::Utc>) -> Context {
    let mut c = Context::new(true);
    let id = &ev.identity;
    match id.principal_id.as_deref() {
        Some(pid) => c.set("aws:userid", pid),
        None => c.set_unknown("aws:userid"),
    }
    match (p.kind, id.user_name.as_deref()) {
        (PrincipalType::User, Some(name)) => c.set("aws:username", name),
        (PrincipalType::User, None) => c.set_unknown("aws:username"),
        _ => c.set_absent("aws:username"),
    }
    if !p.context_arn.is_empty() {
        c.set("aws:PrincipalArn", p.context_arn.clone());
    }
    if !p.account.is_empty() {
        c.set("aws:PrincipalAccount", p.account.clone());
    }
    c.set("aws:PrincipalType", p.kind.context_value());
    c.set("aws:CurrentTime", timefmt::iso(&time));
    c.set("aws:EpochTime", time.timestamp().to_string());
    c.set("aws:RequestedRegion", ev.region.clone());
    c.set("aws:ResourceAccount", ev.account.clone());
    match ev.source_ip.as_deref().map(|s| s.trim().parse::<IpAddr>()) {
        // Through a VPC endpoint, `aws:SourceIp` is not available; `aws:VpcSourceIp` is.
        Some(Ok(ip)) if ev.vpc_endpoint_id.is_some() => {
            c.set_absent("aws:SourceIp");
            c.set("aws:VpcSourceIp", ip.to_string());
        }
        Some(Ok(ip)) => {
            c.set("aws:SourceIp", ip.to_string());
            c.set_absent("aws:VpcSourceIp");
        }
        // A service name (`ssm.amazonaws.com`, `AWS Internal`) is not an IP address.
        _ => c.set_absent("aws:SourceIp"),
    }
    if id.has_session_context {
        match id.mfa_authenticated.as_deref() {
            Some(m) => c.set("aws:MultiFactorAuthPresent", m.to_ascii_lowercase()),
            None => c.set_unknown("aws:MultiFactorAuthPresent"),
        }
        match id
            .creation_date
            .as_deref()
            .and_then(timefmt::parse_datetime)
        {
            Some(t) => c.set("aws:TokenIssueTime", timefmt::iso(&t)),
            None => c.set_unknown("aws:TokenIssueTime"),
        }
        if id.mfa_authenticated.as_deref() != Some("true") {
            c.set_absent("aws:MultiFactorAuthAge");
        }
    } else {
        // Long-term access keys: the MFA keys and the token issue time are absent.
        c.set_absent("aws:MultiFactorAuthPresent");
        c.set_absent("aws:MultiFactorAuthAge");
        c.set_absent("aws:TokenIssueTime");
    }
    if ev.tls {
        c.set("aws:SecureTransport", "true");
    }
    match ev.vpc_endpoint_id.as_deref() {
        Some(v) => c.set("aws:SourceVpce", v),
        None => c.set_absent("aws:SourceVpce"),
    }
    match id.source_identity.as_deref() {
        Some(s) => c.set("aws:SourceIdentity", s),
        None => c.set_absent("aws:SourceIdentity"),
    }
    if let Some(ua) = ev.user_agent.as_deref() {
        c.set("aws:UserAgent", ua);
    }
    c.set(
        "aws:ViaAWSService",
        if id.invoked_by.is_some() {
            "true"
        } else {
            "false"
        },
    );
    c.set("aws:PrincipalIsAWSService", "false");
    for absent in [
        "aws:CalledVia",
        "aws:CalledViaFirst",
        "aws:CalledViaLast",
        "aws:SourceArn",
        "aws:SourceAccount",
        "aws:TagKeys",
        "ssm:SessionDocumentAccessCheck",
    ] {
        c.set_absent(absent);
    }
    c
}
