//! The report row of one Session Manager event: typed verdicts and change, words only when
//! written.

use serde::{Serialize, Serializer};

use crate::compare::{Change, Explained, Judged, Verdict};
use crate::decode::SsmEvent;
use crate::mapping::history::TagReading;
use crate::mapping::{self, Skip, SkipKind};
use crate::spill::wire;
use crate::timefmt;

/// One row per Session Manager event. Column order is fixed and documented in the README
/// ([`COLUMNS`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// `eventID`.
    pub event_id: String,
    /// `eventTime`, normalised to `YYYY-MM-DDTHH:MM:SSZ` when it parses.
    pub event_time: String,
    /// `StartSession`, `TerminateSession`, ….
    pub event_name: String,
    /// `recipientAccountId`.
    pub account: String,
    /// `awsRegion`.
    pub region: String,
    /// `userIdentity.arn`.
    pub principal_arn: String,
    /// `userIdentity.type`.
    pub principal_type: String,
    /// `sourceIPAddress`.
    pub source_ip: String,
    /// The instance, managed instance or task (for Terminate/ResumeSession, the session's).
    pub target: String,
    /// The session ID.
    pub session_id: String,
    /// The resource ARNs evaluated, `;`-separated.
    pub resources: String,
    /// `errorCode`.
    pub error_code: String,
    /// The baseline's verdict (none for a skipped event).
    #[serde(serialize_with = "verdict_word")]
    pub baseline: Option<Verdict>,
    /// The candidate's verdict (none for a skipped event).
    #[serde(serialize_with = "verdict_word")]
    pub candidate: Option<Verdict>,
    /// What the candidate changes.
    pub change: Change,
    /// Why the candidate decided so; for a skipped event, why it was skipped.
    pub candidate_reason: String,
    /// Why the baseline decided so.
    pub baseline_reason: String,
    /// `FILE#RECORD` (1-based record number).
    pub file: String,
    /// For a recorded access denial, the kind of policy AWS's message names (`no
    /// identity-based policy allows`, `explicit deny in a service control policy`), else empty.
    pub recorded_reason: String,
    /// For a changed event, what decided on each side and why (JSON lines: structured; CSV:
    /// one line, the last column).
    pub explanation: Option<Box<Explained>>,
    /// The reason of the `--accept` entry that accepts this change, else empty.
    pub accepted: String,
    /// The resource tags the policies read on the target: value (or state) and source.
    #[serde(serialize_with = "tag_readings")]
    pub tags: Vec<TagReading>,
    /// For a skipped event, the kind of reason (the summary groups by it).
    #[serde(skip)]
    pub skip: Option<SkipKind>,
}

fn tag_readings<S: Serializer>(t: &[TagReading], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(t)
}

/// The `tags` cell: `env=dev (e-1); team absent (snapshot); owner unknown (why)`.
fn tags_cell(t: &[TagReading]) -> String {
    t.iter()
        .map(|r| match (&r.value, r.state.as_str()) {
            (Some(v), _) => format!("{}={v} ({})", r.key, r.source),
            (None, "absent") => format!("{} absent ({})", r.key, r.source),
            _ => format!("{} unknown ({})", r.key, r.source),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn verdict_word<S: Serializer>(v: &Option<Verdict>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.map_or("", Verdict::as_str))
}

/// A candidate's own columns of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Own {
    /// The candidate's verdict (none for a skipped event).
    pub candidate: Option<Verdict>,
    /// What it changes.
    pub change: Change,
    /// Why (for a skipped event, why it was skipped).
    pub reason: String,
    /// What flipped, for a changed event.
    pub explained: Option<Box<Explained>>,
    /// The tags this candidate's (and the baseline's) policies read on the target.
    pub tags: Vec<TagReading>,
}

/// An event's rows for every candidate: the shared columns once (none when no candidate's row
/// is kept), and per candidate its own columns, or `None` when its row is not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rows {
    /// The columns every candidate shares.
    pub shared: Option<Box<Row>>,
    /// Per candidate, in order.
    pub own: Vec<Option<Own>>,
}

