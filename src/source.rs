//! Finding and opening log files: directories walked recursively (walkdir), CloudTrail digest
//! and Insight files skipped by their S3 path, gzip recognised by its magic bytes (`1f 8b`) and
//! read to the end of every concatenated member (`MultiGzDecoder`).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use flate2::bufread::MultiGzDecoder;

/// A file to read, or stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file or directory.
    File(PathBuf),
    /// Standard input.
    Stdin,
    /// A part of a subset written by `trailreplay extract` (see [`crate::subset`]).
    SubsetPart(PathBuf),
    /// An S3 object (see [`crate::s3`]).
    S3 {
        /// The bucket.
        bucket: String,
        /// The object's key.
        key: String,
        /// Its size, from the listing.
        size: u64,
    },
}

impl Input {
    /// How messages name it.
    pub fn display(&self) -> String {
        match self {
            Input::File(p) | Input::SubsetPart(p) => p.display().to_string(),
            Input::Stdin => "<stdin>".to_string(),
            Input::S3 { bucket, key, .. } => format!("s3://{bucket}/{key}"),
        }
    }
}

/// Why a file was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    /// A CloudTrail digest file.
    Digest,
    /// A CloudTrail Insights file.
    Insight,
    /// Not a JSON log.
    NotJson,
}

impl SkipReason {
    /// The summary's words.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Digest => "CloudTrail digest file",
            SkipReason::Insight => "CloudTrail Insight file",
            SkipReason::NotJson => {
                "not a log: no .json/.jsonl/.ndjson/.gz name and its text does not start with `{` or `[`"
            }
        }
    }
}

/// What walking the inputs found.
#[derive(Debug, Default)]
pub struct Listing {
    /// Files to read.
    pub inputs: Vec<Input>,
    /// Each input's size on disk (0 for stdin), for the progress bar's estimate.
    pub sizes: Vec<u64>,
    /// Files left out, with why.
    pub skipped: Vec<(PathBuf, SkipReason)>,
    /// Paths that could not be listed (missing, unreadable directory, symlink loop).
    pub errors: Vec<String>,
    /// Log files left out by their S3-layout path (date, account, region), not opened.
    pub pruned_files: u64,
    /// Directories of the S3 layout left out whole (day, month, year, account or region).
    pub pruned_directories: u64,
    /// Subsets whose parts are among the inputs: their manifests carry the counts of the
    /// original files (see [`crate::subset::add_to_listing`]).
    pub subsets: Vec<crate::subset::Manifest>,
}

/// What the CloudTrail S3 layout lets a directory walk leave out:
/// `AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHmmZ_X.json.gz`
/// (CloudTrail User Guide, "Finding your CloudTrail log files"). The time in a file's name is
/// its delivery time, after every event in it.
#[derive(Debug, Clone, Default)]
pub struct Prune {
    /// Files delivered before this hold only older events: not read.
    pub from: Option<DateTime<Utc>>,
    /// Files delivered at or after this are not read.
    pub to: Option<DateTime<Utc>>,
    /// Only these accounts (empty: all).
    pub accounts: Vec<String>,
    /// Only these regions (empty: all).
    pub regions: Vec<String>,
}

impl Prune {
    pub(crate) fn active(&self) -> bool {
        self.from.is_some()
            || self.to.is_some()
            || !self.accounts.is_empty()
            || !self.regions.is_empty()
    }

    fn account_ok(&self, a: &str) -> bool {
        self.accounts.is_empty() || self.accounts.iter().any(|x| x == a)
    }

    fn region_ok(&self, r: &str) -> bool {
        self.regions.is_empty() || self.regions.iter().any(|x| x == r)
    }

    /// Does a period [start, end) meet the delivery window?
    fn period_ok(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        self.from.is_none_or(|f| end > f) && self.to.is_none_or(|t| start < t)
    }

