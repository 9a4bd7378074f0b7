//! The `simulate` and `validate` commands as a user runs them: exit codes, messages, output.

use serde_json::Value;

use crate::common::{run, tempdir};

#[test]
fn simulate_json_is_one_object() {
    let r = run([
        "simulate",
        "--format",
        "json",
        "--policy",
        "samples/policies/seed-4-admin.json",
        "--action",
        "ssm:StartSession",
        "--resource",
        "arn:aws:ec2:us-east-2:1:instance/i-1",
        "--resource",
        "arn:aws:ssm:us-east-2::document/AWS-StartPortForwardingSession",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).expect("JSON");
    assert_eq!(v["decision"], "allowed");
    assert_eq!(v["resources"].as_array().map(|a| a.len()), Some(2));
    assert_eq!(v["deciding"][0]["statement"], 1);
}

#[test]
fn simulate_unknown_key_is_indeterminate() {
    let r = run([
        "simulate",
        "--format",
        "json",
        "--policy",
        "samples/policies/seed-2a-instance-tag.json",
        "--action",
        "ssm:StartSession",
        "--resource",
        "arn:aws:ec2:us-east-2:987654321098:instance/i-1",
        "--unknown",
        "ssm:resourceTag/Finance",
    ]);
    let v: Value = serde_json::from_str(&r.stdout).expect("JSON");
    assert_eq!(v["decision"], "indeterminate");
    assert_eq!(v["unknownKeys"][0], "ssm:resourceTag/Finance");
}

#[test]
fn simulate_multivalued_context() {
    let dir = tempdir();
    let p = dir.path().join("p.json");
    std::fs::write(&p, r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}}}"#).expect("write");
    let base = |extra: &[&str]| {
        let mut a = vec![
            "simulate",
            "--format",
            "json",
            "--action",
            "ssm:StartSession",
            "--resource",
            "*",
            "--policy",
        ];
        let ps = p.to_str().expect("utf8 path");
        a.push(ps);
        a.extend_from_slice(extra);
        let r = run(&a);
        let v: Value = serde_json::from_str(&r.stdout).expect("JSON");
        v["decision"].as_str().unwrap_or_default().to_string()
    };
    assert_eq!(
        base(&["--context", "aws:TagKeys=a", "--context", "aws:TagKeys=b"]),
        "allowed"
    );
    assert_eq!(
        base(&["--context", "aws:TagKeys=a", "--context", "aws:TagKeys=c"]),
        "implicitDeny"
    );
}

#[test]
fn invalid_policy_is_refused_with_file_statement_and_hint() {
    let dir = tempdir();
    let p = dir.path().join("bad.json");
    std::fs::write(&p, r#"{"Version":"2012-10-17","Statement":[{"Sid":"One","Effect":"Allow","Action":"ssm:StartSession","Resource":"*","Condition":{"StringEqualz":{"aws:username":"x"}}}]}"#).expect("write");
    let r = run([
        "simulate",
        "--action",
        "ssm:StartSession",
        "--resource",
        "*",
        "--policy",
        p.to_str().expect("utf8"),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("bad.json: statement 1 (Sid `One`): unknown condition operator `StringEqualz` (did you mean `StringEquals`?)"), "{}", r.stderr);
    let v = run(["validate", p.to_str().expect("utf8")]);
    assert_eq!(v.code, 2);
    assert!(v.stdout.starts_with("error: "), "{}", v.stdout);
}

#[test]
fn validate_reports_each_refusal() {
    let dir = tempdir();
    let cases = [
        (
            r#"{"Statement":{"Effect":"Permit","Action":"ssm:X","Resource":"*"}}"#,
            "`Effect` must be `Allow` or `Deny`",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"ssm:X","NotAction":"ssm:Y","Resource":"*"}}"#,
            "not both",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"ssm:X"}}"#,
            "`Resource` or `NotResource`",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"ssm:X","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"300.1.1.1"}}}}"#,
            "not an IPv4 or IPv6",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"ssm:X","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"tomorrow"}}}}"#,
            "not an ISO 8601 date",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"ssm:X","Resource":"*","Condition":{"NullIfExists":{"aws:SourceIp":"true"}}}}"#,
            "`IfExists` cannot be added to `Null`",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:X","Resource":"*","Condition":{"NumericLessThan":{"aws:MultiFactorAuthAge":"${aws:username}"}}}}"#,
            "does not take policy variables",
        ),
    ];
    for (i, (doc, msg)) in cases.iter().enumerate() {
        let p = dir.path().join(format!("p{i}.json"));
        std::fs::write(&p, doc).expect("write");
        let r = run(["validate", p.to_str().expect("utf8")]);
        assert_eq!(r.code, 2, "{doc}: {}", r.stdout);
        assert!(r.stdout.contains(msg), "{doc}: {}", r.stdout);
    }
}

