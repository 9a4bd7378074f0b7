//! Bytes → CloudTrail records → Session Manager events.
//!
//! Most records in an archive are not Session Manager events, so only records that contain
//! `ssm.amazonaws.com` (and one of the five call names), or a `\u` escape (which could spell them
//! differently), are parsed; the rest are counted. A file in the layout CloudTrail writes is read
//! whole and split by byte search (`decode::fast`): one SIMD substring search each for the record
//! starts, the event source and escapes, over the whole file. Any other layout, a file larger
//! than 32 MiB decompressed, a read error or `--verify` goes through the structural
//! scanner ([`scan`]), which follows the JSON structure and does not depend on key order,
//! whitespace or layout; both give the same records and counts. `--verify` parses every record
//! and counts any record the pre-filter would have missed.

pub(crate) mod athena;
pub(crate) mod event;
pub(crate) mod fast;
pub(crate) mod record;
pub(crate) mod tagging;
// Public but hidden and undocumented: for the property tests and fuzz targets, not the API.
#[doc(hidden)]
#[allow(missing_docs)]
pub mod scan;
#[doc(hidden)]
#[allow(missing_docs)]
pub mod scan_reference;

use std::io::Read;
use std::sync::{Arc, OnceLock};

use memchr::memmem;
use serde::{Deserialize, Serialize};

pub use event::{Decoded, Identity, SsmAction, SsmEvent};
pub use scan::{ScanError, MAX_RECORD_BYTES};

/// Per-file counts. Every record lands in exactly one of `prefiltered`, `session_events`,
/// `other_ssm`, `other_service`, `not_records`, `malformed` or `oversize`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStats {
    /// Bytes decompressed.
    pub bytes: u64,
    /// CloudTrail records seen.
    pub records: u64,
    /// Records the byte search ruled out without parsing (not Session Manager events).
    pub prefiltered: u64,
    /// Records the pre-filter passed on to the parser.
    pub parsed: u64,
    /// Session Manager events (the five calls replayed).
    pub session_events: u64,
    /// Other Systems Manager calls.
    pub other_ssm: u64,
    /// Other services' calls (parsed only with `--verify`).
    pub other_service: u64,
    /// JSON values that are not CloudTrail records.
    pub not_records: u64,
    /// Records that are not valid JSON.
    pub malformed: u64,
    /// Malformed records that contain `ssm.amazonaws.com` (possibly lost session events).
    pub malformed_ssm: u64,
    /// Records longer than the limit (skipped).
    pub oversize: u64,
    /// `Records` elements that are not objects.
    pub non_object_elements: u64,
    /// With `--verify`: session events the pre-filter would have missed (should be 0).
    pub verify_misses: u64,
    /// Successful calls that changed resource tags, read for tags in time (counted also as
    /// other calls above).
    #[serde(default)]
    pub tag_events: u64,
}

impl FileStats {
    /// Records that are CloudTrail records (of any service).
    pub fn cloudtrail_records(&self) -> u64 {
        self.prefiltered + self.session_events + self.other_ssm + self.other_service
    }

    /// Adds another file's counts.
    pub fn add(&mut self, o: &FileStats) {
        self.bytes += o.bytes;
        self.records += o.records;
        self.prefiltered += o.prefiltered;
        self.parsed += o.parsed;
        self.session_events += o.session_events;
        self.other_ssm += o.other_ssm;
        self.other_service += o.other_service;
        self.not_records += o.not_records;
        self.malformed += o.malformed;
        self.malformed_ssm += o.malformed_ssm;
        self.oversize += o.oversize;
        self.non_object_elements += o.non_object_elements;
        self.verify_misses += o.verify_misses;
        self.tag_events += o.tag_events;
    }
}

/// What decoding one file produced.
#[derive(Debug, Default)]
pub struct FileOutcome {
    /// The Session Manager events, in file order.
    pub events: Vec<SsmEvent>,
    /// The file's counts.
    pub stats: FileStats,
    /// Problems with single records (the rest of the file was read).
    pub record_errors: Vec<String>,
    /// Why the file could not be read to the end, if it could not.
    pub fatal: Option<String>,
    /// Tag changes (with [`DecodeOptions::tags`]).
    pub tag_records: Vec<crate::mapping::history::TagRecord>,
}

