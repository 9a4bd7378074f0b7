//! Memory that stays flat: items kept in memory up to a budget, then written to temporary files.
//!
//! [`SortedSpill`] is an external sort: items are buffered, and each time the buffer's estimated
//! size passes the budget it is sorted and written as a *run*; [`SortedSpill::finish`] merges
//! the runs and the last buffer (k-way, a binary heap of one item per run) into one ordered
//! stream. Runs hold length-prefixed items ([`Codec`]: hand-written for the frequent ones,
//! [`Json`] for the rest) in one temporary directory that is removed when they are dropped, on success and on
//! failure; [`temp_paths`] lists the live ones so that a Ctrl-C handler can remove them too.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// An item's approximate memory footprint, for the budget.
pub trait Footprint {
    fn footprint(&self) -> usize;
}

/// How an item is written to a temporary file and read back.
pub trait Codec: Sized {
    fn encode(&self, out: &mut Vec<u8>);
    fn decode(bytes: &[u8]) -> io::Result<Self>;
}

/// Items as JSON (serde): for types spilled rarely.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: Serialize> Json<&T> {
    /// Writes the value as JSON (for a codec that embeds it).
    pub fn encode(&self, out: &mut Vec<u8>) {
        // Serialising owned data to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, self.0);
    }
}

impl<T: Serialize + DeserializeOwned> Codec for Json<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        // Serialising owned data to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &self.0);
    }
    fn decode(bytes: &[u8]) -> io::Result<Self> {
        serde_json::from_slice(bytes)
            .map(Json)
            .map_err(io::Error::other)
    }
}

impl<T: Footprint> Footprint for Json<T> {
    fn footprint(&self) -> usize {
        self.0.footprint()
    }
}

/// Helpers for hand-written codecs: little-endian integers and length-prefixed strings.
pub mod wire {
    use std::io;

    pub fn u64(out: &mut Vec<u8>, v: u64) {
        out.extend_from_slice(&v.to_le_bytes());
    }

    pub fn str(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }

    /// Reads back what [`u64()`] and [`str()`] wrote.
    pub struct Reader<'a> {
        pub bytes: &'a [u8],
    }

    fn short() -> io::Error {
        invalid("truncated item")
    }

    /// A temporary file's bytes that do not decode (`what` names the field).
    pub fn invalid(what: &str) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("temporary file: {what}"),
        )
    }

    impl<'a> Reader<'a> {
        pub fn u8(&mut self) -> io::Result<u8> {
            let (&b, rest) = self.bytes.split_first().ok_or_else(short)?;
            self.bytes = rest;
            Ok(b)
        }
        pub fn u64(&mut self) -> io::Result<u64> {
            let (head, rest) = self.bytes.split_at_checked(8).ok_or_else(short)?;
            self.bytes = rest;
            let mut b = [0u8; 8];
            b.copy_from_slice(head);
            Ok(u64::from_le_bytes(b))
        }
        pub fn str(&mut self) -> io::Result<&'a str> {
            let (head, rest) = self.bytes.split_at_checked(4).ok_or_else(short)?;
            let mut b = [0u8; 4];
            b.copy_from_slice(head);
            let n = u32::from_le_bytes(b) as usize;
            let (s, rest) = rest.split_at_checked(n).ok_or_else(short)?;
            self.bytes = rest;
            std::str::from_utf8(s).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
        }
        pub fn string(&mut self) -> io::Result<String> {
            self.str().map(str::to_string)
        }
    }
}

/// A problem with the temporary files: names the directory.
#[derive(Debug, thiserror::Error)]
#[error("temporary files in {}: {source} (free space there, or choose another directory with --temp-dir)", dir.display())]
pub struct SpillError {
    pub dir: PathBuf,
    #[source]
    pub source: io::Error,
}

static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The temporary directories in use now (for a signal handler to remove).
pub fn temp_paths() -> Vec<PathBuf> {
    LIVE.lock().map(|v| v.clone()).unwrap_or_default()
}

/// A temporary directory, created on first use, removed when the last user drops it.
#[derive(Clone)]
pub struct TempArea {
    parent: PathBuf,
    dir: Arc<Mutex<Option<Arc<Dir>>>>,
}

struct Dir {
    dir: tempfile::TempDir,
}

impl Drop for Dir {
    fn drop(&mut self) {
        if let Ok(mut v) = LIVE.lock() {
            v.retain(|p| p != self.dir.path());
        }
    }
}

