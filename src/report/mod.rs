//! Findings → CSV (for change reviews), JSON lines (for machines) and a summary (for people).

pub mod markdown;
pub(crate) mod row;
pub mod sarif;
pub(crate) mod summary;

use std::io::Write;

use crate::sanitize::for_spreadsheet;

pub use row::{Own, Row, Rows, COLUMNS};
pub use summary::{
    render_comparison, Comparison, Disagreements, Fidelity, FilesSummary, NamedSummary,
    PrincipalCounts, Summary, TargetCount,
};

/// Writes rows one at a time as they come, in a report format.
pub enum RowWriter<W: Write> {
    /// RFC 4180 CSV with a header. Cells a spreadsheet would run as a formula are neutralised
    /// with a leading `'`; caller-controlled text can reach any column.
    Csv(Box<csv::Writer<W>>),
    /// One JSON object per line.
    Jsonl(W),
    /// No rows (the summary is written by the caller).
    Nothing(W),
    /// Rows collected for a Markdown comment, rendered with the summary by the caller
    /// ([`RowWriter::markdown`]).
    Markdown(W, Box<markdown::Markdown>),
    /// Rows collected for a SARIF log, rendered by the caller ([`RowWriter::sarif`]).
    Sarif(W, Box<sarif::Sarif>),
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

    /// Writes one row.
    pub fn write(&mut self, r: &Row) -> std::io::Result<()> {
        match self {
            RowWriter::Csv(w) => {
                for c in r.cells() {
                    w.write_field(for_spreadsheet(&c).as_bytes())
                        .map_err(io_error)?;
                }
                w.write_record(None::<&[u8]>).map_err(io_error)
            }
            RowWriter::Jsonl(w) => {
                serde_json::to_writer(&mut *w, r)?;
                w.write_all(b"\n")
            }
            RowWriter::Nothing(_) => Ok(()),
            RowWriter::Markdown(_, m) => {
                m.add(r);
                Ok(())
            }
            RowWriter::Sarif(_, s) => {
                s.add(r);
                Ok(())
            }
        }
    }

    /// The SARIF collector, for a writer of that format.
    pub fn sarif(&self) -> Option<&sarif::Sarif> {
        match self {
            RowWriter::Sarif(_, s) => Some(s),
            _ => None,
        }
    }

    /// The Markdown collector, for a writer of that format.
    pub fn markdown(&self) -> Option<&markdown::Markdown> {
        match self {
            RowWriter::Markdown(_, m) => Some(m),
            _ => None,
        }
    }

    /// Flushes and returns the writer.
    pub fn into_inner(self) -> std::io::Result<W> {
        match self {
            RowWriter::Csv(w) => w.into_inner().map_err(|e| e.into_error()),
            RowWriter::Jsonl(mut w)
            | RowWriter::Nothing(mut w)
            | RowWriter::Markdown(mut w, _)
            | RowWriter::Sarif(mut w, _) => {
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
            baseline: Some(crate::compare::Verdict::Recorded { denied: false }),
            candidate: Some(crate::compare::Verdict::Evaluated(
                crate::eval::Decision::ImplicitDeny,
            )),
            change: crate::compare::Change::NewlyDenied,
            candidate_reason: "x, \"y\"".into(),
            baseline_reason: String::new(),
            file: "f".into(),
            recorded_reason: String::new(),
            explanation: None,
            accepted: String::new(),
            tags: Vec::new(),
            skip: None,
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
