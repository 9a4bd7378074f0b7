//! The edge of `trailreplay replay`: arguments → [`ReplayConfig`], run, write the report, print
//! problems, choose the exit code.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{error, warning, ExitCode};
use crate::cli::{FailOn, ReplayArgs, ReplayFormat};
use crate::compare::Change;
use crate::config::{self, ConfigError};
use crate::decode::DecodeOptions;
use crate::mapping::Inventory;
use crate::policy::overlay::{self, Attachment, Overlay};
use crate::policy::pattern::{Pattern, Syntax};
use crate::policy::set::{Location, PolicySet, Sources};
use crate::policy::snapshot::HolderRef;
use crate::policy::terraform::Plan;
use crate::replay::{self, ReplayConfig};
use crate::report::{self, Row, RowWriter};
use crate::sanitize::for_terminal;
use crate::source;
use crate::subset;
use crate::timefmt;

/// `--candidate` values grouped into named policy sets: `NAME=PATH` adds PATH to NAME's set;
/// bare paths form one set, as before names existed, named after the first of them.
fn candidate_groups(values: &[PathBuf]) -> Result<Vec<(String, Vec<PathBuf>)>, ConfigError> {
    let mut groups: Vec<(String, Vec<PathBuf>)> = Vec::new();
    let mut bare: Option<usize> = None;
    let is_name = |n: &str| {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    };
    for v in values {
        let named = v
            .to_str()
            .filter(|_| !v.exists())
            .and_then(|t| t.split_once('='))
            .filter(|(n, p)| is_name(n) && !p.is_empty());
        let (name, path) = match named {
            Some((n, p)) => (n.to_string(), PathBuf::from(p)),
            None => {
                let i = *bare.get_or_insert_with(|| {
                    let stem = v.file_stem().map_or_else(
                        || "candidate".to_string(),
                        |s| s.to_string_lossy().into_owned(),
                    );
                    groups.push((
                        if v.as_os_str() == "-" {
                            "stdin".into()
                        } else {
                            stem
                        },
                        vec![],
                    ));
                    groups.len() - 1
                });
                groups[i].1.push(v.clone());
                continue;
            }
        };
        let duplicate = || {
            ConfigError::Argument(format!(
                "two candidates are named `{name}`: name them apart with `--candidate NAME=PATH`"
            ))
        };
        if bare.is_some_and(|b| groups[b].0 == name) {
            return Err(duplicate());
        }
        match groups.iter_mut().find(|(n, _)| *n == name) {
            Some((_, paths)) => paths.push(path),
            None => groups.push((name, vec![path])),
        }
    }
    let mut seen = std::collections::HashSet::new();
    for (n, _) in &groups {
        if !seen.insert(n.as_str()) {
            return Err(ConfigError::Argument(format!(
                "two candidates are named `{n}`: name them apart with `--candidate NAME=PATH`"
            )));
        }
    }
    Ok(groups)
}

/// `--replace-policy`, `--attach` and `--detach` values, their files read.
fn overlays(a: &ReplayArgs) -> Result<Vec<Overlay>, ConfigError> {
    let split = |flag: &str, v: &str| -> Result<(String, String), ConfigError> {
        v.split_once('=')
            .filter(|(k, v)| !k.is_empty() && !v.is_empty())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .ok_or_else(|| {
                ConfigError::Argument(format!("`{flag} {v}`: expected `{flag} WHAT=VALUE`"))
            })
    };
    let holder = |flag: &str, h: &str| {
        HolderRef::parse(h).map_err(|e| ConfigError::Argument(format!("`{flag}`: {e}")))
    };
    let mut out = Vec::new();
    for v in &a.replace_policy {
        let (target, file) = split("--replace-policy", v)?;
        let doc = config::read_document(Path::new(&file))?;
        out.push(Overlay::Replace { target, doc });
    }
    for v in &a.attach {
        let (h, what) = split("--attach", v)?;
        let what = if what.starts_with("arn:") {
            Attachment::Managed(what)
        } else {
            Attachment::Document(config::read_document(Path::new(&what))?)
        };
        out.push(Overlay::Attach {
            holder: holder("--attach", &h)?,
            what,
        });
    }
    for v in &a.detach {
        let (h, policy) = split("--detach", v)?;
        out.push(Overlay::Detach {
            holder: holder("--detach", &h)?,
            policy,
        });
    }
    Ok(out)
}

