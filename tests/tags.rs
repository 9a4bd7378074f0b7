//! Tags in time: each session is evaluated with its target's tags at the session's time,
//! rebuilt from CloudTrail's tag events, AWS Config items and the inventory snapshot.

use std::path::Path;

use serde_json::{json, Value};

use crate::common::{run, tempdir, Run};

const ACCOUNT: &str = "111122223333";

fn alice() -> Value {
    json!({"type": "IAMUser", "principalId": "AIDAALICE", "arn": format!("arn:aws:iam::{ACCOUNT}:user/alice"),
           "accountId": ACCOUNT, "userName": "alice"})
}

/// A StartSession as CloudTrail writes it: a success with its parameters, a denial with
/// `requestParameters: null` and the message naming the target.
fn session(id: &str, time: &str, target: &str, allowed: bool) -> Value {
    let mut r = json!({
        "eventVersion": "1.09", "userIdentity": alice(), "eventTime": time,
        "eventSource": "ssm.amazonaws.com", "eventName": "StartSession", "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.5", "userAgent": "aws-cli/2",
        "requestParameters": {"target": target},
        "responseElements": {"sessionId": format!("alice-{id}"), "tokenValue": "Value hidden due to security reasons.", "streamUrl": "wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/x"},
        "eventID": id, "eventType": "AwsApiCall", "recipientAccountId": ACCOUNT
    });
    if !allowed {
        r["requestParameters"] = Value::Null;
        r["responseElements"] = Value::Null;
        r["errorCode"] = json!("AccessDenied");
        r["errorMessage"] = json!(format!(
            "User: arn:aws:iam::{ACCOUNT}:user/alice is not authorized to perform: ssm:StartSession on resource: arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{target} because no identity-based policy allows the ssm:StartSession action"
        ));
    }
    r
}

/// An EC2 tag call (EC2 API Reference, CreateTags/DeleteTags; CloudTrail's lowercased members).
fn tags(name: &str, id: &str, time: &str, instance: &str, pairs: &[(&str, Option<&str>)]) -> Value {
    let items: Vec<Value> = pairs
        .iter()
        .map(|(k, v)| match v {
            Some(v) => json!({"key": k, "value": v}),
            None => json!({"key": k}),
        })
        .collect();
    json!({
        "eventVersion": "1.09", "userIdentity": alice(), "eventTime": time,
        "eventSource": "ec2.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.5", "userAgent": "aws-cli/2",
        "requestParameters": {"resourcesSet": {"items": [{"resourceId": instance}]}, "tagSet": {"items": items}},
        "responseElements": {"requestId": "r", "_return": true},
        "eventID": id, "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": ACCOUNT
    })
}

fn launch(id: &str, time: &str, instance: &str, env: &str) -> Value {
    json!({
        "eventVersion": "1.09", "userIdentity": alice(), "eventTime": time,
        "eventSource": "ec2.amazonaws.com", "eventName": "RunInstances", "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.5", "userAgent": "aws-cli/2",
        "requestParameters": {"instancesSet": {"items": [{"imageId": "ami-1", "minCount": 1, "maxCount": 1}]},
            "instanceType": "t3.micro",
            "tagSpecificationSet": {"items": [{"resourceType": "instance", "tags": [{"key": "Env", "value": env}]}]}},
        "responseElements": {"reservationId": "r-1", "instancesSet": {"items": [
            {"instanceId": instance, "tagSet": {"items": [{"key": "Env", "value": env}]}}]}},
        "eventID": id, "eventType": "AwsApiCall", "recipientAccountId": ACCOUNT
    })
}

fn write_trail(path: &Path, records: &[Value]) {
    std::fs::write(
        path,
        serde_json::to_vec(&json!({ "Records": records })).expect("json"),
    )
    .expect("write");
}

const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"DevOnly","Effect":"Allow","Action":"ssm:StartSession","Resource":"arn:aws:ec2:*:*:instance/*",
   "Condition":{"StringEquals":{"ssm:resourceTag/Env":"dev"}}},
  {"Sid":"Documents","Effect":"Allow","Action":"ssm:StartSession","Resource":"arn:aws:ssm:*:*:document/*"}]}"#;