impl Rows {
    /// The change of candidate `i` (`unchanged` when its row is not kept).
    pub fn change(&self, i: usize) -> Change {
        self.own
            .get(i)
            .and_then(|o| o.as_ref())
            .map_or(Change::Unchanged, |o| o.change)
    }

    /// The rows, per candidate (`None`: not kept). The last kept row takes the shared columns;
    /// the others copy them.
    pub fn into_rows(self) -> impl Iterator<Item = Option<Box<Row>>> {
        let last = self.own.iter().rposition(Option::is_some);
        let mut shared = self.shared;
        self.own.into_iter().enumerate().map(move |(i, own)| {
            let own = own?;
            let mut row = if Some(i) == last {
                shared.take()?
            } else {
                shared.clone()?
            };
            row.candidate = own.candidate;
            row.change = own.change;
            row.candidate_reason = own.reason;
            row.explanation = own.explained;
            row.tags = own.tags;
            Some(row)
        })
    }

    /// Writes them for a temporary file.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match &self.shared {
            Some(r) => {
                out.push(1);
                r.encode(out);
            }
            None => out.push(0),
        }
        wire::u64(out, self.own.len() as u64);
        for o in &self.own {
            match o {
                Some(o) => {
                    out.push(1);
                    put_verdict(out, o.candidate);
                    out.push(o.change as u8);
                    wire::str(out, &o.reason);
                    put_explained(out, o.explained.as_deref());
                    put_tags(out, &o.tags);
                }
                None => out.push(0),
            }
        }
    }

    /// Reads back what [`Rows::encode`] wrote.
    pub(crate) fn decode(r: &mut wire::Reader<'_>) -> std::io::Result<Rows> {
        let shared = match r.u8()? {
            0 => None,
            _ => Some(Box::new(Row::decode(r)?)),
        };
        let n = r.u64()?;
        let mut own = Vec::with_capacity(n.min(1024) as usize);
        for _ in 0..n {
            own.push(match r.u8()? {
                0 => None,
                _ => Some(Own {
                    candidate: get_verdict(r)?,
                    change: get_change(r)?,
                    reason: r.string()?,
                    explained: get_explained(r)?,
                    tags: get_tags(r)?,
                }),
            });
        }
        Ok(Rows { shared, own })
    }

    /// Approximate memory held.
    pub fn footprint(&self) -> usize {
        self.shared.as_ref().map_or(0, |r| r.footprint())
            + self
                .own
                .iter()
                .map(|o| {
                    std::mem::size_of::<Option<Own>>()
                        + o.as_ref().map_or(0, |o| {
                            o.reason.len().div_ceil(16) * 16
                                + 16
                                + explained_footprint(&o.explained)
                        })
                })
                .sum::<usize>()
    }
}

/// An explanation as JSON text (empty: none). Only changed events have one: few, and the
/// temporary file's compactness matters for the many unchanged ones.
fn put_explained(out: &mut Vec<u8>, e: Option<&Explained>) {
    wire::str(
        out,
        &e.and_then(|e| serde_json::to_string(e).ok())
            .unwrap_or_default(),
    );
}

fn get_explained(r: &mut wire::Reader<'_>) -> std::io::Result<Option<Box<Explained>>> {
    let text = r.string()?;
    if text.is_empty() {
        return Ok(None);
    }
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|_| wire::invalid("explanation"))
}

fn put_tags(out: &mut Vec<u8>, t: &[TagReading]) {
    wire::str(
        out,
        &if t.is_empty() {
            String::new()
        } else {
            serde_json::to_string(t).unwrap_or_default()
        },
    );
}

fn get_tags(r: &mut wire::Reader<'_>) -> std::io::Result<Vec<TagReading>> {
    match r.string()? {
        t if t.is_empty() => Ok(Vec::new()),
        t => serde_json::from_str(&t).map_err(|_| wire::invalid("tags")),
    }
}

/// Approximate memory an explanation holds.
fn explained_footprint(e: &Option<Box<Explained>>) -> usize {
    // Two explanations with a few statements: an estimate, not worth building the line for.
    e.as_ref().map_or(0, |_| 1024)
}

/// An optional verdict as one byte (`u8::MAX`: none).
fn put_verdict(out: &mut Vec<u8>, v: Option<Verdict>) {
    out.push(v.map_or(u8::MAX, Verdict::index));
}

