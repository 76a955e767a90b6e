//! Benchmark harnesses for vrrp-rs (see docs/performance.md).
//!
//! The lab benchmark (`vrrp-lab-bench`) runs keepalived and vrrpd in the same
//! network-namespace lab ([`vrrp_lab`]), with the same settings ([`daemon::NodeSpec`] is
//! written out in each one's format), in the same run, trial by trial interleaved, and
//! measures what issue 8 asks: host death, takeover, service death, graceful stop, scale and
//! timer accuracy ([`measures`]). Each run writes `results.json` ([`report::RunReport`]:
//! machine, versions, settings, every sample and min / median / p99 / max) and SVG plots
//! ([`plot`]) into a directory of its own.
//!
//! ```no_run
//! use vrrp_benches::daemon::Implementation;
//! use vrrp_benches::measures::{Measure, Settings};
//!
//! # fn main() -> Result<(), vrrp_benches::BenchError> {
//! let settings = Settings {
//!     smoke: true,
//!     trials: 3,
//!     measures: vec![Measure::HostDeath],
//!     implementations: vec![Implementation::Keepalived],
//!     helper: std::env::current_exe().unwrap(), // a binary with `serve` and `spin`
//!     seed: 1,
//!     verbose: false,
//! };
//! let report = vrrp_benches::run(&settings, vec![], vec![])?;
//! let dir = report.write(std::path::Path::new("/tmp/results"))?;
//! vrrp_benches::plot::render_all(&report, &dir)?;
//! # Ok(())
//! # }
//! ```

pub mod backend;
pub mod daemon;
mod error;
pub mod frames;
pub mod machine;
pub mod measures;
pub mod plot;
pub mod procstat;
pub mod report;
pub mod rng;
pub mod stats;
pub mod vrrpd;

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub use error::{BenchError, Result};

use measures::{Measure, Settings};
use report::{CaseResult, RunReport, Status};
use rng::Rng;

/// Runs every measure of `settings` and returns the report (not yet written). A measure that
/// fails as a whole (its lab cannot be built, say) is recorded as a failed case and the run
/// goes on. `command` and `notes` go into the report as they are.
pub fn run(settings: &Settings, command: Vec<String>, notes: Vec<String>) -> Result<RunReport> {
    let (mono0, real0) = (Instant::now(), SystemTime::now());
    let unix = real0.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let started_utc = report::utc(unix);
    let mode = if settings.smoke { "smoke" } else { "full" };
    let load_start = machine::load_average();
    let mut notes = notes;
    let mut clock_check = match measures::clock::check() {
        Ok(c) => {
            if !c.ok {
                notes.push("the clock check failed: capture and harness clocks disagree".into());
            }
            Some(c)
        }
        Err(e) => {
            notes.push(format!("clock check failed: {e}"));
            None
        }
    };
    let mut rng = Rng::new(settings.seed);
    let mut results = Vec::new();
    for &measure in &settings.measures {
        settings.say(format!("== {}", measure.name()));
        let outcome = match measure {
            Measure::HostDeath => measures::failover::host_death(settings, &mut rng),
            Measure::Takeover => measures::failover::takeover(settings, &mut rng),
            Measure::ServiceDeath => measures::service::service_death(settings, &mut rng),
            Measure::GracefulStop => measures::failover::graceful_stop(settings, &mut rng),
            Measure::Scale => measures::scale::scale(settings),
            Measure::Timer => measures::timer::timer(settings),
            Measure::Stalls => measures::stalls::stalls(settings),
        };
        match outcome {
            Ok(cases) => results.extend(cases),
            Err(e) => {
                settings.say(format!("{} failed: {e}", measure.name()));
                let mut c = CaseResult::new(measure.name(), "all", "all");
                c.status = Status::Failed;
                c.failures.push(e.to_string());
                results.push(c);
            }
        }
    }
    let mono = mono0.elapsed();
    let real = SystemTime::now().duration_since(real0).unwrap_or_default();
    if let Some(c) = clock_check.as_mut() {
        c.realtime_drift_us = (real.as_secs_f64() - mono.as_secs_f64()) * 1e6;
        if c.realtime_drift_us.abs() > 1000.0 {
            c.ok = false;
            notes.push("the wall clock moved against the monotonic clock during the run".into());
        }
    }
    let mut versions = BTreeMap::new();
    for imp in &settings.implementations {
        if let Some(v) = imp.version() {
            versions.insert(imp.name().to_owned(), v);
        }
    }
    if !versions.contains_key("keepalived")
        && let Some(v) = machine::first_line(&["keepalived", "--version"])
    {
        versions.insert("keepalived".into(), v);
    }
    if let Some(v) = machine::first_line(&["tcpdump", "--version"]) {
        versions.insert("tcpdump".into(), v);
    }
    if let Some(v) = machine::first_line(&["git", "rev-parse", "HEAD"]) {
        versions.insert("vrrp-rs git revision".into(), v);
    }
    versions.insert("vrrp-benches".into(), env!("CARGO_PKG_VERSION").to_owned());
    Ok(RunReport {
        schema: report::SCHEMA,
        harness: "vrrp-lab-bench".into(),
        run_id: format!("{}-{mode}", started_utc.replace(':', "-")),
        started_utc,
        wall_seconds: mono.as_secs_f64(),
        mode: mode.into(),
        trials: settings.trials,
        seed: settings.seed,
        command,
        machine: machine::Machine::detect(),
        load_average: [load_start, machine::load_average()],
        versions,
        implementations: settings
            .implementations
            .iter()
            .map(|i| i.name().to_owned())
            .collect(),
        notes,
        clock_check,
        results,
    })
}
