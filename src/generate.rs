//! `trailreplay generate`: a deterministic synthetic archive in the S3 layout, for benchmarks
//! and for anyone reproducing the README's figures. Records have the size and shape of real
//! CloudTrail records (compact `{"Records":[...]}` on one line, about 1.3 KB per record); a chosen
//! share are Session Manager events, and about 4% are other `ssm.amazonaws.com` events (which
//! carry the pre-filter's marker and must be parsed to be told apart). An inventory CSV with the
//! instances' tags is written beside the archive.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{Duration, TimeZone, Utc};
use flate2::write::GzEncoder;
use flate2::Compression;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// The archive goes under `out/AWSLogs/...`; an inventory CSV beside it.
    pub out: PathBuf,
    /// Records in all (Session Manager and other).
    pub records: usize,
    /// Share of Session Manager events, 0 to 100.
    pub ssm_percent: f64,
    /// Share of calls that change instance tags, 0 to 100 (of all records).
    pub tag_percent: f64,
    /// Records per log file.
    pub per_file: usize,
    /// Accounts.
    pub accounts: usize,
    /// Regions (1–4).
    pub regions: usize,
    /// Days the records span.
    pub days: usize,
    /// Seed for the pseudo-random generator.
    pub seed: u64,
    /// Write into a folder that is not empty.
    pub force: bool,
}

/// Why nothing (or not everything) was generated.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// An option out of range.
    #[error("`{option} {value}`: {expected}")]
    Option {
        /// The option's flag.
        option: &'static str,
        /// The value given.
        value: String,
        /// What it must be.
        expected: String,
    },
    /// The output directory exists and is not empty (use `--force`).
    #[error("{}: the folder is not empty (generating into it would mix old and new files): choose an empty folder or add `--force`", .0.display())]
    NotEmpty(PathBuf),
    /// A file could not be written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl GenerateOptions {
    /// Refuses options that would write something other than what was asked for.
    pub fn validate(&self) -> Result<(), GenerateError> {
        let bad = |option: &'static str, value: String, expected: &str| {
            Err(GenerateError::Option {
                option,
                value,
                expected: expected.to_string(),
            })
        };
        if self.records == 0 {
            return bad("--records", "0".into(), "give at least 1");
        }
        if self.per_file == 0 {
            return bad("--per-file", "0".into(), "give at least 1");
        }
        if !(0.0..=100.0).contains(&self.ssm_percent) {
            return bad(
                "--ssm-percent",
                self.ssm_percent.to_string(),
                "a percentage from 0 to 100",
            );
        }
        if !(0.0..=100.0).contains(&self.tag_percent) || self.tag_percent + self.ssm_percent > 100.0
        {
            return bad(
                "--tag-percent",
                self.tag_percent.to_string(),
                "a percentage from 0 to 100, with --ssm-percent at most 100 in all",
            );
        }
        if self.days == 0 {
            return bad("--days", "0".into(), "give at least 1");
        }
        if self.accounts == 0 {
            return bad("--accounts", "0".into(), "give at least 1");
        }
        if !(1..=REGIONS.len()).contains(&self.regions) {
            return bad(
                "--regions",
                self.regions.to_string(),
                &format!("from 1 to {}", REGIONS.len()),
            );
        }
        Ok(())
    }
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> GenerateError + '_ {
    move |source| GenerateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// SplitMix64: small, fast, deterministic; statistical quality is ample for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    fn hex(&mut self, len: usize) -> String {
        let mut s = String::with_capacity(len);
        while s.len() < len {
            let _ = write!(s, "{:016x}", self.next());
        }
        s.truncate(len);
        s
    }
}

/// The first account and region are the seed policies' (`987654321098`, `us-east-2`).
const REGIONS: [&str; 4] = ["us-east-2", "us-east-1", "eu-west-1", "ap-southeast-2"];
const USERS: usize = 40;
const ROLES: usize = 12;
const INSTANCES: usize = 200;

fn account(i: usize) -> String {
    format!("{:012}", 987_654_321_098u64 + i as u64 * 1_111_111)
}

/// A session's ID and start time.
type OpenSession = (String, chrono::DateTime<Utc>);

