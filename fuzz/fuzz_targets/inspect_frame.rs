//! Fuzz target `inspect_frame`: Whole-frame receive checks: an Ethernet frame, IP packet or bare message through
//! `inspect` with every layer and with and without expectations; never panics, self-consistent.
//! The property lives in `vrrp_packet::fuzzing::inspect_frame`, which `tests/corpus_replay.rs` also runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(why) = vrrp_packet::fuzzing::inspect_frame(data) {
        panic!("inspect_frame: {why}");
    }
});