/// Options for decoding.
#[derive(Debug, Clone, Copy)]
pub struct DecodeOptions {
    /// Parse every record, not only those the pre-filter selects.
    pub verify: bool,
    /// The longest record accepted, in bytes.
    pub max_record: usize,
    /// Also read the calls that change resource tags (tags in time).
    pub tags: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            verify: false,
            max_record: MAX_RECORD_BYTES,
            tags: false,
        }
    }
}

/// Record errors kept per file (the rest are counted).
const MAX_RECORD_ERRORS: usize = 20;

/// The byte patterns of the pre-filter and of the fast path, built once.
struct Finders {
    source: memmem::Finder<'static>,
    record_start: memmem::Finder<'static>,
    escape: memmem::Finder<'static>,
    session: memmem::Finder<'static>,
    status: memmem::Finder<'static>,
    event_source: memmem::Finder<'static>,
    tags: memmem::Finder<'static>,
    run: memmem::Finder<'static>,
    event_name: memmem::Finder<'static>,
    event_name_lower: memmem::Finder<'static>,
}

fn finders() -> &'static Finders {
    static F: OnceLock<Finders> = OnceLock::new();
    F.get_or_init(|| Finders {
        source: memmem::Finder::new(event::SSM_SOURCE.as_bytes()),
        record_start: memmem::Finder::new(fast::START),
        escape: memmem::Finder::new(b"\\u"),
        session: memmem::Finder::new(b"Session"),
        status: memmem::Finder::new(b"GetConnectionStatus"),
        // Unquoted: inside `lookup-events` output the record is a JSON string (`\"eventSource\"`).
        event_source: memmem::Finder::new(b"eventSource"),
        tags: memmem::Finder::new(b"Tags"),
        run: memmem::Finder::new(b"RunInstances"),
        event_name: memmem::Finder::new(b"\"eventName\""),
        // Rows of Athena's CloudTrail table use lower-case column names.
        event_name_lower: memmem::Finder::new(b"\"eventname\""),
    })
}

/// Could this record be a Session Manager event? (Cheap; no parsing.) It must contain the
/// event source and one of the five event names (four contain `Session`), unless a `\u` escape
/// could spell either differently.
pub fn prefilter(bytes: &[u8]) -> bool {
    let f = finders();
    if memchr::memchr(b'\\', bytes).is_some() && f.escape.find(bytes).is_some() {
        return true;
    }
    f.source.find(bytes).is_some()
        && (f.session.find(bytes).is_some() || f.status.find(bytes).is_some())
}

/// Could this record change resource tags (`CreateTags`, `DeleteTags`, `RunInstances`,
/// `AddTagsToResource`, `RemoveTagsFromResource`)? The `eventName` key comes early in a record,
/// so its value is read where it is found instead of searching the whole record; a record
/// where that does not work (no plain `"eventName"` key, escapes) is searched for the names.
pub fn prefilter_tags(bytes: &[u8]) -> bool {
    prefilter_tags_at(bytes).0
}

/// [`prefilter_tags`], and where the `eventName` key is when it was found.
fn prefilter_tags_at(bytes: &[u8]) -> (bool, Option<usize>) {
    let f = finders();
    let found = f
        .event_name
        .find(bytes)
        .or_else(|| f.event_name_lower.find(bytes));
    if let Some(at) = found {
        let mut i = at + 11;
        let skip = |i: &mut usize, what: &[u8]| {
            while bytes.get(*i).is_some_and(|b| what.contains(b)) {
                *i += 1;
            }
        };
        skip(&mut i, b" \t\r\n");
        if bytes.get(i) == Some(&b':') {
            i += 1;
            skip(&mut i, b" \t\r\n");
            if bytes.get(i) == Some(&b'"') {
                let start = i + 1;
                if let Some(len) = memchr::memchr2(b'"', b'\\', &bytes[start..]) {
                    if bytes[start + len] != b'"' {
                        // An escape in the name: it could spell anything; let the parser see.
                        return (true, found);
                    }
                    let name = &bytes[start..start + len];
                    let tagging = tagging::TAGGING.iter().any(|(_, n)| n.as_bytes() == name);
                    return (tagging, found);
                }
            }
        }
    }
    (
        f.tags.find(bytes).is_some() || f.run.find(bytes).is_some(),
        found,
    )
}

