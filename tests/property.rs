//! Property tests: the fast parts against deliberately simple references.
//! - the SIMD record splitter against the byte-at-a-time reference splitter,
//! - the wildcard matcher against a recursive matcher,
//! - the compiled engine against a naive evaluator written from the IAM User Guide's rules,
//! - damaged archives: every session record is a row or is accounted for as a failure.

use std::collections::HashSet;
use std::io::Read;

use proptest::prelude::*;
use serde_json::{json, Value};
use trailreplay::decode::{scan, scan_reference, MAX_RECORD_BYTES};
use trailreplay::policy::compile_document;
use trailreplay::policy::pattern::{Pattern, Syntax};
use trailreplay::simulate::Simulation;

// ---------------------------------------------------------------- splitter

/// Reads at most `step` bytes per call, to move chunk boundaries around.
struct Steps<'a> {
    data: &'a [u8],
    steps: Vec<usize>,
    i: usize,
}

impl Read for Steps<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let step = self.steps[self.i % self.steps.len()].max(1);
        self.i += 1;
        let n = self.data.len().min(buf.len()).min(step);
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn json_string() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("\"".to_string()),
            Just("\\".to_string()),
            Just("{".to_string()),
            Just("}".to_string()),
            Just("[".to_string()),
            Just("]".to_string()),
            Just("Records".to_string()),
            Just("é".to_string()),
            "[a-z ,:]{0,70}".prop_map(|s| s),
        ],
        0..8,
    )
    .prop_map(|parts| parts.concat())
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        json_string().prop_map(Value::String),
        any::<i32>().prop_map(|n| json!(n)),
        Just(Value::Null),
        Just(json!(true)),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::btree_map("[a-zA-Z\"\\\\{]{1,8}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn record() -> impl Strategy<Value = Value> {
    proptest::collection::btree_map("[a-zA-Z]{1,10}", value(), 0..6)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

fn layout(records: &[Value], shape: u8, pretty: bool) -> String {
    let ser = |v: &Value| {
        if pretty {
            serde_json::to_string_pretty(v).expect("serialise")
        } else {
            serde_json::to_string(v).expect("serialise")
        }
    };
    match shape % 4 {
        0 => ser(&json!({ "Records": records })),
        1 => ser(&json!({ "x": {"Records": [1]}, "Records": records, "y": [] })),
        2 => ser(&Value::Array(records.to_vec())),
        _ => records.iter().map(ser).collect::<Vec<_>>().join("\n"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn splitter_agrees_with_reference(
        records in proptest::collection::vec(record(), 0..12),
        shape in 0u8..4,
        pretty in any::<bool>(),
        steps in proptest::collection::vec(1usize..300, 1..5),
        cut in proptest::option::of(0usize..4000),
    ) {
        let mut text = layout(&records, shape, pretty).into_bytes();
        if let Some(c) = cut {
            text.truncate(c.min(text.len()));
        }
        let mut fast = Vec::new();
        let mut slow = Vec::new();
        let a = scan::scan(Steps { data: &text, steps: steps.clone(), i: 0 }, MAX_RECORD_BYTES, |k, i, b| fast.push((k, i, b.to_vec())));
        let b = scan_reference::scan(Steps { data: &text, steps, i: 0 }, MAX_RECORD_BYTES, |k, i, b| slow.push((k, i, b.to_vec())));
        prop_assert_eq!(&fast, &slow);
        prop_assert_eq!(a.is_ok(), b.is_ok());
        if cut.is_none() {
            prop_assert!(a.is_ok());
            // Every record comes out, byte for byte as serde_json re-reads it.
            prop_assert_eq!(fast.len(), records.len());
            for ((_, _, bytes), r) in fast.iter().zip(&records) {
                let back: Value = serde_json::from_slice(bytes).expect("record bytes are JSON");
                prop_assert_eq!(&back, r);
            }
        }
    }

    #[test]
    fn splitter_never_panics_on_bytes(
        data in proptest::collection::vec(prop_oneof![Just(b'{'), Just(b'}'), Just(b'['), Just(b']'), Just(b'"'), Just(b'\\'), Just(b','), Just(b' '), any::<u8>()], 0..600),
        limit in 1usize..200,
    ) {
        let mut n = 0u64;
        let r = scan::scan(&data[..], limit, |_, _, b| { n += 1; assert!(b.len() <= limit); });
        let units = match r { Ok(s) => s.units, Err((s, _)) => s.units };
        prop_assert_eq!(units, n);
    }
}

// ---------------------------------------------------------------- wildcards

/// Reference: plain recursion over characters.
fn reference_glob(p: &[char], t: &[char]) -> bool {
    match p.first() {
        None => t.is_empty(),
        Some('*') => (0..=t.len()).any(|i| reference_glob(&p[1..], &t[i..])),
        Some('?') => !t.is_empty() && reference_glob(&p[1..], &t[1..]),
        Some(c) => t.first() == Some(c) && reference_glob(&p[1..], &t[1..]),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn wildcard_matches_reference(p in "[ab*?é/]{0,8}", t in "[abé/]{0,10}") {
        let pat = Pattern::parse(&p, Syntax { wildcards: true, variables: false, ignore_case: false }).expect("pattern");
        let pc: Vec<char> = p.chars().collect();
        let tc: Vec<char> = t.chars().collect();
        prop_assert_eq!(pat.matches(&t), reference_glob(&pc, &tc), "pattern {:?} text {:?}", p, t);
    }
}

// ---------------------------------------------------------------- resource ARNs

/// Reference for `Resource` ARN patterns, read straight from the IAM User Guide ("IAM JSON policy
/// elements: Resource", "Using wildcards in resource ARNs"): the pattern's colon-separated
/// segments meet the ARN's colon-separated pieces in order; a `*` that ends one of the first five
/// segments may span colons; in the resource part (sixth segment) wildcards match anything.
fn reference_resource(pattern: &str, arn: &str) -> bool {
    fn glob(p: &str, t: &str) -> bool {
        reference_glob(
            &p.chars().collect::<Vec<_>>(),
            &t.chars().collect::<Vec<_>>(),
        )
    }
    /// Does segment `seg` (number `i`) match `piece`?
    fn segment(seg: &str, i: usize, piece: &str) -> bool {
        if i == 5 {
            return glob(seg, piece);
        }
        match seg.strip_suffix('*') {
            // A colon-free prefix matched by the rest of the segment, then anything.
            Some(head) => piece
                .char_indices()
                .map(|(k, _)| k)
                .chain([piece.len()])
                .any(|k| !piece[..k].contains(':') && glob(head, &piece[..k])),
            None => !piece.contains(':') && glob(seg, piece),
        }
    }
    fn go(segs: &[&str], i: usize, t: &str) -> bool {
        if i + 1 == segs.len() {
            return segment(segs[i], i, t);
        }
        t.char_indices()
            .filter(|(_, c)| *c == ':')
            .any(|(c, _)| segment(segs[i], i, &t[..c]) && go(segs, i + 1, &t[c + 1..]))
    }
    if pattern == "*" {
        return true;
    }
    let segs: Vec<&str> = pattern.splitn(6, ':').collect();
    go(&segs, 0, arn)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn resource_arn_matches_reference(
        segs in proptest::collection::vec("[ab*?]{0,3}", 1..7),
        extra in proptest::option::of("[ab*:]{0,4}"),
        pieces in proptest::collection::vec("[ab]{0,3}", 6..9),
    ) {
        use trailreplay::policy::condition::{ArnPattern, ArnUse};
        use trailreplay::policy::pattern::{Tri, VarValue};
        let mut pattern = segs.join(":");
        if let (Some(x), 6) = (&extra, segs.len()) {
            pattern.push_str(x);
        }
        // Texts shaped like ARNs: six or more colon-separated pieces.
        let arn = pieces.join(":");
        let p = ArnPattern::parse_for(&pattern, false, ArnUse::Resource).expect("pattern");
        let got = p.matches_with(&arn, &|_| VarValue::Absent) == Tri::True;
        prop_assert_eq!(got, reference_resource(&pattern, &arn), "pattern {:?} arn {:?}", pattern, arn);
    }
}

// ---------------------------------------------------------------- engine

const ACTIONS: [&str; 6] = [
    "ssm:StartSession",
    "ssm:*",
    "SSM:terminate*",
    "*",
    "ec2:*",
    "ssm:StartSession,ssm:TerminateSession",
];
const RESOURCES: [&str; 5] = [
    "*",
    "arn:aws:ec2:*:*:instance/*",
    "arn:aws:ec2:us-east-1:111:instance/i-1",
    "arn:aws:ssm:*:*:session/${aws:username}-*",
    "arn:aws:ssm:us-east-1:111:session/*",
];
const KEYS: [&str; 2] = ["aws:username", "ssm:resourceTag/team"];
const OPS: [&str; 13] = [
    "StringEquals",
    "StringNotEquals",
    "StringLike",
    "StringNotLike",
    "StringEqualsIfExists",
    "StringEqualsIgnoreCase",
    "Null",
    // Set operators and `IfExists` together (issue: `ForAnyValue:...IfExists` on a missing key).
    "StringNotEqualsIfExists",
    "ForAnyValue:StringEqualsIfExists",
    "ForAnyValue:StringNotLikeIfExists",
    "ForAnyValue:StringLike",
    "ForAllValues:StringEqualsIfExists",
    "ForAllValues:StringNotEquals",
];
const VALUES: [&str; 4] = ["alice", "bob", "a*", "ALICE"];
const REQ_RESOURCES: [&str; 4] = [
    "arn:aws:ec2:us-east-1:111:instance/i-1",
    "arn:aws:ec2:us-east-1:111:instance/i-2",
    "arn:aws:ssm:us-east-1:111:session/alice-1",
    "arn:aws:ssm:us-east-1:111:session/bob-1",
];

#[derive(Debug, Clone)]
struct Cond {
    op: usize,
    key: usize,
    values: Vec<usize>,
}

#[derive(Debug, Clone)]
struct Stmt {
    deny: bool,
    not_action: bool,
    actions: Vec<usize>,
    resources: Vec<usize>,
    conds: Vec<Cond>,
}

fn stmt() -> impl Strategy<Value = Stmt> {
    (
        any::<bool>(),
        prop::bool::weighted(0.15),
        proptest::collection::vec(0..ACTIONS.len(), 1..3),
        proptest::collection::vec(0..RESOURCES.len(), 1..3),
        proptest::collection::vec(
            (
                0..OPS.len(),
                0..KEYS.len(),
                proptest::collection::vec(0..VALUES.len(), 1..3),
            )
                .prop_map(|(op, key, values)| Cond { op, key, values }),
            0..3,
        ),
    )
        .prop_map(|(deny, not_action, actions, resources, conds)| Stmt {
            deny,
            not_action,
            actions,
            resources,
            conds,
        })
}

fn stmt_json(s: &Stmt) -> Value {
    let mut o = serde_json::Map::new();
    o.insert(
        "Effect".into(),
        json!(if s.deny { "Deny" } else { "Allow" }),
    );
    let acts: Vec<&str> = s.actions.iter().map(|&a| ACTIONS[a]).collect();
    o.insert(
        if s.not_action { "NotAction" } else { "Action" }.into(),
        json!(acts),
    );
    let res: Vec<&str> = s.resources.iter().map(|&r| RESOURCES[r]).collect();
    o.insert("Resource".into(), json!(res));
    if !s.conds.is_empty() {
        let mut block = serde_json::Map::new();
        for c in &s.conds {
            let vals: Vec<&str> = if OPS[c.op] == "Null" {
                c.values
                    .iter()
                    .map(|&v| if v % 2 == 0 { "true" } else { "false" })
                    .collect()
            } else {
                c.values.iter().map(|&v| VALUES[v]).collect()
            };
            let entry = block
                .entry(OPS[c.op].to_string())
                .or_insert_with(|| json!({}));
            entry[KEYS[c.key]] = json!(vals);
        }
        o.insert("Condition".into(), Value::Object(block));
    }
    Value::Object(o)
}

/// The naive evaluator: a direct reading of the documented rules, two-valued, over a request
/// whose keys are all known or absent.
fn reference_decision(
    doc: &Value,
    action: &str,
    resource: &str,
    ctx: &[Option<&str>; 2],
) -> &'static str {
    let glob_ci = |p: &str, t: &str| {
        let pc: Vec<char> = p.to_lowercase().chars().collect();
        let tc: Vec<char> = t.to_lowercase().chars().collect();
        reference_glob(&pc, &tc)
    };
    let value_of = |key: &str| -> Option<&str> {
        KEYS.iter()
            .position(|k| k.eq_ignore_ascii_case(key))
            .and_then(|i| ctx[i])
    };
    let resource_matches = |pat: &str| -> bool {
        if pat == "*" {
            return true;
        }
        // Substitute the variable; a missing value makes the entry match nothing.
        let p = if pat.contains("${aws:username}") {
            match value_of("aws:username") {
                // A variable's value is literal text: hide its wildcards from the glob.
                Some(u) => pat.replace("${aws:username}", &u.replace('*', "\u{1}")),
                None => return false,
            }
        } else {
            pat.to_string()
        };
        let ps: Vec<&str> = p.splitn(6, ':').collect();
        let ts: Vec<&str> = resource.splitn(6, ':').collect();
        ps.len() == 6
            && ts.len() == 6
            && ps.iter().zip(&ts).all(|(a, b)| {
                reference_glob(
                    &a.chars().collect::<Vec<_>>(),
                    &b.chars().collect::<Vec<_>>(),
                )
            })
    };
    let mut allow = false;
    let mut deny = false;
    for s in doc["Statement"].as_array().expect("statements") {
        let (acts, not) = match (s.get("Action"), s.get("NotAction")) {
            (Some(a), _) => (a, false),
            (_, Some(a)) => (a, true),
            _ => unreachable!(),
        };
        let any_action = acts.as_array().expect("list").iter().any(|a| {
            let a = a.as_str().expect("str");
            !a.contains(',') && glob_ci(a, action)
        });
        if any_action == not {
            continue;
        }
        if !s["Resource"]
            .as_array()
            .expect("list")
            .iter()
            .any(|r| resource_matches(r.as_str().expect("str")))
        {
            continue;
        }
        let mut conds_ok = true;
        if let Some(block) = s.get("Condition").and_then(Value::as_object) {
            for (op, keys) in block {
                for (key, vals) in keys.as_object().expect("keys") {
                    let vals: Vec<&str> = vals
                        .as_array()
                        .expect("vals")
                        .iter()
                        .map(|v| v.as_str().expect("str"))
                        .collect();
                    let v = value_of(key);
                    // A direct reading of "Condition operators" and "Single-valued vs.
                    // multivalued context keys", written apart from the engine's code.
                    let (set, rest) = match op.split_once(':') {
                        Some((set, rest)) => (Some(set), rest),
                        None => (None, op.as_str()),
                    };
                    let (base, if_exists) = match rest.strip_suffix("IfExists") {
                        Some(b) => (b, true),
                        None => (rest, false),
                    };
                    let negated = base.contains("Not");
                    let glob = |x: &str, v: &str| {
                        reference_glob(
                            &x.chars().collect::<Vec<_>>(),
                            &v.chars().collect::<Vec<_>>(),
                        )
                    };
                    let ok = match (base, v) {
                        ("Null", v) => vals.iter().any(|x| (*x == "true") == v.is_none()),
                        // A missing key: ForAllValues true, ForAnyValue false (IfExists or
                        // not), otherwise true only for IfExists and negated operators.
                        (_, None) => match set {
                            Some("ForAllValues") => true,
                            Some("ForAnyValue") => false,
                            Some(other) => panic!("set operator {other}"),
                            None => if_exists || negated,
                        },
                        // A present single value: the set operators over a one-element set
                        // reduce to the plain operator.
                        ("StringEquals", Some(v)) => vals.contains(&v),
                        ("StringNotEquals", Some(v)) => !vals.contains(&v),
                        ("StringEqualsIgnoreCase", Some(v)) => {
                            vals.iter().any(|x| x.to_lowercase() == v.to_lowercase())
                        }
                        ("StringLike", Some(v)) => vals.iter().any(|x| glob(x, v)),
                        ("StringNotLike", Some(v)) => !vals.iter().any(|x| glob(x, v)),
                        (other, _) => panic!("operator {other}"),
                    };
                    conds_ok &= ok;
                }
            }
        }
        if !conds_ok {
            continue;
        }
        if s["Effect"] == "Deny" {
            deny = true;
        } else {
            allow = true;
        }
    }
    if deny {
        "explicitDeny"
    } else if allow {
        "allowed"
    } else {
        "implicitDeny"
    }
}

/// The domain of request values: the policy values, their case variants, values that match a
/// pattern but no literal, values that match nothing, and absent.
const CTX_VALUES: [Option<&str>; 12] = [
    None,
    Some("alice"),
    Some("bob"),
    Some("a*"),
    Some("ALICE"),
    Some("Alice"),
    Some("BOB"),
    Some("A*"),
    Some("a"),
    Some("ab"),
    Some("x"),
    Some(""),
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_reference(
        stmts in proptest::collection::vec(stmt(), 1..4),
        action in prop_oneof![Just("ssm:StartSession"), Just("ssm:TerminateSession")],
        resource in 0..REQ_RESOURCES.len(),
        ctx in [0..CTX_VALUES.len(), 0..CTX_VALUES.len()],
        unknown in [prop::bool::weighted(0.25), prop::bool::weighted(0.25)],
    ) {
        check_engine(&stmts, action, resource, ctx, unknown)?;
    }

    /// Statements that all test one unknown key: the possible-worlds check decides most of them.
    #[test]
    fn settled_decisions_match_reference(
        stmts in proptest::collection::vec(one_key_stmt(), 1..5),
        ctx in 0..CTX_VALUES.len(),
    ) {
        check_engine(&stmts, "ssm:StartSession", 0, [ctx, ctx], [false, true])?;
    }
}

/// Allow or deny StartSession on every resource, under conditions on `ssm:resourceTag/team`.
fn one_key_stmt() -> impl Strategy<Value = Stmt> {
    (
        any::<bool>(),
        proptest::collection::vec(
            (
                0..OPS.len(),
                proptest::collection::vec(0..VALUES.len(), 1..3),
            )
                .prop_map(|(op, values)| Cond { op, key: 1, values }),
            1..3,
        ),
    )
        .prop_map(|(deny, conds)| Stmt {
            deny,
            not_action: false,
            actions: vec![0],
            resources: vec![0],
            conds,
        })
}

fn check_engine(
    stmts: &[Stmt],
    action: &str,
    resource: usize,
    ctx: [usize; 2],
    unknown: [bool; 2],
) -> Result<(), TestCaseError> {
    let doc = json!({"Version": "2012-10-17", "Statement": stmts.iter().map(stmt_json).collect::<Vec<_>>()});
    let compiled = compile_document("p", &doc);
    prop_assert!(compiled.errors.is_empty(), "{:?}", compiled.errors);
    let policy = compiled.policy.expect("policy");
    let resource = REQ_RESOURCES[resource];
    let known: [Option<&str>; 2] = [CTX_VALUES[ctx[0]], CTX_VALUES[ctx[1]]];
    let mut context = Vec::new();
    let mut unknown_keys = Vec::new();
    for i in 0..2 {
        if unknown[i] {
            unknown_keys.push(KEYS[i].to_string());
        } else if let Some(v) = known[i] {
            context.push((KEYS[i].to_string(), v.to_string()));
        }
    }
    let sim = Simulation {
        action: action.to_string(),
        resources: vec![resource.to_string()],
        policies: vec![policy],
        scps: vec![],
        boundary: None,
        session: vec![],
        context,
        unknown: unknown_keys,
    };
    let evaluation = sim.run();
    let got = evaluation.decision.as_str();
    // Every value the unknown keys could take (absent or any value in play).
    let choices = |i: usize| -> Vec<Option<&str>> {
        if unknown[i] {
            CTX_VALUES.to_vec()
        } else {
            vec![known[i]]
        }
    };
    let mut outcomes = HashSet::new();
    for a in choices(0) {
        for b in choices(1) {
            outcomes.insert(reference_decision(&doc, action, resource, &[a, b]));
        }
    }
    if got == "indeterminate" {
        prop_assert!(
            unknown.iter().any(|u| *u),
            "indeterminate without unknown keys"
        );
        // Only when two values decide differently, or when the reason says that the
        // worlds could not be listed.
        let differs = outcomes.contains("allowed") && outcomes.len() > 1;
        prop_assert!(
            differs || evaluation.reason.contains("cannot be settled"),
            "indeterminate but every value gives {:?}: {} for {}",
            outcomes,
            evaluation.reason,
            doc
        );
    } else if got == "implicitDeny" && outcomes.contains("explicitDeny") {
        // Denied whatever the unknown keys hold; whether an explicit deny also applies
        // depends on them, and the reason says so (README, "Decisions").
        prop_assert!(
            outcomes.iter().all(|o| *o != "allowed"),
            "{:?} for {}",
            outcomes,
            doc
        );
    } else {
        prop_assert_eq!(
            outcomes.len(),
            1,
            "engine said {} but outcomes are {:?} for {}",
            got,
            outcomes,
            doc
        );
        prop_assert!(
            outcomes.contains(got),
            "engine {} reference {:?} for {}",
            got,
            outcomes,
            doc
        );
    }
    if !unknown.iter().any(|u| *u) {
        prop_assert_ne!(got, "indeterminate");
    }
    Ok(())
}

// ---------------------------------------------------------------- damaged archives

#[derive(Debug, Clone)]
enum Damage {
    None,
    Truncate(usize),
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        3 => Just(Damage::None),
        1 => (0usize..100_000).prop_map(Damage::Truncate),
        1 => (0usize..100_000, 1u8..=255).prop_map(|(p, x)| Damage::Flip(p, x)),
        1 => (0usize..100_000, proptest::collection::vec(any::<u8>(), 1..20)).prop_map(|(p, b)| Damage::Insert(p, b)),
    ]
}

fn session_record(id: &str, other: bool) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAX", "arn": "arn:aws:iam::1:user/a", "accountId": "1", "userName": "a"},
        "eventTime": "2024-05-01T10:00:00Z",
        "eventSource": if other { "ec2.amazonaws.com" } else { "ssm.amazonaws.com" },
        "eventName": if other { "DescribeInstances" } else { "StartSession" },
        "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.5",
        "requestParameters": {"target": "i-1"}, "responseElements": {"sessionId": format!("a-{id}")},
        "eventID": id, "recipientAccountId": "1"
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn damaged_archives_lose_nothing_silently(
        files in proptest::collection::vec((1usize..30, any::<bool>(), damage()), 1..5),
        // A tiny memory budget sends everything through temporary files.
        budget in prop_oneof![Just(2048usize), Just(trailreplay::replay::DEFAULT_MEMORY_BUDGET)],
    ) {
        use trailreplay::replay::{self, ReplayConfig};
        let dir = tempfile::tempdir().expect("tmp");
        // (event ID, file, whether damage may have turned this record into another valid one)
        let mut expected: Vec<(String, String, bool)> = Vec::new();
        for (f, (n, gz, dmg)) in files.iter().enumerate() {
            let records: Vec<Value> = (0..*n).map(|i| session_record(&format!("f{f}r{i}"), i % 3 == 2)).collect();
            let text = serde_json::to_string(&json!({ "Records": records })).expect("json");
            let mut bytes = text.clone().into_bytes();
            if *gz {
                bytes = crate::common::gzip(&bytes);
            }
            let at = match dmg {
                Damage::None => None,
                Damage::Truncate(p) => { let i = p % bytes.len(); bytes.truncate(i); None }
                Damage::Flip(p, x) => { let i = p % bytes.len(); bytes[i] ^= x; Some(i) }
                Damage::Insert(p, b) => { let i = p % bytes.len(); bytes.splice(i..i, b.iter().copied()); Some(i) }
            };
            let name = format!("f{f}.json{}", if *gz { ".gz" } else { "" });
            std::fs::write(dir.path().join(&name), &bytes).expect("write");
            for (i, r) in records.iter().enumerate() {
                if i % 3 != 2 {
                    // In a plain file, a changed byte inside a record can make it a different,
                    // valid record (`StartSession` → `StartSessioo`): no reader can tell.
                    let own = serde_json::to_string(r).expect("json");
                    let start = text.find(&own).expect("record in text");
                    let rewritten = !*gz && at.is_some_and(|a| a >= start && a <= start + own.len());
                    expected.push((r["eventID"].as_str().expect("id").to_string(), name.clone(), rewritten));
                }
            }
        }
        let policy = compile_document("admin", &json!({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:*","Resource":"*"}}))
            .policy.expect("policy");
        let cfg = ReplayConfig {
            keep_unchanged: true,
            temp_dir: dir.path().to_path_buf(),
            memory_budget: budget,
            ..ReplayConfig::new(
                vec![trailreplay::policy::set::PolicySet::from_documents(vec![policy])],
                None,
            )
        };
        let listing = trailreplay::source::list(&[dir.path().to_path_buf()]);
        let mut rows = Vec::new();
        let out = replay::run(&cfg, &listing, &|_, _| {}, &mut |_, r| {
            rows.push(r.event_id.clone());
            Ok(())
        })
        .expect("replay");
        let s = &out.summaries[0];
        prop_assert_eq!(s.ssm_session_events, s.duplicates + s.outside_window + s.rows);
        prop_assert_eq!(s.rows, s.evaluated + s.skipped);
        let seen: HashSet<&str> = rows.iter().map(String::as_str).collect();
        for (id, file, rewritten) in &expected {
            if seen.contains(id.as_str()) || *rewritten {
                continue;
            }
            // A missing record's file is reported: failed, or with counted bad records.
            let reported = out.problems.iter().any(|p| p.file.ends_with(file.as_str()));
            prop_assert!(reported, "{} missing from {} and nothing reported: {:?}", id, file, out.problems);
        }
        prop_assert_eq!(out.trouble(), s.files.failed > 0);
    }
}

// ------------------------------------------------- change-review and tag inputs never panic

/// JSON-ish text built from the tokens these inputs use, plus any character.
fn jsonish() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("{".to_string()),
            Just("}".to_string()),
            Just("[".to_string()),
            Just("]".to_string()),
            Just("\"".to_string()),
            Just(":".to_string()),
            Just(",".to_string()),
            Just("\"resource_changes\"".to_string()),
            Just("\"format_version\":\"1.2\"".to_string()),
            Just("\"configurationItems\"".to_string()),
            Just("[[accept]]\n".to_string()),
            Just("expires = 2027-01-01\n".to_string()),
            Just("\"Statement\"".to_string()),
            any::<char>().prop_map(|c| c.to_string()),
        ],
        0..60,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Terraform plans, Config history and accept files are read from whatever a user gives:
    /// an error, never a panic.
    #[test]
    fn review_and_tag_inputs_never_panic(text in jsonish()) {
        use trailreplay::policy::terraform::Plan;
        if let Ok(plan) = Plan::read("p.json", &text) {
            let _ = plan.account(Some("1")).and_then(|a| plan.sides(None, &a));
        }
        let _ = trailreplay::mapping::history::config_items(&text);
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 3).expect("date");
        let _ = trailreplay::accept::AcceptList::parse("a.toml", &text, today);
    }
}
