//! Drives VRRP engines on a simulated loss-free segment with an arbitrary sequence of
//! crashes, restarts, graceful shutdowns, partitions, priority offsets and faults (decoded
//! from the input), then checks the simulator's invariants and that the quiet segment ends
//! with the master a small reference model expects (`vrrp_sim::model`). The same check runs
//! as a proptest in `cargo test -p vrrp-sim` (`engine_matches_the_reference_model`).
//!
//! The input is also handed, as a raw VRRP payload, to a running `Node` (v2 and v3 routers on
//! IPv4 and IPv6): whatever the bytes, it must not panic and must count what it discards.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use vrrp_election::{Command, InterfaceId, Node, RouterConfig, RxMeta, Version};

fn raw_payload(data: &[u8]) {
    let t0 = Instant::now();
    let mut node = Node::new();
    let vip4 = "192.0.2.100".parse().unwrap();
    let vip6 = "2001:db8::100".parse().unwrap();
    let v3 = RouterConfig::new(51, InterfaceId(1), "192.0.2.11".parse().unwrap(), vec![vip4]);
    let mut v2 = RouterConfig::new(52, InterfaceId(1), "192.0.2.11".parse().unwrap(), vec![vip4]);
    v2.version = Version::V2;
    let v6 = RouterConfig::new(51, InterfaceId(1), "fe80::11".parse().unwrap(), vec![vip6]);
    for c in [v3, v2, v6] {
        node.add_router(c).unwrap();
    }
    node.handle_command_all(t0, Command::Startup);
    for (src, dst) in [("192.0.2.12", "224.0.0.18"), ("fe80::12", "ff02::12")] {
        let meta = RxMeta {
            interface: InterfaceId(1),
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            ttl: data.first().copied().unwrap_or(255) | 0x80,
        };
        node.handle_packet(t0 + Duration::from_millis(1), meta, data);
    }
    while node.poll_output().is_some() {}
    node.handle_timeout(t0 + Duration::from_secs(10));
    while node.poll_output().is_some() {}
}

fuzz_target!(|data: &[u8]| {
    raw_payload(data);
    let scenario = vrrp_sim::model::Scenario::from_bytes(data);
    if let Err(e) = scenario.check() {
        panic!("{e}\n{scenario:?}");
    }
});
