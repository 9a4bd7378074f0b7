//! The one place that wires the stages and owns the threading.
//!
//! 1. Files are decoded in parallel (rayon). Each worker maps and evaluates, right away, every
//!    event that does not need the session index (StartSession, DescribeSessions,
//!    GetConnectionStatus), so those events' memory goes as their rows come; it keeps
//!    Terminate/ResumeSession events, notes the sessions its StartSessions create, returns its
//!    counts and errors, and never prints.
//!    With tags in time, an event whose target is already known to have a tag history waits
//!    for the whole history; the others are evaluated with the snapshot and kept as *rechecks*
//!    (most targets never change tags, and their evaluation then overlaps decompression).
//! 2. The tag history is built; the rechecks of targets that have one are evaluated again and
//!    replace their first evaluation. The session index is merged (for each ID, the first
//!    StartSession in event order), and the waiting events are evaluated in parallel.
//! 3. Everything is ordered by `eventTime`, then `eventID` (then file and record, so the copy
//!    kept of a duplicated event never depends on thread timing) and de-duplicated by
//!    `eventID`: rows come out in event order, identical whatever the thread count. Unchanged
//!    events are kept only as counts unless `--all` asks for their rows.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use chrono::{DateTime, Utc};
use rayon::prelude::*;

mod items;

use items::{Item, ItemKind, Pending, SortKey, Start, StartKey, Tagged};

use crate::compare::{self, Agreement, Change, Judged, Sides};
use crate::decode::{self, DecodeOptions, FileOutcome, FileStats, SsmAction, SsmEvent};
use crate::mapping::history::{At, KeyAt, Source as TagOrigin, TagHistory, TagReading, TagRecord};
use crate::mapping::sessions::SessionInfo;
use crate::mapping::{self, Inventory, Sessions, Skip, TagSource};
use crate::policy::pattern::Pattern;
use crate::policy::set::PolicySet;
use crate::report::summary::{Disagreements, Fidelity, TagSummary, Tally};
use crate::report::{FilesSummary, Row, Summary};
use crate::source::{Input, Listing};
use crate::spill::{SortedSpill, SpillError, TempArea};

/// A validated replay configuration.
pub struct ReplayConfig {
    /// The policy sets proposed (usually one); each is compared with the baseline.
    pub candidates: Vec<PolicySet>,
    /// The policies in force (`--baseline`); none: the log's outcomes.
    pub baseline: Option<PolicySet>,
    /// Instance and document tags.
    pub inventory: Inventory,
    /// Events from this time on.
    pub since: Option<DateTime<Utc>>,
    /// Events before this time.
    pub until: Option<DateTime<Utc>>,
    /// Decoder options.
    pub decode: DecodeOptions,
    /// Keep the rows of `unchanged` events (`--all`). Without it they are only counted.
    pub keep_unchanged: bool,
    /// Where temporary files go when a replay outgrows its memory budget.
    pub temp_dir: std::path::PathBuf,
    /// Memory for events buffered on their way to the report, in bytes (estimated); past it
    /// they go to temporary files. Split: 60% rows and counts, 20% waiting events, 10% the
    /// session index, 10% tag changes; with tags in time, 50% rows and counts, 10% waiting
    /// events and 20% rechecks (events evaluated with the snapshot, kept until the history is
    /// complete).
    /// After the scan, what the waiting events, the index and the tag changes leave unused goes
    /// to the rows.
    pub memory_budget: usize,
    /// Only events of these accounts (`recipientAccountId`) and regions (`awsRegion`); empty:
    /// all.
    pub accounts: Vec<String>,
    /// Regions (`awsRegion`) to keep.
    pub regions: Vec<String>,
    /// Only events of principals matching one of these (`--principal`, on the principal ARN
    /// as reported; `*` matches any text, `/` included); empty: every principal.
    pub principals: Vec<Pattern>,
    /// Changes reviewed and accepted (`--accept`).
    pub accept: Option<crate::accept::AcceptList>,
    /// Tags in time: read the calls that change tags and evaluate every event with the tags
    /// of its time (set when a policy reads resource tags).
    pub tags_in_time: bool,
    /// The resource tag keys (lowercased) each candidate's and the baseline's policies read:
    /// the report's `tags` column, per candidate.
    pub tag_keys: Vec<Vec<String>>,
    /// Every key of `tag_keys`, once (what an evaluation reads).
    pub all_tag_keys: Vec<String>,
    /// AWS Config configuration items (`--config-history`).
    pub config_history: Vec<TagRecord>,
    /// When the inventory snapshot was taken (`--inventory-time`; `None`: after every event).
    pub inventory_time: Option<DateTime<Utc>>,
}

