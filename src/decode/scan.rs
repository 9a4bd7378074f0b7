//! Streaming record splitter: bytes of a log file → the byte range of each CloudTrail record,
//! in bounded memory, at several GB/s.
//!
//! The scanner tracks JSON structure (strings, escapes, nesting) without parsing values, so it
//! finds records whatever the key order, whitespace or pretty-printing. Records are:
//! - the elements of a top-level `"Records"` array (`{"Records":[...]}`, the S3 trail file),
//! - the elements of a top-level `"Events"` array (`aws cloudtrail lookup-events` output; each
//!   element carries the record as a JSON string in `CloudTrailEvent`),
//! - the elements of a top-level array (exports as a bare JSON array),
//! - every other top-level object (one record per line, a single record, an EventBridge
//!   envelope).
//!
//! Only the record being read is held in memory, never the file: a 100 MB trail file or a gzip
//! member that inflates to gigabytes costs at most [`MAX_RECORD_BYTES`] plus one read chunk. A
//! larger record is reported and skipped, and the scan goes on after it.
//!
//! How it is fast: 64 bytes at a time, SIMD compares (the `wide` crate, safe code) give bit masks
//! of quotes, backslashes and brackets; a prefix XOR of the unescaped quotes gives the bytes
//! inside strings, and only the brackets outside strings are visited one by one (the technique of
//! simdjson's stage 1). A block with a backslash computes its escapes byte by byte. The
//! byte-at-a-time [`super::scan_reference`] is the reference this is tested against.

use std::io::Read;

use wide::u8x16;

/// The largest record kept. CloudTrail's own maximum event size is 256 KB (CloudTrail User
/// Guide, "Quotas"); pretty-printed exports can be several times larger than the compact form,
/// so the limit leaves room for that.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// Bytes read from the decompressor at a time.
pub(crate) const CHUNK: usize = 256 * 1024;

/// How a record is wrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitKind {
    /// A CloudTrail record object (or an envelope around one).
    Record,
    /// An element of `lookup-events` output.
    LookupEvent,
}

/// Counts kept by the scanner.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanStats {
    /// Records handed to the callback.
    pub units: u64,
    /// Records over the size limit, skipped.
    pub oversize: u64,
    /// Elements of a records array that are not objects.
    pub non_objects: u64,
    /// Decompressed bytes read.
    pub bytes: u64,
}

/// Why a scan stopped before the end of its input.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("read error after {offset} bytes: {source}")]
    Io {
        offset: u64,
        #[source]
        source: std::io::Error,
    },
    #[error("file ends inside a JSON value (after {offset} bytes, in record {}): the file is truncated", .record + 1)]
    Truncated { offset: u64, record: u64 },
    #[error("not a log file: unexpected byte 0x{byte:02x} at offset {offset} (expected JSON objects or arrays)")]
    NotJson { offset: u64, byte: u8 },
}

#[derive(Clone, Copy)]
struct Unit {
    /// Start in the buffer, or `None` once the record is over the size limit.
    start: Option<usize>,
    depth: usize,
    kind: UnitKind,
}

const WS: [bool; 256] = {
    let mut t = [false; 256];
    t[b' ' as usize] = true;
    t[b'\n' as usize] = true;
    t[b'\r' as usize] = true;
    t[b'\t' as usize] = true;
    t
};

#[inline]
fn mask16(v: u8x16, c: u8) -> u64 {
    u64::from(v.simd_eq(u8x16::splat(c)).to_bitmask())
}

/// Bit masks of one 64-byte block: quotes, backslashes, openers (`{[`) and closers (`}]`).
#[inline]
fn block_masks(block: &[u8; 64]) -> (u64, u64, u64, u64) {
    let (mut q, mut bs, mut open, mut close) = (0u64, 0u64, 0u64, 0u64);
    for k in 0..4 {
        let mut lane = [0u8; 16];
        lane.copy_from_slice(&block[k * 16..k * 16 + 16]);
        let v = u8x16::new(lane);
        // `[` | 0x20 == `{` and `]` | 0x20 == `}`; no other byte maps to those.
        let folded = v | u8x16::splat(0x20);
        let shift = k * 16;
        q |= mask16(v, b'"') << shift;
        bs |= mask16(v, b'\\') << shift;
        open |= mask16(folded, b'{') << shift;
        close |= mask16(folded, b'}') << shift;
    }
    (q, bs, open, close)
}

