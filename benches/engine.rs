//! criterion benches: wildcard matching, condition evaluation, request evaluation against the
//! seed policies and a large authorization-details snapshot, record selection and parsing
//! (bytes/s), and the end-to-end pipeline on a generated archive (records/s).
//!
//! `cargo bench --bench engine` (add `-- NAME` to run one group).

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde_json::json;
use trailreplay::decode::{self, DecodeOptions};
use trailreplay::eval::{evaluate, Context, PolicyStack, Request, Resource, TagState};
use trailreplay::generate::GenerateOptions;
use trailreplay::policy::condition::{self, KeyState, Operator};
use trailreplay::policy::pattern::{Pattern, Syntax, VarValue};
use trailreplay::policy::set::{PolicyInput, PolicySet, PrincipalKind, Resolved};
use trailreplay::policy::{compile_document, compile_text, CompiledPolicy};

fn seed(name: &str) -> CompiledPolicy {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples/policies")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("seed policy");
    compile_text(name, &text).policy.expect("valid seed policy")
}

fn wildcards(c: &mut Criterion) {
    let mut g = c.benchmark_group("wildcard");
    let like = Syntax {
        wildcards: true,
        variables: false,
        ignore_case: false,
    };
    let p = Pattern::parse("arn:aws:ec2:*:987654321098:instance/*", like).expect("pattern");
    let arn = "arn:aws:ec2:us-east-2:987654321098:instance/i-0a1b2c3d4e5f60001";
    g.bench_function("arn_star", |b| {
        b.iter(|| black_box(&p).matches(black_box(arn)))
    });
    let q = Pattern::parse("*a*b*c*d?", like).expect("pattern");
    let text = "xxxaxxxbxxxxxxcxxxxxxxxxdxx-no-match-here-at-all";
    g.bench_function("many_stars_no_match", |b| {
        b.iter(|| black_box(&q).matches(black_box(text)))
    });
    let v = Pattern::parse(
        "arn:aws:ssm:*:*:session/${aws:username}-*",
        Syntax {
            variables: true,
            ..like
        },
    )
    .expect("pattern");
    let look = |_: &str| VarValue::Known("alice");
    g.bench_function("variable", |b| {
        b.iter(|| {
            black_box(&v).matches_with(
                black_box("arn:aws:ssm:us-east-2:1:session/alice-0a1b"),
                &look,
            )
        })
    });
    g.finish();
}

fn conditions(c: &mut Criterion) {
    let mut g = c.benchmark_group("condition");
    let op = Operator::parse("StringLike").expect("op");
    let vals =
        condition::compile_values(&op, &["WebServers".to_string(), "Web*".to_string()], true)
            .expect("values");
    let req = vec!["WebServers".to_string()];
    let none = |_: &str| VarValue::Absent;
    g.bench_function("string_like", |b| {
        b.iter(|| condition::evaluate(&op, &vals, KeyState::Present(black_box(&req)), &none))
    });
    let ip = Operator::parse("NotIpAddress").expect("op");
    let nets = condition::compile_values(
        &ip,
        &[
            "10.0.0.0/8".into(),
            "192.168.0.0/16".into(),
            "2001:db8::/32".into(),
        ],
        true,
    )
    .expect("values");
    let addr = vec!["203.0.113.9".to_string()];
    g.bench_function("not_ip_address", |b| {
        b.iter(|| condition::evaluate(&ip, &nets, KeyState::Present(black_box(&addr)), &none))
    });
    g.finish();
}

fn stack(p: &CompiledPolicy) -> PolicyStack<'_> {
    PolicyStack {
        identity: vec![p],
        ..PolicyStack::default()
    }
}

fn start_request(tagged: bool) -> Request {
    let mut ctx = Context::replayed();
    ctx.set("aws:username", "alice");
    ctx.set("aws:userid", "AIDAALICEEXAMPLE00001");
    let tags = if tagged {
        TagState::known([("Finance", "WebServers")])
    } else {
        TagState::none()
    };
    Request::new(
        "ssm:StartSession",
        vec![Resource::new(
            "arn:aws:ec2:us-east-2:987654321098:instance/i-0a1b2c3d4e5f60001",
            tags,
        )],
        ctx,
    )
}