/// How far before `--since` StartSession events are read for the session index: a session
/// lasts at most 24 hours (Systems Manager User Guide, "Specify a maximum session duration"),
/// so a Terminate/ResumeSession in the window has its start within this.
pub const SESSION_LOOKBACK: chrono::Duration = chrono::Duration::hours(24);

/// A file's problem, for stderr.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileProblem {
    /// The file.
    pub file: String,
    /// What went wrong.
    pub message: String,
    /// The file could not be read completely: the run's exit status is 2.
    pub fatal: bool,
}

/// Everything a replay produced besides its rows (which went to the sink).
pub struct ReplayOutput {
    /// One summary per candidate, in [`ReplayConfig::candidates`] order (the counts of files,
    /// records and the baseline's fidelity are the same in each).
    pub summaries: Vec<Summary>,
    /// With several candidates: the events on which their changes differ.
    pub disagreements: Disagreements,
    /// Files' problems.
    pub problems: Vec<FileProblem>,
    /// The first error the sink returned (writing stopped there; counting did not).
    pub write_error: Option<std::io::Error>,
}

impl ReplayOutput {
    /// Did any input fail to be read completely?
    pub fn trouble(&self) -> bool {
        self.problems.iter().any(|p| p.fatal)
    }
}

/// Decodes one input.
pub fn decode_input(input: &Input, opts: DecodeOptions) -> FileOutcome {
    if let Input::SubsetPart(path) = input {
        return crate::subset::decode_part(path, opts);
    }
    decode::decode_input_keeping(input, opts, &mut |_, _| {})
}

/// The policies a replay compares.
fn sides(cfg: &ReplayConfig) -> Sides<'_> {
    Sides {
        candidates: &cfg.candidates,
        baseline: cfg.baseline.as_ref(),
    }
}

/// Maps an event to its request, then decides and compares it. `Err` is why it cannot be
/// evaluated.
pub fn judge(
    cfg: &ReplayConfig,
    sessions: &Sessions,
    history: &TagHistory,
    ev: &SsmEvent,
) -> Result<Judged, Skip> {
    let tags = TagSource {
        inventory: &cfg.inventory,
        history: (!history.is_empty()).then_some(history),
    };
    let mapped = mapping::map_event_with(ev, sessions, &tags)?;
    Ok(compare::judge(sides(cfg), ev, mapped))
}

/// Bits of an event's tag sources, for the summary.
const TAGS_HISTORY: u8 = 1;
const TAGS_SNAPSHOT: u8 = 2;
const TAGS_UNKNOWN: u8 = 4;

/// The tags the policies read on the event's target, each with its value and source, and the
/// sources' bits.
fn tag_readings(
    cfg: &ReplayConfig,
    history: &TagHistory,
    ev: &SsmEvent,
    judged: Option<&Judged>,
) -> (Vec<TagReading>, u8) {
    let none = (Vec::new(), 0);
    let keys = &cfg.all_tag_keys;
    if keys.is_empty() {
        return none;
    }
    let (Some(j), Some(time)) = (judged, ev.time) else {
        return none;
    };
    let Some(res) = j.mapped.request.resources.first() else {
        return none;
    };
    let Some(arn) = crate::arn::Arn::parse(&res.arn) else {
        return none;
    };
    if !(arn.resource.starts_with("instance/") || arn.resource.starts_with("managed-instance/")) {
        return none;
    }
    let id = arn.resource_id();
    let at = At {
        time,
        file: Some(ev.file.clone()),
        record: ev.record,
    };
    let snapshot = cfg.inventory.snapshot(&res.arn, Some(id));
    let mut bits = 0;
    let readings = keys
        .iter()
        .map(|key| {
            let k = if history.has(id) {
                history.key_at(id, key, &at, snapshot)
            } else {
                match snapshot {
                    Some(s) => KeyAt::Known(s.get(key).cloned(), TagOrigin::Snapshot),
                    None => KeyAt::Unknown("the resource is not in the inventory".to_string()),
                }
            };
            match k {
                KeyAt::Known(value, source) => {
                    bits |= if source == TagOrigin::Snapshot {
                        TAGS_SNAPSHOT
                    } else {
                        TAGS_HISTORY
                    };
                    TagReading {
                        key: key.clone(),
                        state: if value.is_some() { "present" } else { "absent" }.to_string(),
                        value,
                        source: source.to_string(),
                    }
                }
                KeyAt::Unknown(why) => {
                    bits |= TAGS_UNKNOWN;
                    TagReading {
                        key: key.clone(),
                        value: None,
                        state: "unknown".to_string(),
                        source: why,
                    }
                }
            }
        })
        .collect();
    (readings, bits)
}

