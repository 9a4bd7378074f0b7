//! Session Manager events: the owned form of the records trailreplay keeps, selected by
//! `eventSource` and `eventName` together (Athena has its own `StartSession`).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::record::{self, Loose, Obj, RawRecord};
use crate::timefmt;

pub const SSM_SOURCE: &str = "ssm.amazonaws.com";

/// The five Session Manager actions.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum SsmAction {
    /// `ssm:StartSession`.
    StartSession,
    /// `ssm:TerminateSession`.
    TerminateSession,
    /// `ssm:ResumeSession`.
    ResumeSession,
    /// `ssm:DescribeSessions`.
    DescribeSessions,
    /// `ssm:GetConnectionStatus`.
    GetConnectionStatus,
}

/// Each action with its event name and IAM action name: the one table the three lookups use.
const ACTIONS: [(SsmAction, &str, &str); 5] = [
    (SsmAction::StartSession, "StartSession", "ssm:StartSession"),
    (
        SsmAction::TerminateSession,
        "TerminateSession",
        "ssm:TerminateSession",
    ),
    (
        SsmAction::ResumeSession,
        "ResumeSession",
        "ssm:ResumeSession",
    ),
    (
        SsmAction::DescribeSessions,
        "DescribeSessions",
        "ssm:DescribeSessions",
    ),
    (
        SsmAction::GetConnectionStatus,
        "GetConnectionStatus",
        "ssm:GetConnectionStatus",
    ),
];

impl SsmAction {
    /// The action of a CloudTrail `eventName`.
    pub fn from_event_name(name: &str) -> Option<SsmAction> {
        ACTIONS
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(a, _, _)| *a)
    }
    fn entry(self) -> &'static (SsmAction, &'static str, &'static str) {
        &ACTIONS[self as usize]
    }
    /// The action numbered `i` in enum order (for compact temporary files).
    pub fn from_index(i: u8) -> Option<SsmAction> {
        ACTIONS.get(usize::from(i)).map(|(a, _, _)| *a)
    }
    /// The CloudTrail `eventName`.
    pub fn name(self) -> &'static str {
        self.entry().1
    }
    /// The IAM action (`ssm:StartSession`).
    pub fn iam_action(self) -> &'static str {
        self.entry().2
    }
}

/// The caller, as `userIdentity` records it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    /// `userIdentity.type` (`IAMUser`, `AssumedRole`, `FederatedUser`, `Root`, …).
    pub kind: Option<String>,
    /// `userIdentity.principalId`.
    pub principal_id: Option<String>,
    /// `userIdentity.arn`.
    pub arn: Option<String>,
    /// `userIdentity.accountId`.
    pub account_id: Option<String>,
    /// `userIdentity.accessKeyId`.
    pub access_key_id: Option<String>,
    /// `userIdentity.userName`.
    pub user_name: Option<String>,
    /// `userIdentity.invokedBy`.
    pub invoked_by: Option<String>,
    /// The record has a `sessionContext`.
    pub has_session_context: bool,
    /// `sessionContext.sessionIssuer.type`.
    pub issuer_kind: Option<String>,
    /// `sessionContext.sessionIssuer.arn`.
    pub issuer_arn: Option<String>,
    /// `sessionContext.sessionIssuer.userName`.
    pub issuer_user_name: Option<String>,
    /// `sessionContext.attributes.mfaAuthenticated`.
    pub mfa_authenticated: Option<String>,
    /// `sessionContext.attributes.creationDate`.
    pub creation_date: Option<String>,
    /// `sessionContext.sourceIdentity`.
    pub source_identity: Option<String>,
}

