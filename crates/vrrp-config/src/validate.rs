//! Semantic errors: values that are each well-formed but together make no valid config.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use vrrp_packet::{AddressFamily, Version};

use crate::parse::Parsed;
use crate::reader::{Ctx, Span, closest};
use crate::types::Instance;

/// Longest VRRPv2 simple password: the 8 bytes of Authentication Data (RFC 3768 §5.3.10).
pub const MAX_AUTH_PASS_LEN: usize = 8;
/// Longest preempt delay (keepalived's limit).
pub const MAX_PREEMPT_DELAY: Duration = Duration::from_secs(1000);
/// Shortest probe interval.
pub const MIN_PROBE_INTERVAL: Duration = Duration::from_millis(10);

fn span_of(ctx: &Ctx, paths: &[&str]) -> Span {
    paths
        .iter()
        .find_map(|p| ctx.positions.get(*p).cloned())
        .unwrap_or(0..0)
}

fn family_name(f: AddressFamily) -> &'static str {
    match f {
        AddressFamily::Ipv4 => "IPv4",
        AddressFamily::Ipv6 => "IPv6",
    }
}

fn addr_family(a: IpAddr) -> AddressFamily {
    if a.is_ipv4() {
        AddressFamily::Ipv4
    } else {
        AddressFamily::Ipv6
    }
}