fn requests(c: &mut Criterion) {
    let mut g = c.benchmark_group("request");
    let tag = seed("seed-2a-instance-tag.json");
    let admin = seed("seed-4-admin.json");
    let own = seed("seed-3a-own-sessions-username.json");
    let unknown = TagState::Unknown;
    let req = start_request(true);
    g.bench_function("seed_tag_policy_start_session", |b| {
        let s = stack(&tag);
        b.iter(|| evaluate(&s, black_box(&req), &unknown))
    });
    g.bench_function("seed_admin_start_session", |b| {
        let s = stack(&admin);
        b.iter(|| evaluate(&s, black_box(&req), &unknown))
    });
    let mut ctx = Context::replayed();
    ctx.set("aws:username", "alice");
    let term = Request::new(
        "ssm:TerminateSession",
        vec![Resource::new(
            "arn:aws:ssm:us-east-2:987654321098:session/alice-0a1b2c3d4e5f6a7b8",
            TagState::Unknown,
        )],
        ctx,
    );
    g.bench_function("seed_own_sessions_terminate", |b| {
        let s = stack(&own);
        b.iter(|| evaluate(&s, black_box(&term), &unknown))
    });

    // A realistic snapshot: 300 roles with inline policies, a shared customer policy of 20
    // statements, and a policy shaped like AWS's AmazonSSMManagedInstanceCore.
    let snapshot = large_snapshot(300);
    let set = PolicySet::load(&[PolicyInput {
        name: "snapshot.json".into(),
        text: snapshot,
    }])
    .expect("snapshot");
    g.bench_function("snapshot_resolve_and_evaluate", |b| {
        b.iter(|| {
            let r = set.resolve(
                PrincipalKind::Role,
                "arn:aws:iam::987654321098:role/team/Role0150",
                "987654321098",
                "Role0150",
            );
            let Resolved::Found {
                identity, boundary, ..
            } = r
            else {
                panic!("role in snapshot")
            };
            let s = PolicyStack {
                identity,
                boundary,
                ..PolicyStack::default()
            };
            evaluate(&s, black_box(&req), &unknown)
        })
    });
    g.finish();
}

fn large_snapshot(roles: usize) -> String {
    let a = "987654321098";
    let core = json!({"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["ssm:DescribeAssociation","ssm:GetDeployablePatchSnapshotForInstance","ssm:GetDocument","ssm:DescribeDocument","ssm:GetManifest","ssm:GetParameter","ssm:GetParameters","ssm:ListAssociations","ssm:ListInstanceAssociations","ssm:PutInventory","ssm:PutComplianceItems","ssm:PutConfigurePackageResult","ssm:UpdateAssociationStatus","ssm:UpdateInstanceAssociationStatus","ssm:UpdateInstanceInformation"],"Resource":"*"},
        {"Effect":"Allow","Action":["ssmmessages:CreateControlChannel","ssmmessages:CreateDataChannel","ssmmessages:OpenControlChannel","ssmmessages:OpenDataChannel"],"Resource":"*"},
        {"Effect":"Allow","Action":["ec2messages:AcknowledgeMessage","ec2messages:DeleteMessage","ec2messages:FailMessage","ec2messages:GetEndpoint","ec2messages:GetMessages","ec2messages:SendReply"],"Resource":"*"}]});
    let mut shared = Vec::new();
    for i in 0..20 {
        shared.push(json!({"Sid": format!("S{i}"), "Effect": if i % 7 == 6 { "Deny" } else { "Allow" },
            "Action": [format!("ec2:Describe{i}*"), "s3:GetObject", "ssm:StartSession"],
            "Resource": [format!("arn:aws:ec2:*:{a}:instance/*"), format!("arn:aws:s3:::bucket-{i}/*")],
            "Condition": {"StringEquals": {"ssm:resourceTag/Team": format!("team-{i}")}, "Bool": {"aws:SecureTransport": "true"}}}));
    }
    let shared = json!({"Version":"2012-10-17","Statement": shared});
    let role_list: Vec<_> = (0..roles).map(|r| json!({
        "RoleName": format!("Role{r:04}"), "Path": "/team/", "Arn": format!("arn:aws:iam::{a}:role/team/Role{r:04}"),
        "RolePolicyList": [{"PolicyName": "inline", "PolicyDocument": {"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"ssm:TerminateSession","Resource":"*","Condition":{"StringLike":{"ssm:resourceTag/aws:ssmmessages:session-id":["${aws:userid}"]}}},
            {"Effect":"Allow","Action":"ssm:StartSession","Resource":format!("arn:aws:ec2:*:{a}:instance/*"),"Condition":{"StringLike":{"ssm:resourceTag/Finance":["WebServers"]}}}]}}],
        "AttachedManagedPolicies": [
            {"PolicyName":"AmazonSSMManagedInstanceCore","PolicyArn":"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"},
            {"PolicyName":"Shared","PolicyArn":format!("arn:aws:iam::{a}:policy/Shared")}]
    })).collect();
    json!({
        "UserDetailList": [], "GroupDetailList": [], "RoleDetailList": role_list,
        "Policies": [
            {"PolicyName":"AmazonSSMManagedInstanceCore","Arn":"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore","DefaultVersionId":"v2",
             "PolicyVersionList":[{"Document":core,"VersionId":"v2","IsDefaultVersion":true}]},
            {"PolicyName":"Shared","Arn":format!("arn:aws:iam::{a}:policy/Shared"),"DefaultVersionId":"v1",
             "PolicyVersionList":[{"Document":shared,"VersionId":"v1","IsDefaultVersion":true}]}]
    })
    .to_string()
}

