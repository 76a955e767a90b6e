//! What the demo prints: a timeline per scenario and a summary for people, or one JSON
//! object (`{"scenarios": [...]}`) for programs.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use super::journal::Measurement;

/// The classic failover tests, in the order the demo runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The master's Nginx dies (SIGKILL).
    BackendDies,
    /// The master's VRRP daemon is stopped (SIGTERM).
    GracefulStop,
    /// The master's VRRP daemon is killed (SIGKILL).
    DaemonKilled,
}

impl Fault {
    /// Every scenario, in order.
    pub(crate) const ALL: [Fault; 3] =
        [Fault::BackendDies, Fault::GracefulStop, Fault::DaemonKilled];

    /// The name in the JSON.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Fault::BackendDies => "backend_dies",
            Fault::GracefulStop => "graceful_stop",
            Fault::DaemonKilled => "daemon_killed",
        }
    }

    /// What happens, for people.
    pub(crate) fn title(self) -> &'static str {
        match self {
            Fault::BackendDies => "the master's Nginx dies",
            Fault::GracefulStop => "the master's VRRP daemon stops gracefully",
            Fault::DaemonKilled => "the master's VRRP daemon is killed",
        }
    }

    /// The fault as a command on host 1 (`daemon`: `vrrpd` or `keepalived`).
    pub(crate) fn action(self, daemon: &str) -> String {
        match self {
            Fault::BackendDies => "SIGKILL to nginx (the lab's stand-in) on host 1".to_owned(),
            Fault::GracefulStop => format!("SIGTERM to {daemon} on host 1"),
            Fault::DaemonKilled => format!("SIGKILL to {daemon} on host 1"),
        }
    }
}

/// One scenario's result.
#[derive(Debug, Clone)]
pub(crate) struct ScenarioReport {
    /// Which scenario.
    pub(crate) fault: Fault,
    /// How long restoring the initial state took before it, or why it could not be restored
    /// (then the scenario did not run).
    pub(crate) restore: Result<Duration, String>,
    /// The numbers and timeline, if it ran.
    pub(crate) measurement: Option<Measurement>,
    /// Explanations worth reading next to the numbers.
    pub(crate) notes: Vec<String>,
}

impl ScenarioReport {
    /// The VIP moved to host 2 and the client was served steadily again.
    pub(crate) fn ok(&self) -> bool {
        self.restore.is_ok()
            && self
                .measurement
                .as_ref()
                .is_some_and(|m| m.vip_moved.is_some() && m.recovered)
    }
}

/// One lab run: a setup (vrrpd, or a keepalived variant) through every scenario.
#[derive(Debug, Clone)]
pub(crate) struct SuiteReport {
    /// Short name (`vrrpd`, `keepalived_article` ...).
    pub(crate) key: &'static str,
    /// What ran, for people.
    pub(crate) title: String,
    /// The lab's layout, for people.
    pub(crate) description: Vec<String>,
    /// The scenarios that ran (all of them unless a restore failed).
    pub(crate) scenarios: Vec<ScenarioReport>,
}

impl SuiteReport {
    /// Every scenario ran and was ok.
    pub(crate) fn ok(&self) -> bool {
        self.scenarios.len() == Fault::ALL.len() && self.scenarios.iter().all(ScenarioReport::ok)
    }
}

/// `75 ms` or `5.73 s`.
pub(crate) fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The suite's heading and lab layout.
pub(crate) fn header(suite: &SuiteReport) -> String {
    let mut out = format!("== {}\n", suite.title);
    for line in &suite.description {
        let _ = writeln!(out, "   {line}");
    }
    out
}