    /// Should this directory of the layout be walked?
    pub(crate) fn keep_dir(&self, path: &Path) -> bool {
        let parts: Vec<&str> = path
            .components()
            .filter_map(|c| c.as_os_str().to_str())
            .collect();
        let Some(ct) = parts.iter().rposition(|p| *p == "CloudTrail") else {
            // An account directory: AWSLogs/ACCOUNT or AWSLogs/o-ORG/ACCOUNT.
            if let [.., parent, name] = parts.as_slice() {
                let is_account = name.len() == 12 && name.bytes().all(|b| b.is_ascii_digit());
                if is_account && (*parent == "AWSLogs" || parent.starts_with("o-")) {
                    return self.account_ok(name);
                }
            }
            return true;
        };
        if ct >= 1 && parts[ct - 1].len() == 12 && !self.account_ok(parts[ct - 1]) {
            return false;
        }
        let below = &parts[ct + 1..];
        if let Some(region) = below.first() {
            if !self.region_ok(region) {
                return false;
            }
        }
        let num = |i: usize| below.get(i).and_then(|s| s.parse::<u32>().ok());
        let period = match (num(1), num(2), num(3)) {
            (Some(y), Some(m), Some(d)) => {
                NaiveDate::from_ymd_opt(y as i32, m, d).map(|s| (s, s + chrono::Days::new(1)))
            }
            (Some(y), Some(m), None) => {
                NaiveDate::from_ymd_opt(y as i32, m, 1).map(|s| (s, s + chrono::Months::new(1)))
            }
            (Some(y), None, None) => {
                NaiveDate::from_ymd_opt(y as i32, 1, 1).map(|s| (s, s + chrono::Months::new(12)))
            }
            _ => None,
        };
        match period {
            Some((s, e)) => self.period_ok(midnight(s), midnight(e)),
            None => true,
        }
    }

    /// Should this log file be read? Decided by its name when it is a CloudTrail file name.
    pub(crate) fn keep_file(&self, path: &Path) -> bool {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let parts: Vec<&str> = name.split('_').collect();
        let [account, "CloudTrail", region, time, ..] = parts.as_slice() else {
            return true;
        };
        if !self.account_ok(account) || !self.region_ok(region) {
            return false;
        }
        match NaiveDateTime::parse_from_str(time, "%Y%m%dT%H%MZ") {
            Ok(t) => {
                let t = t.and_utc();
                self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|to| t < to)
            }
            Err(_) => true,
        }
    }
}

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

/// Why an S3 object is left out, by its key alone (its first bytes are not fetched to sniff
/// JSON: an object without a log's name is skipped as not a log).
pub(crate) fn skip_reason_by_name(path: &Path) -> Option<SkipReason> {
    let s = path.to_string_lossy();
    if s.contains("CloudTrail-Digest") {
        return Some(SkipReason::Digest);
    }
    if s.contains("CloudTrail-Insight") {
        return Some(SkipReason::Insight);
    }
    let name = s.rsplit('/').next().unwrap_or("").to_ascii_lowercase();
    let known = [".json", ".jsonl", ".ndjson", ".gz"];
    let base = name.strip_suffix(".gz").unwrap_or(&name);
    if name.ends_with(".gz") || known.iter().any(|e| base.ends_with(e)) {
        None
    } else {
        Some(SkipReason::NotJson)
    }
}

