//! Drives VRRP engines on a simulated loss-free segment with an arbitrary sequence of
//! crashes, restarts, graceful shutdowns, partitions, priority offsets and faults (decoded
//! from the input), then checks the simulator's invariants and that the quiet segment ends
//! with the master a small reference model expects (`vrrp_sim::model`). The same check runs
//! as a proptest in `cargo test -p vrrp-sim` (`engine_matches_the_reference_model`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let scenario = vrrp_sim::model::Scenario::from_bytes(data);
    if let Err(e) = scenario.check() {
        panic!("{e}\n{scenario:?}");
    }
});
