//! Every policy of the seed document (AWS Systems Manager User Guide, "Additional sample IAM
//! policies for Session Manager"), cleaned of extraction noise in `samples/policies/`, with the
//! outcomes the document describes, checked through `trailreplay simulate --format json`.

use serde_json::Value;

use crate::common::{run, sample};

const I_LISTED: &str = "arn:aws:ec2:us-east-2:123456789012:instance/i-1234567890EXAMPLE";
const I_OTHER: &str = "arn:aws:ec2:us-east-2:123456789012:instance/i-0f0f0f0f0fEXAMPLE";
const FIN: &str = "arn:aws:ec2:us-east-2:987654321098:instance/i-0fin";
const ALICE_SESSION: &str = "arn:aws:ssm:us-east-2:123456789012:session/alice-0a1b2c3d4e";
const BOB_SESSION: &str = "arn:aws:ssm:us-east-2:123456789012:session/bob-0a1b2c3d4e";

struct Case {
    policy: &'static str,
    action: &'static str,
    resource: &'static str,
    context: &'static [&'static str],
    expect: &'static str,
    why: &'static str,
}

const CASES: &[Case] = &[
    // Example 1: restrict access to specific instances; end only your own sessions.
    Case {
        policy: "seed-1-specific-instances.json",
        action: "ssm:StartSession",
        resource: I_LISTED,
        context: &[],
        expect: "allowed",
        why: "listed instance",
    },
    Case {
        policy: "seed-1-specific-instances.json",
        action: "ssm:StartSession",
        resource: I_OTHER,
        context: &[],
        expect: "implicitDeny",
        why: "any other instance: AccessDenied",
    },
    Case {
        policy: "seed-1-specific-instances.json",
        action: "ssm:TerminateSession",
        resource: ALICE_SESSION,
        context: &["aws:username=alice"],
        expect: "allowed",
        why: "own session",
    },
    Case {
        policy: "seed-1-specific-instances.json",
        action: "ssm:TerminateSession",
        resource: BOB_SESSION,
        context: &["aws:username=alice"],
        expect: "implicitDeny",
        why: "any other session: AccessDenied",
    },
    // Example 2: instance tags.
    Case {
        policy: "seed-2a-instance-tag.json",
        action: "ssm:StartSession",
        resource: FIN,
        context: &["ssm:resourceTag/Finance=WebServers"],
        expect: "allowed",
        why: "tagged Finance: WebServers",
    },
    Case {
        policy: "seed-2a-instance-tag.json",
        action: "ssm:StartSession",
        resource: FIN,
        context: &["ssm:resourceTag/Finance=Payroll"],
        expect: "implicitDeny",
        why: "any other tag value",
    },
    Case {
        policy: "seed-2a-instance-tag.json",
        action: "ssm:StartSession",
        resource: FIN,
        context: &[],
        expect: "implicitDeny",
        why: "not tagged",
    },
    Case {
        policy: "seed-2a-instance-tag.json",
        action: "ssm:StartSession",
        resource: "arn:aws:ec2:us-east-2:111122223333:instance/i-0fin",
        context: &["ssm:resourceTag/Finance=WebServers"],
        expect: "implicitDeny",
        why: "another account",
    },
    Case {
        policy: "seed-2b-two-tags.json",
        action: "ssm:StartSession",
        resource: FIN,
        context: &[
            "ssm:resourceTag/tag-key1=tag-value1",
            "ssm:resourceTag/tag-key2=tag-value2",
        ],
        expect: "allowed",
        why: "both tags",
    },
    Case {
        policy: "seed-2b-two-tags.json",
        action: "ssm:StartSession",
        resource: FIN,
        context: &["ssm:resourceTag/tag-key1=tag-value1"],
        expect: "implicitDeny",
        why: "only one of the two tags",
    },
    // Example 3, method 1: ${aws:username}.
    Case {
        policy: "seed-3a-own-sessions-username.json",
        action: "ssm:DescribeSessions",
        resource: "*",
        context: &[],
        expect: "allowed",
        why: "view the IDs of all sessions",
    },
    Case {
        policy: "seed-3a-own-sessions-username.json",
        action: "ssm:TerminateSession",
        resource: ALICE_SESSION,
        context: &["aws:username=alice"],
        expect: "allowed",
        why: "own session",
    },
    Case {
        policy: "seed-3a-own-sessions-username.json",
        action: "ssm:TerminateSession",
        resource: BOB_SESSION,
        context: &["aws:username=alice"],
        expect: "implicitDeny",
        why: "other users' sessions",
    },
    Case {
        policy: "seed-3a-own-sessions-username.json",
        action: "ssm:TerminateSession",
        resource: ALICE_SESSION,
        context: &["aws:userid=AROAEXAMPLE:alice"],
        expect: "implicitDeny",
        why: "does not work for federated IDs: no aws:username",
    },
    // Example 3, method 2: tags supplied by AWS.
    Case {
        policy: "seed-3b-target-id-tag.json",
        action: "ssm:TerminateSession",
        resource: ALICE_SESSION,
        context: &["ssm:resourceTag/aws:ssmmessages:target-id=i-02573cafcfEXAMPLE"],
        expect: "allowed",
        why: "session on i-02573cafcfEXAMPLE",
    },
    Case {
        policy: "seed-3b-target-id-tag.json",
        action: "ssm:TerminateSession",
        resource: ALICE_SESSION,
        context: &["ssm:resourceTag/aws:ssmmessages:target-id=i-0other"],
        expect: "implicitDeny",
        why: "AccessDeniedException for other targets",
    },
    Case {
        policy: "seed-3c-session-id-tag-user.json",
        action: "ssm:TerminateSession",
        resource: ALICE_SESSION,
        context: &["ssm:resourceTag/aws:ssmmessages:session-id=AIDIODR4TAW7CSEXAMPLE"],
        expect: "allowed",
        why: "the user's ID",
    },
    Case {
        policy: "seed-3c-session-id-tag-user.json",
        action: "ssm:TerminateSession",
        resource: BOB_SESSION,
        context: &["ssm:resourceTag/aws:ssmmessages:session-id=AIDAOTHERUSEREXAMPLE"],
        expect: "implicitDeny",
        why: "another user's session",
    },
    Case {
        policy: "seed-3d-session-id-tag-userid.json",
        action: "ssm:TerminateSession",
        resource: ALICE_SESSION,
        context: &[
            "aws:userid=AIDIODR4TAW7CSEXAMPLE:MyRole",
            "ssm:resourceTag/aws:ssmmessages:session-id=AIDIODR4TAW7CSEXAMPLE:MyRole",
        ],
        expect: "allowed",
        why: "role session: role-id:caller-specified-role-name",
    },
    Case {
        policy: "seed-3d-session-id-tag-userid.json",
        action: "ssm:TerminateSession",
        resource: BOB_SESSION,
        context: &[
            "aws:userid=AIDIODR4TAW7CSEXAMPLE:MyRole",
            "ssm:resourceTag/aws:ssmmessages:session-id=AIDIODR4TAW7CSEXAMPLE:Other",
        ],
        expect: "implicitDeny",
        why: "another role session",
    },
    Case {
        policy: "seed-3e-both-tags.json",
        action: "ssm:TerminateSession",
        resource: ALICE_SESSION,
        context: &[
            "aws:username=alice",
            "ssm:resourceTag/aws:ssmmessages:target-id=i-02573cafcfEXAMPLE",
            "ssm:resourceTag/aws:ssmmessages:session-id=alice-123",
        ],
        expect: "allowed",
        why: "both system tags",
    },
    Case {
        policy: "seed-3e-both-tags.json",
        action: "ssm:TerminateSession",
        resource: ALICE_SESSION,
        context: &[
            "aws:username=alice",
            "ssm:resourceTag/aws:ssmmessages:target-id=i-02573cafcfEXAMPLE",
        ],
        expect: "implicitDeny",
        why: "only one system tag",
    },
    // Example 4: full access.
    Case {
        policy: "seed-4-admin.json",
        action: "ssm:StartSession",
        resource: I_OTHER,
        context: &[],
        expect: "allowed",
        why: "all instances",
    },
    Case {
        policy: "seed-4-admin.json",
        action: "ssm:TerminateSession",
        resource: BOB_SESSION,
        context: &[],
        expect: "allowed",
        why: "all sessions",
    },
    Case {
        policy: "seed-4-admin.json",
        action: "ssm:ResumeSession",
        resource: BOB_SESSION,
        context: &[],
        expect: "allowed",
        why: "all sessions",
    },
    Case {
        policy: "seed-4-admin.json",
        action: "ssm:DescribeSessions",
        resource: "*",
        context: &[],
        expect: "allowed",
        why: "describe",
    },
    Case {
        policy: "seed-4-admin.json",
        action: "ssm:GetConnectionStatus",
        resource: I_OTHER,
        context: &[],
        expect: "allowed",
        why: "connection status",
    },
    Case {
        policy: "seed-4-admin.json",
        action: "ssm:SendCommand",
        resource: I_OTHER,
        context: &[],
        expect: "implicitDeny",
        why: "only Session Manager actions",
    },
];

