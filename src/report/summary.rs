//! The summary: what was read, what was skipped and why, and what changes. Every Session
//! Manager record is accounted for: `ssm_session_events = duplicates + outside_window + rows`,
//! and `rows = evaluated + skipped`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use foldhash::HashMap;
use serde::{Deserialize, Serialize};

use super::Row;
use crate::compare::Change;
use crate::decode::FileStats;
use crate::mapping::SkipKind;
use crate::sanitize::for_terminal;

/// What happened to the input files.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FilesSummary {
    /// Files found to read (after skipping digests and non-log names).
    pub found: u64,
    /// Files read to the end.
    pub read: u64,
    /// Files that could not be read completely (or at all).
    pub failed: u64,
    /// Files left out, by reason.
    pub skipped: BTreeMap<String, u64>,
    /// Paths that could not be listed.
    pub listing_errors: u64,
    /// Files read that held no CloudTrail record (empty, or other JSON).
    pub without_records: u64,
    /// Log files left out unread by their S3-layout path (`--since`/`--until`/`--account`/
    /// `--region`), beside whole directories left out.
    pub pruned: u64,
    /// Directories left out unread.
    pub pruned_directories: u64,
}

/// How well a baseline policy set reproduces the recorded outcomes.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Fidelity {
    /// Events where the baseline policy set reproduces the recorded outcome.
    pub agree: u64,
    /// Events where it does not.
    pub disagree: u64,
    /// Baseline indeterminate or unresolved.
    pub uncertain: u64,
    /// The events where it does not (event IDs).
    pub disagreeing: Vec<String>,
}

/// With several candidates: the events on which their changes differ.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Disagreements {
    /// How many events.
    pub events: u64,
    /// The first of them (event IDs, at most 1000).
    pub first: Vec<String>,
}

/// A target and how many changed events it had.
#[derive(Debug, Default, Clone, Serialize)]
pub struct TargetCount {
    /// The target (instance, managed instance or task).
    pub target: String,
    /// Its changed events.
    pub events: u64,
}

/// A principal's changed events.
#[derive(Debug, Default, Clone, Serialize)]
pub struct PrincipalCounts {
    /// `userIdentity.arn`.
    pub principal: String,
    /// Events newly denied.
    pub newly_denied: u64,
    /// Events newly allowed.
    pub newly_allowed: u64,
    /// Events uncertain.
    pub uncertain: u64,
}

/// Counts gathered one row at a time while a replay streams its rows out; [`Tally::apply`]
/// writes them into the summary. Memory grows with the principals, targets and skip reasons
/// seen, not with the events.
#[derive(Debug, Default)]
pub struct Tally {
    // Hashed: principal ARNs share long prefixes, which ordered maps compare byte by byte
    // (`apply` sorts them).
    principals: HashMap<String, PrincipalCounts>,
    targets: HashMap<String, u64>,
    changes: BTreeMap<Change, u64>,
    by_action: HashMap<String, BTreeMap<Change, u64>>,
    skipped_reasons: BTreeMap<SkipKind, u64>,
    accepted: BTreeMap<Change, u64>,
    /// Unchanged events counted without a row, per action.
    pub unchanged: HashMap<String, u64>,
    rows: u64,
    evaluated: u64,
    skipped: u64,
}

/// The value under `key`, inserted (default) if absent: the key is copied only then (a row's
/// principal, target and action repeat, and the tally runs once per row in the serial tail).
fn entry<'a, V: Default>(map: &'a mut HashMap<String, V>, key: &str) -> &'a mut V {
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key).expect("inserted above")
}

