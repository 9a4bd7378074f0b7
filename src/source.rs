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
    as_text(raw)
}

/// [`open`] for a file's bytes already in memory (as [`read_whole`] leaves them).
pub fn open_bytes(bytes: &[u8]) -> io::Result<Box<dyn Read + Send + '_>> {
    as_text(bytes)
}

fn as_text<'a, R: Read + Send + 'a>(raw: R) -> io::Result<Box<dyn Read + Send + 'a>> {
    let mut buffered = BufReader::with_capacity(64 * 1024, raw);
    let head = buffered.fill_buf()?;
    if is_gzip(head) {
        let mut text = BufReader::with_capacity(64 * 1024, MultiGzDecoder::new(buffered));
        text.fill_buf()?;
        as_utf8(text)
    } else {
        as_utf8(buffered)
    }
}

/// gzip's magic bytes (RFC 1952, 2.3.1).
pub fn is_gzip(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b])
}

/// Reads a local file, or an S3 object, whole into `buf` (replacing what it held) when it is at
/// most `limit` bytes long (as stored: compressed, for a gzip file). `false`: not read (stdin,
/// a subset part, a larger input, or an error, which [`open`] meets and reports again).
pub fn read_whole(input: &Input, buf: &mut Vec<u8>, limit: u64) -> bool {
    buf.clear();
    let read = match input {
        Input::File(p) => match File::open(p) {
            Ok(f) if f.metadata().is_ok_and(|m| m.is_file() && m.len() <= limit) => {
                f.take(limit + 1).read_to_end(buf)
            }
            _ => return false,
        },
        Input::S3 {
            bucket, key, size, ..
        } if *size <= limit => match crate::s3::open(bucket, key) {
            Ok(r) => r.take(limit + 1).read_to_end(buf),
            Err(_) => return false,
        },
        _ => return false,
    };
    matches!(read, Ok(n) if n as u64 <= limit)
}

