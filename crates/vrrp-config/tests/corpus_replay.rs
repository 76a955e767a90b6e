//! Replays every file of the config fuzz corpora (`fuzz/corpus/config_parse` and
//! `fuzz/corpus/keepalived_import`: seeds from real configs, what libFuzzer found, and every
//! crash turned regression input) through the same functions the fuzz targets call, so
//! `cargo test` covers them without cargo-fuzz.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use std::path::{Path, PathBuf};

use vrrp_config::fuzzing;

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

/// Runs `check` on every file of the corpus of `target`; returns how many there were.
fn replay(target: &str, check: fn(&[u8]) -> Result<(), String>) -> usize {
    let dir = corpus(target);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    for path in &paths {
        let data = std::fs::read(path).unwrap();
        if let Err(why) = check(&data) {
            panic!("{target}: {}: {why}", path.display());
        }
    }
    paths.len()
}

#[test]
fn config_parse_corpus() {
    let n = replay("config_parse", fuzzing::config_parse);
    assert!(n >= 5, "config_parse: only {n} corpus files");
}

#[test]
fn keepalived_import_corpus() {
    let n = replay("keepalived_import", fuzzing::keepalived_import);
    assert!(n >= 3, "keepalived_import: only {n} corpus files");
}

#[test]
fn the_seeds_are_accepted_configs() {
    // The seeds are real configs: if they stopped parsing, the fuzzer would start from
    // nothing useful. Each named seed must still be accepted.
    for seed in [
        "example-nginx-ha-master.toml",
        "example-nginx-ha-backup.toml",
    ] {
        let text = std::fs::read_to_string(corpus("config_parse").join(seed)).unwrap();
        vrrp_config::LoadedConfig::parse(seed, &text).unwrap_or_else(|e| panic!("{seed}: {e}"));
    }
    for seed in ["article-nginx-master.conf", "article-nginx-backup.conf"] {
        let data = std::fs::read(corpus("keepalived_import").join(seed)).unwrap();
        let (main, loader) = fuzzing::keepalived_files(&data);
        vrrp_config::keepalived::import("keepalived.conf", &main, &loader)
            .unwrap_or_else(|e| panic!("{seed}: {e}"));
    }
}

#[test]
fn deep_nesting_never_overflows_the_stack() {
    // Runs on a test thread (2 MiB of stack, debug build): the keepalived block parser once
    // recursed once per `{` and overflowed here with 2,000 levels.
    let n = 100_000;
    for toml in [
        format!("a = {}{}\n", "[".repeat(n), "]".repeat(n)),
        format!("a = {}1{}\n", "{b = ".repeat(n), "}".repeat(n)),
        format!("{} = 1\n", vec!["x"; n].join(".")),
        format!("[{}]\n", vec!["x"; n].join(".")),
    ] {
        fuzzing::config_parse(toml.as_bytes()).unwrap();
        assert!(vrrp_config::LoadedConfig::parse("deep.toml", &toml).is_err());
    }
    let conf = "vrrp_instance V {\n".repeat(n) + &"}\n".repeat(n);
    fuzzing::keepalived_import(conf.as_bytes()).unwrap();
    let err = vrrp_config::keepalived::import(
        "keepalived.conf",
        &conf,
        &vrrp_config::keepalived::MemoryLoader::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("keepalived.conf:65:"), "{err}");
    assert!(
        err.to_string().contains("blocks nested deeper than 64"),
        "{err}"
    );
}