struct Caller {
    identity: String,
    /// `userIdentity.arn`, as AWS's access-denied messages name the caller.
    arn: String,
    principal_id: String,
    user_name: String,
}

fn caller(rng: &mut Rng, acct: &str) -> Caller {
    if rng.chance(0.5) {
        let u = rng.below(USERS as u64);
        let pid = format!("AIDA{:016X}", 0xA11CE0000 + u);
        let name = format!("user{u:02}");
        Caller {
            identity: format!(
                r#"{{"type":"IAMUser","principalId":"{pid}","arn":"arn:aws:iam::{acct}:user/{name}","accountId":"{acct}","accessKeyId":"AKIA{:016X}","userName":"{name}"}}"#,
                rng.next() >> 1
            ),
            arn: format!("arn:aws:iam::{acct}:user/{name}"),
            principal_id: pid,
            user_name: name,
        }
    } else {
        let r = rng.below(ROLES as u64);
        let session = format!("session-{}", rng.below(500));
        let role_id = format!("AROA{:016X}", 0xB0B0000 + r);
        let pid = format!("{role_id}:{session}");
        Caller {
            identity: format!(
                r#"{{"type":"AssumedRole","principalId":"{pid}","arn":"arn:aws:sts::{acct}:assumed-role/Role{r:02}/{session}","accountId":"{acct}","accessKeyId":"ASIA{:016X}","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"{role_id}","arn":"arn:aws:iam::{acct}:role/team/Role{r:02}","accountId":"{acct}","userName":"Role{r:02}"}},"webIdFederationData":{{}},"attributes":{{"creationDate":"2024-03-01T08:00:00Z","mfaAuthenticated":"false"}}}}}}"#,
                rng.next() >> 1
            ),
            arn: format!("arn:aws:sts::{acct}:assumed-role/Role{r:02}/{session}"),
            principal_id: pid,
            user_name: String::new(),
        }
    }
}

fn instance(i: u64) -> String {
    format!("i-0{:016x}", 0xabc0000 + i)
}

