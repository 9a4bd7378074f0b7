//! The policy-language corpus: each file in `tests/corpus/` is one case (policies, request,
//! expected decision) citing the AWS behaviour it checks. Add a case by adding a file.

use serde_json::Value;
use trailreplay::eval::Decision;
use trailreplay::policy::{compile_document, CompiledPolicy};
use trailreplay::simulate::Simulation;

use crate::common::root;

fn compile(name: &str, v: &Value) -> CompiledPolicy {
    let c = compile_document(name, v);
    assert!(c.errors.is_empty(), "{name}: {:?}", c.errors);
    c.policy.expect("compiled")
}

fn list(v: Option<&Value>) -> Vec<Value> {
    v.and_then(Value::as_array).cloned().unwrap_or_default()
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
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read case");
        let case: Value = serde_json::from_str(&text).expect("case is JSON");
        let name = case["name"].as_str().expect("name").to_string();
        assert!(
            case["cites"].as_str().is_some_and(|c| !c.is_empty()),
            "{name}: every case cites the behaviour it checks"
        );
        let policies = list(case.get("policies"))
            .iter()
            .enumerate()
            .map(|(i, p)| compile(&format!("policy{}", i + 1), p))
            .collect();
        let scps = list(case.get("scps"))
            .iter()
            .enumerate()
            .map(|(i, p)| compile(&format!("scp{}", i + 1), p))
            .collect();
        let session = list(case.get("session"))
            .iter()
            .map(|p| compile("session", p))
            .collect();
        let boundary = case.get("boundary").map(|b| compile("boundary", b));
        let mut context = Vec::new();
        if let Some(obj) = case["context"].as_object() {
            for (k, v) in obj {
                match v {
                    Value::Array(a) => {
                        for x in a {
                            context.push((k.clone(), x.as_str().expect("string").to_string()))
                        }
                    }
                    Value::String(s) => context.push((k.clone(), s.clone())),
                    other => panic!("{name}: context value {other}"),
                }
            }
        }
        let sim = Simulation {
            action: case["action"].as_str().expect("action").to_string(),
            resources: list(case.get("resources"))
                .iter()
                .map(|r| r.as_str().expect("resource").to_string())
                .collect(),
            policies,
            scps,
            boundary,
            session,
            context,
            unknown: list(case.get("unknown"))
                .iter()
                .map(|k| k.as_str().expect("key").to_string())
                .collect(),
        };
        let e = sim.run();
        let expect = case["expect"].as_str().expect("expect");
        if e.decision.as_str() != expect {
            failures.push(format!(
                "{name}: expected {expect}, got {} ({})",
                e.decision, e.reason
            ));
        }
        if let Some(keys) = case.get("expect_unknown_keys").and_then(Value::as_array) {
            let want: Vec<String> = keys
                .iter()
                .map(|k| k.as_str().expect("key").to_lowercase())
                .collect();
            let got: Vec<String> = e.unknown_keys.iter().map(|k| k.to_lowercase()).collect();
            if want != got {
                failures.push(format!("{name}: unknown keys {got:?}, expected {want:?}"));
            }
        }
        if e.decision == Decision::Indeterminate && e.unknown_keys.is_empty() {
            failures.push(format!("{name}: indeterminate without naming its keys"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
