//! Warnings: configs that are valid but will not work as their author meant.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use vrrp_packet::{AddressFamily, Version};

use crate::LoadedConfig;
use crate::diag::{Diagnostic, Severity};
use crate::types::{Config, FileMode, Instance, ProbeKind, same_subnet};

/// An address configured on a host interface, with its prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InterfaceAddress {
    /// The address.
    pub addr: IpAddr,
    /// Its prefix length.
    pub prefix_len: u8,
}

/// Owner, group and permission bits of a file or directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileStatus {
    /// Owner uid.
    pub uid: u32,
    /// Group gid.
    pub gid: u32,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    /// Whether it is a directory.
    pub is_dir: bool,
}

/// What the host-dependent checks need to know about the machine a config is for.
///
/// The library never looks at the machine itself: `vrrpd check-config` fills this from the
/// local host (`ip -j addr` and `stat`), tests use [`StaticHost`].
pub trait HostInfo {
    /// The addresses of interface `name`, or `None` when the host has no such interface.
    fn interface_addresses(&self, name: &str) -> Option<Vec<InterfaceAddress>>;

    /// The status of `path` (symlinks followed), or `None` when it does not exist.
    fn file_status(&self, path: &Path) -> Option<FileStatus>;

    /// Whether [`HostInfo::interface_addresses`] knows anything (false skips those checks).
    fn knows_interfaces(&self) -> bool {
        true
    }

    /// Whether [`HostInfo::file_status`] knows anything (false skips the script checks).
    fn knows_files(&self) -> bool {
        true
    }
}

/// A [`HostInfo`] from plain data; `None` fields mean "unknown" and skip their checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaticHost {
    /// Interfaces and their addresses.
    pub interfaces: Option<BTreeMap<String, Vec<InterfaceAddress>>>,
    /// Files and directories.
    pub files: Option<BTreeMap<PathBuf, FileStatus>>,
}

impl HostInfo for StaticHost {
    fn interface_addresses(&self, name: &str) -> Option<Vec<InterfaceAddress>> {
        self.interfaces.as_ref()?.get(name).cloned()
    }

    fn file_status(&self, path: &Path) -> Option<FileStatus> {
        self.files.as_ref()?.get(path).copied()
    }

    fn knows_interfaces(&self) -> bool {
        self.interfaces.is_some()
    }

    fn knows_files(&self) -> bool {
        self.files.is_some()
    }
}

/// Weighted probes that `inst` tracks and whose effect is a fixed offset (a file probe in
/// number mode is variable and left out), with their weights.
pub(crate) fn tracked_weights<'c>(config: &'c Config, inst: &'c Instance) -> Vec<(&'c str, i32)> {
    inst.track
        .iter()
        .filter_map(|name| {
            let probe = config.probes.get(name)?;
            if matches!(&probe.kind, ProbeKind::File(f) if f.mode == FileMode::Number) {
                return None;
            }
            probe.weight.map(|w| (name.as_str(), w))
        })
        .collect()
}

/// Effective priority: base plus offsets, clamped to 1..=254; an owner stays at 255.
pub(crate) fn effective(base: u8, offset: i32) -> u8 {
    if base == 255 {
        return 255;
    }
    let p = (i32::from(base) + offset).clamp(1, 254);
    u8::try_from(p).unwrap_or(254)
}

/// Sum of the positive weights (all probes healthy).
pub(crate) fn healthy_offset(weights: &[(&str, i32)]) -> i32 {
    weights.iter().map(|(_, w)| (*w).max(0)).sum()
}

/// Offset when `failing` fails and every other probe is healthy.
pub(crate) fn failed_offset(weights: &[(&str, i32)], failing: &str) -> i32 {
    weights
        .iter()
        .map(|(n, w)| match (*n == failing, *w > 0) {
            (false, true) => *w,
            (false, false) => 0,
            (true, true) => 0,
            (true, false) => *w,
        })
        .sum()
}

fn instance_path(cfg: &LoadedConfig, inst: &Instance) -> String {
    let i = cfg
        .config
        .instances
        .iter()
        .position(|x| std::ptr::eq(x, inst))
        .unwrap_or(0);
    format!("instance[{i}]")
}

