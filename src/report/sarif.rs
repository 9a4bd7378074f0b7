//! `--format sarif`: SARIF 2.1.0 for code-scanning upload (OASIS SARIF 2.1.0 errata 01;
//! GitHub Docs, "SARIF support for code scanning"). One result per (policy statement, change
//! kind), located on the statement's lines in the policy file (for a document inside an export
//! or a Terraform plan: that file, with the ARN or address as logical location), with the
//! number of events and principals it affects and a few example events.
//!
//! The statement a change is laid on: for a newly denied event, the candidate's denying
//! statement, or for an implicit deny the candidate statement that came nearest to allowing,
//! else the baseline statement that used to allow it, else the candidate's file; for a newly
//! allowed or uncertain event, the candidate statement that allows (or may allow) it.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{json, Value};

use crate::compare::{Change, Explained};
use crate::eval::explain::StatementRef;
use crate::policy::set::Location;
use crate::report::Row;

/// Example events kept per result.
const EXAMPLES: usize = 3;
/// Distinct principals counted per result (memory stays bounded).
const MAX_PRINCIPALS: usize = 10_000;

const RULES: [(Change, &str, &str, &str); 3] = [
    (
        Change::NewlyDenied,
        "newly-denied",
        "error",
        "Recorded session events this change would deny",
    ),
    (
        Change::NewlyAllowed,
        "newly-allowed",
        "warning",
        "Recorded session events this change would newly allow",
    ),
    (
        Change::Uncertain,
        "uncertain",
        "note",
        "Recorded session events whose outcome under this change depends on what the log does not tell",
    ),
];

#[derive(Debug, Default)]
struct Finding {
    events: u64,
    principals: HashSet<String>,
    more_principals: bool,
    examples: Vec<Value>,
    first_explanation: String,
}

/// Where a finding is laid: a statement (policy name, 1-based index) or a policy set's file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Anchor {
    Statement(String, usize),
    File(String),
}

/// Collects results from the rows as they come.
#[derive(Debug)]
pub struct Sarif {
    locations: HashMap<String, Location>,
    default_file: String,
    findings: BTreeMap<(usize, Anchor), Finding>,
}

/// The statement a changed row is laid on (see the module's documentation).
fn anchor_statement(change: Change, e: &Explained) -> Option<&StatementRef> {
    let c = &e.candidate;
    match change {
        Change::NewlyDenied if c.decision == "explicitDeny" => c.statements.first(),
        Change::NewlyDenied => c
            .nearest
            .as_ref()
            .map(|(s, _)| s)
            .or_else(|| e.baseline.as_ref().and_then(|b| b.statements.first())),
        _ => c
            .statements
            .first()
            .or_else(|| c.nearest.as_ref().map(|(s, _)| s)),
    }
}

/// A path as a relative URI reference (RFC 3986): separators `/`, other characters that are
/// not unreserved or `/` percent-encoded.
fn uri(path: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    let p = path.replace('\\', "/");
    let p = p.strip_prefix("./").unwrap_or(&p);
    percent_encoding::utf8_percent_encode(p, KEEP).to_string()
}

impl Sarif {
    /// A collector for a candidate whose policies are at `locations` (with the baseline's,
    /// for statements that used to allow).
    pub fn new(locations: HashMap<String, Location>) -> Sarif {
        let mut files: Vec<&String> = locations.values().map(|l| &l.file).collect();
        files.sort();
        let default_file = files.first().map(|f| f.to_string()).unwrap_or_default();
        Sarif {
            locations,
            default_file,
            findings: BTreeMap::new(),
        }
    }