impl ReplayConfig {
    /// A replay of `candidates` against `baseline` (none: the log's outcomes) with the defaults:
    /// no inventory, window or filters, changed events only, the system's temporary directory
    /// and [`DEFAULT_MEMORY_BUDGET`]. Tags in time applies when a policy of either side reads
    /// resource tags.
    pub fn new(candidates: Vec<PolicySet>, baseline: Option<PolicySet>) -> ReplayConfig {
        // Session tags (`aws:ssmmessages:*`) are not resource tags of a target.
        let keys_of = |s: &PolicySet| -> Vec<String> {
            s.all_policies()
                .flat_map(|p| &p.statements)
                .flat_map(|s| &s.conditions)
                .filter_map(|c| {
                    ["ssm:resourcetag/", "aws:resourcetag/"]
                        .iter()
                        .find_map(|p| c.key.strip_prefix(p))
                        .filter(|k| !k.starts_with("aws:ssmmessages:"))
                        .map(str::to_string)
                })
                .collect()
        };
        let base_keys = baseline.as_ref().map(keys_of).unwrap_or_default();
        let tag_keys: Vec<Vec<String>> = candidates
            .iter()
            .map(|c| {
                let mut k = keys_of(c);
                k.extend(base_keys.iter().cloned());
                k.sort();
                k.dedup();
                k
            })
            .collect();
        let mut all_tag_keys: Vec<String> = tag_keys.iter().flatten().cloned().collect();
        all_tag_keys.sort();
        all_tag_keys.dedup();
        let tags_in_time = !all_tag_keys.is_empty();
        ReplayConfig {
            candidates,
            baseline,
            inventory: Inventory::default(),
            since: None,
            until: None,
            decode: DecodeOptions {
                tags: tags_in_time,
                ..DecodeOptions::default()
            },
            keep_unchanged: false,
            temp_dir: std::env::temp_dir(),
            memory_budget: DEFAULT_MEMORY_BUDGET,
            accounts: Vec::new(),
            regions: Vec::new(),
            principals: Vec::new(),
            accept: None,
            tags_in_time,
            tag_keys,
            all_tag_keys,
            config_history: Vec::new(),
            inventory_time: None,
        }
    }
}

/// Joins the waiting Terminate/ResumeSession events with the session index (both sorted by
/// session ID) and evaluates them in parallel batches.
fn join_sessions(
    cfg: &ReplayConfig,
    history: &TagHistory,
    pending: SortedSpill<Pending>,
    starts: SortedSpill<Start>,
    items: &mut SortedSpill<Item>,
) -> Result<(), SpillError> {
    const BATCH: usize = 1024;
    let mut starts = starts.finish()?;
    let mut pending = pending.finish()?;
    let mut next_start = starts.next_item()?;
    let mut batch: Vec<SsmEvent> = Vec::with_capacity(BATCH);
    let mut index: HashMap<Box<str>, SessionInfo> = HashMap::new();
    let flush = |batch: &mut Vec<SsmEvent>,
                 index: &mut HashMap<Box<str>, SessionInfo>,
                 items: &mut SortedSpill<Item>|
     -> Result<(), SpillError> {
        let sessions = Sessions::from_map(std::mem::take(index));
        let done: Vec<Item> = std::mem::take(batch)
            .into_par_iter()
            .map(|ev| item(cfg, &sessions, history, &ev))
            .collect();
        for it in done {
            items.push(it)?;
        }
        Ok(())
    };
    while let Some(p) = pending.next_item()? {
        // The first start of this session, in event order, if any.
        while next_start.as_ref().is_some_and(|s| *s.session < *p.key.0) {
            next_start = starts.next_item()?;
        }
        if let Some(s) = next_start.as_ref().filter(|s| s.session == p.key.0) {
            if !index.contains_key(&s.session) {
                index.insert(s.session.clone(), s.info.clone());
            }
        }
        batch.push(p.event().map_err(|e| pending.invalid(e))?);
        if batch.len() == BATCH {
            flush(&mut batch, &mut index, items)?;
        }
    }
    flush(&mut batch, &mut index, items)
}