impl Tally {
    /// Counts one row.
    pub fn add_row(&mut self, r: &Row) {
        self.rows += 1;
        *self.changes.entry(r.change).or_default() += 1;
        if !r.accepted.is_empty() {
            *self.accepted.entry(r.change).or_default() += 1;
        }
        *entry(&mut self.by_action, &r.event_name)
            .entry(r.change)
            .or_default() += 1;
        if r.change == Change::Skipped {
            self.skipped += 1;
            if let Some(kind) = r.skip {
                *self.skipped_reasons.entry(kind).or_default() += 1;
            }
            return;
        }
        self.evaluated += 1;
        if r.change != Change::Unchanged {
            let p = entry(&mut self.principals, &r.principal_arn);
            if p.principal.is_empty() {
                p.principal.clone_from(&r.principal_arn);
            }
            match r.change {
                Change::NewlyDenied => p.newly_denied += 1,
                Change::NewlyAllowed => p.newly_allowed += 1,
                _ => p.uncertain += 1,
            }
            if !r.target.is_empty() {
                *entry(&mut self.targets, &r.target) += 1;
            }
        }
    }

    /// Counts an unchanged event that has no row.
    pub fn add_unchanged(&mut self, action: &str) {
        *entry(&mut self.unchanged, action) += 1;
    }

    /// Writes the counts into the summary.
    pub fn apply(self, summary: &mut Summary) {
        for c in Change::ALL {
            summary.changes.insert(c.as_str().to_string(), 0);
        }
        let mut changes = self.changes;
        let mut by_action = self.by_action;
        let unchanged_total: u64 = self.unchanged.values().sum();
        for (action, n) in self.unchanged {
            *by_action
                .entry(action)
                .or_default()
                .entry(Change::Unchanged)
                .or_default() += n;
        }
        *changes.entry(Change::Unchanged).or_default() += unchanged_total;
        summary.evaluated += self.evaluated + unchanged_total;
        summary.skipped += self.skipped;
        for (k, n) in self.skipped_reasons {
            *summary
                .skipped_reasons
                .entry(k.label().to_string())
                .or_default() += n;
        }
        for (k, n) in changes {
            *summary.changes.entry(k.as_str().to_string()).or_default() += n;
        }
        for (k, n) in self.accepted {
            *summary.accepted.entry(k.as_str().to_string()).or_default() += n;
        }
        for (action, m) in by_action {
            let into = summary.by_action.entry(action).or_default();
            for (change, n) in m {
                *into.entry(change.as_str().to_string()).or_default() += n;
            }
        }
        summary.rows = self.rows + unchanged_total;
        let mut ps: Vec<PrincipalCounts> = self.principals.into_values().collect();
        ps.sort_by(|a, b| {
            (b.newly_denied + b.newly_allowed + b.uncertain)
                .cmp(&(a.newly_denied + a.newly_allowed + a.uncertain))
                .then_with(|| a.principal.cmp(&b.principal))
        });
        ps.truncate(TOP);
        summary.top_principals = ps;
        let mut ts: Vec<(String, u64)> = self.targets.into_iter().collect();
        ts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        ts.truncate(TOP);
        summary.top_targets = ts
            .into_iter()
            .map(|(target, events)| TargetCount { target, events })
            .collect();
    }
}

/// Tags in time, counted.
#[derive(Debug, Default, Clone, Serialize)]
pub struct TagSummary {
    /// Tag changes read from CloudTrail (successful calls, per resource).
    pub changes_read: u64,
    /// AWS Config items given.
    pub config_items: u64,
    /// Session targets with a tag history.
    pub resources_with_history: u64,
    /// CloudTrail and Config disagreeing at the same instant (CloudTrail used).
    pub conflicts: u64,
    /// Evaluations that read a tag from the history (a tag event or a Config item).
    pub from_history: u64,
    /// Evaluations that read a tag from the inventory snapshot.
    pub from_snapshot: u64,
    /// Evaluations that found a tag unknown.
    pub unknown: u64,
}

