//! Cross-checks between the config files of the nodes of one cluster.
//!
//! Instances are matched **by name** across files (`VI_1` on every node, as keepalived users
//! write them). Instances with different names that share a VRID and family are flagged too,
//! since on one link they would be the same virtual router.

use std::collections::{BTreeMap, BTreeSet};

use vrrp_packet::AddressFamily;

use crate::LoadedConfig;
use crate::diag::{Diagnostic, Severity};
use crate::format_duration;
use crate::lint::{effective, failed_offset, healthy_offset, tracked_weights};
use crate::types::Instance;

struct Member<'a> {
    node: &'a LoadedConfig,
    inst: &'a Instance,
    path: String,
    weights: Vec<(&'a str, i32)>,
    healthy: u8,
}

impl Member<'_> {
    fn file(&self) -> &str {
        &self.node.source.name
    }

    fn warn(&self, keys: &[&str], message: String) -> Diagnostic {
        let paths: Vec<String> = keys
            .iter()
            .map(|k| {
                if k.starts_with("probe.") {
                    (*k).to_string()
                } else {
                    format!("{}.{k}", self.path)
                }
            })
            .chain(std::iter::once(self.path.clone()))
            .collect();
        let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
        self.node.diagnostic_at(Severity::Warning, &refs, message)
    }

    /// "80" or "110 (80 + 30 from healthy probes)".
    fn describe_healthy(&self) -> String {
        let offset = i32::from(self.healthy) - i32::from(self.inst.priority);
        if offset == 0 {
            format!("{}", self.healthy)
        } else {
            format!(
                "{} ({} {:+} from its healthy probes)",
                self.healthy, self.inst.priority, offset
            )
        }
    }
}

