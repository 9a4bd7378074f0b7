//! What travels from the workers to the report, and how it goes through temporary files: each
//! item with the key it sorts by, its binary form and its estimated memory.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::compare::Agreement;
use crate::decode::{Identity, SsmAction, SsmEvent};
use crate::mapping::sessions::SessionInfo;
use crate::report::Rows;
use crate::spill::{wire, Codec, Footprint, Json};

/// Where an event sorts: time, then event ID, then file and record (which only tell apart the
/// copies of a duplicated event, keeping the choice independent of thread timing).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct SortKey {
    pub(super) time: Option<DateTime<Utc>>,
    pub(super) event_id: Box<str>,
    pub(super) file: Arc<str>,
    pub(super) record: u64,
}

impl SortKey {
    pub(super) fn of(ev: &SsmEvent) -> SortKey {
        SortKey {
            time: ev.time,
            event_id: ev.event_id.as_str().into(),
            file: ev.file.clone(),
            record: ev.record,
        }
    }
}

/// One session event, after evaluation: rows, or only what the summary counts.
pub(super) enum ItemKind {
    /// An event in the window: its action, whether the baseline reproduced the log, and its
    /// rows (per candidate, `None` for an `unchanged` event whose row is not kept, no `--all`).
    /// The last field says where the tags the evaluation read came from (`TAGS_*` bits).
    Event(SsmAction, Option<Agreement>, Rows, u8),
    OutsideWindow,
}

/// A session event on its way to the report, ordered by its key.
pub(super) struct Item {
    pub(super) key: SortKey,
    pub(super) kind: ItemKind,
}

/// Orders a type by its `key` field alone (the rest of it is payload).
macro_rules! ordered_by_key {
    ($t:ty) => {
        impl PartialEq for $t {
            fn eq(&self, other: &Self) -> bool {
                self.key == other.key
            }
        }
        impl Eq for $t {}
        impl PartialOrd for $t {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }
        impl Ord for $t {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.key.cmp(&other.key)
            }
        }
    };
}

ordered_by_key!(Item);

fn put_agreement(out: &mut Vec<u8>, a: &Option<Agreement>) {
    match a {
        None => out.push(0),
        Some(Agreement::Agrees) => out.push(1),
        Some(Agreement::Disagrees(why)) => {
            out.push(2);
            wire::str(out, why);
        }
        Some(Agreement::Uncertain) => out.push(3),
    }
}

fn get_agreement(r: &mut wire::Reader<'_>) -> std::io::Result<Option<Agreement>> {
    Ok(match r.u8()? {
        0 => None,
        1 => Some(Agreement::Agrees),
        2 => Some(Agreement::Disagrees(r.string()?)),
        _ => Some(Agreement::Uncertain),
    })
}

impl Codec for Item {
    fn encode(&self, out: &mut Vec<u8>) {
        let k = &self.key;
        put_time(out, k.time);
        wire::str(out, &k.event_id);
        wire::str(out, &k.file);
        wire::u64(out, k.record);
        match &self.kind {
            ItemKind::Event(action, a, rows, tags) => {
                out.push(0);
                out.push(*action as u8);
                put_agreement(out, a);
                out.push(*tags);
                rows.encode(out);
            }
            ItemKind::OutsideWindow => out.push(1),
        }
    }

    fn decode(bytes: &[u8]) -> std::io::Result<Self> {
        let mut r = wire::Reader { bytes };
        let key = SortKey {
            time: get_time(&mut r)?,
            event_id: r.str()?.into(),
            file: r.str()?.into(),
            record: r.u64()?,
        };
        let kind = match r.u8()? {
            0 => {
                let action =
                    SsmAction::from_index(r.u8()?).ok_or_else(|| wire::invalid("action"))?;
                let a = get_agreement(&mut r)?;
                let tags = r.u8()?;
                ItemKind::Event(action, a, Rows::decode(&mut r)?, tags)
            }
            _ => ItemKind::OutsideWindow,
        };
        Ok(Item { key, kind })
    }
}

impl Footprint for Item {
    fn footprint(&self) -> usize {
        let kind = match &self.kind {
            ItemKind::Event(_, a, rows, _) => {
                let why = match a {
                    Some(Agreement::Disagrees(w)) => w.len(),
                    _ => 0,
                };
                why + rows.footprint()
            }
            ItemKind::OutsideWindow => 0,
        };
        std::mem::size_of::<Item>() + self.key.event_id.len().div_ceil(16) * 16 + 16 + kind
    }
}