#[expect(
    clippy::too_many_arguments,
    reason = "a private helper; a struct for its arguments would only move the list"
)]
fn record(
    out: &mut String,
    rng: &mut Rng,
    time: &str,
    source: &str,
    name: &str,
    region: &str,
    acct: &str,
    c: &Caller,
    params: &str,
    response: &str,
    error: Option<(&str, &str)>,
) {
    let _ = write!(
        out,
        r#"{{"eventVersion":"1.09","userIdentity":{},"eventTime":"{time}","eventSource":"{source}","eventName":"{name}","awsRegion":"{region}","sourceIPAddress":"198.51.100.{}","userAgent":"aws-cli/2.15.{} md/Botocore#1.34.{} ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe","requestParameters":{params},"responseElements":{response},"requestID":"{}-{}-4{}-a{}-{}","eventID":"{}-{}-4{}-b{}-{}","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"{acct}","eventCategory":"Management","tlsDetails":{{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"{}.{region}.amazonaws.com"}}"#,
        c.identity,
        rng.below(250),
        rng.below(30),
        rng.below(90),
        rng.hex(8),
        rng.hex(4),
        rng.hex(3),
        rng.hex(3),
        rng.hex(12),
        rng.hex(8),
        rng.hex(4),
        rng.hex(3),
        rng.hex(3),
        rng.hex(12),
        source.split('.').next().unwrap_or("ssm"),
    );
    if let Some((code, msg)) = error {
        let _ = write!(out, r#","errorCode":"{code}","errorMessage":"{msg}""#);
    }
    out.push('}');
}

/// Writes the archive; returns a one-line description.
pub fn run(a: &GenerateOptions) -> Result<String, GenerateError> {
    a.validate()?;
    let non_empty = match std::fs::read_dir(&a.out) {
        Ok(mut entries) => entries.next().is_some(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(io_at(&a.out)(e)),
    };
    if non_empty && !a.force {
        return Err(GenerateError::NotEmpty(a.out.clone()));
    }
    std::fs::create_dir_all(&a.out).map_err(io_at(&a.out))?;
    let mut rng = Rng(a.seed);
    let (accounts, regions, days, per_file) = (a.accounts, a.regions, a.days, a.per_file);
    let files = a.records.div_ceil(per_file).max(1);
    let ssm_share = a.ssm_percent / 100.0;
    // Of the records that are not session events, the share that change tags.
    let tag_share = if a.ssm_percent >= 100.0 {
        0.0
    } else {
        a.tag_percent / (100.0 - a.ssm_percent)
    };
    let mut tag_calls = 0usize;
    let start = Utc.from_utc_datetime(
        &chrono::NaiveDate::from_ymd_opt(2024, 3, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap_or_default(),
    );
    let span_secs = days as i64 * 86_400;
    // Open sessions with their start time: Session Manager ends a session after at most 24
    // hours (maximum session duration), so only sessions started within 20 hours are ended
    // or resumed.
    // Sessions belong to an account and region: a TerminateSession ends a session of its own.
    let mut open_by_scope: std::collections::HashMap<(usize, usize), Vec<OpenSession>> =
        std::collections::HashMap::new();
    let mut written = 0usize;
    let mut ssm = 0usize;
    let mut bytes = 0u64;
    for f in 0..files {
        let acct = account(f % accounts);
        let region = REGIONS[(f / accounts) % regions];
        let n = per_file.min(a.records - written);
        let t0 = start + Duration::seconds(span_secs * f as i64 / files as i64);
        let dir: PathBuf = a
            .out
            .join("AWSLogs")
            .join(&acct)
            .join("CloudTrail")
            .join(region)
            .join(t0.format("%Y/%m/%d").to_string());
        std::fs::create_dir_all(&dir).map_err(io_at(&dir))?;
        let mut body = String::with_capacity(n * 1400 + 16);
        body.push_str(r#"{"Records":["#);
        for i in 0..n {
            if i > 0 {
                body.push(',');
            }
            let t = t0 + Duration::seconds(rng.below(300) as i64);
            let time = t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
            let c = caller(&mut rng, &acct);
            if rng.chance(ssm_share) {
                ssm += 1;
                let roll = rng.below(100);
                let target = instance(rng.below(INSTANCES as u64));
                // A StartSession refused by IAM: CloudTrail logs `requestParameters: null` and
                // names the refused resource (the target, or the document) only in the message.
                let denied_message = rng.chance(0.05).then(|| {
                    let resource = if rng.chance(0.3) {
                        format!("arn:aws:ssm:{region}::document/AWS-StartPortForwardingSession")
                    } else {
                        format!("arn:aws:ec2:{region}:{acct}:instance/{target}")
                    };
                    format!(
                        "User: {} is not authorized to perform: ssm:StartSession on resource: {resource} because no identity-based policy allows the ssm:StartSession action",
                        c.arn
                    )
                });
                let denied = denied_message.as_deref().map(|m| ("AccessDenied", m));
                let open_sessions = open_by_scope
                    .entry((f % accounts, (f / accounts) % regions))
                    .or_default();
                open_sessions.retain(|(_, started)| t - *started < Duration::hours(20));
                if roll < 55 || open_sessions.is_empty() {
                    let sid = if c.user_name.is_empty() {
                        format!(
                            "{}-{}",
                            c.principal_id.split(':').nth(1).unwrap_or("s"),
                            rng.hex(17)
                        )
                    } else {
                        format!("{}-{}", c.user_name, rng.hex(17))
                    };
                    let doc = if rng.chance(0.15) {
                        r#","documentName":"AWS-StartPortForwardingSession","parameters":{"portNumber":["5432"],"localPortNumber":["15432"]}"#
                    } else {
                        ""
                    };
                    let params = if denied.is_some() {
                        "null".to_string()
                    } else {
                        format!(r#"{{"target":"{target}"{doc}}}"#)
                    };
                    let resp = if denied.is_some() {
                        "null".to_string()
                    } else {
                        open_sessions.push((sid.clone(), t));
                        format!(
                            r#"{{"sessionId":"{sid}","tokenValue":"Value hidden due to security reasons.","streamUrl":"wss://ssmmessages.{region}.amazonaws.com/v1/data-channel/{sid}?role=publish_subscribe&cell-number=AAEAAf"}}"#
                        )
                    };
                    record(
                        &mut body,
                        &mut rng,
                        &time,
                        "ssm.amazonaws.com",
                        "StartSession",
                        region,
                        &acct,
                        &c,
                        &params,
                        &resp,
                        denied,
                    );
                } else if roll < 85 {
                    let k = rng.below(open_sessions.len() as u64) as usize;
                    let (sid, _) = open_sessions.swap_remove(k);
                    let name = if rng.chance(0.2) {
                        "ResumeSession"
                    } else {
                        "TerminateSession"
                    };
                    let p = format!(r#"{{"sessionId":"{sid}"}}"#);
                    record(
                        &mut body,
                        &mut rng,
                        &time,
                        "ssm.amazonaws.com",
                        name,
                        region,
                        &acct,
                        &c,
                        &p,
                        &p,
                        None,
                    );
                } else if roll < 93 {
                    record(
                        &mut body,
                        &mut rng,
                        &time,
                        "ssm.amazonaws.com",
                        "DescribeSessions",
                        region,
                        &acct,
                        &c,
                        r#"{"state":"Active"}"#,
                        "null",
                        None,
                    );
                } else {
                    let p = format!(r#"{{"target":"{target}"}}"#);
                    let r = format!(r#"{{"target":"{target}","status":"connected"}}"#);
                    record(
                        &mut body,
                        &mut rng,
                        &time,
                        "ssm.amazonaws.com",
                        "GetConnectionStatus",
                        region,
                        &acct,
                        &c,
                        &p,
                        &r,
                        None,
                    );
                }
            } else if tag_share > 0.0 && rng.chance(tag_share) {
                // A call that changes tags: re-tags, deletions and launches of the instances
                // sessions target, a tenth of them failing (EC2 API shapes as CloudTrail writes
                // them: src/decode/tagging.rs).
                tag_calls += 1;
                let target = instance(rng.below(INSTANCES as u64));
                let finance = if rng.chance(0.5) {
                    "WebServers"
                } else {
                    "Payroll"
                };
                let failed = rng.chance(0.1).then_some((
                    "Client.UnauthorizedOperation",
                    "You are not authorized to perform this operation.",
                ));
                let set = format!(
                    r#"{{"resourcesSet":{{"items":[{{"resourceId":"{target}"}}]}},"tagSet":{{"items":[{{"key":"Finance","value":"{finance}"}}]}}}}"#
                );
                let roll = rng.below(100);
                let (name, params, resp) = if roll < 50 {
                    (
                        "CreateTags",
                        set,
                        r#"{"requestId":"r","_return":true}"#.to_string(),
                    )
                } else if roll < 70 {
                    (
                        "DeleteTags",
                        format!(
                            r#"{{"resourcesSet":{{"items":[{{"resourceId":"{target}"}}]}},"tagSet":{{"items":[{{"key":"Finance"}}]}}}}"#
                        ),
                        r#"{"requestId":"r","_return":true}"#.to_string(),
                    )
                } else {
                    (
                        "RunInstances",
                        format!(
                            r#"{{"instancesSet":{{"items":[{{"imageId":"ami-0example","minCount":1,"maxCount":1}}]}},"instanceType":"t3.micro","tagSpecificationSet":{{"items":[{{"resourceType":"instance","tags":[{{"key":"Finance","value":"{finance}"}}]}}]}}}}"#
                        ),
                        format!(
                            r#"{{"requestId":"r","reservationId":"r-0{}","instancesSet":{{"items":[{{"instanceId":"{target}","instanceType":"t3.micro","tagSet":{{"items":[{{"key":"Finance","value":"{finance}"}}]}}}}]}}}}"#,
                            rng.hex(16)
                        ),
                    )
                };
                let resp = if failed.is_some() {
                    "null".to_string()
                } else {
                    resp
                };
                record(
                    &mut body,
                    &mut rng,
                    &time,
                    "ec2.amazonaws.com",
                    name,
                    region,
                    &acct,
                    &c,
                    &params,
                    &resp,
                    failed,
                );
            } else {
                let roll = rng.below(100);
                if roll < 4 {
                    record(
                        &mut body,
                        &mut rng,
                        &time,
                        "ssm.amazonaws.com",
                        "DescribeInstanceInformation",
                        region,
                        &acct,
                        &c,
                        r#"{"maxResults":50,"filters":[{"key":"PingStatus","values":["Online"]}]}"#,
                        "null",
                        None,
                    );
                } else if roll < 40 {
                    let p = format!(
                        r#"{{"instancesSet":{{"items":[{{"instanceId":"{}"}}]}},"filterSet":{{}}}}"#,
                        instance(rng.below(INSTANCES as u64))
                    );
                    record(
                        &mut body,
                        &mut rng,
                        &time,
                        "ec2.amazonaws.com",
                        "DescribeInstances",
                        region,
                        &acct,
                        &c,
                        &p,
                        "null",
                        None,
                    );
                } else if roll < 70 {
                    let p = format!(
                        r#"{{"bucketName":"logs-{acct}","Host":"logs-{acct}.s3.{region}.amazonaws.com","key":"app/{}/part-{}.parquet"}}"#,
                        rng.hex(8),
                        rng.below(9999)
                    );
                    record(
                        &mut body,
                        &mut rng,
                        &time,
                        "s3.amazonaws.com",
                        "GetObject",
                        region,
                        &acct,
                        &c,
                        &p,
                        "null",
                        None,
                    );
                } else if roll < 85 {
                    let p = format!(
                        r#"{{"roleArn":"arn:aws:iam::{acct}:role/team/Role{:02}","roleSessionName":"session-{}","durationSeconds":3600}}"#,
                        rng.below(ROLES as u64),
                        rng.below(500)
                    );
                    let r = format!(
                        r#"{{"credentials":{{"accessKeyId":"ASIA{:016X}","sessionToken":"IQoJb3JpZ2luX2VjEXAMPLE","expiration":"Mar 1, 2024, 9:00:00 AM"}}}}"#,
                        rng.next() >> 1
                    );
                    record(
                        &mut body,
                        &mut rng,
                        &time,
                        "sts.amazonaws.com",
                        "AssumeRole",
                        region,
                        &acct,
                        &c,
                        &p,
                        &r,
                        None,
                    );
                } else {
                    let p = format!(
                        r#"{{"logGroupName":"/aws/lambda/fn-{}","logStreamNamePrefix":"2024/03/01"}}"#,
                        rng.below(40)
                    );
                    record(
                        &mut body,
                        &mut rng,
                        &time,
                        "logs.amazonaws.com",
                        "DescribeLogStreams",
                        region,
                        &acct,
                        &c,
                        &p,
                        "null",
                        None,
                    );
                }
            }
        }
        body.push_str("]}");
        let name = format!(
            "{acct}_CloudTrail_{region}_{}_{}.json.gz",
            t0.format("%Y%m%dT%H%MZ"),
            rng.hex(16)
        );
        let path = dir.join(name);
        let mut enc = GzEncoder::new(Vec::with_capacity(body.len() / 8), Compression::default());
        let gz = enc
            .write_all(body.as_bytes())
            .and_then(|_| enc.finish())
            .map_err(io_at(&path))?;
        bytes += body.len() as u64;
        std::fs::write(&path, gz).map_err(io_at(&path))?;
        written += n;
    }
    write_inventory(&a.out, accounts, regions).map_err(io_at(&a.out))?;
    Ok(format!(
        "wrote {written} records ({ssm} Session Manager events, {tag_calls} tag calls, {} MB of JSON) in {files} files under {}",
        bytes / 1_000_000,
        a.out.join("AWSLogs").display()
    ))
}

fn write_inventory(out: &Path, accounts: usize, regions: usize) -> std::io::Result<()> {
    let mut csv = String::from("resource,key,value\n");
    for a in 0..accounts {
        for r in REGIONS.iter().take(regions) {
            for i in 0..INSTANCES as u64 {
                let arn = format!("arn:aws:ec2:{r}:{}:instance/{}", account(a), instance(i));
                match i % 3 {
                    0 => {
                        let _ = writeln!(csv, "{arn},Finance,WebServers");
                    }
                    1 => {
                        let _ = writeln!(csv, "{arn},Finance,Payroll");
                    }
                    _ => {
                        let _ = writeln!(csv, "{arn},,");
                    }
                }
            }
        }
    }
    std::fs::write(out.join("inventory.csv"), csv)
}
