//! The reference record splitter: a byte-at-a-time state machine (memchr2 inside strings),
//! simple enough to trust. The fast splitter in [`super::scan`] is tested against it on
//! generated documents and fuzzed against it; see that module for what a record is. Same
//! streaming and size-limit behaviour, about a quarter of the speed.

use std::io::Read;

use memchr::memchr2;

use super::scan::{ScanError, ScanStats, UnitKind, CHUNK};

#[derive(Clone, Copy)]
struct Unit {
    /// Start in the buffer, or `None` once the record is over the size limit.
    start: Option<usize>,
    depth: usize,
    kind: UnitKind,
}

/// Scans `reader`, calling `on_unit(kind, index, bytes)` for each record (index counts from 0
/// and includes oversize records). `limit` is the largest record kept.
pub fn scan<R: Read>(
    mut reader: R,
    limit: usize,
    mut on_unit: impl FnMut(UnitKind, u64, &[u8]),
) -> Result<ScanStats, (ScanStats, ScanError)> {
    let mut stats = ScanStats::default();
    let mut buf: Vec<u8> = vec![0; CHUNK];
    let mut filled = 0usize;
    let mut pos = 0usize;
    let mut base: u64 = 0; // absolute offset of buf[0]
    let mut eof = false;

    // Structure.
    let mut depth = 0usize;
    // Container kinds for the top three levels (b'{' or b'['); deeper levels only count.
    let mut top = [0u8; 3];
    let mut in_string = false;
    let mut escape = false;
    // Depth-1 object key tracking.
    let mut expect_key = false;
    let mut capturing_key = false;
    let mut key: Vec<u8> = Vec::with_capacity(16);
    let mut last_key: Vec<u8> = Vec::with_capacity(16);
    // The records array at depth 2 inside a top-level object, if any.
    let mut records_kind: Option<UnitKind> = None;
    let mut elem_started = false;
    let mut unit: Option<Unit> = None;
    let mut index: u64 = 0;

    loop {
        if pos >= filled {
            if eof {
                break;
            }
            // Keep the unit in progress; drop everything else.
            let keep = match unit {
                Some(Unit { start: Some(s), .. }) => s,
                _ => pos,
            };
            if keep > 0 {
                buf.copy_within(keep..filled, 0);
                filled -= keep;
                pos -= keep;
                base += keep as u64;
                if let Some(Unit { start: Some(s), .. }) = unit.as_mut() {
                    *s -= keep;
                }
            }
            if let Some(u) = unit.as_mut() {
                if u.start.is_some() && filled > limit {
                    // Over the limit: stop keeping its bytes, keep scanning its structure.
                    u.start = None;
                    base += filled as u64;
                    pos = 0;
                    filled = 0;
                }
            }
            if buf.len() < filled + CHUNK {
                buf.resize(filled + CHUNK, 0);
            }
            let n = loop {
                match reader.read(&mut buf[filled..filled + CHUNK]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        return Err((
                            stats,
                            ScanError::Io {
                                offset: base + filled as u64,
                                source: e,
                            },
                        ))
                    }
                }
            };
            if n == 0 {
                eof = true;
                continue;
            }
            filled += n;
            stats.bytes += n as u64;
            continue;
        }

        if in_string {
            if escape {
                escape = false;
                pos += 1;
                continue;
            }
            match memchr2(b'"', b'\\', &buf[pos..filled]) {
                None => {
                    if capturing_key && key.len() < 64 {
                        key.extend_from_slice(&buf[pos..filled]);
                    }
                    pos = filled;
                }
                Some(off) => {
                    let j = pos + off;
                    if capturing_key && key.len() < 64 {
                        key.extend_from_slice(&buf[pos..j]);
                    }
                    if buf[j] == b'\\' {
                        escape = true;
                        pos = j + 1;
                    } else {
                        in_string = false;
                        pos = j + 1;
                        if capturing_key {
                            capturing_key = false;
                            expect_key = false;
                            std::mem::swap(&mut last_key, &mut key);
                        }
                    }
                }
            }
            continue;
        }

        let c = buf[pos];
        match c {
            b'"' => {
                in_string = true;
                if depth == 1 && top[0] == b'{' && expect_key {
                    capturing_key = true;
                    key.clear();
                }
                if depth == 2 && records_kind.is_some() && !elem_started {
                    elem_started = true;
                    stats.non_objects += 1;
                }
            }
            b'{' | b'[' => {
                // Does a record start here?
                let starts_unit = unit.is_none()
                    && c == b'{'
                    && (depth == 0
                        || (depth == 1 && top[0] == b'[')
                        || (depth == 2 && records_kind.is_some()));
                if depth == 2 && records_kind.is_some() && !elem_started {
                    elem_started = true;
                    if c == b'[' {
                        stats.non_objects += 1;
                    }
                }
                if starts_unit {
                    let kind = if depth == 2 {
                        records_kind.unwrap_or(UnitKind::Record)
                    } else {
                        UnitKind::Record
                    };
                    unit = Some(Unit {
                        start: Some(pos),
                        depth,
                        kind,
                    });
                }
                // A `"Records"`/`"Events"` array opening at depth 1 of a top-level object: the
                // object is a wrapper, not a record.
                if c == b'[' && depth == 1 && top[0] == b'{' {
                    let kind = match last_key.as_slice() {
                        b"Records" => Some(UnitKind::Record),
                        b"Events" => Some(UnitKind::LookupEvent),
                        _ => None,
                    };
                    if kind.is_some() {
                        records_kind = kind;
                        elem_started = false;
                        if matches!(unit, Some(Unit { depth: 0, .. })) {
                            unit = None;
                        }
                    }
                }
                if depth < top.len() {
                    top[depth] = c;
                }
                depth += 1;
                if depth == 1 && c == b'{' {
                    expect_key = true;
                }
            }
            b'}' | b']' => {
                if depth == 0 {
                    return Err((
                        stats,
                        ScanError::NotJson {
                            offset: base + pos as u64,
                            byte: c,
                        },
                    ));
                }
                depth -= 1;
                if depth == 1 && c == b']' && records_kind.is_some() {
                    records_kind = None;
                }
                if let Some(u) = unit {
                    if u.depth == depth {
                        unit = None;
                        match u.start {
                            Some(s) => {
                                let bytes = &buf[s..=pos];
                                if bytes.len() > limit {
                                    stats.oversize += 1;
                                } else {
                                    stats.units += 1;
                                    on_unit(u.kind, index, bytes);
                                }
                            }
                            None => stats.oversize += 1,
                        }
                        index += 1;
                    }
                }
            }
            b',' => {
                if depth == 1 && top[0] == b'{' {
                    expect_key = true;
                }
                if depth == 2 && records_kind.is_some() {
                    elem_started = false;
                }
            }
            b' ' | b'\n' | b'\r' | b'\t' | b':' => {}
            // A UTF-8 byte order mark before the first value.
            0xEF | 0xBB | 0xBF if depth == 0 && base + (pos as u64) < 3 => {}
            _ => {
                if depth == 0 {
                    return Err((
                        stats,
                        ScanError::NotJson {
                            offset: base + pos as u64,
                            byte: c,
                        },
                    ));
                }
                if depth == 2 && records_kind.is_some() && !elem_started {
                    elem_started = true;
                    stats.non_objects += 1;
                }
            }
        }
        pos += 1;
    }
    if depth != 0 || in_string {
        return Err((
            stats,
            ScanError::Truncated {
                offset: base + filled as u64,
                record: index,
            },
        ));
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    // The reference is exercised against the fast splitter on generated documents
    // (tests/property.rs) and on fixed ones (`scan::tests::agrees_with_reference_on_samples`);
    // here only what is specific to it.
    use super::*;
    use crate::decode::scan::MAX_RECORD_BYTES;

    #[test]
    fn splits_a_trail_file() {
        let mut n = 0;
        let stats = scan(
            &br#"{"Records":[{"a":"}"},{"b":[1]}]}"#[..],
            MAX_RECORD_BYTES,
            |_, _, _| n += 1,
        )
        .expect("scan");
        assert_eq!((n, stats.units), (2, 2));
    }
}