/// Does the record hold the bytes `eventSource`? `near` is where the `eventName` key was found,
/// if it was: in CloudTrail's key order `eventSource` comes just before it, so the bytes before
/// it are searched first.
fn has_event_source(bytes: &[u8], near: Option<usize>) -> bool {
    let f = &finders().event_source;
    near.is_some_and(|at| {
        source_key_before(&bytes[..at]) || f.find(&bytes[at.saturating_sub(256)..at]).is_some()
    }) || f.find(bytes).is_some()
}

/// Does `head` end with the `"eventSource":"…",` that precedes the `eventName` key in
/// CloudTrail's key order? (Read backwards from its end: no search.)
fn source_key_before(head: &[u8]) -> bool {
    let Some(value) = head.strip_suffix(b"\",") else {
        return false;
    };
    memchr::memrchr(b'"', value).is_some_and(|q| value[..=q].ends_with(b"\"eventSource\":\""))
}

/// Decodes one stream of log data (already decompressed).
pub fn decode_stream<R: Read>(reader: R, file: &Arc<str>, opts: DecodeOptions) -> FileOutcome {
    decode_stream_keeping(reader, file, opts, &mut |_, _| {})
}

/// What a decoding thread keeps from file to file: the text of a file read whole, its split,
/// the file as stored (compressed) and the whole-buffer decompressor.
#[derive(Default)]
struct Buffers {
    whole: Vec<u8>,
    split: fast::Split,
    stored: Vec<u8>,
    inflater: Option<libdeflater::Decompressor>,
}

thread_local! {
    static BUFFERS: std::cell::RefCell<Buffers> = std::cell::RefCell::new(Buffers::default());
}

/// Runs `f` with this thread's buffers (a nested call gets fresh ones).
fn with_buffers<T>(f: impl FnOnce(&mut Buffers) -> T) -> T {
    let mut b = BUFFERS.with(|b| std::mem::take(&mut *b.borrow_mut()));
    let out = f(&mut b);
    BUFFERS.with(|c| *c.borrow_mut() = b);
    out
}

/// Decodes one input: a local file or S3 object, or stdin. A gzip file up to 32 MiB is read
/// whole and decompressed in one call ([`crate::source::inflate_whole`]); anything that path
/// does not take (stdin, larger files, more than one gzip member, damaged data, UTF-16 text) is
/// streamed ([`crate::source::open`]). `keep` is as for [`decode_stream_keeping`].
pub fn decode_input_keeping(
    input: &crate::source::Input,
    opts: DecodeOptions,
    keep: &mut dyn FnMut(u64, &[u8]),
) -> FileOutcome {
    use crate::source;
    let file: Arc<str> = Arc::from(input.display());
    with_buffers(|b| {
        let limit = fast::WHOLE_FILE_LIMIT;
        let opened = if source::read_whole(input, &mut b.stored, limit as u64) {
            let stored = std::mem::take(&mut b.stored);
            let text = if source::is_gzip(&stored) {
                let inflater = b
                    .inflater
                    .get_or_insert_with(libdeflater::Decompressor::new);
                source::inflate_whole(&stored, &mut b.whole, limit, inflater).map(|n| &b.whole[..n])
            } else {
                (source::sniff_encoding(&stored) == source::Encoding::Utf8).then_some(&stored[..])
            };
            let out = match text {
                Some(text) => Ok(decode_text(text, &mut b.split, &file, opts, keep)),
                None => source::open_bytes(&stored).map(|r| decode_reader(b, r, &file, opts, keep)),
            };
            b.stored = stored;
            out
        } else {
            source::open(input).map(|r| decode_reader(b, r, &file, opts, keep))
        };
        opened.unwrap_or_else(|e| FileOutcome {
            fatal: Some(format!("cannot open: {e}")),
            ..FileOutcome::default()
        })
    })
}