fn skip_reason(path: &Path, explicit: bool) -> Option<SkipReason> {
    let s = path.to_string_lossy();
    if s.contains("CloudTrail-Digest") {
        return Some(SkipReason::Digest);
    }
    if s.contains("CloudTrail-Insight") {
        return Some(SkipReason::Insight);
    }
    if explicit {
        return None;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let known = [
        ".json",
        ".json.gz",
        ".jsonl",
        ".jsonl.gz",
        ".ndjson",
        ".ndjson.gz",
        ".gz",
    ];
    // Other names (SIEM exports are often NDJSON named `*.log`) are read when their first bytes
    // are JSON text.
    if known.iter().any(|e| name.ends_with(e)) || looks_like_json(path) {
        None
    } else {
        Some(SkipReason::NotJson)
    }
}

/// Expands paths: files as given (digests still skipped), directories walked in sorted order.
pub fn list(paths: &[PathBuf]) -> Listing {
    list_pruned(paths, &Prune::default())
}

/// Like [`list`], leaving out the parts of the S3 layout that `prune` rules out (in walked
/// directories only: files named on the command line are always read).
pub fn list_pruned(paths: &[PathBuf], prune: &Prune) -> Listing {
    let mut out = Listing::default();
    for p in paths {
        if p.as_os_str() == "-" {
            out.inputs.push(Input::Stdin);
            continue;
        }
        if let Some(loc) = p.to_str().and_then(crate::s3::Location::parse) {
            crate::s3::list_into(&mut out, &p.to_string_lossy(), &loc, prune);
            continue;
        }
        let meta = match std::fs::metadata(p) {
            Ok(m) => m,
            Err(e) => {
                out.errors.push(format!("{}: {e}", p.display()));
                continue;
            }
        };
        if !meta.is_dir() {
            match skip_reason(p, true) {
                Some(r) => out.skipped.push((p.clone(), r)),
                None => out.inputs.push(Input::File(p.clone())),
            }
            continue;
        }
        let mut pruned_dirs = 0u64;
        let walker = walkdir::WalkDir::new(p)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| {
                if !prune.active() || e.depth() == 0 || !e.file_type().is_dir() {
                    return true;
                }
                let keep = prune.keep_dir(e.path());
                if !keep {
                    pruned_dirs += 1;
                }
                keep
            });
        for entry in walker {
            match entry {
                Ok(e) if e.file_type().is_file() => match skip_reason(e.path(), false) {
                    Some(r) => out.skipped.push((e.path().to_path_buf(), r)),
                    None if prune.active() && !prune.keep_file(e.path()) => out.pruned_files += 1,
                    None => out.inputs.push(Input::File(e.path().to_path_buf())),
                },
                Ok(_) => {}
                Err(e) => {
                    let where_ = e
                        .path()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| p.display().to_string());
                    let what = if e.loop_ancestor().is_some() {
                        "symbolic link loop".to_string()
                    } else {
                        e.io_error()
                            .map(|io| io.to_string())
                            .unwrap_or_else(|| e.to_string())
                    };
                    out.errors.push(format!("{where_}: {what}"));
                }
            }
        }
        out.pruned_directories += pruned_dirs;
    }
    out.sizes = out
        .inputs
        .iter()
        .map(|i| match i {
            Input::File(p) | Input::SubsetPart(p) => std::fs::metadata(p).map_or(0, |m| m.len()),
            Input::S3 { size, .. } => *size,
            Input::Stdin => 0,
        })
        .collect();
    out
}

/// Opens an input as UTF-8 text: gzip is decompressed when the first two bytes say so, and text
/// saved as UTF-16 (with or without a byte-order mark) is transcoded, a UTF-8 byte-order mark
/// dropped. Windows PowerShell 5.1 writes `aws cloudtrail lookup-events … > file` as UTF-16LE
/// with a BOM and CRLF line ends.
pub fn open(input: &Input) -> io::Result<Box<dyn Read + Send>> {
    let raw: Box<dyn Read + Send> = match input {
        Input::File(p) | Input::SubsetPart(p) => Box::new(File::open(p)?),
        Input::Stdin => Box::new(io::stdin()),
        Input::S3 { bucket, key, .. } => crate::s3::open(bucket, key)?,
    };
    let mut buffered = BufReader::with_capacity(64 * 1024, raw);
    let head = buffered.fill_buf()?;
    if head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        let mut text = BufReader::with_capacity(64 * 1024, MultiGzDecoder::new(buffered));
        text.fill_buf()?;
        as_utf8(text)
    } else {
        as_utf8(buffered)
    }
}

/// The text encodings told apart by their first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 without a byte-order mark.
    Utf8,
    /// UTF-8 with a byte-order mark.
    Utf8Bom,
    /// UTF-16, little-endian.
    Utf16Le,
    /// UTF-16, big-endian.
    Utf16Be,
    /// Seen but not read: named in the error.
    Unsupported(&'static str),
}

