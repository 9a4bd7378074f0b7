//! Findings → CSV (for change reviews), JSON lines (for machines) and a summary (for people).

pub mod summary;

use std::io::Write;

use serde::Serialize;

use crate::sanitize::for_spreadsheet;

pub use summary::Summary;

/// One row per Session Manager event. Column order is fixed and documented in the README.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub event_id: String,
    pub event_time: String,
    pub event_name: String,
    pub account: String,
    pub region: String,
    pub principal_arn: String,
    pub principal_type: String,
    pub source_ip: String,
    pub target: String,
    pub session_id: String,
    pub resources: String,
    pub error_code: String,
    pub baseline: String,
    pub candidate: String,
    pub change: String,
    pub candidate_reason: String,
    pub baseline_reason: String,
    pub file: String,
    /// For a recorded access denial, the kind of policy AWS's message names (`no
    /// identity-based policy allows`, `explicit deny in a service control policy`), else empty.
    pub recorded_reason: String,
}

pub const COLUMNS: [&str; 19] = [
    "event_id",
    "event_time",
    "event_name",
    "account",
    "region",
    "principal_arn",
    "principal_type",
    "source_ip",
    "target",
    "session_id",
    "resources",
    "error_code",
    "baseline",
    "candidate",
    "change",
    "candidate_reason",
    "baseline_reason",
    "file",
    "recorded_reason",
];

impl Row {
    /// Approximate memory the row holds (for the replay's memory budget).
    pub fn footprint(&self) -> usize {
        // Each string's allocation, rounded up as allocators do, plus their headers.
        std::mem::size_of::<Row>()
            + self
                .cells()
                .iter()
                .map(|c| {
                    if c.is_empty() {
                        0
                    } else {
                        c.len().div_ceil(16) * 16 + 16
                    }
                })
                .sum::<usize>()
    }

    /// Writes the row for a temporary file (see [`crate::spill`]).
    pub fn encode(&self, out: &mut Vec<u8>) {
        for c in self.cells() {
            crate::spill::wire::str(out, c);
        }
    }

    /// Reads back what [`Row::encode`] wrote.
    pub fn decode(r: &mut crate::spill::wire::Reader<'_>) -> std::io::Result<Row> {
        Ok(Row {
            event_id: r.string()?,
            event_time: r.string()?,
            event_name: r.string()?,
            account: r.string()?,
            region: r.string()?,
            principal_arn: r.string()?,
            principal_type: r.string()?,
            source_ip: r.string()?,
            target: r.string()?,
            session_id: r.string()?,
            resources: r.string()?,
            error_code: r.string()?,
            baseline: r.string()?,
            candidate: r.string()?,
            change: r.string()?,
            candidate_reason: r.string()?,
            baseline_reason: r.string()?,
            file: r.string()?,
            recorded_reason: r.string()?,
        })
    }

    fn cells(&self) -> [&str; 19] {
        [
            &self.event_id,
            &self.event_time,
            &self.event_name,
            &self.account,
            &self.region,
            &self.principal_arn,
            &self.principal_type,
            &self.source_ip,
            &self.target,
            &self.session_id,
            &self.resources,
            &self.error_code,
            &self.baseline,
            &self.candidate,
            &self.change,
            &self.candidate_reason,
            &self.baseline_reason,
            &self.file,
            &self.recorded_reason,
        ]
    }
}

/// Writes rows one at a time as they come, in a report format.
pub enum RowWriter<W: Write> {
    /// RFC 4180 CSV with a header. Cells a spreadsheet would run as a formula are neutralised
    /// with a leading `'`; caller-controlled text can reach any column.
    Csv(Box<csv::Writer<W>>),
    /// One JSON object per line.
    Jsonl(W),
    /// No rows (the summary is written by the caller).
    Nothing(W),
}

impl<W: Write> RowWriter<W> {
    /// A CSV writer; the header is written at once.
    pub fn csv(out: W) -> std::io::Result<RowWriter<W>> {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(out);
        w.write_record(COLUMNS).map_err(io_error)?;
        Ok(RowWriter::Csv(Box::new(w)))
    }

    pub fn write(&mut self, r: &Row) -> std::io::Result<()> {
        match self {
            RowWriter::Csv(w) => {
                let cells = r.cells().map(for_spreadsheet);
                w.write_record(cells.iter().map(|c| c.as_bytes()))
                    .map_err(io_error)
            }
            RowWriter::Jsonl(w) => {
                serde_json::to_writer(&mut *w, r)?;
                w.write_all(b"\n")
            }
            RowWriter::Nothing(_) => Ok(()),
        }
    }

    /// Flushes and returns the writer.
    pub fn into_inner(self) -> std::io::Result<W> {
        match self {
            RowWriter::Csv(w) => w.into_inner().map_err(|e| e.into_error()),
            RowWriter::Jsonl(mut w) | RowWriter::Nothing(mut w) => {
                w.flush()?;
                Ok(w)
            }
        }
    }
}

/// Writes RFC 4180 CSV with a header (see [`RowWriter::Csv`]).
pub fn write_csv<W: Write>(out: W, rows: &[&Row]) -> std::io::Result<()> {
    let mut w = RowWriter::csv(out)?;
    for r in rows {
        w.write(r)?;
    }
    w.into_inner().map(|_| ())
}

/// The I/O error inside a CSV error keeps its kind (a closed pipe must stay `BrokenPipe`).
fn io_error(e: csv::Error) -> std::io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => io,
        other => std::io::Error::other(format!("{other:?}")),
    }
}

/// Writes one JSON object per line.
pub fn write_jsonl<W: Write>(out: W, rows: &[&Row]) -> std::io::Result<()> {
    let mut w = RowWriter::Jsonl(out);
    for r in rows {
        w.write(r)?;
    }
    w.into_inner().map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(principal: &str) -> Row {
        Row {
            event_id: "e1".into(),
            event_time: "2024-01-01T00:00:00Z".into(),
            event_name: "StartSession".into(),
            account: "1".into(),
            region: "r".into(),
            principal_arn: principal.into(),
            principal_type: "IAMUser".into(),
            source_ip: String::new(),
            target: "i-1".into(),
            session_id: String::new(),
            resources: "a;b".into(),
            error_code: String::new(),
            baseline: "allowed".into(),
            candidate: "implicitDeny".into(),
            change: "newly_denied".into(),
            candidate_reason: "x, \"y\"".into(),
            baseline_reason: String::new(),
            file: "f".into(),
            recorded_reason: String::new(),
        }
    }

    #[test]
    fn csv_quotes_and_neutralises() {
        let r = row("=HYPERLINK(\"http://x\")");
        let mut out = Vec::new();
        write_csv(&mut out, &[&r]).expect("write");
        let text = String::from_utf8(out).expect("utf8");
        assert!(text.starts_with("event_id,event_time,"));
        assert!(text.contains("\"'=HYPERLINK(\"\"http://x\"\")\""), "{text}");
        assert!(text.contains("\"x, \"\"y\"\"\""));
    }

    #[test]
    fn jsonl_one_object_per_line() {
        let r = row("arn:aws:iam::1:user/a\u{1b}[2J");
        let mut out = Vec::new();
        write_jsonl(&mut out, &[&r, &r]).expect("write");
        let text = String::from_utf8(out).expect("utf8");
        assert_eq!(text.lines().count(), 2);
        assert!(text.contains("\\u001b"));
    }
}