/// One scenario's block: how it was restored, its timeline and its numbers.
pub(crate) fn scenario(number: usize, daemon: &str, s: &ScenarioReport) -> String {
    let mut out = format!(
        "\n{number}. {} ({})\n",
        s.fault.title(),
        s.fault.action(daemon)
    );
    match &s.restore {
        Ok(took) => {
            let _ = writeln!(
                out,
                "   ready after {}: host 1 holds the VIP, the client is served by nginx-01",
                duration(*took)
            );
        }
        Err(why) => {
            let _ = writeln!(
                out,
                "   NOT RUN: the initial state could not be restored: {why}"
            );
            for note in &s.notes {
                let _ = writeln!(out, "   {note}");
            }
            return out;
        }
    }
    let Some(m) = &s.measurement else {
        return out;
    };
    let _ = writeln!(out, "   {:>9}  fault injected", "+0 ms");
    for moment in &m.timeline {
        let _ = writeln!(
            out,
            "   {:>9}  {}",
            format!("+{}", duration(moment.after)),
            moment.what
        );
    }
    let moved = match m.vip_moved {
        Some(d) => format!("VIP answered by host 2 after {}", duration(d)),
        None => "the VIP never moved to host 2".to_owned(),
    };
    let _ = writeln!(
        out,
        "   => {moved}; {} of {} client requests failed, client outage {}; {}",
        m.failed_requests,
        m.requests,
        duration(m.outage),
        if s.ok() { "ok" } else { "FAILED" }
    );
    let holders = match m.holders_at_end.as_slice() {
        [] => "nobody".to_owned(),
        [h] => format!("host {h}"),
        many => format!(
            "hosts {}",
            many.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" and ")
        ),
    };
    let _ = writeln!(out, "   VIP held by {holders} at the end");
    for note in &s.notes {
        let _ = writeln!(out, "   note: {note}");
    }
    out
}

/// One summary cell: `75 ms`, `never`.
fn moved_cell(s: &ScenarioReport) -> String {
    match (&s.restore, &s.measurement) {
        (Err(_), _) | (_, None) => "not run".to_owned(),
        (Ok(_), Some(m)) => m.vip_moved.map_or_else(|| "never".to_owned(), duration),
    }
}

/// The summary table: one row per scenario and setup.
pub(crate) fn summary(suites: &[&SuiteReport]) -> String {
    let mut out = String::from("\nSummary\n");
    let width = suites
        .iter()
        .map(|s| s.key.len())
        .max()
        .unwrap_or(5)
        .max("setup".len());
    let _ = writeln!(
        out,
        "   {:<46} {:<width$}  {:>9}  {:>15}  {:>9}  result",
        "scenario", "setup", "VIP moved", "failed requests", "outage"
    );
    for (i, fault) in Fault::ALL.iter().enumerate() {
        for (j, suite) in suites.iter().enumerate() {
            let name = if j == 0 {
                format!("{}. {}", i + 1, fault.title())
            } else {
                String::new()
            };
            let Some(s) = suite.scenarios.iter().find(|s| s.fault == *fault) else {
                let _ = writeln!(out, "   {name:<46} {:<width$}  {:>9}", suite.key, "not run");
                continue;
            };
            let (failed, outage) = s.measurement.as_ref().map_or_else(
                || ("-".to_owned(), "-".to_owned()),
                |m| (m.failed_requests.to_string(), duration(m.outage)),
            );
            let _ = writeln!(
                out,
                "   {name:<46} {:<width$}  {:>9}  {:>15}  {:>9}  {}",
                suite.key,
                moved_cell(s),
                failed,
                outage,
                if s.ok() { "ok" } else { "FAILED" }
            );
        }
    }
    out
}

/// One scenario as JSON.
fn scenario_json(s: &ScenarioReport) -> Value {
    let m = s.measurement.as_ref();
    json!({
        "name": s.fault.name(),
        "title": s.fault.title(),
        "vip_moved_ms": m.and_then(|m| m.vip_moved).map(millis),
        "client_failed_requests": m.map(|m| m.failed_requests),
        "client_requests": m.map(|m| m.requests),
        "client_outage_ms": m.map(|m| millis(m.outage)),
        "vip_holders_at_end": m.map(|m| m.holders_at_end.clone()),
        "restore_ms": s.restore.as_ref().ok().map(|d| millis(*d)),
        "ok": s.ok(),
        "notes": s.notes,
        "error": s.restore.as_ref().err(),
    })
}

/// Every scenario of a suite as JSON (the ones that did not run are listed, not ok).
fn scenarios_json(suite: &SuiteReport) -> Vec<Value> {
    Fault::ALL
        .iter()
        .map(
            |fault| match suite.scenarios.iter().find(|s| s.fault == *fault) {
                Some(s) => scenario_json(s),
                None => json!({
                    "name": fault.name(),
                    "title": fault.title(),
                    "vip_moved_ms": null,
                    "client_failed_requests": null,
                    "client_outage_ms": null,
                    "ok": false,
                    "error": "not run",
                }),
            },
        )
        .collect()
}

