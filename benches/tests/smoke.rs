//! CI smoke test of the lab benchmark: `vrrp-lab-bench --smoke`, every measure, 3 trials, one
//! size each (about a minute), keepalived and vrrpd side by side, so the harness never rots.
//! Needs root and keepalived; fails instead of skipping when `CI` is set.
//!
//! vrrpd is the `vrrpd` binary of this target directory (`cargo test --workspace` builds it
//! before running tests, since bins/vrrpd has tests of its own). Run alone (`cargo test -p
//! vrrp-benches`) without it, the test measures keepalived only and says so; under `CI` a
//! missing vrrpd fails the test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use vrrp_lab::keepalived::require_keepalived;

fn samples(case: &Value, metric: &str) -> Vec<f64> {
    let m = case["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == metric)
        .unwrap_or_else(|| panic!("no metric {metric} in {case}"));
    m["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            v.as_f64()
                .unwrap_or_else(|| panic!("{metric}: {v} is not a number"))
        })
        .collect()
}

fn setting(case: &Value, name: &str) -> f64 {
    case["settings"][name]
        .as_f64()
        .unwrap_or_else(|| panic!("no setting {name} in {case}"))
}

fn cases<'a>(report: &'a Value, measure: &str) -> Vec<&'a Value> {
    let found: Vec<&Value> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["measure"] == measure)
        .collect();
    assert!(!found.is_empty(), "no {measure} results");
    found
}

