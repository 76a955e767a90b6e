//! Measures 1, 2 and 4: a master and a backup; the master dies (SIGKILL, like a host losing
//! power) or stops (SIGTERM); the backup takes over. One trial records every timestamp, and
//! each measure reads its own from it.
//!
//! Clocks: the signal moment is `CLOCK_REALTIME` read right before `kill(2)`; advert and
//! announcement times come from tcpdump on the lab bridge (the kernel stamps frames with
//! `CLOCK_REALTIME`); "VIP installed" is when an rtnetlink listener in the backup's namespace
//! received `RTM_NEWADDR` (also `CLOCK_REALTIME`). The run's clock check measures how these
//! clocks line up.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant, SystemTime};

use vrrp_lab::{Capture, Lab};

use crate::daemon::{Daemon, Implementation, InstanceSpec, NodeSpec};
use crate::error::{BenchError, Result};
use crate::frames;
use crate::measures::{
    Settings, Trial, dur_ms, interleaved, label, ms, remove_vips, stop_capture, wait_vips,
};
use crate::report::CaseResult;
use crate::rng::Rng;

/// Priority of the master (its Skew_Time is small, so it wins the start-up election).
pub const MASTER_PRIORITY: u8 = 200;
/// Priority of the backup (its Skew_Time is in the RFC bound).
pub const BACKUP_PRIORITY: u8 = 100;
const VRID: u8 = 51;
/// VRRP, ARP and ICMPv6 (for Neighbour Advertisements).
const FILTER: &str = "ip proto 112 or ip6 proto 112 or arp or icmp6";

/// Address family of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// VRRPv3 over IPv4.
    V4,
    /// VRRPv3 over IPv6.
    V6,
}

impl Family {
    fn label(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
}

/// The settings of one failover case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairCase {
    /// Address family.
    pub family: Family,
    /// Advert interval.
    pub interval: Duration,
    /// VIPs in the instance.
    pub vips: usize,
}

impl PairCase {
    /// The VIPs: 203.0.113.1.. or 2001:db8:1::1.. (at most 250).
    pub fn vip_list(&self) -> Vec<IpAddr> {
        (1..=self.vips.min(250) as u16)
            .map(|i| match self.family {
                Family::V4 => IpAddr::V4(Ipv4Addr::new(203, 0, 113, i as u8)),
                Family::V6 => IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, i)),
            })
            .collect()
    }

    fn instance(&self, priority: u8) -> InstanceSpec {
        InstanceSpec {
            name: "VI_1".into(),
            interface: "eth0".into(),
            vrid: VRID,
            priority,
            interval: self.interval,
            vips: self.vip_list(),
            track: Vec::new(),
        }
    }

    fn node(&self, router_id: &str, priority: u8) -> NodeSpec {
        NodeSpec {
            router_id: router_id.into(),
            probes: Vec::new(),
            instances: vec![self.instance(priority)],
        }
    }

    fn describe(&self) -> String {
        let mut s = format!("{} {}", self.family.label(), label(self.interval));
        if self.vips != 1 {
            s.push_str(&format!(" {} VIPs", self.vips));
        }
        s
    }

    fn record_settings(&self, case: &mut CaseResult) {
        let backup = self.instance(BACKUP_PRIORITY);
        case.set("family", self.family.label());
        case.set("version", 3);
        case.set("advert_interval_ms", dur_ms(self.interval));
        case.set("vips", self.vips);
        case.set("master_priority", MASTER_PRIORITY);
        case.set("backup_priority", BACKUP_PRIORITY);
        case.set("backup_skew_time_ms", dur_ms(backup.skew_time()));
        case.set(
            "backup_master_down_interval_ms",
            dur_ms(backup.master_down_interval()),
        );
    }
}

/// How the master goes away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGKILL of every process: host death.
    Crash,
    /// SIGTERM: graceful stop.
    Graceful,
}

