//! Finding and opening log files: directories walked recursively (walkdir), CloudTrail digest
//! and Insight files skipped by their S3 path, gzip recognised by its magic bytes (`1f 8b`) and
//! read to the end of every concatenated member (`MultiGzDecoder`).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;

/// A file to read, or stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    File(PathBuf),
    Stdin,
}

impl Input {
    pub fn display(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Stdin => "<stdin>".to_string(),
        }
    }
}

/// Why a file was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    Digest,
    Insight,
    NotALogName,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Digest => "CloudTrail digest file",
            SkipReason::Insight => "CloudTrail Insight file",
            SkipReason::NotALogName => "not a .json/.jsonl/.gz file",
        }
    }
}

/// What walking the inputs found.
#[derive(Debug, Default)]
pub struct Listing {
    pub inputs: Vec<Input>,
    pub skipped: Vec<(PathBuf, SkipReason)>,
    /// Paths that could not be listed (missing, unreadable directory, symlink loop).
    pub errors: Vec<String>,
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
    if known.iter().any(|e| name.ends_with(e)) {
        None
    } else {
        Some(SkipReason::NotALogName)
    }
}

/// Expands paths: files as given (digests still skipped), directories walked in sorted order.
pub fn list(paths: &[PathBuf]) -> Listing {
    let mut out = Listing::default();
    for p in paths {
        if p.as_os_str() == "-" {
            out.inputs.push(Input::Stdin);
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
        let walker = walkdir::WalkDir::new(p)
            .follow_links(true)
            .sort_by_file_name();
        for entry in walker {
            match entry {
                Ok(e) if e.file_type().is_file() => match skip_reason(e.path(), false) {
                    Some(r) => out.skipped.push((e.path().to_path_buf(), r)),
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
    }
    out
}

/// Opens an input, decompressing gzip when the first two bytes say so.
pub fn open(input: &Input) -> io::Result<Box<dyn Read + Send>> {
    let raw: Box<dyn Read + Send> = match input {
        Input::File(p) => Box::new(File::open(p)?),
        Input::Stdin => Box::new(io::stdin()),
    };
    let mut buffered = BufReader::with_capacity(64 * 1024, raw);
    let head = buffered.fill_buf()?;
    if head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        Ok(Box::new(MultiGzDecoder::new(buffered)))
    } else {
        Ok(Box::new(buffered))
    }
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
            Some(SkipReason::NotALogName)
        );
        assert_eq!(skip_reason(Path::new("a/README.md"), true), None);
        assert_eq!(skip_reason(Path::new("a/x.json.gz"), false), None);
    }
}
