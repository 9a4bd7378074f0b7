//! What travels from the workers to the report, and how it goes through temporary files: each
//! item with the key it sorts by, its binary form and its estimated memory.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::compare::Agreement;
use crate::decode::{SsmAction, SsmEvent};
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

impl Footprint for SsmEvent {
    fn footprint(&self) -> usize {
        let id = &self.identity;
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        std::mem::size_of::<SsmEvent>()
            + self.event_id.len()
            + self.event_time_raw.len()
            + self.region.len()
            + self.account.len()
            + opt(&id.arn)
            + opt(&id.principal_id)
            + opt(&id.issuer_arn)
            + opt(&self.error_message)
            + opt(&self.user_agent)
            + opt(&self.target)
            + opt(&self.request_session_id)
            + opt(&self.response_session_id)
            + 256
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

/// A Terminate/ResumeSession event waiting for the session index, ordered by the session it
/// names.
pub(super) struct Pending {
    /// The session, then the event's file and record.
    pub(super) key: (Box<str>, Arc<str>, u64),
    /// Boxed: the buffer is sorted, and moving whole events cost more than comparing them.
    pub(super) event: Box<SsmEvent>,
}

ordered_by_key!(Pending);

impl Codec for Pending {
    fn encode(&self, out: &mut Vec<u8>) {
        wire::str(out, &self.key.0);
        Json(&self.event).encode(out);
    }
    fn decode(bytes: &[u8]) -> std::io::Result<Self> {
        let mut r = wire::Reader { bytes };
        let session: Box<str> = r.str()?.into();
        let Json(event) = Json::<Box<SsmEvent>>::decode(r.bytes)?;
        Ok(Pending {
            key: (session, event.file.clone(), event.record),
            event,
        })
    }
}

impl Footprint for Pending {
    fn footprint(&self) -> usize {
        self.key.0.len() + self.event.footprint()
    }
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