pub(crate) fn validate(parsed: &Parsed, ctx: &mut Ctx) {
    let config = &parsed.config;

    for (name, probe) in &config.probes {
        let p = format!("probe.{name}");
        if ctx.ok(&format!("{p}.interval")) && probe.interval < MIN_PROBE_INTERVAL {
            let sp = span_of(ctx, &[&format!("{p}.interval"), &p]);
            ctx.error(sp, "`interval` must be at least 10ms");
        }
        if ctx.ok(&format!("{p}.timeout")) && probe.timeout.is_zero() {
            let sp = span_of(ctx, &[&format!("{p}.timeout"), &p]);
            ctx.error(sp, "`timeout` must be more than 0s");
        }
    }

    let mut names: BTreeMap<&str, Span> = BTreeMap::new();
    let mut routers: BTreeMap<(&str, AddressFamily, u8), (usize, Span)> = BTreeMap::new();
    for (i, inst) in config.instances.iter().enumerate() {
        let path = format!("instance[{i}]");
        let k = |key: &str| format!("{path}.{key}");
        let at = |ctx: &Ctx, key: &str| span_of(ctx, &[&k(key), &path]);

        if ctx.ok(&k("name")) {
            let sp = at(ctx, "name");
            if names.contains_key(inst.name.as_str()) {
                ctx.error(
                    sp,
                    format!(
                        "instance name {:?} is used twice: names must be unique",
                        inst.name
                    ),
                );
            } else {
                names.insert(&inst.name, sp);
            }
        }

        let vips_ok = ctx.ok(&k("virtual_ips"));
        if vips_ok {
            check_vips(inst, &path, ctx);
        }
        let family = inst.family();
        let family_known = vips_ok && !inst.virtual_ips.is_empty();

        // RFC 3768 is IPv4 only, and its interval field counts whole seconds.
        if ctx.ok(&k("version")) && inst.version == Version::V2 {
            if family_known && family == AddressFamily::Ipv6 {
                ctx.error(
                    at(ctx, "version"),
                    "VRRPv2 (RFC 3768) carries IPv4 addresses only: use version = 3 for IPv6 virtual_ips",
                );
            }
            if ctx.ok(&k("advert_interval")) {
                let d = inst.advert_interval;
                if d.subsec_nanos() != 0 || d.is_zero() || d > Duration::from_secs(255) {
                    ctx.error(
                        at(ctx, "advert_interval"),
                        format!(
                            "VRRPv2 advertises the interval in whole seconds (1s..=255s), so {} cannot be sent: use version = 3 for sub-second intervals",
                            crate::format_duration(d)
                        ),
                    );
                }
            }
        }
        // RFC 9568 §5.2.7: Max Adver Int is 12 bits of centiseconds.
        if ctx.ok(&k("version")) && inst.version == Version::V3 && ctx.ok(&k("advert_interval")) {
            let d = inst.advert_interval;
            if d.as_nanos() % 10_000_000 != 0
                || d < Duration::from_millis(10)
                || d > Duration::from_millis(40_950)
            {
                ctx.error(
                    at(ctx, "advert_interval"),
                    format!(
                        "VRRPv3 advertises the interval in centiseconds from 10ms to 40.95s, so {} cannot be sent",
                        crate::format_duration(d)
                    ),
                );
            }
        }

        if let Some(pass) = &inst.auth_pass
            && ctx.ok(&k("auth_pass"))
        {
            if ctx.ok(&k("version")) && inst.version == Version::V3 {
                ctx.error(
                    at(ctx, "auth_pass"),
                    "`auth_pass` is VRRPv2 only (RFC 9568 has no authentication): remove it, or set version = 2 to talk to peers that use it",
                );
            }
            if pass.is_empty() {
                ctx.error(at(ctx, "auth_pass"), "`auth_pass` is empty");
            } else if pass.len() > MAX_AUTH_PASS_LEN {
                ctx.error(
                    at(ctx, "auth_pass"),
                    format!(
                        "`auth_pass` is {} bytes but VRRPv2 carries 8: keepalived would use only {:?}; write exactly that",
                        pass.len(),
                        String::from_utf8_lossy(&pass.as_bytes()[..MAX_AUTH_PASS_LEN])
                    ),
                );
            }
        }

        if ctx.ok(&k("preempt_delay")) {
            if inst.preempt_delay > MAX_PREEMPT_DELAY {
                ctx.error(
                    at(ctx, "preempt_delay"),
                    "`preempt_delay` must be at most 1000s",
                );
            }
            if !inst.preempt && !inst.preempt_delay.is_zero() && ctx.ok(&k("preempt")) {
                ctx.error(
                    at(ctx, "preempt_delay"),
                    "`preempt_delay` has no meaning with `preempt = false`: remove one of them",
                );
            }
        }

        if ctx.ok(&k("track")) {
            let mut seen = BTreeSet::new();
            let known: Vec<&str> = parsed.probe_names.iter().map(String::as_str).collect();
            for (n, name) in inst.track.iter().enumerate() {
                let sp = span_of(ctx, &[&format!("{path}.track[{n}]"), &k("track"), &path]);
                if !seen.insert(name) {
                    ctx.error(sp, format!("probe {name:?} is tracked twice"));
                } else if !parsed.probe_names.contains(name) {
                    let hint = match closest(name, &known) {
                        Some(b) => format!(" (did you mean {b:?}?)"),
                        None if known.is_empty() => " (no [probe.NAME] is defined)".to_string(),
                        None => format!(" (defined: {})", known.join(", ")),
                    };
                    ctx.error(
                        sp,
                        format!("`track` names probe {name:?}, which is not defined{hint}"),
                    );
                }
            }
        }

        // unicast addresses must match the instance's family
        if family_known {
            if let Some(src) = inst.unicast_src
                && ctx.ok(&k("unicast_src"))
                && addr_family(src) != family
            {
                ctx.error(
                    at(ctx, "unicast_src"),
                    format!(
                        "`unicast_src` {src} is {} but the virtual_ips are {}",
                        family_name(addr_family(src)),
                        family_name(family)
                    ),
                );
            }
            if ctx.ok(&k("unicast_peers")) {
                for (n, peer) in inst.unicast_peers.iter().enumerate() {
                    if addr_family(*peer) != family {
                        let sp = span_of(
                            ctx,
                            &[&format!("{path}.unicast_peers[{n}]"), &k("unicast_peers")],
                        );
                        ctx.error(
                            sp,
                            format!(
                                "unicast peer {peer} is {} but the virtual_ips are {}",
                                family_name(addr_family(*peer)),
                                family_name(family)
                            ),
                        );
                    }
                }
            }
        }
        if ctx.ok(&k("unicast_peers")) {
            let mut seen = BTreeSet::new();
            for (n, peer) in inst.unicast_peers.iter().enumerate() {
                let sp = span_of(
                    ctx,
                    &[&format!("{path}.unicast_peers[{n}]"), &k("unicast_peers")],
                );
                if !seen.insert(peer) {
                    ctx.error(sp, format!("unicast peer {peer} is listed twice"));
                } else if Some(*peer) == inst.unicast_src {
                    ctx.error(
                        sp,
                        format!("unicast peer {peer} is this node's own `unicast_src`"),
                    );
                } else if peer.is_multicast() || peer.is_unspecified() {
                    ctx.error(sp, format!("unicast peer {peer} is not a unicast address"));
                }
            }
        }

        // RFC 9568 §5.2.3: the VRID identifies the virtual router on its link; IPv4 and IPv6
        // virtual routers are separate instances even with the same VRID.
        if ctx.ok(&k("vrid")) && ctx.ok(&k("interface")) && family_known {
            let key = (inst.interface.as_str(), family, inst.vrid);
            if let Some((first, _)) = routers.get(&key) {
                let other = &config.instances[*first].name;
                ctx.error(
                    at(ctx, "vrid"),
                    format!(
                        "vrid {} is already used for {} on {} by instance {other:?}: one interface and family can run each VRID once",
                        inst.vrid,
                        family_name(family),
                        inst.interface
                    ),
                );
            } else {
                routers.insert(key, (i, at(ctx, "vrid")));
            }
        }
    }

    // sync groups
    let instance_names: BTreeSet<&str> = config.instances.iter().map(|i| i.name.as_str()).collect();
    let mut group_names = BTreeSet::new();
    let mut member_of: BTreeMap<&str, &str> = BTreeMap::new();
    for (g, group) in config.sync_groups.iter().enumerate() {
        let path = format!("sync_group[{g}]");
        let k = |key: &str| format!("{path}.{key}");
        if ctx.ok(&k("name")) && !group_names.insert(group.name.as_str()) {
            let sp = span_of(ctx, &[&k("name"), &path]);
            ctx.error(
                sp,
                format!("sync group name {:?} is used twice", group.name),
            );
        }
        if !ctx.ok(&k("instances")) {
            continue;
        }
        if group.instances.is_empty() {
            let sp = span_of(ctx, &[&k("instances"), &path]);
            ctx.error(sp, "`instances` is empty: a sync group needs members");
        }
        let mut seen = BTreeSet::new();
        for (n, member) in group.instances.iter().enumerate() {
            let sp = span_of(
                ctx,
                &[&format!("{path}.instances[{n}]"), &k("instances"), &path],
            );
            if !seen.insert(member.as_str()) {
                ctx.error(sp, format!("instance {member:?} is listed twice"));
            } else if !instance_names.contains(member.as_str()) {
                let known: Vec<&str> = instance_names.iter().copied().collect();
                let hint = closest(member, &known)
                    .map(|b| format!(" (did you mean {b:?}?)"))
                    .unwrap_or_default();
                ctx.error(
                    sp,
                    format!("sync group member {member:?} is not an instance{hint}"),
                );
            } else if let Some(other) = member_of.get(member.as_str()) {
                ctx.error(
                    sp,
                    format!("instance {member:?} is already in sync group {other:?}: an instance can be in one group only"),
                );
            } else {
                member_of.insert(member, &group.name);
            }
        }
    }
}

