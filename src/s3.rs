//! Archives where they live: `s3://BUCKET/PREFIX` inputs, listed with the S3 layout's pruning
//! and streamed through the same decoder as local files.
//!
//! The AWS SDK for Rust (`aws-config`, `aws-sdk-s3`) finds credentials and the region the way
//! the AWS CLI does (environment, shared config and credentials files with `AWS_PROFILE`, web
//! identity, SSO, container and instance metadata) and retries throttling and 5xx answers with
//! backoff. An endpoint in `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL` (the AWS SDKs'
//! "service-specific endpoints" settings, the S3 one first), is used with path-style addressing,
//! so S3-compatible stores work, over plain `http://` too.
//!
//! The SDK is asynchronous; trailreplay's pipeline is not. One small tokio runtime does the
//! network work; a worker that opens an object gets a reader fed by a bounded channel of body
//! chunks, so an object is never whole in memory and at most a few chunks per open object are.

use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::OnceLock;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use bytes::Bytes;

use crate::source::{Input, Listing, Prune};

/// An `s3://BUCKET/PREFIX` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The bucket.
    pub bucket: String,
    /// The key prefix (may be empty).
    pub prefix: String,
}

impl Location {
    /// Parses `s3://BUCKET[/PREFIX]`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Location> {
        let rest = text.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        (!bucket.is_empty()).then(|| Location {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }
}

/// Body chunks in flight per open object.
const CHUNKS_IN_FLIGHT: usize = 8;
/// How many times a body that breaks off is resumed.
const BODY_RESUMES: u32 = 3;

struct S3 {
    runtime: tokio::runtime::Runtime,
    client: aws_sdk_s3::Client,
}

/// The endpoint from the environment, S3-specific first.
fn configured_endpoint() -> Option<String> {
    ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.trim().is_empty())
}

fn s3() -> Result<&'static S3, String> {
    static S3_CLIENT: OnceLock<Result<S3, String>> = OnceLock::new();
    S3_CLIENT
        .get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("trailreplay-s3")
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the S3 client: {e}"))?;
            let client = runtime.block_on(async {
                let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .load()
                    .await;
                let mut b = aws_sdk_s3::config::Builder::from(&shared)
                    .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(5));
                if shared.region().is_none() {
                    // As the AWS CLI does for S3 without a configured region.
                    b = b.region(aws_sdk_s3::config::Region::new("us-east-1"));
                }
                if let Some(url) = configured_endpoint() {
                    b = b.endpoint_url(url).force_path_style(true);
                }
                aws_sdk_s3::Client::from_conf(b.build())
            });
            Ok(S3 { runtime, client })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// One line for an S3 error: what was asked, and what to do.
fn explain<E>(what: &str, bucket: &str, e: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    // S3 names the bucket's region in this header of a redirect or a malformed-authorization
    // answer (Amazon S3 API Reference, "HeadBucket", `x-amz-bucket-region`).
    let region_hint = || {
        e.raw_response()
            .and_then(|r| r.headers().get("x-amz-bucket-region"))
            .map(str::to_string)
    };
    match e.code() {
        Some("NoSuchBucket") => format!("{what}: bucket `{bucket}` does not exist"),
        Some("AccessDenied") | Some("AllAccessDisabled") => format!(
            "{what}: access denied{}; check the credentials' permissions (s3:ListBucket, s3:GetObject)",
            e.message().map(|m| format!(" ({m})")).unwrap_or_default()
        ),
        Some("PermanentRedirect") | Some("AuthorizationHeaderMalformed") | Some("301") => {
            format!(
                "{what}: bucket `{bucket}` is in another region{}",
                region_hint()
                    .map(|r| format!(": set AWS_REGION={r}"))
                    .unwrap_or_else(|| ": set AWS_REGION to its region".to_string())
            )
        }
        Some(code) => format!(
            "{what}: {code}{}",
            e.message().map(|m| format!(": {m}")).unwrap_or_default()
        ),
        None => {
            let text = DisplayErrorContext(e).to_string();
            if text.contains("no credentials found") || text.contains("CredentialsNotLoaded") {
                return format!(
                    "{what}: no AWS credentials found; set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, as for the AWS CLI"
                );
            }
            // The root cause, on one line (connection refused, a DNS failure, a timeout).
            let mut cause: &dyn std::error::Error = e;
            while let Some(next) = cause.source() {
                cause = next;
            }
            let root = cause.to_string();
            let root = root.lines().next().unwrap_or_default();
            match configured_endpoint() {
                Some(url) if matches!(e, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)) => {
                    format!("{what}: cannot reach the S3 endpoint {url}: {root}")
                }
                _ => format!("{what}: {e}: {root}"),
            }
        }
    }
}