#[test]
fn seed_policies_give_the_documented_outcomes() {
    let mut failures = Vec::new();
    for c in CASES {
        let policy = sample(&format!("policies/{}", c.policy));
        let mut args = vec![
            "simulate".to_string(),
            "--format".into(),
            "json".into(),
            "--policy".into(),
            policy.display().to_string(),
            "--action".into(),
            c.action.into(),
            "--resource".into(),
            c.resource.into(),
        ];
        for kv in c.context {
            args.push("--context".into());
            args.push((*kv).into());
        }
        let r = run(&args);
        assert_eq!(r.code, 0, "{}: {}", c.policy, r.stderr);
        let v: Value = serde_json::from_str(&r.stdout).expect("one JSON object");
        if v["decision"] != c.expect {
            failures.push(format!(
                "{} {} ({}): expected {}, got {} ({})",
                c.policy, c.action, c.why, c.expect, v["decision"], v["reason"]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn seed_policies_validate_clean() {
    for f in std::fs::read_dir(sample("policies")).expect("dir") {
        let p = f.expect("entry").path();
        if !p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("seed-"))
        {
            continue;
        }
        let r = run(["validate".as_ref(), p.as_os_str()]);
        assert_eq!(r.code, 0, "{}: {}", p.display(), r.stdout);
        assert!(r.stdout.starts_with("ok: "), "{}", r.stdout);
    }
}

#[test]
fn seed_extraction_noise_is_flagged() {
    // The seed text has `"Resource": ""` and a condition key split by newlines; both are kept
    // verbatim in tests/data/seed-verbatim.json.
    let r = run(["validate", "tests/data/seed-verbatim.json"]);
    assert_eq!(r.code, 0, "warnings only: {}", r.stdout);
    assert!(r.stdout.contains("matches no resource"), "{}", r.stdout);
    assert!(
        r.stdout.contains("contains whitespace or a newline"),
        "{}",
        r.stdout
    );
}
