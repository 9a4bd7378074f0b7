//! The report row of one Session Manager event: typed verdicts and change, words only when
//! written.

use serde::{Serialize, Serializer};

use crate::compare::{Change, Judged, Verdict};
use crate::decode::SsmEvent;
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
    /// For a skipped event, the kind of reason (the summary groups by it).
    #[serde(skip)]
    pub skip: Option<SkipKind>,
}

fn verdict_word<S: Serializer>(v: &Option<Verdict>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.map_or("", Verdict::as_str))
}

/// The report's columns, in order.
pub const COLUMNS: [&str; 19] = [
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
];

impl Row {
    /// The rows of an event, one per candidate (`candidates` of them), judged or skipped for
    /// `Err`'s reason. `keep` says which changes get a row; the others are `None` (only
    /// counted). Skipped events always get rows.
    pub fn for_candidates(
        ev: &SsmEvent,
        judged: Result<Judged, Skip>,
        candidates: usize,
        keep: impl Fn(Change) -> bool,
    ) -> Vec<Option<Box<Row>>> {
        let mut row = Row::event_columns(ev);
        let j = match judged {
            Ok(j) => j,
            Err(skip) => {
                row.change = Change::Skipped;
                row.candidate_reason = skip.detail;
                row.skip = Some(skip.kind);
                let mut rows: Vec<Option<Box<Row>>> = Vec::with_capacity(candidates);
                for _ in 1..candidates {
                    rows.push(Some(Box::new(row.clone())));
                }
                rows.push(Some(Box::new(row)));
                return rows;
            }
        };
        if !j.candidates.iter().any(|c| keep(c.change)) {
            return j.candidates.iter().map(|_| None).collect();
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
        let last = j.candidates.len().saturating_sub(1);
        let mut base = Some(row);
        j.candidates
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                if !keep(c.change) {
                    return None;
                }
                // The last row takes the shared columns; the others copy them.
                let mut r = if i == last {
                    base.take()?
                } else {
                    base.clone()?
                };
                r.change = c.change;
                r.candidate = Some(c.side.verdict);
                r.candidate_reason = c.side.reason;
                Some(Box::new(r))
            })
            .collect()
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
    }

    /// Writes the row for a temporary file (see [`crate::spill`]).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        for c in self.texts() {
            wire::str(out, c);
        }
        let verdict = |v: Option<Verdict>| v.map_or(u8::MAX, Verdict::index);
        out.push(verdict(self.baseline));
        out.push(verdict(self.candidate));
        out.push(self.change as u8);
        out.push(self.skip.map_or(u8::MAX, SkipKind::index));
    }

    /// Reads back what [`Row::encode`] wrote.
    pub(crate) fn decode(r: &mut wire::Reader<'_>) -> std::io::Result<Row> {
        let bad = |what: &str| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("temporary file: {what}"),
            )
        };
        let mut texts: [String; 16] = Default::default();
        for t in texts.iter_mut() {
            *t = r.string()?;
        }
        let verdict = |i: u8| match i {
            u8::MAX => Ok(None),
            i => Verdict::from_index(i)
                .map(Some)
                .ok_or_else(|| bad("verdict")),
        };
        let baseline = verdict(r.u8()?)?;
        let candidate = verdict(r.u8()?)?;
        let change = Change::ALL
            .get(usize::from(r.u8()?))
            .copied()
            .ok_or_else(|| bad("change"))?;
        let skip = match r.u8()? {
            u8::MAX => None,
            i => Some(SkipKind::from_index(i).ok_or_else(|| bad("skip reason"))?),
        };
        let [event_id, event_time, event_name, account, region, principal_arn, principal_type, source_ip, target, session_id, resources, error_code, candidate_reason, baseline_reason, file, recorded_reason] =
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
            skip,
        })
    }

    /// The text columns, in [`Row::decode`]'s order.
    fn texts(&self) -> [&str; 16] {
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
        ]
    }

    /// The cells, in [`COLUMNS`] order.
    pub(crate) fn cells(&self) -> [&str; 19] {
        let word = |v: Option<Verdict>| v.map_or("", Verdict::as_str);
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
            word(self.baseline),
            word(self.candidate),
            self.change.as_str(),
            &self.candidate_reason,
            &self.baseline_reason,
            &self.file,
            &self.recorded_reason,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::Decision;

    #[test]
    fn typed_columns_survive_a_temporary_file() {
        let mut row = Row {
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
            candidate: Some(Verdict::Evaluated(Decision::ImplicitDeny)),
            change: Change::NewlyDenied,
            candidate_reason: "why".into(),
            baseline_reason: String::new(),
            file: "f#1".into(),
            recorded_reason: String::new(),
            skip: None,
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
}
