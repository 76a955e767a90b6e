//! The result file of a run: machine, versions, settings, and every case's samples and
//! summaries.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Result, file_err};
use crate::machine::Machine;
use crate::stats::Summary;

/// Version of the result file's layout.
pub const SCHEMA: u32 = 1;

/// How a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Status {
    /// Measured.
    Ok,
    /// The implementation cannot do this case (no such feature, or not in a lab); `note`
    /// says why.
    Unsupported,
    /// Too many trials failed; `failures` says how.
    Failed,
}

/// One measured quantity of a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Its name (`failover_ms`, ...).
    pub name: String,
    /// What it means, in a few words.
    pub description: String,
    /// Unit of the samples.
    pub unit: String,
    /// min / median / p99 / max, when there are samples.
    pub summary: Option<Summary>,
    /// Every sample, in trial order.
    pub samples: Vec<f64>,
}

/// One case (measure × settings × implementation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseResult {
    /// The measure (`host-death`, ...).
    pub measure: String,
    /// The settings in a few words (`IPv4 100ms`).
    pub case: String,
    /// `keepalived` or `vrrpd`.
    pub implementation: String,
    /// Every setting, by name.
    pub settings: BTreeMap<String, Value>,
    /// How it ended.
    pub status: Status,
    /// A remark (why unsupported, what a number means).
    pub note: Option<String>,
    /// The numbers.
    pub metrics: Vec<Metric>,
    /// Errors of trials that failed.
    pub failures: Vec<String>,
}

impl CaseResult {
    /// A case with no metrics yet.
    pub fn new(measure: &str, case: &str, implementation: &str) -> Self {
        Self {
            measure: measure.into(),
            case: case.into(),
            implementation: implementation.into(),
            settings: BTreeMap::new(),
            status: Status::Ok,
            note: None,
            metrics: Vec::new(),
            failures: Vec::new(),
        }
    }

    /// Records a setting.
    pub fn set(&mut self, name: &str, value: impl Into<Value>) {
        self.settings.insert(name.into(), value.into());
    }

    /// Adds a metric from its samples.
    pub fn metric(&mut self, name: &str, unit: &str, description: &str, samples: Vec<f64>) {
        self.metrics.push(Metric {
            name: name.into(),
            description: description.into(),
            unit: unit.into(),
            summary: Summary::of(&samples),
            samples,
        });
    }

    /// The metric named `name`.
    pub fn get(&self, name: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.name == name)
    }
}

/// The clock check of a run: how capture timestamps compare with the harness's clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClockCheck {
    /// What was done.
    pub method: String,
    /// Capture time minus the wall-clock time read right before each send, in µs.
    pub offsets_us: Option<Summary>,
    /// How late the rtnetlink address watcher stamps an address: its stamp minus the wall
    /// clock read right before the harness's own RTM_NEWADDR request, in µs. Every "VIP
    /// installed" time is late by about this much.
    pub address_watch_latency_us: Option<Summary>,
    /// (realtime elapsed) − (monotonic elapsed) over the whole run, in µs: non-zero when the
    /// wall clock was stepped or slewed during the run.
    pub realtime_drift_us: f64,
    /// Whether the clocks agree well enough for the timings (every offset within 0..1 ms,
    /// drift below 1 ms).
    pub ok: bool,
}

/// A whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    /// Layout version.
    pub schema: u32,
    /// The harness.
    pub harness: String,
    /// Run id (also the directory name).
    pub run_id: String,
    /// UTC start time.
    pub started_utc: String,
    /// Wall time of the whole run, in seconds.
    pub wall_seconds: f64,
    /// `smoke` or `full`.
    pub mode: String,
    /// Trials per timing case.
    pub trials: usize,
    /// Seed of the kill moments.
    pub seed: u64,
    /// The command line.
    pub command: Vec<String>,
    /// The machine.
    pub machine: Machine,
    /// /proc/loadavg when the run started and when it ended: the machine may be shared.
    pub load_average: [String; 2],
    /// Versions: keepalived, vrrpd, tcpdump, kernel, git revision.
    pub versions: BTreeMap<String, String>,
    /// The implementations measured.
    pub implementations: Vec<String>,
    /// Remarks (an implementation left out, and why).
    pub notes: Vec<String>,
    /// The clock check.
    pub clock_check: Option<ClockCheck>,
    /// Every case.
    pub results: Vec<CaseResult>,
}