/// Every timestamp of one trial.
#[derive(Debug, Clone, PartialEq)]
pub struct PairTrial {
    /// Right before the signal.
    pub signal: SystemTime,
    /// The master's last advert with a priority above 0.
    pub last_master_advert: SystemTime,
    /// The master's first priority-0 advert after the signal (graceful stop).
    pub priority_zero: Option<SystemTime>,
    /// The backup's first advert after the signal.
    pub first_backup_advert: SystemTime,
    /// Whether that advert left in IP fragments (bigger than the MTU).
    pub backup_advert_fragmented: bool,
    /// The first VIP installed on the backup.
    pub vip_first: SystemTime,
    /// The last VIP installed on the backup.
    pub vip_all: SystemTime,
    /// The first announcement of a VIP after the signal.
    pub announce_first: Option<SystemTime>,
    /// When every VIP had been announced at least once after the signal.
    pub announce_all: Option<SystemTime>,
}

/// A two-host lab for failover trials.
struct PairLab {
    lab: Lab,
    master_src: [IpAddr; 2],
    backup_src: [IpAddr; 2],
}

impl PairLab {
    fn new() -> Result<Self> {
        let lab = Lab::new(2)?;
        let src = |n: usize| -> Result<[IpAddr; 2]> {
            let h = lab.host(n)?;
            let ll = h
                .link_local(vrrp_lab::HOST_IFACE)?
                .ok_or_else(|| BenchError::Invalid("no IPv6 link-local address".into()))?;
            Ok([IpAddr::V4(h.ipv4()), IpAddr::V6(ll)])
        };
        let (master_src, backup_src) = (src(1)?, src(2)?);
        Ok(Self {
            lab,
            master_src,
            backup_src,
        })
    }

    fn src(&self, master: bool, family: Family) -> IpAddr {
        let pair = if master {
            self.master_src
        } else {
            self.backup_src
        };
        pair[usize::from(family == Family::V6)]
    }

    fn trial(
        &self,
        implementation: &Implementation,
        case: &PairCase,
        stop: Stop,
        rng: &mut Rng,
    ) -> Result<PairTrial> {
        let (h1, h2) = (self.lab.host(1)?, self.lab.host(2)?);
        let vips = case.vip_list();
        remove_vips(h1, vrrp_lab::HOST_IFACE, &vips)?;
        remove_vips(h2, vrrp_lab::HOST_IFACE, &vips)?;
        let capture = self.lab.capture(FILTER)?;
        let watch = h2.watch_addresses()?;
        let master_spec = case.node("h1", MASTER_PRIORITY);
        let backup_spec = case.node("h2", BACKUP_PRIORITY);
        let mut master = Daemon::start(implementation, h1, &master_spec, self.lab.dir())?;
        let mut backup = Daemon::start(implementation, h2, &backup_spec, self.lab.dir())?;
        let up = master_spec.instances[0].master_down_interval() + Duration::from_secs(5);
        wait_vips(h1, &vips, true, up).map_err(|e| with_log(e, &master))?;
        // The backup has been hearing adverts since the master's first one; give it two more
        // intervals, then kill at a moment spread uniformly over one interval.
        std::thread::sleep(case.interval * 2);
        if vips.iter().any(|v| h2.has_address(*v).unwrap_or(false)) {
            return Err(BenchError::Invalid(
                "the backup holds a VIP before the stop".into(),
            ));
        }
        std::thread::sleep(rng.duration_below(case.interval));
        let moment = match stop {
            Stop::Crash => master.crash()?,
            Stop::Graceful => master.terminate()?,
        };
        let signal = moment.realtime;
        let bound = backup_spec.instances[0].master_down_interval() + Duration::from_secs(3);
        let installed = watch
            .wait_for_count(bound, vips.len(), |e| {
                e.added && e.at >= signal && vips.contains(&e.ip)
            })
            .ok_or_else(|| {
                with_log(
                    BenchError::Timeout(format!(
                        "the backup did not install the VIPs within {bound:?}"
                    )),
                    &backup,
                )
            })?;
        wait_announcements(&capture, &vips, signal, Duration::from_secs(2))?;
        let packets = stop_capture(capture)?;
        if stop == Stop::Graceful && master.wait_exit(Duration::from_secs(5))?.is_none() {
            return Err(BenchError::Timeout(
                "the master did not exit on SIGTERM".into(),
            ));
        }
        backup.crash()?;
        self.analyse(case, &vips, signal, &installed, &packets)
    }