/// `--plan`: the baseline and candidate a Terraform plan describes, compiled; warnings printed.
fn plan_sides(
    a: &ReplayArgs,
    path: &Path,
    baseline: Option<&Sources>,
) -> Result<(PolicySet, PolicySet), ConfigError> {
    let both = |what: &str| {
        Err(ConfigError::Argument(format!(
            "`--plan` and `{what}` both describe the candidate: give one or the other"
        )))
    };
    if !a.candidate.is_empty() {
        return both("--candidate");
    }
    if !(a.replace_policy.is_empty() && a.attach.is_empty() && a.detach.is_empty()) {
        return both("--replace-policy/--attach/--detach");
    }
    let export = match baseline {
        Some(b) => Some(b.snapshot.as_ref().ok_or_else(|| {
            ConfigError::Argument(
                "with `--plan`, `--baseline` is an `aws iam get-account-authorization-details` export the plan is applied to"
                    .to_string(),
            )
        })?),
        None => None,
    };
    let text = config::read_text(path)?;
    let plan = Plan::read(&config::display(path), &text)
        .map_err(|e| ConfigError::Argument(e.to_string()))?;
    let account = plan
        .account(a.plan_account.as_deref())
        .map_err(|e| ConfigError::Argument(e.to_string()))?;
    let sides = plan
        .sides(export, &account)
        .map_err(|e| ConfigError::Argument(e.to_string()))?;
    for n in &sides.notes {
        warning(n);
    }
    if sides.changed == 0 {
        warning(&format!(
            "{}: the plan changes no IAM or Identity Center policy resource: nothing can change",
            config::display(path)
        ));
    }
    let sources = baseline.cloned().unwrap_or_default();
    let base = config::compile_sources("baseline", &sources, Some(&sides.baseline))?;
    let cand = config::compile_sources("candidate", &sources, Some(&sides.candidate))?;
    Ok((base, cand))
}

/// The candidates: named policy sets, or the baseline export with overlays.
fn candidates(
    a: &ReplayArgs,
    baseline: Option<&Sources>,
) -> Result<Vec<(String, PolicySet)>, ConfigError> {
    let overlays = overlays(a)?;
    if !overlays.is_empty() {
        if !a.candidate.is_empty() {
            return Err(ConfigError::Argument(
                "`--candidate` and `--replace-policy`/`--attach`/`--detach` both describe the candidate: give one or the other"
                    .to_string(),
            ));
        }
        let Some(snapshot) = baseline.and_then(|b| b.snapshot.as_ref()) else {
            return Err(ConfigError::Argument(
                "`--replace-policy`, `--attach` and `--detach` change the baseline's principals: give `--baseline` an `aws iam get-account-authorization-details` export"
                    .to_string(),
            ));
        };
        let mut edited = snapshot.clone();
        overlay::apply(&mut edited, &overlays)
            .map_err(|errors| ConfigError::Argument(errors.join("\n")))?;
        let sources = baseline.cloned().unwrap_or_default();
        let set = config::compile_sources("candidate", &sources, Some(&edited))?;
        return Ok(vec![("candidate".to_string(), set)]);
    }
    if a.candidate.is_empty() {
        return Err(ConfigError::Argument(
            "no candidate: give `--candidate POLICYSET`, or change a `--baseline` export with `--replace-policy`, `--attach` or `--detach`"
                .to_string(),
        ));
    }
    let groups = candidate_groups(&a.candidate)?;
    let several = groups.len() > 1;
    let mut out = Vec::with_capacity(groups.len());
    for (name, paths) in groups {
        let side = if several {
            format!("candidate `{name}`")
        } else {
            "candidate".to_string()
        };
        out.push((name, config::load_policy_set(&side, &paths)?));
    }
    Ok(out)
}