impl RunReport {
    /// Reads a results.json.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(file_err(path))?;
        Ok(serde_json::from_str(&text)?)
    }

    /// Writes `DIR/RUN_ID/results.json` and `summary.md` ([`markdown`](RunReport::markdown))
    /// and returns that directory.
    pub fn write(&self, out: &Path) -> Result<PathBuf> {
        let dir = out.join(&self.run_id);
        std::fs::create_dir_all(&dir).map_err(file_err(&dir))?;
        let path = dir.join("results.json");
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(&path, text + "\n").map_err(file_err(&path))?;
        self.write_summary(&dir)?;
        Ok(dir)
    }

    /// Writes `dir/summary.md`.
    pub fn write_summary(&self, dir: &Path) -> Result<PathBuf> {
        let path = dir.join("summary.md");
        std::fs::write(&path, self.markdown()).map_err(file_err(&path))?;
        Ok(path)
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a Unix time.
pub fn utc(unix_seconds: u64) -> String {
    let days = (unix_seconds / 86_400) as i64;
    let rem = unix_seconds % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `value` with a sensible number of digits.
fn fmt(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 0.1 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

impl RunReport {
    /// A Markdown summary: one table per measure, a row per case, metric and
    /// implementation, with min / median / p99 / max (what docs/performance.md quotes).
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "# Lab benchmark run {}\n\n{} mode, {} trials per timing case, seed {}, {:.0} s wall time; \
             {} on {} × {} ({} MiB), kernel {}; load average {} at the start, {} at the end.\n",
            self.run_id,
            self.mode,
            self.trials,
            self.seed,
            self.wall_seconds,
            self.implementations.join(" and "),
            self.machine.cpus,
            self.machine.cpu_model,
            self.machine.memory_mib,
            self.machine.kernel,
            self.load_average[0],
            self.load_average[1],
        );
        for (name, version) in &self.versions {
            out.push_str(&format!("- {name}: {version}\n"));
        }
        if let Some(c) = &self.clock_check
            && let Some(s) = c.offsets_us
        {
            out.push_str(&format!(
                    "- clock check: capture − send {}..{} µs (median {}), address watch latency median {} µs, wall-clock drift {} µs, ok: {}\n",
                    fmt(s.min),
                    fmt(s.max),
                    fmt(s.median),
                    c.address_watch_latency_us.map_or("?".into(), |l| fmt(l.median)),
                    fmt(c.realtime_drift_us),
                    c.ok
                ));
        }
        for note in &self.notes {
            out.push_str(&format!("- note: {note}\n"));
        }
        let mut measures: Vec<&str> = Vec::new();
        for r in &self.results {
            if !measures.contains(&r.measure.as_str()) {
                measures.push(&r.measure);
            }
        }
        for measure in measures {
            out.push_str(&format!(
                "\n## {measure}\n\n| case | metric | implementation | n | min | median | p99 | max |\n|---|---|---|---|---|---|---|---|\n"
            ));
            for r in self.results.iter().filter(|r| r.measure == measure) {
                if r.status != Status::Ok {
                    let why = r
                        .note
                        .clone()
                        .or_else(|| r.failures.first().cloned())
                        .unwrap_or_default();
                    out.push_str(&format!(
                        "| {} | | {} | {:?}: {} | | | | |\n",
                        r.case, r.implementation, r.status, why
                    ));
                    continue;
                }
                for m in &r.metrics {
                    match m.summary {
                        Some(s) => out.push_str(&format!(
                            "| {} | {} ({}) | {} | {} | {} | {} | {} | {} |\n",
                            r.case,
                            m.name,
                            m.unit,
                            r.implementation,
                            s.n,
                            fmt(s.min),
                            fmt(s.median),
                            fmt(s.p99),
                            fmt(s.max)
                        )),
                        None => out.push_str(&format!(
                            "| {} | {} ({}) | {} | 0 | | | | |\n",
                            r.case, m.name, m.unit, r.implementation
                        )),
                    }
                }
                if !r.failures.is_empty() {
                    out.push_str(&format!(
                        "| {} | failed trials | {} | {} | | | | |\n",
                        r.case,
                        r.implementation,
                        r.failures.len()
                    ));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn the_summary_has_a_row_per_metric_and_says_why_a_case_is_missing() {
        let mut ok = CaseResult::new("host-death", "IPv4 10ms", "keepalived");
        ok.metric("overshoot_ms", "ms", "", vec![0.5, 0.1, 0.2]);
        let mut no = CaseResult::new("host-death", "IPv4 10ms", "vrrpd");
        no.status = Status::Unsupported;
        no.note = Some("no such thing".into());
        let report = RunReport {
            schema: SCHEMA,
            harness: "t".into(),
            run_id: "r".into(),
            started_utc: utc(0),
            wall_seconds: 1.0,
            mode: "smoke".into(),
            trials: 3,
            seed: 1,
            command: vec![],
            machine: Machine::detect(),
            load_average: ["0 0 0".into(), "0 0 0".into()],
            versions: BTreeMap::new(),
            implementations: vec!["keepalived".into(), "vrrpd".into()],
            notes: vec![],
            clock_check: None,
            results: vec![ok, no],
        };
        let md = report.markdown();
        assert!(md.contains("## host-death"), "{md}");
        assert!(
            md.contains(
                "| IPv4 10ms | overshoot_ms (ms) | keepalived | 3 | 0.10 | 0.20 | 0.50 | 0.50 |"
            ),
            "{md}"
        );
        assert!(
            md.contains("| IPv4 10ms | | vrrpd | Unsupported: no such thing |"),
            "{md}"
        );
    }

    #[test]
    fn cases_collect_metrics() {
        let mut c = CaseResult::new("host-death", "IPv4 100ms", "keepalived");
        c.set("interval_ms", 100);
        c.metric(
            "failover_ms",
            "ms",
            "signal to first advert",
            vec![3.0, 1.0, 2.0],
        );
        let m = c.get("failover_ms").unwrap();
        assert_eq!(m.summary.unwrap().median, 2.0);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["status"], "ok");
        assert_eq!(json["metrics"][0]["summary"]["n"], 3);
    }
}