/// A Session Manager event, owned, with what it needs for replay.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SsmEvent {
    /// The file the record came from (as the report names it).
    pub file: Arc<str>,
    /// Index of the record in its file, from 0.
    pub record: u64,
    /// Which Session Manager call.
    pub action: SsmAction,
    /// `eventID`.
    pub event_id: String,
    /// As written in the log.
    pub event_time_raw: String,
    /// `eventTime`, when it parses.
    pub time: Option<DateTime<Utc>>,
    /// `eventVersion`.
    pub event_version: Option<String>,
    /// `awsRegion`.
    pub region: String,
    /// `recipientAccountId` (else `userIdentity.accountId`).
    pub account: String,
    /// `userIdentity`.
    pub identity: Identity,
    /// `sourceIPAddress`.
    pub source_ip: Option<String>,
    /// `userAgent`.
    pub user_agent: Option<String>,
    /// `errorCode`.
    pub error_code: Option<String>,
    /// `errorMessage`.
    pub error_message: Option<String>,
    /// `requestParameters.target`.
    pub target: Option<String>,
    /// `requestParameters.documentName`.
    pub document_name: Option<String>,
    /// `requestParameters.sessionId`.
    pub request_session_id: Option<String>,
    /// `responseElements.sessionId`.
    pub response_session_id: Option<String>,
    /// `vpcEndpointId`.
    pub vpc_endpoint_id: Option<String>,
    /// Why the event cannot be evaluated, when a field it needs is missing or of the wrong type.
    pub problems: Vec<String>,
    /// The record came as a row of Athena's CloudTrail table (`decode/athena.rs`): fields the
    /// table has no column for are unknown, not absent.
    #[serde(default)]
    pub table_row: bool,
}

/// What one record turned out to be.
pub enum Decoded {
    /// A Session Manager event.
    Session(Box<SsmEvent>),
    /// An `ssm.amazonaws.com` record with another event name.
    OtherSsm,
    /// A CloudTrail record of another service.
    Other,
    /// Valid JSON, but not a CloudTrail record (no `eventSource`/`eventName`).
    NotARecord,
    /// A call that changes resource tags (see `decode::tagging`); `ssm` says whether it is a
    /// Systems Manager call (counted with the other SSM calls) or another service's.
    Tagging {
        /// An `ssm.amazonaws.com` record.
        ssm: bool,
    },
}

fn field(problems: &mut Vec<String>, name: &str, v: &Loose<'_>) -> Option<String> {
    match v {
        Loose::Str(s) => Some(s.to_string()),
        Loose::Missing => None,
        other => {
            problems.push(format!(
                "`{name}` is {}, not a string",
                other.wrong_type().unwrap_or("not a string")
            ));
            None
        }
    }
}

/// Turns a parsed record into what it is. `file`/`index` locate it for reports.
pub fn classify(
    r: &RawRecord<'_>,
    file: &Arc<str>,
    index: u64,
) -> Result<Decoded, serde_json::Error> {
    // Envelopes first.
    if r.event_source == Loose::Missing {
        if let Some(detail) = r.detail {
            let inner = record::parse(detail.get().as_bytes())?;
            return classify(&inner, file, index);
        }
        if let Some(text) = r.cloud_trail_event.str() {
            let inner = record::parse(text.as_bytes())?;
            return classify(&inner, file, index);
        }
    }
    let (Some(source), Some(name)) = (r.event_source.str(), r.event_name.str()) else {
        return Ok(Decoded::NotARecord);
    };
    if super::tagging::is_tagging(source, name) {
        return Ok(Decoded::Tagging {
            ssm: source == SSM_SOURCE,
        });
    }
    if source != SSM_SOURCE {
        return Ok(Decoded::Other);
    }
    let Some(action) = SsmAction::from_event_name(name) else {
        return Ok(Decoded::OtherSsm);
    };
    Ok(Decoded::Session(Box::new(to_event(r, action, file, index))))
}