/// Decompresses a gzip file held whole in `gz` into `out` (grown to fit, never shrunk) with
/// libdeflate, which decompresses a whole buffer about 1.5 times as fast as the streaming
/// decoder (zlib-rs) on this project's machine (README, Performance). Returns the length of the
/// text, or `None` to have the caller stream `gz` through [`open_bytes`] instead, which reads
/// every case: more than one member (`cat a.gz b.gz`: a second member starts with the bytes
/// `1f 8b 08`, and a file holding them anywhere is streamed, so no member is ever left
/// unread), a size over `limit`, damaged data (whose error the streaming decoder reports with
/// its place), and text that is not plain UTF-8 (UTF-16, a byte-order mark).
///
/// The size comes from the trailer's `ISIZE` (RFC 1952, 2.3.1: the size modulo 2^32); libdeflate
/// checks it, and the CRC-32, against what it decompressed, so a trailer that lies fails here
/// and the file is streamed. What this path cannot see is junk after the only member whose last
/// four bytes happen to equal the size: it is ignored, where the streaming decoder reports it.
pub fn inflate_whole(
    gz: &[u8],
    out: &mut Vec<u8>,
    limit: usize,
    inflater: &mut libdeflater::Decompressor,
) -> Option<usize> {
    const MEMBER: &[u8] = &[0x1f, 0x8b, 0x08];
    if !gz.starts_with(MEMBER) || gz.len() < 18 {
        return None;
    }
    let trailer: [u8; 4] = gz[gz.len() - 4..].try_into().ok()?;
    let size = u32::from_le_bytes(trailer) as usize;
    if size > limit || memchr::memmem::find(&gz[1..], MEMBER).is_some() {
        return None;
    }
    if out.len() < size {
        out.resize(size, 0);
    }
    let n = inflater.gzip_decompress(gz, &mut out[..size]).ok()?;
    (n == size && sniff_encoding(&out[..n]) == Encoding::Utf8).then_some(n)
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

fn as_utf8<'a, R: BufRead + Send + 'a>(mut text: R) -> io::Result<Box<dyn Read + Send + 'a>> {
    let head = text.fill_buf()?;
    let utf16 = |enc: &'static encoding_rs::Encoding, text: R| -> Box<dyn Read + Send + 'a> {
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

    fn gzip(text: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(text).expect("in memory");
        e.finish().expect("in memory")
    }

    fn inflate(gz: &[u8], limit: usize) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let mut d = libdeflater::Decompressor::new();
        inflate_whole(gz, &mut out, limit, &mut d).map(|n| out[..n].to_vec())
    }

    /// Whole-buffer decompression takes a single gzip member of plain UTF-8 text, and leaves
    /// every other case to the streaming decoder (`None`), which reads or reports it.
    #[test]
    fn whole_buffer_decompression_takes_only_what_it_can_read_exactly() {
        let text = b"{\"Records\":[{\"eventVersion\":\"1.08\"}]}\n".repeat(100);
        let gz = gzip(&text);
        assert_eq!(inflate(&gz, 1 << 20).as_deref(), Some(&text[..]));
        assert_eq!(inflate(&gzip(b""), 1 << 20).as_deref(), Some(&b""[..]));
        // The buffer grows to fit and is reused: a smaller file after a larger one.
        let mut out = Vec::new();
        let mut d = libdeflater::Decompressor::new();
        assert_eq!(
            inflate_whole(&gz, &mut out, 1 << 20, &mut d),
            Some(text.len())
        );
        assert_eq!(
            inflate_whole(&gzip(b"{}"), &mut out, 1 << 20, &mut d),
            Some(2)
        );
        assert_eq!(&out[..2], b"{}");

        let mut two = gz.clone();
        two.extend_from_slice(&gz);
        let mut lying = gz.clone();
        let n = lying.len();
        lying[n - 4..].copy_from_slice(&u32::to_le_bytes(text.len() as u32 - 1));
        let mut larger = gz.clone();
        larger[n - 4..].copy_from_slice(&u32::to_le_bytes(text.len() as u32 + 1));
        let mut junk = gz.clone();
        junk.extend_from_slice(b"junk after the member");
        let mut corrupt = gz.clone();
        corrupt[20] ^= 0x55;
        let refused: [(&str, Vec<u8>, usize); 9] = [
            ("two members (cat a.gz a.gz)", two, 1 << 20),
            ("truncated", gz[..gz.len() / 2].to_vec(), 1 << 20),
            ("trailer size too small", lying, 1 << 20),
            ("trailer size too large", larger, 1 << 20),
            ("junk after the member", junk, 1 << 20),
            ("corrupt deflate data", corrupt, 1 << 20),
            ("over the limit", gz.clone(), text.len() - 1),
            ("UTF-8 byte-order mark", gzip(b"\xEF\xBB\xBF{}"), 1 << 20),
            ("UTF-16", gzip(b"\xFF\xFE{\0}\0"), 1 << 20),
        ];
        for (what, bytes, limit) in refused {
            assert_eq!(inflate(&bytes, limit), None, "{what}");
        }
        assert_eq!(inflate(b"not gzip at all, but long enough", 1 << 20), None);
    }

    /// Every case the whole-buffer path refuses is read by streaming the same bytes.
    #[test]
    fn refused_files_stream_from_the_same_bytes() {
        let gz = gzip(b"{\"a\":1}");
        let mut two = gz.clone();
        two.extend_from_slice(&gzip(b"{\"b\":2}"));
        let mut text = String::new();
        open_bytes(&two)
            .expect("opens")
            .read_to_string(&mut text)
            .expect("reads both members");
        assert_eq!(text, "{\"a\":1}{\"b\":2}");
        let mut text = String::new();
        open_bytes(&gzip(b"\xFF\xFE{\0}\0"))
            .expect("opens")
            .read_to_string(&mut text)
            .expect("transcodes");
        assert_eq!(text, "{}");
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