/// Where a StartSession sorts, in the session index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct StartKey {
    pub(super) time: Option<DateTime<Utc>>,
    pub(super) file: Arc<str>,
    pub(super) record: u64,
}

/// A successful StartSession in the session index, ordered by session ID, then event order (by
/// time, then file and record: the start's event ID is not kept).
#[derive(PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Start {
    pub(super) session: Box<str>,
    pub(super) key: StartKey,
    pub(super) info: SessionInfo,
}

impl Codec for Start {
    fn encode(&self, out: &mut Vec<u8>) {
        wire::str(out, &self.session);
        put_time(out, self.key.time);
        wire::str(out, &self.key.file);
        wire::u64(out, self.key.record);
        wire::str(out, &self.info.target);
        wire::str(out, &self.info.starter_principal_id);
    }
    fn decode(bytes: &[u8]) -> std::io::Result<Self> {
        let mut r = wire::Reader { bytes };
        Ok(Start {
            session: r.str()?.into(),
            key: StartKey {
                time: get_time(&mut r)?,
                file: r.str()?.into(),
                record: r.u64()?,
            },
            info: SessionInfo {
                target: r.str()?.into(),
                starter_principal_id: r.str()?.into(),
            },
        })
    }
}

impl Footprint for Start {
    fn footprint(&self) -> usize {
        std::mem::size_of::<Start>()
            + 3 * 16
            + self.session.len()
            + self.info.target.len()
            + self.info.starter_principal_id.len()
    }
}

/// An event that waits (for the session index, or for its target's tag history) or is kept as
/// a recheck, ordered by its key: the session it names or its target, then file and record.
/// The event is kept in its binary form ([`put_event`]): one allocation of a few hundred bytes
/// instead of some twenty strings, made and freed by the worker that decoded it.
pub(super) struct Pending {
    /// The session or the target, then the event's file and record.
    pub(super) key: (Box<str>, Arc<str>, u64),
    event: Box<[u8]>,
}

ordered_by_key!(Pending);

impl Pending {
    pub(super) fn new(key: Box<str>, ev: &SsmEvent) -> Pending {
        // Encoded in a buffer the thread keeps, then copied once into an allocation of the
        // exact size (growing a fresh vector and shrinking it took three allocations).
        thread_local! {
            static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let event = SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            s.clear();
            put_event(&mut s, ev);
            let event: Box<[u8]> = s.as_slice().into();
            if s.capacity() > 1 << 20 {
                // One huge event does not stay with the thread.
                *s = Vec::new();
            }
            event
        });
        Pending {
            key: (key, ev.file.clone(), ev.record),
            event,
        }
    }

    /// The event back.
    pub(super) fn event(&self) -> std::io::Result<SsmEvent> {
        get_event(&mut wire::Reader { bytes: &self.event })
    }
}

impl Codec for Pending {
    fn encode(&self, out: &mut Vec<u8>) {
        wire::str(out, &self.key.0);
        out.extend_from_slice(&self.event);
    }
    fn decode(bytes: &[u8]) -> std::io::Result<Self> {
        let mut r = wire::Reader { bytes };
        let key: Box<str> = r.str()?.into();
        let event = r.bytes;
        // The event starts with its file and record.
        let (file, record) = (r.str()?.into(), r.u64()?);
        Ok(Pending {
            key: (key, file, record),
            event: event.into(),
        })
    }
}

impl Footprint for Pending {
    fn footprint(&self) -> usize {
        std::mem::size_of::<Pending>() + self.key.0.len() + self.event.len() + 2 * 16
    }
}

fn put_opt(out: &mut Vec<u8>, s: &Option<String>) {
    match s {
        Some(s) => {
            out.push(1);
            wire::str(out, s);
        }
        None => out.push(0),
    }
}

fn get_opt(r: &mut wire::Reader<'_>) -> std::io::Result<Option<String>> {
    Ok(match r.u8()? {
        0 => None,
        _ => Some(r.string()?),
    })
}

