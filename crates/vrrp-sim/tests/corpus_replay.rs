//! Replays every file of the `engine_sequence` fuzz corpus (`fuzz/corpus/engine_sequence`:
//! what libFuzzer found, minimised, and every crash turned regression input) through the same
//! function the fuzz target calls, so `cargo test` covers it without cargo-fuzz.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use std::path::{Path, PathBuf};

#[test]
fn engine_sequence_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/engine_sequence");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    assert!(paths.len() >= 3, "only {} corpus files", paths.len());
    for path in &paths {
        let data = std::fs::read(path).unwrap();
        if let Err(why) = vrrp_sim::fuzzing::engine_sequence(&data) {
            panic!("{}: {why}", path.display());
        }
    }
}
