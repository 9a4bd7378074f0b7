//! Change review: a candidate scoped to what a change touches (overlays on the baseline export,
//! SCPs per side, principal filters), driven through the binary on the bundled samples.

use std::collections::BTreeSet;

use crate::common::{run, tempdir, Run};

const EXPORT: &str = "samples/policies/authorization-details.json";
const LOGS: &str = "samples/AWSLogs";

fn replay(extra: &[&str]) -> Run {
    let mut args = vec![
        "replay",
        "--inventory",
        "samples/inventory/describe-instances.json",
        "--inventory",
        "samples/inventory/managed-instances.csv",
        "--format",
        "jsonl",
    ];
    args.extend_from_slice(extra);
    args.push(LOGS);
    run(args)
}

/// (principal, event name, target, change) of each row.
fn rows(r: &Run) -> Vec<(String, String, String, String)> {
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.json_lines()
        .iter()
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
            (
                s("principal_arn"),
                s("event_name"),
                s("target"),
                s("change"),
            )
        })
        .collect()
}

fn principals(rows: &[(String, String, String, String)]) -> BTreeSet<String> {
    rows.iter()
        .map(|r| r.0.rsplit([':', '/']).next().unwrap_or("").to_string())
        .collect()
}

#[test]
fn replacing_one_managed_policy_changes_only_its_holders() {
    // Unscoped, the seed's document replaces everyone's policies: the SSO admin and the Ops
    // role lose access too.
    let unscoped = rows(&replay(&[
        "--baseline",
        EXPORT,
        "--candidate",
        "samples/policies/seed-2a-instance-tag.json",
    ]));
    assert!(principals(&unscoped).contains("carol"), "{unscoped:?}");
    // Scoped: only the Engineers group's managed policy changes, so only alice and bob (its
    // members) can change; bob's sessions stay as they were (his own policies decide them).
    let scoped = rows(&replay(&[
        "--baseline",
        EXPORT,
        "--replace-policy",
        "SessionManagerEngineers=samples/policies/seed-2a-instance-tag.json",
    ]));
    assert_eq!(
        principals(&scoped),
        BTreeSet::from(["alice".to_string()]),
        "{scoped:?}"
    );
    assert!(scoped
        .iter()
        .any(|r| r.1 == "TerminateSession" && r.3 == "newly_denied"));
    // By ARN: the same.
    let by_arn = rows(&replay(&[
        "--baseline",
        EXPORT,
        "--replace-policy",
        "arn:aws:iam::987654321098:policy/SessionManagerEngineers=samples/policies/seed-2a-instance-tag.json",
    ]));
    assert_eq!(by_arn, scoped);
}

#[test]
fn attach_and_detach_touch_one_principal() {
    let dir = tempdir();
    let deny = dir.path().join("deny-start.json");
    std::fs::write(
        &deny,
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"NoShells","Effect":"Deny","Action":"ssm:StartSession","Resource":"*"}]}"#,
    )
    .expect("write");
    let attached = rows(&replay(&[
        "--baseline",
        EXPORT,
        "--attach",
        &format!("role/Ops={}", deny.display()),
    ]));
    assert_eq!(
        attached,
        [(
            "arn:aws:sts::987654321098:assumed-role/Ops/carol".to_string(),
            "StartSession".to_string(),
            "i-0a1b2c3d4e5f60003".to_string(),
            "newly_denied".to_string()
        )]
    );
    // bob's inline DenyPayroll denied one session explicitly; without it nothing allows it
    // (the group's policy allows only WebServers instances): denied still, implicitly.
    let detached = replay(&[
        "--baseline",
        EXPORT,
        "--detach",
        "user/bob=DenyPayroll",
        "--all",
    ]);
    assert_eq!(detached.code, 0, "{}", detached.stderr);
    let payroll: Vec<_> = detached
        .json_lines()
        .into_iter()
        .filter(|v| v["target"] == "i-0a1b2c3d4e5f60002")
        .collect();
    assert_eq!(payroll.len(), 1);
    assert_eq!(payroll[0]["baseline"], "explicitDeny");
    assert_eq!(payroll[0]["candidate"], "implicitDeny");
    assert_eq!(payroll[0]["change"], "unchanged");
    // Detaching the group's managed policy from the group: alice and bob lose their sessions.
    let group = rows(&replay(&[
        "--baseline",
        EXPORT,
        "--detach",
        "group/Engineers=arn:aws:iam::987654321098:policy/SessionManagerEngineers",
    ]));
    assert_eq!(
        principals(&group),
        BTreeSet::from(["alice".to_string(), "bob".to_string()])
    );
    assert!(group.iter().all(|r| r.3 != "newly_allowed"), "{group:?}");
}