    fn analyse(
        &self,
        case: &PairCase,
        vips: &[IpAddr],
        signal: SystemTime,
        installed: &[vrrp_lab::AddressEvent],
        packets: &[vrrp_lab::CapturedPacket],
    ) -> Result<PairTrial> {
        let (master_src, backup_src) = (self.src(true, case.family), self.src(false, case.family));
        let adverts: Vec<frames::Advert> = frames::adverts(packets)
            .into_iter()
            .filter(|a| a.vrid == VRID && a.vlan.is_none())
            .collect();
        let last_master_advert = adverts
            .iter()
            .filter(|a| a.src == master_src && a.priority > 0)
            .map(|a| a.at)
            .max()
            .ok_or_else(|| BenchError::Invalid("no advert from the master".into()))?;
        let priority_zero = adverts
            .iter()
            .filter(|a| a.src == master_src && a.priority == 0 && a.at >= signal)
            .map(|a| a.at)
            .min();
        let first_backup = adverts
            .iter()
            .filter(|a| a.src == backup_src && a.at >= signal)
            .min_by_key(|a| a.at)
            .ok_or_else(|| {
                BenchError::Invalid("no advert from the backup after the signal".into())
            })?;
        let (first_backup_advert, backup_advert_fragmented) =
            (first_backup.at, first_backup.fragmented);
        let vip_first = installed.iter().map(|e| e.at).min().unwrap_or(signal);
        // The first installation of each VIP; the last of those.
        let mut first_per_vip: BTreeMap<IpAddr, SystemTime> = BTreeMap::new();
        for e in installed {
            first_per_vip.entry(e.ip).or_insert(e.at);
        }
        let vip_all = first_per_vip.values().copied().max().unwrap_or(signal);
        let mut announced: BTreeMap<IpAddr, SystemTime> = BTreeMap::new();
        for a in frames::announcements(packets) {
            if a.at >= signal && vips.contains(&a.ip) {
                announced.entry(a.ip).or_insert(a.at);
            }
        }
        let announce_first = announced.values().copied().min();
        let announce_all = (announced.len() == vips.len())
            .then(|| announced.values().copied().max())
            .flatten();
        Ok(PairTrial {
            signal,
            last_master_advert,
            priority_zero,
            first_backup_advert,
            backup_advert_fragmented,
            vip_first,
            vip_all,
            announce_first,
            announce_all,
        })
    }
}

fn with_log(e: BenchError, daemon: &Daemon) -> BenchError {
    let log = daemon.log();
    let tail: Vec<&str> = log.lines().rev().take(15).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    BenchError::Invalid(format!("{e}; daemon log tail:\n{}", tail.join("\n")))
}