fn check_vips(inst: &Instance, path: &str, ctx: &mut Ctx) {
    let k = format!("{path}.virtual_ips");
    let at = |ctx: &Ctx, n: usize| span_of(ctx, &[&format!("{k}[{n}]"), &k, path]);
    if inst.virtual_ips.is_empty() {
        let sp = span_of(ctx, &[&k, path]);
        // RFC 9568 errata 8299: an advert with Count 0 is malformed.
        ctx.error(
            sp,
            "`virtual_ips` is empty: a virtual router needs at least one address",
        );
        return;
    }
    if inst.virtual_ips.len() > 255 {
        let sp = at(ctx, 255);
        // RFC 9568 §5.2.5: Count IPvX Addr is one byte.
        ctx.error(
            sp,
            format!(
                "{} virtual_ips, but an advert carries at most 255: split the instance",
                inst.virtual_ips.len()
            ),
        );
    }
    let first = inst.virtual_ips[0];
    let mut seen = BTreeSet::new();
    for (n, vip) in inst.virtual_ips.iter().enumerate() {
        let a = vip.addr;
        if addr_family(a) != addr_family(first.addr) {
            ctx.error(
                at(ctx, n),
                format!(
                    "{a} is {} but the first virtual IP, {}, is {}: one instance is one family; put the {} addresses in another [[instance]] (it may reuse the vrid)",
                    family_name(addr_family(a)),
                    first.addr,
                    family_name(addr_family(first.addr)),
                    family_name(addr_family(a)),
                ),
            );
        } else if !seen.insert(a) {
            ctx.error(at(ctx, n), format!("virtual IP {a} is listed twice"));
        } else if a.is_multicast() || a.is_unspecified() || a.is_loopback() || is_broadcast(a) {
            ctx.error(
                at(ctx, n),
                format!(
                    "{a} cannot be a virtual IP (multicast, unspecified, loopback or broadcast)"
                ),
            );
        }
    }
}

fn is_broadcast(a: IpAddr) -> bool {
    matches!(a, IpAddr::V4(v4) if v4.is_broadcast())
}