fn generated(records: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    let args = GenerateOptions {
        out: dir.path().to_path_buf(),
        records,
        ssm_percent: 3.0,
        tag_percent: 0.0,
        per_file: 2000,
        accounts: 1,
        regions: 1,
        days: 1,
        seed: 7,
        force: true,
    };
    trailreplay::generate::run(&args).expect("generate");
    dir
}

fn decoding(c: &mut Criterion) {
    let dir = generated(2000);
    let listing = trailreplay::source::list(&[dir.path().join("AWSLogs")]);
    let mut json_bytes = Vec::new();
    let mut gz_bytes = Vec::new();
    for i in &listing.inputs {
        let trailreplay::source::Input::File(p) = i else {
            continue;
        };
        gz_bytes = std::fs::read(p).expect("read");
        std::io::Read::read_to_end(
            &mut flate2::read::MultiGzDecoder::new(&gz_bytes[..]),
            &mut json_bytes,
        )
        .expect("gunzip");
    }
    let name: std::sync::Arc<str> = "bench".into();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Bytes(json_bytes.len() as u64));
    g.bench_function("select_and_parse_json", |b| {
        b.iter(|| {
            decode::decode_stream(black_box(&json_bytes[..]), &name, DecodeOptions::default())
        })
    });
    g.bench_function("split_only", |b| {
        b.iter(|| {
            decode::scan::scan(
                black_box(&json_bytes[..]),
                decode::MAX_RECORD_BYTES,
                |_, _, _| {},
            )
        })
    });
    g.bench_function("reference_splitter", |b| {
        b.iter(|| {
            decode::scan_reference::scan(
                black_box(&json_bytes[..]),
                decode::MAX_RECORD_BYTES,
                |_, _, _| {},
            )
        })
    });
    g.bench_function("gunzip_only", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(json_bytes.len());
            std::io::Read::read_to_end(
                &mut flate2::read::MultiGzDecoder::new(black_box(&gz_bytes[..])),
                &mut out,
            )
            .expect("gunzip");
            out
        })
    });
    g.bench_function("gunzip_whole_libdeflate", |b| {
        let mut out = Vec::new();
        let mut inflater = libdeflater::Decompressor::new();
        b.iter(|| {
            trailreplay::source::inflate_whole(
                black_box(&gz_bytes[..]),
                &mut out,
                32 << 20,
                &mut inflater,
            )
            .expect("one member")
        })
    });
    let last = listing.inputs.last().expect("a generated file").clone();
    g.bench_function("read_inflate_select_and_parse", |b| {
        b.iter(|| {
            decode::decode_input_keeping(black_box(&last), DecodeOptions::default(), &mut |_, _| {})
        })
    });
    g.bench_function("gunzip_select_and_parse", |b| {
        b.iter(|| {
            decode::decode_stream(
                flate2::read::MultiGzDecoder::new(black_box(&gz_bytes[..])),
                &name,
                DecodeOptions::default(),
            )
        })
    });
    g.finish();
}

fn pipeline(c: &mut Criterion) {
    let records = 20_000;
    let dir = generated(records);
    let policy = compile_document(
        "seed-2a",
        &serde_json::from_str(
            &std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("samples/policies/seed-2a-instance-tag.json"),
            )
            .expect("seed"),
        )
        .expect("json"),
    )
    .policy
    .expect("policy");
    let mut inventory = trailreplay::mapping::Inventory::default();
    inventory
        .add(
            "inventory.csv",
            &std::fs::read_to_string(dir.path().join("inventory.csv")).expect("inventory"),
        )
        .expect("inventory");
    let cfg = trailreplay::replay::ReplayConfig {
        inventory,
        ..trailreplay::replay::ReplayConfig::new(
            vec![PolicySet::from_documents(vec![policy])],
            None,
        )
    };
    let listing = trailreplay::source::list(&[dir.path().join("AWSLogs")]);
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(records as u64));
    g.sample_size(20);
    g.bench_function("replay_generated_20k_records", |b| {
        b.iter_batched(
            || (),
            |_| trailreplay::replay::run(&cfg, &listing, &|_, _| {}, &mut |_, _| Ok(())),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, wildcards, conditions, requests, decoding, pipeline);
criterion_main!(benches);