fn build_config(a: &ReplayArgs) -> Result<(ReplayConfig, Vec<String>), ConfigError> {
    let baseline_sources = if a.baseline.is_empty() {
        None
    } else {
        Some(config::read_policy_sources("baseline", &a.baseline)?)
    };
    let (names, mut candidates, mut baseline) = match &a.plan {
        Some(path) => {
            let (base, cand) = plan_sides(a, path, baseline_sources.as_ref())?;
            (vec!["plan".to_string()], vec![cand], Some(base))
        }
        None => {
            let (names, candidates): (Vec<String>, Vec<PolicySet>) =
                candidates(a, baseline_sources.as_ref())?
                    .into_iter()
                    .unzip();
            let baseline = match &baseline_sources {
                Some(s) => Some(config::compile_sources("baseline", s, None)?),
                None => None,
            };
            (names, candidates, baseline)
        }
    };
    let (scps, mut scp_warnings) = config::load_policies(&a.scps)?;
    let (baseline_scps, w) = config::load_policies(&a.baseline_scps)?;
    scp_warnings.extend(w);
    let (candidate_scps, w) = config::load_policies(&a.candidate_scps)?;
    scp_warnings.extend(w);
    match &mut baseline {
        Some(b) => b.scps = [scps.clone(), baseline_scps].concat(),
        None if !baseline_scps.is_empty() => {
            return Err(ConfigError::Argument(
                "`--baseline-scp` applies to a `--baseline` policy set; without one the baseline is the outcome the log recorded, under the SCPs in force then"
                    .to_string(),
            ))
        }
        None => {}
    }
    for c in &mut candidates {
        c.scps = [scps.clone(), candidate_scps.clone()].concat();
    }
    let mut config_history = Vec::new();
    for p in &a.config_history {
        let text = config::read_text(p)?;
        let items = crate::mapping::history::config_items(&text)
            .map_err(|e| ConfigError::Argument(format!("{}: {e}", config::display(p))))?;
        config_history.extend(items);
    }
    let inventory_time = match &a.inventory_time {
        None => None,
        Some(t) => Some(timefmt::parse_datetime(t).ok_or_else(|| {
            ConfigError::Argument(format!("`--inventory-time {t}`: not an ISO 8601 time"))
        })?),
    };
    let principals = a
        .principals
        .iter()
        .map(|g| {
            Pattern::parse(
                g,
                Syntax {
                    wildcards: true,
                    variables: false,
                    ignore_case: false,
                },
            )
            .map_err(|e| ConfigError::Argument(format!("`--principal {g}`: {}", e.0)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if a.min_fidelity.is_some() && baseline.is_none() {
        return Err(ConfigError::Argument(
            "`--min-fidelity` measures a `--baseline` policy set against the log: give `--baseline`"
                .to_string(),
        ));
    }
    if let Some(p) = a.min_fidelity {
        if !(0.0..=100.0).contains(&p) {
            return Err(ConfigError::Argument(format!(
                "`--min-fidelity {p}`: a percentage from 0 to 100"
            )));
        }
    }
    let mut inventory = Inventory::default();
    for p in &a.inventory {
        let text = config::read_text(p)?;
        inventory
            .add(&p.display().to_string(), &text)
            .map_err(|e| ConfigError::Argument(e.to_string()))?;
    }
    let (since, until) = super::window(&a.scope)?;
    let warn_count = candidates.iter().map(|c| c.warnings.len()).sum::<usize>()
        + baseline.as_ref().map_or(0, |b| b.warnings.len())
        + scp_warnings.len();
    if warn_count > 0 {
        warning(&format!(
            "{warn_count} policy warning(s); run `trailreplay validate` on the policy files to see them"
        ));
    }
    let base = ReplayConfig::new(candidates, baseline);
    let cfg = ReplayConfig {
        inventory,
        since,
        until,
        decode: DecodeOptions {
            verify: a.verify,
            ..base.decode
        },
        keep_unchanged: a.all,
        temp_dir: a.temp_dir.clone().unwrap_or_else(std::env::temp_dir),
        memory_budget: (a.memory as usize) << 20,
        accounts: a.scope.accounts.clone(),
        regions: a.scope.regions.clone(),
        principals,
        config_history,
        inventory_time,
        accept: match &a.accept {
            None => None,
            Some(p) => {
                let text = config::read_text(p)?;
                let list = crate::accept::AcceptList::parse(
                    &config::display(p),
                    &text,
                    chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now())
                        .date_naive(),
                )
                .map_err(|e| ConfigError::Argument(e.to_string()))?;
                for w in &list.warnings {
                    warning(w);
                }
                Some(list)
            }
        },
        ..base
    };
    Ok((cfg, names))
}

/// A subset holds what its extraction's window and filters selected: a replay over it may ask
/// for that or less, never more.
fn check_subset_scope(
    dir: &Path,
    m: &subset::Manifest,
    a: &ReplayArgs,
    cfg: &ReplayConfig,
) -> Result<(), String> {
    let s = &m.scope;
    let refuse = |what: String| {
        Err(format!(
            "{}: this subset was extracted with {what}; replay it with the same or a narrower scope, or extract again",
            dir.display()
        ))
    };
    let time = |t: &Option<String>| t.as_deref().and_then(timefmt::parse_datetime);
    let (since, until) = (time(&s.since), time(&s.until));
    if let Some(from) = since {
        if cfg.since.is_none_or(|mine| mine < from) {
            return refuse(format!("`--since {}`", timefmt::iso(&from)));
        }
    }
    if let Some(to) = until {
        if cfg.until.is_none_or(|mine| mine > to) {
            return refuse(format!("`--until {}`", timefmt::iso(&to)));
        }
        if a.scope.delivery_margin > s.delivery_margin_hours {
            return refuse(format!("`--delivery-margin {}`", s.delivery_margin_hours));
        }
    }
    let narrower = |theirs: &[String], mine: &[String]| {
        theirs.is_empty() || (!mine.is_empty() && mine.iter().all(|x| theirs.contains(x)))
    };
    if !narrower(&s.accounts, &a.scope.accounts) {
        return refuse(format!("`--account {}`", s.accounts.join(" --account ")));
    }
    if !narrower(&s.regions, &a.scope.regions) {
        return refuse(format!("`--region {}`", s.regions.join(" --region ")));
    }
    if a.verify && !s.verify {
        return refuse("no `--verify` (its records were pre-filtered)".to_string());
    }
    Ok(())
}

/// Where the report goes: stdout, or a file written under a temporary name and renamed when
/// whole, so that an interrupted run never leaves a report that looks complete.
enum Destination {
    Stdout(BufWriter<std::io::Stdout>),
    File {
        partial: PathBuf,
        path: PathBuf,
        w: BufWriter<File>,
    },
}

impl Write for Destination {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Destination::Stdout(w) => w.write(buf),
            Destination::File { w, .. } => w.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Destination::Stdout(w) => w.flush(),
            Destination::File { w, .. } => w.flush(),
        }
    }
}

fn partial_name(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".partial");
    PathBuf::from(p)
}

