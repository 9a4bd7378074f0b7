//! `--format markdown`: a pull-request comment or job summary. A one-line verdict, headline
//! counts, per change kind a table by principal and action, and up to `--max-rows` example
//! events in `<details>` blocks.
//!
//! Caller-controlled text (principal ARNs with role session names, targets, reasons quoting
//! them) only ever appears inside code spans, which CommonMark renders literally (no links,
//! images, HTML, emphasis), GitHub neither auto-links nor scans for `@mentions` there
//! (GitHub Docs, "Basic writing and formatting syntax": mentions and autolinks are not
//! processed in code), with `|` escaped (GFM spec, "Tables": a pipe inside a cell, even inside
//! a code span, must be escaped) and control characters, including line breaks, written as
//! escapes. The whole comment stays under GitHub's limit of 65,536 characters.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::compare::Change;
use crate::report::{Row, Summary};
use crate::sanitize::for_terminal;

/// GitHub rejects comments longer than this (characters).
pub const GITHUB_LIMIT: usize = 65_536;
/// What the report aims at, leaving room for a job's own header.
const BUDGET: usize = 60_000;
/// Longest caller-controlled string shown (characters); longer ones are cut with `…`.
const MAX_TEXT: usize = 240;
/// Rows of a principal × action table.
const MAX_GROUPS: usize = 25;
/// Distinct (principal, action) pairs counted per kind; beyond, counted as "others" (memory
/// stays bounded whatever the input).
const MAX_KEYS: usize = 10_000;

/// The change kinds a review reads, in order.
const KINDS: [Change; 4] = [
    Change::NewlyDenied,
    Change::NewlyAllowed,
    Change::Uncertain,
    Change::Skipped,
];

fn kind_index(c: Change) -> Option<usize> {
    KINDS.iter().position(|k| *k == c)
}

fn title(c: Change) -> &'static str {
    match c {
        Change::NewlyDenied => "Newly denied",
        Change::NewlyAllowed => "Newly allowed",
        Change::Uncertain => "Uncertain",
        Change::Skipped => "Skipped",
        Change::Unchanged => "Unchanged",
    }
}

#[derive(Debug, Clone)]
struct Example {
    time: String,
    action: String,
    principal: String,
    target: String,
    verdicts: String,
    reason: String,
}

#[derive(Debug, Default)]
struct Kind {
    events: u64,
    groups: BTreeMap<(String, String), u64>,
    others: u64,
    examples: Vec<Example>,
}

/// Collects what the comment needs from the rows as they come (bounded memory).
#[derive(Debug)]
pub struct Markdown {
    max_rows: usize,
    kinds: [Kind; 4],
}

/// Caller-controlled text as a code span: cut to 240 characters, control characters escaped,
/// `|` escaped for tables, delimited by more backticks than it holds.
pub fn code(s: &str) -> String {
    if s.is_empty() {
        return String::new();
    }
    let cut: String = if s.chars().count() > MAX_TEXT {
        s.chars().take(MAX_TEXT - 1).chain(['…']).collect()
    } else {
        s.to_string()
    };
    let text = for_terminal(&cut).replace('|', "\\|");
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    if longest == 0 && !text.starts_with(' ') && !text.ends_with(' ') {
        return format!("`{text}`");
    }
    // A space on each side keeps backticks at either end apart from the fence; CommonMark
    // strips one space each side.
    format!("{fence} {text} {fence}")
}

impl Markdown {
    /// A collector keeping up to `max_rows` example events per change kind.
    pub fn new(max_rows: usize) -> Markdown {
        Markdown {
            max_rows,
            kinds: Default::default(),
        }
    }

    /// Counts a row and keeps it as an example while there is room.
    pub fn add(&mut self, r: &Row) {
        let Some(i) = kind_index(r.change) else {
            return;
        };
        let k = &mut self.kinds[i];
        k.events += 1;
        let key = (r.principal_arn.clone(), r.event_name.clone());
        let room = k.groups.len() < MAX_KEYS;
        match k.groups.get_mut(&key) {
            Some(n) => *n += 1,
            None if room => {
                k.groups.insert(key, 1);
            }
            None => k.others += 1,
        }
        if k.examples.len() < self.max_rows {
            let verdict = |v: Option<crate::compare::Verdict>| v.map_or("", |v| v.as_str());
            k.examples.push(Example {
                time: r.event_time.clone(),
                action: r.event_name.clone(),
                principal: r.principal_arn.clone(),
                target: r.target.clone(),
                verdicts: match (r.baseline, r.candidate) {
                    (None, None) => "not evaluated".to_string(),
                    (b, c) => format!("{} → {}", verdict(b), verdict(c)),
                },
                reason: if let Some(e) = &r.explanation {
                    e.line()
                } else if r.change == Change::Skipped {
                    r.candidate_reason.clone()
                } else if r.candidate_reason.is_empty() {
                    r.baseline_reason.clone()
                } else {
                    r.candidate_reason.clone()
                },
            });
        }
    }

