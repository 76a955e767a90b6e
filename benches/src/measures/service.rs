//! Measure 3: the HTTP backend on the master dies; how long until the VIP is answered by the
//! backup, and how many of a client's requests (one every 10 ms) fail meanwhile.
//!
//! Three hosts: h1 (master) and h2 (backup) each run the lab's HTTP server and a VRRP daemon
//! whose probes watch it; h3 is the client. The variants, each with every implementation:
//!
//! - `classic-script`: the keepalived + Nginx guides' setup: a shell script that looks for the
//!   server process with `ps` and asks it with `curl`, every 2 s, fall 2, rise 1, weight −10
//!   (priorities 100 / 95, so 90 < 95 moves the VIP); adverts 1 s. vrrpd runs the same script
//!   as an `exec` probe.
//! - `process-tracking`: the daemon watches the server process itself (keepalived
//!   `vrrp_track_process`, vrrpd `process` probe), weight −10, priorities 100 / 95, adverts 1 s.
//! - `shipped-example`: vrrpd runs examples/nginx-ha/master.toml and backup.toml unchanged
//!   (process probe + HTTP probe every 100 ms, fall 2, no weight: FAULT; priorities 150 / 100;
//!   adverts 100 ms). keepalived runs the nearest it can: the check script at its shortest
//!   interval (1 s), fall 2, rise 2, no weight (FAULT), same priorities and adverts.
//!
//! The lab's hosts share one process table, so a `ps` check on h1 would also see h2's
//! server: the servers are named `web1` / `web2` (from the symlink they are started by). vrrpd's
//! process probe only counts processes of its own network namespace, so for the shipped
//! example both are named `nginx`, as the example expects.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use vrrp_lab::{ChildGuard, Lab};

use crate::backend::{Request, client_loop, get};
use crate::daemon::{
    Daemon, Implementation, InstanceSpec, KEEPALIVED_NO_PROC_EVENTS, NodeSpec, ProbeKind, ProbeSpec,
};
use crate::error::{BenchError, Result, file_err};
use crate::measures::{Settings, Trial, dur_ms, interleaved, label, ms, remove_vips, wait_vips};
use crate::report::CaseResult;
use crate::rng::Rng;

const WEIGHT: i32 = -10;
const VIP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 100));
const PORT: u16 = 80;
/// The shipped example, as users get it.
const EXAMPLE_MASTER: &str = include_str!("../../../examples/nginx-ha/master.toml");
const EXAMPLE_BACKUP: &str = include_str!("../../../examples/nginx-ha/backup.toml");
/// The client's request period and timeout.
const PERIOD: Duration = Duration::from_millis(10);
const REQUEST_TIMEOUT: Duration = Duration::from_millis(100);

/// The check script, in the spirit of the keepalived + Nginx guides (our wording): a
/// process look-up with `ps` and an HTTP request with `curl`; exit 0 when both pass.
const CHECK_SCRIPT: &str = r#"#!/bin/sh
# Health check as the keepalived + Nginx guides write it: is the web server process there,
# and does it answer on the loopback? Exit 0 = healthy. NAME is this host's server process.
NAME="@NAME@"
if [ "$(ps -e -o comm= | grep -c "^$NAME\$")" -eq 0 ]; then
    exit 1
fi
code=$(curl -s -o /dev/null -w '%{http_code}' --connect-timeout 2 --max-time 3 http://127.0.0.1:@PORT@/)
case "$code" in
    200|301|302|403|404) exit 0 ;;
    *) exit 1 ;;
esac
"#;

/// A probe set, priorities and advert interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// ps + curl script every 2 s, fall 2, rise 1, weight −10; adverts 1 s.
    ClassicScript,
    /// Process tracking by the daemon, weight −10; adverts 1 s.
    ProcessTracking,
    /// vrrpd: examples/nginx-ha unchanged; keepalived: the nearest (script every 1 s, FAULT).
    ShippedExample,
}

impl Variant {
    const ALL: [Variant; 3] = [
        Variant::ClassicScript,
        Variant::ProcessTracking,
        Variant::ShippedExample,
    ];

