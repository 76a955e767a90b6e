//! Helpers shared by the lab tests of this crate (each test file uses some of them).
#![allow(dead_code)]

use std::time::Duration;

use vrrp_lab::Host;

/// The interface index of `eth0` inside `host` (`ip netns exec` mounts the namespace's own
/// /sys).
pub(crate) fn ifindex(host: &Host) -> u32 {
    host.run(&["cat", "/sys/class/net/eth0/ifindex"])
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// One instance, VI_1 on eth0, VRID 42, `priority`, 100 ms adverts, VIP 192.0.2.100/24.
pub(crate) fn config(priority: u8) -> vrrp_config::Config {
    vrrp_runtime::Builder::new()
        .instance(vrrp_config::Instance {
            priority,
            advert_interval: Duration::from_millis(100),
            ..vrrp_config::Instance::new(
                "VI_1",
                "eth0",
                42,
                vec!["192.0.2.100/24".parse().unwrap()],
            )
        })
        .config()
        .clone()
}