/// [`decode_stream`], handing `keep` the record number and the bytes of every Session Manager
/// record as it is decoded (for `trailreplay extract`, which writes them unchanged).
///
/// A file up to 32 MiB (decompressed) is read whole into a buffer the thread reuses; in
/// CloudTrail's own layout it is split by byte search (`decode::fast`), otherwise (and for larger
/// files, read errors and `--verify`) by the structural scan, which gives the same records.
pub fn decode_stream_keeping<R: Read>(
    reader: R,
    file: &Arc<str>,
    opts: DecodeOptions,
    keep: &mut dyn FnMut(u64, &[u8]),
) -> FileOutcome {
    with_buffers(|b| decode_reader(b, reader, file, opts, keep))
}

fn decode_reader<R: Read>(
    b: &mut Buffers,
    mut reader: R,
    file: &Arc<str>,
    opts: DecodeOptions,
    keep: &mut dyn FnMut(u64, &[u8]),
) -> FileOutcome {
    let (filled, ended) = read_up_to(&mut reader, &mut b.whole, fast::WHOLE_FILE_LIMIT);
    let whole = &b.whole[..filled];
    let rest: Box<dyn Read + '_> = match ended {
        Ok(true) => return decode_text(whole, &mut b.split, file, opts, keep),
        Ok(false) => Box::new(reader),
        Err(e) => Box::new(FailOnce(Some(e))),
    };
    decode_scanned(std::io::Cursor::new(whole).chain(rest), file, opts, keep)
}

/// Decodes a whole file's text: split by byte search when it is in CloudTrail's layout, else
/// (or with `--verify`) by the structural scan.
fn decode_text(
    text: &[u8],
    split: &mut fast::Split,
    file: &Arc<str>,
    opts: DecodeOptions,
    keep: &mut dyn FnMut(u64, &[u8]),
) -> FileOutcome {
    if !opts.verify && fast::split(text, split) {
        if let Some(out) = decode_split(text, split, file, opts, keep) {
            return out;
        }
    }
    decode_scanned(text, file, opts, keep)
}

/// Reads into `buf` until the end of `reader` (`Ok(true)`) or until `limit` bytes are read
/// (`Ok(false)`: the rest is still in `reader`); returns how many bytes it read. `buf` is only
/// ever grown (its bytes are initialised once, and the thread reuses it).
fn read_up_to(
    reader: &mut dyn Read,
    buf: &mut Vec<u8>,
    limit: usize,
) -> (usize, std::io::Result<bool>) {
    let mut filled = 0;
    loop {
        if filled >= limit {
            return (filled, Ok(false));
        }
        if filled == buf.len() {
            let grown = (buf.len() * 2).clamp(scan::CHUNK, limit.max(scan::CHUNK));
            buf.resize(grown, 0);
        }
        let end = buf.len().min(limit);
        match reader.read(&mut buf[filled..end]) {
            Ok(0) => return (filled, Ok(true)),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return (filled, Err(e)),
        }
    }
}

/// A reader that fails with the error it holds, once, then ends: the read error of a file read
/// whole, replayed at the same offset for the structural scan.
struct FailOnce(Option<std::io::Error>);

impl Read for FailOnce {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        match self.0.take() {
            Some(e) => Err(e),
            None => Ok(0),
        }
    }
}