/// What a replay read, skipped and found.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Summary {
    /// Input files.
    pub files: FilesSummary,
    /// Records.
    pub records: FileStats,
    /// Session Manager events read.
    pub ssm_session_events: u64,
    /// Events dropped as duplicates of an earlier `eventID`.
    pub duplicates: u64,
    /// Events outside `--since`/`--until`/`--account`/`--region`.
    pub outside_window: u64,
    /// Events reported (evaluated and skipped).
    pub rows: u64,
    /// Events evaluated.
    pub evaluated: u64,
    /// Events skipped.
    pub skipped: u64,
    /// Skipped events by kind of reason.
    pub skipped_reasons: BTreeMap<String, u64>,
    /// Events by change.
    pub changes: BTreeMap<String, u64>,
    /// Of those, events an `--accept` entry accepts, by change (`--fail-on` does not count
    /// them).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub accepted: BTreeMap<String, u64>,
    /// Tags in time: what was read, and where the tags evaluations read came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<TagSummary>,
    /// `--accept` entries that matched no event (`FILE:LINE: principal (reason)`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stale_accepts: Vec<String>,
    /// Events by action and change.
    pub by_action: BTreeMap<String, BTreeMap<String, u64>>,
    /// The principals with the most changed events.
    pub top_principals: Vec<PrincipalCounts>,
    /// The targets with the most changed events.
    pub top_targets: Vec<TargetCount>,
    /// `recorded` (the log's outcomes) or `policy` (a `--baseline` policy set).
    pub baseline: String,
    /// With a baseline policy set: how well it reproduces the log.
    pub fidelity: Option<Fidelity>,
    /// Files' problems, as printed.
    pub errors: Vec<String>,
    /// Every record was parsed (`--verify`): other services and other SSM calls are counted
    /// apart; otherwise most of them are in `records.prefiltered`.
    pub verified: bool,
}

const TOP: usize = 10;

impl Summary {
    /// Fills the row-derived counts: `rows`, plus `unchanged` events not kept as rows, counted
    /// by action.
    /// Counts a list of rows and the unchanged events kept only as counts (per action).
    pub fn count_rows(&mut self, rows: &[Row], unchanged: &BTreeMap<&str, u64>) {
        let mut t = Tally::default();
        for r in rows {
            t.add_row(r);
        }
        for (action, n) in unchanged {
            *t.unchanged.entry(action.to_string()).or_default() += n;
        }
        t.apply(self);
    }

