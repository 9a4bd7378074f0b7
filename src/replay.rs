//! The one place that wires the stages and owns the threading.
//!
//! 1. Files are decoded in parallel (rayon). Each worker maps and evaluates, right away, every
//!    event that does not need the session index (StartSession, DescribeSessions,
//!    GetConnectionStatus), so those events' memory goes as their rows come; it keeps
//!    Terminate/ResumeSession events, notes the sessions its StartSessions create, returns its
//!    counts and errors, and never prints.
//! 2. The session index is merged (for each ID, the first StartSession in event order), and the
//!    waiting Terminate/ResumeSession events are evaluated in parallel.
//! 3. Everything is ordered by `eventTime`, then `eventID` (then file and record, so the copy
//!    kept of a duplicated event never depends on thread timing) and de-duplicated by
//!    `eventID`: rows come out in event order, identical whatever the thread count. Unchanged
//!    events are kept only as counts unless `--all` asks for their rows.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use crate::compare::{self, Agreement, Change, Outcome};
use crate::decode::{self, DecodeOptions, FileOutcome, FileStats, SsmAction, SsmEvent};
use crate::eval::{self, evaluate, Decision, PolicyKind, PolicyStack, TagState};
use crate::mapping::denial::{Layer, Reason};
use crate::mapping::sessions::SessionInfo;
use crate::mapping::{self, Inventory, Mapped, PrincipalType, Sessions};
use crate::policy::CompiledPolicy;
use crate::policyset::{PolicySet, PrincipalKind, Resolved};
use crate::report::summary::{Fidelity, Tally};
use crate::report::{Row, Summary};
use crate::source::{self, Input, Listing};
use crate::spill::{wire, Codec, Footprint, Json, SortedSpill, SpillError, TempArea};
use crate::timefmt;

/// A validated replay configuration.
pub struct ReplayConfig {
    pub candidate: PolicySet,
    pub baseline: Option<PolicySet>,
    /// SCP levels, root first.
    pub scps: Vec<CompiledPolicy>,
    pub inventory: Inventory,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub decode: DecodeOptions,
    /// Keep the rows of `unchanged` events (`--all`). Without it they are only counted.
    pub keep_unchanged: bool,
    /// Where temporary files go when a replay outgrows its memory budget.
    pub temp_dir: std::path::PathBuf,
    /// Memory for events buffered on their way to the report, in bytes (estimated); past it
    /// they go to temporary files. Split: 60% rows and counts, 20% waiting
    /// Terminate/ResumeSession events, 20% the session index.
    pub memory_budget: usize,
    /// Only events of these accounts (`recipientAccountId`) and regions (`awsRegion`); empty:
    /// all.
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
}

/// How far before `--since` StartSession events are read for the session index: a session
/// lasts at most 24 hours (Systems Manager User Guide, "Specify a maximum session duration"),
/// so a Terminate/ResumeSession in the window has its start within this.
pub const SESSION_LOOKBACK: chrono::Duration = chrono::Duration::hours(24);

/// A file's problem, for stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    pub file: String,
    pub message: String,
    /// The file could not be read completely: the run's exit status is 2.
    pub fatal: bool,
}

/// Everything a replay produced besides its rows (which went to the sink).
pub struct ReplayOutput {
    pub summary: Summary,
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
    let name: Arc<str> = Arc::from(input.display());
    match source::open(input) {
        Ok(reader) => decode::decode_stream(reader, &name, opts),
        Err(e) => FileOutcome {
            fatal: Some(format!("cannot open: {e}")),
            ..FileOutcome::default()
        },
    }
}

/// One side's decision for an event.
#[derive(Debug, Clone)]
pub struct Side {
    pub word: String,
    pub outcome: Outcome,
    pub reason: String,
    pub decision: Option<Decision>,
    /// For a denial by policies, the kinds of policy that denied (explicitly or by not
    /// allowing).
    pub denied_by: Vec<(bool, PolicyKind)>,
}

