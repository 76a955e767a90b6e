//! Fuzz target `keepalived_import`: arbitrary text as a keepalived.conf, NUL bytes separating
//! included files (`include conf.d/*.conf` finds them through an in-memory loader). Errors and
//! notes must point at real lines; a TOML that validates must be the config the import
//! returned. The property lives in `vrrp_config::fuzzing::keepalived_import`, which
//! `crates/vrrp-config/tests/corpus_replay.rs` also runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(why) = vrrp_config::fuzzing::keepalived_import(data) {
        panic!("keepalived_import: {why}");
    }
});