/// Warnings about several nodes' configs taken together (one file per node). Does not
/// repeat the single-node warnings of [`LoadedConfig::warnings`].
pub fn check_cluster(nodes: &[LoadedConfig]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if nodes.len() < 2 {
        return out;
    }
    let mut by_name: BTreeMap<&str, Vec<Member<'_>>> = BTreeMap::new();
    for node in nodes {
        for (i, inst) in node.config.instances.iter().enumerate() {
            let weights = tracked_weights(&node.config, inst);
            let healthy = effective(inst.priority, healthy_offset(&weights));
            by_name.entry(inst.name.as_str()).or_default().push(Member {
                node,
                inst,
                path: format!("instance[{i}]"),
                weights,
                healthy,
            });
        }
    }

    for (name, members) in &by_name {
        if members.len() == 1 {
            let m = &members[0];
            out.push(m.warn(
                &["name"],
                format!(
                    "instance {name:?} exists only in {}: no other node backs it up (instances are matched by name across files)",
                    m.file()
                ),
            ));
            continue;
        }
        consistency(name, members, &mut out);
        priorities(name, members, &mut out);
        weights(name, members, &mut out);
    }

    // the same virtual router under different names
    let mut seen: BTreeMap<(u8, AddressFamily), (&str, &str)> = BTreeMap::new();
    for node in nodes {
        let mut here = BTreeSet::new();
        for (i, inst) in node.config.instances.iter().enumerate() {
            let key = (inst.vrid, inst.family());
            if !here.insert(key) {
                continue;
            }
            match seen.get(&key) {
                Some((other_name, other_file)) if *other_name != inst.name => {
                    out.push(node.diagnostic_at(
                        Severity::Warning,
                        &[&format!("instance[{i}].vrid"), &format!("instance[{i}]")],
                        format!(
                            "instance {:?} uses vrid {} like instance {other_name:?} in {other_file}: on one link they are the same virtual router; give them the same name (if they are) or different VRIDs",
                            inst.name, inst.vrid
                        ),
                    ));
                }
                Some(_) => {}
                None => {
                    seen.insert(key, (inst.name.as_str(), node.source.name.as_str()));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Everything that must be equal on every node for the routers to understand each other.
fn consistency(name: &str, members: &[Member<'_>], out: &mut Vec<Diagnostic>) {
    let first = &members[0];
    let a = first.inst;
    for m in &members[1..] {
        let b = m.inst;
        let there = first.file();
        let mut differ = |key: &str, ours: String, theirs: String, why: &str| {
            out.push(m.warn(
                &[key],
                format!("instance {name:?}: {key} is {ours} here but {theirs} in {there}; {why}"),
            ));
        };
        if a.vrid != b.vrid {
            differ(
                "vrid",
                b.vrid.to_string(),
                a.vrid.to_string(),
                "the nodes run two unrelated virtual routers and both become master",
            );
        }
        if a.version != b.version {
            differ(
                "version",
                b.version.number().to_string(),
                a.version.number().to_string(),
                "each node discards the other's adverts (RFC 9568 §7.1) and both become master",
            );
        }
        if a.advert_interval != b.advert_interval {
            differ(
                "advert_interval",
                format_duration(b.advert_interval),
                format_duration(a.advert_interval),
                "VRRPv2 discards adverts with another interval; VRRPv3 backups adopt the master's, but failover times then depend on who is master",
            );
        }
        if a.family() != b.family() {
            differ(
                "virtual_ips",
                format!("{:?}", b.family()),
                format!("{:?}", a.family()),
                "the address families differ",
            );
        } else {
            let sa: BTreeSet<_> = a.virtual_ips.iter().map(|v| v.addr).collect();
            let sb: BTreeSet<_> = b.virtual_ips.iter().map(|v| v.addr).collect();
            if sa != sb {
                let list = |s: &BTreeSet<std::net::IpAddr>| {
                    s.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                differ(
                    "virtual_ips",
                    format!("[{}]", list(&sb)),
                    format!("[{}]", list(&sa)),
                    "adverts with another address list are logged as misconfiguration (and dropped by VRRPv2 and keepalived), and a failover moves a different set of addresses",
                );
            } else {
                let pa: BTreeMap<_, _> = a
                    .virtual_ips
                    .iter()
                    .map(|v| (v.addr, v.prefix_len))
                    .collect();
                for v in &b.virtual_ips {
                    if pa.get(&v.addr).is_some_and(|p| *p != v.prefix_len) {
                        differ(
                            "virtual_ips",
                            v.to_string(),
                            format!("{}/{}", v.addr, pa[&v.addr]),
                            "the address gets another prefix (and subnet route) depending on who is master",
                        );
                    }
                }
            }
        }
        if a.auth_pass != b.auth_pass {
            let show = |p: &Option<String>| match p {
                Some(_) => "set".to_string(),
                None => "not set".to_string(),
            };
            let (ours, theirs) = if a.auth_pass.is_some() && b.auth_pass.is_some() {
                ("a different password".to_string(), "another".to_string())
            } else {
                (show(&b.auth_pass), show(&a.auth_pass))
            };
            differ(
                "auth_pass",
                ours,
                theirs,
                "VRRPv2 discards adverts whose authentication does not match and both become master",
            );
        }
        if a.is_unicast() != b.is_unicast() {
            differ(
                "unicast_peers",
                if b.is_unicast() {
                    "set"
                } else {
                    "empty (multicast)"
                }
                .to_string(),
                if a.is_unicast() {
                    "set"
                } else {
                    "empty (multicast)"
                }
                .to_string(),
                "one node sends unicast and the other multicast: they may never hear each other",
            );
        }
    }
    // unicast: each node's source must be among the others' peers
    for m in members {
        let Some(src) = m.inst.unicast_src else {
            continue;
        };
        for other in members {
            if std::ptr::eq(other, m) || !other.inst.is_unicast() {
                continue;
            }
            if !other.inst.unicast_peers.contains(&src) {
                out.push(other.warn(
                    &["unicast_peers"],
                    format!(
                        "instance {name:?}: {}'s unicast_src {src} is not among the unicast_peers here: its adverts are not accepted and both nodes become master",
                        m.file()
                    ),
                ));
            }
        }
    }
}

fn priorities(name: &str, members: &[Member<'_>], out: &mut Vec<Diagnostic>) {
    for (i, m) in members.iter().enumerate() {
        for other in &members[..i] {
            if m.inst.priority == other.inst.priority {
                let what = if m.inst.is_owner() {
                    "two address owners (255) both claim the VIPs at start".to_string()
                } else {
                    "the tie is broken by the higher primary IP address (RFC 9568 §6.4.3), which the configs do not show; give every node its own priority (use `preempt = false` to keep a master, not equal priorities)".to_string()
                };
                out.push(m.warn(
                    &["priority"],
                    format!(
                        "instance {name:?}: priority {} here and in {}: {what}",
                        m.inst.priority,
                        other.file()
                    ),
                ));
            }
        }
    }
    // positive weights can reorder the nodes: say so, it is rarely meant
    let by_base = members.iter().max_by_key(|m| m.inst.priority);
    let by_health = members.iter().max_by_key(|m| m.healthy);
    if let (Some(base_top), Some(health_top)) = (by_base, by_health)
        && !std::ptr::eq(base_top, health_top)
        && health_top.healthy > base_top.healthy
    {
        out.push(health_top.warn(
            &["priority", "track"],
            format!(
                "instance {name:?}: with every probe healthy this node's priority is {}, above {}'s {}: this node, not the one with the highest `priority`, will be master",
                health_top.describe_healthy(),
                base_top.file(),
                base_top.describe_healthy()
            ),
        ));
    }
}

/// For each node and each weighted probe: can its failure hand the VIP to another node?
fn weights(name: &str, members: &[Member<'_>], out: &mut Vec<Diagnostic>) {
    let mut order: Vec<&Member<'_>> = members.iter().collect();
    order.sort_by_key(|m| std::cmp::Reverse(m.healthy));
    for (rank, m) in order.iter().enumerate() {
        if m.inst.is_owner() || m.weights.is_empty() {
            continue; // the owner's weights are reported per node
        }
        // The nodes that m beats when everything is healthy: those it must hand over to.
        let below: Vec<&Member<'_>> = order[rank + 1..]
            .iter()
            .copied()
            .filter(|c| c.healthy <= m.healthy)
            .collect();
        if below.is_empty() {
            continue;
        }
        let scenario = if rank == 0 {
            String::new()
        } else {
            let above: Vec<&str> = order[..rank].iter().map(|a| a.file()).collect();
            format!(" (when {} is down)", above.join(" and "))
        };
        let takers: Vec<&&Member<'_>> = below.iter().filter(|c| c.inst.preempt).collect();
        let Some(best) = takers.iter().max_by_key(|c| c.healthy) else {
            let files: Vec<&str> = below.iter().map(|c| c.file()).collect();
            out.push(m.warn(
                &["track"],
                format!(
                    "instance {name:?}: the weights of this node's probes can never move the VIP{scenario}: {} {} `preempt = false`, and a backup without preemption never takes over from a live master of lower priority; use probes without weight (failure = FAULT) on this node",
                    files.join(", "),
                    if files.len() == 1 { "has" } else { "have" }
                ),
            ));
            continue;
        };
        for (probe, w) in &m.weights {
            let failed = effective(m.inst.priority, failed_offset(&m.weights, probe));
            if best.healthy > failed {
                continue;
            }
            let probe_path = format!("probe.{probe}.weight");
            let drop = format!(
                "when it fails here{scenario}, the priority drops from {} to {}",
                m.describe_healthy(),
                failed
            );
            if best.healthy == failed {
                out.push(m.warn(
                    &[&probe_path, "track"],
                    format!(
                        "probe {probe:?} (weight {w}) may not move instance {name:?} away from {}: {drop}, equal to {}'s {}, and the tie is decided by the primary IP addresses (RFC 9568 §6.4.3). Fix: {}",
                        m.file(),
                        best.file(),
                        best.healthy,
                        fixes(m, best, probe, *w, failed).join(", or ")
                    ),
                ));
                continue;
            }
            out.push(m.warn(
                &[&probe_path, "track"],
                format!(
                    "probe {probe:?} (weight {w}) cannot move instance {name:?} away from {}: {drop}, still above {}'s {}, so {} never takes over. Fix: {}",
                    m.file(),
                    best.file(),
                    best.describe_healthy(),
                    best.file(),
                    fixes(m, best, probe, *w, failed).join(", or ")
                ),
            ));
        }
    }
}

/// The exact changes that would make `probe`'s failure on `m` hand over to `best`.
fn fixes(m: &Member<'_>, best: &Member<'_>, probe: &str, w: i32, failed: u8) -> Vec<String> {
    let mut out = Vec::new();
    let base = i32::from(m.inst.priority);
    let target = i32::from(best.healthy);
    // offset of the other probes while this one fails
    let others = failed_offset(&m.weights, probe) - w.min(0);
    if w < 0 {
        // base + others + w' < target
        let limit = target - base - others; // w' must be below this
        if limit > -253 {
            out.push(format!("weight must be below {limit} (e.g. {})", limit - 1));
        }
    } else {
        // losing +w leaves base + others; lower base so that base + others < target while
        // base + others + w (healthy) stays above target
        let hi = target - others - 1;
        let lo = (target - others - w + 1).max(1);
        if lo <= hi && hi >= 1 {
            out.push(format!(
                "lower this node's priority to {}",
                if lo == hi {
                    format!("{lo}")
                } else {
                    format!("{lo}..={hi}")
                }
            ));
        }
    }
    // raise the taker's priority above `failed` while keeping it below m's healthy one
    let need = i32::from(failed) + 1;
    let max = i32::from(m.healthy) - 1;
    if need <= max {
        let shift = i32::from(best.inst.priority) - i32::from(best.healthy);
        let (lo, hi) = (need + shift, (max + shift).min(254));
        if lo >= 1 && lo <= hi {
            out.push(format!(
                "raise {}'s priority to {} (lowering it makes things worse)",
                best.file(),
                if lo == hi {
                    format!("{lo}")
                } else {
                    format!("{lo}..={hi}")
                }
            ));
        }
    }
    out.push("remove the weight so that a failure puts the instance in FAULT".to_string());
    out
}
