//! Measure 5: many instances in one daemon. Master on h1 (priority 200), backup on h2
//! (priority 100), every instance one VIP.
//!
//! A VRID is unique per interface (and family), so beyond 250 instances the lab gets extra
//! segments ([`vrrp_lab::Lab::add_segment`]: a bridge of its own and `eth1`, `eth2`, ... in each
//! host; this kernel has no 802.1Q VLAN support), 250 instances each. Each segment has its own
//! /26 of 198.51.100.0/24 for the hosts; the VIPs are 203.0.113.1-250 on every segment (the
//! documentation ranges hold 768 addresses in all, so the VIPs repeat across segments; the
//! kernel keeps them apart by interface).
//!
//! Numbers:
//! - CPU: (utime + stime + reaped children's) of every process of the daemon over a window,
//!   per second of wall time, as % of one core;
//! - RSS: VmRSS summed over the daemon's processes, at the end of the window;
//! - start-up: the master started alone → every VIP installed (rtnetlink); this includes one
//!   Master_Down_Interval (RFC 9568 §6.4.1: a non-owner starts as backup), reported too;
//! - advert gaps: from captures on every segment's bridge during the window, per (segment,
//!   VRID): the worst gap between two adverts of the master.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime};

use vrrp_lab::{HOST_IFACE, Lab};

use crate::daemon::{Daemon, InstanceSpec, NodeSpec};
use crate::error::{BenchError, Result};
use crate::frames;
use crate::measures::{Settings, Trial, dur_ms, interleaved, label, ms, remove_vips, stop_capture};
use crate::procstat::{CpuSample, rss_bytes};
use crate::report::CaseResult;

const PER_INTERFACE: usize = 250;
const MASTER_PRIORITY: u8 = 200;
const BACKUP_PRIORITY: u8 = 100;
const FILTER: &str = "ip proto 112";

/// The host interface of segment `g` (0: the lab's own LAN, eth0; then eth1, eth2, ...).
fn interface(g: usize) -> String {
    if g == 0 {
        HOST_IFACE.to_owned()
    } else {
        format!("eth{g}")
    }
}

/// The bridge of segment `g`.
fn bridge(g: usize) -> String {
    if g == 0 {
        vrrp_lab::BRIDGE.to_owned()
    } else {
        format!("br{g}")
    }
}

fn vip(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(203, 0, 113, (i % PER_INTERFACE + 1) as u8))
}

fn node(router_id: &str, priority: u8, size: usize, interval: Duration) -> NodeSpec {
    NodeSpec {
        router_id: router_id.into(),
        probes: Vec::new(),
        instances: (0..size)
            .map(|i| InstanceSpec {
                name: format!("VI_{}", i + 1),
                interface: interface(i / PER_INTERFACE),
                vrid: (i % PER_INTERFACE + 1) as u8,
                priority,
                interval,
                vips: vec![vip(i)],
                track: Vec::new(),
            })
            .collect(),
    }
}

/// Adds the segments groups 1..`groups` need, with host addresses.
fn add_segments(lab: &Lab, groups: usize) -> Result<()> {
    for g in 1..groups {
        let segment = lab.add_segment()?;
        if segment.interface() != interface(g) || segment.bridge() != bridge(g) {
            return Err(BenchError::Invalid(format!(
                "segment {g} is {} / {}",
                segment.interface(),
                segment.bridge()
            )));
        }
        for n in 1..=2 {
            // 198.51.100.0/24 in /26s: .64(g-1)+10+n
            let addr = format!("198.51.100.{}/26", 64 * (g - 1) + 10 + n);
            lab.host(n)?
                .run(&["ip", "addr", "add", &addr, "dev", segment.interface()])?;
        }
    }
    Ok(())
}

struct ScaleRun {
    startup_ms: f64,
    startup_minus_mdi_ms: f64,
    cpu_master_pct: f64,
    cpu_backup_pct: f64,
    rss_master_mib: f64,
    rss_backup_mib: f64,
    worst_gap_ms: f64,
    vrids_over_1_5: f64,
    missing_vrids: f64,
    backup_adverts: f64,
}

fn rss_mib(pids: &[u32]) -> f64 {
    pids.iter().filter_map(|&p| rss_bytes(p)).sum::<u64>() as f64 / (1024.0 * 1024.0)
}