/// The MTU adverts are checked against: Ethernet's, which VRRP LANs use.
const ETHERNET_MTU: usize = 1500;

pub(crate) fn node_warnings(cfg: &LoadedConfig) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let config = &cfg.config;
    let warn = |paths: &[&str], msg: String| cfg.diagnostic_at(Severity::Warning, paths, msg);

    let tracked: BTreeSet<&str> = config
        .instances
        .iter()
        .flat_map(|i| i.track.iter().map(String::as_str))
        .collect();
    for (name, probe) in &config.probes {
        let p = format!("probe.{name}");
        if !tracked.contains(name.as_str()) {
            out.push(warn(
                &[&p],
                format!("probe {name:?} is not tracked by any instance: it would run for nothing (add it to an instance's `track`)"),
            ));
        }
        if probe.timeout > probe.interval {
            out.push(warn(
                &[&format!("{p}.timeout"), &p],
                format!(
                    "probe {name:?}: timeout {} is longer than its interval {}: a hanging check delays the next one",
                    crate::format_duration(probe.timeout),
                    crate::format_duration(probe.interval)
                ),
            ));
        }
        match &probe.kind {
            ProbeKind::Http(h) if h.host.parse::<IpAddr>().is_err() => out.push(warn(
                &[&format!("{p}.url"), &p],
                format!(
                    "probe {name:?}: host {:?} is resolved through DNS at every check, so a DNS outage fails the probe: use an IP address such as 127.0.0.1",
                    h.host
                ),
            )),
            ProbeKind::Exec(e)
                if !e.shell && e.argv.first().is_some_and(|p| !p.contains('/')) =>
            {
                out.push(warn(
                    &[&format!("{p}.command"), &p],
                    format!(
                        "probe {name:?}: {:?} is looked up in PATH: give an absolute path so the script that runs is the one you checked",
                        e.argv.first().map_or("", String::as_str)
                    ),
                ))
            }
            _ => {}
        }
    }

    for inst in &config.instances {
        let path = instance_path(cfg, inst);
        let k = |key: &str| format!("{path}.{key}");
        let name = &inst.name;
        let weights = tracked_weights(config, inst);

        if inst.is_owner() {
            if !inst.preempt {
                out.push(warn(
                    &[&k("preempt"), &k("priority")],
                    format!("instance {name:?}: priority 255 is the address owner, which always takes the VIPs back; `preempt = false` has no effect (keepalived ignores nopreempt here too)"),
                ));
            }
            for (probe, _) in &weights {
                out.push(warn(
                    &[&format!("probe.{probe}.weight"), &k("track")],
                    format!("instance {name:?} has priority 255 (address owner), whose priority never changes: the weight of probe {probe:?} has no effect; remove the weight so a failure means FAULT, or lower the priority"),
                ));
            }
        } else if !weights.is_empty() {
            let top = i32::from(inst.priority) + healthy_offset(&weights);
            let bottom =
                i32::from(inst.priority) + weights.iter().map(|(_, w)| (*w).min(0)).sum::<i32>();
            if top > 254 {
                out.push(warn(
                    &[&k("priority"), &k("track")],
                    format!("instance {name:?}: priority {} plus the positive weights is {top}, clamped to 254: {} points of weight are lost", inst.priority, top - 254),
                ));
            }
            if bottom < 1 {
                out.push(warn(
                    &[&k("priority"), &k("track")],
                    format!("instance {name:?}: priority {} with every negative weight applied is {bottom}, clamped to 1: the weights stop counting below 1", inst.priority),
                ));
            }
        }

        if cfg.is_set(&k("checksum"))
            && (inst.version == Version::V2 || inst.family() == AddressFamily::Ipv6)
        {
            out.push(warn(
                &[&k("checksum")],
                format!("instance {name:?}: `checksum` only applies to VRRPv3 over IPv4 and is ignored here"),
            ));
        }
        if inst.unicast_src.is_some() && inst.unicast_peers.is_empty() {
            out.push(warn(
                &[&k("unicast_src")],
                format!("instance {name:?}: `unicast_src` without `unicast_peers` has no effect: adverts go to the multicast group"),
            ));
        }
        // RFC 9568 §5.1.2: an IPv6 advert is a 40-byte header, 8 bytes of VRRP and 16 bytes
        // per address. Above a 1500-byte Ethernet MTU (91 addresses or more) the kernel
        // fragments it: one lost fragment loses the advert, and keepalived, which stops at
        // 89 addresses and moves the rest out of the advert, sees a different list.
        let family = inst.family();
        let ip_header = match family {
            AddressFamily::Ipv6 => vrrp_packet::ip::Ipv6Header::HEADER_LEN,
            // Our IPv4 adverts carry no options.
            _ => 20,
        };
        let auth = if inst.auth_pass.is_some() {
            vrrp_packet::AUTH_DATA_LEN
        } else {
            0
        };
        let advert_bytes = ip_header
            + vrrp_packet::HEADER_LEN
            + family.address_len() * inst.virtual_ips.len()
            + auth;
        if advert_bytes > ETHERNET_MTU {
            out.push(warn(
                &[&k("virtual_ips")],
                format!(
                    "instance {name:?}: {} virtual_ips make a {advert_bytes}-byte advert, more than a {ETHERNET_MTU}-byte Ethernet MTU: the kernel fragments every advert (a lost fragment loses it, and keepalived peers, which put at most 89 IPv6 addresses in an advert, see a different list); split them over instances of at most 90",
                    inst.virtual_ips.len()
                ),
            ));
        }
        if inst.garp_repeat == 0 {
            out.push(warn(
                &[&k("garp_repeat")],
                format!("instance {name:?}: `garp_repeat = 0` sends no gratuitous ARP / NA on takeover, so clients keep the old master's MAC until their cache expires"),
            ));
        }
        if !inst.ttl_check && inst.unicast_peers.is_empty() {
            out.push(warn(
                &[&k("ttl_check")],
                format!("instance {name:?}: `ttl_check = false` with multicast accepts adverts that were routed from another network (RFC 9568 §7.1 requires TTL 255)"),
            ));
        }
        if let Some(group) = config.sync_group_of(name)
            && !weights.is_empty()
        {
            out.push(warn(
                &[&k("track")],
                format!("instance {name:?} is in sync group {:?} but tracks weighted probes: members can end up with different priorities and re-elect forever (keepalived sets such weights to 0); prefer probes without weight, which put the whole group in FAULT", group.name),
            ));
        }
    }

    for (g, group) in config.sync_groups.iter().enumerate() {
        if group.instances.len() == 1 {
            out.push(warn(
                &[
                    &format!("sync_group[{g}].instances"),
                    &format!("sync_group[{g}]"),
                ],
                format!(
                    "sync group {:?} has one member: it synchronises nothing",
                    group.name
                ),
            ));
        }
    }
    out
}