fn open_report(
    output: Option<&Path>,
    format: ReplayFormat,
    max_rows: usize,
    locations: impl FnOnce() -> std::collections::HashMap<String, Location>,
) -> std::io::Result<RowWriter<Destination>> {
    let dest = match output {
        Some(path) => {
            let partial = partial_name(path);
            let f = File::create(&partial)?;
            Destination::File {
                partial,
                path: path.to_path_buf(),
                w: BufWriter::with_capacity(1 << 16, f),
            }
        }
        None => Destination::Stdout(BufWriter::with_capacity(1 << 16, std::io::stdout())),
    };
    match format {
        ReplayFormat::Csv => RowWriter::csv(dest),
        ReplayFormat::Jsonl => Ok(RowWriter::Jsonl(dest)),
        ReplayFormat::Summary => Ok(RowWriter::Nothing(dest)),
        ReplayFormat::Markdown => Ok(RowWriter::Markdown(
            dest,
            Box::new(report::markdown::Markdown::new(max_rows)),
        )),
        ReplayFormat::Sarif => Ok(RowWriter::Sarif(
            dest,
            Box::new(report::sarif::Sarif::new(locations())),
        )),
    }
}

/// Flushes the report (and the summary table for `--format summary`) and puts a file in
/// place. A closed stdout is a clean end.
fn close_report(w: RowWriter<Destination>, summary_text: Option<&str>) -> std::io::Result<()> {
    let mut dest = w.into_inner()?;
    if let Some(t) = summary_text {
        dest.write_all(t.as_bytes())?;
    }
    dest.flush()?;
    if let Destination::File { partial, path, w } = dest {
        drop(w);
        std::fs::rename(&partial, &path)?;
    }
    Ok(())
}

/// Removes the temporary files and partial reports on Ctrl-C or SIGTERM, then exits with 130.
fn on_interrupt(partials: Vec<PathBuf>) {
    let _ = ctrlc::set_handler(move || {
        for p in crate::spill::temp_paths() {
            let _ = std::fs::remove_dir_all(p);
        }
        for p in &partials {
            let _ = std::fs::remove_file(p);
        }
        std::process::exit(130);
    });
}

/// A report writer and the first error it met (writing stopped there).
type Written = (RowWriter<Destination>, Option<std::io::Error>);

