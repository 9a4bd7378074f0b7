//! A CloudTrail Session Manager event → the authorization request AWS evaluated: the principal
//! whose policies apply, the resources, and the condition context with every key known, absent
//! or unknown.

pub(crate) mod denial;
pub mod history;
pub(crate) mod inventory;
pub(crate) mod principal;
pub(crate) mod sessions;
pub(crate) mod skip;

use std::net::IpAddr;

use crate::decode::{SsmAction, SsmEvent};
use crate::eval::{Conditional, Context, KeyValue, Request, Resource, TagState};
use crate::timefmt;

pub use inventory::{Inventory, InventoryError};
pub use principal::{Principal, PrincipalType};
pub use sessions::Sessions;
pub use skip::{Skip, SkipKind};

/// The default session document, used when StartSession names none.
pub const DEFAULT_DOCUMENT: &str = "SSM-SessionManagerRunShell";

/// A StartSession that names no document runs the default one, and IAM checks that document
/// only when the statements allowing the call use `ssm:SessionDocumentAccessCheck` (Systems
/// Manager User Guide, "Enforce a session document permission check for the AWS CLI").
fn default_document_rule(document: Resource) -> Conditional {
    Conditional {
        resource: document,
        key: "ssm:sessiondocumentaccesscheck".to_string(),
    }
}

/// A mapped event.
#[derive(Debug, Clone)]
pub struct Mapped {
    /// Whose policies apply.
    pub principal: Principal,
    /// The request AWS evaluated.
    pub request: Request,
    /// The target when `requestParameters` does not name it: the session's target for
    /// Terminate/ResumeSession (when its start is in the input), or the target named by the
    /// error message of a denied call.
    pub session_target: Option<String>,
    /// The session ID named by the error message of a denied Terminate/ResumeSession whose
    /// record has no `requestParameters`.
    pub session_id: Option<String>,
    /// A resource AWS evaluated that the record does not name.
    pub unlogged: Option<Unlogged>,
}

/// A resource of the request that the record does not name. CloudTrail logs a denied
/// `StartSession` with `requestParameters: null`; its error message names only the first
/// resource IAM refused, the target or the session document, and the other is not in the log.
#[derive(Debug, Clone)]
pub struct Unlogged {
    /// What is missing, for reasons (`session document`, `target`).
    pub what: &'static str,
    /// Requests standing for the values the missing resource can take: each concrete case (no
    /// document: the default-document rule) and, for "any other", a probe resource with a name
    /// no policy writes, so that only patterns matching every name match it.
    pub variants: Vec<Request>,
    /// The ARN shapes the missing resource can have (service, resource-part prefix): a
    /// statement that names such ARNs specifically without matching the probes makes the
    /// variants incomplete.
    pub kinds: Vec<(&'static str, &'static str)>,
}

use crate::eval::variants::PROBE_NAME;

/// The partition of the principal's ARN (`aws`, `aws-cn`, `aws-us-gov`).
fn partition(ev: &SsmEvent) -> &str {
    ev.identity
        .arn
        .as_deref()
        .and_then(crate::arn::Arn::parse)
        .map(|a| a.partition)
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
) -> Result<Mapped, Skip> {
    map_event_with(
        ev,
        sessions,
        &TagSource {
            inventory,
            history: None,
        },
    )
}

/// Where resource tags come from: the inventory snapshot, and the tag history when tags are
/// rebuilt in time.
#[derive(Clone, Copy)]
pub struct TagSource<'a> {
    /// The snapshot.
    pub inventory: &'a Inventory,
    /// Changes and Config items, when read.
    pub history: Option<&'a history::TagHistory>,
}

impl TagSource<'_> {
    /// A target's tags for an event.
    pub fn target_tags(&self, arn: &str, id: &str, ev: &SsmEvent) -> TagState {
        match (self.history, ev.time) {
            (Some(h), Some(time)) if h.has(id) => h.tags_at(
                id,
                &history::At {
                    time,
                    file: Some(ev.file.clone()),
                    record: ev.record,
                },
                self.inventory.snapshot(arn, Some(id)),
            ),
            _ => self.inventory.tags(arn, Some(id)),
        }
    }
}

