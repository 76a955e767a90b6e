//! From the configuration's types to the engine's and the probes' (pure functions).

use std::collections::BTreeMap;
use std::net::IpAddr;

use vrrp_config::{Instance, Probe};
use vrrp_election::{InterfaceId, RouterConfig, Stats};
use vrrp_health::{HealthState, ProbeResult, ProbeSpec};
use vrrp_netlink::{AddressInfo, Family};
use vrrp_packet::{AddressFamily, Auth, Version};

/// The address adverts leave from (RFC 9568 §5.1.1.1: the interface's primary IPv4 address;
/// §5.1.2.1: its IPv6 link-local address), unless `unicast_src` says otherwise. A VIP of the
/// instance is never chosen (a stale one may still be on the interface).
pub(crate) fn primary_address(inst: &Instance, addrs: &[AddressInfo]) -> Option<IpAddr> {
    if let Some(src) = inst.unicast_src {
        return Some(src);
    }
    let is_vip = |a: IpAddr| inst.virtual_ips.iter().any(|v| v.addr == a);
    match inst.family() {
        AddressFamily::Ipv4 => {
            let v4 = || {
                addrs
                    .iter()
                    .filter(|a| a.net.addr().is_ipv4() && !is_vip(a.net.addr()))
            };
            v4().find(|a| !a.secondary)
                .or_else(|| v4().next())
                .map(|a| a.net.addr())
        }
        AddressFamily::Ipv6 => addrs
            .iter()
            .map(|a| a.net.addr())
            .find(|a| matches!(a, IpAddr::V6(v6) if vrrp_packet::ip::is_ipv6_link_local(v6))),
    }
}

/// Our family in vrrp-netlink's vocabulary.
pub(crate) fn nl_family(family: AddressFamily) -> Family {
    match family {
        AddressFamily::Ipv4 => Family::V4,
        AddressFamily::Ipv6 => Family::V6,
    }
}

/// The VMAC interface name: `vrrp4.51` / `vrrp6.51` (15 bytes at most, as Linux requires).
pub(crate) fn vmac_name(inst: &Instance) -> String {
    let v = match inst.family() {
        AddressFamily::Ipv4 => 4,
        AddressFamily::Ipv6 => 6,
    };
    format!("vrrp{v}.{}", inst.vrid)
}

/// The engine's view of an instance.
pub(crate) fn router_config(
    inst: &Instance,
    interface: InterfaceId,
    primary: IpAddr,
) -> RouterConfig {
    let mut rc = RouterConfig::new(
        inst.vrid,
        interface,
        primary,
        inst.virtual_ips.iter().map(|v| v.addr).collect(),
    );
    rc.version = inst.version;
    rc.priority = inst.priority;
    rc.advert_interval = inst.advert_interval_wire();
    rc.preempt = inst.preempt;
    rc.preempt_delay = inst.preempt_delay;
    rc.accept_mode = inst.accept;
    rc.unicast_peers = inst.unicast_peers.clone();
    rc.auth = match (&inst.auth_pass, inst.version) {
        (Some(pass), Version::V2) => Auth::simple_password(pass),
        _ => Auth::None,
    };
    rc.checksum_mode = inst.effective_checksum();
    rc.check_ttl = inst.ttl_check;
    rc
}

