//! The decompression floor: read and gunzip every file under the given paths in parallel
//! (rayon, the same threads as `trailreplay replay`), discarding the output.
//! `cargo run --release --example floor -- DIR` streams each file through the streaming decoder
//! (`source::open`: flate2 with zlib-rs), the floor the performance issues are measured against.
//! `cargo run --release --example floor -- --whole DIR` reads each file whole and decompresses it
//! in one call (`source::inflate_whole`: libdeflate), as `trailreplay replay` reads a gzip file of
//! up to 32 MiB. Prints files, bytes and seconds.

use std::io::Read;
use std::time::Instant;

use rayon::prelude::*;
use trailreplay::source::{self, Input};

/// The bytes of one input, streamed.
fn streamed(input: &Input) -> u64 {
    let Ok(mut r) = source::open(input) else {
        return 0;
    };
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k as u64,
        }
    }
    n
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let whole = args.first().is_some_and(|a| a == "--whole");
    if whole {
        args.remove(0);
    }
    let paths: Vec<std::path::PathBuf> = args.into_iter().map(Into::into).collect();
    let t = Instant::now();
    let listing = source::list(&paths);
    let limit = 32 << 20;
    let bytes: u64 = listing
        .inputs
        .par_iter()
        .map_init(
            || (Vec::new(), Vec::new(), libdeflater::Decompressor::new()),
            |(stored, out, d), input| {
                if whole && source::read_whole(input, stored, limit as u64) {
                    if let Some(n) = source::inflate_whole(stored, out, limit, d) {
                        return n as u64;
                    }
                }
                streamed(input)
            },
        )
        .sum();
    println!(
        "{} files, {} bytes decompressed in {:.3} s ({})",
        listing.inputs.len(),
        bytes,
        t.elapsed().as_secs_f64(),
        if whole {
            "whole files, libdeflate"
        } else {
            "streamed, zlib-rs"
        }
    );
}
