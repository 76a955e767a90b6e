//! The `soak` command: hours of one VRID on a lossy, partitioned segment, sharded over
//! threads, summarised as one JSON object.

use std::fmt::Write as _;
use std::time::Duration;

use vrrp_election::{Interval, Version};

use crate::{LinkParams, Report, Rng, RouterSpec, Sim, SimConfig};

/// Options of `vrrp-sim soak`.
#[derive(Debug, Clone, PartialEq)]
pub struct SoakArgs {
    /// Routers on the segment (`--routers`, 2..=254).
    pub routers: usize,
    /// Simulated hours (`--hours`), split over the shards.
    pub hours: f64,
    /// Advertisement interval (`--advert-interval`, e.g. `1s`, `100ms`).
    pub advert_interval: Interval,
    /// Loss probability per packet and link (`--loss`).
    pub loss: f64,
    /// Partitions over the whole run (`--partitions`).
    pub partitions: usize,
    /// Crash/restart pairs over the whole run (`--crashes`, default: as many as partitions).
    pub crashes: usize,
    /// Graceful stop/restart pairs (`--shutdowns`, default: as many as partitions).
    pub shutdowns: usize,
    /// Probe episodes: priority offsets or FAULT (`--probe-changes`, default: as partitions).
    pub probe_changes: usize,
    /// VRRP version (`--version 2|3`).
    pub version: Version,
    /// Seed (`--seed`).
    pub seed: u64,
    /// Shards run in parallel (`--threads`, default: available cores).
    pub threads: usize,
    /// Print JSON (`--json`); otherwise a short text summary.
    pub json: bool,
}

impl Default for SoakArgs {
    fn default() -> Self {
        SoakArgs {
            routers: 2,
            hours: 1.0,
            advert_interval: Interval::DEFAULT,
            loss: 0.0,
            partitions: 0,
            crashes: 0,
            shutdowns: 0,
            probe_changes: 0,
            version: Version::V3,
            seed: 1,
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            json: false,
        }
    }
}

/// Parses a duration like `1s`, `2.5s`, `100ms`, `10ms` into an advertisement interval.
pub fn parse_interval(s: &str) -> Result<Interval, String> {
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return Err(format!("duration {s:?} needs a unit: ms or s"));
    };
    let ms: f64 = num
        .parse::<f64>()
        .map_err(|e| format!("duration {s:?}: {e}"))?
        * scale;
    let cs = (ms / 10.0).round();
    if !(1.0..=4095.0).contains(&cs) || (cs * 10.0 - ms).abs() > 1e-9 {
        return Err(format!(
            "advert interval {s:?} must be a multiple of 10 ms between 10 ms and 40.95 s"
        ));
    }
    Ok(Interval::from_centis(cs as u16))
}