#[test]
fn the_smoke_run_measures_every_case_of_both_implementations_and_writes_json_and_plots() {
    if !vrrp_lab::require_root() || !require_keepalived() {
        return;
    }
    let bench = Path::new(env!("CARGO_BIN_EXE_vrrp-lab-bench"));
    let vrrpd = bench.with_file_name("vrrpd");
    let with_vrrpd = vrrp_benches::daemon::vrrpd_has_run(&vrrpd);
    if !with_vrrpd {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is missing (or has no `run`) and CI is set",
            vrrpd.display()
        );
        eprintln!(
            "{} not built: measuring keepalived only (build it with `cargo build -p vrrpd`)",
            vrrpd.display()
        );
    }
    let out = std::env::temp_dir().join(format!("vrrp-bench-smoke-{}", std::process::id()));
    let mut command = Command::new(bench);
    command.args(["--smoke", "--seed", "8", "--implementation", "keepalived"]);
    if with_vrrpd {
        command
            .args(["--implementation", "vrrpd", "--vrrpd"])
            .arg(&vrrpd);
    }
    let status = command.arg("--out").arg(&out).status().unwrap();
    assert!(status.success(), "{status}");
    let dirs: Vec<_> = std::fs::read_dir(&out).unwrap().flatten().collect();
    assert_eq!(dirs.len(), 1, "one directory per run");
    let dir = dirs[0].path();
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    // Plots, one per measure (scale has two).
    for file in [
        "host-death.svg",
        "takeover.svg",
        "service-death.svg",
        "graceful-stop.svg",
        "timer.svg",
        "scale-cpu.svg",
        "scale-rss.svg",
    ] {
        let svg = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        assert!(
            svg.starts_with("<svg") && svg.contains("keepalived"),
            "{file}"
        );
        assert!(!with_vrrpd || svg.contains("vrrpd"), "{file}");
    }
    let svg = std::fs::read_to_string(dir.join("stalls.svg")).unwrap_or_default();
    assert!(
        svg.starts_with("<svg") && svg.contains("machine"),
        "stalls.svg"
    );
    let _ = std::fs::remove_dir_all(&out);

    assert_eq!(report["schema"], 1);
    assert_eq!(report["mode"], "smoke");
    assert_eq!(report["trials"], 3);
    let implementations = if with_vrrpd {
        serde_json::json!(["keepalived", "vrrpd"])
    } else {
        serde_json::json!(["keepalived"])
    };
    assert_eq!(report["implementations"], implementations);
    assert!(
        report["versions"]["keepalived"]
            .as_str()
            .unwrap()
            .contains("Keepalived v2")
    );
    assert!(report["machine"]["cpus"].as_u64().unwrap() >= 1);
    // The capture clock is the harness's wall clock: frames are stamped after the send,
    // within a millisecond.
    let clock = &report["clock_check"];
    assert_eq!(clock["ok"], true, "{clock}");
    assert!(clock["offsets_us"]["min"].as_f64().unwrap() >= 0.0);
    let results = report["results"].as_array().unwrap();
    for case in results {
        assert_eq!(case["status"], "ok", "{case}");
    }
    for implementation in implementations.as_array().unwrap() {
        // Every measure has its cases for every implementation.
        let measures: std::collections::BTreeSet<&str> = results
            .iter()
            .filter(|c| &c["implementation"] == implementation)
            .map(|c| c["measure"].as_str().unwrap())
            .collect();
        assert_eq!(measures.len(), 6, "{implementation}: {measures:?}");
    }

    // 1. Host death at 10 ms: the backup advertises within its Master_Down_Interval of the
    // kill, and after the master's last advert by about that interval.
    for case in cases(&report, "host-death") {
        let mdi = setting(case, "backup_master_down_interval_ms");
        let failover = samples(case, "failover_ms");
        assert_eq!(failover.len(), 3);
        for f in &failover {
            assert!(*f > 0.0 && *f < mdi + 50.0, "failover {f} ms, MDI {mdi} ms");
        }
        for o in samples(case, "overshoot_ms") {
            assert!((-1.0..50.0).contains(&o), "overshoot {o} ms");
        }
        // The announcement follows the advert (the VIP is installed in between).
        let announce = samples(case, "announce_overshoot_ms");
        assert_eq!(announce.len(), 3);
        for (a, o) in announce.iter().zip(samples(case, "overshoot_ms")) {
            assert!(*a > o && *a < o + 100.0, "announced {a} ms, advert {o} ms");
        }
        for p in samples(case, "kill_phase") {
            assert!((-0.1..2.0).contains(&p), "kill phase {p}");
        }
    }
    // 2. Takeover: VIP and announcement follow the first advert closely.
    for case in cases(&report, "takeover") {
        for metric in ["vip_all_ms", "announce_all_ms"] {
            let s = samples(case, metric);
            assert_eq!(s.len(), 3, "{metric}");
            assert!(
                s.iter().all(|v| (-50.0..100.0).contains(v)),
                "{metric}: {s:?}"
            );
        }
    }
    // 3. Service death: the backup answers, and requests failed meanwhile.
    for case in cases(&report, "service-death") {
        let answered = samples(case, "answered_ms");
        assert_eq!(answered.len(), 3);
        assert!(
            answered.iter().all(|v| *v > 0.0 && *v < 20_000.0),
            "{answered:?}"
        );
        assert!(samples(case, "failed_requests").iter().all(|v| *v >= 1.0));
    }
    // 4. Graceful stop: priority 0, then the backup after its Skew_Time.
    for case in cases(&report, "graceful-stop") {
        let skew = setting(case, "backup_skew_time_ms");
        for v in samples(case, "vip_on_backup_ms") {
            assert!(v > skew - 2.0 && v < skew + 200.0, "{v} ms, skew {skew} ms");
        }
        assert_eq!(samples(case, "priority_zero_ms").len(), 3);
    }
    // 5. Scale: CPU, memory, start-up, every VRID advertised.
    for case in cases(&report, "scale") {
        assert!(samples(case, "cpu_master_pct")[0] > 0.0);
        assert!(samples(case, "rss_master_mib")[0] > 1.0);
        assert!(samples(case, "startup_ms")[0] > 0.0);
        assert_eq!(samples(case, "missing_vrids"), [0.0]);
        assert_eq!(samples(case, "backup_adverts"), [0.0]);
    }
    // The machine's stalls: every window looked at, each gap at least a clock read.
    let stall_cases = cases(&report, "stalls");
    assert_eq!(stall_cases.len(), 2, "100 ms idle and busy");
    for case in stall_cases {
        let longest = samples(case, "longest_gap_us");
        assert_eq!(longest.len(), 3);
        assert!(longest.iter().all(|v| *v > 0.0 && *v < 1e6), "{longest:?}");
    }
    // 6. Timer: many gaps, each about one interval.
    for case in cases(&report, "timer") {
        let gaps = samples(case, "gap_error_ms");
        assert!(gaps.len() >= 50, "{} gaps", gaps.len());
        let interval = setting(case, "advert_interval_ms");
        assert!(gaps.iter().all(|g| *g > -interval), "{gaps:?}");
    }
}