/// What one worker returns for one file.
struct FileResult {
    outcome: FileOutcome,
    items: Vec<Item>,
    /// Terminate/ResumeSession events: they wait for the complete session index (and, with
    /// tags in time, the events whose target is known to have a tag history), keyed by the
    /// session they name; with their target, if they name one.
    pending: Vec<(Pending, Option<String>)>,
    /// With tags in time: events evaluated with the snapshot whose target may turn out to have
    /// a tag history (they are evaluated again if it does), keyed by the target.
    rechecks: Vec<Pending>,
    /// Sessions started in this file, with the key of their StartSession.
    started: Vec<(SortKey, String, SessionInfo)>,
}

/// The tag history of the resources sessions target: CloudTrail's tag changes (from the
/// temporary files, in resource order) and the Config items, with the snapshot's time.
fn build_history(
    cfg: &ReplayConfig,
    tagged: SortedSpill<Tagged>,
    targets: &HashSet<Box<str>>,
    summary: &mut Summary,
) -> Result<TagHistory, SpillError> {
    if !cfg.tags_in_time {
        return Ok(TagHistory::default());
    }
    let mut kept = Vec::new();
    let mut read = 0u64;
    let mut merged = tagged.finish()?;
    while let Some(Tagged(r)) = merged.next_item()? {
        read += 1;
        if targets.contains(r.resource.as_str()) {
            kept.push(r);
        }
    }
    kept.extend(
        cfg.config_history
            .iter()
            .filter(|r| targets.contains(r.resource.as_str()))
            .cloned(),
    );
    let history = TagHistory::new(kept, cfg.inventory_time);
    summary.tags = Some(TagSummary {
        changes_read: read,
        config_items: cfg.config_history.len() as u64,
        resources_with_history: history.len() as u64,
        conflicts: history.conflicts,
        ..TagSummary::default()
    });
    Ok(history)
}

/// Is the event in the time window and the account and region filters?
fn in_window(cfg: &ReplayConfig, ev: &SsmEvent) -> bool {
    let scope = (cfg.accounts.is_empty() || cfg.accounts.contains(&ev.account))
        && (cfg.regions.is_empty() || cfg.regions.contains(&ev.region))
        && (cfg.principals.is_empty() || {
            let arn = ev.identity.arn.as_deref().unwrap_or("");
            cfg.principals.iter().any(|p| p.matches(arn))
        });
    scope
        && match ev.time {
            Some(t) => cfg.since.is_none_or(|s| t >= s) && cfg.until.is_none_or(|u| t < u),
            None => true,
        }
}

fn item(cfg: &ReplayConfig, sessions: &Sessions, history: &TagHistory, ev: &SsmEvent) -> Item {
    let key = SortKey::of(ev);
    if !in_window(cfg, ev) {
        return Item {
            key,
            kind: ItemKind::OutsideWindow,
        };
    }
    let mut judged = judge(cfg, sessions, history, ev);
    let fid = judged.as_ref().ok().and_then(|j| j.fidelity.clone());
    let (readings, tag_bits) = tag_readings(cfg, history, ev, judged.as_ref().ok());
    if let Ok(j) = judged.as_mut() {
        // An indeterminate decision says why a tag it depends on is unknown at the event's
        // time (a change between the event and the snapshot).
        let notes: Vec<String> = readings
            .iter()
            .filter(|r| r.state == "unknown" && r.source.contains(" changed "))
            .map(|r| format!("ssm:resourceTag/{}", r.source))
            .collect();
        if !notes.is_empty() {
            let note = format!("; {}", notes.join("; "));
            let indeterminate = compare::Verdict::Evaluated(crate::eval::Decision::Indeterminate);
            for side in j
                .candidates
                .iter_mut()
                .map(|c| &mut c.side)
                .chain(std::iter::once(&mut j.baseline))
            {
                if side.verdict == indeterminate {
                    side.reason.push_str(&note);
                }
            }
        }
    }
    // Unchanged events are only counted (no row is built) unless `--all` keeps them.
    let keep = |c: Change| cfg.keep_unchanged || c != Change::Unchanged;
    let mut rows = Row::for_candidates(ev, judged, keep, cfg.candidates.len());
    if !readings.is_empty() {
        for (own, keys) in rows.own.iter_mut().zip(&cfg.tag_keys) {
            if let Some(o) = own.as_mut() {
                o.tags = readings
                    .iter()
                    .filter(|r| keys.contains(&r.key))
                    .cloned()
                    .collect();
            }
        }
    }
    Item {
        key,
        kind: ItemKind::Event(ev.action, fid, rows, tag_bits),
    }
}