/// The scenario: i-0aaa launched as dev, re-tagged prod (access revoked), re-tagged dev
/// (re-granted), with a failing re-tag in between; i-0bbb re-tagged after a session (its value
/// then is unknown); i-0ddd re-tagged in the same second as a session, in another file.
fn scenario(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    let mut failed = tags(
        "CreateTags",
        "ct-fail",
        "2026-03-01T13:30:00Z",
        "i-0aaa",
        &[("Env", Some("prod"))],
    );
    failed["errorCode"] = json!("Client.UnauthorizedOperation");
    failed["errorMessage"] = json!("You are not authorized to perform this operation.");
    write_trail(
        &logs.join("a.json"),
        &[
            session("s-b", "2026-03-01T08:00:00Z", "i-0bbb", true),
            tags(
                "CreateTags",
                "ct-b1",
                "2026-03-01T08:30:00Z",
                "i-0bbb",
                &[("Env", Some("prod"))],
            ),
            launch("run-1", "2026-03-01T09:00:00Z", "i-0aaa", "dev"),
            session("s-1", "2026-03-01T10:00:00Z", "i-0aaa", true),
            tags(
                "CreateTags",
                "ct-2",
                "2026-03-01T11:00:00Z",
                "i-0aaa",
                &[("Env", Some("prod"))],
            ),
            session("s-2", "2026-03-01T12:00:00Z", "i-0aaa", false),
            tags(
                "CreateTags",
                "ct-3",
                "2026-03-01T13:00:00Z",
                "i-0aaa",
                &[("Env", Some("dev"))],
            ),
            failed,
            session("s-3", "2026-03-01T14:00:00Z", "i-0aaa", true),
            session("s-c", "2026-03-01T15:00:00Z", "i-0ccc", true),
            session("s-d", "2026-03-01T16:00:00Z", "i-0ddd", true),
        ],
    );
    write_trail(
        &logs.join("b.json"),
        &[tags(
            "DeleteTags",
            "dt-d",
            "2026-03-01T16:00:00Z",
            "i-0ddd",
            &[("Env", None)],
        )],
    );
    let inventory = dir.join("inventory.csv");
    std::fs::write(
        &inventory,
        "resource,key,value\ni-0aaa,Env,dev\ni-0bbb,Env,dev\ni-0ccc,Env,prod\ni-0ddd,Env,dev\n",
    )
    .expect("write");
    let policy = dir.join("policy.json");
    std::fs::write(&policy, POLICY).expect("write");
    (logs, inventory, policy)
}

