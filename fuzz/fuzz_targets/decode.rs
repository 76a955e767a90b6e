//! Fuzz target `decode`: VRRP message decode: a family byte, source and destination addresses, then the message.
//! Whatever is accepted must validate, re-emit to the same length and decode to the same repr.
//! The property lives in `vrrp_packet::fuzzing::decode`, which `tests/corpus_replay.rs` also runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(why) = vrrp_packet::fuzzing::decode(data) {
        panic!("decode: {why}");
    }
});
