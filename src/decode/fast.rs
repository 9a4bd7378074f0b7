//! The fast path for the layout CloudTrail itself writes: a whole file in memory, split into
//! records by byte search instead of following its JSON structure.
//!
//! A trail file delivered to S3 is one compact object, `{"Records":[{"eventVersion":…},{…}]}`,
//! and every record begins with its `eventVersion` key (CloudTrail User Guide, "CloudTrail record
//! contents"; every public sample in the repository's `tests/data` is written so). In valid JSON
//! the bytes `{"eventVersion"` cannot occur inside a string (a quote in a string is escaped), so
//! they mark objects whose first key is `eventVersion`: the records, found with one SIMD substring
//! search at memory speed. The candidates for the parser are found the same way: one search for
//! `ssm.amazonaws.com` and one for `\u` over the whole file, each hit assigned to its record.
//!
//! [`split`] accepts a file only when every assumption holds: the `{"Records":[` head, the first
//! record right after it, every later record right after the `},` that closes the one before, and
//! nothing but `]}` and whitespace after the last. Anything else (pretty-printing, another key
//! order, other top-level shapes, a record nested in a record's value) returns `None`, and the
//! caller runs the structural scan ([`super::scan`]) on the same bytes: the result never depends
//! on the layout. Every candidate is parsed, and a candidate that does not parse sends the whole
//! file to the structural scan too, so a record split in the wrong place cannot lose a Session
//! Manager event. What the fast path cannot check without reading every byte's structure is a
//! record that is *not* a candidate and holds, inside a list of objects, an object (not the
//! first) whose first key is `eventVersion`: it would be counted as two records. `--verify` uses
//! the structural scan and parses every record.

use memchr::memmem;

/// The files the fast path reads into memory whole: larger ones are streamed through the
/// structural scan (so that memory per thread stays bounded whatever a file's size). CloudTrail
/// delivers a file every five minutes or so; a file of a busy account is a few megabytes.
pub(crate) const WHOLE_FILE_LIMIT: usize = 32 << 20;

const HEAD: &[u8] = b"{\"Records\":[";
/// The bytes every record starts with.
pub(super) const START: &[u8] = b"{\"eventVersion\"";

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

/// A file split into records: record `i` is `buf[starts[i]..ends[i]]`, and which records hold
/// `ssm.amazonaws.com` or a `\u` escape.
#[derive(Debug, Default)]
pub(crate) struct Split {
    pub(crate) starts: Vec<usize>,
    pub(crate) ends: Vec<usize>,
    /// Per record: holds the event source (bit 0), holds a `\u` escape (bit 1).
    pub(crate) hits: Vec<u8>,
}

pub(crate) const HAS_SOURCE: u8 = 1;
pub(crate) const HAS_ESCAPE: u8 = 2;

impl Split {
    fn clear(&mut self) {
        self.starts.clear();
        self.ends.clear();
        self.hits.clear();
    }
}