/// What `--with-keepalived` produced.
#[derive(Debug)]
pub(crate) enum Comparison {
    /// Not asked for.
    NotAsked,
    /// Asked for, but it could not run (keepalived missing, say).
    Skipped(String),
    /// The keepalived suites.
    Ran(Vec<SuiteReport>),
}

/// The demo's JSON: vrrpd's scenarios under `scenarios`, keepalived's under `comparisons`.
pub(crate) fn to_json(vrrpd: &SuiteReport, comparison: &Comparison) -> Value {
    let mut out = json!({
        "setup": vrrpd.title,
        "scenarios": scenarios_json(vrrpd),
        "ok": vrrpd.ok(),
    });
    match comparison {
        Comparison::NotAsked => {}
        Comparison::Skipped(why) => out["comparisons_skipped"] = json!(why),
        Comparison::Ran(suites) => {
            out["comparisons"] = suites
                .iter()
                .map(|s| {
                    json!({
                        "setup": s.key,
                        "title": s.title,
                        "scenarios": scenarios_json(s),
                    })
                })
                .collect();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(moved: Option<u64>, recovered: bool) -> ScenarioReport {
        ScenarioReport {
            fault: Fault::BackendDies,
            restore: Ok(Duration::from_millis(800)),
            measurement: Some(Measurement {
                vip_moved: moved.map(Duration::from_millis),
                failed_requests: 7,
                requests: 40,
                outage: Duration::from_millis(70),
                recovered,
                holders_at_end: vec![2],
                timeline: vec![],
            }),
            notes: vec![],
        }
    }

    #[test]
    fn a_scenario_is_ok_only_if_the_vip_moved_and_the_client_recovered() {
        assert!(measured(Some(75), true).ok());
        assert!(!measured(None, false).ok());
        assert!(!measured(Some(75), false).ok());
        let mut not_restored = measured(Some(75), true);
        not_restored.restore = Err("host 1 never took the VIP back".into());
        assert!(!not_restored.ok());
    }

    #[test]
    fn json_has_the_documented_keys_and_lists_missing_scenarios() {
        let suite = SuiteReport {
            key: "vrrpd",
            title: "vrrpd".into(),
            description: vec![],
            scenarios: vec![measured(Some(75), true)],
        };
        assert!(!suite.ok());
        let v = to_json(&suite, &Comparison::Skipped("no keepalived".into()));
        let s = &v["scenarios"];
        assert_eq!(s.as_array().map(Vec::len), Some(3));
        assert_eq!(s[0]["name"], "backend_dies");
        assert_eq!(s[0]["vip_moved_ms"], 75);
        assert_eq!(s[0]["client_failed_requests"], 7);
        assert_eq!(s[0]["client_outage_ms"], 70);
        assert_eq!(s[0]["ok"], true);
        assert_eq!(s[1]["name"], "graceful_stop");
        assert_eq!(s[1]["ok"], false);
        assert_eq!(s[2]["name"], "daemon_killed");
        assert_eq!(v["ok"], false);
        assert_eq!(v["comparisons_skipped"], "no keepalived");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(Duration::from_millis(75)), "75 ms");
        assert_eq!(duration(Duration::from_millis(5734)), "5.73 s");
    }

    #[test]
    fn the_summary_names_every_setup_per_scenario() {
        let vrrpd = SuiteReport {
            key: "vrrpd",
            title: String::new(),
            description: vec![],
            scenarios: vec![measured(Some(75), true)],
        };
        let article = SuiteReport {
            key: "keepalived_article",
            title: String::new(),
            description: vec![],
            scenarios: vec![measured(None, false)],
        };
        let text = summary(&[&vrrpd, &article]);
        assert!(text.contains("1. the master's Nginx dies"), "{text}");
        let rows: Vec<&str> = text.lines().filter(|l| l.contains("vrrpd ")).collect();
        assert_eq!(rows.len(), 3, "{text}");
        assert!(
            rows[0].contains("75 ms") && rows[0].ends_with("ok"),
            "{text}"
        );
        let article_row = text
            .lines()
            .find(|l| l.contains("keepalived_article") && l.contains("never"));
        assert!(article_row.is_some_and(|l| l.ends_with("FAILED")), "{text}");
    }
}
