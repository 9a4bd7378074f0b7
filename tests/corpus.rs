//! The policy-language corpus: each file in `tests/corpus/` is one case (policies, request,
//! expected decision) citing the AWS behaviour it checks. Add a case by adding a file; a field
//! the reader does not know is an error (a misspelt `expect_deciding` must not pass silently).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use trailreplay::eval::Decision;
use trailreplay::policy::{compile_document, CompiledPolicy};
use trailreplay::simulate::Simulation;

use crate::common::root;

/// A context value: one string, or several for a multivalued key.
#[derive(Deserialize)]
#[serde(untagged)]
enum ContextValue {
    One(String),
    Many(Vec<String>),
}

/// A statement expected among the deciding ones: `policy1.json` is the first of `policies`,
/// `scp1.json` the first SCP, `boundary`, `session`.
#[derive(Deserialize, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct Deciding {
    policy: String,
    statement: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    cites: String,
    policies: Vec<Value>,
    #[serde(default)]
    scps: Vec<Value>,
    #[serde(default)]
    session: Vec<Value>,
    boundary: Option<Value>,
    action: String,
    resources: Vec<String>,
    #[serde(default)]
    context: BTreeMap<String, ContextValue>,
    #[serde(default)]
    unknown: Vec<String>,
    expect: String,
    expect_unknown_keys: Option<Vec<String>>,
    expect_deciding: Option<Vec<Deciding>>,
}

fn compile(name: &str, v: &Value) -> CompiledPolicy {
    let c = compile_document(name, v);
    assert!(c.errors.is_empty(), "{name}: {:?}", c.errors);
    c.policy.expect("compiled")
}

#[test]
fn corpus() {
    let dir = root().join("tests/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 50, "corpus has {} cases", files.len());
    let mut failures = Vec::new();
    let mut with_deciding = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read case");
        let case: Case = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not a corpus case: {e}", f.display()));
        let name = case.name.clone();
        assert!(
            !case.cites.is_empty(),
            "{name}: every case cites the behaviour it checks"
        );
        let mut context = Vec::new();
        for (k, v) in &case.context {
            match v {
                ContextValue::One(s) => context.push((k.clone(), s.clone())),
                ContextValue::Many(a) => {
                    context.extend(a.iter().map(|x| (k.clone(), x.clone())));
                }
            }
        }
        let sim = Simulation {
            action: case.action.clone(),
            resources: case.resources.clone(),
            policies: case
                .policies
                .iter()
                .enumerate()
                .map(|(i, p)| compile(&format!("policy{}.json", i + 1), p))
                .collect(),
            scps: case
                .scps
                .iter()
                .enumerate()
                .map(|(i, p)| compile(&format!("scp{}.json", i + 1), p))
                .collect(),
            boundary: case.boundary.as_ref().map(|b| compile("boundary", b)),
            session: case.session.iter().map(|p| compile("session", p)).collect(),
            context,
            unknown: case.unknown.clone(),
        };
        let e = sim.run();
        if e.decision.as_str() != case.expect {
            failures.push(format!(
                "{name}: expected {}, got {} ({})",
                case.expect, e.decision, e.reason
            ));
        }
        if let Some(keys) = &case.expect_unknown_keys {
            let want: Vec<String> = keys.iter().map(|k| k.to_lowercase()).collect();
            let got: Vec<String> = e.unknown_keys.iter().map(|k| k.to_lowercase()).collect();
            if want != got {
                failures.push(format!("{name}: unknown keys {got:?}, expected {want:?}"));
            }
        }
        if let Some(want) = &case.expect_deciding {
            with_deciding += 1;
            let got: Vec<Deciding> = e
                .deciding
                .iter()
                .map(|d| Deciding {
                    policy: d.policy.to_string(),
                    statement: d.statement,
                })
                .collect();
            if &got != want {
                failures.push(format!(
                    "{name}: deciding statements {got:?}, expected {want:?}"
                ));
            }
        }
        if e.decision == Decision::Indeterminate && e.unknown_keys.is_empty() {
            failures.push(format!("{name}: indeterminate without naming its keys"));
        }
    }
    assert!(
        with_deciding >= 5,
        "{with_deciding} cases name their deciding statements"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