    /// Counts a row.
    pub fn add(&mut self, r: &Row) {
        let Some(rule) = RULES.iter().position(|(c, ..)| *c == r.change) else {
            return;
        };
        let anchor = r
            .explanation
            .as_deref()
            .and_then(|e| anchor_statement(r.change, e))
            .map(|s| Anchor::Statement(s.policy.clone(), s.index))
            .unwrap_or_else(|| Anchor::File(self.default_file.clone()));
        let f = self.findings.entry((rule, anchor)).or_default();
        f.events += 1;
        if f.principals.len() < MAX_PRINCIPALS {
            f.principals.insert(r.principal_arn.clone());
        } else if !f.principals.contains(&r.principal_arn) {
            f.more_principals = true;
        }
        if f.first_explanation.is_empty() {
            f.first_explanation = r
                .explanation
                .as_ref()
                .map(|e| e.line())
                .unwrap_or_else(|| r.candidate_reason.clone());
        }
        if f.examples.len() < EXAMPLES {
            f.examples.push(json!({
                "eventID": r.event_id,
                "eventTime": r.event_time,
                "eventName": r.event_name,
                "principal": r.principal_arn,
                "target": r.target,
                "file": r.file,
            }));
        }
    }

    fn location(&self, anchor: &Anchor) -> Value {
        let (file, region, logical) = match anchor {
            Anchor::File(f) => (f.clone(), None, None),
            Anchor::Statement(policy, index) => match self.locations.get(policy) {
                Some(l) => (
                    l.file.clone(),
                    l.lines.get(index.saturating_sub(1)).copied(),
                    l.logical.clone(),
                ),
                None => (self.default_file.clone(), None, Some(policy.clone())),
            },
        };
        let mut physical = json!({ "artifactLocation": { "uri": uri(&file) } });
        if let Some((start, end)) = region {
            physical["region"] = json!({ "startLine": start, "endLine": end });
        }
        let mut loc = json!({ "physicalLocation": physical });
        if let Some(name) = logical {
            loc["logicalLocations"] = json!([{ "fullyQualifiedName": name, "kind": "policy" }]);
        }
        loc
    }

    /// The SARIF log.
    pub fn render(&self) -> String {
        let rules: Vec<Value> = RULES
            .iter()
            .map(|(_, id, level, text)| {
                json!({
                    "id": id,
                    "name": id,
                    "shortDescription": { "text": text },
                    "fullDescription": { "text": format!("{text}: trailreplay replays recorded CloudTrail Session Manager events against the proposed policies and reports the events whose outcome would change.") },
                    "defaultConfiguration": { "level": level },
                })
            })
            .collect();
        let results: Vec<Value> = self
            .findings
            .iter()
            .map(|((rule, anchor), f)| {
                let (change, id, level, _) = RULES[*rule];
                let what = match change {
                    Change::NewlyDenied => "would be newly denied",
                    Change::NewlyAllowed => "would be newly allowed",
                    _ => "depend on what the log does not tell",
                };
                let principals = format!(
                    "{}{}",
                    f.principals.len(),
                    if f.more_principals { "+" } else { "" }
                );
                let where_ = match anchor {
                    Anchor::Statement(policy, index) => format!("{policy} statement {index}"),
                    Anchor::File(file) => file.clone(),
                };
                let fingerprint = format!("{id}:{where_}");
                json!({
                    "ruleId": id,
                    "ruleIndex": rule,
                    "level": level,
                    "message": { "text": format!(
                        "{} recorded session event(s) of {principals} principal(s) {what}. First: {}",
                        f.events, f.first_explanation
                    ) },
                    "locations": [ self.location(anchor) ],
                    "partialFingerprints": { "trailreplay/v1": fingerprint },
                    "properties": {
                        "events": f.events,
                        "principals": f.principals.len(),
                        "examples": f.examples,
                    },
                })
            })
            .collect();
        let log = json!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": { "driver": {
                    "name": "trailreplay",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                } },
                "results": results,
            }],
        });
        let mut text = serde_json::to_string_pretty(&log).unwrap_or_default();
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_relative_uri_references() {
        assert_eq!(uri("policies/a b.json"), "policies/a%20b.json");
        assert_eq!(uri("./x.json"), "x.json");
        assert_eq!(uri("dir\\x#1.json"), "dir/x%231.json");
    }
}