    /// The readable table.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let f = &self.files;
        let _ = writeln!(s, "trailreplay summary");
        let _ = writeln!(s, "===================");
        let _ = writeln!(
            s,
            "files: {} found, {} read ({} without CloudTrail records), {} failed, {} skipped",
            f.found,
            f.read,
            f.without_records,
            f.failed,
            f.skipped.values().sum::<u64>()
        );
        for (reason, n) in &f.skipped {
            let _ = writeln!(s, "  skipped: {n} {reason}");
        }
        if f.pruned + f.pruned_directories > 0 {
            let _ = writeln!(
                s,
                "  pruned by path (not opened): {} files, {} directories",
                f.pruned, f.pruned_directories
            );
        }
        let r = &self.records;
        // The same unit as the progress bar (binary: KiB, MiB, GiB).
        let size = indicatif::HumanBytes(r.bytes);
        if self.verified {
            let _ = writeln!(
                s,
                "records: {} read ({size}): {} other services, {} other SSM, {} not CloudTrail records, {} malformed, {} oversize",
                r.records, r.other_service, r.other_ssm, r.not_records, r.malformed, r.oversize
            );
        } else {
            // Without --verify the pre-filter rules out other services' and most other SSM
            // calls unparsed: they are not told apart.
            let _ = writeln!(
                s,
                "records: {} read ({size}): {} other calls (other services and SSM APIs, told apart only with --verify), {} not CloudTrail records, {} malformed, {} oversize",
                r.records,
                r.prefiltered + r.other_service + r.other_ssm,
                r.not_records,
                r.malformed,
                r.oversize
            );
        }
        let _ = writeln!(
            s,
            "session events: {} found, {} duplicate eventID, {} outside the window or filters, {} rows ({} evaluated, {} skipped)",
            self.ssm_session_events, self.duplicates, self.outside_window, self.rows, self.evaluated, self.skipped
        );
        let _ = writeln!(s, "baseline: {}", self.baseline);
        let _ = writeln!(s);
        let _ = writeln!(s, "changes");
        for c in Change::ALL {
            let n = self.changes.get(c.as_str()).copied().unwrap_or(0);
            match self.accepted.get(c.as_str()) {
                Some(a) => {
                    let _ = writeln!(s, "  {:<14} {n:>8}  ({a} accepted)", c.as_str());
                }
                None => {
                    let _ = writeln!(s, "  {:<14} {n:>8}", c.as_str());
                }
            }
        }
        if let Some(t) = &self.tags {
            let _ = writeln!(
                s,
                "tags in time: {} tag change(s) read, {} Config item(s), {} target(s) with history, {} conflict(s); evaluations reading a tag from history {}, from the snapshot {}, unknown {}",
                t.changes_read, t.config_items, t.resources_with_history, t.conflicts, t.from_history, t.from_snapshot, t.unknown
            );
        }
        if !self.stale_accepts.is_empty() {
            let _ = writeln!(s, "accept entries that matched nothing (stale):");
            for e in &self.stale_accepts {
                let _ = writeln!(s, "  {}", for_terminal(e));
            }
        }
        if !self.by_action.is_empty() {
            let _ = writeln!(s);
            let _ = writeln!(
                s,
                "by action            newly_denied newly_allowed uncertain unchanged skipped"
            );
            for (action, m) in &self.by_action {
                let g = |k: &str| m.get(k).copied().unwrap_or(0);
                let _ = writeln!(
                    s,
                    "  {:<19}{:>12} {:>13} {:>9} {:>9} {:>7}",
                    action,
                    g("newly_denied"),
                    g("newly_allowed"),
                    g("uncertain"),
                    g("unchanged"),
                    g("skipped")
                );
            }
        }
        if !self.top_principals.is_empty() {
            let _ = writeln!(s);
            let _ = writeln!(
                s,
                "top affected principals (newly_denied / newly_allowed / uncertain)"
            );
            for p in &self.top_principals {
                let _ = writeln!(
                    s,
                    "  {} / {} / {}  {}",
                    p.newly_denied,
                    p.newly_allowed,
                    p.uncertain,
                    for_terminal(&p.principal)
                );
            }
        }
        if !self.top_targets.is_empty() {
            let _ = writeln!(s);
            let _ = writeln!(s, "top affected targets");
            for t in &self.top_targets {
                let _ = writeln!(s, "  {:>6}  {}", t.events, for_terminal(&t.target));
            }
        }
        if !self.skipped_reasons.is_empty() {
            let _ = writeln!(s);
            let _ = writeln!(s, "skipped events by reason");
            for (reason, n) in &self.skipped_reasons {
                let _ = writeln!(s, "  {n:>6}  {}", for_terminal(reason));
            }
        }
        if let Some(fid) = &self.fidelity {
            let _ = writeln!(s);
            let total = fid.agree + fid.disagree;
            let pct = if total > 0 {
                100.0 * fid.agree as f64 / total as f64
            } else {
                100.0
            };
            let _ = writeln!(
                s,
                "baseline fidelity: reproduces {} of {} recorded outcomes ({pct:.1}%), {} uncertain",
                fid.agree, total, fid.uncertain
            );
            for id in fid.disagreeing.iter().take(20) {
                let _ = writeln!(s, "  disagrees: {}", for_terminal(id));
            }
            if fid.disagreeing.len() > 20 {
                let _ = writeln!(s, "  … and {} more", fid.disagreeing.len() - 20);
            }
        }
        if !self.errors.is_empty() {
            let _ = writeln!(s);
            let _ = writeln!(s, "errors: {}", self.errors.len());
        }
        s
    }
}