/// Decodes one file and evaluates, right away, every event that does not need the session
/// index: the event's memory goes as soon as its row (or count) exists.
///
/// With tags in time, an event's tags are those of its time, which only the whole scan tells.
/// An event whose target is already known to have a tag history (`with_history`: the resources
/// of the tag changes read so far, and of the Config items) waits for it; any other event is
/// evaluated now with the snapshot, which is right unless a tag change of its target turns up
/// later, and is kept as a recheck: after the scan, the rechecks of targets with a history are
/// evaluated again and their items replace these.
fn process_file(
    cfg: &ReplayConfig,
    input: &Input,
    no_sessions: &Sessions,
    no_history: &TagHistory,
    with_history: &RwLock<HashSet<Box<str>>>,
) -> FileResult {
    let mut outcome = decode_input(input, cfg.decode);
    let events = std::mem::take(&mut outcome.events);
    let mut items = Vec::with_capacity(events.len());
    let mut pending = Vec::new();
    let mut rechecks = Vec::new();
    let mut started = Vec::new();
    let wait = |ev: &SsmEvent, target: Option<String>| {
        let session = mapping::session_id_of(ev).unwrap_or_default();
        (Pending::new(session.into(), ev), target)
    };
    for ev in events {
        if let Some((id, info)) = Sessions::started_by(&ev) {
            started.push((SortKey::of(&ev), id, info));
        }
        match ev.action {
            SsmAction::TerminateSession | SsmAction::ResumeSession if in_window(cfg, &ev) => {
                pending.push(wait(&ev, mapping::target_id(&ev)))
            }
            _ if cfg.tags_in_time && in_window(cfg, &ev) => match mapping::target_id(&ev) {
                Some(t)
                    if with_history
                        .read()
                        .map_or(true, |known| known.contains(t.as_str())) =>
                {
                    pending.push(wait(&ev, Some(t)))
                }
                Some(t) => {
                    items.push(item(cfg, no_sessions, no_history, &ev));
                    rechecks.push(Pending::new(t.into(), &ev));
                }
                // Without a target no tag history applies.
                None => items.push(item(cfg, no_sessions, no_history, &ev)),
            },
            _ => items.push(item(cfg, no_sessions, no_history, &ev)),
        }
    }
    FileResult {
        outcome,
        items,
        pending,
        rechecks,
        started,
    }
}

/// Evaluates again, with the tag history, the rechecks whose target has one; their items go to
/// `replacements` (the final merge prefers them to the items evaluated with the snapshot).
fn recheck(
    cfg: &ReplayConfig,
    history: &TagHistory,
    mut rechecks: SortedSpill<Pending>,
    replacements: &mut SortedSpill<Item>,
) -> Result<(), SpillError> {
    const BATCH: usize = 1024;
    if history.is_empty() {
        // No target has a history: every evaluation with the snapshot stands. The events in
        // memory are freed off the main thread; temporary files, if any, are removed here.
        drop_in_background(rechecks.take_buffer());
        return Ok(());
    }
    let no_sessions = Sessions::default();
    let mut rechecks = rechecks.finish()?;
    let mut batch: Vec<SsmEvent> = Vec::with_capacity(BATCH);
    let flush = |batch: &mut Vec<SsmEvent>, out: &mut SortedSpill<Item>| {
        let done: Vec<Item> = std::mem::take(batch)
            .into_par_iter()
            .map(|ev| item(cfg, &no_sessions, history, &ev))
            .collect();
        done.into_iter().try_for_each(|it| out.push(it))
    };
    while let Some(r) = rechecks.next_item()? {
        if history.has(&r.key.0) {
            batch.push(r.event().map_err(|e| rechecks.invalid(e))?);
            if batch.len() == BATCH {
                flush(&mut batch, replacements)?;
            }
        }
    }
    flush(&mut batch, replacements)
}

/// Frees `value` on a thread of its own: many small allocations made by the workers (events
/// are a few dozen each) take the main thread tens of milliseconds to free, and nothing waits
/// for it. Only for plain memory: nothing whose drop removes files (the process may exit first).
fn drop_in_background<T: Send + 'static>(value: Vec<T>) {
    let _ = std::thread::Builder::new()
        .name("trailreplay-free".into())
        .spawn(move || drop(value));
}

/// The file counts the listing alone gives (subset parts are not counted: their manifests
/// carry the counts of the original files).
pub(crate) fn listed_files(listing: &Listing) -> FilesSummary {
    let mut files = FilesSummary {
        found: listing
            .inputs
            .iter()
            .filter(|i| !matches!(i, Input::SubsetPart(_)))
            .count() as u64,
        listing_errors: listing.errors.len() as u64,
        pruned: listing.pruned_files,
        pruned_directories: listing.pruned_directories,
        ..FilesSummary::default()
    };
    for (_, reason) in &listing.skipped {
        *files
            .skipped
            .entry(reason.as_str().to_string())
            .or_default() += 1;
    }
    files
}