/// Prefix XOR: bit i is the XOR of bits 0..=i.
#[inline]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

struct Scanner<'f, F> {
    on_unit: &'f mut F,
    limit: usize,
    stats: ScanStats,
    depth: usize,
    /// Container kinds of the first three levels.
    top: [u8; 3],
    /// The records array at depth 2 inside a top-level object, if any.
    records_kind: Option<UnitKind>,
    unit: Option<Unit>,
    index: u64,
    /// Start of the bytes between elements of the records array, and whether they held
    /// anything but commas and whitespace.
    elem_gap: Option<usize>,
    elem_gap_dirty: bool,
    /// Start of the bytes between top-level values.
    top_gap: Option<usize>,
}

impl<F: FnMut(UnitKind, u64, &[u8])> Scanner<'_, F> {
    fn check_top_gap(
        &self,
        buf: &[u8],
        from: usize,
        to: usize,
        base: u64,
    ) -> Result<(), ScanError> {
        for (i, &b) in buf[from..to].iter().enumerate() {
            let abs = base + (from + i) as u64;
            let bom = abs < 3 && matches!(b, 0xEF | 0xBB | 0xBF);
            if !WS[b as usize] && !bom {
                return Err(ScanError::NotJson {
                    offset: abs,
                    byte: b,
                });
            }
        }
        Ok(())
    }

    fn elem_gap_has_value(buf: &[u8]) -> bool {
        buf.iter().any(|&b| !WS[b as usize] && b != b',')
    }

    /// Looks back from a `[` for the key it is the value of (`"Records" : [`).
    fn key_before(buf: &[u8], p: usize) -> Option<&[u8]> {
        let mut i = p;
        while i > 0 && WS[buf[i - 1] as usize] {
            i -= 1;
        }
        if i == 0 || buf[i - 1] != b':' {
            return None;
        }
        i -= 1;
        while i > 0 && WS[buf[i - 1] as usize] {
            i -= 1;
        }
        if i == 0 || buf[i - 1] != b'"' {
            return None;
        }
        let end = i - 1;
        let start = buf[..end].iter().rposition(|&b| b == b'"')?;
        Some(&buf[start + 1..end])
    }

    #[inline]
    fn structural(&mut self, buf: &[u8], p: usize, base: u64) -> Result<(), ScanError> {
        let c = buf[p];
        if c == b'{' || c == b'[' {
            if self.depth == 0 {
                if let Some(g) = self.top_gap.take() {
                    self.check_top_gap(buf, g, p, base)?;
                }
            }
            let in_records = self.depth == 2 && self.records_kind.is_some();
            if in_records && self.unit.is_none() {
                if let Some(g) = self.elem_gap.take() {
                    if self.elem_gap_dirty || Self::elem_gap_has_value(&buf[g..p]) {
                        self.stats.non_objects += 1;
                    }
                }
                self.elem_gap_dirty = false;
                if c == b'[' {
                    self.stats.non_objects += 1;
                }
            }
            let starts_unit = self.unit.is_none()
                && c == b'{'
                && (self.depth == 0 || (self.depth == 1 && self.top[0] == b'[') || in_records);
            if starts_unit {
                let kind = if in_records {
                    self.records_kind.unwrap_or(UnitKind::Record)
                } else {
                    UnitKind::Record
                };
                self.unit = Some(Unit {
                    start: Some(p),
                    depth: self.depth,
                    kind,
                });
            }
            if c == b'[' && self.depth == 1 && self.top[0] == b'{' {
                let kind = match Self::key_before(buf, p) {
                    Some(b"Records") => Some(UnitKind::Record),
                    Some(b"Events") => Some(UnitKind::LookupEvent),
                    _ => None,
                };
                if kind.is_some() {
                    // The top-level object is a wrapper, not a record.
                    self.records_kind = kind;
                    self.elem_gap = Some(p + 1);
                    self.elem_gap_dirty = false;
                    if matches!(self.unit, Some(Unit { depth: 0, .. })) {
                        self.unit = None;
                    }
                }
            }
            if self.depth < self.top.len() {
                self.top[self.depth] = c;
            }
            self.depth += 1;
        } else {
            if self.depth == 0 {
                return Err(ScanError::NotJson {
                    offset: base + p as u64,
                    byte: c,
                });
            }
            self.depth -= 1;
            if self.depth == 1 && c == b']' && self.records_kind.is_some() {
                if let Some(g) = self.elem_gap.take() {
                    if self.elem_gap_dirty || Self::elem_gap_has_value(&buf[g..p]) {
                        self.stats.non_objects += 1;
                    }
                }
                self.records_kind = None;
            }
            if let Some(u) = self.unit {
                if u.depth == self.depth {
                    self.unit = None;
                    match u.start {
                        Some(s) if p + 1 - s <= self.limit => {
                            self.stats.units += 1;
                            (self.on_unit)(u.kind, self.index, &buf[s..=p]);
                        }
                        _ => self.stats.oversize += 1,
                    }
                    self.index += 1;
                }
            }
            if self.depth == 2 && self.records_kind.is_some() {
                self.elem_gap = Some(p + 1);
                self.elem_gap_dirty = false;
            }
            if self.depth == 0 {
                self.top_gap = Some(p + 1);
            }
        }
        Ok(())
    }
}