fn replay(dir: &Path, extra: &[&str]) -> (Run, Value) {
    let (logs, inventory, policy) = scenario(dir);
    let summary = dir.join("summary.json");
    let mut args: Vec<String> = vec![
        "replay".into(),
        "--candidate".into(),
        policy.display().to_string(),
        "--inventory".into(),
        inventory.display().to_string(),
        "--format".into(),
        "jsonl".into(),
        "--all".into(),
        "--summary".into(),
        summary.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(logs.display().to_string());
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary")).expect("JSON");
    (r, s)
}

fn by_id(r: &Run, id: &str) -> Value {
    r.json_lines()
        .into_iter()
        .find(|v| v["event_id"] == id)
        .unwrap_or_else(|| panic!("no row {id}: {}", r.stdout))
}

#[test]
fn granted_revoked_regranted_each_session_sees_its_own_tags() {
    let dir = tempdir();
    let (r, s) = replay(dir.path(), &[]);
    // Launched as dev: allowed, the tag read from RunInstances.
    let s1 = by_id(&r, "s-1");
    assert_eq!(s1["candidate"], "allowed");
    assert_eq!(s1["tags"][0]["value"], "dev");
    assert_eq!(s1["tags"][0]["source"], "run-1");
    // Re-tagged prod: denied, as AWS recorded (the snapshot's `dev` would have said allowed).
    let s2 = by_id(&r, "s-2");
    assert_eq!(s2["candidate"], "implicitDeny", "{s2}");
    assert_eq!(s2["change"], "unchanged");
    assert_eq!(s2["tags"][0]["source"], "ct-2");
    // Re-granted; the failed re-tag changed nothing.
    let s3 = by_id(&r, "s-3");
    assert_eq!(s3["candidate"], "allowed");
    assert_eq!(s3["tags"][0]["source"], "ct-3");
    // Re-tagged after the session: the value then is unknown, and the reason says why.
    let sb = by_id(&r, "s-b");
    assert_eq!(sb["candidate"], "indeterminate");
    assert_eq!(sb["change"], "uncertain");
    let reason = sb["candidate_reason"].as_str().unwrap_or("");
    assert!(
        reason.contains("changed at 2026-03-01T08:30:00Z by CreateTags eventID ct-b1; its value before is unknown"),
        "{reason}"
    );
    // Untouched by any change: the snapshot (prod): denied, where AWS allowed.
    let sc = by_id(&r, "s-c");
    assert_eq!(sc["candidate"], "implicitDeny");
    assert_eq!(sc["tags"][0]["source"], "snapshot");
    // A change in the same second, in another file: the order is not known.
    let sd = by_id(&r, "s-d");
    assert_eq!(sd["candidate"], "indeterminate", "{sd}");
    assert!(sd["tags"][0]["source"]
        .as_str()
        .is_some_and(|w| w.contains("same second")));
    // The summary counts where the tags came from.
    let t = &s["tags"];
    assert_eq!(t["changes_read"], 5, "{t}");
    assert_eq!(t["from_history"], 3, "{t}");
    assert_eq!(t["from_snapshot"], 1, "{t}");
    assert_eq!(t["unknown"], 2, "{t}");
    // CSV: the last column.
    let dir2 = tempdir();
    let (logs, inventory, policy) = scenario(dir2.path());
    let csv = run([
        "replay",
        "--candidate",
        policy.to_str().expect("utf8"),
        "--inventory",
        inventory.to_str().expect("utf8"),
        "--all",
        logs.to_str().expect("utf8"),
    ]);
    assert!(csv
        .stdout
        .lines()
        .next()
        .is_some_and(|h| h.ends_with(",tags")));
    assert!(csv.stdout.contains("env=prod (ct-2)"), "{}", csv.stdout);
}

/// With one thread, every event of a file is evaluated with the snapshot before any tag change
/// of that file is known (the tag history is complete only after the scan), and the events whose
/// target turns out to have a history are evaluated again: the report is the one of two threads,
/// where some events wait for a history already known instead.
#[test]
fn events_evaluated_before_their_targets_history_is_known_are_evaluated_again() {
    let one = tempdir();
    let (r1, s1) = replay(one.path(), &["--threads", "1"]);
    let two = tempdir();
    let (r2, s2) = replay(two.path(), &["--threads", "2"]);
    let rows = |r: &Run, dir: &Path| r.stdout.replace(&dir.display().to_string(), "DIR");
    assert_eq!(rows(&r1, one.path()), rows(&r2, two.path()));
    assert_eq!(s1["tags"], s2["tags"]);
    // The snapshot says dev (allowed); at the time, i-0aaa was prod.
    assert_eq!(by_id(&r1, "s-2")["candidate"], "implicitDeny");
    assert_eq!(by_id(&r1, "s-2")["tags"][0]["source"], "ct-2");
    // The change of i-0ddd is in another file, read after the session's file.
    assert_eq!(by_id(&r1, "s-d")["candidate"], "indeterminate");
    assert_eq!(by_id(&r1, "s-c")["tags"][0]["source"], "snapshot");
}

#[test]
fn config_items_and_the_snapshot_time() {
    let dir = tempdir();
    // A Config item (AWS CLI v1: epoch seconds) says i-0ccc was dev at 14:30.
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        r#"{"configurationItems": [{"version": "1.3", "accountId": "111122223333", "configurationItemCaptureTime": 1772375400.0,
            "configurationItemStatus": "OK", "resourceType": "AWS::EC2::Instance", "resourceId": "i-0ccc",
            "tags": {"Env": "dev"}}]}"#,
    )
    .expect("write");
    let (r, s) = replay(
        dir.path(),
        &["--config-history", config.to_str().expect("utf8")],
    );
    let sc = by_id(&r, "s-c");
    assert_eq!(sc["candidate"], "allowed", "{sc}");
    assert_eq!(sc["tags"][0]["source"], "config@2026-03-01T14:30:00Z");
    assert_eq!(s["tags"]["config_items"], 1);
    // A snapshot taken before the re-tag of i-0bbb: the session before it reads the snapshot.
    let dir = tempdir();
    let (r, _) = replay(dir.path(), &["--inventory-time", "2026-03-01T08:15:00Z"]);
    let sb = by_id(&r, "s-b");
    assert_eq!(sb["candidate"], "allowed", "{sb}");
    assert_eq!(sb["tags"][0]["source"], "snapshot");
    // A malformed Config file is named.
    std::fs::write(&config, "{}").expect("write");
    let dir = tempdir();
    let (logs, inventory, policy) = scenario(dir.path());
    let bad = run([
        "replay",
        "--candidate",
        policy.to_str().expect("utf8"),
        "--inventory",
        inventory.to_str().expect("utf8"),
        "--config-history",
        config.to_str().expect("utf8"),
        logs.to_str().expect("utf8"),
    ]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("configurationItems"), "{}", bad.stderr);
}

/// A denied StartSession is logged with `requestParameters: null`: its target, named only in
/// the message, still gets its tag history.
#[test]
fn a_denied_session_logged_without_parameters_gets_its_targets_history() {
    let dir = tempdir();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    write_trail(
        &logs.join("a.json"),
        &[
            tags(
                "CreateTags",
                "ct-e1",
                "2026-03-01T17:00:00Z",
                "i-0eee",
                &[("Env", Some("dev"))],
            ),
            session("s-e", "2026-03-01T18:00:00Z", "i-0eee", false),
            tags(
                "CreateTags",
                "ct-e2",
                "2026-03-01T19:00:00Z",
                "i-0eee",
                &[("Env", Some("prod"))],
            ),
        ],
    );
    let inventory = dir.path().join("inventory.csv");
    std::fs::write(&inventory, "resource,key,value\ni-0eee,Env,prod\n").expect("write");
    let policy = dir.path().join("policy.json");
    std::fs::write(&policy, POLICY).expect("write");
    let r = run([
        "replay",
        "--candidate",
        policy.to_str().expect("utf8"),
        "--inventory",
        inventory.to_str().expect("utf8"),
        "--format",
        "jsonl",
        "--all",
        logs.to_str().expect("utf8"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let se = by_id(&r, "s-e");
    assert_eq!(se["target"], "i-0eee");
    assert_eq!(se["candidate"], "allowed", "{se}");
    assert_eq!(se["change"], "newly_allowed");
    assert_eq!(se["tags"][0]["source"], "ct-e1");
}