impl TempArea {
    /// Temporary files go in a new directory under `parent`.
    pub fn new(parent: PathBuf) -> TempArea {
        TempArea {
            parent,
            dir: Arc::new(Mutex::new(None)),
        }
    }

    fn err(&self, source: io::Error) -> SpillError {
        SpillError {
            dir: self.parent.clone(),
            source,
        }
    }

    /// A new file in the directory.
    fn file(&self, stem: &str) -> Result<(PathBuf, File), SpillError> {
        let dir = {
            let mut guard = self
                .dir
                .lock()
                .map_err(|_| self.err(io::Error::other("lock poisoned")))?;
            match &*guard {
                Some(d) => d.clone(),
                None => {
                    let d = tempfile::Builder::new()
                        .prefix("trailreplay-")
                        .tempdir_in(&self.parent)
                        .map_err(|e| self.err(e))?;
                    if let Ok(mut v) = LIVE.lock() {
                        v.push(d.path().to_path_buf());
                    }
                    let d = Arc::new(Dir { dir: d });
                    *guard = Some(d.clone());
                    d
                }
            }
        };
        let file = tempfile::Builder::new()
            .prefix(stem)
            .tempfile_in(dir.dir.path())
            .map_err(|e| self.err(e))?;
        let (f, path) = file.keep().map_err(|e| self.err(e.error))?;
        Ok((path, f))
    }

    fn path(&self) -> PathBuf {
        self.parent.clone()
    }
}

fn write_items<T: Codec>(items: &[T], file: File) -> io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 16, file);
    let mut buf = Vec::with_capacity(1024);
    for it in items {
        buf.clear();
        it.encode(&mut buf);
        w.write_all(&(buf.len() as u32).to_le_bytes())?;
        w.write_all(&buf)?;
    }
    w.flush()
}

/// Reads back one item at a time.
struct Frames<T> {
    reader: BufReader<File>,
    buf: Vec<u8>,
    _t: std::marker::PhantomData<T>,
}

impl<T: Codec> Frames<T> {
    fn open(path: &Path) -> io::Result<Frames<T>> {
        Ok(Frames {
            reader: BufReader::with_capacity(1 << 16, File::open(path)?),
            buf: Vec::new(),
            _t: std::marker::PhantomData,
        })
    }

    fn next_item(&mut self) -> io::Result<Option<T>> {
        let mut len = [0u8; 4];
        match self.reader.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        self.buf.resize(u32::from_le_bytes(len) as usize, 0);
        self.reader.read_exact(&mut self.buf)?;
        T::decode(&self.buf).map(Some)
    }
}

/// An external sort with a memory budget.
pub struct SortedSpill<T> {
    area: TempArea,
    budget: usize,
    buffer: Vec<T>,
    bytes: usize,
    runs: Vec<PathBuf>,
    /// The run being sorted and written in the background (at most one at a time, so memory
    /// stays within twice the budget while the caller goes on filling the next buffer).
    writing: Option<std::thread::JoinHandle<Result<PathBuf, SpillError>>>,
}