fn get_verdict(r: &mut wire::Reader<'_>) -> std::io::Result<Option<Verdict>> {
    match r.u8()? {
        u8::MAX => Ok(None),
        i => Verdict::from_index(i)
            .map(Some)
            .ok_or_else(|| wire::invalid("verdict")),
    }
}

fn get_change(r: &mut wire::Reader<'_>) -> std::io::Result<Change> {
    Change::ALL
        .get(usize::from(r.u8()?))
        .copied()
        .ok_or_else(|| wire::invalid("change"))
}

/// The report's columns, in order.
pub const COLUMNS: [&str; 22] = [
    "event_id",
    "event_time",
    "event_name",
    "account",
    "region",
    "principal_arn",
    "principal_type",
    "source_ip",
    "target",
    "session_id",
    "resources",
    "error_code",
    "baseline",
    "candidate",
    "change",
    "candidate_reason",
    "baseline_reason",
    "file",
    "recorded_reason",
    "explanation",
    "accepted",
    "tags",
];

impl Row {
    /// The rows of an event, one per candidate, judged or skipped for `Err`'s reason: the
    /// columns every candidate shares once, and each candidate's own. `keep` says which changes
    /// get a row; the others are `None` (only counted). Skipped events always get rows. The
    /// rows themselves are put together only when written ([`Rows::into_rows`]), so that
    /// several candidates do not hold several copies of an event on its way to the report.
    pub fn for_candidates(
        ev: &SsmEvent,
        judged: Result<Judged, Skip>,
        keep: impl Fn(Change) -> bool,
        candidates: usize,
    ) -> Rows {
        let mut row = Row::event_columns(ev);
        let j = match judged {
            Ok(j) => j,
            Err(skip) => {
                row.change = Change::Skipped;
                row.skip = Some(skip.kind);
                let own = Own {
                    candidate: None,
                    change: Change::Skipped,
                    reason: skip.detail,
                    explained: None,
                    tags: Vec::new(),
                };
                return Rows {
                    shared: Some(Box::new(row)),
                    own: vec![Some(own); candidates],
                };
            }
        };
        if !j.candidates.iter().any(|c| keep(c.change)) {
            return Rows {
                shared: None,
                own: j.candidates.iter().map(|_| None).collect(),
            };
        }
        row.resources = j
            .mapped
            .request
            .resources
            .iter()
            .map(|r| r.arn.as_str())
            .collect::<Vec<_>>()
            .join(";");
        if row.target.is_empty() {
            if let Some(t) = j.mapped.session_target {
                row.target = t;
            }
        }
        if row.session_id.is_empty() {
            if let Some(s) = j.mapped.session_id {
                row.session_id = s;
            }
        }
        row.baseline = Some(j.baseline.verdict);
        row.baseline_reason = j.baseline.reason;
        let own = j
            .candidates
            .into_iter()
            .map(|c| {
                keep(c.change).then_some(Own {
                    candidate: Some(c.side.verdict),
                    change: c.change,
                    reason: c.side.reason,
                    explained: c.explained,
                    tags: Vec::new(),
                })
            })
            .collect();
        Rows {
            shared: Some(Box::new(row)),
            own,
        }
    }

    /// The columns that come from the record alone.
    fn event_columns(ev: &SsmEvent) -> Row {
        Row {
            event_id: ev.event_id.clone(),
            event_time: ev
                .time
                .as_ref()
                .map(timefmt::iso)
                .unwrap_or_else(|| ev.event_time_raw.clone()),
            event_name: ev.action.name().to_string(),
            account: ev.account.clone(),
            region: ev.region.clone(),
            principal_arn: ev.identity.arn.clone().unwrap_or_default(),
            principal_type: ev.identity.kind.clone().unwrap_or_default(),
            source_ip: ev.source_ip.clone().unwrap_or_default(),
            target: ev.target.clone().unwrap_or_default(),
            session_id: ev
                .request_session_id
                .clone()
                .or_else(|| ev.response_session_id.clone())
                .unwrap_or_default(),
            resources: String::new(),
            error_code: ev.error_code.clone().unwrap_or_default(),
            baseline: None,
            candidate: None,
            change: Change::Skipped,
            candidate_reason: String::new(),
            baseline_reason: String::new(),
            file: format!("{}#{}", ev.file, ev.record + 1),
            recorded_reason: mapping::recorded_reason(ev)
                .map(|r| r.to_string())
                .unwrap_or_default(),
            explanation: None,
            accepted: String::new(),
            tags: Vec::new(),
            skip: None,
        }
    }

