//! The record decoder on arbitrary bytes: the SIMD splitter must agree with the reference
//! splitter, and decoding (splitting, pre-filter, typed parse, event extraction) must not panic.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use trailreplay::decode::{self, scan, scan_reference, DecodeOptions};

fuzz_target!(|data: &[u8]| {
    let limit = 1 + data.first().copied().unwrap_or(0) as usize * 16;
    let mut fast = Vec::new();
    let mut slow = Vec::new();
    let a = scan::scan(data, limit, |k, i, b| fast.push((k, i, b.to_vec())));
    let b = scan_reference::scan(data, limit, |k, i, b| slow.push((k, i, b.to_vec())));
    // The reference accepts a few shapes the fast splitter reports as not JSON (a string at
    // the top level); where both read the input, they must split it the same way.
    if a.is_ok() && b.is_ok() {
        assert_eq!(fast, slow);
    }
    let name: Arc<str> = Arc::from("fuzz");
    let out = decode::decode_stream(data, &name, DecodeOptions { verify: true, max_record: limit });
    assert_eq!(out.stats.verify_misses, 0, "the pre-filter missed a session event");
});