/// The listing's errors as problems (they come first in a run's problems).
pub(crate) fn listing_problems(listing: &Listing) -> Vec<FileProblem> {
    listing
        .errors
        .iter()
        .map(|e| FileProblem {
            file: String::new(),
            message: e.clone(),
            fatal: true,
        })
        .collect()
}

/// Counts one decoded file: its records into `totals`, read or failed (and without records)
/// into `files`, its problems (record errors, then the fatal one) into `problems`. A subset's
/// part counts only its problems and a failure: its manifest carries the counts of the original
/// files.
pub(crate) fn count_file(
    files: &mut FilesSummary,
    totals: &mut FileStats,
    problems: &mut Vec<FileProblem>,
    input: &Input,
    stats: FileStats,
    record_errors: Vec<String>,
    fatal: Option<String>,
) {
    let name = input.display();
    let part = matches!(input, Input::SubsetPart(_));
    if !part {
        totals.add(&stats);
    }
    problems.extend(record_errors.into_iter().map(|m| FileProblem {
        file: name.clone(),
        message: m,
        fatal: false,
    }));
    if !part && fatal.is_none() && stats.records == stats.not_records {
        files.without_records += 1;
    }
    match fatal {
        Some(m) => {
            files.failed += 1;
            problems.push(FileProblem {
                file: name,
                message: m,
                fatal: true,
            });
        }
        None if part => {}
        None => files.read += 1,
    }
}

/// The default of [`ReplayConfig::memory_budget`].
pub const DEFAULT_MEMORY_BUDGET: usize = 64 << 20;
/// How many disagreeing event IDs the fidelity keeps (the rest are counted).
const MAX_DISAGREEING: usize = 1000;

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// A temporary file could not be written or read.
    #[error(transparent)]
    Spill(#[from] SpillError),
}

/// Everything the per-file results add up to, gathered as they arrive.
struct Collector<'a> {
    summary: Summary,
    totals: FileStats,
    /// Per input (listing order): its problems.
    problems: Vec<Vec<FileProblem>>,
    items: SortedSpill<Item>,
    /// Terminate/ResumeSession events, by the session they name.
    pending: SortedSpill<Pending>,
    /// Successful StartSessions, by session ID and order: the session index, joined with
    /// `pending` once every file is read.
    starts: SortedSpill<Start>,
    /// Tag changes, by resource (tags in time).
    tagged: SortedSpill<Tagged>,
    /// The targets of session events (the resources whose tag history is kept).
    targets: HashSet<Box<str>>,
    /// Events evaluated with the snapshot, by target (tags in time).
    rechecks: SortedSpill<Pending>,
    /// The resources known so far to have a tag history (read by the workers).
    with_history: &'a RwLock<HashSet<Box<str>>>,
    session_events: u64,
}

impl Collector<'_> {
    fn add_file(&mut self, index: usize, input: &Input, r: FileResult) -> Result<(), SpillError> {
        let mut o = r.outcome;
        let mut o_tags = std::mem::take(&mut o.tag_records);
        let problems = &mut self.problems[index];
        count_file(
            &mut self.summary.files,
            &mut self.totals,
            problems,
            input,
            o.stats,
            o.record_errors,
            o.fatal,
        );
        self.session_events += (r.items.len() + r.pending.len()) as u64;
        for it in r.items {
            self.items.push(it)?;
        }
        if !o_tags.is_empty() {
            if let Ok(mut known) = self.with_history.write() {
                for t in &o_tags {
                    if !known.contains(t.resource.as_str()) {
                        known.insert(t.resource.as_str().into());
                    }
                }
            }
        }
        for t in std::mem::take(&mut o_tags) {
            self.tagged.push(Tagged(t))?;
        }
        for p in r.rechecks {
            if !self.targets.contains(&p.key.0) {
                self.targets.insert(p.key.0.clone());
            }
            self.rechecks.push(p)?;
        }
        for (p, target) in r.pending {
            // The target (named only in the message for a call denied without parameters):
            // its tag history is kept.
            if let Some(t) = target {
                if !self.targets.contains(t.as_str()) {
                    self.targets.insert(t.into());
                }
            }
            self.pending.push(p)?;
        }
        for (key, id, info) in r.started {
            self.starts.push(Start {
                session: id.into(),
                key: StartKey {
                    time: key.time,
                    file: key.file,
                    record: key.record,
                },
                info,
            })?;
        }
        Ok(())
    }
}

