//! The one place that wires the stages and owns the threading.
//!
//! 1. Files are decoded in parallel (rayon); each worker returns its events, counts and
//!    errors, and never prints.
//! 2. Events are ordered by `eventTime`, then `eventID`, de-duplicated by `eventID`, and the
//!    session index is built from every StartSession.
//! 3. Events are mapped and evaluated in parallel against the compiled candidate (and baseline);
//!    rows come back in event order, identical whatever the thread count.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use crate::compare::{self, Change, Outcome};
use crate::decode::{self, DecodeOptions, FileOutcome, FileStats, SsmEvent};
use crate::eval::{evaluate, Decision, PolicyStack, TagState};
use crate::mapping::{self, Inventory, Mapped, PrincipalType, Sessions};
use crate::policy::CompiledPolicy;
use crate::policyset::{PolicySet, PrincipalKind, Resolved};
use crate::report::summary::Fidelity;
use crate::report::{Row, Summary};
use crate::source::{self, Input, Listing};
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
    /// Keep the rows of `unchanged` events (`--all`). Without it they are only counted, so
    /// memory follows the changes, not every session event.
    pub keep_unchanged: bool,
}

/// A file's problem, for stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    pub file: String,
    pub message: String,
    /// The file could not be read completely: the run's exit status is 2.
    pub fatal: bool,
}

/// Everything a replay produced.
pub struct ReplayOutput {
    /// The rows, in event order: every session event's with `keep_unchanged`, else all but
    /// the `unchanged` ones (which the summary still counts).
    pub rows: Vec<Row>,
    pub summary: Summary,
    pub problems: Vec<FileProblem>,
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
}

/// Evaluates a mapped event against a policy set (plus SCPs).
pub fn decide(set: &PolicySet, scps: &[CompiledPolicy], m: &Mapped) -> Side {
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
    let (mut stack, tags) = match &resolved {
        None => (
            PolicyStack {
                identity_implicit_allow: true,
                ..PolicyStack::default()
            },
            None,
        ),
        Some(Resolved::Missing(why)) => {
            return Side {
                word: Decision::Indeterminate.as_str().to_string(),
                outcome: Outcome::Uncertain,
                reason: why.clone(),
                decision: Some(Decision::Indeterminate),
            }
        }
        Some(r @ Resolved::Found { tags, .. }) => (r.stack().unwrap_or_default(), *tags),
    };
    stack.scp_levels = scp_levels;
    let unknown_tags = TagState::Unknown;
    let e = evaluate(&stack, &m.request, tags.unwrap_or(&unknown_tags));
    let (decision, reason) = if p.kind == PrincipalType::FederatedUser
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
    }
}

/// Maps, evaluates and compares one event. Returns the row and, with a baseline policy set,
/// whether the baseline reproduced the recorded outcome (`None`: uncertain).
pub fn evaluate_event(
    cfg: &ReplayConfig,
    sessions: &Sessions,
    ev: &SsmEvent,
) -> (Row, Option<Option<bool>>) {
    let mut row = base_row(ev);
    let mapped = match mapping::map_event(ev, sessions, &cfg.inventory) {
        Ok(m) => m,
        Err(why) => {
            row.change = Change::Skipped.as_str().to_string();
            row.candidate_reason = why;
            return (row, None);
        }
    };
    row.resources = mapped
        .request
        .resources
        .iter()
        .map(|r| r.arn.as_str())
        .collect::<Vec<_>>()
        .join(";");
    if row.target.is_empty() {
        if let Some(t) = &mapped.session_target {
            row.target = t.clone();
        }
    }
    let cand = decide(&cfg.candidate, &cfg.scps, &mapped);
    let recorded = recorded_side(ev);
    let (base, fidelity) = match &cfg.baseline {
        Some(b) => {
            let side = decide(b, &cfg.scps, &mapped);
            let agrees = match side.outcome {
                Outcome::Uncertain => None,
                o => Some(o == recorded.outcome),
            };
            (side, Some(agrees))
        }
        None => (recorded, None),
    };
    row.change = compare::compare(base.outcome, cand.outcome)
        .as_str()
        .to_string();
    row.baseline = base.word;
    row.baseline_reason = base.reason;
    row.candidate = cand.word;
    row.candidate_reason = cand.reason;
    (row, fidelity)
}

fn sort_key(ev: &SsmEvent) -> (Option<DateTime<Utc>>, &str, &str, u64) {
    (ev.time, ev.event_id.as_str(), &ev.file, ev.record)
}

