//! The measures of the lab benchmark (issue 8), and what they share.

pub mod clock;
pub mod failover;
pub mod scale;
pub mod service;
pub mod stalls;
pub mod timer;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use vrrp_lab::Host;

use crate::daemon::Implementation;
use crate::error::{BenchError, Result};
use crate::report::{CaseResult, Status};

/// Which measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Measure {
    /// 1: SIGKILL of the master → the backup's first advert; overshoot over the RFC bound.
    HostDeath,
    /// 2: the backup's first advert as master → VIPs installed → first announcement.
    Takeover,
    /// 3: the HTTP backend on the master killed → the VIP answered by the backup.
    ServiceDeath,
    /// 4: SIGTERM of the master → the VIP on the backup.
    GracefulStop,
    /// 5: many instances in one daemon: CPU, RSS, start-up, advert gaps.
    Scale,
    /// 6: the master's inter-advert gaps, idle and with every core busy.
    Timer,
    /// The machine itself: how long the CPU leaves a thread that just woke with work to do
    /// (what no daemon can do better than; `docs/performance.md`).
    Stalls,
}

impl Measure {
    /// Every measure, in the order.
    pub const ALL: [Measure; 7] = [
        Measure::HostDeath,
        Measure::Takeover,
        Measure::ServiceDeath,
        Measure::GracefulStop,
        Measure::Scale,
        Measure::Timer,
        Measure::Stalls,
    ];

    /// Its command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Measure::HostDeath => "host-death",
            Measure::Takeover => "takeover",
            Measure::ServiceDeath => "service-death",
            Measure::GracefulStop => "graceful-stop",
            Measure::Scale => "scale",
            Measure::Timer => "timer",
            Measure::Stalls => "stalls",
        }
    }

    /// The measure named `name`.
    pub fn from_name(name: &str) -> Option<Measure> {
        Measure::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// What a run does.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Smoke mode: few trials, one size per measure.
    pub smoke: bool,
    /// Trials per timing case.
    pub trials: usize,
    /// The measures to run.
    pub measures: Vec<Measure>,
    /// The implementations to compare, in the same labs, trial by trial.
    pub implementations: Vec<Implementation>,
    /// The harness binary (run inside hosts as `serve` and `spin`).
    pub helper: PathBuf,
    /// Seed of the kill moments.
    pub seed: u64,
    /// Print progress on stderr.
    pub verbose: bool,
}

impl Settings {
    /// Prints a progress line when verbose.
    pub fn say(&self, line: impl AsRef<str>) {
        if self.verbose {
            eprintln!("{}", line.as_ref());
        }
    }
}

/// Milliseconds from `earlier` to `later` (negative if `later` is earlier).
pub fn ms(later: SystemTime, earlier: SystemTime) -> f64 {
    match later.duration_since(earlier) {
        Ok(d) => d.as_secs_f64() * 1e3,
        Err(e) => -e.duration().as_secs_f64() * 1e3,
    }
}

/// Milliseconds of a duration.
pub fn dur_ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `1s`, `100ms`, `10ms`.
pub fn label(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// Removes `vips` from `host`'s interface `dev` if present, whatever their prefix length (what
/// a crashed daemon left behind).
pub fn remove_vips(host: &Host, dev: &str, vips: &[IpAddr]) -> Result<()> {
    let present: Vec<_> = host
        .addresses(dev)?
        .into_iter()
        .filter(|a| vips.contains(&a.ip))
        .collect();
    if present.is_empty() {
        return Ok(());
    }
    let mut batch = String::new();
    for a in &present {
        batch.push_str(&format!("addr del {}/{} dev {dev}\n", a.ip, a.prefix_len));
    }
    let mut child = host
        .command(&["ip", "-force", "-batch", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|source| BenchError::File {
            path: "ip -batch".into(),
            source,
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        let _ = stdin.write_all(batch.as_bytes());
    }
    let _ = child.wait();
    if host.addresses(dev)?.iter().any(|a| vips.contains(&a.ip)) {
        return Err(BenchError::Invalid(format!(
            "cannot remove old VIPs from {dev} in {}",
            host.namespace()
        )));
    }
    Ok(())
}

/// Waits until every address of `vips` is on `host` (or, with `present = false`, none is).
pub fn wait_vips(host: &Host, vips: &[IpAddr], present: bool, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let have: Vec<IpAddr> = host.all_addresses()?.into_iter().map(|a| a.ip).collect();
        let ok = if present {
            vips.iter().all(|v| have.contains(v))
        } else {
            vips.iter().all(|v| !have.contains(v))
        };
        if ok {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(BenchError::Timeout(format!(
                "{} VIPs {} on {} after {timeout:?}",
                vips.len(),
                if present { "not all" } else { "still" },
                host.namespace()
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Stops `capture`; an error if the kernel dropped frames (then gaps and "first advert"
/// times would be wrong).
pub fn stop_capture(capture: vrrp_lab::Capture) -> Result<Vec<vrrp_lab::CapturedPacket>> {
    let (packets, dropped) = capture.stop_with_drops()?;
    if dropped > 0 {
        return Err(BenchError::Invalid(format!(
            "the capture lost {dropped} frames (kernel drops)"
        )));
    }
    Ok(packets)
}

/// The outcome of one trial.
pub enum Trial<T> {
    /// Measured.
    Done(T),
    /// The implementation cannot do this; the reason.
    Unsupported(String),
}

/// Runs `trials` trials of every implementation, interleaved (trial 1 of each, then trial 2
/// of each, ...) so that slow drifts of the machine hit both alike. A failed trial is
/// recorded and the next one runs; a case whose trials mostly fail is marked failed.
pub fn interleaved<T>(
    settings: &Settings,
    cases: &mut [CaseResult],
    trials: usize,
    mut trial: impl FnMut(usize, &Implementation) -> Result<Trial<T>>,
) -> Vec<Vec<T>> {
    let n = settings.implementations.len();
    let mut done: Vec<Vec<T>> = (0..n).map(|_| Vec::new()).collect();
    for t in 0..trials {
        for (i, imp) in settings.implementations.iter().enumerate() {
            let case = &mut cases[i];
            if case.status == Status::Unsupported {
                continue;
            }
            match trial(t, imp) {
                Ok(Trial::Done(value)) => done[i].push(value),
                Ok(Trial::Unsupported(why)) => {
                    settings.say(format!(
                        "  {} {} {}: unsupported: {why}",
                        case.measure, case.case, case.implementation
                    ));
                    case.status = Status::Unsupported;
                    case.note = Some(why);
                }
                Err(e) => {
                    settings.say(format!(
                        "  {} {} {} trial {}: FAILED: {e}",
                        case.measure,
                        case.case,
                        case.implementation,
                        t + 1
                    ));
                    case.failures.push(format!("trial {}: {e}", t + 1));
                }
            }
        }
    }
    for case in cases.iter_mut() {
        if case.status == Status::Ok && case.failures.len() * 2 > trials {
            case.status = Status::Failed;
        }
    }
    done
}
