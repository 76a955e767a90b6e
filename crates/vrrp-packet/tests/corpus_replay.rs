//! Replays every file of the fuzz corpora (`fuzz/corpus/{decode,inspect_frame,roundtrip}`:
//! the keepalived seeds and every crash turned regression input) through the same functions
//! the fuzz targets call, so `cargo test` covers them without cargo-fuzz.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use std::path::{Path, PathBuf};

use vrrp_packet::fuzzing;

type Target = fn(&[u8]) -> Result<(), &'static str>;

const TARGETS: [(&str, Target); 3] = [
    ("decode", fuzzing::decode),
    ("inspect_frame", fuzzing::inspect_frame),
    ("roundtrip", fuzzing::roundtrip),
];

fn corpus_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus")
}

fn replay(target: &str, run: Target) -> usize {
    let dir = corpus_root().join(target);
    let mut n = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    for path in entries {
        let data = std::fs::read(&path).unwrap();
        if let Err(why) = run(&data) {
            panic!("{target}: {}: {why}", path.display());
        }
        n += 1;
    }
    n
}

#[test]
fn decode_corpus() {
    assert!(
        replay(TARGETS[0].0, TARGETS[0].1) >= 5,
        "seed corpus missing"
    );
}

#[test]
fn inspect_frame_corpus() {
    assert!(
        replay(TARGETS[1].0, TARGETS[1].1) >= 15,
        "seed corpus missing"
    );
}

#[test]
fn roundtrip_corpus() {
    assert!(
        replay(TARGETS[2].0, TARGETS[2].1) >= 5,
        "seed corpus missing"
    );
}

#[test]
fn every_corpus_directory_is_replayed() {
    // A corpus directory of a packet target that this file does not know would go unreplayed.
    for entry in std::fs::read_dir(corpus_root()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let packet_target = TARGETS.iter().any(|(t, _)| *t == name);
        let owned_elsewhere = !["decode", "inspect", "roundtrip", "packet", "frame"]
            .iter()
            .any(|k| name.contains(k));
        assert!(
            packet_target || owned_elsewhere,
            "fuzz/corpus/{name} looks like a packet target but is not replayed here"
        );
    }
}
