//! Bytes → CloudTrail records → Session Manager events.
//!
//! Most records in an archive are not Session Manager events, so each record's bytes are first
//! searched for `ssm.amazonaws.com` (memchr's SIMD substring search) and only records that
//! contain it, or that contain a `\u` escape (which could spell it differently), are parsed. The
//! search does not depend on key order, whitespace or layout: it looks inside each record the
//! structural scanner ([`scan`]) found. `--verify` parses every record and counts any record the
//! pre-filter would have missed.

pub(crate) mod athena;
pub(crate) mod event;
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

/// The byte patterns of the pre-filter, built once.
struct Finders {
    source: memmem::Finder<'static>,
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
    let f = finders();
    let key = f
        .event_name
        .find(bytes)
        .map(|i| i + 11)
        .or_else(|| f.event_name_lower.find(bytes).map(|i| i + 11));
    if let Some(mut i) = key {
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
                        return true;
                    }
                    let name = &bytes[start..start + len];
                    return tagging::TAGGING.iter().any(|(_, n)| n.as_bytes() == name);
                }
            }
        }
    }
    f.tags.find(bytes).is_some() || f.run.find(bytes).is_some()
}

/// Decodes one stream of log data (already decompressed).
pub fn decode_stream<R: Read>(reader: R, file: &Arc<str>, opts: DecodeOptions) -> FileOutcome {
    decode_stream_keeping(reader, file, opts, &mut |_, _| {})
}

/// [`decode_stream`], handing `keep` the record number and the bytes of every Session Manager
/// record as it is decoded (for `trailreplay extract`, which writes them unchanged).
pub fn decode_stream_keeping<R: Read>(
    reader: R,
    file: &Arc<str>,
    opts: DecodeOptions,
    keep: &mut dyn FnMut(u64, &[u8]),
) -> FileOutcome {
    let mut out = FileOutcome::default();
    let mut errors_seen = 0usize;
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let mut buffer = BUFFER.with(|b| std::mem::take(&mut *b.borrow_mut()));
    let result = scan::scan_with_buffer(reader, opts.max_record, &mut buffer, |_, index, bytes| {
        let st = &mut out.stats;
        let candidate = prefilter(bytes);
        let tagging = opts.tags && !candidate && prefilter_tags(bytes);
        if !candidate && !tagging && !opts.verify {
            // Without the bytes `eventSource` (and without a `\u` escape, which the pre-filter
            // passes on) an object cannot be a CloudTrail record: policy files or other JSON
            // given as logs by mistake are counted as such, never as records read.
            if finders().event_source.find(bytes).is_some() || athena::looks_like_row(bytes) {
                st.prefiltered += 1;
            } else {
                st.not_records += 1;
            }
            return;
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
                keep(index, bytes);
                out.events.push(*ev);
            }
            Ok(Decoded::Tagging { ssm }) => {
                if ssm {
                    st.other_ssm += 1;
                } else {
                    st.other_service += 1;
                }
                if opts.tags {
                    let record = converted.as_deref().map_or(bytes, str::as_bytes);
                    let v: Option<serde_json::Value> = serde_json::from_slice(record).ok();
                    let records = v
                        .map(|v| {
                            // EventBridge and lookup-events envelopes carry the record inside.
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
                        .unwrap_or_default();
                    if !records.is_empty() {
                        st.tag_events += 1;
                        keep(index, bytes);
                    }
                    out.tag_records.extend(records);
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
                errors_seen += 1;
                if errors_seen <= MAX_RECORD_ERRORS {
                    out.record_errors
                        .push(format!("record {}: invalid JSON: {e}", index + 1));
                }
            }
        }
    });
    if buffer.capacity() <= 4 * MAX_RECORD_BYTES {
        BUFFER.with(|b| *b.borrow_mut() = buffer);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