    /// Approximate memory the row holds (for the replay's memory budget).
    pub fn footprint(&self) -> usize {
        // Each string's allocation, rounded up as allocators do, plus their headers.
        std::mem::size_of::<Row>()
            + self
                .texts()
                .iter()
                .map(|c| {
                    if c.is_empty() {
                        0
                    } else {
                        c.len().div_ceil(16) * 16 + 16
                    }
                })
                .sum::<usize>()
            + explained_footprint(&self.explanation)
    }

    /// Writes the row for a temporary file (see [`crate::spill`]).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        for c in self.texts() {
            wire::str(out, c);
        }
        put_verdict(out, self.baseline);
        put_verdict(out, self.candidate);
        out.push(self.change as u8);
        out.push(self.skip.map_or(u8::MAX, SkipKind::index));
        put_explained(out, self.explanation.as_deref());
        put_tags(out, &self.tags);
    }

    /// Reads back what [`Row::encode`] wrote.
    pub(crate) fn decode(r: &mut wire::Reader<'_>) -> std::io::Result<Row> {
        let mut texts: [String; 17] = Default::default();
        for t in texts.iter_mut() {
            *t = r.string()?;
        }
        let baseline = get_verdict(r)?;
        let candidate = get_verdict(r)?;
        let change = get_change(r)?;
        let skip = match r.u8()? {
            u8::MAX => None,
            i => Some(SkipKind::from_index(i).ok_or_else(|| wire::invalid("skip reason"))?),
        };
        let explanation = get_explained(r)?;
        let tags = get_tags(r)?;
        let [event_id, event_time, event_name, account, region, principal_arn, principal_type, source_ip, target, session_id, resources, error_code, candidate_reason, baseline_reason, file, recorded_reason, accepted] =
            texts;
        Ok(Row {
            event_id,
            event_time,
            event_name,
            account,
            region,
            principal_arn,
            principal_type,
            source_ip,
            target,
            session_id,
            resources,
            error_code,
            baseline,
            candidate,
            change,
            candidate_reason,
            baseline_reason,
            file,
            recorded_reason,
            explanation,
            accepted,
            tags,
            skip,
        })
    }

    /// The text columns, in [`Row::decode`]'s order.
    fn texts(&self) -> [&str; 17] {
        [
            &self.event_id,
            &self.event_time,
            &self.event_name,
            &self.account,
            &self.region,
            &self.principal_arn,
            &self.principal_type,
            &self.source_ip,
            &self.target,
            &self.session_id,
            &self.resources,
            &self.error_code,
            &self.candidate_reason,
            &self.baseline_reason,
            &self.file,
            &self.recorded_reason,
            &self.accepted,
        ]
    }

    /// The cells, in [`COLUMNS`] order.
    pub(crate) fn cells(&self) -> [std::borrow::Cow<'_, str>; 22] {
        let word = |v: Option<Verdict>| v.map_or("", Verdict::as_str);
        let explanation = self
            .explanation
            .as_ref()
            .map(|e| e.line())
            .unwrap_or_default();
        [
            std::borrow::Cow::Borrowed(&self.event_id),
            std::borrow::Cow::Borrowed(&self.event_time),
            std::borrow::Cow::Borrowed(&self.event_name),
            std::borrow::Cow::Borrowed(&self.account),
            std::borrow::Cow::Borrowed(&self.region),
            std::borrow::Cow::Borrowed(&self.principal_arn),
            std::borrow::Cow::Borrowed(&self.principal_type),
            std::borrow::Cow::Borrowed(&self.source_ip),
            std::borrow::Cow::Borrowed(&self.target),
            std::borrow::Cow::Borrowed(&self.session_id),
            std::borrow::Cow::Borrowed(&self.resources),
            std::borrow::Cow::Borrowed(&self.error_code),
            std::borrow::Cow::Borrowed(word(self.baseline)),
            std::borrow::Cow::Borrowed(word(self.candidate)),
            std::borrow::Cow::Borrowed(self.change.as_str()),
            std::borrow::Cow::Borrowed(&self.candidate_reason),
            std::borrow::Cow::Borrowed(&self.baseline_reason),
            std::borrow::Cow::Borrowed(&self.file),
            std::borrow::Cow::Borrowed(&self.recorded_reason),
            std::borrow::Cow::Owned(explanation),
            std::borrow::Cow::Borrowed(&self.accepted),
            std::borrow::Cow::Owned(tags_cell(&self.tags)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::Decision;

    /// A row with every column set as the tests below need, changed per test.
    fn row() -> Row {
        Row {
            event_id: "e1".into(),
            event_time: "t".into(),
            event_name: "StartSession".into(),
            account: "1".into(),
            region: "r".into(),
            principal_arn: "p".into(),
            principal_type: "IAMUser".into(),
            source_ip: String::new(),
            target: "i-1".into(),
            session_id: String::new(),
            resources: "a;b".into(),
            error_code: String::new(),
            baseline: Some(Verdict::Recorded { denied: false }),
            candidate: None,
            change: Change::Unchanged,
            candidate_reason: String::new(),
            baseline_reason: String::new(),
            file: "f#1".into(),
            recorded_reason: String::new(),
            explanation: None,
            accepted: String::new(),
            tags: Vec::new(),
            skip: None,
        }
    }

    #[test]
    fn typed_columns_survive_a_temporary_file() {
        let mut row = Row {
            candidate: Some(Verdict::Evaluated(Decision::ImplicitDeny)),
            change: Change::NewlyDenied,
            candidate_reason: "why".into(),
            ..row()
        };
        let round_trip = |row: &Row| {
            let mut bytes = Vec::new();
            row.encode(&mut bytes);
            Row::decode(&mut wire::Reader { bytes: &bytes }).expect("decodes")
        };
        assert_eq!(&round_trip(&row), &row);
        row.baseline = None;
        row.candidate = None;
        row.change = Change::Skipped;
        row.skip = Some(SkipKind::UnrecognisedTarget);
        assert_eq!(&round_trip(&row), &row);
        assert_eq!(row.cells()[12], "");
        assert_eq!(row.cells()[14], "skipped");
    }

    #[test]
    fn rows_share_columns_and_survive_a_temporary_file() {
        let shared = Row {
            resources: "a".into(),
            candidate: None,
            change: Change::Skipped,
            baseline_reason: "recorded".into(),
            ..row()
        };
        let own = |d: Decision, c: Change, why: &str| Own {
            candidate: Some(Verdict::Evaluated(d)),
            change: c,
            reason: why.into(),
            explained: None,
            tags: Vec::new(),
        };
        let rows = Rows {
            shared: Some(Box::new(shared)),
            own: vec![
                Some(own(Decision::ImplicitDeny, Change::NewlyDenied, "x")),
                None,
                Some(own(Decision::Allowed, Change::Unchanged, "y")),
            ],
        };
        assert_eq!(rows.change(1), Change::Unchanged);
        let mut bytes = Vec::new();
        rows.encode(&mut bytes);
        let back = Rows::decode(&mut wire::Reader { bytes: &bytes }).expect("decodes");
        assert_eq!(back, rows);
        let out: Vec<Option<Box<Row>>> = back.into_rows().collect();
        assert_eq!(out.len(), 3);
        assert!(out[1].is_none());
        let (a, c) = (out[0].as_ref().expect("a"), out[2].as_ref().expect("c"));
        assert_eq!(
            (a.change, a.candidate_reason.as_str()),
            (Change::NewlyDenied, "x")
        );
        assert_eq!(
            (c.change, c.candidate_reason.as_str()),
            (Change::Unchanged, "y")
        );
        assert_eq!(a.baseline_reason, c.baseline_reason);
        assert_eq!(a.event_id, "e1");
    }
}
