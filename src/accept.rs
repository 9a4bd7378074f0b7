//! Accepted changes (`--accept FILE`): changes a review has seen and accepted, with a reason and
//! an expiry date. An accepted row keeps its change and gains the reason; `--fail-on` does not
//! count it; an expired entry is ignored (with a warning); an entry that matched nothing is
//! listed as stale.
//!
//! ```toml
//! [[accept]]
//! principal = "arn:aws:sts::*:assumed-role/Ops/*"  # glob on principal_arn; `*` also matches `/`
//! action = "ssm:StartSession"                      # optional
//! target = "i-0abc*"                               # optional; the target or a resource ARN
//! change = "newly_denied"                          # optional
//! reason = "Ops moves to port forwarding only (CHG-1234)"
//! expires = 2027-01-31
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::NaiveDate;
use serde::Deserialize;

use crate::compare::Change;
use crate::policy::pattern::{Pattern, Syntax};
use crate::report::Row;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    accept: Vec<RawEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    principal: toml::Spanned<String>,
    action: Option<String>,
    target: Option<String>,
    change: Option<toml::Spanned<String>>,
    reason: String,
    expires: toml::Spanned<toml::value::Datetime>,
}

/// One accepted change.
#[derive(Debug)]
struct Entry {
    line: usize,
    principal_text: String,
    principal: Pattern,
    action: Option<String>,
    target: Option<Pattern>,
    change: Option<Change>,
    reason: Arc<str>,
    matched: AtomicU64,
}

/// A malformed accept file: where and what.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct AcceptError {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// The accepted changes in force.
#[derive(Debug, Default)]
pub struct AcceptList {
    file: String,
    entries: Vec<Entry>,
    /// Entries ignored because they expired.
    pub warnings: Vec<String>,
}

fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn glob(text: &str) -> Result<Pattern, String> {
    Pattern::parse(
        text,
        Syntax {
            wildcards: true,
            variables: false,
            ignore_case: false,
        },
    )
    .map_err(|e| e.0)
}

impl AcceptList {
    /// Reads an accept file; entries that expired before `today` are dropped with a warning.
    pub fn parse(file: &str, text: &str, today: NaiveDate) -> Result<AcceptList, AcceptError> {
        let err = |offset: usize, message: String| {
            let (line, column) = position(text, offset);
            AcceptError {
                file: file.to_string(),
                line,
                column,
                message,
            }
        };
        let raw: File = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            err(offset, e.message().to_string())
        })?;
        let mut out = AcceptList {
            file: file.to_string(),
            ..AcceptList::default()
        };
        for r in raw.accept {
            let at = r.principal.span().start;
            let line = position(text, at).0;
            let Some(date) = r.expires.get_ref().date else {
                return Err(err(
                    r.expires.span().start,
                    "`expires` must be a date (YYYY-MM-DD)".to_string(),
                ));
            };
            let expires = NaiveDate::from_ymd_opt(
                i32::from(date.year),
                u32::from(date.month),
                u32::from(date.day),
            )
            .ok_or_else(|| err(r.expires.span().start, "`expires`: not a date".to_string()))?;
            if r.reason.trim().is_empty() {
                return Err(err(
                    at,
                    "`reason` must say why the change is accepted".to_string(),
                ));
            }
            let change = match &r.change {
                None => None,
                Some(c) => Some(
                    [Change::NewlyDenied, Change::NewlyAllowed, Change::Uncertain]
                        .into_iter()
                        .find(|k| k.as_str() == c.get_ref())
                        .ok_or_else(|| {
                            err(
                                c.span().start,
                                format!(
                                    "`change = \"{}\"`: one of newly_denied, newly_allowed, uncertain",
                                    c.get_ref()
                                ),
                            )
                        })?,
                ),
            };
            if expires < today {
                out.warnings.push(format!(
                    "{file}:{line}: accepted change expired on {expires} ({}): ignored",
                    r.reason
                ));
                continue;
            }
            let principal = glob(r.principal.get_ref()).map_err(|e| err(at, e))?;
            let target = r
                .target
                .as_deref()
                .map(glob)
                .transpose()
                .map_err(|e| err(at, e))?;
            out.entries.push(Entry {
                line,
                principal_text: r.principal.get_ref().clone(),
                principal,
                action: r.action.map(|a| {
                    let a = a.to_ascii_lowercase();
                    a.strip_prefix("ssm:").map(str::to_string).unwrap_or(a)
                }),
                target,
                change,
                reason: Arc::from(r.reason.as_str()),
                matched: AtomicU64::new(0),
            });
        }
        Ok(out)
    }

    /// The reason of the first entry that accepts this row's change, if any.
    pub fn reason_for(&self, r: &Row) -> Option<Arc<str>> {
        if !matches!(
            r.change,
            Change::NewlyDenied | Change::NewlyAllowed | Change::Uncertain
        ) {
            return None;
        }
        let e = self.entries.iter().find(|e| {
            e.principal.matches(&r.principal_arn)
                && e.action
                    .as_deref()
                    .is_none_or(|a| a.eq_ignore_ascii_case(&r.event_name))
                && e.change.is_none_or(|c| c == r.change)
                && e.target.as_ref().is_none_or(|t| {
                    t.matches(&r.target) || r.resources.split(';').any(|arn| t.matches(arn))
                })
        })?;
        e.matched.fetch_add(1, Ordering::Relaxed);
        Some(e.reason.clone())
    }

    /// Entries that matched no event: `FILE:LINE: principal … (reason)`.
    pub fn stale(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|e| e.matched.load(Ordering::Relaxed) == 0)
            .map(|e| {
                format!(
                    "{}:{}: {} ({})",
                    self.file, e.line, e.principal_text, e.reason
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 3).expect("date")
    }

    #[test]
    fn malformed_files_name_line_and_column() {
        for (text, line, message) in [
            ("[[accept]]\nprincipal = \"x\"\nreason = \"r\"\n", 1, "expires"),
            (
                "[[accept]]\nprincipal = \"x\"\nreason = \"r\"\nexpires = 2027-01-31\ncolour = 1\n",
                5,
                "colour",
            ),
            (
                "[[accept]]\nprincipal = \"x\"\nreason = \"r\"\nexpires = \"soon\"\n",
                4,
                "",
            ),
            (
                "[[accept]]\nprincipal = \"x\"\nchange = \"gone\"\nreason = \"r\"\nexpires = 2027-01-31\n",
                3,
                "newly_denied",
            ),
            ("[[accept]\n", 1, ""),
        ] {
            let e = AcceptList::parse("a.toml", text, today()).expect_err(text);
            assert_eq!(e.line, line, "{text}: {e}");
            assert!(e.message.contains(message), "{text}: {e}");
        }
    }

    #[test]
    fn expired_entries_are_dropped_with_a_warning() {
        let list = AcceptList::parse(
            "a.toml",
            "[[accept]]\nprincipal = \"*\"\nreason = \"old\"\nexpires = 2020-01-01\n\n[[accept]]\nprincipal = \"*\"\nreason = \"new\"\nexpires = 2027-01-01\n",
            today(),
        )
        .expect("parses");
        assert_eq!(list.entries.len(), 1);
        assert!(list.warnings[0].contains("expired on 2020-01-01"));
        assert_eq!(list.stale(), ["a.toml:7: * (new)"]);
    }
}