    fn name(self) -> &'static str {
        match self {
            Variant::ClassicScript => "classic-script",
            Variant::ProcessTracking => "process-tracking",
            Variant::ShippedExample => "shipped-example",
        }
    }

    fn advert(self) -> Duration {
        match self {
            Variant::ClassicScript | Variant::ProcessTracking => Duration::from_secs(1),
            Variant::ShippedExample => Duration::from_millis(100),
        }
    }

    /// (master, backup) priorities.
    fn priorities(self) -> (u8, u8) {
        match self {
            Variant::ClassicScript | Variant::ProcessTracking => (100, 95),
            Variant::ShippedExample => (150, 100),
        }
    }

    /// The server's process name on host `n` for `implementation`.
    fn process_name(self, implementation: &Implementation, n: usize) -> String {
        match (self, implementation) {
            (Variant::ShippedExample, Implementation::Vrrpd(_)) => "nginx".into(),
            _ => format!("web{n}"),
        }
    }

    fn probes(self, host: usize, script: &Path) -> Vec<ProbeSpec> {
        let exec = |interval: u64, rise: u32, weight: i32| ProbeSpec {
            name: "check_web".into(),
            kind: ProbeKind::Exec {
                program: script.to_owned(),
            },
            interval: Duration::from_secs(interval),
            fall: 2,
            rise,
            weight,
        };
        match self {
            Variant::ClassicScript => vec![exec(2, 1, WEIGHT)],
            Variant::ProcessTracking => vec![ProbeSpec {
                name: "web".into(),
                kind: ProbeKind::Process {
                    name: format!("web{host}"),
                },
                interval: Duration::from_millis(100),
                fall: 1,
                rise: 1,
                weight: WEIGHT,
            }],
            Variant::ShippedExample => vec![exec(1, 2, 0)],
        }
    }

    /// The longest probe interval or advert interval (the kill moment is spread over it).
    fn probe_period(self) -> Duration {
        let probes = match self {
            // The example's HTTP probe runs every 100 ms; its process probe is event driven.
            Variant::ShippedExample => Duration::from_secs(1),
            _ => self
                .probes(1, Path::new("/"))
                .iter()
                .map(|p| p.interval)
                .max()
                .unwrap_or_default(),
        };
        probes.max(self.advert())
    }

    fn node(self, host: usize, script: &Path) -> NodeSpec {
        let (master, backup) = self.priorities();
        let probes = self.probes(host, script);
        NodeSpec {
            router_id: format!("h{host}"),
            instances: vec![InstanceSpec {
                name: "VI_1".into(),
                interface: vrrp_lab::HOST_IFACE.into(),
                vrid: 51,
                priority: if host == 1 { master } else { backup },
                interval: self.advert(),
                vips: vec![VIP],
                track: probes.iter().map(|p| p.name.clone()).collect(),
            }],
            probes,
        }
    }

    /// Starts `implementation` on host `n` (1: master, 2: backup) with this variant's config.
    fn start(
        self,
        implementation: &Implementation,
        lab: &Lab,
        n: usize,
        script: &Path,
    ) -> Result<Daemon> {
        let host = lab.host(n)?;
        match (self, implementation) {
            (Variant::ShippedExample, Implementation::Vrrpd(binary)) => {
                let text = if n == 1 {
                    EXAMPLE_MASTER
                } else {
                    EXAMPLE_BACKUP
                };
                Daemon::start_vrrpd(binary, host, text, &format!("h{n}"), lab.dir())
            }
            _ => Daemon::start(implementation, host, &self.node(n, script), lab.dir()),
        }
    }

    /// The settings `implementation` runs with, in words.
    fn describe(self, implementation: &Implementation) -> String {
        match (self, implementation) {
            (Variant::ShippedExample, Implementation::Vrrpd(_)) => "examples/nginx-ha/master.toml and backup.toml unchanged: process probe (pidfd) + HTTP probe every 100 ms, fall 2, rise 2, no weight (FAULT); priorities 150/100; adverts 100 ms".into(),
            _ => {
                let probes: Vec<String> = self
                    .probes(1, Path::new("check-h1.sh"))
                    .iter()
                    .map(|p| {
                        let what = match &p.kind {
                            ProbeKind::Exec { .. } => "ps + curl script".to_owned(),
                            ProbeKind::Process { .. } => "process tracking".to_owned(),
                            ProbeKind::Http { url } => format!("HTTP {url}"),
                        };
                        let weight = if p.weight == 0 {
                            "no weight (FAULT)".to_owned()
                        } else {
                            format!("weight {}", p.weight)
                        };
                        format!(
                            "{what} every {}, fall {}, rise {}, {weight}",
                            label(p.interval),
                            p.fall,
                            p.rise
                        )
                    })
                    .collect();
                let (m, b) = self.priorities();
                format!(
                    "{}; priorities {m}/{b}; adverts {}",
                    probes.join(" + "),
                    label(self.advert())
                )
            }
        }
    }
}