/// A probe's parameters for vrrp-health.
pub(crate) fn probe_spec(name: &str, probe: &Probe, script_user: &str) -> Option<ProbeSpec> {
    use vrrp_config::ProbeKind as C;
    use vrrp_health::ProbeKind as H;
    let kind = match &probe.kind {
        C::Http(h) => {
            let mut p = vrrp_health::HttpProbe::new(h.host.clone(), h.port);
            p.path = h.path.clone();
            p.expect = vrrp_health::StatusCodes::from_ranges(h.expect_status.iter().cloned());
            H::Http(p)
        }
        C::Tcp(t) => H::Tcp(vrrp_health::TcpProbe::new(t.host.to_string(), t.port)),
        C::Exec(e) => H::Exec(vrrp_health::ExecProbe {
            argv: e.argv.clone(),
            shell: e.shell,
            user: script_user.to_owned(),
        }),
        C::Process(p) => H::Process(vrrp_health::ProcessProbe {
            matcher: match &p.matcher {
                vrrp_config::ProcessMatch::Name(n) => vrrp_health::ProcessMatch::Name(n.clone()),
                vrrp_config::ProcessMatch::Cmdline(c) => {
                    vrrp_health::ProcessMatch::Cmdline(c.clone())
                }
            },
            min_count: p.min_count as usize,
            any_namespace: p.any_namespace,
        }),
        C::File(f) => H::File(vrrp_health::FileProbe::new(
            f.path.clone(),
            match f.mode {
                vrrp_config::FileMode::Number => vrrp_health::FileCheck::Value,
                vrrp_config::FileMode::Exists => vrrp_health::FileCheck::Exists,
                vrrp_config::FileMode::Absent => vrrp_health::FileCheck::Absent,
            },
        )),
        C::Interface(i) => H::Interface(vrrp_health::InterfaceProbe::new(i.interface.clone())),
        // A kind newer than this runtime.
        _ => return None,
    };
    let mut spec = ProbeSpec::new(name, kind);
    spec.interval = probe.interval;
    spec.timeout = probe.timeout;
    spec.fall = probe.fall;
    spec.rise = probe.rise;
    spec.weight = probe.weight;
    spec.initial = match probe.initial {
        vrrp_config::ProbeState::Healthy => HealthState::Healthy,
        vrrp_config::ProbeState::Failed => HealthState::Unhealthy,
    };
    Some(spec)
}

/// Counters for status and metrics: every engine statistic by name, plus `became_master`
/// (RFC 6527's master transitions under the name operators look for).
pub(crate) fn counters(stats: &Stats) -> BTreeMap<String, u64> {
    let mut out: BTreeMap<String, u64> = stats
        .fields()
        .iter()
        .map(|(k, v)| ((*k).to_owned(), *v))
        .collect();
    out.insert("became_master".to_owned(), stats.master_transitions);
    out
}

/// A probe result as one line of text.
pub(crate) fn result_text(result: &ProbeResult) -> String {
    match result {
        ProbeResult::Success => "success".to_owned(),
        ProbeResult::Timeout => "timeout".to_owned(),
        ProbeResult::Failure { reason } => format!("failure: {reason}"),
        ProbeResult::Value(v) => format!("value {v}"),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vrrp_netlink::IpNet;

    fn addr(s: &str, secondary: bool) -> AddressInfo {
        AddressInfo {
            index: 2,
            net: s.parse::<IpNet>().unwrap(),
            tentative: false,
            dad_failed: false,
            secondary,
        }
    }

    fn instance(vips: &[&str]) -> Instance {
        let text = format!(
            "[[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 51\nvirtual_ips = [{}]\n",
            vips.iter()
                .map(|v| format!("\"{v}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
        vrrp_config::LoadedConfig::parse("t.toml", &text)
            .unwrap()
            .config
            .instances
            .remove(0)
    }

    #[test]
    fn primary_v4_skips_vips_and_secondaries() {
        let inst = instance(&["192.0.2.100/24"]);
        let addrs = [
            addr("192.0.2.100/24", false),
            addr("192.0.2.50/24", true),
            addr("192.0.2.11/24", false),
        ];
        assert_eq!(
            primary_address(&inst, &addrs),
            Some("192.0.2.11".parse().unwrap())
        );
        assert_eq!(
            primary_address(&inst, &addrs[..2]),
            Some("192.0.2.50".parse().unwrap())
        );
        assert_eq!(primary_address(&inst, &addrs[..1]), None);
    }

    #[test]
    fn primary_v6_is_the_link_local() {
        let inst = instance(&["2001:db8::100/64"]);
        let addrs = [addr("2001:db8::11/64", false), addr("fe80::1/64", false)];
        assert_eq!(
            primary_address(&inst, &addrs),
            Some("fe80::1".parse().unwrap())
        );
        assert_eq!(primary_address(&inst, &addrs[..1]), None);
    }

    #[test]
    fn probe_results_read_as_text() {
        assert_eq!(result_text(&ProbeResult::Success), "success");
        assert_eq!(result_text(&ProbeResult::Timeout), "timeout");
        assert_eq!(
            result_text(&ProbeResult::failure("HTTP status 503")),
            "failure: HTTP status 503"
        );
        assert_eq!(result_text(&ProbeResult::Value(-3)), "value -3");
    }

    #[test]
    fn vmac_names_fit_in_ifnamsiz() {
        let inst = instance(&["192.0.2.100/24"]);
        assert_eq!(vmac_name(&inst), "vrrp4.51");
        assert!("vrrp6.255".len() < 16);
    }
}