/// Lists the objects under `url` into `out`, walking "folders" (`/`-delimited prefixes) so that
/// the S3 layout's pruning leaves out whole days, regions and accounts without listing them.
pub fn list_into(out: &mut Listing, url: &str, loc: &Location, prune: &Prune) {
    let s3 = match s3() {
        Ok(s) => s,
        Err(e) => {
            out.errors.push(format!("{url}: {e}"));
            return;
        }
    };
    let as_path = |key: &str| PathBuf::from(format!("s3://{}/{key}", loc.bucket));
    // A prefix that names one object is that object.
    let mut stack: Vec<String> = vec![loc.prefix.clone()];
    let mut first = true;
    while let Some(prefix) = stack.pop() {
        let mut token: Option<String> = None;
        let mut dirs: Vec<String> = Vec::new();
        loop {
            let req = s3
                .client
                .list_objects_v2()
                .bucket(&loc.bucket)
                .prefix(&prefix)
                .delimiter("/")
                .set_continuation_token(token.clone());
            let page = match s3.runtime.block_on(req.send()) {
                Ok(p) => p,
                Err(e) => {
                    out.errors.push(explain(
                        &format!("s3://{}/{prefix}: cannot list", loc.bucket),
                        &loc.bucket,
                        &e,
                    ));
                    break;
                }
            };
            for d in page.common_prefixes() {
                if let Some(p) = d.prefix() {
                    dirs.push(p.to_string());
                }
            }
            for o in page.contents() {
                let Some(key) = o.key() else { continue };
                // `s3://b/logs` also lists `logs2/…`: keep what is under the prefix as a folder,
                // or the object it names.
                if first
                    && !prefix.is_empty()
                    && !prefix.ends_with('/')
                    && key != prefix
                    && !key.starts_with(&format!("{prefix}/"))
                {
                    continue;
                }
                let path = as_path(key);
                match crate::source::skip_reason_by_name(&path) {
                    Some(r) => out.skipped.push((path, r)),
                    None if prune.active() && !prune.keep_file(&path) => out.pruned_files += 1,
                    None => {
                        out.inputs.push(Input::S3 {
                            bucket: loc.bucket.clone(),
                            key: key.to_string(),
                            size: o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                        });
                    }
                }
            }
            token = page.next_continuation_token().map(str::to_string);
            if token.is_none() || page.is_truncated() != Some(true) {
                break;
            }
        }
        // A prefix without a trailing `/` lists its sibling folders too (`logs` → `logs/`,
        // `logs2/`): only the one it names is walked.
        let named = |d: &String| {
            !first || prefix.is_empty() || prefix.ends_with('/') || *d == format!("{prefix}/")
        };
        // Walked in reverse so that keys come out in lexicographic order.
        for d in dirs.into_iter().filter(named).rev() {
            let path = as_path(d.trim_end_matches('/'));
            if !prune.active() || prune.keep_dir(&path) {
                stack.push(d);
            } else {
                out.pruned_directories += 1;
            }
        }
        first = false;
    }
}

/// A reader fed with an object's body chunks.
struct ChunkReader {
    rx: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// Opens an object for streaming. The request is retried by the SDK (throttling, 5xx); a body
/// that breaks off is resumed from where it stopped, and after a few failed resumes the read
/// ends with the error (the file counts as failed).
pub fn open(bucket: &str, key: &str) -> io::Result<Box<dyn Read + Send>> {
    let s3 = s3().map_err(io::Error::other)?;
    let req = s3.client.get_object().bucket(bucket).key(key).send();
    let resp = s3
        .runtime
        .block_on(req)
        .map_err(|e| io::Error::other(explain("GetObject", bucket, &e)))?;
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(CHUNKS_IN_FLIGHT);
    let (client, bucket, key) = (s3.client.clone(), bucket.to_string(), key.to_string());
    let etag = resp.e_tag().map(str::to_string);
    let mut body = resp.body;
    s3.runtime.spawn(async move {
        // A body that breaks off is resumed where it stopped (a ranged GET of the same version,
        // by ETag), a few times with backoff, before the object counts as failed.
        let mut received: u64 = 0;
        let mut resumes = 0u32;
        loop {
            let chunk = match body.next().await {
                None => break,
                Some(Ok(c)) => c,
                Some(Err(e)) if resumes < BODY_RESUMES => {
                    resumes += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(200 << resumes)).await;
                    let again = client
                        .get_object()
                        .bucket(&bucket)
                        .key(&key)
                        .range(format!("bytes={received}-"))
                        .set_if_match(etag.clone())
                        .send()
                        .await;
                    match again {
                        Ok(r) => {
                            body = r.body;
                            continue;
                        }
                        Err(again) => {
                            let msg = format!(
                                "reading the object: {e}; resuming it: {}",
                                explain("GetObject", &bucket, &again)
                            );
                            let _ = tx.send(Err(io::Error::other(msg))).await;
                            break;
                        }
                    }
                }
                Some(Err(e)) => {
                    let msg = format!("reading the object: {e} (after {resumes} resumes)");
                    let _ = tx.send(Err(io::Error::other(msg))).await;
                    break;
                }
            };
            received += chunk.len() as u64;
            // A full channel waits for the reader; a reader gone ends the download.
            if tx.send(Ok(chunk)).await.is_err() {
                break;
            }
        }
    });
    Ok(Box::new(ChunkReader {
        rx,
        current: Bytes::new(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let l = Location::parse("s3://trail/AWSLogs/o-abc/").expect("s3");
        assert_eq!(
            (l.bucket.as_str(), l.prefix.as_str()),
            ("trail", "AWSLogs/o-abc/")
        );
        let l = Location::parse("s3://trail").expect("bucket only");
        assert_eq!(l.prefix, "");
        assert_eq!(Location::parse("s3://"), None);
        assert_eq!(Location::parse("/local/s3://x"), None);
    }
}