/// The records of a file split by [`fast::split`], or `None` when a candidate does not parse
/// (the split may be wrong: the caller scans the file's structure instead).
fn decode_split(
    whole: &[u8],
    split: &fast::Split,
    file: &Arc<str>,
    opts: DecodeOptions,
    keep: &mut dyn FnMut(u64, &[u8]),
) -> Option<FileOutcome> {
    let mut d = Decoder::new(file, opts);
    let mut kept: Vec<(u64, usize, usize)> = Vec::new();
    let mut stats = scan::ScanStats {
        bytes: whole.len() as u64,
        ..scan::ScanStats::default()
    };
    for (i, ((&a, &b), &hits)) in split
        .starts
        .iter()
        .zip(&split.ends)
        .zip(&split.hits)
        .enumerate()
    {
        let bytes = &whole[a..b];
        if bytes.len() > opts.max_record {
            stats.oversize += 1;
            continue;
        }
        stats.units += 1;
        // What `prefilter` would say, from the hits of the searches over the whole file.
        let candidate = hits & fast::HAS_ESCAPE != 0
            || (hits & fast::HAS_SOURCE != 0 && names_session_call(bytes));
        if d.record(i as u64, bytes, candidate) {
            kept.push((i as u64, a, b));
        }
        if d.out.stats.malformed > 0 {
            return None;
        }
    }
    for (i, a, b) in kept {
        keep(i, &whole[a..b]);
    }
    Some(d.finish(Ok(stats)))
}

/// The records of a stream split by the structural scan.
fn decode_scanned<R: Read>(
    reader: R,
    file: &Arc<str>,
    opts: DecodeOptions,
    keep: &mut dyn FnMut(u64, &[u8]),
) -> FileOutcome {
    let mut d = Decoder::new(file, opts);
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let mut buffer = BUFFER.with(|b| std::mem::take(&mut *b.borrow_mut()));
    let result = scan::scan_with_buffer(reader, opts.max_record, &mut buffer, |_, index, bytes| {
        if d.record(index, bytes, prefilter(bytes)) {
            keep(index, bytes);
        }
    });
    if buffer.capacity() <= 4 * MAX_RECORD_BYTES {
        BUFFER.with(|b| *b.borrow_mut() = buffer);
    }
    d.finish(result)
}

/// Does a record that holds the event source also name one of the five calls? (The second half
/// of [`prefilter`].)
fn names_session_call(bytes: &[u8]) -> bool {
    let f = finders();
    f.session.find(bytes).is_some() || f.status.find(bytes).is_some()
}

/// One file's records on their way to a [`FileOutcome`].
struct Decoder<'a> {
    out: FileOutcome,
    errors_seen: usize,
    file: &'a Arc<str>,
    opts: DecodeOptions,
}