fn one_run(
    lab: &Lab,
    lab_groups: usize,
    implementation: &crate::daemon::Implementation,
    size: usize,
    interval: Duration,
    window: Duration,
) -> Result<ScaleRun> {
    let (h1, h2) = (lab.host(1)?, lab.host(2)?);
    // What a crashed daemon of an earlier run left, on every interface the lab has.
    let all_vips: Vec<IpAddr> = (0..PER_INTERFACE).map(vip).collect();
    for g in 0..lab_groups {
        remove_vips(h1, &interface(g), &all_vips)?;
        remove_vips(h2, &interface(g), &all_vips)?;
    }
    let master_spec = node("h1", MASTER_PRIORITY, size, interval);
    let backup_spec = node("h2", BACKUP_PRIORITY, size, interval);
    let mdi = master_spec.instances[0].master_down_interval();
    let watch = h1.watch_addresses()?;
    let mut master = Daemon::start(implementation, h1, &master_spec, lab.dir())?;
    let t0 = master.started().realtime;
    let vip_set: Vec<IpAddr> = (0..PER_INTERFACE.min(size)).map(vip).collect();
    let timeout = mdi + Duration::from_secs(30);
    let installed = watch
        .wait_for_count(timeout, size, |e| e.added && vip_set.contains(&e.ip))
        .ok_or_else(|| {
            BenchError::Timeout(format!(
                "the master did not install {size} VIPs within {timeout:?}: {} seen{}",
                watch.events().iter().filter(|e| e.added).count(),
                if watch.overflowed() {
                    " (netlink overflow)"
                } else {
                    ""
                }
            ))
        })?;
    let startup = installed
        .iter()
        .map(|e| e.at)
        .max()
        .map_or(f64::NAN, |last| ms(last, t0));
    drop(watch);
    let mut backup = Daemon::start(implementation, h2, &backup_spec, lab.dir())?;
    // The backup hears the master from its first advert on; let it settle.
    std::thread::sleep(interval * 3 + Duration::from_secs(1));
    let captures = (0..size.div_ceil(PER_INTERFACE))
        .map(|g| lab.capture_on(&bridge(g), FILTER))
        .collect::<Result<Vec<_>, _>>()?;
    let (mp, bp) = (master.pids(), backup.pids());
    let (m0, b0) = (CpuSample::take(&mp), CpuSample::take(&bp));
    std::thread::sleep(window);
    let (m1, b1) = (CpuSample::take(&mp), CpuSample::take(&bp));
    let (rss_master, rss_backup) = (rss_mib(&mp), rss_mib(&bp));
    let window_end = SystemTime::now();
    let per_segment = captures
        .into_iter()
        .map(stop_capture)
        .collect::<Result<Vec<_>>>()?;
    let backup_has_vips = h2
        .all_addresses()?
        .iter()
        .filter(|a| vip_set.contains(&a.ip))
        .count();
    master.crash()?;
    backup.crash()?;
    if backup_has_vips > 0 {
        return Err(BenchError::Invalid(format!(
            "the backup holds {backup_has_vips} VIPs during the window"
        )));
    }
    // Worst gap per (segment, VRID) among the master's adverts.
    let mut per_vrid: BTreeMap<(usize, u8), Vec<SystemTime>> = BTreeMap::new();
    let mut backup_adverts = 0usize;
    for (g, packets) in per_segment.iter().enumerate() {
        for a in frames::adverts(packets) {
            if a.at > window_end {
                continue;
            }
            match a.priority {
                MASTER_PRIORITY => per_vrid.entry((g, a.vrid)).or_default().push(a.at),
                _ => backup_adverts += 1,
            }
        }
    }
    let mut worst = 0.0f64;
    let mut over = 0usize;
    for times in per_vrid.values() {
        let gap = times
            .windows(2)
            .map(|w| ms(w[1], w[0]))
            .fold(0.0f64, f64::max);
        worst = worst.max(gap);
        if gap > 1.5 * dur_ms(interval) {
            over += 1;
        }
    }
    Ok(ScaleRun {
        startup_ms: startup,
        startup_minus_mdi_ms: startup - dur_ms(mdi),
        cpu_master_pct: m0.share_until(&m1) * 100.0,
        cpu_backup_pct: b0.share_until(&b1) * 100.0,
        rss_master_mib: rss_master,
        rss_backup_mib: rss_backup,
        worst_gap_ms: worst,
        vrids_over_1_5: over as f64,
        missing_vrids: size.saturating_sub(per_vrid.len()) as f64,
        backup_adverts: backup_adverts as f64,
    })
}