/// Runs `body` with a sink that hands each candidate's rows to a thread of its own, which
/// formats and writes them while the replay goes on. Returns `body`'s result and the writers.
fn write_on_threads<T>(
    writers: Vec<RowWriter<Destination>>,
    body: impl FnOnce(&mut dyn FnMut(usize, Box<Row>) -> std::io::Result<()>) -> T,
) -> (T, Vec<Written>) {
    std::thread::scope(|scope| {
        let mut senders = Vec::with_capacity(writers.len());
        let mut handles = Vec::with_capacity(writers.len());
        for mut w in writers {
            // Rows travel in batches: one wake-up per batch, not per row.
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Box<Row>>>(16);
            senders.push(tx);
            handles.push(scope.spawn(move || {
                // The rows were allocated by the replay's workers, and freeing them here took
                // about a quarter of this thread's time at the end of a replay (frees across
                // threads): written batches go to a thread of their own to be freed. Bounded,
                // so a slow freer holds the writer back rather than memory growing; if that
                // thread cannot start, the send fails and the batch is freed here.
                let (free, freed) = std::sync::mpsc::sync_channel::<Vec<Box<Row>>>(16);
                let _ = std::thread::Builder::new()
                    .name("trailreplay-free".into())
                    .spawn(move || freed.into_iter().for_each(drop));
                let mut failed: Option<std::io::Error> = None;
                // After an error the rows are drained unwritten: counting goes on.
                for batch in rx {
                    for row in &batch {
                        if failed.is_none() {
                            failed = w.write(row).err();
                        }
                    }
                    let _ = free.send(batch);
                }
                (w, failed)
            }));
        }
        const BATCH: usize = 256;
        let mut batches: Vec<Vec<Box<Row>>> = senders.iter().map(|_| Vec::new()).collect();
        let send = |tx: &std::sync::mpsc::SyncSender<Vec<Box<Row>>>, batch: Vec<Box<Row>>| {
            tx.send(batch)
                .map_err(|_| std::io::Error::other("the report writer stopped"))
        };
        let result = body(&mut |i, row| match (senders.get(i), batches.get_mut(i)) {
            (Some(tx), Some(batch)) => {
                batch.push(row);
                if batch.len() < BATCH {
                    return Ok(());
                }
                send(tx, std::mem::replace(batch, Vec::with_capacity(BATCH)))
            }
            _ => Ok(()),
        });
        for (tx, batch) in senders.iter().zip(batches) {
            if !batch.is_empty() {
                // A writer that stopped has its error in its result below.
                let _ = send(tx, batch);
            }
        }
        drop(senders);
        let written = handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    // A writer thread panicked: nothing to close; say so as an error.
                    (
                        RowWriter::Nothing(Destination::Stdout(BufWriter::new(std::io::stdout()))),
                        Some(std::io::Error::other("the report writer failed")),
                    )
                })
            })
            .collect();
        (result, written)
    })
}

/// Where each candidate's report goes: with one candidate, `-o FILE` or stdout (as ever); with
/// several, `DIR/NAME.csv` or `.jsonl` under `-o DIR` (none for `--format summary`).
fn report_paths(a: &ReplayArgs, names: &[String]) -> Result<Vec<Option<PathBuf>>, String> {
    if names.len() == 1 {
        return Ok(vec![a.output.clone()]);
    }
    let ext = match a.format {
        ReplayFormat::Summary => return Ok(Vec::new()),
        ReplayFormat::Csv => "csv",
        ReplayFormat::Jsonl => "jsonl",
        ReplayFormat::Markdown => "md",
        ReplayFormat::Sarif => "sarif",
    };
    let Some(dir) = &a.output else {
        return Err(format!(
            "{} candidates write one report each: give `-o DIR` (or `--format summary`)",
            names.len()
        ));
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("{}: cannot create the report directory: {e}", dir.display()))?;
    Ok(names
        .iter()
        .map(|n| Some(dir.join(format!("{n}.{ext}"))))
        .collect())
}