impl<'a> Decoder<'a> {
    fn new(file: &'a Arc<str>, opts: DecodeOptions) -> Decoder<'a> {
        Decoder {
            out: FileOutcome::default(),
            errors_seen: 0,
            file,
            opts,
        }
    }

    /// Counts and decodes one record; `candidate` is the pre-filter's verdict. `true`: the
    /// record is kept (a session event, or a tag change with tags in time).
    fn record(&mut self, index: u64, bytes: &[u8], candidate: bool) -> bool {
        let (file, opts) = (self.file, self.opts);
        let st = &mut self.out.stats;
        let (tagging, name_at) = if opts.tags && !candidate {
            prefilter_tags_at(bytes)
        } else {
            (false, None)
        };
        if !candidate && !tagging && !opts.verify {
            // Without the bytes `eventSource` (and without a `\u` escape, which the pre-filter
            // passes on) an object cannot be a CloudTrail record: policy files or other JSON
            // given as logs by mistake are counted as such, never as records read.
            if has_event_source(bytes, name_at) || athena::looks_like_row(bytes) {
                st.prefiltered += 1;
            } else {
                st.not_records += 1;
            }
            return false;
        }
        st.parsed += 1;
        let lossy;
        let parsed = match record::parse(bytes) {
            Ok(r) => Ok(r),
            Err(e) if std::str::from_utf8(bytes).is_err() => {
                // Invalid UTF-8: read it with replacement characters rather than lose it.
                lossy = String::from_utf8_lossy(bytes).into_owned();
                record::parse(lossy.as_bytes()).map_err(|_| e)
            }
            Err(e) => Err(e),
        };
        let mut decoded = parsed.and_then(|r| event::classify(&r, file, index));
        let mut converted: Option<String> = None;
        if matches!(decoded, Ok(Decoded::NotARecord)) && athena::looks_like_row(bytes) {
            // A row of Athena's CloudTrail table: the record it stands for.
            if let Some(text) = athena::to_record(bytes) {
                decoded = record::parse(text.as_bytes())
                    .and_then(|r| event::classify(&r, file, index))
                    .map(|d| match d {
                        Decoded::Session(mut ev) => {
                            ev.table_row = true;
                            Decoded::Session(ev)
                        }
                        other => other,
                    });
                converted = Some(text);
            }
        }
        match decoded {
            Ok(Decoded::Session(ev)) => {
                if !candidate {
                    st.verify_misses += 1;
                }
                st.session_events += 1;
                self.out.events.push(*ev);
                return true;
            }
            Ok(Decoded::Tagging { ssm }) => {
                if ssm {
                    st.other_ssm += 1;
                } else {
                    st.other_service += 1;
                }
                if opts.tags {
                    let record = converted.as_deref().map_or(bytes, str::as_bytes);
                    let records = tag_records_of(record, file, index);
                    let found = !records.is_empty();
                    if found {
                        st.tag_events += 1;
                    }
                    self.out.tag_records.extend(records);
                    return found;
                }
            }
            Ok(Decoded::OtherSsm) => st.other_ssm += 1,
            Ok(Decoded::Other) => st.other_service += 1,
            Ok(Decoded::NotARecord) => st.not_records += 1,
            Err(e) => {
                st.malformed += 1;
                if finders().source.find(bytes).is_some() {
                    st.malformed_ssm += 1;
                }
                self.errors_seen += 1;
                if self.errors_seen <= MAX_RECORD_ERRORS {
                    self.out
                        .record_errors
                        .push(format!("record {}: invalid JSON: {e}", index + 1));
                }
            }
        }
        false
    }

    /// The outcome, with the scan's counts and what it says about the file as a whole.
    fn finish(self, result: Result<scan::ScanStats, (scan::ScanStats, ScanError)>) -> FileOutcome {
        let (mut out, errors_seen, opts) = (self.out, self.errors_seen, self.opts);
        let stats = match result {
            Ok(s) => s,
            Err((s, e)) => {
                out.fatal = Some(e.to_string());
                s
            }
        };
        out.stats.records = stats.units + stats.oversize;
        out.stats.bytes = stats.bytes;
        out.stats.oversize = stats.oversize;
        out.stats.non_object_elements = stats.non_objects;
        if stats.oversize > 0 {
            out.record_errors.push(format!(
                "{} record(s) larger than {} bytes skipped",
                stats.oversize, opts.max_record
            ));
        }
        if out.fatal.is_none() && out.stats.bytes == 0 {
            // CloudTrail never writes an empty file: say so, it may be a failed copy.
            out.record_errors.push("the file is empty".to_string());
        }
        if out.stats.not_records > 0 {
            out.record_errors.push(format!(
                "{} JSON object(s) are not CloudTrail records (no `eventSource`/`eventName`)",
                out.stats.not_records
            ));
        }
        if errors_seen > MAX_RECORD_ERRORS {
            out.record_errors.push(format!(
                "{} more invalid record(s) not shown",
                errors_seen - MAX_RECORD_ERRORS
            ));
        }
        out
    }
}

/// The tag changes a tagging call's record makes (EventBridge and lookup-events envelopes carry
/// the record inside).
fn tag_records_of(
    record: &[u8],
    file: &Arc<str>,
    index: u64,
) -> Vec<crate::mapping::history::TagRecord> {
    let v: Option<serde_json::Value> = serde_json::from_slice(record).ok();
    v.map(|v| {
        let inner = v
            .get("detail")
            .cloned()
            .or_else(|| {
                v.get("CloudTrailEvent")
                    .and_then(serde_json::Value::as_str)
                    .and_then(|t| serde_json::from_str(t).ok())
            })
            .unwrap_or(v);
        tagging::tag_records(&inner, file, index)
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file decoded by the fast path, and by the structural scan alone.
    fn both_ways(bytes: &[u8], opts: DecodeOptions) -> (FileOutcome, FileOutcome) {
        let file: Arc<str> = Arc::from("f.json");
        let fast = decode_stream(bytes, &file, opts);
        let scanned = decode_scanned(bytes, &file, opts, &mut |_, _| {});
        (fast, scanned)
    }

    fn assert_same(a: &FileOutcome, b: &FileOutcome) {
        assert_eq!(a.stats, b.stats);
        assert_eq!(a.events, b.events);
        assert_eq!(a.tag_records, b.tag_records);
        assert_eq!(a.record_errors, b.record_errors);
        assert_eq!(a.fatal, b.fatal);
    }

    /// The bundled trail files and a public one (cloudgrep's) are in CloudTrail's layout: the
    /// byte search splits them. For them and for every other public file, in other layouts,
    /// the outcome (counts, events, tag changes, errors) is the structural scan's, with and
    /// without tags in time.
    #[test]
    fn fast_path_equals_structural_scan_on_trail_files() {
        // The bundled archive's trail files and every public record file in tests/data/real.
        let files: Vec<std::path::PathBuf> = ["samples/AWSLogs", "tests/data/real"]
            .iter()
            .flat_map(|d| walkdir::WalkDir::new(d).into_iter().filter_map(Result::ok))
            .map(|e| e.into_path())
            .filter(|p| {
                let name = p.to_string_lossy();
                name.contains("_CloudTrail_") || (name.contains("/real/") && name.contains(".json"))
            })
            .collect();
        assert!(files.len() >= 5, "{files:?}");
        let (mut split_files, mut gzip_files) = (0, 0);
        for path in files {
            let input = crate::source::Input::File(path.clone());
            let mut text = Vec::new();
            let read = crate::source::open(&input).and_then(|mut r| r.read_to_end(&mut text));
            assert!(read.is_ok(), "{}", path.display());
            let mut split = fast::Split::default();
            let compact = text.starts_with(b"{\"Records\":[{\"eventVersion\"");
            assert_eq!(
                fast::split(&text, &mut split),
                compact,
                "{}",
                path.display()
            );
            split_files += usize::from(compact);
            for tags in [false, true] {
                let opts = DecodeOptions {
                    tags,
                    ..DecodeOptions::default()
                };
                let (a, b) = both_ways(&text, opts);
                assert!(a.stats.records > 0);
                assert_same(&a, &b);
                // Read from the file (gzip decompressed whole), as a replay reads it.
                let name: Arc<str> = Arc::from(input.display());
                let streamed = decode_stream(&text[..], &name, opts);
                let read = decode_input_keeping(&input, opts, &mut |_, _| {});
                assert_same(&read, &streamed);
            }
            if path.extension().is_some_and(|e| e == "gz") {
                // Taken by whole-buffer decompression (not streamed).
                let stored = std::fs::read(&path).expect("readable");
                let mut out = Vec::new();
                let mut d = libdeflater::Decompressor::new();
                let n = crate::source::inflate_whole(&stored, &mut out, 1 << 30, &mut d);
                assert_eq!(n, Some(text.len()), "{}", path.display());
                gzip_files += 1;
            }
        }
        assert!(split_files >= 4, "{split_files}");
        assert!(gzip_files >= 4, "{gzip_files}");
    }

    /// The key before `eventName`, read backwards: only `"eventSource":"…",` counts.
    #[test]
    fn event_source_key_read_backwards() {
        let yes = [
            &b"{\"eventSource\":\"ec2.amazonaws.com\","[..],
            b"x\"eventSource\":\"\",",
        ];
        for head in yes {
            assert!(source_key_before(head), "{}", String::from_utf8_lossy(head));
        }
        let no = [
            &b""[..],
            b"\",",
            b"{\"eventTime\":\"2024\",",
            b"{\"eventSource\":\"ec2.amazonaws.com\"",
            b"{\"xeventSource\":1,\"a\":\"b\",",
            b"\"eventSource\": \"ec2.amazonaws.com\",",
        ];
        for head in no {
            assert!(
                !source_key_before(head),
                "{}",
                String::from_utf8_lossy(head)
            );
        }
    }

    /// A record split in the wrong place (an object inside a list that begins with
    /// `eventVersion`) makes a candidate that does not parse: the file goes to the structural
    /// scan, which counts one record and finds the event.
    #[test]
    fn a_wrong_split_falls_back_to_the_structural_scan() {
        let record = |extra: &str| {
            format!(
                r#"{{"eventVersion":"1.08","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a","accountId":"111122223333"}},"eventTime":"2024-01-01T00:00:00Z","eventSource":"ssm.amazonaws.com","eventName":"StartSession","awsRegion":"us-east-1","sourceIPAddress":"192.0.2.1","requestParameters":{{"target":"i-0123456789abcdef0"{extra}}},"responseElements":{{"sessionId":"a-0123456789abcdef0"}},"eventID":"e1","recipientAccountId":"111122223333"}}"#
            )
        };
        let nested = record(r#","list":[{"k":1},{"eventVersion":"x","y":2}]"#);
        let text = format!(r#"{{"Records":[{nested},{}]}}"#, record(""));
        let (a, b) = both_ways(text.as_bytes(), DecodeOptions::default());
        assert_same(&a, &b);
        assert_eq!(a.stats.records, 2);
        assert_eq!(a.stats.session_events, 2);
        assert_eq!(a.stats.malformed, 0);
    }

    /// A read error in a file read whole is replayed at the same offset for the structural
    /// scan: the records before it are decoded and the error is the file's fatal one.
    #[test]
    fn read_error_keeps_records_before_it() {
        // The scan reads 64-byte blocks: the error comes well after the first record's end.
        let text = format!(
            "{}{}",
            r#"{"Records":[{"eventVersion":"1","eventSource":"s3.amazonaws.com"},{"eventVersion":"1","x":""#,
            "x".repeat(200)
        );
        let failing = std::io::Cursor::new(text.as_bytes()).chain(FailOnce(Some(
            std::io::Error::other("corrupt deflate stream"),
        )));
        let file: Arc<str> = Arc::from("f.json.gz");
        let out = decode_stream(failing, &file, DecodeOptions::default());
        assert_eq!(out.stats.records, 1);
        assert_eq!(out.stats.prefiltered, 1);
        let fatal = out.fatal.unwrap_or_default();
        assert!(fatal.contains("corrupt deflate stream"), "{fatal}");
        assert!(
            fatal.contains(&format!("after {} bytes", text.len())),
            "{fatal}"
        );
    }

    /// The tag pre-filter reads the event name where the key is, in any layout, and falls back
    /// to searching the names when it cannot.
    #[test]
    fn tag_prefilter_in_every_layout() {
        let yes: [&[u8]; 6] = [
            br#"{"eventVersion":"1.09","eventSource":"ec2.amazonaws.com","eventName":"CreateTags"}"#,
            b"{\n  \"eventName\" :\n \"RunInstances\",\n  \"x\": 1\n}",
            br#"{"eventsource":"ssm.amazonaws.com","eventname":"RemoveTagsFromResource"}"#,
            // lookup-events output: the record is a JSON string.
            br#"{"CloudTrailEvent":"{\"eventName\":\"DeleteTags\"}"}"#,
            // An escape inside the name: searched instead.
            br#"{"eventName":"Create\u0054ags"}"#,
            br#"{"eventName":"AddTagsToResource"}"#,
        ];
        for b in yes {
            assert!(prefilter_tags(b), "{}", String::from_utf8_lossy(b));
        }
        let no: [&[u8]; 3] = [
            br#"{"eventName":"DescribeInstances","requestParameters":{"x":"y"}}"#,
            br#"{"eventName":"DescribeTags"}"#,
            br#"{"eventSource":"s3.amazonaws.com"}"#,
        ];
        for b in no {
            assert!(!prefilter_tags(b), "{}", String::from_utf8_lossy(b));
        }
    }
}