pub(crate) fn host_warnings(cfg: &LoadedConfig, host: &dyn HostInfo) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let config = &cfg.config;
    let warn = |paths: &[&str], msg: String| cfg.diagnostic_at(Severity::Warning, paths, msg);

    if host.knows_interfaces() {
        for inst in &config.instances {
            let path = instance_path(cfg, inst);
            let k = |key: &str| format!("{path}.{key}");
            let Some(addrs) = host.interface_addresses(&inst.interface) else {
                out.push(warn(
                    &[&k("interface")],
                    format!("interface {:?} does not exist on this host", inst.interface),
                ));
                continue;
            };
            for (n, vip) in inst.virtual_ips.iter().enumerate() {
                let vp = format!("{path}.virtual_ips[{n}]");
                let own = addrs.iter().any(|a| a.addr == vip.addr);
                if own && !inst.is_owner() {
                    out.push(warn(
                        &[&vp],
                        format!(
                            "{} is already an address of {} on this host: a backup would remove it; choose a free address, or use priority 255 if this host is its owner",
                            vip.addr, inst.interface
                        ),
                    ));
                } else if !own && inst.is_owner() {
                    out.push(warn(
                        &[&vp, &k("priority")],
                        format!(
                            "priority 255 means this host owns the virtual IPs (the IP address owner of RFC 9568), but {} is not an address of {}: use a priority below 255",
                            vip.addr, inst.interface
                        ),
                    ));
                }
                if !own
                    && !addrs
                        .iter()
                        .any(|a| same_subnet(a.addr, vip.addr, a.prefix_len))
                {
                    let subnets: Vec<String> = addrs
                        .iter()
                        .filter(|a| a.addr.is_ipv4() == vip.addr.is_ipv4())
                        .map(|a| format!("{}/{}", a.addr, a.prefix_len))
                        .collect();
                    out.push(warn(
                        &[&vp],
                        format!(
                            "virtual IP {} is outside every subnet of {} ({}): clients on that link cannot reach it directly",
                            vip.addr,
                            inst.interface,
                            if subnets.is_empty() { "it has no address of that family".to_string() } else { subnets.join(", ") }
                        ),
                    ));
                }
            }
            if let Some(src) = inst.unicast_src
                && !addrs.iter().any(|a| a.addr == src)
            {
                out.push(warn(
                    &[&k("unicast_src")],
                    format!(
                        "`unicast_src` {src} is not an address of {} on this host",
                        inst.interface
                    ),
                ));
            }
        }
        for (name, probe) in &config.probes {
            if let ProbeKind::Interface(i) = &probe.kind
                && host.interface_addresses(&i.interface).is_none()
            {
                out.push(warn(
                    &[&format!("probe.{name}.interface")],
                    format!(
                        "probe {name:?}: interface {:?} does not exist on this host",
                        i.interface
                    ),
                ));
            }
        }
    }

    if host.knows_files() {
        let user = &config.global.script_user;
        let mut scripts: Vec<(String, &str)> = Vec::new();
        for (name, probe) in &config.probes {
            if let ProbeKind::Exec(e) = &probe.kind
                && !e.shell
            {
                scripts.push((
                    format!("probe.{name}.command"),
                    e.argv.first().map_or("", String::as_str),
                ));
            }
        }
        for (i, inst) in config.instances.iter().enumerate() {
            for (key, cmd) in inst.notify.commands() {
                scripts.push((format!("instance[{i}].{key}"), cmd.program()));
            }
        }
        for (g, group) in config.sync_groups.iter().enumerate() {
            for (key, cmd) in group.notify.commands() {
                scripts.push((format!("sync_group[{g}].{key}"), cmd.program()));
            }
        }
        for (key, program) in scripts {
            if !program.starts_with('/') {
                continue;
            }
            let path = Path::new(program);
            match host.file_status(path) {
                None => out.push(warn(
                    &[&key],
                    format!("{program} does not exist on this host"),
                )),
                Some(st) if st.is_dir => {
                    out.push(warn(&[&key], format!("{program} is a directory")))
                }
                Some(st) => {
                    if st.mode & 0o111 == 0 {
                        out.push(warn(
                            &[&key],
                            format!("{program} is not executable (chmod +x)"),
                        ));
                    }
                    // keepalived's script security: nobody but root may change what runs.
                    let mut checked = Some(path);
                    let mut current = Some(st);
                    while let (Some(p), Some(s)) = (checked, current) {
                        if let Some(problem) = unsafe_owner(&s) {
                            out.push(warn(
                                &[&key],
                                format!(
                                    "{} {} {problem}: whoever can change it can run code as {user:?} (and in the daemon's name); make it owned by root and not writable by others",
                                    if p == path { "script" } else { "directory" },
                                    p.display(),
                                ),
                            ));
                        }
                        checked = p.parent().filter(|q| !q.as_os_str().is_empty());
                        current = checked.and_then(|q| host.file_status(q));
                    }
                }
            }
        }
    }
    out
}

fn unsafe_owner(st: &FileStatus) -> Option<String> {
    // A directory with the sticky bit (like /tmp) still lets others create files, but not
    // replace ours; the file itself is checked separately.
    if st.mode & 0o002 != 0 && !(st.is_dir && st.mode & 0o1000 != 0) {
        return Some("is writable by every user".into());
    }
    if st.mode & 0o020 != 0 && st.gid != 0 && !(st.is_dir && st.mode & 0o1000 != 0) {
        return Some(format!("is writable by group {}", st.gid));
    }
    if st.uid != 0 {
        return Some(format!("is owned by uid {}, not root", st.uid));
    }
    None
}