fn to_event(r: &RawRecord<'_>, action: SsmAction, file: &Arc<str>, index: u64) -> SsmEvent {
    let mut problems = Vec::new();
    let event_id = field(&mut problems, "eventID", &r.event_id);
    let event_time_raw = field(&mut problems, "eventTime", &r.event_time);
    let time = event_time_raw.as_deref().and_then(timefmt::parse_datetime);
    if event_time_raw.is_some() && time.is_none() {
        problems.push("`eventTime` is not an ISO 8601 time".to_string());
    }
    if event_time_raw.is_none() && r.event_time == Loose::Missing {
        problems.push("no `eventTime`".to_string());
    }
    let region = field(&mut problems, "awsRegion", &r.aws_region);
    if region.is_none() && r.aws_region == Loose::Missing {
        problems.push("no `awsRegion`".to_string());
    }
    let mut identity = Identity::default();
    match &r.user_identity {
        Obj::Ok(id) => {
            identity.kind = field(&mut problems, "userIdentity.type", &id.kind);
            identity.principal_id =
                field(&mut problems, "userIdentity.principalId", &id.principal_id);
            identity.arn = field(&mut problems, "userIdentity.arn", &id.arn);
            identity.account_id = field(&mut problems, "userIdentity.accountId", &id.account_id);
            identity.access_key_id =
                field(&mut problems, "userIdentity.accessKeyId", &id.access_key_id);
            identity.user_name = field(&mut problems, "userIdentity.userName", &id.user_name);
            identity.invoked_by = field(&mut problems, "userIdentity.invokedBy", &id.invoked_by);
            match &id.session_context {
                Obj::Ok(sc) => {
                    identity.has_session_context = true;
                    match &sc.session_issuer {
                        Obj::Ok(iss) => {
                            identity.issuer_kind =
                                field(&mut problems, "sessionIssuer.type", &iss.kind);
                            identity.issuer_arn =
                                field(&mut problems, "sessionIssuer.arn", &iss.arn);
                            identity.issuer_user_name =
                                field(&mut problems, "sessionIssuer.userName", &iss.user_name);
                        }
                        Obj::Wrong(k) => {
                            problems.push(format!("`sessionIssuer` is {k}, not an object"))
                        }
                        Obj::Missing => {}
                    }
                    match &sc.attributes {
                        Obj::Ok(a) => {
                            // `mfaAuthenticated` is a string ("true"/"false"); accept booleans too.
                            identity.mfa_authenticated = a.mfa_authenticated.owned();
                            identity.creation_date =
                                field(&mut problems, "attributes.creationDate", &a.creation_date);
                        }
                        Obj::Wrong(k) => problems
                            .push(format!("`sessionContext.attributes` is {k}, not an object")),
                        Obj::Missing => {}
                    }
                    identity.source_identity = field(
                        &mut problems,
                        "sessionContext.sourceIdentity",
                        &sc.source_identity,
                    );
                }
                Obj::Wrong(k) => problems.push(format!("`sessionContext` is {k}, not an object")),
                Obj::Missing => {}
            }
        }
        Obj::Wrong(k) => problems.push(format!("`userIdentity` is {k}, not an object")),
        Obj::Missing => problems.push("no `userIdentity`".to_string()),
    }
    let account = field(&mut problems, "recipientAccountId", &r.recipient_account_id)
        .or_else(|| identity.account_id.clone())
        .unwrap_or_default();
    let (mut target, mut document_name, mut request_session_id) = (None, None, None);
    match &r.request_parameters {
        Obj::Ok(p) => {
            target = field(&mut problems, "requestParameters.target", &p.target);
            document_name = field(
                &mut problems,
                "requestParameters.documentName",
                &p.document_name,
            );
            request_session_id = field(&mut problems, "requestParameters.sessionId", &p.session_id);
        }
        Obj::Wrong(k) => problems.push(format!("`requestParameters` is {k}, not an object")),
        Obj::Missing => {}
    }
    let response_session_id = match &r.response_elements {
        Obj::Ok(p) => field(&mut problems, "responseElements.sessionId", &p.session_id),
        // `responseElements` is null for failed calls; other shapes carry nothing we need.
        _ => None,
    };
    SsmEvent {
        file: file.clone(),
        record: index,
        action,
        event_id: event_id.unwrap_or_default(),
        event_time_raw: event_time_raw.unwrap_or_default(),
        time,
        event_version: r.event_version.owned(),
        region: region.unwrap_or_default(),
        account,
        identity,
        source_ip: field(&mut problems, "sourceIPAddress", &r.source_ip_address),
        user_agent: r.user_agent.owned(),
        error_code: r.error_code.owned(),
        error_message: r.error_message.owned(),
        target,
        document_name,
        request_session_id,
        response_session_id,
        vpc_endpoint_id: r.vpc_endpoint_id.owned(),
        problems,
        table_row: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_table_is_in_enum_order() {
        for (i, (a, name, iam)) in ACTIONS.iter().enumerate() {
            assert_eq!(*a as usize, i);
            assert_eq!(SsmAction::from_event_name(name), Some(*a));
            assert_eq!(a.name(), *name);
            assert_eq!(*iam, format!("ssm:{name}"));
        }
        assert_eq!(SsmAction::from_event_name("StartSessions"), None);
    }
}