/// Tells the encoding from the first bytes: a byte-order mark, or for UTF-16 without one, a NUL
/// beside the first ASCII character (JSON text starts with ASCII).
pub fn sniff_encoding(head: &[u8]) -> Encoding {
    match head {
        [0xEF, 0xBB, 0xBF, ..] => Encoding::Utf8Bom,
        [0xFF, 0xFE, 0, 0, ..] => Encoding::Unsupported("UTF-32LE"),
        [0, 0, 0xFE, 0xFF, ..] => Encoding::Unsupported("UTF-32BE"),
        [0xFF, 0xFE, ..] => Encoding::Utf16Le,
        [0xFE, 0xFF, ..] => Encoding::Utf16Be,
        [a, 0, ..] if a.is_ascii() && *a != 0 => Encoding::Utf16Le,
        [0, b, ..] if b.is_ascii() && *b != 0 => Encoding::Utf16Be,
        _ => Encoding::Utf8,
    }
}

fn as_utf8<R: BufRead + Send + 'static>(mut text: R) -> io::Result<Box<dyn Read + Send>> {
    let head = text.fill_buf()?;
    let utf16 = |enc: &'static encoding_rs::Encoding, text: R| -> Box<dyn Read + Send> {
        Box::new(
            encoding_rs_io::DecodeReaderBytesBuilder::new()
                .encoding(Some(enc))
                .build(text),
        )
    };
    match sniff_encoding(head) {
        Encoding::Utf8 => Ok(Box::new(text)),
        Encoding::Utf8Bom => {
            text.consume(3);
            Ok(Box::new(text))
        }
        Encoding::Utf16Le => Ok(utf16(encoding_rs::UTF_16LE, text)),
        Encoding::Utf16Be => Ok(utf16(encoding_rs::UTF_16BE, text)),
        Encoding::Unsupported(name) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the file is {name} text, which trailreplay does not read: convert it to UTF-8 (for example `iconv -f {name} -t UTF-8`)"
            ),
        )),
    }
}

/// Does the file start like JSON text (`{` or `[` after white space, in any encoding [`open`]
/// reads, gzip or not)? Used for files whose names do not say they are logs.
pub fn looks_like_json(path: &Path) -> bool {
    let Ok(mut r) = open(&Input::File(path.to_path_buf())) else {
        return false;
    };
    let mut head = [0u8; 256];
    let mut n = 0;
    while n < head.len() {
        match r.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(_) => break,
        }
    }
    head[..n]
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{' || *b == b'[')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_and_names() {
        assert_eq!(
            skip_reason(
                Path::new("AWSLogs/1/CloudTrail-Digest/us-east-1/x.json.gz"),
                false
            ),
            Some(SkipReason::Digest)
        );
        assert_eq!(
            skip_reason(Path::new("a/README.md"), false),
            Some(SkipReason::NotJson)
        );
        assert_eq!(skip_reason(Path::new("a/README.md"), true), None);
        assert_eq!(skip_reason(Path::new("a/x.json.gz"), false), None);
    }

    #[test]
    fn encodings_by_their_first_bytes() {
        assert_eq!(sniff_encoding(b"{\"Records\""), Encoding::Utf8);
        assert_eq!(sniff_encoding(b"\xEF\xBB\xBF{"), Encoding::Utf8Bom);
        assert_eq!(sniff_encoding(b"\xFF\xFE{\0"), Encoding::Utf16Le);
        assert_eq!(sniff_encoding(b"\xFE\xFF\0{"), Encoding::Utf16Be);
        assert_eq!(sniff_encoding(b"{\0\"\0"), Encoding::Utf16Le);
        assert_eq!(sniff_encoding(b"\0{\0\""), Encoding::Utf16Be);
        assert_eq!(
            sniff_encoding(b"\xFF\xFE\0\0{\0\0\0"),
            Encoding::Unsupported("UTF-32LE")
        );
        assert_eq!(sniff_encoding(b""), Encoding::Utf8);
    }
}
