//! The wildcard matcher against a simple recursive reference: the same answer, always.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailreplay::policy::pattern::{Pattern, Syntax};

fn reference(p: &[char], t: &[char]) -> bool {
    match p.first() {
        None => t.is_empty(),
        Some('*') => (0..=t.len()).any(|i| reference(&p[1..], &t[i..])),
        Some('?') => !t.is_empty() && reference(&p[1..], &t[1..]),
        Some(c) => t.first() == Some(c) && reference(&p[1..], &t[1..]),
    }
}

fuzz_target!(|data: (String, String)| {
    let (p, t) = data;
    if p.len() > 24 || t.len() > 48 {
        return; // keep the exponential reference affordable
    }
    let syntax = Syntax { wildcards: true, variables: false, ignore_case: false };
    let Ok(pat) = Pattern::parse(&p, syntax) else { return };
    let pc: Vec<char> = p.chars().collect();
    let tc: Vec<char> = t.chars().collect();
    assert_eq!(pat.matches(&t), reference(&pc, &tc), "pattern {p:?} text {t:?}");
});