/// Splits `buf` (a whole file) if it is in CloudTrail's compact layout; `false` leaves `split`
/// meaningless and the file to the structural scan. `split` is reused across files.
pub(crate) fn split(buf: &[u8], split: &mut Split) -> bool {
    split.clear();
    let f = super::finders();
    let mut at = 0;
    while buf.get(at).copied().is_some_and(is_ws) {
        at += 1;
    }
    if !buf[at..].starts_with(HEAD) {
        return false;
    }
    let first = at + HEAD.len();
    // The end: `]}` and whitespace after the last record (or right after the head: no records).
    let mut end = buf.len();
    while end > first && is_ws(buf[end - 1]) {
        end -= 1;
    }
    if end < first + 2 || &buf[end - 2..end] != b"]}" {
        return false;
    }
    let last_end = end - 2;
    if last_end == first {
        return true;
    }
    split.starts.extend(
        f.record_start
            .find_iter(&buf[first..last_end])
            .map(|i| first + i),
    );
    if split.starts.first() != Some(&first) {
        return false;
    }
    for w in split.starts.windows(2) {
        let next = w[1];
        // `next - 2 >= w[0] + START.len()`: the `},` lies inside what follows the record start.
        if next < w[0] + START.len() + 2 || &buf[next - 2..next] != b"}," {
            return false;
        }
        split.ends.push(next - 1);
    }
    if buf[last_end - 1] != b'}' {
        return false;
    }
    split.ends.push(last_end);
    split.hits.resize(split.starts.len(), 0);
    // Each hit to the record it lies in (records are contiguous, separated by one comma, and
    // neither pattern can span `},{`).
    let mut mark = |finder: &memmem::Finder<'_>, bit: u8| {
        let mut r = 0;
        for p in finder.find_iter(&buf[first..last_end]).map(|i| first + i) {
            while r + 1 < split.starts.len() && split.starts[r + 1] <= p {
                r += 1;
            }
            split.hits[r] |= bit;
        }
    };
    mark(&f.source, HAS_SOURCE);
    mark(&f.escape, HAS_ESCAPE);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> Option<Vec<(String, u8)>> {
        let mut s = Split::default();
        split(text.as_bytes(), &mut s).then(|| {
            s.starts
                .iter()
                .zip(&s.ends)
                .zip(&s.hits)
                .map(|((&a, &b), &h)| (text[a..b].to_string(), h))
                .collect()
        })
    }

    /// The layout CloudTrail writes is split at record starts, with each record's hits.
    #[test]
    fn compact_layout_is_split() {
        let r = records(
            "{\"Records\":[{\"eventVersion\":\"1.08\",\"eventSource\":\"ssm.amazonaws.com\"},\
             {\"eventVersion\":\"1.08\",\"x\":{\"a\":[{\"b\":1}]},\"m\":\"\\u0041\"},\
             {\"eventVersion\":\"1.09\"}]}\n",
        )
        .expect("compact layout");
        assert_eq!(r.len(), 3);
        assert_eq!(
            r[0].0,
            "{\"eventVersion\":\"1.08\",\"eventSource\":\"ssm.amazonaws.com\"}"
        );
        assert_eq!(r[0].1, HAS_SOURCE);
        assert_eq!(r[1].1, HAS_ESCAPE);
        assert_eq!(r[2], ("{\"eventVersion\":\"1.09\"}".to_string(), 0));
        assert_eq!(records("{\"Records\":[]}"), Some(vec![]));
        assert_eq!(records("  {\"Records\":[]}  \n"), Some(vec![]));
    }

    /// Anything else goes to the structural scan: other layouts, nested record starts, junk
    /// between or after records, a truncated file.
    #[test]
    fn other_layouts_are_refused() {
        let refused = [
            "",
            "{\"Records\": [{\"eventVersion\":\"1\"}]}",
            "{\n  \"Records\": [\n    {\"eventVersion\": \"1\"}\n  ]\n}",
            "[{\"eventVersion\":\"1\"}]",
            "{\"eventVersion\":\"1\"}\n{\"eventVersion\":\"1\"}",
            "{\"Records\":[{\"eventSource\":\"x\",\"eventVersion\":\"1\"}]}",
            "{\"Records\":[{\"eventVersion\":\"1\",\"d\":{\"eventVersion\":\"2\"}}]}",
            "{\"Records\":[{\"eventVersion\":\"1\"},1,{\"eventVersion\":\"1\"}]}",
            "{\"Records\":[{\"eventVersion\":\"1\"}]}x",
            "{\"Records\":[{\"eventVersion\":\"1\"},{\"eventVersion\":\"1\"}",
            "{\"Records\":[{\"eventVersion\":\"1\"} ]}",
            "{\"Records\":[{\"eventVersion\"]}",
        ];
        for text in refused {
            assert_eq!(records(text), None, "{text}");
        }
    }
}