/// Several candidates side by side (`summary.json` of a run with several `--candidate NAME=…`).
#[derive(Debug, Clone, Serialize)]
pub struct Comparison<'a> {
    /// Each candidate's name and full summary, in command-line order.
    pub candidates: Vec<NamedSummary<'a>>,
    /// The events on which the candidates' changes differ.
    pub disagreements: &'a Disagreements,
}

/// A candidate's summary with its name.
#[derive(Debug, Clone, Serialize)]
pub struct NamedSummary<'a> {
    /// The candidate's name.
    pub name: &'a str,
    /// Its summary.
    pub summary: &'a Summary,
}

impl<'a> Comparison<'a> {
    /// Pairs names with summaries.
    pub fn new(
        names: &'a [String],
        summaries: &'a [Summary],
        disagreements: &'a Disagreements,
    ) -> Comparison<'a> {
        Comparison {
            candidates: names
                .iter()
                .zip(summaries)
                .map(|(name, summary)| NamedSummary { name, summary })
                .collect(),
            disagreements,
        }
    }
}

/// The side-by-side table of several candidates, for people.
pub fn render_comparison(
    names: &[String],
    summaries: &[Summary],
    disagreements: &Disagreements,
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "trailreplay: {} candidates", names.len());
    let width = names.iter().map(|n| n.len()).max().unwrap_or(0).max(9);
    let _ = write!(s, "{:<14}", "change");
    for n in names {
        let _ = write!(s, " {:>width$}", for_terminal(n));
    }
    s.push('\n');
    for c in Change::ALL {
        let _ = write!(s, "{:<14}", c.as_str());
        for sum in summaries {
            let n = sum.changes.get(c.as_str()).copied().unwrap_or(0);
            let _ = write!(s, " {n:>width$}");
        }
        s.push('\n');
    }
    let first: Vec<&str> = disagreements
        .first
        .iter()
        .take(5)
        .map(String::as_str)
        .collect();
    let _ = writeln!(
        s,
        "events on which the candidates disagree: {}{}",
        disagreements.events,
        if first.is_empty() {
            String::new()
        } else {
            format!(" (first: {})", for_terminal(&first.join(", ")))
        }
    );
    if let Some(f) = summaries.first() {
        let _ = writeln!(
            s,
            "session events: {} found, {} duplicate eventID, {} outside the window or filters, {} evaluated, {} skipped",
            f.ssm_session_events, f.duplicates, f.outside_window, f.evaluated, f.skipped
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::SkipKind;

    fn skipped(kind: SkipKind, detail: &str) -> Row {
        Row {
            event_id: "e".into(),
            event_time: String::new(),
            event_name: "StartSession".into(),
            account: String::new(),
            region: String::new(),
            principal_arn: String::new(),
            principal_type: String::new(),
            source_ip: String::new(),
            target: String::new(),
            session_id: String::new(),
            resources: String::new(),
            error_code: String::new(),
            baseline: None,
            candidate: None,
            change: Change::Skipped,
            candidate_reason: detail.into(),
            baseline_reason: String::new(),
            file: String::new(),
            recorded_reason: String::new(),
            explanation: None,
            accepted: String::new(),
            tags: Vec::new(),
            skip: Some(kind),
        }
    }

    #[test]
    fn skipped_events_are_grouped_by_kind_not_by_their_detail() {
        let mut t = Tally::default();
        t.add_row(&skipped(
            SkipKind::UnrecognisedTarget,
            "unrecognised target `a`",
        ));
        t.add_row(&skipped(
            SkipKind::UnrecognisedTarget,
            "unrecognised target `b`",
        ));
        t.add_row(&skipped(SkipKind::NoAccount, "no account"));
        let mut s = Summary::default();
        t.apply(&mut s);
        assert_eq!(s.skipped, 3);
        assert_eq!(s.skipped_reasons.get("unrecognised target"), Some(&2));
        assert_eq!(s.skipped_reasons.len(), 2);
        assert_eq!(s.changes.get("skipped"), Some(&3));
    }
}