impl<T> SortedSpill<T>
where
    T: Ord + Codec + Footprint + Send + 'static,
{
    pub fn new(area: TempArea, budget: usize) -> SortedSpill<T> {
        SortedSpill {
            area,
            budget,
            buffer: Vec::new(),
            bytes: 0,
            runs: Vec::new(),
            writing: None,
        }
    }

    /// Waits for the run being written, if any.
    fn join_writer(&mut self) -> Result<(), SpillError> {
        if let Some(h) = self.writing.take() {
            let path = h
                .join()
                .map_err(|_| self.area.err(io::Error::other("the writer thread failed")))??;
            self.runs.push(path);
        }
        Ok(())
    }

    /// Adds an item; writes a sorted run when the buffer passes the budget.
    pub fn push(&mut self, item: T) -> Result<(), SpillError> {
        self.bytes += item.footprint();
        self.buffer.push(item);
        if self.bytes > self.budget {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> Result<(), SpillError> {
        self.join_writer()?;
        let mut buffer = std::mem::take(&mut self.buffer);
        self.bytes = 0;
        let (path, file) = self.area.file("run-")?;
        let area = self.area.clone();
        // Sorted and written on a thread of its own (not the worker pool's: in a replay its
        // threads may be blocked handing results to the caller).
        self.writing = Some(std::thread::spawn(move || {
            buffer.sort_unstable();
            write_items(&buffer, file).map_err(|e| area.err(e))?;
            Ok(path)
        }));
        Ok(())
    }

    /// The part of the budget its buffer does not use now.
    pub fn unused(&self) -> usize {
        self.budget.saturating_sub(self.bytes)
    }

    /// Gives the buffer more of the memory budget (memory another buffer will not use).
    pub fn grow_budget(&mut self, extra: usize) {
        self.budget += extra;
    }

    /// Takes the items still in memory (not those in temporary files), for the caller to free.
    pub fn take_buffer(&mut self) -> Vec<T> {
        self.bytes = 0;
        std::mem::take(&mut self.buffer)
    }

    /// How many runs went (or are going) to disk.
    #[cfg(test)]
    pub fn runs(&self) -> usize {
        self.runs.len() + usize::from(self.writing.is_some())
    }

    /// Every item, in order.
    pub fn finish(mut self) -> Result<Merged<T>, SpillError> {
        use rayon::slice::ParallelSliceMut;
        self.join_writer()?;
        // Called once the producers are done: the pool is free.
        self.buffer.par_sort_unstable();
        let mut sources: Vec<Source<T>> = Vec::with_capacity(self.runs.len() + 1);
        for p in &self.runs {
            sources.push(Source::File(Frames::open(p).map_err(|e| self.area.err(e))?));
        }
        sources.push(Source::Memory(std::mem::take(&mut self.buffer).into_iter()));
        let mut merged = Merged {
            sources,
            heap: BinaryHeap::new(),
            area: self.area.clone(),
        };
        for i in 0..merged.sources.len() {
            merged.refill(i)?;
        }
        Ok(merged)
    }
}

enum Source<T> {
    Memory(std::vec::IntoIter<T>),
    File(Frames<T>),
}

/// The merged, ordered stream of a [`SortedSpill`].
pub struct Merged<T> {
    sources: Vec<Source<T>>,
    heap: BinaryHeap<Reverse<(T, usize)>>,
    area: TempArea,
}

impl<T: Ord + Codec> Merged<T> {
    fn refill(&mut self, i: usize) -> Result<(), SpillError> {
        let next = match &mut self.sources[i] {
            Source::Memory(it) => it.next(),
            Source::File(lines) => lines.next_item().map_err(|e| SpillError {
                dir: self.area.path(),
                source: e,
            })?,
        };
        if let Some(t) = next {
            self.heap.push(Reverse((t, i)));
        }
        Ok(())
    }

    /// An item read back whose contents do not decode, as an error naming the directory.
    pub fn invalid(&self, e: io::Error) -> SpillError {
        self.area.err(e)
    }

    /// The next item in order.
    pub fn next_item(&mut self) -> Result<Option<T>, SpillError> {
        let Some(Reverse((t, i))) = self.heap.pop() else {
            return Ok(None);
        };
        self.refill(i)?;
        Ok(Some(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Footprint for u64 {
        fn footprint(&self) -> usize {
            8
        }
    }

    impl Codec for u64 {
        fn encode(&self, out: &mut Vec<u8>) {
            wire::u64(out, *self);
        }
        fn decode(bytes: &[u8]) -> io::Result<Self> {
            wire::Reader { bytes }.u64()
        }
    }

    #[test]
    fn sorted_spill_merges_runs_in_order_and_cleans_up() {
        let parent = tempfile::tempdir().expect("tmp");
        let area = TempArea::new(parent.path().to_path_buf());
        let mut s: SortedSpill<u64> = SortedSpill::new(area.clone(), 64);
        let input: Vec<u64> = (0..1000u64).map(|i| (i * 7919) % 1009).collect();
        for &x in &input {
            s.push(x).expect("push");
        }
        assert!(s.runs() > 10, "spilled {} runs", s.runs());
        assert!(!temp_paths().is_empty());
        let mut merged = s.finish().expect("finish");
        let mut out = Vec::new();
        while let Some(x) = merged.next_item().expect("next") {
            out.push(x);
        }
        let mut want = input.clone();
        want.sort_unstable();
        assert_eq!(out, want);
        drop(merged);
        drop(area);
        assert_eq!(
            std::fs::read_dir(parent.path()).expect("dir").count(),
            0,
            "temporary directory removed"
        );
    }
}