/// An event's binary form: every field, the file and record first.
fn put_event(out: &mut Vec<u8>, ev: &SsmEvent) {
    wire::str(out, &ev.file);
    wire::u64(out, ev.record);
    out.push(ev.action as u8);
    wire::str(out, &ev.event_id);
    wire::str(out, &ev.event_time_raw);
    put_time(out, ev.time);
    put_opt(out, &ev.event_version);
    wire::str(out, &ev.region);
    wire::str(out, &ev.account);
    let id = &ev.identity;
    for s in [
        &id.kind,
        &id.principal_id,
        &id.arn,
        &id.account_id,
        &id.access_key_id,
        &id.user_name,
        &id.invoked_by,
    ] {
        put_opt(out, s);
    }
    out.push(u8::from(id.has_session_context));
    for s in [
        &id.issuer_kind,
        &id.issuer_arn,
        &id.issuer_user_name,
        &id.mfa_authenticated,
        &id.creation_date,
        &id.source_identity,
        &ev.source_ip,
        &ev.user_agent,
        &ev.error_code,
        &ev.error_message,
        &ev.target,
        &ev.document_name,
        &ev.request_session_id,
        &ev.response_session_id,
        &ev.vpc_endpoint_id,
    ] {
        put_opt(out, s);
    }
    wire::u64(out, ev.problems.len() as u64);
    for p in &ev.problems {
        wire::str(out, p);
    }
    out.push(u8::from(ev.table_row));
}

/// Reads back what [`put_event`] wrote (fields in the same order).
fn get_event(r: &mut wire::Reader<'_>) -> std::io::Result<SsmEvent> {
    let file = r.str()?.into();
    let record = r.u64()?;
    let action = SsmAction::from_index(r.u8()?).ok_or_else(|| wire::invalid("action"))?;
    let event_id = r.string()?;
    let event_time_raw = r.string()?;
    let time = get_time(r)?;
    let event_version = get_opt(r)?;
    let region = r.string()?;
    let account = r.string()?;
    let identity = Identity {
        kind: get_opt(r)?,
        principal_id: get_opt(r)?,
        arn: get_opt(r)?,
        account_id: get_opt(r)?,
        access_key_id: get_opt(r)?,
        user_name: get_opt(r)?,
        invoked_by: get_opt(r)?,
        has_session_context: r.u8()? != 0,
        issuer_kind: get_opt(r)?,
        issuer_arn: get_opt(r)?,
        issuer_user_name: get_opt(r)?,
        mfa_authenticated: get_opt(r)?,
        creation_date: get_opt(r)?,
        source_identity: get_opt(r)?,
    };
    let (source_ip, user_agent, error_code, error_message) =
        (get_opt(r)?, get_opt(r)?, get_opt(r)?, get_opt(r)?);
    let (target, document_name, request_session_id, response_session_id, vpc_endpoint_id) = (
        get_opt(r)?,
        get_opt(r)?,
        get_opt(r)?,
        get_opt(r)?,
        get_opt(r)?,
    );
    let n = r.u64()?;
    let mut problems = Vec::new();
    for _ in 0..n {
        problems.push(r.string()?);
    }
    Ok(SsmEvent {
        file,
        record,
        action,
        event_id,
        event_time_raw,
        time,
        event_version,
        region,
        account,
        identity,
        source_ip,
        user_agent,
        error_code,
        error_message,
        target,
        document_name,
        request_session_id,
        response_session_id,
        vpc_endpoint_id,
        problems,
        table_row: r.u8()? != 0,
    })
}

pub(super) fn put_time(out: &mut Vec<u8>, time: Option<DateTime<Utc>>) {
    match time {
        Some(t) => {
            out.push(1);
            wire::u64(out, t.timestamp() as u64);
            wire::u64(out, u64::from(t.timestamp_subsec_nanos()));
        }
        None => out.push(0),
    }
}

pub(super) fn get_time(r: &mut wire::Reader<'_>) -> std::io::Result<Option<DateTime<Utc>>> {
    Ok(match r.u8()? {
        0 => None,
        _ => {
            let secs = r.u64()? as i64;
            let nanos = r.u64()? as u32;
            Some(DateTime::from_timestamp(secs, nanos).ok_or_else(|| wire::invalid("time"))?)
        }
    })
}

