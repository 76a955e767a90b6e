//! Drives VRRP engines on a simulated loss-free segment with an arbitrary sequence of
//! crashes, restarts, graceful shutdowns, partitions, priority offsets and faults (decoded
//! from the input), then checks the simulator's invariants and that the quiet segment ends
//! with the master a small reference model expects (`vrrp_sim::model`). The same check runs
//! as a proptest in `cargo test -p vrrp-sim` (`engine_matches_the_reference_model`).
//!
//! The input is also handed, as a raw VRRP payload, to a running `Node` (v2 and v3 routers on
//! IPv4 and IPv6): whatever the bytes, it must not panic and must count what it discards.
//! The property lives in `vrrp_sim::fuzzing::engine_sequence`, which
//! `crates/vrrp-sim/tests/corpus_replay.rs` also runs on the committed corpus.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(why) = vrrp_sim::fuzzing::engine_sequence(data) {
        panic!("engine_sequence: {why}");
    }
});
