//! Helpers shared by the lab tests of this crate.

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
