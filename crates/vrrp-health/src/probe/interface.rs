//! `interface`: link state from sysfs. Replaces `ip link show eth0 | grep -q 'state UP'`
//! scripts and keepalived's `track_interface`.
//!
//! Read at each interval. For immediacy the runtime can also feed link events it gets from
//! netlink into the probe with [`crate::ProbeRunner::report`].

use crate::spec::InterfaceProbe;
use crate::tracker::ProbeResult;

/// `IFF_UP` from linux/if.h: the interface is administratively up.
const IFF_UP: u32 = 0x1;

/// Reads the interface's state once. sysfs attributes are generated in memory, so these reads
/// do not block.
pub(crate) fn run(probe: &InterfaceProbe) -> ProbeResult {
    let dir = probe.sysfs_net.join(&probe.interface);
    let read = |attr: &str| std::fs::read_to_string(dir.join(attr)).ok();
    let Some(flags) = read("flags") else {
        return ProbeResult::failure(format!(
            "no interface {} (no {})",
            probe.interface,
            dir.display()
        ));
    };
    let flags = parse_flags(&flags);
    let operstate = read("operstate").unwrap_or_default();
    // Reading `carrier` fails with EINVAL while the interface is down: no carrier.
    let carrier = read("carrier").is_some_and(|c| c.trim() == "1");
    evaluate(&probe.interface, flags, operstate.trim(), carrier)
}

fn parse_flags(text: &str) -> Option<u32> {
    let t = text.trim();
    let hex = t.strip_prefix("0x").unwrap_or(t);
    u32::from_str_radix(hex, 16).ok()
}

/// Decides from the sysfs attributes: administratively up, and either RFC 2863 operational
/// state `up`, or `unknown` (drivers that do not report one: loopback, tun, dummy) with
/// carrier.
pub(crate) fn evaluate(
    name: &str,
    flags: Option<u32>,
    operstate: &str,
    carrier: bool,
) -> ProbeResult {
    match flags {
        Some(f) if f & IFF_UP == 0 => {
            return ProbeResult::failure(format!("{name} is administratively down"));
        }
        None => return ProbeResult::failure(format!("{name}: unreadable flags")),
        Some(_) => {}
    }
    match (operstate, carrier) {
        ("up", _) | ("unknown", true) => ProbeResult::Success,
        (state, false) => ProbeResult::failure(format!("{name} link is {state}, no carrier")),
        (state, true) => ProbeResult::failure(format!("{name} link is {state}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states() {
        assert_eq!(
            evaluate("e", Some(0x1003), "up", true),
            ProbeResult::Success
        );
        assert_eq!(
            evaluate("lo", Some(0x9), "unknown", true),
            ProbeResult::Success
        );
        assert!(
            matches!(evaluate("e", Some(0x1002), "down", false), ProbeResult::Failure { reason } if reason.contains("administratively down"))
        );
        assert!(
            matches!(evaluate("e", Some(0x1003), "down", false), ProbeResult::Failure { reason } if reason.contains("no carrier"))
        );
        assert!(matches!(
            evaluate("e", Some(0x1003), "lowerlayerdown", false),
            ProbeResult::Failure { .. }
        ));
        assert!(matches!(
            evaluate("e", Some(0x1003), "dormant", true),
            ProbeResult::Failure { .. }
        ));
        assert!(matches!(
            evaluate("e", Some(0x1003), "unknown", false),
            ProbeResult::Failure { .. }
        ));
        assert!(matches!(
            evaluate("e", None, "up", true),
            ProbeResult::Failure { .. }
        ));
        assert_eq!(parse_flags("0x1003\n"), Some(0x1003));
        assert_eq!(parse_flags("zz"), None);
    }

    #[test]
    fn missing_interface_is_a_failure() {
        let probe = InterfaceProbe {
            sysfs_net: std::env::temp_dir().join("vrrp-health-no-such-dir"),
            ..InterfaceProbe::new("eth0")
        };
        assert!(
            matches!(run(&probe), ProbeResult::Failure { reason } if reason.contains("no interface eth0"))
        );
    }
}