    /// The comment, for a candidate named `name`, with the run's summary.
    pub fn render(&self, name: &str, s: &Summary) -> String {
        let count = |c: Change| s.changes.get(c.as_str()).copied().unwrap_or(0);
        let (denied, allowed, uncertain) = (
            count(Change::NewlyDenied),
            count(Change::NewlyAllowed),
            count(Change::Uncertain),
        );
        let mut out = String::new();
        let verdict = if denied + allowed == 0 && uncertain == 0 {
            "✅ **No recorded session event changes.**".to_string()
        } else if denied + allowed == 0 {
            format!("⚠️ **No definite change; {uncertain} event(s) depend on what the log does not tell.**")
        } else {
            format!(
                "❌ **{denied} recorded event(s) newly denied, {allowed} newly allowed** ({uncertain} uncertain)."
            )
        };
        let _ = writeln!(out, "{verdict}\n");
        let _ = writeln!(
            out,
            "trailreplay: candidate {} against the {} baseline; {} session event(s) evaluated, {} skipped, {} outside the window or filters; {} file(s) read, {} failed.\n",
            code(name),
            if s.baseline == "recorded" {
                "recorded (the log's outcomes)"
            } else {
                "policy"
            },
            s.evaluated,
            s.skipped,
            s.outside_window,
            s.files.read,
            s.files.failed,
        );
        out.push_str("| change | events |\n| --- | ---: |\n");
        for c in Change::ALL {
            let _ = writeln!(out, "| {} | {} |", c.as_str(), count(c));
        }
        out.push('\n');
        if let Some(f) = &s.fidelity {
            let _ = writeln!(
                out,
                "Baseline fidelity: reproduces {} of {} recorded outcomes.\n",
                f.agree,
                f.agree + f.disagree
            );
        }
        let mut truncated = false;
        for (i, c) in KINDS.iter().enumerate() {
            let k = &self.kinds[i];
            if k.events == 0 {
                continue;
            }
            let mut section = String::new();
            let _ = writeln!(section, "### {} ({})\n", title(*c), k.events);
            section.push_str("| principal | action | events |\n| --- | --- | ---: |\n");
            let mut groups: Vec<(&(String, String), &u64)> = k.groups.iter().collect();
            groups.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
            for ((principal, action), n) in groups.iter().take(MAX_GROUPS) {
                let _ = writeln!(section, "| {} | {} | {n} |", code(principal), code(action));
            }
            let hidden_groups = groups.len().saturating_sub(MAX_GROUPS) as u64;
            if hidden_groups > 0 || k.others > 0 {
                let rest: u64 = groups
                    .iter()
                    .skip(MAX_GROUPS)
                    .map(|(_, n)| **n)
                    .sum::<u64>()
                    + k.others;
                let _ = writeln!(section, "| *and more principals and actions* | | {rest} |");
            }
            section.push('\n');
            if out.len() + section.len() > BUDGET {
                truncated = true;
                break;
            }
            out.push_str(&section);
            let mut details = String::new();
            let _ = writeln!(
                details,
                "<details><summary>{} example event(s)</summary>\n",
                k.examples.len()
            );
            details.push_str(
                "| time | action | principal | target | baseline → candidate | reason |\n| --- | --- | --- | --- | --- | --- |\n",
            );
            let close = "\n</details>\n\n";
            let mut shown = 0;
            for e in &k.examples {
                let line = format!(
                    "| {} | {} | {} | {} | {} | {} |\n",
                    code(&e.time),
                    code(&e.action),
                    code(&e.principal),
                    code(&e.target),
                    e.verdicts,
                    code(&e.reason)
                );
                if out.len() + details.len() + line.len() + close.len() + 200 > BUDGET {
                    truncated = true;
                    break;
                }
                details.push_str(&line);
                shown += 1;
            }
            let more = k.events - shown as u64;
            if more > 0 {
                let _ = writeln!(
                    details,
                    "\nand {more} more (see the CSV or JSON lines report)"
                );
            }
            details.push_str(close);
            out.push_str(&details);
        }
        if truncated {
            out.push_str(
                "*Cut to fit a GitHub comment: the CSV or JSON lines report has every event.*\n",
            );
        }
        debug_assert!(out.chars().count() < GITHUB_LIMIT);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_hold_anything() {
        assert_eq!(code("a"), "`a`");
        assert_eq!(code("a`b"), "`` a`b ``");
        assert_eq!(code(" a"), "`  a `");
        assert_eq!(code("x|y"), "`x\\|y`");
        assert_eq!(code("l1\nl2"), "`l1\\nl2`");
        assert!(code(&"x".repeat(500)).chars().count() < MAX_TEXT + 10);
        assert_eq!(code(""), "");
    }
}