#[test]
fn overlays_refuse_what_they_cannot_apply() {
    let cases: [(&[&str], &str); 5] = [
        (
            &[
                "--replace-policy",
                "Nope=samples/policies/seed-4-admin.json",
            ],
            "give `--baseline`",
        ),
        (
            &[
                "--baseline",
                EXPORT,
                "--replace-policy",
                "Nope=samples/policies/seed-4-admin.json",
            ],
            "no managed policy named `Nope`",
        ),
        (
            &["--baseline", EXPORT, "--detach", "role/Opz=DenyPayroll"],
            "role/Opz is not in the baseline",
        ),
        (
            &[
                "--baseline",
                EXPORT,
                "--candidate",
                "samples/policies/seed-4-admin.json",
                "--detach",
                "user/bob=DenyPayroll",
            ],
            "give one or the other",
        ),
        (&["--baseline", EXPORT], "no candidate"),
    ];
    for (args, message) in cases {
        let r = replay(args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(message), "{args:?}: {}", r.stderr);
    }
}

#[test]
fn scps_per_side() {
    let dir = tempdir();
    let scp = dir.path().join("scp-no-terminate.json");
    std::fs::write(
        &scp,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"ssm:TerminateSession","Resource":"*"}]}"#,
    )
    .expect("write");
    let scp = scp.to_str().expect("utf8");
    // On the candidate's side only: every allowed TerminateSession is newly denied.
    let candidate = rows(&replay(&[
        "--baseline",
        EXPORT,
        "--candidate",
        EXPORT,
        "--candidate-scp",
        scp,
    ]));
    assert!(!candidate.is_empty());
    assert!(
        candidate
            .iter()
            .all(|r| r.1 == "TerminateSession" && r.3 == "newly_denied"),
        "{candidate:?}"
    );
    // On the baseline's side only: the same events, newly allowed.
    let baseline = rows(&replay(&[
        "--baseline",
        EXPORT,
        "--candidate",
        EXPORT,
        "--baseline-scp",
        scp,
    ]));
    assert_eq!(baseline.len(), candidate.len());
    assert!(baseline.iter().all(|r| r.3 == "newly_allowed"));
    // On both sides: nothing changes.
    assert!(rows(&replay(&[
        "--baseline",
        EXPORT,
        "--candidate",
        EXPORT,
        "--scp",
        scp
    ]))
    .is_empty());
    // A baseline SCP needs a baseline policy set.
    let r = replay(&["--candidate", EXPORT, "--baseline-scp", scp]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("`--baseline-scp`"), "{}", r.stderr);
}

#[test]
fn principal_filter_keeps_matching_events_and_counts_the_rest() {
    let dir = tempdir();
    let summary = dir.path().join("summary.json");
    let r = replay(&[
        "--candidate",
        "samples/policies/seed-2a-instance-tag.json",
        "--principal",
        "arn:aws:sts::*:assumed-role/Ops/*",
        "--all",
        "--summary",
        summary.to_str().expect("utf8"),
    ]);
    let kept = rows(&r);
    assert_eq!(
        principals(&kept),
        BTreeSet::from(["carol".to_string()]),
        "{kept:?}"
    );
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary")).expect("JSON");
    let n = |k: &str| s[k].as_u64().unwrap_or(0);
    assert_eq!(n("rows"), kept.len() as u64, "{s}");
    assert!(n("outside_window") > 0, "{s}");
    assert_eq!(
        n("outside_window") + n("rows"),
        n("ssm_session_events") - n("duplicates"),
        "{s}"
    );
}