/// A tag change on its way to the tag history, ordered by resource and time (the history is
/// built from the resources sessions target only).
pub(super) struct Tagged(pub(super) crate::mapping::history::TagRecord);

impl Tagged {
    fn key(&self) -> (&str, DateTime<Utc>, Option<&str>, u64) {
        let a = &self.0.at;
        (&self.0.resource, a.time, a.file.as_deref(), a.record)
    }
}

impl PartialEq for Tagged {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for Tagged {}
impl PartialOrd for Tagged {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Tagged {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl Codec for Tagged {
    fn encode(&self, out: &mut Vec<u8>) {
        Json(&self.0).encode(out);
    }
    fn decode(bytes: &[u8]) -> std::io::Result<Self> {
        Json::decode(bytes).map(|Json(r)| Tagged(r))
    }
}

impl Footprint for Tagged {
    fn footprint(&self) -> usize {
        // The record's strings and a map for launches and Config items.
        let op = match &self.0.op {
            crate::mapping::history::TagOp::Launch(m)
            | crate::mapping::history::TagOp::Observed(m) => {
                m.iter().map(|(k, v)| k.len() + v.len() + 48).sum()
            }
            _ => 64,
        };
        std::mem::size_of::<Tagged>() + self.0.resource.len() + 96 + op
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_event() -> SsmEvent {
        let s = |v: &str| Some(v.to_string());
        SsmEvent {
            file: Arc::from("AWSLogs/x.json.gz"),
            record: 7,
            action: SsmAction::ResumeSession,
            event_id: "e-1".into(),
            event_time_raw: "2024-05-01T10:00:00Z".into(),
            time: DateTime::from_timestamp(1_714_557_600, 5),
            event_version: s("1.09"),
            region: "eu-west-1".into(),
            account: "111122223333".into(),
            identity: Identity {
                kind: s("AssumedRole"),
                principal_id: s("AROA:alice"),
                arn: s("arn:aws:sts::111122223333:assumed-role/r/alice"),
                account_id: s("111122223333"),
                access_key_id: s("ASIA"),
                user_name: s("alice"),
                invoked_by: s("ssm.amazonaws.com"),
                has_session_context: true,
                issuer_kind: s("Role"),
                issuer_arn: s("arn:aws:iam::111122223333:role/r"),
                issuer_user_name: s("r"),
                mfa_authenticated: s("true"),
                creation_date: s("2024-05-01T09:00:00Z"),
                source_identity: s("alice@example.com"),
            },
            source_ip: s("198.51.100.7"),
            user_agent: s("aws-cli/2 \u{1F600}"),
            error_code: s("AccessDenied"),
            error_message: s("User: … is not authorized"),
            target: s("i-0123456789abcdef0"),
            document_name: s("AWS-StartPortForwardingSession"),
            request_session_id: s("alice-0123"),
            response_session_id: s("alice-0456"),
            vpc_endpoint_id: s("vpce-1"),
            problems: vec!["`target` is a number, not a string".into(), String::new()],
            table_row: true,
        }
    }

    /// A waiting event comes back field for field, in memory and through a temporary file's
    /// bytes; every field is set in one event and none of the optional ones in the other.
    #[test]
    fn waiting_events_come_back_unchanged() {
        let full = full_event();
        let bare = SsmEvent {
            event_version: None,
            time: None,
            identity: Identity::default(),
            source_ip: None,
            user_agent: None,
            error_code: None,
            error_message: None,
            target: None,
            document_name: None,
            request_session_id: None,
            response_session_id: None,
            vpc_endpoint_id: None,
            problems: Vec::new(),
            table_row: false,
            ..full_event()
        };
        for ev in [full, bare] {
            let p = Pending::new("alice-0456".into(), &ev);
            assert_eq!(p.event().expect("decodes"), ev);
            let mut bytes = Vec::new();
            p.encode(&mut bytes);
            let back = Pending::decode(&bytes).expect("decodes");
            assert_eq!(back.key, ("alice-0456".into(), ev.file.clone(), ev.record));
            assert_eq!(back.event().expect("decodes"), ev);
            // Cut short anywhere: an error, never a panic or a different event.
            for n in 0..bytes.len() {
                let cut = Pending::decode(&bytes[..n]).and_then(|p| p.event());
                assert!(cut.is_err(), "{n} of {} bytes", bytes.len());
            }
        }
    }
}