/// The policies that apply to a mapped event's principal, or the side to report when they
/// cannot be known.
fn stack_for<'p>(
    set: &'p PolicySet,
    scps: &'p [CompiledPolicy],
    m: &Mapped,
) -> Result<(PolicyStack<'p>, Option<&'p TagState>), Side> {
    let p = &m.principal;
    let scp_levels: Vec<Vec<&CompiledPolicy>> = if p.service_linked {
        Vec::new()
    } else {
        scps.iter().map(|s| vec![s]).collect()
    };
    let resolved = match p.kind {
        PrincipalType::Root => None,
        PrincipalType::User | PrincipalType::FederatedUser => {
            Some(set.resolve(PrincipalKind::User, &p.policy_arn, &p.account, &p.name))
        }
        PrincipalType::AssumedRole => {
            Some(set.resolve(PrincipalKind::Role, &p.policy_arn, &p.account, &p.name))
        }
    };
    let (mut stack, tags) = match resolved {
        None => (
            PolicyStack {
                identity_implicit_allow: true,
                ..PolicyStack::default()
            },
            None,
        ),
        Some(Resolved::Missing(why)) => {
            return Err(Side {
                word: Decision::Indeterminate.as_str().to_string(),
                outcome: Outcome::Uncertain,
                reason: why,
                decision: Some(Decision::Indeterminate),
                denied_by: Vec::new(),
            })
        }
        Some(Resolved::Found {
            identity,
            boundary,
            tags,
        }) => (
            PolicyStack {
                identity,
                boundary,
                ..PolicyStack::default()
            },
            tags,
        ),
    };
    stack.scp_levels = scp_levels;
    Ok((stack, tags))
}

static UNKNOWN_TAGS: TagState = TagState::Unknown;

/// Evaluates a mapped event against a policy set (plus SCPs).
pub fn decide(set: &PolicySet, scps: &[CompiledPolicy], m: &Mapped) -> Side {
    let (stack, tags) = match stack_for(set, scps, m) {
        Ok(s) => s,
        Err(side) => return side,
    };
    let tags = tags.unwrap_or(&UNKNOWN_TAGS);
    let e = match &m.unlogged {
        None => evaluate(&stack, &m.request, tags),
        Some(u) => eval::variants::evaluate_partial(
            &stack,
            &eval::variants::Partial {
                named: &m.request,
                variants: &u.variants,
                kinds: &u.kinds,
                what: u.what,
            },
            tags,
        ),
    };
    let (decision, reason) = if m.principal.kind == PrincipalType::FederatedUser
        && e.decision == Decision::Allowed
    {
        (
            Decision::Indeterminate,
            format!(
                "{}; but a federated user's permissions are also limited by the session policy passed to GetFederationToken, which the log does not show",
                e.reason
            ),
        )
    } else {
        (e.decision, e.reason)
    };
    Side {
        word: decision.as_str().to_string(),
        outcome: decision.into(),
        reason,
        decision: Some(decision),
        denied_by: e.denied_by,
    }
}

/// Does the baseline side reproduce the recorded outcome, and for a denial the kind of policy
/// AWS's message names?
fn agreement(side: &Side, recorded: &Side, ev: &SsmEvent) -> Agreement {
    if side.outcome == Outcome::Uncertain {
        return Agreement::Uncertain;
    }
    if side.outcome != recorded.outcome {
        return Agreement::Disagrees(format!(
            "recorded {}, baseline {}",
            recorded.word, side.word
        ));
    }
    let Some(named) = mapping::recorded_reason(ev) else {
        return Agreement::Agrees;
    };
    let layer = |kind: PolicyKind| match kind {
        PolicyKind::Identity => Layer::Identity,
        PolicyKind::Scp(_) => Layer::ServiceControl,
        PolicyKind::Boundary => Layer::Boundary,
        PolicyKind::Session => Layer::Session,
    };
    if side
        .denied_by
        .iter()
        .any(|(explicit, kind)| *explicit == named.explicit && layer(*kind) == named.layer)
    {
        Agreement::Agrees
    } else {
        let baseline: Vec<String> = side
            .denied_by
            .iter()
            .map(|(explicit, kind)| {
                Reason {
                    explicit: *explicit,
                    layer: layer(*kind),
                }
                .to_string()
            })
            .collect();
        Agreement::Disagrees(format!(
            "AWS: {named}; baseline: {}",
            if baseline.is_empty() {
                "denied".to_string()
            } else {
                baseline.join(", ")
            }
        ))
    }
}

