//! Fuzz target `control_request`: arbitrary bytes as what a client writes to the status
//! socket. Parsing never panics, accepts exactly the known words, and a refusal's message is
//! one short line of printable ASCII with its quotes escaped (safe in the JSON reply and in
//! logs). The property lives in `vrrp_runtime::control::fuzz_check`, which
//! `crates/vrrp-runtime/tests/corpus_replay.rs` also runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(why) = vrrp_runtime::control::fuzz_check(data) {
        panic!("control_request: {why}");
    }
});
