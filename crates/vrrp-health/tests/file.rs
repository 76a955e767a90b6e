//! `file` probes (keepalived's track_file, and presence/absence) and the runner's own
//! behaviour, on temp files. No root or network needed.

// Test code: a panic is a failed assertion, in helpers as in tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use support::{PATIENCE, TempDir, next_event};
use vrrp_health::{
    Contribution, FileCheck, FileProbe, HealthError, HealthSet, HealthState, HealthSummary,
    ProbeKind, ProbeResult, ProbeRunner, ProbeSpec,
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Replaces the file in one step, so the probe never reads a half-written one.
fn write_atomic(path: &std::path::Path, content: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn file_spec(name: &str, probe: FileProbe, weight: Option<i32>) -> ProbeSpec {
    let mut spec = ProbeSpec::new(name, ProbeKind::File(probe));
    spec.interval = Duration::from_millis(50);
    spec.weight = weight;
    spec
}

#[test]
fn file_value_times_weight_follows_the_file() {
    let dir = TempDir::new("file");
    let path = dir.path().join("drain");
    write_atomic(&path, "0\n");
    runtime().block_on(async {
        let (mut runner, mut events) = ProbeRunner::new();
        runner
            .spawn(file_spec(
                "drain",
                FileProbe::new(&path, FileCheck::Value),
                Some(-10),
            ))
            .unwrap();
        let mut set = HealthSet::new();
        let initial = next_event(&mut events, PATIENCE).await;
        set.track(initial.probe.clone(), initial.contribution);

        let first = next_event(&mut events, PATIENCE).await;
        assert_eq!(first.result, Some(ProbeResult::Value(0)));
        assert_eq!(first.contribution, Contribution::Weight(0));
        assert!(first.healthy);

        write_atomic(&path, "3\n");
        let event = next_event(&mut events, PATIENCE).await;
        assert_eq!(event.contribution, Contribution::Weight(-30));
        assert_eq!(
            set.apply(&event),
            Some(HealthSummary {
                offset: -30,
                fault: false
            })
        );

        // Garbage: a failure naming the content; with fall = 1 the weighted file faults.
        write_atomic(&path, "drain please\n");
        let event = next_event(&mut events, PATIENCE).await;
        assert_eq!(
            event.result,
            Some(ProbeResult::failure("not a number: \"drain please\""))
        );
        assert_eq!(event.contribution, Contribution::Fault(true));
        assert_eq!(
            set.apply(&event),
            Some(HealthSummary {
                offset: 0,
                fault: true
            })
        );

        // A missing file reads as 0, as in keepalived.
        std::fs::remove_file(&path).unwrap();
        let event = next_event(&mut events, PATIENCE).await;
        assert_eq!(event.result, Some(ProbeResult::Value(0)));
        assert_eq!(event.contribution, Contribution::Weight(0));

        // Beyond -253 is FAULT.
        write_atomic(&path, "30");
        let event = next_event(&mut events, PATIENCE).await;
        assert_eq!(event.contribution, Contribution::Fault(true));
    });
}

#[test]
fn file_presence_and_absence() {
    let dir = TempDir::new("file");
    let flag = dir.path().join("maintenance");
    runtime().block_on(async {
        let (mut runner, mut events) = ProbeRunner::new();
        runner
            .spawn(file_spec(
                "absent",
                FileProbe::new(&flag, FileCheck::Absent),
                None,
            ))
            .unwrap();
        next_event(&mut events, PATIENCE).await; // initial
        let event = next_event(&mut events, PATIENCE).await;
        assert!(event.healthy);
        assert_eq!(event.contribution, Contribution::Fault(false));
        std::fs::write(&flag, "").unwrap();
        let event = next_event(&mut events, PATIENCE).await;
        assert!(!event.healthy);
        assert_eq!(event.contribution, Contribution::Fault(true));

        runner
            .spawn(file_spec(
                "exists",
                FileProbe::new(&flag, FileCheck::Exists),
                Some(20),
            ))
            .unwrap();
        next_event(&mut events, PATIENCE).await; // initial
        let event = next_event(&mut events, PATIENCE).await;
        assert_eq!(
            (event.probe.as_str(), event.contribution),
            ("exists", Contribution::Weight(20))
        );
        std::fs::remove_file(&flag).unwrap();
        // Both probes flip; order between them is not fixed.
        let mut flipped = [
            next_event(&mut events, PATIENCE).await,
            next_event(&mut events, PATIENCE).await,
        ];
        flipped.sort_by(|a, b| a.probe.cmp(&b.probe));
        assert_eq!(flipped[0].probe, "absent");
        assert!(flipped[0].healthy);
        assert_eq!(flipped[1].probe, "exists");
        assert_eq!(flipped[1].contribution, Contribution::Weight(0));
    });
}

#[test]
fn runner_reports_injected_results_and_status() {
    let dir = TempDir::new("file");
    let path = dir.path().join("v");
    std::fs::write(&path, "1").unwrap();
    runtime().block_on(async {
        let (mut runner, mut events) = ProbeRunner::new();
        let mut spec = file_spec("v", FileProbe::new(&path, FileCheck::Value), Some(5));
        spec.interval = Duration::from_secs(30);
        spec.initial = HealthState::Healthy;
        runner.spawn(spec.clone()).unwrap();
        let initial = next_event(&mut events, PATIENCE).await;
        assert!(initial.healthy);
        assert_eq!(initial.contribution, Contribution::Weight(0));
        assert_eq!(
            next_event(&mut events, PATIENCE).await.contribution,
            Contribution::Weight(5)
        );

        // A result from elsewhere (e.g. a netlink event) is recorded at once, long before
        // the next run.
        runner.report("v", ProbeResult::failure("told so")).unwrap();
        let event = next_event(&mut events, PATIENCE).await;
        assert_eq!(event.result, Some(ProbeResult::failure("told so")));
        assert_eq!(event.contribution, Contribution::Fault(true));

        let status = runner.status("v").unwrap();
        assert_eq!(status.name, "v");
        assert!(!status.healthy);
        assert_eq!(status.consecutive_failures, 1);
        assert_eq!(status.last_change, Some(event.at));
        assert_eq!(runner.statuses().len(), 1);
        assert_eq!(runner.names().collect::<Vec<_>>(), ["v"]);

        assert_eq!(
            runner.spawn(spec),
            Err(HealthError::DuplicateProbe("v".into()))
        );
        assert!(matches!(
            runner.report("nope", ProbeResult::Success),
            Err(HealthError::UnknownProbe(_))
        ));
        assert!(runner.stop("v"));
        assert!(!runner.stop("v"));
        assert!(runner.status("v").is_none());
    });
}

#[test]
fn runner_needs_a_runtime_and_valid_specs() {
    let (mut runner, _events) = ProbeRunner::new();
    let spec = file_spec("x", FileProbe::new("/nonexistent", FileCheck::Exists), None);
    assert_eq!(runner.spawn(spec.clone()), Err(HealthError::NoRuntime));
    let mut bad = spec;
    bad.fall = 0;
    assert!(matches!(
        runner.spawn(bad),
        Err(HealthError::InvalidProbe { .. })
    ));
}