#[test]
fn validate_lints() {
    let dir = tempdir();
    let cases = [
        (
            r#"{"Statement":{"Effect":"Allow","Action":"ssm:TerminateSession","Resource":"arn:aws:ssm:*:*:session/${aws:username}-*"}}"#,
            "literal text because `Version` is missing",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:StartSessions","Resource":"*"}}"#,
            "did you mean `ssm:StartSession`?",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:StartSession","Resource":"*","Condition":{"StringEquals":{"aws:username":"a*"}}}}"#,
            "not wildcards",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:StartSession","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws:username":"a"}}}}"#,
            "single-valued key",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:StartSession","Resource":"*","Condition":{"StringEquals":{"aws:TagKeys":"a"}}}}"#,
            "multivalued key",
        ),
    ];
    for (i, (doc, msg)) in cases.iter().enumerate() {
        let p = dir.path().join(format!("w{i}.json"));
        std::fs::write(&p, doc).expect("write");
        let r = run(["validate", p.to_str().expect("utf8")]);
        assert_eq!(r.code, 0, "{doc}: {}", r.stdout);
        assert!(r.stdout.contains(msg), "{doc}: {}", r.stdout);
    }
}

#[test]
fn validate_reads_embedded_forms_and_snapshots() {
    let r = run(["validate", "samples/policies/authorization-details.json"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let dir = tempdir();
    let p = dir.path().join("pv.json");
    std::fs::write(&p, r#"{"PolicyVersion":{"Document":"%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22ssm%3AStartSession%22%2C%22Resource%22%3A%22%2A%22%7D%7D","VersionId":"v3","IsDefaultVersion":true}}"#).expect("write");
    let r = run([
        "simulate",
        "--format",
        "json",
        "--policy",
        p.to_str().expect("utf8"),
        "--action",
        "ssm:StartSession",
        "--resource",
        "*",
    ]);
    let v: Value = serde_json::from_str(&r.stdout).expect("JSON");
    assert_eq!(v["decision"], "allowed");
}

/// `validate` on one policy text written to a temporary file: (exit code, stdout + stderr).
fn validate_text(text: &str) -> (i32, String) {
    let dir = tempdir();
    let p = dir.path().join("p.json");
    std::fs::write(&p, text).expect("write");
    let r = run(["validate", p.to_str().expect("utf8")]);
    (r.code, format!("{}{}", r.stdout, r.stderr))
}

#[test]
fn validate_refuses_what_iam_refuses() {
    // IAM User Guide, "IAM JSON policy elements: Principal": not in identity-based policies.
    let (code, out) = validate_text(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"ssm:StartSession","Resource":"*"}}"#,
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("`Principal` is not allowed"), "{out}");
    // "IAM JSON policy grammar": an element appears once; JSON parsers keep the last silently.
    let (code, out) = validate_text(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Effect":"Allow","Action":"ssm:StartSession","Resource":"*"}]}"#,
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("duplicate key `Effect` at `Statement[0].Effect`"),
        "{out}"
    );
    // IAM Access Analyzer, "Invalid global condition key": IAM accepts the policy, the key is
    // never in a request; a warning with a suggestion.
    let (code, out) = validate_text(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"ssm:StartSession","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresnt":"false"}}}}"#,
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("did you mean `aws:MultiFactorAuthPresent`?"),
        "{out}"
    );
    // A valid date form is never refused; a four-digit year is flagged as ambiguous.
    let (code, out) = validate_text(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:StartSession","Resource":"arn:aws:ec2:*:instance/*","Condition":{"DateGreaterThan":{"aws:CurrentTime":["2026-01-01T00:00+02:00","2026-01","2026"]}}}}"#,
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("both a year and epoch seconds"), "{out}");
    assert!(
        !out.contains("matches no ARN"),
        "trailing * crosses colons: {out}"
    );
}
