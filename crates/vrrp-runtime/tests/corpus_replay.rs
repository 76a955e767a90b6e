//! Replays every file of the `control_request` fuzz corpus (`fuzz/corpus/control_request`:
//! seeds, what libFuzzer found, and every crash turned regression input) through the same
//! function the fuzz target calls, so `cargo test` covers it without cargo-fuzz.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use std::path::{Path, PathBuf};

use vrrp_runtime::control::{ControlRequest, fuzz_check, parse_request};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/control_request")
}

#[test]
fn control_request_corpus() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    assert!(paths.len() >= 5, "only {} corpus files", paths.len());
    for path in &paths {
        let data = std::fs::read(path).unwrap();
        if let Err(why) = fuzz_check(&data) {
            panic!("{}: {why}", path.display());
        }
    }
    // The seeds still mean what their names say.
    let seed = |name: &str| parse_request(&std::fs::read(corpus().join(name)).unwrap());
    assert_eq!(seed("status"), Ok(ControlRequest::Status));
    assert_eq!(seed("reload"), Ok(ControlRequest::Reload));
    assert!(seed("unknown").is_err());
}