/// The README's quick start, word for word, with `extra` arguments before the logs.
fn scoped(extra: &[&str]) -> Run {
    let mut args = vec![
        "replay",
        "--baseline",
        EXPORT,
        "--replace-policy",
        "SessionManagerEngineers=samples/policies/seed-2a-instance-tag.json",
        "--inventory",
        "samples/inventory/describe-instances.json",
        "--inventory",
        "samples/inventory/managed-instances.csv",
    ];
    args.extend_from_slice(extra);
    args.push(LOGS);
    run(args)
}

#[test]
fn readme_quick_start_is_scoped() {
    let r = scoped(&["--format", "summary"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!("readme_quick_start_scoped", r.stdout);
}

const OPS_PLAN: &str = "tests/data/terraform/ops-role.plan.json";
const ENGINEERS_PLAN: &str = "tests/data/terraform/engineers-policy.plan.json";

/// (event_id, change) of every row.
fn changes(r: &Run) -> Vec<(String, String)> {
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.json_lines()
        .iter()
        .map(|v| {
            (
                v["event_id"].as_str().unwrap_or("").to_string(),
                v["change"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn a_plan_changes_only_the_principals_it_touches() {
    // Without an export: the baseline is the plan's prior state, and principals the plan does
    // not touch are unchanged (their rows, with --all, say so).
    let r = replay(&["--plan", OPS_PLAN, "--all"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines = r.json_lines();
    let changed: Vec<_> = lines
        .iter()
        .filter(|v| v["change"] != "unchanged")
        .collect();
    assert_eq!(changed.len(), 2, "{changed:?}");
    for v in &changed {
        assert_eq!(
            v["principal_arn"],
            "arn:aws:sts::987654321098:assumed-role/Ops/carol"
        );
        assert_eq!(v["change"], "newly_denied");
        // The reason names the Terraform address (a for_each instance in a module) and the Sid.
        let reason = v["baseline_reason"].as_str().unwrap_or("");
        assert!(
            reason.contains(r#"module.ops["us-east-2"].aws_iam_role_policy.sessions"#)
                && reason.contains("OwnSessions"),
            "{reason}"
        );
    }
    let alice = lines
        .iter()
        .find(|v| v["principal_arn"] == "arn:aws:iam::987654321098:user/alice")
        .expect("alice's events are listed with --all");
    assert_eq!(alice["change"], "unchanged");
    assert!(alice["candidate_reason"]
        .as_str()
        .is_some_and(|s| s.contains("not managed by the change")));
    // Applied on the export: the same changes.
    let on_export = replay(&["--plan", OPS_PLAN, "--baseline", EXPORT]);
    let without: Vec<_> = changed
        .iter()
        .map(|v| (v["event_id"].to_string(), v["change"].to_string()))
        .collect();
    let with: Vec<_> = on_export
        .json_lines()
        .iter()
        .map(|v| (v["event_id"].to_string(), v["change"].to_string()))
        .collect();
    assert_eq!(with, without);
}

#[test]
fn a_managed_policy_plan_equals_the_overlay_on_the_export() {
    let overlay = changes(&replay(&[
        "--baseline",
        EXPORT,
        "--replace-policy",
        "SessionManagerEngineers=samples/policies/seed-2a-instance-tag.json",
    ]));
    let plan = changes(&replay(&["--plan", ENGINEERS_PLAN, "--baseline", EXPORT]));
    assert_eq!(plan, overlay);
    assert!(!plan.is_empty());
    // Without the export, the policy's holders outside the plan are not known: their events
    // are uncertain, saying why; the group's members get the same changes as with the export.
    let r = replay(&["--plan", ENGINEERS_PLAN]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for v in r.json_lines() {
        let principal = v["principal_arn"].as_str().unwrap_or("");
        if principal.ends_with("user/alice") || principal.ends_with("user/bob") {
            let id = v["event_id"].as_str().unwrap_or("").to_string();
            let change = v["change"].as_str().unwrap_or("").to_string();
            assert!(overlay.contains(&(id, change)), "{v}");
        } else {
            assert_eq!(v["change"], "uncertain", "{v}");
            let reason = v["candidate_reason"].as_str().unwrap_or("");
            assert!(
                reason.contains("aws_iam_policy.engineers") && reason.contains("--baseline"),
                "{reason}"
            );
        }
    }
}

#[test]
fn values_known_only_after_apply_are_uncertain_naming_the_address() {
    let r = replay(&["--plan", "tests/data/terraform/unknown-policy.plan.json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines = r.json_lines();
    assert_eq!(lines.len(), 3, "carol's three events");
    for v in lines {
        assert_eq!(v["change"], "uncertain");
        assert_eq!(
            v["candidate_reason"],
            "`aws_iam_role_policy.extra`: `policy` is known only after apply"
        );
    }
}

#[test]
fn plans_refuse_what_they_cannot_use() {
    let dir = tempdir();
    let state = dir.path().join("state.json");
    std::fs::write(
        &state,
        r#"{"format_version":"1.0","terraform_version":"1.9.8","values":{"root_module":{}}}"#,
    )
    .expect("write");
    let no_account = dir.path().join("no-account.json");
    std::fs::write(
        &no_account,
        r#"{"format_version":"1.2","resource_changes":[]}"#,
    )
    .expect("write");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "--plan",
                OPS_PLAN,
                "--candidate",
                "samples/policies/seed-4-admin.json",
            ],
            "give one or the other",
        ),
        (
            vec!["--plan", state.to_str().expect("utf8")],
            "this is a state",
        ),
        (
            vec!["--plan", no_account.to_str().expect("utf8")],
            "--plan-account",
        ),
        (
            vec![
                "--plan",
                OPS_PLAN,
                "--baseline",
                "samples/policies/seed-4-admin.json",
            ],
            "export the plan is applied to",
        ),
    ];
    for (args, message) in cases {
        let r = replay(&args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(message), "{args:?}: {}", r.stderr);
    }
    // Given the account, an empty plan runs and says it can change nothing.
    let r = replay(&[
        "--plan",
        no_account.to_str().expect("utf8"),
        "--plan-account",
        "987654321098",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("changes no IAM"), "{}", r.stderr);
    assert!(r.stdout.lines().count() <= 1, "{}", r.stdout);
}

/// Hostile caller-controlled strings: GitHub mentions, bare and Markdown links, images, HTML,
/// table breaks, code-span breaks, line breaks.
const HOSTILE: [&str; 8] = [
    "@everyone",
    "\\@everyone",
    "https://evil.example/phish",
    "[click](https://evil.example/x)",
    "![img](https://evil.example/i.png)",
    "<img src=x onerror=alert(1)>",
    "a | b | c",
    "``` ` \n# Heading\n</details><script>alert(1)</script>",
];

/// A log with one StartSession per hostile string, in the principal's name and in the target.
fn hostile_log(dir: &std::path::Path, copies: usize) -> std::path::PathBuf {
    let mut records = Vec::new();
    for n in 0..copies {
        for (i, h) in HOSTILE.iter().enumerate() {
            let who = format!("{h}{n}");
            records.push(serde_json::json!({
                "eventVersion": "1.09",
                "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE",
                    "arn": format!("arn:aws:iam::111122223333:user/{who}"), "accountId": "111122223333", "userName": who},
                "eventTime": "2024-05-01T10:00:00Z", "eventSource": "ssm.amazonaws.com", "eventName": "StartSession",
                "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.5", "userAgent": h,
                "requestParameters": {"target": if i % 2 == 0 { "i-0123456789abcdef0".to_string() } else { h.to_string() }},
                "responseElements": {"sessionId": format!("s-{n}-{i}")},
                "eventID": format!("e-{n}-{i}"), "eventType": "AwsApiCall", "recipientAccountId": "111122223333"
            }));
        }
    }
    let path = dir.join("hostile.json");
    std::fs::write(
        &path,
        serde_json::to_vec(&serde_json::json!({ "Records": records })).expect("json"),
    )
    .expect("write");
    path
}

fn deny_all(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("deny.json");
    std::fs::write(
        &p,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}"#,
    )
    .expect("write");
    p
}

/// Parses a comment as GitHub would (CommonMark plus tables) and checks that nothing in it is
/// a link, an image or HTML other than the report's own `<details>` blocks, that every table
/// row has its header's cell count, and that text outside code spans never holds what GitHub
/// would turn into a mention or an autolink. Returns the code spans' texts.
fn check_comment(md: &str) -> Vec<String> {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    assert!(
        md.chars().count() < 65_536,
        "{} characters",
        md.chars().count()
    );
    let mut codes = Vec::new();
    let mut cells = 0usize;
    let mut header_cells = 0usize;
    for event in Parser::new_ext(md, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Link { .. }) | Event::Start(Tag::Image { .. }) => {
                panic!("a link or image in the comment:\n{md}")
            }
            Event::Html(h) | Event::InlineHtml(h) => {
                let t = h.trim();
                assert!(
                    t.starts_with("<details><summary>") || t == "</details>",
                    "HTML `{t}` in the comment:\n{md}"
                );
            }
            Event::Code(c) => codes.push(c.to_string()),
            Event::Text(t) => {
                assert!(
                    !t.contains("@everyone") && !t.contains("http") && !t.contains("alert("),
                    "caller text outside a code span: `{t}`\n{md}"
                );
            }
            Event::Start(Tag::TableHead) | Event::Start(Tag::TableRow) => cells = 0,
            Event::Start(Tag::TableCell) => cells += 1,
            Event::End(TagEnd::TableHead) => header_cells = cells,
            Event::End(TagEnd::TableRow) => assert_eq!(cells, header_cells, "{md}"),
            Event::Start(Tag::Heading { .. }) => {}
            _ => {}
        }
    }
    codes
}

#[test]
fn markdown_comment_keeps_hostile_text_as_text() {
    let dir = tempdir();
    let log = hostile_log(dir.path(), 1);
    let deny = deny_all(dir.path());
    let r = run([
        "replay",
        "--candidate",
        deny.to_str().expect("utf8"),
        "--format",
        "markdown",
        log.to_str().expect("utf8"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("❌ **"),
        "verdict first:\n{}",
        r.stdout
    );
    let codes = check_comment(&r.stdout);
    // Each hostile string reached the comment, whole, inside a code span (line breaks escaped).
    for h in HOSTILE {
        let shown = h.replace('\n', "\\n");
        assert!(
            codes.iter().any(|c| c.contains(&shown)),
            "`{shown}` not in a code span: {codes:?}"
        );
    }
    // The only headings are the report's own.
    assert!(
        !r.stdout.lines().any(|l| l.starts_with("# ")),
        "{}",
        r.stdout
    );
}

#[test]
fn markdown_comment_fits_github_and_says_how_many_more() {
    let dir = tempdir();
    let log = hostile_log(dir.path(), 400);
    let deny = deny_all(dir.path());
    for max_rows in ["3", "100000"] {
        let r = run([
            "replay",
            "--candidate",
            deny.to_str().expect("utf8"),
            "--format",
            "markdown",
            "--max-rows",
            max_rows,
            log.to_str().expect("utf8"),
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        check_comment(&r.stdout);
        assert!(r.stdout.contains(" more (see the CSV"), "{}", r.stdout);
        if max_rows == "3" {
            assert!(r.stdout.contains("<summary>3 example event(s)</summary>"));
        } else {
            assert!(r.stdout.contains("Cut to fit a GitHub comment"));
        }
    }
}

#[test]
fn markdown_on_the_samples() {
    let r = scoped(&["--format", "markdown"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    check_comment(&r.stdout);
    insta::assert_snapshot!("markdown_samples", r.stdout);
}

/// Validates a SARIF log against the official SARIF 2.1.0 schema (tests/data/sarif), formats
/// (URI references, date-times) included.
fn assert_valid_sarif(text: &str) -> serde_json::Value {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(crate::common::data("sarif/sarif-schema-2.1.0.json"))
            .expect("schema"),
    )
    .expect("schema JSON");
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema compiles");
    // The validator does reject what the schema forbids.
    for bad in [
        serde_json::json!({"version": "2.0.0", "runs": []}),
        serde_json::json!({"version": "2.1.0", "runs": [{"tool": {"driver": {}}}]}),
        serde_json::json!({"version": "2.1.0", "runs": [], "extra": 1}),
    ] {
        assert!(!validator.is_valid(&bad), "{bad}");
    }
    let log: serde_json::Value = serde_json::from_str(text).expect("SARIF is JSON");
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{text}");
    log
}

fn sarif(extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "replay",
        "--inventory",
        "samples/inventory/describe-instances.json",
        "--format",
        "sarif",
    ];
    args.extend_from_slice(extra);
    args.push(LOGS);
    let r = run(args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_valid_sarif(&r.stdout)
}

#[test]
fn sarif_lays_each_change_on_the_statement_that_caused_it() {
    // A document: the location is the statement's lines in the file.
    let log = sarif(&["--candidate", "samples/policies/seed-2a-instance-tag.json"]);
    let results = log["runs"][0]["results"].as_array().expect("results");
    assert!(!results.is_empty());
    let on = |start: u64| {
        results
            .iter()
            .find(|r| r["locations"][0]["physicalLocation"]["region"]["startLine"] == start)
            .unwrap_or_else(|| panic!("no result on line {start}: {results:#?}"))
    };
    // Statement 2 (lines 14–18 of the seed document) no longer covers other users' sessions.
    let s2 = on(14);
    assert_eq!(s2["ruleId"], "newly-denied");
    assert_eq!(
        s2["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "samples/policies/seed-2a-instance-tag.json"
    );
    assert_eq!(
        s2["locations"][0]["physicalLocation"]["region"]["endLine"],
        18
    );
    assert!(s2["properties"]["events"].as_u64().unwrap_or(0) >= 1);
    assert!(!s2["properties"]["examples"]
        .as_array()
        .expect("examples")
        .is_empty());
    // Every result's counts add up to the changed events.
    let total: u64 = results
        .iter()
        .map(|r| r["properties"]["events"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(total, 7, "7 newly denied on the samples");

    // A Terraform plan: the plan file, with the resource's address as logical location.
    let log = sarif(&["--plan", OPS_PLAN]);
    let r = &log["runs"][0]["results"][0];
    assert_eq!(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        OPS_PLAN
    );
    assert_eq!(
        r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
        r#"module.ops["us-east-2"].aws_iam_role_policy.sessions"#
    );

    // An overlay: the replacing file's statement lines, the managed policy's ARN as logical
    // location.
    let log = sarif(&[
        "--baseline",
        EXPORT,
        "--replace-policy",
        "SessionManagerEngineers=samples/policies/seed-2a-instance-tag.json",
    ]);
    let r = &log["runs"][0]["results"][0];
    assert_eq!(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "samples/policies/seed-2a-instance-tag.json"
    );
    assert_eq!(
        r["locations"][0]["physicalLocation"]["region"]["startLine"],
        14
    );
}

#[test]
fn sarif_with_no_change_is_a_valid_empty_run() {
    let log = sarif(&["--baseline", EXPORT, "--candidate", EXPORT]);
    assert_eq!(log["runs"][0]["results"], serde_json::json!([]));
    assert_eq!(
        log["runs"][0]["tool"]["driver"]["rules"][0]["id"],
        "newly-denied"
    );
}

#[test]
fn accepted_changes_keep_their_change_and_do_not_fail_the_gate() {
    let dir = tempdir();
    let accept = dir.path().join("accept.toml");
    let write = |text: &str| std::fs::write(&accept, text).expect("write");
    let accept_arg = accept.to_str().expect("utf8").to_string();
    let summary = dir.path().join("summary.json");
    let gate = |extra: &[&str]| {
        let mut args = vec![
            "--candidate",
            "samples/policies/seed-2a-instance-tag.json",
            "--accept",
            accept_arg.as_str(),
            "--fail-on",
            "newly-denied",
            "--summary",
            summary.to_str().expect("utf8"),
        ];
        args.extend_from_slice(extra);
        replay(&args)
    };
    // The Ops role's and the SSO admin's losses are reviewed; alice's is not.
    write(
        r#"
[[accept]]
principal = "arn:aws:sts::*:assumed-role/Ops/*"
change = "newly_denied"
reason = "Ops moves to port forwarding only (CHG-1234)"
expires = 2099-01-31

[[accept]]
principal = "arn:aws:sts::*:assumed-role/AWSReservedSSO_Admin_*"
reason = "admins use break-glass (CHG-1235)"
expires = 2099-01-31

[[accept]]
principal = "arn:aws:iam::*:user/nobody"
reason = "matches nothing"
expires = 2099-01-31

[[accept]]
principal = "*"
reason = "long gone"
expires = 2001-01-01
"#,
    );
    let r = gate(&[]);
    assert_eq!(r.code, 1, "alice's change is not accepted: {}", r.stderr);
    assert!(r.stderr.contains("expired on 2001-01-01"), "{}", r.stderr);
    let lines = r.json_lines();
    for v in &lines {
        let principal = v["principal_arn"].as_str().unwrap_or("");
        let accepted = v["accepted"].as_str().unwrap_or("");
        if principal.contains("assumed-role/Ops/") && v["change"] == "newly_denied" {
            assert_eq!(accepted, "Ops moves to port forwarding only (CHG-1234)");
        } else if principal.contains("AWSReservedSSO_Admin_") {
            assert_eq!(accepted, "admins use break-glass (CHG-1235)");
            assert_eq!(
                v["change"], "newly_denied",
                "accepted rows keep their change"
            );
        } else {
            assert_eq!(accepted, "", "{v}");
        }
    }
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary")).expect("JSON");
    assert_eq!(s["changes"]["newly_denied"], 7);
    assert_eq!(s["accepted"]["newly_denied"], 6);
    let stale = s["stale_accepts"].as_array().expect("stale");
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert!(stale[0].as_str().unwrap_or("").contains("user/nobody"));
    // Accepting alice's too: the gate passes, every change still reported.
    let mut all = std::fs::read_to_string(&accept).expect("read");
    all.push_str(
        "\n[[accept]]\nprincipal = \"arn:aws:iam::987654321098:user/alice\"\naction = \"ssm:TerminateSession\"\ntarget = \"i-0a1b2c3d4e5f60001\"\nreason = \"alice stops ending bob's sessions\"\nexpires = 2099-01-31\n",
    );
    write(&all);
    let r = gate(&[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json_lines().len(), lines.len());
    // A malformed file: exit 2, naming file, line and column.
    write("[[accept]]\nprincipal = \"*\"\nreason = \"r\"\nexpires = 2099-01-31\nowner = \"me\"\n");
    let r = gate(&[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("{accept_arg}:5:1")) && r.stderr.contains("owner"),
        "{}",
        r.stderr
    );
}