/// Waits until every VIP was announced after `since` (or `timeout` passes: some
/// implementations may announce fewer).
fn wait_announcements(
    capture: &Capture,
    vips: &[IpAddr],
    since: SystemTime,
    timeout: Duration,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let packets = capture.packets()?;
        let mut seen: Vec<IpAddr> = frames::announcements(&packets)
            .into_iter()
            .filter(|a| a.at >= since)
            .map(|a| a.ip)
            .collect();
        seen.sort();
        seen.dedup();
        if vips.iter().all(|v| seen.contains(v)) || Instant::now() >= deadline {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn opt_ms(later: Option<SystemTime>, earlier: SystemTime) -> f64 {
    later.map_or(f64::NAN, |l| ms(l, earlier))
}

/// Runs `cases` × implementations with `stop`, and lets `fill` turn each case's trials into
/// metrics.
fn run_cases(
    settings: &Settings,
    measure: &str,
    cases: &[PairCase],
    stop: Stop,
    rng: &mut Rng,
    fill: impl Fn(&PairCase, &mut CaseResult, &[PairTrial]),
) -> Result<Vec<CaseResult>> {
    let lab = PairLab::new()?;
    let mut out = Vec::new();
    for case in cases {
        let mut results: Vec<CaseResult> = settings
            .implementations
            .iter()
            .map(|imp| {
                let mut r = CaseResult::new(measure, &case.describe(), imp.name());
                case.record_settings(&mut r);
                r.set("trials", settings.trials);
                r
            })
            .collect();
        settings.say(format!("{measure} {}:", case.describe()));
        let trials = interleaved(settings, &mut results, settings.trials, |t, imp| {
            let trial = lab.trial(imp, case, stop, rng)?;
            settings.say(format!(
                "  {} trial {}: backup advert {:.2} ms after the signal",
                imp.name(),
                t + 1,
                ms(trial.first_backup_advert, trial.signal)
            ));
            Ok(Trial::Done(trial))
        });
        for (result, trials) in results.iter_mut().zip(&trials) {
            fill(case, result, trials);
        }
        out.extend(results);
    }
    Ok(out)
}

/// What `announce_overshoot_ms` means: the end-to-end takeover as hosts see it.
const ANNOUNCE_OVERSHOOT: &str = "backup's first gratuitous ARP / NA − master's last advert − Master_Down_Interval: when hosts hear of the new master, against the RFC bound";

/// Measure 1: host death.
pub fn host_death(settings: &Settings, rng: &mut Rng) -> Result<Vec<CaseResult>> {
    let intervals: &[u64] = if settings.smoke {
        &[10]
    } else {
        &[1000, 100, 10]
    };
    let families: &[Family] = if settings.smoke {
        &[Family::V4]
    } else {
        &[Family::V4, Family::V6]
    };
    let mut cases = Vec::new();
    for &i in intervals {
        for &family in families {
            cases.push(PairCase {
                family,
                interval: Duration::from_millis(i),
                vips: 1,
            });
        }
    }
    run_cases(
        settings,
        "host-death",
        &cases,
        Stop::Crash,
        rng,
        |case, r, trials| {
            let mdi = case.instance(BACKUP_PRIORITY).master_down_interval();
            let col = |f: &dyn Fn(&PairTrial) -> f64| trials.iter().map(f).collect::<Vec<f64>>();
            r.metric(
                "failover_ms",
                "ms",
                "SIGKILL of the master → the backup's first advert on the bridge",
                col(&|t| ms(t.first_backup_advert, t.signal)),
            );
            r.metric(
            "overshoot_ms",
            "ms",
            "backup's first advert − master's last advert − Master_Down_Interval (RFC 9568 §6.1: 3 × interval + Skew_Time)",
            col(&|t| ms(t.first_backup_advert, t.last_master_advert) - dur_ms(mdi)),
        );
            r.metric(
                "announce_overshoot_ms",
                "ms",
                ANNOUNCE_OVERSHOOT,
                col(&|t| opt_ms(t.announce_first, t.last_master_advert) - dur_ms(mdi)),
            );
            r.metric(
            "kill_phase",
            "interval",
            "when the kill fell after the master's last advert, in advert intervals (should spread over 0..1)",
            col(&|t| ms(t.signal, t.last_master_advert) / dur_ms(case.interval)),
        );
            r.metric(
                "vip_on_backup_ms",
                "ms",
                "SIGKILL → the VIP installed on the backup (rtnetlink)",
                col(&|t| ms(t.vip_all, t.signal)),
            );
        },
    )
}

/// Measure 2: takeover action.
pub fn takeover(settings: &Settings, rng: &mut Rng) -> Result<Vec<CaseResult>> {
    let counts: &[usize] = if settings.smoke { &[1] } else { &[1, 100] };
    let families: &[Family] = if settings.smoke {
        &[Family::V4]
    } else {
        &[Family::V4, Family::V6]
    };
    let mut cases = Vec::new();
    for &vips in counts {
        for &family in families {
            cases.push(PairCase {
                family,
                interval: Duration::from_millis(100),
                vips,
            });
        }
    }
    run_cases(
        settings,
        "takeover",
        &cases,
        Stop::Crash,
        rng,
        |case, r, trials| {
            let mdi = case.instance(BACKUP_PRIORITY).master_down_interval();
            let col = |f: &dyn Fn(&PairTrial) -> f64| trials.iter().map(f).collect::<Vec<f64>>();
            r.metric(
                "announce_overshoot_ms",
                "ms",
                ANNOUNCE_OVERSHOOT,
                col(&|t| opt_ms(t.announce_first, t.last_master_advert) - dur_ms(mdi)),
            );
            r.metric(
            "vip_first_ms",
            "ms",
            "backup's first advert as master → first VIP installed (rtnetlink); negative: installed before the advert",
            col(&|t| ms(t.vip_first, t.first_backup_advert)),
        );
            r.metric(
                "vip_all_ms",
                "ms",
                "backup's first advert as master → every VIP installed",
                col(&|t| ms(t.vip_all, t.first_backup_advert)),
            );
            r.metric(
                "announce_first_ms",
                "ms",
                "backup's first advert as master → first gratuitous ARP / NA on the bridge",
                col(&|t| opt_ms(t.announce_first, t.first_backup_advert)),
            );
            r.metric(
                "announce_all_ms",
                "ms",
                "backup's first advert as master → every VIP announced once",
                col(&|t| opt_ms(t.announce_all, t.first_backup_advert)),
            );
            r.metric(
                "advert_fragmented",
                "0/1",
                "1 when the backup's first advert was bigger than the MTU and left in IP fragments",
                col(&|t| f64::from(u8::from(t.backup_advert_fragmented))),
            );
        },
    )
}

/// Measure 4: graceful stop.
pub fn graceful_stop(settings: &Settings, rng: &mut Rng) -> Result<Vec<CaseResult>> {
    let intervals: &[u64] = if settings.smoke { &[100] } else { &[100, 1000] };
    let cases: Vec<PairCase> = intervals
        .iter()
        .map(|&i| PairCase {
            family: Family::V4,
            interval: Duration::from_millis(i),
            vips: 1,
        })
        .collect();
    run_cases(
        settings,
        "graceful-stop",
        &cases,
        Stop::Graceful,
        rng,
        |case, r, trials| {
            let skew = dur_ms(case.instance(BACKUP_PRIORITY).skew_time());
            let col = |f: &dyn Fn(&PairTrial) -> f64| trials.iter().map(f).collect::<Vec<f64>>();
            r.metric(
                "vip_on_backup_ms",
                "ms",
                "SIGTERM of the master → the VIP installed on the backup (rtnetlink)",
                col(&|t| ms(t.vip_all, t.signal)),
            );
            r.metric(
                "over_skew_ms",
                "ms",
                "SIGTERM → VIP on the backup, minus the backup's Skew_Time (target ≤ 5 ms)",
                col(&|t| ms(t.vip_all, t.signal) - skew),
            );
            r.metric(
                "priority_zero_ms",
                "ms",
                "SIGTERM → the master's priority-0 advert on the bridge",
                col(&|t| opt_ms(t.priority_zero, t.signal)),
            );
            r.metric(
                "backup_advert_after_zero_ms",
                "ms",
                "priority-0 advert → the backup's first advert (RFC 9568 §6.4.2: Skew_Time)",
                col(&|t| {
                    t.priority_zero
                        .map_or(f64::NAN, |z| ms(t.first_backup_advert, z))
                }),
            );
        },
    )
}
