//! Subsets: the Session Manager records of an archive, extracted once (`trailreplay extract`)
//! and replayed many times.
//!
//! A subset is a directory: `manifest.json` and `part-NNNNN.jsonl.gz` files. Each line of a part
//! is `{"source":FILE,"index":N,"record":RECORD}`: RECORD is the record's original JSON (line
//! breaks between its tokens become spaces, the only change; CloudTrail's own files are one line
//! already), FILE and N (0-based) locate it in the archive, so reports keep naming the original
//! file and record. The manifest holds what the replay of the original files would count besides
//! the session events (files read, skipped and failed, records by kind, their problems), so the
//! replay of a subset reports exactly what the replay of the archive reports.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::decode::{self, DecodeOptions, Decoded, FileOutcome, FileStats};
use crate::replay::FileProblem;
use crate::report::FilesSummary;
use crate::source::{self, Input, Listing};

/// The `format` of a subset's manifest.
pub const FORMAT: &str = "trailreplay-subset";
/// The manifest's version this build reads and writes.
pub const VERSION: u32 = 1;
/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";

/// What a subset was extracted for: a replay over it must ask for no more.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// `--since` (ISO 8601), if given.
    pub since: Option<String>,
    /// `--until` (ISO 8601), if given.
    pub until: Option<String>,
    /// `--delivery-margin` in hours.
    pub delivery_margin_hours: u32,
    /// `--account` filters (empty: all).
    pub accounts: Vec<String>,
    /// `--region` filters (empty: all).
    pub regions: Vec<String>,
    /// `--verify`: every record was parsed.
    pub verify: bool,
}

/// One part file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Part {
    /// File name inside the subset directory.
    pub name: String,
    /// Records in it.
    pub records: u64,
    /// Its size in bytes (compressed).
    pub bytes: u64,
    /// SHA-256 of its bytes, lower-case hex.
    pub sha256: String,
}

/// Session events of one input file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputCount {
    /// The file, as reports name it.
    pub file: String,
    /// Its Session Manager records.
    pub events: u64,
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// The trailreplay version that wrote it.
    pub trailreplay: String,
    /// The inputs as given.
    pub inputs: Vec<String>,
    /// The window and filters.
    pub scope: Scope,
    /// What happened to the input files.
    pub files: FilesSummary,
    /// Records by kind, over every file read.
    pub records: FileStats,
    /// Problems of the input files (listing errors first, then per file in listing order).
    pub problems: Vec<FileProblem>,
    /// Session Manager records by event name.
    pub events: BTreeMap<String, u64>,
    /// Session Manager records per input file (files without any are left out).
    pub inputs_with_events: Vec<InputCount>,
    /// The part files.
    pub parts: Vec<Part>,
}

/// Why a subset cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum SubsetError {
    /// The output directory exists and holds files.
    #[error("{0}: exists and is not empty (choose another directory, or `--force` to replace a subset there)")]
    NotEmpty(PathBuf),
    /// `--force` on a directory that is not a subset.
    #[error(
        "{0}: not a trailreplay subset (no `manifest.json`); `--force` only replaces a subset"
    )]
    NotASubset(PathBuf),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The manifest does not describe the directory's files.
    #[error("{dir}: refused: {why}; extract the subset again")]
    Mismatch {
        /// The subset directory.
        dir: PathBuf,
        /// What does not match.
        why: String,
    },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> SubsetError + '_ {
    move |source| SubsetError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Does this directory hold a subset?
pub fn is_subset(dir: &Path) -> bool {
    dir.is_dir() && dir.join(MANIFEST).is_file()
}

/// A writer that hashes what it writes and counts it.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The part being written: its name, encoder, records and uncompressed bytes so far.
type OpenPart = (String, GzEncoder<Hashing<BufWriter<File>>>, u64, u64);

/// Writes parts of bounded size, one after the other.
struct PartWriter {
    dir: PathBuf,
    max_bytes: u64,
    current: Option<OpenPart>,
    parts: Vec<Part>,
}