/// With two policy sets, an event whose side is `indeterminate` may still have one change in
/// every possible world of the unknown keys (the same policy on both sides changes nothing,
/// whatever the keys hold). `Some(change)` when every joint world gives that change.
fn change_in_every_world(cfg: &ReplayConfig, baseline: &PolicySet, m: &Mapped) -> Option<Change> {
    if m.principal.kind == PrincipalType::FederatedUser {
        return None;
    }
    let (base, base_tags) = stack_for(baseline, &cfg.scps, m).ok()?;
    let (cand, cand_tags) = stack_for(&cfg.candidate, &cfg.scps, m).ok()?;
    // Principal tags come from the same snapshot on both sides when both have them.
    let tags = match (base_tags, cand_tags) {
        (Some(a), Some(b)) if a == b => a,
        (None, None) => &UNKNOWN_TAGS,
        _ => return None,
    };
    // A request known in part stands for its variants, when they cover every case on both
    // sides.
    let requests: &[eval::Request] = match &m.unlogged {
        None => std::slice::from_ref(&m.request),
        Some(u) => {
            let partial = eval::variants::Partial {
                named: &m.request,
                variants: &u.variants,
                kinds: &u.kinds,
                what: u.what,
            };
            if eval::variants::names_specifically(&base, &partial)
                || eval::variants::names_specifically(&cand, &partial)
            {
                return None;
            }
            &u.variants
        }
    };
    let mut changes: HashSet<Change> = HashSet::new();
    for request in requests {
        let eval::worlds::Enumeration::Worlds(variables) =
            eval::worlds::enumerate(&[&base, &cand], request, tags)
        else {
            return None;
        };
        eval::worlds::for_each_world(&variables, request, tags, |_, req, t| {
            let b = evaluate(&base, req, t).decision;
            let c = evaluate(&cand, req, t).decision;
            changes.insert(compare::compare(b.into(), c.into()));
        });
    }
    match changes.len() {
        1 => changes.into_iter().next(),
        _ => None,
    }
}

fn recorded_side(ev: &SsmEvent) -> Side {
    let outcome = compare::recorded(ev.error_code.as_deref());
    let (word, reason) = match outcome {
        Outcome::Denied => (
            "denied",
            format!(
                "recorded {}: {}",
                ev.error_code.as_deref().unwrap_or(""),
                ev.error_message.as_deref().unwrap_or("")
            ),
        ),
        _ => (
            "allowed",
            match ev.error_code.as_deref() {
                Some(c) => format!("recorded: passed authorization (failed later with {c})"),
                None => "recorded: succeeded".to_string(),
            },
        ),
    };
    Side {
        word: word.to_string(),
        outcome,
        reason,
        decision: None,
        denied_by: Vec::new(),
    }
}

fn base_row(ev: &SsmEvent) -> Row {
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
        baseline: String::new(),
        candidate: String::new(),
        change: String::new(),
        candidate_reason: String::new(),
        baseline_reason: String::new(),
        file: format!("{}#{}", ev.file, ev.record + 1),
        recorded_reason: mapping::recorded_reason(ev)
            .map(|r| r.to_string())
            .unwrap_or_default(),
    }
}

/// An event's verdict before any row is built.
pub struct Judged {
    pub mapped: Mapped,
    pub candidate: Side,
    pub baseline: Side,
    pub change: Change,
    /// With a baseline policy set: did it reproduce the recorded outcome (`None`: uncertain)?
    pub fidelity: Option<Agreement>,
}

