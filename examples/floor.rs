//! The decompression floor: read and gunzip every file under the given paths in parallel
//! (rayon, the same threads and reader as `trailreplay replay`), discarding the output.
//! `cargo run --release --example floor -- DIR` prints files, bytes and seconds.

use std::io::Read;
use std::time::Instant;

use rayon::prelude::*;

fn main() {
    let paths: Vec<std::path::PathBuf> = std::env::args_os().skip(1).map(Into::into).collect();
    let t = Instant::now();
    let listing = trailreplay::source::list(&paths);
    let bytes: u64 = listing
        .inputs
        .par_iter()
        .map(|input| {
            let mut r = match trailreplay::source::open(input) {
                Ok(r) => r,
                Err(_) => return 0,
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
        })
        .sum();
    println!(
        "{} files, {} bytes decompressed in {:.3} s",
        listing.inputs.len(),
        bytes,
        t.elapsed().as_secs_f64()
    );
}