impl PartWriter {
    fn write_line(&mut self, line: &[u8]) -> Result<(), SubsetError> {
        if self.current.is_none() {
            let name = format!("part-{:05}.jsonl.gz", self.parts.len());
            let path = self.dir.join(&name);
            let f = File::create(&path).map_err(io_at(&path))?;
            let w = Hashing {
                inner: BufWriter::new(f),
                hash: Sha256::new(),
                bytes: 0,
            };
            self.current = Some((name, GzEncoder::new(w, flate2::Compression::new(6)), 0, 0));
        }
        if let Some((name, enc, records, written)) = self.current.as_mut() {
            let path = self.dir.join(name.as_str());
            enc.write_all(line).map_err(io_at(&path))?;
            *records += 1;
            *written += line.len() as u64;
            if *written >= self.max_bytes {
                self.close()?;
            }
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), SubsetError> {
        if let Some((name, enc, records, _)) = self.current.take() {
            let path = self.dir.join(&name);
            let mut w = enc.finish().map_err(io_at(&path))?;
            w.flush().map_err(io_at(&path))?;
            self.parts.push(Part {
                name,
                records,
                bytes: w.bytes,
                sha256: hex(&w.hash.finalize()),
            });
        }
        Ok(())
    }
}

/// Options of an extraction.
pub struct ExtractOptions {
    /// The subset directory.
    pub out: PathBuf,
    /// Replace a subset already there.
    pub force: bool,
    /// Decoder options (as the replay's).
    pub decode: DecodeOptions,
    /// Uncompressed bytes per part before the next one starts.
    pub part_bytes: u64,
    /// The window and filters (recorded in the manifest; the listing is already pruned).
    pub scope: Scope,
    /// The inputs as given (recorded in the manifest).
    pub inputs: Vec<String>,
}

/// Prepares the output directory: created, or emptied when it holds a subset and `force`.
fn prepare(out: &Path, force: bool) -> Result<(), SubsetError> {
    match std::fs::read_dir(out) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                if !force {
                    return Err(SubsetError::NotEmpty(out.to_path_buf()));
                }
                if !is_subset(out) {
                    return Err(SubsetError::NotASubset(out.to_path_buf()));
                }
                for e in std::fs::read_dir(out).map_err(io_at(out))?.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if name == MANIFEST
                        || (name.starts_with("part-") && name.ends_with(".jsonl.gz"))
                    {
                        std::fs::remove_file(e.path()).map_err(io_at(&e.path()))?;
                    }
                }
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::create_dir_all(out).map_err(io_at(out))
        }
        Err(e) => Err(io_at(out)(e)),
    }
}

/// One input file's share of an extraction.
struct Extracted {
    outcome: FileOutcome,
    lines: Vec<u8>,
}

fn extract_one(input: &Input, opts: DecodeOptions) -> Extracted {
    let name: Arc<str> = Arc::from(input.display());
    let mut lines = Vec::new();
    let source_json = serde_json::to_string(&*name).unwrap_or_else(|_| "\"\"".to_string());
    let mut keep = |index: u64, bytes: &[u8]| {
        lines.extend_from_slice(b"{\"source\":");
        lines.extend_from_slice(source_json.as_bytes());
        lines.extend_from_slice(b",\"index\":");
        lines.extend_from_slice(index.to_string().as_bytes());
        lines.extend_from_slice(b",\"record\":");
        // Invalid UTF-8 is read with replacement characters by the decoder: write what it read.
        let text = String::from_utf8_lossy(bytes);
        // Line breaks can only be whitespace between tokens in valid JSON (inside strings
        // they are escaped): a space keeps the value.
        lines.extend(
            text.as_bytes()
                .iter()
                .map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b }),
        );
        lines.extend_from_slice(b"}\n");
    };
    let outcome = decode::decode_input_keeping(input, opts, &mut keep);
    Extracted { outcome, lines }
}

/// Extracts the Session Manager records of the listed files into a subset. `progress` is
/// called after each file with its index in the listing. Files are decoded in parallel, a few
/// at a time, and written in listing order: the subset's bytes do not depend on thread timing.
pub fn extract(
    listing: &Listing,
    opts: &ExtractOptions,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Manifest, SubsetError> {
    use rayon::prelude::*;
    prepare(&opts.out, opts.force)?;
    let mut files = crate::replay::listed_files(listing);
    let mut problems = crate::replay::listing_problems(listing);
    let mut records = FileStats::default();
    let mut events: BTreeMap<String, u64> = BTreeMap::new();
    let mut inputs_with_events = Vec::new();
    let mut writer = PartWriter {
        dir: opts.out.clone(),
        max_bytes: opts.part_bytes.max(1),
        current: None,
        parts: Vec::new(),
    };
    let batch = 4 * rayon::current_num_threads().max(1);
    for (chunk_index, chunk) in listing.inputs.chunks(batch).enumerate() {
        let done: Vec<Extracted> = chunk
            .par_iter()
            .enumerate()
            .map(|(i, input)| {
                let e = extract_one(input, opts.decode);
                progress(chunk_index * batch + i);
                e
            })
            .collect();
        for (input, e) in chunk.iter().zip(done) {
            let o = e.outcome;
            let name = input.display();
            crate::replay::count_file(
                &mut files,
                &mut records,
                &mut problems,
                input,
                o.stats,
                o.record_errors,
                o.fatal,
            );
            if !o.events.is_empty() {
                for ev in &o.events {
                    *events.entry(ev.action.name().to_string()).or_default() += 1;
                }
                inputs_with_events.push(InputCount {
                    file: name,
                    events: o.events.len() as u64,
                });
            }
            for line in e.lines.split_inclusive(|&b| b == b'\n') {
                writer.write_line(line)?;
            }
        }
    }
    writer.close()?;
    let manifest = Manifest {
        format: FORMAT.to_string(),
        version: VERSION,
        trailreplay: env!("CARGO_PKG_VERSION").to_string(),
        inputs: opts.inputs.clone(),
        scope: opts.scope.clone(),
        files,
        records,
        problems,
        events,
        inputs_with_events,
        parts: writer.parts,
    };
    let path = opts.out.join(MANIFEST);
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| io_at(&path)(e.into()))?;
    std::fs::write(&path, text + "\n").map_err(io_at(&path))?;
    Ok(manifest)
}