/// [`map_event`] with resource tags from `tags` (in time, when it holds a history).
pub fn map_event_with(
    ev: &SsmEvent,
    sessions: &Sessions,
    tags: &TagSource<'_>,
) -> Result<Mapped, Skip> {
    let inventory = tags.inventory;
    if !ev.problems.is_empty() {
        return Err(Skip::new(
            SkipKind::UnreadableFields,
            ev.problems.join("; "),
        ));
    }
    let Some(time) = ev.time else {
        return Err(Skip::plain(SkipKind::NoEventTime));
    };
    let principal = principal::from_identity(ev)?;
    let part = partition(ev).to_string();
    let (region, account) = (ev.region.as_str(), ev.account.as_str());
    if account.is_empty() {
        return Err(Skip::plain(SkipKind::NoAccount));
    }
    let mut session_target = None;
    let mut session_id = None;
    let mut default_document = None;
    let mut unlogged_document = false;
    let denial = recovered_denial(ev)?;
    let resources = match ev.action {
        SsmAction::StartSession | SsmAction::GetConnectionStatus => {
            let recovered = match (&ev.target, &denial) {
                (Some(t), _) if !t.is_empty() => None,
                (_, Some(d)) => d.resource.clone(),
                _ => None,
            };
            let target = match recovered {
                Some(r) if r.contains(":document/") && ev.action == SsmAction::StartSession => {
                    // The message names the document: the target is not in the log.
                    return map_unlogged_target(ev, principal, &part, r, time);
                }
                Some(r) => {
                    session_target = Some(r.rsplit('/').next().unwrap_or(&r).to_string());
                    unlogged_document = ev.action == SsmAction::StartSession;
                    r
                }
                None => match ev.target.as_deref().filter(|t| !t.is_empty()) {
                    Some(t) => t.to_string(),
                    None => return Err(Skip::plain(SkipKind::NoTarget)),
                },
            };
            let target = target.as_str();
            let Some((arn, id)) = target_arn(&part, region, account, target) else {
                return Err(Skip::new(
                    SkipKind::UnrecognisedTarget,
                    format!("unrecognised target `{target}`"),
                ));
            };
            let target_tags = tags.target_tags(&arn, &id, ev);
            let mut rs = vec![Resource::new(arn, target_tags)];
            if ev.action == SsmAction::StartSession && !unlogged_document {
                match ev.document_name.as_deref().filter(|d| !d.is_empty()) {
                    Some(doc) => {
                        let arn = document_arn(&part, region, account, doc);
                        rs.push(Resource::new(arn.clone(), document_tags(inventory, &arn)));
                    }
                    None => {
                        let arn = document_arn(&part, region, account, DEFAULT_DOCUMENT);
                        let tags = document_tags(inventory, &arn);
                        default_document = Some(default_document_rule(Resource::new(arn, tags)));
                    }
                }
            }
            rs
        }
        SsmAction::TerminateSession | SsmAction::ResumeSession => {
            let recovered = match (&ev.request_session_id, &denial) {
                (Some(s), _) if !s.is_empty() => None,
                (_, Some(d)) => d
                    .resource
                    .as_deref()
                    .and_then(|r| r.split_once(":session/"))
                    .map(|(_, id)| id.to_string()),
                _ => None,
            };
            if recovered.is_some() {
                session_id = recovered.clone();
            }
            let Some(id) = recovered
                .as_deref()
                .or(ev.request_session_id.as_deref())
                .filter(|s| !s.is_empty())
            else {
                return Err(Skip::plain(SkipKind::NoSessionId));
            };
            let arn = format!("arn:{part}:ssm:{region}:{account}:session/{id}");
            let tags = match sessions.get(id) {
                Some(s) => {
                    session_target = Some(s.target.to_string());
                    TagState::known([
                        ("aws:ssmmessages:target-id", s.target.to_string()),
                        (
                            "aws:ssmmessages:session-id",
                            s.starter_principal_id.to_string(),
                        ),
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
    request.conditional = default_document;
    let unlogged = unlogged_document.then(|| {
        // The message names the target: the document is absent (the default-document rule) or
        // any document, the account's own or an AWS-owned one.
        let mut no_document = request.clone();
        no_document.conditional = Some(default_document_rule(Resource::new(
            document_arn(&part, region, account, DEFAULT_DOCUMENT),
            TagState::Unknown,
        )));
        let probe = |owner: &str| {
            let mut r = request.clone();
            r.resources.push(Resource::new(
                format!("arn:{part}:ssm:{region}:{owner}:document/{PROBE_NAME}"),
                if owner.is_empty() {
                    TagState::none()
                } else {
                    TagState::Unknown
                },
            ));
            r
        };
        Unlogged {
            what: "session document",
            variants: vec![no_document, probe(account), probe("")],
            kinds: vec![("ssm", "document/")],
        }
    });
    Ok(Mapped {
        principal,
        request,
        session_target,
        session_id,
        unlogged,
    })
}

/// The denial stated by the error message of an access-denied record whose request parameters
/// are missing; `Err` when the message names another principal or action than the record.
fn recorded_denial(ev: &SsmEvent) -> Option<denial::Denial> {
    let code = ev.error_code.as_deref()?;
    if !crate::compare::is_access_denied(code) {
        return None;
    }
    denial::parse(ev.error_message.as_deref()?)
}

/// The session a Terminate/ResumeSession event names: `requestParameters.sessionId`, or for a
/// denied call logged without request parameters, the session ARN in the error message.
pub fn session_id_of(ev: &SsmEvent) -> Option<String> {
    if let Some(id) = ev.request_session_id.as_deref().filter(|s| !s.is_empty()) {
        return Some(id.to_string());
    }
    recovered_denial(ev)
        .ok()
        .flatten()
        .and_then(|d| d.resource)
        .and_then(|r| r.split_once(":session/").map(|(_, id)| id.to_string()))
}

/// The kind of policy and the way AWS's access-denied message says it denied, if it says.
pub fn recorded_reason(ev: &SsmEvent) -> Option<denial::Reason> {
    recorded_denial(ev).and_then(|d| d.reason)
}

/// The ID of the instance or node an event targets: its `target`, or for a call denied without
/// request parameters, the resource AWS's message names.
pub fn target_id(ev: &SsmEvent) -> Option<String> {
    if let Some(t) = ev.target.as_deref().filter(|t| !t.is_empty()) {
        return Some(t.to_string());
    }
    let resource = recovered_denial(ev).ok()??.resource?;
    crate::arn::Arn::parse(&resource).map(|a| a.resource_id().to_string())
}

fn recovered_denial(ev: &SsmEvent) -> Result<Option<denial::Denial>, Skip> {
    let named = match ev.action {
        SsmAction::StartSession | SsmAction::GetConnectionStatus => {
            ev.target.as_deref().is_some_and(|t| !t.is_empty())
        }
        SsmAction::TerminateSession | SsmAction::ResumeSession => ev
            .request_session_id
            .as_deref()
            .is_some_and(|t| !t.is_empty()),
        SsmAction::DescribeSessions => true,
    };
    if named {
        return Ok(None);
    }
    let Some(d) = recorded_denial(ev) else {
        return Ok(None);
    };
    if !d.action.eq_ignore_ascii_case(ev.action.iam_action()) {
        return Err(Skip::new(
            SkipKind::MessageContradictsRecord,
            format!(
                "the error message names action `{}`, the record `{}`",
                d.action,
                ev.action.iam_action()
            ),
        ));
    }
    if let Some(arn) = ev.identity.arn.as_deref() {
        if arn != d.principal {
            return Err(Skip::new(
                SkipKind::MessageContradictsRecord,
                format!(
                    "the error message names principal `{}`, the record's userIdentity `{arn}`",
                    d.principal
                ),
            ));
        }
    }
    Ok(Some(d))
}

/// A denied StartSession whose message names the session document: the request is the document
/// and a target the log does not show (an instance, a managed instance or an ECS task).
fn map_unlogged_target(
    ev: &SsmEvent,
    principal: Principal,
    part: &str,
    document: String,
    time: chrono::DateTime<chrono::Utc>,
) -> Result<Mapped, Skip> {
    let (region, account) = (ev.region.as_str(), ev.account.as_str());
    let owned = crate::arn::Arn::parse(&document).is_some_and(|a| a.account.is_empty());
    let doc = Resource::new(
        document,
        if owned {
            TagState::none()
        } else {
            TagState::Unknown
        },
    );
    let context = build_context(ev, &principal, time);
    let request = Request::new(ev.action.iam_action(), vec![doc], context);
    let probes = [
        format!("arn:{part}:ec2:{region}:{account}:instance/i-{PROBE_NAME}"),
        format!("arn:{part}:ssm:{region}:{account}:managed-instance/mi-{PROBE_NAME}"),
        format!("arn:{part}:ecs:{region}:{account}:task/{PROBE_NAME}/{PROBE_NAME}"),
    ];
    let variants = probes
        .into_iter()
        .map(|arn| {
            let mut r = request.clone();
            r.resources.insert(0, Resource::new(arn, TagState::Unknown));
            r
        })
        .collect();
    Ok(Mapped {
        principal,
        request,
        session_target: None,
        session_id: None,
        unlogged: Some(Unlogged {
            what: "target",
            variants,
            kinds: vec![
                ("ec2", "instance/"),
                ("ssm", "managed-instance/"),
                ("ecs", "task/"),
            ],
        }),
    })
}

/// A document's tags: the inventory's, and none for AWS-owned documents (`arn:…:ssm:R::document/…`,
/// no account), which carry no customer tags.
fn document_tags(inventory: &Inventory, arn: &str) -> TagState {
    match inventory.tags(arn, None) {
        TagState::Unknown if crate::arn::Arn::parse(arn).is_some_and(|a| a.account.is_empty()) => {
            TagState::none()
        }
        t => t,
    }
}

fn known(v: impl Into<String>) -> KeyValue {
    KeyValue::Known(vec![v.into()])
}

/// The condition context of an event (AWS-NOTES and IAM User Guide, "AWS global condition
/// context keys"). Keys not set here are unknown.
fn build_context(ev: &SsmEvent, p: &Principal, time: chrono::DateTime<chrono::Utc>) -> Context {
    let mut c = Context::replayed();
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
    // Systems Manager's endpoints accept HTTPS only (AWS General Reference, "AWS Systems
    // Manager endpoints and quotas"), and every AWS API endpoint has required TLS 1.2 or later
    // since 2024 (AWS Security Blog, "TLS 1.2 required for AWS endpoints"): a logged call came
    // over TLS whether or not the record carries `tlsDetails`.
    c.put_new("aws:securetransport", known("true"));
    match ev.vpc_endpoint_id.as_deref() {
        Some(v) => {
            c.put_new("aws:sourcevpce", known(v));
            // The VPC and the endpoint's owner are not in the record.
        }
        None => {
            // Not through a VPC endpoint: the keys only such requests carry are absent (IAM User
            // Guide, "AWS global condition context keys", Availability of each).
            for key in [
                "aws:sourcevpce",
                "aws:sourcevpc",
                "aws:sourcevpcarn",
                "aws:vpceaccount",
                "aws:vpceorgid",
                "aws:vpceorgpaths",
            ] {
                c.put_new(key, KeyValue::Absent);
            }
        }
    }
    if p.kind != PrincipalType::AssumedRole {
        // Only role sessions can carry instance-credential and federation keys.
        for key in [
            "aws:ec2instancesourcevpc",
            "aws:ec2instancesourceprivateipv4",
            "aws:federatedprovider",
        ] {
            c.put_new(key, KeyValue::Absent);
        }
    }
    match id.source_identity.as_deref() {
        Some(s) => c.put_new("aws:sourceidentity", known(s)),
        // Athena's CloudTrail table has no `sourceidentity` column: a row cannot say.
        None if ev.table_row => c.put_new("aws:sourceidentity", KeyValue::Unknown),
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
        "aws:sourceorgid",
        "aws:sourceorgpaths",
        "aws:principalservicename",
        "aws:principalservicenameslist",
        "aws:tagkeys",
        "ssm:sessiondocumentaccesscheck",
    ] {
        c.put_new(absent, KeyValue::Absent);
    }
    // Session Manager calls take no tags.
    c.absent_prefixes.push("aws:requesttag/");
    c
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::decode::{record, Decoded};
    use crate::eval::{KeyValue, TagState};

    fn event(json: &str) -> SsmEvent {
        let r = record::parse(json.as_bytes()).expect("json");
        let file: Arc<str> = Arc::from("t");
        match crate::decode::event::classify(&r, &file, 0).expect("record") {
            Decoded::Session(e) => *e,
            _ => panic!("not a session event"),
        }
    }

    fn record_with(identity: &str, name: &str, params: &str, extra: &str) -> String {
        format!(
            r#"{{"eventVersion":"1.09","userIdentity":{identity},"eventTime":"2024-05-01T10:00:00Z","eventSource":"ssm.amazonaws.com","eventName":"{name}","awsRegion":"eu-west-1","sourceIPAddress":"198.51.100.7","requestParameters":{params},"responseElements":null,"eventID":"e1","recipientAccountId":"111122223333"{extra}}}"#
        )
    }

    const USER: &str = r#"{"type":"IAMUser","principalId":"AIDAUSER","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","accessKeyId":"AKIAX","userName":"alice"}"#;

    fn known(ctx: &Context, key: &str) -> Option<String> {
        match ctx.get(key) {
            Some(KeyValue::Known(v)) => v.first().cloned(),
            _ => None,
        }
    }

    #[test]
    fn targets_and_documents() {
        let inv = Inventory::default();
        let s = Sessions::default();
        let ecs = event(&record_with(
            USER,
            "StartSession",
            r#"{"target":"ecs:my_cluster_0123456789abcdef0123456789abcdef_0123456789abcdef0123456789abcdef-1234567890"}"#,
            "",
        ));
        let m = map_event(&ecs, &s, &inv).expect("mapped");
        assert_eq!(
            m.request.resources[0].arn,
            "arn:aws:ecs:eu-west-1:111122223333:task/my_cluster/0123456789abcdef0123456789abcdef"
        );
        let mi = event(&record_with(
            USER,
            "StartSession",
            r#"{"target":"mi-0123456789abcdef0","documentName":"AWS-StartSSHSession"}"#,
            "",
        ));
        let m = map_event(&mi, &s, &inv).expect("mapped");
        assert_eq!(
            m.request.resources[0].arn,
            "arn:aws:ssm:eu-west-1:111122223333:managed-instance/mi-0123456789abcdef0"
        );
        assert_eq!(
            m.request.resources[1].arn,
            "arn:aws:ssm:eu-west-1::document/AWS-StartSSHSession"
        );
        assert!(m.request.conditional.is_none());
        // AWS-owned documents carry no customer tags: absent, not unknown, without an inventory.
        assert_eq!(m.request.resources[1].tags, TagState::none());
        assert_eq!(m.request.resources[0].tags, TagState::Unknown);
        let own = event(&record_with(
            USER,
            "StartSession",
            r#"{"target":"i-1","documentName":"MyShell"}"#,
            "",
        ));
        let m = map_event(&own, &s, &inv).expect("mapped");
        assert_eq!(
            m.request.resources[1].arn,
            "arn:aws:ssm:eu-west-1:111122223333:document/MyShell"
        );
        let plain = event(&record_with(
            USER,
            "StartSession",
            r#"{"target":"i-1"}"#,
            "",
        ));
        let m = map_event(&plain, &s, &inv).expect("mapped");
        assert_eq!(
            m.request.conditional.map(|d| d.resource.arn),
            Some(
                "arn:aws:ssm:eu-west-1:111122223333:document/SSM-SessionManagerRunShell"
                    .to_string()
            )
        );
        assert_eq!(
            m.request.resources[0].tags,
            TagState::Unknown,
            "no inventory: tags unknown"
        );
        let odd = event(&record_with(
            USER,
            "StartSession",
            r#"{"target":"host.example.com"}"#,
            "",
        ));
        assert!(map_event(&odd, &s, &inv)
            .expect_err("skipped")
            .detail
            .contains("unrecognised target"));
        let term = event(&record_with(
            USER,
            "TerminateSession",
            r#"{"sessionId":"alice-1"}"#,
            "",
        ));
        let m = map_event(&term, &s, &inv).expect("mapped");
        assert_eq!(
            m.request.resources[0].tags,
            TagState::Unknown,
            "start not in the input"
        );
    }

    #[test]
    fn principals() {
        let inv = Inventory::default();
        let s = Sessions::default();
        let root = event(&record_with(
            r#"{"type":"Root","principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333"}"#,
            "DescribeSessions",
            "{}",
            "",
        ));
        let m = map_event(&root, &s, &inv).expect("mapped");
        assert_eq!(m.principal.kind, PrincipalType::Root);
        assert_eq!(
            known(&m.request.context, "aws:PrincipalType").as_deref(),
            Some("Account")
        );
        // A role session whose `sessionContext` a filter removed: the role by name, the path
        // (and so aws:PrincipalArn) unknown.
        let stripped = event(&record_with(
            r#"{"type":"AssumedRole","principalId":"AROAX:carol","arn":"arn:aws:sts::111122223333:assumed-role/Ops/carol","accountId":"111122223333"}"#,
            "DescribeSessions",
            "{}",
            "",
        ));
        let m = map_event(&stripped, &s, &inv).expect("mapped");
        assert_eq!(m.principal.name, "Ops");
        assert_eq!(m.principal.policy_arn, "");
        assert_eq!(m.request.context.get("aws:PrincipalArn"), None, "unknown");
        let svc = event(&record_with(
            r#"{"type":"AWSService","invokedBy":"ssm.amazonaws.com"}"#,
            "DescribeSessions",
            "{}",
            "",
        ));
        assert!(map_event(&svc, &s, &inv)
            .expect_err("skipped")
            .detail
            .contains("AWSService"));
        let fed = event(&record_with(
            r#"{"type":"FederatedUser","principalId":"111122223333:bob","arn":"arn:aws:sts::111122223333:federated-user/bob","accountId":"111122223333","sessionContext":{"sessionIssuer":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/issuer","userName":"issuer"},"attributes":{"mfaAuthenticated":"false","creationDate":"2024-05-01T09:00:00Z"}}}"#,
            "DescribeSessions",
            "{}",
            "",
        ));
        let m = map_event(&fed, &s, &inv).expect("mapped");
        assert_eq!(m.principal.kind, PrincipalType::FederatedUser);
        assert_eq!(
            m.principal.policy_arn,
            "arn:aws:iam::111122223333:user/issuer"
        );
        assert_eq!(
            m.request.context.get("aws:username"),
            Some(&KeyValue::Absent)
        );
        assert_eq!(
            known(&m.request.context, "aws:TokenIssueTime").as_deref(),
            Some("2024-05-01T09:00:00Z")
        );
        // Neither `sessionContext` nor an `assumed-role/…` ARN: the role is unknown.
        let role = event(&record_with(
            r#"{"type":"AssumedRole","principalId":"AROAX:s"}"#,
            "DescribeSessions",
            "{}",
            "",
        ));
        assert!(map_event(&role, &s, &inv)
            .expect_err("skipped")
            .detail
            .contains("sessionIssuer"));
    }

    #[test]
    fn network_and_credential_keys() {
        let inv = Inventory::default();
        let s = Sessions::default();
        let vpce = event(&record_with(
            USER,
            "DescribeSessions",
            "{}",
            r#","vpcEndpointId":"vpce-0abc","tlsDetails":{"tlsVersion":"TLSv1.3"}"#,
        ));
        let c = map_event(&vpce, &s, &inv).expect("mapped").request.context;
        assert_eq!(c.get("aws:SourceIp"), Some(&KeyValue::Absent));
        assert_eq!(
            known(&c, "aws:VpcSourceIp").as_deref(),
            Some("198.51.100.7")
        );
        assert_eq!(known(&c, "aws:SourceVpce").as_deref(), Some("vpce-0abc"));
        assert_eq!(known(&c, "aws:SecureTransport").as_deref(), Some("true"));
        // Long-term keys: no MFA key, no token issue time.
        assert_eq!(c.get("aws:MultiFactorAuthPresent"), Some(&KeyValue::Absent));
        assert_eq!(c.get("aws:TokenIssueTime"), Some(&KeyValue::Absent));
        assert_eq!(c.get("aws:PrincipalOrgID"), None, "unknown by default");
        assert_eq!(c.absent_prefixes, vec!["aws:requesttag/"]);
        let svc_ip = event(
            &record_with(USER, "DescribeSessions", "{}", "")
                .replace("198.51.100.7", "ssm.amazonaws.com"),
        );
        let c = map_event(&svc_ip, &s, &inv)
            .expect("mapped")
            .request
            .context;
        assert_eq!(c.get("aws:SourceIp"), Some(&KeyValue::Absent));
        // Without `tlsDetails` the call still came over TLS: these endpoints take HTTPS only.
        assert_eq!(known(&c, "aws:SecureTransport").as_deref(), Some("true"));
        assert_eq!(
            c.get("aws:SourceVpc"),
            Some(&KeyValue::Absent),
            "no VPC endpoint"
        );
    }
}
