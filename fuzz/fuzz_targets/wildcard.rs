//! The wildcard matcher against a simple recursive reference: the same answer, always.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailreplay::policy::pattern::{Pattern, Syntax};

/// Reference: the textbook dynamic programme, `m[i][j]` = pattern[i..] matches text[j..].
fn reference(p: &[char], t: &[char]) -> bool {
    let mut m = vec![vec![false; t.len() + 1]; p.len() + 1];
    m[p.len()][t.len()] = true;
    for i in (0..p.len()).rev() {
        for j in (0..=t.len()).rev() {
            m[i][j] = match p[i] {
                '*' => m[i + 1][j] || (j < t.len() && m[i][j + 1]),
                '?' => j < t.len() && m[i + 1][j + 1],
                c => j < t.len() && t[j] == c && m[i + 1][j + 1],
            };
        }
    }
    m[0][0]
}

fuzz_target!(|data: (String, String)| {
    let (p, t) = data;
    if p.len() > 256 || t.len() > 1024 {
        return;
    }
    let syntax = Syntax { wildcards: true, variables: false, ignore_case: false };
    let Ok(pat) = Pattern::parse(&p, syntax) else { return };
    let pc: Vec<char> = p.chars().collect();
    let tc: Vec<char> = t.chars().collect();
    assert_eq!(pat.matches(&t), reference(&pc, &tc), "pattern {p:?} text {t:?}");
});