/// Reads a subset's manifest and checks that its files are exactly the parts it lists, with
/// their sizes and checksums.
pub fn open(dir: &Path) -> Result<Manifest, SubsetError> {
    let mismatch = |why: String| SubsetError::Mismatch {
        dir: dir.to_path_buf(),
        why,
    };
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(io_at(&path))?;
    let m: Manifest = serde_json::from_str(&text)
        .map_err(|e| mismatch(format!("`{MANIFEST}` is not a subset manifest: {e}")))?;
    if m.format != FORMAT || m.version != VERSION {
        return Err(mismatch(format!(
            "`{MANIFEST}` is format `{}` version {}; this trailreplay reads `{FORMAT}` version {VERSION}",
            m.format, m.version
        )));
    }
    let mut listed: HashMap<&str, &Part> = HashMap::new();
    for p in &m.parts {
        if p.name.contains(['/', '\\']) || !p.name.starts_with("part-") {
            return Err(mismatch(format!(
                "part name `{}` is not a part file",
                p.name
            )));
        }
        listed.insert(&p.name, p);
    }
    for e in std::fs::read_dir(dir).map_err(io_at(dir))?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("part-") && !listed.contains_key(name.as_str()) {
            return Err(mismatch(format!("`{name}` is not in the manifest")));
        }
    }
    for p in &m.parts {
        let path = dir.join(&p.name);
        let mut f = File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => mismatch(format!("`{}` is missing", p.name)),
            _ => io_at(&path)(e),
        })?;
        let mut hash = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut bytes = 0u64;
        loop {
            let n = f.read(&mut buf).map_err(io_at(&path))?;
            if n == 0 {
                break;
            }
            hash.update(&buf[..n]);
            bytes += n as u64;
        }
        if bytes != p.bytes || hex(&hash.finalize()) != p.sha256 {
            return Err(mismatch(format!(
                "`{}` does not match its checksum in the manifest ({bytes} bytes, manifest says {})",
                p.name, p.bytes
            )));
        }
    }
    Ok(m)
}

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    source: std::borrow::Cow<'a, str>,
    index: u64,
    #[serde(borrow)]
    record: &'a RawValue,
}

/// Decodes one part: its Session Manager events, each located in its original file. The part's
/// own bytes and lines are not counted in the stats (the manifest holds the original files').
pub fn decode_part(path: &Path, opts: DecodeOptions) -> FileOutcome {
    let mut out = FileOutcome::default();
    let reader = match source::open(&Input::File(path.to_path_buf())) {
        Ok(r) => r,
        Err(e) => {
            out.fatal = Some(format!("cannot open: {e}"));
            return out;
        }
    };
    let mut reader = BufReader::new(reader);
    let mut names: HashMap<String, Arc<str>> = HashMap::new();
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                out.fatal = Some(format!("line {}: {e}", number + 1));
                break;
            }
        }
        number += 1;
        if line.len() > opts.max_record.saturating_add(4096) {
            out.record_errors
                .push(format!("line {number}: longer than a record can be"));
            continue;
        }
        let parsed: Result<Line<'_>, _> = serde_json::from_slice(&line);
        let l = match parsed {
            Ok(l) => l,
            Err(e) => {
                out.record_errors
                    .push(format!("line {number}: not a subset line: {e}"));
                continue;
            }
        };
        let file = match names.get(l.source.as_ref()) {
            Some(a) => a.clone(),
            None => {
                let a: Arc<str> = Arc::from(l.source.as_ref());
                names.insert(l.source.to_string(), a.clone());
                a
            }
        };
        let decoded = decode::record::parse(l.record.get().as_bytes())
            .and_then(|r| decode::event::classify(&r, &file, l.index));
        match decoded {
            Ok(Decoded::Session(ev)) => out.events.push(*ev),
            Ok(Decoded::Tagging { .. }) => {
                // Tag changes kept for tags in time.
                if opts.tags {
                    if let Ok(v) = serde_json::from_str::<serde_json::Value>(l.record.get()) {
                        out.tag_records
                            .extend(decode::tagging::tag_records(&v, &file, l.index));
                    }
                }
            }
            Ok(_) => out.record_errors.push(format!(
                "line {number}: not a Session Manager record ({} #{})",
                file,
                l.index + 1
            )),
            Err(e) => out
                .record_errors
                .push(format!("line {number}: invalid record: {e}")),
        }
    }
    out
}

/// Adds an opened subset's parts to a listing.
pub fn add_to_listing(listing: &mut Listing, dir: &Path, manifest: Manifest) {
    for p in &manifest.parts {
        let path = dir.join(&p.name);
        listing.inputs.push(Input::SubsetPart(path));
        listing.sizes.push(p.bytes);
    }
    listing.subsets.push(manifest);
}