/// Maps, evaluates and compares one event. `Err` is why it cannot be evaluated.
pub fn judge(cfg: &ReplayConfig, sessions: &Sessions, ev: &SsmEvent) -> Result<Judged, String> {
    let mapped = mapping::map_event(ev, sessions, &cfg.inventory)?;
    let candidate = decide(&cfg.candidate, &cfg.scps, &mapped);
    let recorded = recorded_side(ev);
    let (baseline, fidelity) = match &cfg.baseline {
        Some(b) => {
            let side = decide(b, &cfg.scps, &mapped);
            let agreement = agreement(&side, &recorded, ev);
            (side, Some(agreement))
        }
        None => (recorded, None),
    };
    let mut change = compare::compare(baseline.outcome, candidate.outcome);
    if change == Change::Uncertain {
        if let Some(b) = &cfg.baseline {
            if let Some(settled) = change_in_every_world(cfg, b, &mapped) {
                change = settled;
            }
        }
    }
    Ok(Judged {
        mapped,
        candidate,
        baseline,
        change,
        fidelity,
    })
}

/// The report row of a judged (or unjudgeable) event.
fn row_of(ev: &SsmEvent, judged: Result<Judged, String>) -> Row {
    let mut row = base_row(ev);
    let j = match judged {
        Ok(j) => j,
        Err(why) => {
            row.change = Change::Skipped.as_str().to_string();
            row.candidate_reason = why;
            return row;
        }
    };
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
    row.change = j.change.as_str().to_string();
    row.baseline = j.baseline.word;
    row.baseline_reason = j.baseline.reason;
    row.candidate = j.candidate.word;
    row.candidate_reason = j.candidate.reason;
    row
}

/// Where an event sorts: time, then event ID, then file and record (which only tell apart the
/// copies of a duplicated event, keeping the choice independent of thread timing).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SortKey {
    time: Option<DateTime<Utc>>,
    event_id: Box<str>,
    file: Arc<str>,
    record: u64,
}

impl SortKey {
    fn of(ev: &SsmEvent) -> SortKey {
        SortKey {
            time: ev.time,
            event_id: ev.event_id.as_str().into(),
            file: ev.file.clone(),
            record: ev.record,
        }
    }
}

/// One session event, after evaluation: a row, or only what the summary counts.
enum ItemKind {
    Row(Box<Row>, Option<Agreement>),
    /// An `unchanged` event whose row is not kept (no `--all`): its action, whether the baseline
    /// reproduced the log, and its ID when it did not.
    Unchanged(SsmAction, Option<Agreement>, Option<String>),
    OutsideWindow,
}

/// A session event on its way to the report, ordered by its key.
struct Item {
    key: SortKey,
    kind: ItemKind,
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

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("temporary file: {what}"),
    )
}

impl Codec for Item {
    fn encode(&self, out: &mut Vec<u8>) {
        let k = &self.key;
        put_time(out, k.time);
        wire::str(out, &k.event_id);
        wire::str(out, &k.file);
        wire::u64(out, k.record);
        match &self.kind {
            ItemKind::Row(row, a) => {
                out.push(0);
                put_agreement(out, a);
                row.encode(out);
            }
            ItemKind::Unchanged(action, a, id) => {
                out.push(1);
                out.push(*action as u8);
                put_agreement(out, a);
                match id {
                    Some(id) => {
                        out.push(1);
                        wire::str(out, id);
                    }
                    None => out.push(0),
                }
            }
            ItemKind::OutsideWindow => out.push(2),
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
                let a = get_agreement(&mut r)?;
                ItemKind::Row(Box::new(Row::decode(&mut r)?), a)
            }
            1 => {
                let action = SsmAction::from_index(r.u8()?).ok_or_else(|| bad("action"))?;
                let a = get_agreement(&mut r)?;
                let id = match r.u8()? {
                    0 => None,
                    _ => Some(r.string()?),
                };
                ItemKind::Unchanged(action, a, id)
            }
            _ => ItemKind::OutsideWindow,
        };
        Ok(Item { key, kind })
    }
}