/// Runs a replay over the listed inputs and hands every row to `sink` with its candidate's
/// index, in event order.
/// `progress` is called after each file with its index in the listing and the bytes it
/// decompressed, and must be cheap.
///
/// Memory stays flat as events grow: rows and counts on their way to the report, and
/// Terminate/ResumeSession events waiting for the session index, go to temporary files under
/// `cfg.temp_dir` past a budget, and are merged back in order. What stays proportional to the
/// events is the session index (one entry per started session). A `sink` error (a closed pipe)
/// stops the writing, not the counting: it is returned in [`ReplayOutput::write_error`].
pub fn run(
    cfg: &ReplayConfig,
    listing: &Listing,
    progress: &(dyn Fn(usize, u64) + Sync),
    sink: &mut dyn FnMut(usize, Box<Row>) -> std::io::Result<()>,
) -> Result<ReplayOutput, ReplayError> {
    let area = TempArea::new(cfg.temp_dir.clone());
    let mut summary = Summary {
        baseline: if cfg.baseline.is_some() {
            "policy"
        } else {
            "recorded"
        }
        .to_string(),
        verified: cfg.decode.verify,
        ..Summary::default()
    };
    summary.files = listed_files(listing);
    // Subsets carry the counts of the files they were extracted from.
    let mut totals = FileStats::default();
    let mut carried: Vec<FileProblem> = Vec::new();
    for m in &listing.subsets {
        let (f, mine) = (&m.files, &mut summary.files);
        mine.found += f.found;
        mine.read += f.read;
        mine.failed += f.failed;
        mine.listing_errors += f.listing_errors;
        mine.without_records += f.without_records;
        mine.pruned += f.pruned;
        mine.pruned_directories += f.pruned_directories;
        for (reason, n) in &f.skipped {
            *mine.skipped.entry(reason.clone()).or_default() += n;
        }
        totals.add(&m.records);
        carried.extend(m.problems.iter().cloned());
    }
    // Config items are known before the scan: their resources' events wait for the history.
    let with_history: RwLock<HashSet<Box<str>>> = RwLock::new(
        cfg.config_history
            .iter()
            .map(|r| r.resource.as_str().into())
            .collect(),
    );
    // Tenths of the memory budget. With tags in time, events evaluated with the snapshot are
    // kept until the history is complete, as rechecks.
    let tenths = |share: usize| cfg.memory_budget / 10 * share;
    let mut c = Collector {
        summary,
        totals,
        problems: (0..listing.inputs.len()).map(|_| Vec::new()).collect(),
        items: SortedSpill::new(area.clone(), tenths(if cfg.tags_in_time { 5 } else { 6 })),
        pending: SortedSpill::new(area.clone(), tenths(if cfg.tags_in_time { 1 } else { 2 })),
        starts: SortedSpill::new(area.clone(), tenths(1)),
        tagged: SortedSpill::new(area.clone(), tenths(1)),
        targets: HashSet::new(),
        rechecks: SortedSpill::new(area.clone(), tenths(if cfg.tags_in_time { 2 } else { 0 })),
        with_history: &with_history,
        session_events: 0,
    };

    // Files are decoded and evaluated in parallel; results come back through a bounded channel
    // as they are ready, so at most a few files' results are in flight.
    let no_sessions = Sessions::default();
    let no_history = TagHistory::default();
    let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, FileResult)>(
        2 * rayon::current_num_threads().max(1),
    );
    let mut failed: Option<SpillError> = None;
    std::thread::scope(|scope| {
        scope.spawn(|| {
            listing
                .inputs
                .par_iter()
                .enumerate()
                .for_each_with(tx, |tx, (i, input)| {
                    let r = process_file(cfg, input, &no_sessions, &no_history, &with_history);
                    progress(i, r.outcome.stats.bytes);
                    let _ = tx.send((i, r));
                });
        });
        for (i, r) in rx {
            if failed.is_none() {
                if let Err(e) = c.add_file(i, &listing.inputs[i], r) {
                    failed = Some(e);
                }
            }
        }
    });
    if let Some(e) = failed {
        return Err(e.into());
    }

    let mut summary = c.summary;
    summary.records = c.totals;
    summary.ssm_session_events = c.session_events;
    let mut items = c.items;
    // The waiting events' and the index's buffers will not grow any more: what they leave of
    // their share of the budget goes to the rows.
    items.grow_budget(c.pending.unused() + c.starts.unused() + c.tagged.unused());
    let history = build_history(cfg, c.tagged, &c.targets, &mut summary)?;
    let mut replacements = SortedSpill::new(area.clone(), c.rechecks.unused().max(tenths(1)));
    recheck(cfg, &history, c.rechecks, &mut replacements)?;
    join_sessions(cfg, &history, c.pending, c.starts, &mut items)?;

    // Event order; duplicate event IDs keep their first copy. Copies of one event share its
    // time, so the IDs seen are kept for the current time only.
    let mut merged = items.finish()?;
    let mut replaced = replacements.finish()?;
    let mut next_replacement = replaced.next_item()?;
    let mut current_time: Option<Option<DateTime<Utc>>> = None;
    let mut seen_now: foldhash::HashSet<Box<str>> = foldhash::HashSet::default();
    let mut fidelity = cfg.baseline.as_ref().map(|_| Fidelity::default());
    let mut tallies: Vec<Tally> = cfg.candidates.iter().map(|_| Tally::default()).collect();
    let mut disagreements = Disagreements::default();
    let mut write_error: Option<std::io::Error> = None;
    while let Some(mut it) = merged.next_item()? {
        // An event evaluated again with its target's tag history: that item replaces this one.
        while next_replacement.as_ref().is_some_and(|r| r.key < it.key) {
            next_replacement = replaced.next_item()?;
        }
        if next_replacement.as_ref().is_some_and(|r| r.key == it.key) {
            if let Some(r) = next_replacement.take() {
                it = r;
            }
            next_replacement = replaced.next_item()?;
        }
        if current_time != Some(it.key.time) {
            current_time = Some(it.key.time);
            seen_now.clear();
        }
        // Records without an eventID are never treated as duplicates of each other.
        if !it.key.event_id.is_empty() && !seen_now.insert(it.key.event_id.clone()) {
            summary.duplicates += 1;
            continue;
        }
        let (action, fid, rows) = match it.kind {
            ItemKind::Event(action, fid, rows, tag_bits) => {
                if let Some(t) = summary.tags.as_mut() {
                    t.from_history += u64::from(tag_bits & TAGS_HISTORY != 0);
                    t.from_snapshot += u64::from(tag_bits & TAGS_SNAPSHOT != 0);
                    t.unknown += u64::from(tag_bits & TAGS_UNKNOWN != 0);
                }
                (action, fid, rows)
            }
            ItemKind::OutsideWindow => {
                summary.outside_window += 1;
                continue;
            }
        };
        let event_id = &it.key.event_id;
        if let (Some(f), Some(agreement)) = (fidelity.as_mut(), fid) {
            match agreement {
                Agreement::Agrees => f.agree += 1,
                Agreement::Disagrees(why) => {
                    f.disagree += 1;
                    if f.disagreeing.len() < MAX_DISAGREEING {
                        f.disagreeing.push(format!("{event_id} ({why})"));
                    }
                }
                Agreement::Uncertain => f.uncertain += 1,
            }
        }
        if (1..rows.own.len()).any(|i| rows.change(i) != rows.change(0)) {
            disagreements.events += 1;
            if disagreements.first.len() < MAX_DISAGREEING {
                disagreements.first.push(event_id.to_string());
            }
        }
        for (i, (row, tally)) in rows.into_rows().zip(tallies.iter_mut()).enumerate() {
            match row {
                Some(mut r) => {
                    if let Some(reason) = cfg.accept.as_ref().and_then(|a| a.reason_for(&r)) {
                        r.accepted = reason.to_string();
                    }
                    tally.add_row(&r);
                    if write_error.is_none() {
                        if let Err(e) = sink(i, r) {
                            write_error = Some(e);
                        }
                    }
                }
                None => tally.add_unchanged(action.name()),
            }
        }
    }
    summary.fidelity = fidelity;
    let mut problems = listing_problems(listing);
    problems.extend(carried);
    problems.extend(c.problems.into_iter().flatten());
    summary.errors = problems
        .iter()
        .map(|p| {
            if p.file.is_empty() {
                p.message.clone()
            } else {
                format!("{}: {}", p.file, p.message)
            }
        })
        .collect();
    if let Some(a) = &cfg.accept {
        summary.stale_accepts = a.stale();
    }
    let summaries = tallies
        .into_iter()
        .map(|t| {
            let mut s = summary.clone();
            t.apply(&mut s);
            s
        })
        .collect();
    Ok(ReplayOutput {
        summaries,
        disagreements,
        problems,
        write_error,
    })
}