/// Scans `reader`, calling `on_unit(kind, index, bytes)` for each record (index counts from 0
/// and includes oversize records). `limit` is the largest record kept.
pub fn scan<R: Read, F: FnMut(UnitKind, u64, &[u8])>(
    reader: R,
    limit: usize,
    on_unit: F,
) -> Result<ScanStats, (ScanStats, ScanError)> {
    scan_with_buffer(reader, limit, &mut Vec::new(), on_unit)
}

/// [`scan`] with a caller-owned buffer, so that a thread reading many files reuses one
/// allocation (fresh large allocations cost page faults on every file).
pub fn scan_with_buffer<R: Read, F: FnMut(UnitKind, u64, &[u8])>(
    mut reader: R,
    limit: usize,
    buf: &mut Vec<u8>,
    mut on_unit: F,
) -> Result<ScanStats, (ScanStats, ScanError)> {
    let mut s = Scanner {
        on_unit: &mut on_unit,
        limit,
        stats: ScanStats::default(),
        depth: 0,
        top: [0; 3],
        records_kind: None,
        unit: None,
        index: 0,
        elem_gap: None,
        elem_gap_dirty: false,
        top_gap: Some(0),
    };
    buf.clear();
    buf.resize(CHUNK + 64, 0);
    let (mut filled, mut pos) = (0usize, 0usize);
    let mut base: u64 = 0;
    let mut eof = false;
    let mut in_string = false;
    let mut escape = false;

    macro_rules! fail {
        ($e:expr) => {
            return Err((s.stats, $e))
        };
    }

    loop {
        // Whole blocks, or the padded last one at the end of input.
        while pos + 64 <= filled || (eof && pos < filled) {
            let n = (filled - pos).min(64);
            let mut tail = [b' '; 64];
            let block: &[u8; 64] = match buf[pos..filled].first_chunk::<64>() {
                Some(b) => b,
                None => {
                    tail[..n].copy_from_slice(&buf[pos..pos + n]);
                    &tail
                }
            };
            let (q, bs, open, close) = block_masks(block);
            let mut quotes = q;
            if bs != 0 || escape {
                // Escapes, byte by byte: a backslash escapes the next byte.
                let mut escaped = 0u64;
                for (i, &b) in block.iter().enumerate().take(n) {
                    if escape {
                        escaped |= 1 << i;
                        escape = false;
                    } else if b == b'\\' {
                        escape = true;
                    }
                }
                quotes &= !escaped;
            }
            let mut inside = prefix_xor(quotes);
            if in_string {
                inside = !inside;
            }
            // Padding is spaces, so the last bit tells for a short block too.
            in_string = (inside >> 63) & 1 == 1;
            let mut structural = (open | close) & !inside;
            if n < 64 {
                structural &= (1u64 << n) - 1;
            }
            while structural != 0 {
                let i = structural.trailing_zeros() as usize;
                structural &= structural - 1;
                if let Err(e) = s.structural(buf, pos + i, base) {
                    fail!(e);
                }
            }
            pos += n;
        }
        if eof {
            break;
        }
        // Refill: check and drop what is behind us, keep the record in progress.
        if s.depth == 0 {
            if let Some(g) = s.top_gap {
                if let Err(e) = s.check_top_gap(buf, g, pos, base) {
                    fail!(e);
                }
                s.top_gap = Some(pos);
            }
        }
        if let Some(g) = s.elem_gap {
            if Scanner::<F>::elem_gap_has_value(&buf[g..pos]) {
                s.elem_gap_dirty = true;
            }
            s.elem_gap = Some(pos);
        }
        let keep = match s.unit {
            Some(Unit {
                start: Some(st), ..
            }) => st.min(pos),
            _ => pos,
        };
        if keep > 0 {
            buf.copy_within(keep..filled, 0);
            filled -= keep;
            pos -= keep;
            base += keep as u64;
            if let Some(Unit {
                start: Some(st), ..
            }) = s.unit.as_mut()
            {
                *st -= keep;
            }
            if let Some(g) = s.top_gap.as_mut() {
                *g -= keep;
            }
            if let Some(g) = s.elem_gap.as_mut() {
                *g -= keep;
            }
        }
        if let Some(u) = s.unit.as_mut() {
            if u.start.is_some() && pos > limit {
                // Over the limit: stop keeping its bytes, keep scanning its structure. The
                // unscanned tail (less than a block) stays.
                u.start = None;
                buf.copy_within(pos..filled, 0);
                filled -= pos;
                base += pos as u64;
                pos = 0;
            }
        }
        if buf.len() < filled + CHUNK {
            buf.resize(filled + CHUNK, 0);
        }
        let n = loop {
            match reader.read(&mut buf[filled..filled + CHUNK]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => fail!(ScanError::Io {
                    offset: base + filled as u64,
                    source: e,
                }),
            }
        };
        if n == 0 {
            eof = true;
        }
        filled += n;
        s.stats.bytes += n as u64;
    }
    if s.depth != 0 || in_string {
        let offset = base + filled as u64;
        let record = s.index;
        fail!(ScanError::Truncated { offset, record });
    }
    if let Some(g) = s.top_gap {
        if let Err(e) = s.check_top_gap(buf, g, filled, base) {
            fail!(e);
        }
    }
    Ok(s.stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(input: &str) -> (Vec<(UnitKind, String)>, ScanStats) {
        let mut out = Vec::new();
        let stats = scan(input.as_bytes(), MAX_RECORD_BYTES, |k, _, b| {
            out.push((k, String::from_utf8_lossy(b).into_owned()))
        })
        .expect("scan");
        (out, stats)
    }

    #[test]
    fn trail_file() {
        let (u, _) = units(r#"{"Records":[{"a":1},{"b":"x}{"}]}"#);
        assert_eq!(u.len(), 2);
        assert_eq!(u[1].1, r#"{"b":"x}{"}"#);
    }

    #[test]
    fn wrapper_with_other_keys_first() {
        let (u, _) = units(r#"{"x":{"Records":[{"n":1}]},"Records" : [{"a":[1,{"b":2}]}]}"#);
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].1, r#"{"a":[1,{"b":2}]}"#);
    }

    #[test]
    fn lines_array_and_lookup() {
        let (u, _) = units("{\"a\":1}\n{\"b\":2}\n");
        assert_eq!(u.len(), 2);
        let (u, _) = units(r#"[{"a":1}, {"b":2}]"#);
        assert_eq!(u.len(), 2);
        let (u, _) = units(r#"{"Events":[{"CloudTrailEvent":"{\"a\":1}"}]}"#);
        assert_eq!(u[0].0, UnitKind::LookupEvent);
    }

    #[test]
    fn escapes_across_blocks() {
        // A backslash run that ends exactly at a block boundary.
        let pad = "x".repeat(60);
        let input = format!(r#"{{"k":"{pad}\\\"}}{{","v":"\\\\"}}"#);
        let (u, _) = units(&input);
        assert_eq!(u.len(), 1, "{input}");
    }

    #[test]
    fn non_object_elements_are_counted() {
        let (u, s) = units(r#"{"Records":[1,{"a":1},"x",[2],{"b":2}]}"#);
        assert_eq!(u.len(), 2);
        assert_eq!(s.non_objects, 3);
    }

    #[test]
    fn truncated_and_garbage() {
        let r = scan(
            &br#"{"Records":[{"a":1},{"b""#[..],
            MAX_RECORD_BYTES,
            |_, _, _| {},
        );
        let (stats, err) = r.expect_err("truncated");
        assert_eq!(stats.units, 1);
        assert!(matches!(err, ScanError::Truncated { record: 1, .. }));
        assert!(matches!(
            scan(&b"hello"[..], MAX_RECORD_BYTES, |_, _, _| {}),
            Err((_, ScanError::NotJson { .. }))
        ));
        assert!(matches!(
            scan(&b"{\"a\":1} x"[..], MAX_RECORD_BYTES, |_, _, _| {}),
            Err((_, ScanError::NotJson { offset: 8, .. }))
        ));
        assert!(scan(
            &b"\xEF\xBB\xBF{\"a\":1}"[..],
            MAX_RECORD_BYTES,
            |_, _, _| {}
        )
        .is_ok());
    }

    #[test]
    fn oversize_records_are_skipped_and_counted() {
        let big = "x".repeat(3000);
        let input = format!(r#"{{"Records":[{{"a":"{big}"}},{{"b":1}}]}}"#);
        let mut seen = Vec::new();
        struct Slow<'a>(&'a [u8]);
        impl Read for Slow<'_> {
            fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(b.len()).min(7);
                b[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let stats = scan(Slow(input.as_bytes()), 100, |_, i, b| {
            seen.push((i, String::from_utf8_lossy(b).into_owned()))
        })
        .expect("scan");
        assert_eq!(stats.oversize, 1);
        assert_eq!(seen, vec![(1, r#"{"b":1}"#.to_string())]);
    }

    #[test]
    fn agrees_with_reference_on_samples() {
        let inputs = [
            r#"{"Records":[{"a":"\\\"{"},{"b":[{"c":"]"}]}]}"#.to_string(),
            format!("[{}]", vec![r#"{"k":"v\\\\"}"#; 50].join(",\n  ")),
            format!(
                "{}\n",
                vec![r#"{"eventSource":"ssm.amazonaws.com","x":"\"\\"}"#; 40].join("\n")
            ),
        ];
        for input in inputs {
            let mut fast = Vec::new();
            let mut slow = Vec::new();
            let a = scan(input.as_bytes(), MAX_RECORD_BYTES, |k, i, b| {
                fast.push((k, i, b.to_vec()))
            });
            let b = super::super::scan_reference::scan(
                input.as_bytes(),
                MAX_RECORD_BYTES,
                |k, i, b| slow.push((k, i, b.to_vec())),
            );
            assert_eq!(fast, slow, "{input}");
            assert_eq!(
                a.is_ok(),
                b.is_ok(),
                "{input}: {:?}",
                a.as_ref().err().map(|e| e.1.to_string())
            );
        }
    }
}
