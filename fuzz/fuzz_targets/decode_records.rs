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
    // On valid JSON (one or more values) the two splitters must split alike. On invalid JSON
    // they may differ (the reference takes `"Events"@[` as a key and its array, the fast one
    // wants the colon); what they yield is validated by the parser anyway, and must not panic.
    // Top-level scalars are valid JSON but no log shape: both splitters refuse them.
    let valid = serde_json::Deserializer::from_slice(data)
        .into_iter::<serde_json::Value>()
        .all(|v| v.is_ok_and(|v| v.is_object() || v.is_array()));
    if valid {
        assert!(a.is_ok() && b.is_ok(), "valid JSON must split: {:?} {:?}", a.err().map(|e| e.1.to_string()), b.err().map(|e| e.1.to_string()));
        assert_eq!(fast, slow);
    }
    let name: Arc<str> = Arc::from("fuzz");
    let out = decode::decode_stream(data, &name, DecodeOptions { verify: true, max_record: limit, ..Default::default() });
    assert_eq!(out.stats.verify_misses, 0, "the pre-filter missed a session event");
});
