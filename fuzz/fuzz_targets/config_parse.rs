//! Fuzz target `config_parse`: arbitrary text as a native TOML config (what `vrrpd run`,
//! `check-config` and a reload read). Rejected text must come with located diagnostics;
//! accepted text must survive the warnings, the cluster cross-checks and a write/read round
//! trip unchanged. The property lives in `vrrp_config::fuzzing::config_parse`, which
//! `crates/vrrp-config/tests/corpus_replay.rs` also runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(why) = vrrp_config::fuzzing::config_parse(data) {
        panic!("config_parse: {why}");
    }
});