/// Parses the arguments after `soak`.
pub fn parse_args(args: &[String]) -> Result<SoakArgs, String> {
    let mut a = SoakArgs::default();
    let mut crashes = None;
    let mut shutdowns = None;
    let mut probes = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--json" {
            a.json = true;
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--routers" => a.routers = value.parse().map_err(|e| bad(&e))?,
            "--hours" => a.hours = value.parse().map_err(|e| bad(&e))?,
            "--advert-interval" => a.advert_interval = parse_interval(value)?,
            "--loss" => a.loss = value.parse().map_err(|e| bad(&e))?,
            "--partitions" => a.partitions = value.parse().map_err(|e| bad(&e))?,
            "--crashes" => crashes = Some(value.parse().map_err(|e| bad(&e))?),
            "--shutdowns" => shutdowns = Some(value.parse().map_err(|e| bad(&e))?),
            "--probe-changes" => probes = Some(value.parse().map_err(|e| bad(&e))?),
            "--seed" => a.seed = value.parse().map_err(|e| bad(&e))?,
            "--threads" => a.threads = value.parse().map_err(|e| bad(&e))?,
            "--version" => {
                a.version = match value.as_str() {
                    "2" => Version::V2,
                    "3" => Version::V3,
                    _ => return Err(bad(&"version is 2 or 3")),
                }
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    a.crashes = crashes.unwrap_or(a.partitions);
    a.shutdowns = shutdowns.unwrap_or(a.partitions);
    a.probe_changes = probes.unwrap_or(a.partitions);
    if !(2..=254).contains(&a.routers) {
        return Err("--routers must be 2..254".into());
    }
    if !(a.hours > 0.0 && a.hours.is_finite()) {
        return Err("--hours must be positive".into());
    }
    if !(0.0..1.0).contains(&a.loss) {
        return Err("--loss must be in [0, 1)".into());
    }
    if a.version == Version::V2 && a.advert_interval.as_centis() % 100 != 0 {
        return Err("VRRPv2 intervals are whole seconds".into());
    }
    a.threads = a.threads.max(1);
    Ok(a)
}

/// The merged result of all shards.
#[derive(Debug, Clone, PartialEq)]
pub struct SoakResult {
    /// The arguments.
    pub args: SoakArgs,
    /// The merged report.
    pub report: Report,
    /// Wall-clock seconds the simulation took.
    pub wall_seconds: f64,
}

/// The segment of one shard: `routers` routers with distinct priorities (descending from
/// 250, so the expected master is known) and a seeded mix of preempt settings.
pub fn shard_config(a: &SoakArgs, shard: usize) -> SimConfig {
    let seed = a.seed.wrapping_mul(0x9e37_79b9).wrapping_add(shard as u64);
    let mut rng = Rng::new(seed);
    let routers = (0..a.routers)
        .map(|i| RouterSpec {
            priority: (250 - (i * 240 / a.routers.max(1)) as u16).max(1) as u8,
            preempt: i == 0 || !rng.chance(0.2),
        })
        .collect();
    SimConfig {
        routers,
        version: a.version,
        ipv6: false,
        advert_interval: a.advert_interval,
        link: LinkParams {
            loss: a.loss,
            delay: Duration::from_micros(200),
            jitter: Duration::from_micros(300),
        },
        seed,
    }
}

/// Runs the soak: `threads` shards, each `hours / threads` long with its own seed.
pub fn run(a: &SoakArgs) -> SoakResult {
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let shards = a.threads;
    let per_shard = Duration::from_secs_f64(a.hours * 3600.0 / shards as f64);
    let split = |n: usize, k: usize| n / shards + usize::from(k < n % shards);
    let reports: Vec<Report> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..shards)
            .map(|k| {
                scope.spawn(move || {
                    let mut sim = Sim::new(shard_config(a, k));
                    sim.random_schedule(
                        per_shard,
                        split(a.partitions, k),
                        split(a.crashes, k),
                        split(a.shutdowns, k),
                        split(a.probe_changes, k),
                    );
                    sim.run_for(per_shard)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| Report {
                    invariant_violations: 1,
                    violations: vec!["a shard panicked".into()],
                    ..Report::default()
                })
            })
            .collect()
    });
    let mut report = Report::default();
    for r in &reports {
        report.router_hours += r.router_hours;
        report.transitions += r.transitions;
        report.dual_master_seconds += r.dual_master_seconds;
        report.max_failover_overshoot_ms = match (
            report.max_failover_overshoot_ms,
            r.max_failover_overshoot_ms,
        ) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        report.failovers += r.failovers;
        report.invariant_violations += r.invariant_violations;
        report.violations.extend(
            r.violations
                .iter()
                .take(20usize.saturating_sub(report.violations.len()))
                .cloned(),
        );
        report.packets_sent += r.packets_sent;
        report.packets_delivered += r.packets_delivered;
        report.packets_lost += r.packets_lost;
        report.steps += r.steps;
        report.trace_hash = report.trace_hash.rotate_left(5) ^ r.trace_hash;
    }
    SoakResult {
        args: a.clone(),
        report,
        wall_seconds: started.elapsed().as_secs_f64(),
    }
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl SoakResult {
    /// One JSON object with the keys the issue asks for and a few more.
    pub fn to_json(&self) -> String {
        let r = &self.report;
        let a = &self.args;
        let overshoot = r
            .max_failover_overshoot_ms
            .map_or("null".to_string(), |v| format!("{v:.3}"));
        let violations: Vec<String> = r.violations.iter().map(|v| json_str(v)).collect();
        format!(
            concat!(
                "{{\"router_hours\":{:.3},\"wall_seconds\":{:.3},\"transitions\":{},",
                "\"dual_master_seconds\":{:.6},\"max_failover_overshoot_ms\":{},",
                "\"invariant_violations\":{},\"failovers\":{},\"packets_sent\":{},",
                "\"packets_delivered\":{},\"packets_lost\":{},\"steps\":{},",
                "\"routers\":{},\"hours\":{},\"advert_interval_ms\":{},\"loss\":{},",
                "\"partitions\":{},\"crashes\":{},\"shutdowns\":{},\"probe_changes\":{},",
                "\"version\":{},\"seed\":{},\"threads\":{},\"trace_hash\":\"{:016x}\",",
                "\"violations\":[{}]}}"
            ),
            r.router_hours,
            self.wall_seconds,
            r.transitions,
            r.dual_master_seconds,
            overshoot,
            r.invariant_violations,
            r.failovers,
            r.packets_sent,
            r.packets_delivered,
            r.packets_lost,
            r.steps,
            a.routers,
            a.hours,
            a.advert_interval.as_millis(),
            a.loss,
            a.partitions,
            a.crashes,
            a.shutdowns,
            a.probe_changes,
            a.version.number(),
            a.seed,
            a.threads,
            r.trace_hash,
            violations.join(",")
        )
    }

    /// A few lines for people.
    pub fn to_text(&self) -> String {
        let r = &self.report;
        let mut s = format!(
            "{:.1} router-hours in {:.2} s wall: {} transitions, {} failovers (worst overshoot {}), \
             {:.3} s dual master, {} invariant violations",
            r.router_hours,
            self.wall_seconds,
            r.transitions,
            r.failovers,
            r.max_failover_overshoot_ms
                .map_or("n/a".to_string(), |v| format!("{v:.3} ms")),
            r.dual_master_seconds,
            r.invariant_violations
        );
        for v in &r.violations {
            s.push_str("\n  ");
            s.push_str(v);
        }
        s
    }
}