/// Runs measure 5.
pub fn scale(settings: &Settings) -> Result<Vec<CaseResult>> {
    let sizes: &[usize] = if settings.smoke {
        &[100]
    } else {
        &[1, 100, 250, 1000]
    };
    let intervals: &[u64] = if settings.smoke { &[100] } else { &[1000, 100] };
    let runs = if settings.smoke {
        1
    } else {
        1.max(settings.trials / 30)
    };
    let lab = Lab::new(2)?;
    let max_groups = sizes
        .iter()
        .map(|s| s.div_ceil(PER_INTERFACE))
        .max()
        .unwrap_or(1);
    add_segments(&lab, max_groups)?;
    let mut out = Vec::new();
    for &interval_ms in intervals {
        let interval = Duration::from_millis(interval_ms);
        let window = match (settings.smoke, interval_ms) {
            (true, _) => Duration::from_secs(3),
            (false, 1000) => Duration::from_secs(20),
            (false, _) => Duration::from_secs(10),
        };
        for &size in sizes {
            let case_name = format!("{size} × {}", label(interval));
            let mut cases: Vec<CaseResult> = settings
                .implementations
                .iter()
                .map(|imp| {
                    let mut r = CaseResult::new("scale", &case_name, imp.name());
                    r.set("instances", size);
                    r.set("advert_interval_ms", dur_ms(interval));
                    r.set("window_s", window.as_secs_f64());
                    r.set("interfaces", size.div_ceil(PER_INTERFACE));
                    r.set("runs", runs);
                    r
                })
                .collect();
            settings.say(format!("scale {case_name}:"));
            let done = interleaved(settings, &mut cases, runs, |_, imp| {
                let run = one_run(&lab, max_groups, imp, size, interval, window)?;
                settings.say(format!(
                        "  {}: master CPU {:.2} %, RSS {:.1} MiB, start-up {:.0} ms, worst gap {:.1} ms",
                        imp.name(),
                        run.cpu_master_pct,
                        run.rss_master_mib,
                        run.startup_ms,
                        run.worst_gap_ms
                    ));
                Ok(Trial::Done(run))
            });
            for (r, runs) in cases.iter_mut().zip(&done) {
                let col = |f: fn(&ScaleRun) -> f64| runs.iter().map(f).collect::<Vec<f64>>();
                r.metric(
                    "cpu_master_pct",
                    "% of one core",
                    "master daemon CPU (user + system, children included) per second of wall time",
                    col(|x| x.cpu_master_pct),
                );
                r.metric(
                    "cpu_backup_pct",
                    "% of one core",
                    "backup daemon CPU per second of wall time",
                    col(|x| x.cpu_backup_pct),
                );
                r.metric(
                    "rss_master_mib",
                    "MiB",
                    "master daemon resident memory (all its processes)",
                    col(|x| x.rss_master_mib),
                );
                r.metric(
                    "rss_backup_mib",
                    "MiB",
                    "backup daemon resident memory",
                    col(|x| x.rss_backup_mib),
                );
                r.metric(
                    "startup_ms",
                    "ms",
                    "master started alone → every VIP installed",
                    col(|x| x.startup_ms),
                );
                r.metric(
                    "startup_minus_mdi_ms",
                    "ms",
                    "start-up minus one Master_Down_Interval (the RFC wait of a non-owner)",
                    col(|x| x.startup_minus_mdi_ms),
                );
                r.metric(
                    "worst_gap_ms",
                    "ms",
                    "worst gap between two adverts of the master, over every VRID",
                    col(|x| x.worst_gap_ms),
                );
                r.metric(
                    "vrids_over_1_5_intervals",
                    "count",
                    "VRIDs with a gap above 1.5 intervals",
                    col(|x| x.vrids_over_1_5),
                );
                r.metric(
                    "missing_vrids",
                    "count",
                    "VRIDs without any master advert in the window",
                    col(|x| x.missing_vrids),
                );
                r.metric(
                    "backup_adverts",
                    "count",
                    "adverts not from the master (flaps) in the window",
                    col(|x| x.backup_adverts),
                );
            }
            out.extend(cases);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thousand_instances_spread_over_four_segments_with_unique_vrids() {
        let spec = node("h1", 200, 1000, Duration::from_secs(1));
        let mut seen = std::collections::BTreeSet::new();
        for i in &spec.instances {
            assert!(
                seen.insert((i.interface.clone(), i.vrid)),
                "{} {}",
                i.interface,
                i.vrid
            );
            assert!(i.vrid >= 1);
        }
        let ifaces: std::collections::BTreeSet<&str> = spec
            .instances
            .iter()
            .map(|i| i.interface.as_str())
            .collect();
        assert_eq!(
            ifaces.into_iter().collect::<Vec<_>>(),
            ["eth0", "eth1", "eth2", "eth3"]
        );
        crate::vrrpd::render_toml(&spec, std::path::Path::new("/tmp/s.sock")).unwrap();
        spec.to_keepalived().unwrap().render().unwrap();
    }
}