impl Footprint for Item {
    fn footprint(&self) -> usize {
        let kind = match &self.kind {
            ItemKind::Row(r, _) => r.footprint(),
            ItemKind::Unchanged(_, _, id) => id.as_ref().map_or(0, String::len),
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
struct StartKey {
    time: Option<DateTime<Utc>>,
    file: Arc<str>,
    record: u64,
}

/// A successful StartSession in the session index, ordered by session ID, then event order (by
/// time, then file and record: the start's event ID is not kept).
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Start {
    session: Box<str>,
    key: StartKey,
    info: SessionInfo,
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
struct Pending {
    /// The session, then the event's file and record.
    key: (Box<str>, Arc<str>, u64),
    event: SsmEvent,
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
        let Json(event) = Json::<SsmEvent>::decode(r.bytes)?;
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

/// Joins the waiting Terminate/ResumeSession events with the session index (both sorted by
/// session ID) and evaluates them in parallel batches.
fn join_sessions(
    cfg: &ReplayConfig,
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
            .map(|ev| item(cfg, &sessions, &ev))
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
        batch.push(p.event);
        if batch.len() == BATCH {
            flush(&mut batch, &mut index, items)?;
        }
    }
    flush(&mut batch, &mut index, items)
}

fn put_time(out: &mut Vec<u8>, time: Option<DateTime<Utc>>) {
    match time {
        Some(t) => {
            out.push(1);
            wire::u64(out, t.timestamp() as u64);
            wire::u64(out, u64::from(t.timestamp_subsec_nanos()));
        }
        None => out.push(0),
    }
}

fn get_time(r: &mut wire::Reader<'_>) -> std::io::Result<Option<DateTime<Utc>>> {
    Ok(match r.u8()? {
        0 => None,
        _ => {
            let secs = r.u64()? as i64;
            let nanos = r.u64()? as u32;
            Some(DateTime::from_timestamp(secs, nanos).ok_or_else(|| bad("time"))?)
        }
    })
}

/// What one worker returns for one file.
struct FileResult {
    outcome: FileOutcome,
    items: Vec<Item>,
    /// Terminate/ResumeSession events: they wait for the complete session index.
    pending: Vec<SsmEvent>,
    /// Sessions started in this file, with the key of their StartSession.
    started: Vec<(SortKey, String, SessionInfo)>,
}

/// Is the event in the time window and the account and region filters?
fn in_window(cfg: &ReplayConfig, ev: &SsmEvent) -> bool {
    let scope = (cfg.accounts.is_empty() || cfg.accounts.contains(&ev.account))
        && (cfg.regions.is_empty() || cfg.regions.contains(&ev.region));
    scope
        && match ev.time {
            Some(t) => cfg.since.is_none_or(|s| t >= s) && cfg.until.is_none_or(|u| t < u),
            None => true,
        }
}

fn item(cfg: &ReplayConfig, sessions: &Sessions, ev: &SsmEvent) -> Item {
    let key = SortKey::of(ev);
    if !in_window(cfg, ev) {
        return Item {
            key,
            kind: ItemKind::OutsideWindow,
        };
    }
    let judged = judge(cfg, sessions, ev);
    let fid = judged.as_ref().ok().and_then(|j| j.fidelity.clone());
    let kind = match judged {
        // Unchanged events are only counted: no row is built for them.
        Ok(j) if !cfg.keep_unchanged && j.change == Change::Unchanged => {
            let disagree =
                matches!(fid, Some(Agreement::Disagrees(_))).then(|| ev.event_id.clone());
            ItemKind::Unchanged(ev.action, fid, disagree)
        }
        judged => ItemKind::Row(Box::new(row_of(ev, judged)), fid),
    };
    Item { key, kind }
}

/// Decodes one file and evaluates, right away, every event that does not need the session
/// index: the event's memory goes as soon as its row (or count) exists.
fn process_file(cfg: &ReplayConfig, input: &Input, no_sessions: &Sessions) -> FileResult {
    let mut outcome = decode_input(input, cfg.decode);
    let events = std::mem::take(&mut outcome.events);
    let mut items = Vec::with_capacity(events.len());
    let mut pending = Vec::new();
    let mut started = Vec::new();
    for ev in events {
        if let Some((id, info)) = Sessions::started_by(&ev) {
            started.push((SortKey::of(&ev), id, info));
        }
        match ev.action {
            SsmAction::TerminateSession | SsmAction::ResumeSession if in_window(cfg, &ev) => {
                pending.push(ev)
            }
            _ => items.push(item(cfg, no_sessions, &ev)),
        }
    }
    FileResult {
        outcome,
        items,
        pending,
        started,
    }
}

/// The default of [`ReplayConfig::memory_budget`].
pub const DEFAULT_MEMORY_BUDGET: usize = 64 << 20;
/// How many disagreeing event IDs the fidelity keeps (the rest are counted).
const MAX_DISAGREEING: usize = 1000;

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Spill(#[from] SpillError),
}

/// Everything the per-file results add up to, gathered as they arrive.
struct Collector {
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
    session_events: u64,
}

impl Collector {
    fn add_file(&mut self, index: usize, input: &Input, r: FileResult) -> Result<(), SpillError> {
        let name = input.display();
        let o = r.outcome;
        self.totals.add(&o.stats);
        let problems = &mut self.problems[index];
        for m in o.record_errors {
            problems.push(FileProblem {
                file: name.clone(),
                message: m,
                fatal: false,
            });
        }
        if o.fatal.is_none() && o.stats.records == o.stats.not_records {
            self.summary.files.without_records += 1;
        }
        match o.fatal {
            Some(m) => {
                self.summary.files.failed += 1;
                problems.push(FileProblem {
                    file: name,
                    message: m,
                    fatal: true,
                });
            }
            None => self.summary.files.read += 1,
        }
        self.session_events += (r.items.len() + r.pending.len()) as u64;
        for it in r.items {
            self.items.push(it)?;
        }
        for ev in r.pending {
            self.pending.push(Pending {
                key: (
                    mapping::session_id_of(&ev).unwrap_or_default().into(),
                    ev.file.clone(),
                    ev.record,
                ),
                event: ev,
            })?;
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

/// Runs a replay over the listed inputs and hands every row to `sink`, in event order.
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
    sink: &mut dyn FnMut(&Row) -> std::io::Result<()>,
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
    summary.files.listing_errors = listing.errors.len() as u64;
    for (_, reason) in &listing.skipped {
        *summary
            .files
            .skipped
            .entry(reason.as_str().to_string())
            .or_default() += 1;
    }
    summary.files.found = listing.inputs.len() as u64;
    summary.files.pruned = listing.pruned_files;
    summary.files.pruned_directories = listing.pruned_directories;
    let mut c = Collector {
        summary,
        totals: FileStats::default(),
        problems: (0..listing.inputs.len()).map(|_| Vec::new()).collect(),
        items: SortedSpill::new(area.clone(), cfg.memory_budget / 10 * 6),
        pending: SortedSpill::new(area.clone(), cfg.memory_budget / 10 * 2),
        starts: SortedSpill::new(area.clone(), cfg.memory_budget / 10 * 2),
        session_events: 0,
    };

    // Files are decoded and evaluated in parallel; results come back through a bounded channel
    // as they are ready, so at most a few files' results are in flight.
    let no_sessions = Sessions::default();
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
                    let r = process_file(cfg, input, &no_sessions);
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
    join_sessions(cfg, c.pending, c.starts, &mut items)?;

    // Event order; duplicate event IDs keep their first copy. Copies of one event share its
    // time, so the IDs seen are kept for the current time only.
    let mut merged = items.finish()?;
    let mut current_time: Option<Option<DateTime<Utc>>> = None;
    let mut seen_now: HashSet<Box<str>> = HashSet::new();
    let mut fidelity = cfg.baseline.as_ref().map(|_| Fidelity::default());
    let mut tally = Tally::default();
    let mut write_error: Option<std::io::Error> = None;
    while let Some(it) = merged.next_item()? {
        if current_time != Some(it.key.time) {
            current_time = Some(it.key.time);
            seen_now.clear();
        }
        // Records without an eventID are never treated as duplicates of each other.
        if !it.key.event_id.is_empty() && !seen_now.insert(it.key.event_id.clone()) {
            summary.duplicates += 1;
            continue;
        }
        let (fid, event_id) = match &it.kind {
            ItemKind::Row(r, fid) => (fid.as_ref(), Some(r.event_id.as_str())),
            ItemKind::Unchanged(_, fid, id) => (fid.as_ref(), id.as_deref()),
            ItemKind::OutsideWindow => (None, None),
        };
        if let (Some(f), Some(agreement)) = (fidelity.as_mut(), fid) {
            match agreement {
                Agreement::Agrees => f.agree += 1,
                Agreement::Disagrees(why) => {
                    f.disagree += 1;
                    if f.disagreeing.len() < MAX_DISAGREEING {
                        f.disagreeing
                            .push(format!("{} ({why})", event_id.unwrap_or_default()));
                    }
                }
                Agreement::Uncertain => f.uncertain += 1,
            }
        }
        match it.kind {
            ItemKind::Row(r, _) => {
                tally.add_row(&r);
                if write_error.is_none() {
                    if let Err(e) = sink(&r) {
                        write_error = Some(e);
                    }
                }
            }
            ItemKind::Unchanged(action, _, _) => tally.add_unchanged(action.name()),
            ItemKind::OutsideWindow => summary.outside_window += 1,
        }
    }
    summary.fidelity = fidelity;
    tally.apply(&mut summary);
    let mut problems: Vec<FileProblem> = listing
        .errors
        .iter()
        .map(|e| FileProblem {
            file: String::new(),
            message: e.clone(),
            fatal: true,
        })
        .collect();
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
    Ok(ReplayOutput {
        summary,
        problems,
        write_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{Context, Request, Resource};
    use crate::mapping::Principal;
    use crate::policy::compile_text;

    fn policy(name: &str, text: &str) -> CompiledPolicy {
        compile_text(name, text).policy.expect("policy")
    }

    fn mapped(kind: PrincipalType, policy_arn: &str) -> Mapped {
        Mapped {
            principal: Principal {
                kind,
                arn: String::new(),
                policy_arn: policy_arn.to_string(),
                name: policy_arn.rsplit('/').next().unwrap_or("").to_string(),
                account: "1".to_string(),
                context_arn: String::new(),
                service_linked: policy_arn.contains("/aws-service-role/"),
            },
            request: Request::new(
                "ssm:StartSession",
                vec![Resource::new(
                    "arn:aws:ec2:r:1:instance/i-1",
                    TagState::none(),
                )],
                Context::replayed(),
            ),
            session_target: None,
            session_id: None,
            unlogged: None,
        }
    }

    const ALLOW: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:*","Resource":"*"}}"#;
    const DENY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"ssm:StartSession","Resource":"*"}]}"#;

    #[test]
    fn root_is_not_subject_to_identity_policies_but_to_scps() {
        let none = PolicySet::from_documents(vec![]);
        let m = mapped(PrincipalType::Root, "arn:aws:iam::1:root");
        assert_eq!(decide(&none, &[], &m).decision, Some(Decision::Allowed));
        let scp = [policy("scp.json", DENY)];
        assert_eq!(
            decide(&none, &scp, &m).decision,
            Some(Decision::ExplicitDeny)
        );
    }

    #[test]
    fn federated_users_depend_on_an_unlogged_session_policy() {
        let set = PolicySet::from_documents(vec![policy("p.json", ALLOW)]);
        let m = mapped(PrincipalType::FederatedUser, "arn:aws:iam::1:user/issuer");
        let side = decide(&set, &[], &m);
        assert_eq!(side.decision, Some(Decision::Indeterminate));
        assert!(
            side.reason.contains("GetFederationToken"),
            "{}",
            side.reason
        );
        let none = PolicySet::from_documents(vec![]);
        assert_eq!(
            decide(&none, &[], &m).decision,
            Some(Decision::ImplicitDeny)
        );
    }

    #[test]
    fn scps_do_not_apply_to_service_linked_roles() {
        let set = PolicySet::from_documents(vec![policy("p.json", ALLOW)]);
        let scp = [policy("scp.json", DENY)];
        let slr = mapped(
            PrincipalType::AssumedRole,
            "arn:aws:iam::1:role/aws-service-role/ssm.amazonaws.com/AWSServiceRoleForAmazonSSM",
        );
        assert_eq!(decide(&set, &scp, &slr).decision, Some(Decision::Allowed));
        let role = mapped(PrincipalType::AssumedRole, "arn:aws:iam::1:role/Ops");
        assert_eq!(
            decide(&set, &scp, &role).decision,
            Some(Decision::ExplicitDeny)
        );
    }
}