pub fn run(a: ReplayArgs) -> ExitCode {
    if let Some(n) = a.threads {
        if let Err(e) = super::set_threads(n) {
            error(&e);
            return ExitCode::Trouble;
        }
    }
    let (cfg, names) = match build_config(&a) {
        Ok(c) => c,
        Err(e) => {
            error(&e.to_string());
            return ExitCode::Trouble;
        }
    };
    let paths_out = match report_paths(&a, &names) {
        Ok(p) => p,
        Err(e) => {
            error(&e);
            return ExitCode::Trouble;
        }
    };
    let (subsets, paths): (Vec<PathBuf>, Vec<PathBuf>) =
        a.paths.iter().cloned().partition(|p| subset::is_subset(p));
    let mut listing = source::list_pruned(&paths, &super::prune(&a.scope, cfg.since, cfg.until));
    for dir in subsets {
        let added = subset::open(&dir)
            .map_err(|e| e.to_string())
            .and_then(|m| check_subset_scope(&dir, &m, &a, &cfg).map(|()| m));
        match added {
            Ok(m) => subset::add_to_listing(&mut listing, &dir, m),
            Err(e) => {
                error(&e);
                return ExitCode::Trouble;
            }
        }
    }
    let bar = super::Progress::new(&listing);
    let progress = |index: usize, _decompressed: u64| bar.file_done(index);
    on_interrupt(
        paths_out
            .iter()
            .flatten()
            .map(|p| partial_name(p))
            .collect(),
    );
    let mut writers = Vec::with_capacity(paths_out.len());
    for (i, path) in paths_out.iter().enumerate() {
        // Statements laid on: the candidate's, else the baseline's (a statement that used to
        // allow).
        let locations = || {
            let mut l = cfg
                .baseline
                .as_ref()
                .map(|b| b.locations.clone())
                .unwrap_or_default();
            if let Some(c) = cfg.candidates.get(i) {
                l.extend(c.locations.clone());
            }
            l
        };
        match open_report(path.as_deref(), a.format, a.max_rows, locations) {
            Ok(w) => writers.push(w),
            Err(e) => {
                error(&format!(
                    "{}: cannot write the report: {e}",
                    path.as_ref()
                        .map(|p| partial_name(p).display().to_string())
                        .unwrap_or_else(|| "stdout".to_string())
                ));
                return ExitCode::Trouble;
            }
        }
    }
    let keep_all = a.all;
    let (result, written) = write_on_threads(writers, |sink| {
        replay::run(&cfg, &listing, &progress, &mut |i: usize, row: Box<Row>| {
            if keep_all || row.change != Change::Unchanged {
                sink(i, row)
            } else {
                Ok(())
            }
        })
    });
    bar.finish();
    let remove_partials = || {
        for p in paths_out.iter().flatten() {
            let _ = std::fs::remove_file(partial_name(p));
        }
    };
    let out = match result {
        Ok(o) => o,
        Err(e) => {
            remove_partials();
            error(&e.to_string());
            return ExitCode::Trouble;
        }
    };
    super::print_problems(&out.problems);
    let first = &out.summaries[0];
    if first.records.verify_misses > 0 {
        error(&format!(
            "--verify: the pre-filter missed {} session event(s); please report this",
            first.records.verify_misses
        ));
    }
    let several = names.len() > 1;
    let summary_text = if several {
        Some(report::render_comparison(
            &names,
            &out.summaries,
            &out.disagreements,
        ))
    } else {
        (a.format == ReplayFormat::Summary).then(|| first.render())
    };
    // A closed pipe ends the report quietly (the counting went on); a real write error stops.
    let write_error = written
        .iter()
        .filter_map(|(_, e)| e.as_ref())
        .chain(out.write_error.as_ref())
        .find(|e| e.kind() != std::io::ErrorKind::BrokenPipe)
        .map(|e| std::io::Error::new(e.kind(), e.to_string()));
    let mut written = match write_error {
        Some(e) => Err(e),
        None => written
            .into_iter()
            .enumerate()
            .try_for_each(|(i, (w, e))| match e {
                Some(_) => Ok(()),
                None => {
                    let comment = w
                        .markdown()
                        .map(|m| m.render(&names[i], &out.summaries[i]))
                        .or_else(|| w.sarif().map(|s| s.render()));
                    let text = if comment.is_some() {
                        comment.as_deref()
                    } else if several {
                        None
                    } else {
                        summary_text.as_deref()
                    };
                    close_report(w, text)
                }
            }),
    };
    if several && written.is_ok() {
        if let Some(t) = &summary_text {
            // With `--format summary`, `-o` names the table's file (no reports are written).
            written = match (&a.output, a.format) {
                (Some(path), ReplayFormat::Summary) => std::fs::write(path, t),
                _ => super::write_stdout(t),
            };
        }
    }
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe && (several || a.output.is_none()) => {
        }
        Err(e) => {
            remove_partials();
            error(&format!(
                "{}: cannot write the report: {e}",
                a.output
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "stdout".to_string())
            ));
            return ExitCode::Trouble;
        }
        Ok(()) => {}
    }
    let summary_json = if several {
        let combined = report::Comparison::new(&names, &out.summaries, &out.disagreements);
        serde_json::to_string_pretty(&combined)
    } else {
        serde_json::to_string_pretty(first)
    };
    let mut summary_files: Vec<PathBuf> = a.summary.iter().cloned().collect();
    if several && a.format != ReplayFormat::Summary {
        if let Some(dir) = &a.output {
            summary_files.push(dir.join("summary.json"));
        }
    }
    for path in summary_files {
        let written = summary_json
            .as_ref()
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|s| std::fs::write(&path, format!("{s}\n")));
        if let Err(e) = written {
            error(&format!(
                "{}: cannot write the summary: {e}",
                for_terminal(&path.display().to_string())
            ));
            return ExitCode::Trouble;
        }
    }
    if out.trouble() || first.records.verify_misses > 0 {
        return ExitCode::Trouble;
    }
    let code = gate(&a, &names, &out.summaries);
    // The process exits next: freeing hundreds of thousands of strings one by one would cost
    // tens of milliseconds on a large archive for nothing.
    std::mem::forget(out);
    code
}

