//! `s3://` inputs against a real S3 API: moto's server (installed from PyPI, see
//! `tests/requirements.txt`) started on 127.0.0.1 on a free port and stopped after each test.
//! The replay of objects equals the replay of the same files from a local directory, but for
//! the `file` column, which names `s3://BUCKET/KEY#N`.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;

use crate::common::{generate, run, run_env, sample, tempdir, Run};

const POLICY: &str = "samples/policies/seed-2a-instance-tag.json";

/// A moto server on 127.0.0.1, killed when dropped.
struct Moto {
    child: Child,
    port: u16,
    _home: tempfile::TempDir,
}

impl Moto {
    fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start moto_server ({e}): install the test services with `python3 -m pip install -r tests/requirements.txt`"
                )
            });
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "moto_server did not listen on 127.0.0.1:{port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto {
            child,
            port,
            _home: tempdir(),
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment a user would set for an S3-compatible store, and nothing from this
    /// machine's own AWS configuration.
    fn env(&self) -> Vec<(&'static str, String)> {
        let home = self._home.path().to_string_lossy().into_owned();
        vec![
            ("AWS_ENDPOINT_URL_S3", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_CONFIG_FILE", format!("{home}/config")),
            ("AWS_SHARED_CREDENTIALS_FILE", format!("{home}/credentials")),
            ("HOME", home),
        ]
    }

    fn client(&self) -> (tokio::runtime::Runtime, aws_sdk_s3::Client) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let conf = aws_sdk_s3::config::Builder::new()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .force_path_style(true)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "testing", "testing", None, None, "tests",
            ))
            .build();
        (rt, aws_sdk_s3::Client::from_conf(conf))
    }

    /// Creates `bucket` and uploads every file under `dir` with its path below `dir` as key,
    /// under `prefix`.
    fn upload(&self, bucket: &str, prefix: &str, dir: &Path) {
        let (rt, c) = self.client();
        rt.block_on(async {
            c.create_bucket()
                .bucket(bucket)
                .send()
                .await
                .expect("create bucket");
            for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
                let e = e.expect("walk");
                if !e.file_type().is_file() {
                    continue;
                }
                let rel = e
                    .path()
                    .strip_prefix(dir)
                    .expect("below")
                    .to_string_lossy()
                    .replace('\\', "/");
                let body = std::fs::read(e.path()).expect("read");
                c.put_object()
                    .bucket(bucket)
                    .key(format!("{prefix}{rel}"))
                    .body(ByteStream::from(body))
                    .send()
                    .await
                    .expect("put object");
            }
        });
    }

    fn put(&self, bucket: &str, key: &str, body: &[u8]) {
        let (rt, c) = self.client();
        rt.block_on(async {
            c.put_object()
                .bucket(bucket)
                .key(key)
                .body(ByteStream::from(body.to_vec()))
                .send()
                .await
                .expect("put object");
        });
    }

    fn replay(&self, args: &[&str]) -> Run {
        self.replay_with(&[], args)
    }

    /// As [`Moto::replay`], with some variables changed (an empty value removes one).
    fn replay_with(&self, changed: &[(&'static str, &str)], args: &[&str]) -> Run {
        let mut env = self.env();
        for (k, v) in changed {
            env.retain(|(key, _)| key != k);
            env.push((k, v.to_string()));
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run_env(&env, args)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

/// The replay of `s3://BUCKET/PREFIX` equals the local one once the file column's prefix is
/// mapped, in every report mode.
fn assert_same_as_local(moto: &Moto, inventory: &Path, window: &[&str], local: &Path, url: &str) {
    for mode in [&["--all"][..], &["--format", "jsonl", "--all"][..], &[][..]] {
        let mut args = vec!["replay", "--candidate", POLICY, "--inventory", s(inventory)];
        args.extend_from_slice(window);
        args.extend_from_slice(mode);
        let mut local_args = args.clone();
        local_args.push(s(local));
        args.push(url);
        let a = run(&local_args);
        let b = moto.replay(&args);
        assert_eq!(a.code, 0, "{}", a.stderr);
        assert_eq!(b.code, 0, "{mode:?}: {}", b.stderr);
        let local_prefix = format!("{}/", s(local));
        let url_prefix = if url.ends_with('/') {
            url.to_string()
        } else {
            format!("{url}/")
        };
        assert!(
            b.stdout.contains(&url_prefix) || b.stdout.lines().count() <= 1,
            "{}",
            b.stdout
        );
        assert_eq!(
            a.stdout.replace(&local_prefix, &url_prefix),
            b.stdout,
            "{mode:?}: the S3 report differs from the local one"
        );
        assert!(!a.stdout.is_empty());
    }
}

#[test]
fn s3_objects_replay_like_the_same_files_on_disk() {
    let moto = Moto::start();
    let logs = sample("AWSLogs");
    moto.upload("trail", "AWSLogs/", &logs);
    let inv = sample("inventory/describe-instances.json");
    assert_same_as_local(&moto, &inv, &[], &logs, "s3://trail/AWSLogs");
    // The digest file is listed and skipped, never fetched; the summary says so.
    let r = moto.replay(&[
        "replay",
        "--candidate",
        POLICY,
        "--format",
        "summary",
        "s3://trail/AWSLogs/",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("files: 4 found, 4 read"), "{}", r.stdout);
    assert!(
        r.stdout.contains("skipped: 1 CloudTrail digest file"),
        "{}",
        r.stdout
    );

    // A generated multi-day archive, with a window: pruned the same way as on disk.
    let dir = tempdir();
    let archive = dir.path().join("archive");
    generate(
        &archive,
        "20000",
        "4",
        &[
            "--ssm-percent",
            "30",
            "--accounts",
            "2",
            "--regions",
            "2",
            "--per-file",
            "500",
        ],
    );
    moto.upload("org-trail", "AWSLogs/", &archive.join("AWSLogs"));
    let window = ["--since", "2024-03-02", "--until", "2024-03-03T12:00:00Z"];
    assert_same_as_local(
        &moto,
        &archive.join("inventory.csv"),
        &window,
        &archive.join("AWSLogs"),
        "s3://org-trail/AWSLogs/",
    );
    let local = run([
        "replay",
        "--candidate",
        POLICY,
        "--format",
        "summary",
        "--since",
        "2024-03-02",
        "--until",
        "2024-03-03T12:00:00Z",
        s(&archive.join("AWSLogs")),
    ]);
    let remote = moto.replay(&[
        "replay",
        "--candidate",
        POLICY,
        "--format",
        "summary",
        "--since",
        "2024-03-02",
        "--until",
        "2024-03-03T12:00:00Z",
        "s3://org-trail/AWSLogs/",
    ]);
    // `extract` reads S3 as `replay` does: the subset replays like the bucket.
    let sub = dir.path().join("subset");
    let x = moto.replay(&[
        "extract",
        "-o",
        s(&sub),
        "--since",
        "2024-03-02",
        "--until",
        "2024-03-03T12:00:00Z",
        "s3://org-trail/AWSLogs/",
    ]);
    assert_eq!(x.code, 0, "{}", x.stderr);
    let inv = archive.join("inventory.csv");
    let from_bucket = moto.replay(&[
        "replay",
        "--candidate",
        POLICY,
        "--inventory",
        s(&inv),
        "--all",
        "--since",
        "2024-03-02",
        "--until",
        "2024-03-03T12:00:00Z",
        "s3://org-trail/AWSLogs/",
    ]);
    let from_subset = run([
        "replay",
        "--candidate",
        POLICY,
        "--inventory",
        s(&inv),
        "--all",
        "--since",
        "2024-03-02",
        "--until",
        "2024-03-03T12:00:00Z",
        s(&sub),
    ]);
    assert_eq!(from_bucket.code, 0, "{}", from_bucket.stderr);
    assert_eq!(from_bucket.stdout, from_subset.stdout);
    assert!(
        from_subset.stdout.contains("s3://org-trail/AWSLogs/"),
        "{}",
        from_subset.stdout
    );
    let files = |t: &str| {
        t.lines()
            .find(|l| l.starts_with("files:"))
            .map(str::to_string)
    };
    assert_eq!(
        files(&local.stdout),
        files(&remote.stdout),
        "pruning: {}",
        remote.stdout
    );
    assert!(remote.stdout.contains("pruned"), "{}", remote.stdout);
}

#[test]
fn s3_errors_are_named_and_the_rest_is_read() {
    let moto = Moto::start();
    let logs = sample("AWSLogs");
    moto.upload("trail", "AWSLogs/", &logs);
    // An object that is not gzip although named so, and one cut short.
    moto.put(
        "trail",
        "AWSLogs/987654321098/CloudTrail/us-east-2/2024/09/04/bad.json.gz",
        b"not gzip at all",
    );
    let good = std::fs::read(logs.join("987654321098/CloudTrail/us-east-2/2024/09/02/987654321098_CloudTrail_us-east-2_20240902T0905Z_Q1w2E3r4T5y6U7i8.json.gz")).expect("sample");
    moto.put(
        "trail",
        "AWSLogs/987654321098/CloudTrail/us-east-2/2024/09/04/cut.json.gz",
        &good[..good.len() / 2],
    );
    let r = moto.replay(&[
        "replay",
        "--candidate",
        POLICY,
        "--all",
        "s3://trail/AWSLogs/",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "s3://trail/AWSLogs/987654321098/CloudTrail/us-east-2/2024/09/04/cut.json.gz"
        ),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("bad.json.gz"), "{}", r.stderr);
    // The other objects' rows are all there.
    assert!(r.stdout.lines().count() > 15, "{}", r.stdout);

    // A missing bucket.
    let r = moto.replay(&[
        "replay",
        "--candidate",
        POLICY,
        "s3://no-such-bucket/AWSLogs/",
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("bucket `no-such-bucket` does not exist"),
        "{}",
        r.stderr
    );
}
