//! The property the `engine_sequence` fuzz target checks, as a plain function, so that
//! `fuzz/` and the corpus replay test (`tests/corpus_replay.rs`) run the same code on the same
//! bytes.
//!
//! ```
//! // Any bytes describe a scenario; the check passes when the engine behaves.
//! vrrp_sim::fuzzing::engine_sequence(&[1, 2, 3, 200, 7, 100]).unwrap();
//! ```

use std::time::{Duration, Instant};

use vrrp_election::{Command, InterfaceId, Node, RouterConfig, RxMeta, Version};

use crate::model::Scenario;

/// Target `engine_sequence`: `data` as a raw VRRP payload handed to a running [`Node`] (v2
/// and v3 routers on IPv4 and IPv6: whatever the bytes, no panic), then as a
/// [`Scenario`] of crashes, restarts, partitions, priority changes and faults whose outcome
/// must satisfy the simulator's invariants and match the reference model.
pub fn engine_sequence(data: &[u8]) -> Result<(), String> {
    raw_payload(data)?;
    let scenario = Scenario::from_bytes(data);
    scenario.check().map_err(|e| format!("{e}\n{scenario:?}"))
}

fn raw_payload(data: &[u8]) -> Result<(), String> {
    // Any instant will do: the engine only compares instants it was given.
    let t0 = Instant::now();
    let mut node = Node::new();
    let addr = |s: &str| s.parse().map_err(|e| format!("{s}: {e}"));
    let vip4 = addr("192.0.2.100")?;
    let vip6 = addr("2001:db8::100")?;
    let v3 = RouterConfig::new(51, InterfaceId(1), addr("192.0.2.11")?, vec![vip4]);
    let mut v2 = RouterConfig::new(52, InterfaceId(1), addr("192.0.2.11")?, vec![vip4]);
    v2.version = Version::V2;
    let v6 = RouterConfig::new(51, InterfaceId(1), addr("fe80::11")?, vec![vip6]);
    for c in [v3, v2, v6] {
        node.add_router(c).map_err(|e| e.to_string())?;
    }
    node.handle_command_all(t0, Command::Startup);
    for (src, dst) in [("192.0.2.12", "224.0.0.18"), ("fe80::12", "ff02::12")] {
        let meta = RxMeta {
            interface: InterfaceId(1),
            src: addr(src)?,
            dst: addr(dst)?,
            ttl: data.first().copied().unwrap_or(255) | 0x80,
        };
        node.handle_packet(t0 + Duration::from_millis(1), meta, data);
    }
    while node.poll_output().is_some() {}
    node.handle_timeout(t0 + Duration::from_secs(10));
    while node.poll_output().is_some() {}
    Ok(())
}
