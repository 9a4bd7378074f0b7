//! A CloudTrail Session Manager event → the authorization request AWS evaluated: the principal
//! whose policies apply, the resources, and the condition context with every key known, absent
//! or unknown.

pub mod inventory;
pub mod principal;
pub mod sessions;

use std::net::IpAddr;

use crate::decode::{SsmAction, SsmEvent};
use crate::eval::{Context, KeyValue, Request, Resource, TagState};
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

fn known(v: impl Into<String>) -> KeyValue {
    KeyValue::Known(vec![v.into()])
}

/// The condition context of an event (AWS-NOTES and IAM User Guide, "AWS global condition
/// context keys"). Keys not set here are unknown.
fn build_context(ev: &SsmEvent, p: &Principal, time: chrono::DateTime<chrono::Utc>) -> Context {
    let mut c = Context::new(true);
    let id = &ev.identity;
    match id.principal_id.as_deref() {
        Some(pid) => c.put_new("aws:userid", known(pid)),
        None => c.put_new("aws:userid", KeyValue::Unknown),
    }
    match (p.kind, id.user_name.as_deref()) {
        (PrincipalType::User, Some(name)) => c.put_new("aws:username", known(name)),
        (PrincipalType::User, None) => c.put_new("aws:username", KeyValue::Unknown),
        _ => c.put_new("aws:username", KeyValue::Absent),
    }
    if !p.context_arn.is_empty() {
        c.put_new("aws:principalarn", known(p.context_arn.clone()));
    }
    if !p.account.is_empty() {
        c.put_new("aws:principalaccount", known(p.account.clone()));
    }
    c.put_new("aws:principaltype", known(p.kind.context_value()));
    c.put_new("aws:currenttime", known(timefmt::iso(&time)));
    c.put_new("aws:epochtime", known(time.timestamp().to_string()));
    c.put_new("aws:requestedregion", known(ev.region.clone()));
    c.put_new("aws:resourceaccount", known(ev.account.clone()));
    match ev.source_ip.as_deref().map(|s| s.trim().parse::<IpAddr>()) {
        // Through a VPC endpoint, `aws:SourceIp` is not available; `aws:VpcSourceIp` is.
        Some(Ok(ip)) if ev.vpc_endpoint_id.is_some() => {
            c.put_new("aws:sourceip", KeyValue::Absent);
            c.put_new("aws:vpcsourceip", known(ip.to_string()));
        }
        Some(Ok(ip)) => {
            c.put_new("aws:sourceip", known(ip.to_string()));
            c.put_new("aws:vpcsourceip", KeyValue::Absent);
        }
        // A service name (`ssm.amazonaws.com`, `AWS Internal`) is not an IP address.
        _ => c.put_new("aws:sourceip", KeyValue::Absent),
    }
    if id.has_session_context {
        match id.mfa_authenticated.as_deref() {
            Some(m) => c.put_new("aws:multifactorauthpresent", known(m.to_ascii_lowercase())),
            None => c.put_new("aws:multifactorauthpresent", KeyValue::Unknown),
        }
        match id
            .creation_date
            .as_deref()
            .and_then(timefmt::parse_datetime)
        {
            Some(t) => c.put_new("aws:tokenissuetime", known(timefmt::iso(&t))),
            None => c.put_new("aws:tokenissuetime", KeyValue::Unknown),
        }
        if id.mfa_authenticated.as_deref() != Some("true") {
            c.put_new("aws:multifactorauthage", KeyValue::Absent);
        }
    } else {
        // Long-term access keys: the MFA keys and the token issue time are absent.
        c.put_new("aws:multifactorauthpresent", KeyValue::Absent);
        c.put_new("aws:multifactorauthage", KeyValue::Absent);
        c.put_new("aws:tokenissuetime", KeyValue::Absent);
    }
    if ev.tls {
        c.put_new("aws:securetransport", known("true"));
    }
    match ev.vpc_endpoint_id.as_deref() {
        Some(v) => c.put_new("aws:sourcevpce", known(v)),
        None => c.put_new("aws:sourcevpce", KeyValue::Absent),
    }
    match id.source_identity.as_deref() {
        Some(s) => c.put_new("aws:sourceidentity", known(s)),
        None => c.put_new("aws:sourceidentity", KeyValue::Absent),
    }
    if let Some(ua) = ev.user_agent.as_deref() {
        c.put_new("aws:useragent", known(ua));
    }
    let via = if id.invoked_by.is_some() {
        "true"
    } else {
        "false"
    };
    c.put_new("aws:viaawsservice", known(via));
    c.put_new("aws:principalisawsservice", known("false"));
    for absent in [
        "aws:calledvia",
        "aws:calledviafirst",
        "aws:calledvialast",
        "aws:sourcearn",
        "aws:sourceaccount",
        "aws:tagkeys",
        "ssm:sessiondocumentaccesscheck",
    ] {
        c.put_new(absent, KeyValue::Absent);
    }
    c
}