struct ServiceLab {
    lab: Lab,
}

/// One trial's numbers.
struct ServiceTrial {
    answered_ms: f64,
    vip_moved_ms: f64,
    failed_requests: f64,
}

impl ServiceLab {
    fn new(helper: &Path) -> Result<Self> {
        let lab = Lab::new(3)?;
        for n in 1..=2 {
            // The server runs as `web{n}`, or as `nginx` from a directory of its own.
            let dir = lab.dir().join(format!("h{n}"));
            std::fs::create_dir_all(&dir).map_err(file_err(&dir))?;
            for link in [lab.dir().join(format!("web{n}")), dir.join("nginx")] {
                std::os::unix::fs::symlink(helper, &link).map_err(file_err(&link))?;
            }
            let script = Self::script_path(&lab, n);
            let text = CHECK_SCRIPT
                .replace("@NAME@", &format!("web{n}"))
                .replace("@PORT@", &PORT.to_string());
            std::fs::write(&script, text).map_err(file_err(&script))?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
                .map_err(file_err(&script))?;
        }
        Ok(Self { lab })
    }

    fn script_path(lab: &Lab, n: usize) -> PathBuf {
        lab.dir().join(format!("check-h{n}.sh"))
    }

    /// Starts host `n`'s server under process name `name` (`web{n}` or `nginx`).
    fn start_backend(&self, n: usize, name: &str) -> Result<ChildGuard> {
        let host = self.lab.host(n)?;
        let link = if name == "nginx" {
            self.lab.dir().join(format!("h{n}")).join("nginx")
        } else {
            self.lab.dir().join(name)
        };
        let link = link.to_string_lossy().into_owned();
        let name = format!("h{n}");
        let port = PORT.to_string();
        let child = host.spawn(&[&link, "serve", "--port", &port, "--name", &name])?;
        let loopback: IpAddr = "127.0.0.1".parse().unwrap_or(VIP);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if host
                .in_ns(|| get(loopback, PORT, Duration::from_millis(200)))?
                .is_ok()
            {
                return Ok(child);
            }
            if Instant::now() >= deadline {
                return Err(BenchError::Timeout(format!(
                    "backend {link} on h{n} does not answer: {}",
                    child.log()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn trial(
        &self,
        implementation: &Implementation,
        variant: Variant,
        rng: &mut Rng,
    ) -> Result<Trial<ServiceTrial>> {
        let (h1, h2, h3) = (self.lab.host(1)?, self.lab.host(2)?, self.lab.host(3)?);
        for h in [h1, h2] {
            remove_vips(h, vrrp_lab::HOST_IFACE, &[VIP])?;
        }
        let web1 = self.start_backend(1, &variant.process_name(implementation, 1))?;
        let _web2 = self.start_backend(2, &variant.process_name(implementation, 2))?;
        let (s1, s2) = (
            Self::script_path(&self.lab, 1),
            Self::script_path(&self.lab, 2),
        );
        let mut master = variant.start(implementation, &self.lab, 1, &s1)?;
        let mut backup = variant.start(implementation, &self.lab, 2, &s2)?;
        let up = variant.node(1, &s1).instances[0].master_down_interval() + Duration::from_secs(5);
        if let Err(e) = wait_vips(h1, &[VIP], true, up) {
            if master.log().contains(KEEPALIVED_NO_PROC_EVENTS) {
                return Ok(Trial::Unsupported(unsupported_process_tracking()));
            }
            return Err(e);
        }
        if master.log().contains(KEEPALIVED_NO_PROC_EVENTS) {
            return Ok(Trial::Unsupported(unsupported_process_tracking()));
        }
        // Probes healthy for a while and the backup settled.
        let settle =
            (variant.advert() * 3).max(variant.probe_period() * 2) + Duration::from_millis(200);
        std::thread::sleep(settle);
        if h2.has_address(VIP)? || !h1.has_address(VIP)? {
            let tail = |d: &Daemon| {
                let log = d.log();
                let lines: Vec<&str> = log.lines().rev().take(8).collect();
                lines.into_iter().rev().collect::<Vec<_>>().join("\n")
            };
            return Err(BenchError::Invalid(format!(
                "the VIP is not (only) on the master before the kill; master log:\n{}\nbackup log:\n{}",
                tail(&master),
                tail(&backup)
            )));
        }
        let watch = h2.watch_addresses()?;
        let stop = AtomicBool::new(false);
        let log: Mutex<Vec<Request>> = Mutex::new(Vec::new());
        let outcome = std::thread::scope(|s| -> Result<(SystemTime, SystemTime)> {
            let client = s.spawn(|| {
                h3.in_ns(|| client_loop(VIP, PORT, PERIOD, REQUEST_TIMEOUT, &stop, &log))
            });
            let result = (|| {
                std::thread::sleep(Duration::from_millis(300));
                std::thread::sleep(rng.duration_below(variant.probe_period()));
                let moment = web1.kill_timed()?;
                let signal = moment.realtime;
                let moved = watch
                    .wait_for(Duration::from_secs(20), |e| {
                        e.added && e.ip == VIP && e.at >= signal
                    })
                    .ok_or_else(|| {
                        BenchError::Timeout("the VIP did not move within 20 s".into())
                    })?;
                // The client's first answer from h2.
                let deadline = Instant::now() + Duration::from_secs(5);
                while !answered_by_h2(&log, signal) {
                    if Instant::now() >= deadline {
                        return Err(BenchError::Timeout(
                            "the VIP moved but the client got no answer from h2".into(),
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                std::thread::sleep(Duration::from_millis(50));
                Ok((signal, moved.at))
            })();
            stop.store(true, Ordering::Relaxed);
            let joined = client.join();
            let result = result?;
            match joined {
                Ok(r) => r?,
                Err(_) => return Err(BenchError::Invalid("client thread panicked".into())),
            }
            Ok(result)
        });
        master.crash()?;
        backup.crash()?;
        drop(web1);
        let (signal, moved) = outcome?;
        let requests = log.into_inner().unwrap_or_default();
        analyse(&requests, signal, moved).map(Trial::Done)
    }
}

fn unsupported_process_tracking() -> String {
    format!(
        "keepalived's vrrp_track_process needs the kernel's process-event connector, which exists only in the initial network namespace: in a lab namespace keepalived logs \"{KEEPALIVED_NO_PROC_EVENTS} - errno 111\" and the tracked process never counts as running"
    )
}

fn answered_by_h2(log: &Mutex<Vec<Request>>, since: SystemTime) -> bool {
    log.lock().is_ok_and(|l| {
        l.iter()
            .any(|r| r.started >= since && r.outcome.as_deref() == Ok("h2"))
    })
}

fn analyse(requests: &[Request], signal: SystemTime, moved: SystemTime) -> Result<ServiceTrial> {
    let before: Vec<&Request> = requests.iter().filter(|r| r.ended < signal).collect();
    if before.is_empty()
        || before
            .iter()
            .rev()
            .take(5)
            .any(|r| r.outcome.as_deref() != Ok("h1"))
    {
        return Err(BenchError::Invalid(
            "the client was not being answered by h1 before the kill".into(),
        ));
    }
    let first_h2 = requests
        .iter()
        .find(|r| r.started >= signal && r.outcome.as_deref() == Ok("h2"))
        .ok_or_else(|| BenchError::Invalid("no answer from h2".into()))?;
    let failed = requests
        .iter()
        .filter(|r| r.ended >= signal && r.started < first_h2.started && r.outcome.is_err())
        .count();
    Ok(ServiceTrial {
        answered_ms: ms(first_h2.ended, signal),
        vip_moved_ms: ms(moved, signal),
        failed_requests: failed as f64,
    })
}

/// Runs measure 3.
pub fn service_death(settings: &Settings, rng: &mut Rng) -> Result<Vec<CaseResult>> {
    let variants: &[Variant] = if settings.smoke {
        &[Variant::ShippedExample]
    } else {
        &Variant::ALL
    };
    let lab = ServiceLab::new(&settings.helper)?;
    let mut out = Vec::new();
    for &variant in variants {
        let mut cases: Vec<CaseResult> = settings
            .implementations
            .iter()
            .map(|imp| {
                let mut r = CaseResult::new("service-death", variant.name(), imp.name());
                let (master, backup) = variant.priorities();
                r.set("variant", variant.name());
                r.set("config", variant.describe(imp));
                r.set("advert_interval_ms", dur_ms(variant.advert()));
                r.set("master_priority", master);
                r.set("backup_priority", backup);
                r.set("client_period_ms", dur_ms(PERIOD));
                r.set("client_timeout_ms", dur_ms(REQUEST_TIMEOUT));
                r.set("trials", settings.trials);
                r
            })
            .collect();
        settings.say(format!("service-death {}:", variant.name()));
        let trials = interleaved(settings, &mut cases, settings.trials, |t, imp| {
            let trial = lab.trial(imp, variant, rng)?;
            if let Trial::Done(d) = &trial {
                settings.say(format!(
                    "  {} trial {}: answered by the backup after {:.0} ms, {} requests failed",
                    imp.name(),
                    t + 1,
                    d.answered_ms,
                    d.failed_requests
                ));
            }
            Ok(trial)
        });
        for (r, trials) in cases.iter_mut().zip(&trials) {
            r.metric(
                "answered_ms",
                "ms",
                "backend SIGKILL on the master → the client's first answer from the backup through the VIP",
                trials.iter().map(|t| t.answered_ms).collect(),
            );
            r.metric(
                "vip_moved_ms",
                "ms",
                "backend SIGKILL → the VIP installed on the backup (rtnetlink)",
                trials.iter().map(|t| t.vip_moved_ms).collect(),
            );
            r.metric(
                "failed_requests",
                "count",
                "client requests (one per 10 ms, 100 ms timeout) that failed between the kill and the first answer from the backup",
                trials.iter().map(|t| t.failed_requests).collect(),
            );
        }
        out.extend(cases);
    }
    drop(lab);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_makes_valid_configs_for_both() {
        let script = Path::new("/tmp/check-h1.sh");
        for v in Variant::ALL {
            for n in [1, 2] {
                let spec = v.node(n, script);
                crate::vrrpd::render_toml(&spec, Path::new("/tmp/s.sock")).unwrap();
                spec.to_keepalived().unwrap().render().unwrap();
            }
        }
        // A weight of −10 moves the VIP: 100 − 10 < 95.
        let (m, b) = Variant::ClassicScript.priorities();
        assert!(i32::from(m) + WEIGHT < i32::from(b));
    }

    #[test]
    fn the_shipped_example_is_valid_and_matches_the_lab() {
        for text in [EXAMPLE_MASTER, EXAMPLE_BACKUP] {
            let c = vrrp_config::LoadedConfig::parse("example.toml", text)
                .unwrap()
                .config;
            let i = &c.instances[0];
            assert_eq!(i.interface, vrrp_lab::HOST_IFACE);
            assert_eq!(i.virtual_ips[0].addr, VIP);
            assert_eq!(i.advert_interval, Variant::ShippedExample.advert());
        }
        let (m, b) = Variant::ShippedExample.priorities();
        assert!(EXAMPLE_MASTER.contains(&format!("priority = {m}")));
        assert!(EXAMPLE_BACKUP.contains(&format!("priority = {b}")));
        assert!(EXAMPLE_MASTER.contains("process = \"nginx\""));
    }

    fn req(start_ms: u64, end_ms: u64, outcome: Result<&str, &str>) -> Request {
        let t = |ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
        Request {
            started: t(start_ms),
            ended: t(end_ms),
            outcome: outcome.map(str::to_owned).map_err(str::to_owned),
        }
    }

    #[test]
    fn failed_requests_are_counted_between_the_kill_and_the_first_answer() {
        let signal = SystemTime::UNIX_EPOCH + Duration::from_millis(1000);
        let mut requests: Vec<Request> = (0..10)
            .map(|i| req(900 + i * 10, 901 + i * 10, Ok("h1")))
            .collect();
        requests.push(req(1000, 1001, Err("refused")));
        requests.push(req(1010, 1110, Err("timeout")));
        requests.push(req(1120, 1122, Ok("h2")));
        let t = analyse(&requests, signal, signal + Duration::from_millis(100)).unwrap();
        assert_eq!(t.failed_requests, 2.0);
        assert_eq!(t.answered_ms, 122.0);
        assert_eq!(t.vip_moved_ms, 100.0);
        // Not answered by h1 before: invalid.
        assert!(analyse(&requests[10..], signal, signal).is_err());
    }
}