/// Runs a replay over the listed inputs. `progress` is called after each file with
/// (files done, bytes read) and must be cheap.
pub fn run(cfg: &ReplayConfig, listing: &Listing, progress: &(dyn Fn(u64) + Sync)) -> ReplayOutput {
    let outcomes: Vec<FileOutcome> = listing
        .inputs
        .par_iter()
        .map(|input| {
            let o = decode_input(input, cfg.decode);
            progress(o.stats.bytes);
            o
        })
        .collect();

    let mut summary = Summary {
        baseline: if cfg.baseline.is_some() {
            "policy"
        } else {
            "recorded"
        }
        .to_string(),
        ..Summary::default()
    };
    let mut problems: Vec<FileProblem> = Vec::new();
    for e in &listing.errors {
        problems.push(FileProblem {
            file: String::new(),
            message: e.clone(),
            fatal: true,
        });
    }
    summary.files.listing_errors = listing.errors.len() as u64;
    for (_, reason) in &listing.skipped {
        *summary
            .files
            .skipped
            .entry(reason.as_str().to_string())
            .or_default() += 1;
    }
    summary.files.found = listing.inputs.len() as u64;
    let mut totals = FileStats::default();
    let mut events: Vec<SsmEvent> =
        Vec::with_capacity(outcomes.iter().map(|o| o.events.len()).sum());
    for (input, o) in listing.inputs.iter().zip(outcomes) {
        let name = input.display();
        totals.add(&o.stats);
        for m in o.record_errors {
            problems.push(FileProblem {
                file: name.clone(),
                message: m,
                fatal: false,
            });
        }
        match o.fatal {
            Some(m) => {
                summary.files.failed += 1;
                problems.push(FileProblem {
                    file: name.clone(),
                    message: m,
                    fatal: true,
                });
            }
            None => summary.files.read += 1,
        }
        if o.stats.records == o.stats.not_records {
            summary.files.without_records += 1;
        }
        events.extend(o.events);
    }
    summary.records = totals;
    summary.ssm_session_events = events.len() as u64;

    // Order by time then ID, in place (no second copy of the events), then drop duplicate
    // event IDs (the first in order is kept).
    events.par_sort_unstable_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    let keep: Vec<bool> = {
        let mut seen: HashSet<&str> = HashSet::with_capacity(events.len());
        events
            .iter()
            // Records without an eventID are never treated as duplicates of each other.
            .map(|e| e.event_id.is_empty() || seen.insert(e.event_id.as_str()))
            .collect()
    };
    let mut flags = keep.iter();
    let mut kept = events;
    kept.retain(|_| flags.next().copied().unwrap_or(true));
    summary.duplicates = (keep.len() - kept.len()) as u64;
    let sessions = Sessions::build(kept.iter());
    let in_window = |ev: &SsmEvent| match ev.time {
        Some(t) => cfg.since.is_none_or(|s| t >= s) && cfg.until.is_none_or(|u| t < u),
        None => true,
    };
    let before = kept.len();
    kept.retain(|e| in_window(e));
    summary.outside_window = (before - kept.len()) as u64;

    // Each event is consumed by its evaluation, so its memory goes as its row comes.
    enum Outcome {
        Row(Box<Row>),
        Unchanged(&'static str, Option<String>),
    }
    let results: Vec<(Outcome, Option<Option<bool>>)> = kept
        .into_par_iter()
        .map(|ev| {
            let (row, fid) = evaluate_event(cfg, &sessions, &ev);
            if !cfg.keep_unchanged && row.change == Change::Unchanged.as_str() {
                let disagree = matches!(fid, Some(Some(false))).then(|| row.event_id.clone());
                (Outcome::Unchanged(ev.action.name(), disagree), fid)
            } else {
                (Outcome::Row(Box::new(row)), fid)
            }
        })
        .collect();
    let mut fidelity = cfg.baseline.as_ref().map(|_| Fidelity::default());
    let mut rows = Vec::with_capacity(results.len());
    let mut unchanged: std::collections::BTreeMap<&'static str, u64> = Default::default();
    for (outcome, fid) in results {
        let event_id = match &outcome {
            Outcome::Row(r) => Some(r.event_id.clone()),
            Outcome::Unchanged(_, id) => id.clone(),
        };
        if let (Some(f), Some(agrees)) = (fidelity.as_mut(), fid) {
            match agrees {
                Some(true) => f.agree += 1,
                Some(false) => {
                    f.disagree += 1;
                    f.disagreeing.push(event_id.unwrap_or_default());
                }
                None => f.uncertain += 1,
            }
        }
        match outcome {
            Outcome::Row(r) => rows.push(*r),
            Outcome::Unchanged(action, _) => *unchanged.entry(action).or_default() += 1,
        }
    }
    summary.fidelity = fidelity;
    summary.count_rows(&rows, &unchanged);
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
    ReplayOutput {
        rows,
        summary,
        problems,
    }
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
                Context::new(true),
            ),
            session_target: None,
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