/// The CI gate: no false green. Input without a CloudTrail record, fewer events than
/// `--min-events`, a baseline below `--min-fidelity`, and a `--fail-on` change each fail, with
/// one line on stderr saying why.
fn gate(a: &ReplayArgs, names: &[String], summaries: &[report::Summary]) -> ExitCode {
    let s = &summaries[0];
    if s.records.cloudtrail_records() == 0 && !a.allow_empty {
        let skipped: u64 = s.files.skipped.values().sum();
        error(&format!(
            "no CloudTrail record in the input: {} file(s) read ({} without CloudTrail records), {} skipped, {} failed; nothing was checked (add `--allow-empty` if that is expected)",
            s.files.read, s.files.without_records, skipped, s.files.failed
        ));
        return ExitCode::Trouble;
    }
    if let Some(min) = a.min_events {
        if s.evaluated < min {
            error(&format!(
                "only {} session event(s) evaluated ({} skipped), fewer than `--min-events {min}`",
                s.evaluated, s.skipped
            ));
            return ExitCode::Trouble;
        }
    }
    let mut code = ExitCode::Success;
    if let (Some(min), Some(f)) = (a.min_fidelity, &s.fidelity) {
        let total = f.agree + f.disagree;
        let pct = if total == 0 {
            0.0
        } else {
            100.0 * f.agree as f64 / total as f64
        };
        if pct < min {
            let first: Vec<&str> = f.disagreeing.iter().take(3).map(String::as_str).collect();
            error(&format!(
                "baseline fidelity {pct:.1}% ({} of {total} recorded outcomes) is below `--min-fidelity {min}`; first mismatches: {}",
                f.agree,
                if first.is_empty() { "none (no recorded outcome to compare)".to_string() } else { first.join("; ") }
            ));
            code = ExitCode::Found;
        }
    }
    // `--fail-on` applies to every candidate; with several, the message names which.
    for (name, s) in names.iter().zip(summaries) {
        let count = |c: Change| s.changes.get(c.as_str()).copied().unwrap_or(0);
        let accepted = |c: Change| s.accepted.get(c.as_str()).copied().unwrap_or(0);
        // Accepted changes were reviewed: they do not fail the gate.
        let hit = |c: Change| count(c) > accepted(c);
        let failed = a.fail_on.iter().any(|f| match f {
            FailOn::NewlyDenied => hit(Change::NewlyDenied),
            FailOn::NewlyAllowed => hit(Change::NewlyAllowed),
            FailOn::Uncertain => hit(Change::Uncertain),
            FailOn::Any => {
                hit(Change::NewlyDenied) || hit(Change::NewlyAllowed) || hit(Change::Uncertain)
            }
        });
        if failed {
            let which = if names.len() > 1 {
                format!(" candidate `{name}`:")
            } else {
                String::new()
            };
            error(&format!(
                "--fail-on:{which} {} newly_denied, {} newly_allowed, {} uncertain",
                count(Change::NewlyDenied),
                count(Change::NewlyAllowed),
                count(Change::Uncertain)
            ));
            code = ExitCode::Found;
        }
    }
    code
}
