//! Fuzz target `roundtrip`: Emit → parse round trip: the bytes describe an always-valid repr (v2/v3, IPv4/IPv6,
//! 1..255 addresses, both checksum forms); parsing what was emitted must give it back.
//! The property lives in `vrrp_packet::fuzzing::roundtrip`, which `tests/corpus_replay.rs` also runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(why) = vrrp_packet::fuzzing::roundtrip(data) {
        panic!("roundtrip: {why}");
    }
});
