//! A short, bounded soak that CI runs: the same code path as `vrrp-sim soak`.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use vrrp_sim::soak::{parse_args, run};

fn args(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

#[test]
fn bounded_soak_has_no_violations() {
    // 3 routers × 8 hours at 1 s with 1 % loss and 8 of each disturbance, 2 shards.
    let a = parse_args(&args(
        "--routers 3 --hours 8 --advert-interval 1s --loss 0.01 --partitions 8 --seed 42 --threads 2 --json",
    ))
    .unwrap();
    let result = run(&a);
    let r = &result.report;
    assert_eq!(r.invariant_violations, 0, "{:?}", r.violations);
    assert!((r.router_hours - 24.0).abs() < 1e-6, "{}", r.router_hours);
    assert!(r.failovers > 0, "no failover was measured: {r:?}");
    assert!(r.max_failover_overshoot_ms.unwrap() <= 0.0);
    assert!(r.packets_lost > 0 && r.transitions > 10);
    let json = result.to_json();
    for key in [
        "\"router_hours\":",
        "\"wall_seconds\":",
        "\"transitions\":",
        "\"dual_master_seconds\":",
        "\"max_failover_overshoot_ms\":",
        "\"invariant_violations\":0",
    ] {
        assert!(json.contains(key), "{key} missing in {json}");
    }
    // Same seed, same trace.
    assert_eq!(run(&a).report.trace_hash, r.trace_hash);
}

/// Heavier weather than the default soak, still bounded (a second or two in CI): issue 9 asks
/// for loss and partitions with zero invariant violations, on v3 at 100 ms and on v2.
#[test]
fn soak_with_heavy_loss_and_many_partitions_has_no_violations() {
    for line in [
        "--routers 4 --hours 4 --advert-interval 100ms --loss 0.05 --partitions 30 --seed 9 --threads 2 --json",
        "--routers 3 --hours 12 --advert-interval 1s --loss 0.10 --partitions 24 --version 2 --seed 11 --threads 2 --json",
    ] {
        let a = parse_args(&args(line)).unwrap();
        let r = run(&a).report;
        assert_eq!(r.invariant_violations, 0, "{line}: {:?}", r.violations);
        // Something happened: losses, many transitions, measured failovers within the bound.
        assert!(r.packets_lost > 0 && r.transitions > 40, "{line}: {r:?}");
        assert!(r.failovers > 0, "{line}: {r:?}");
        assert!(r.max_failover_overshoot_ms.unwrap() <= 0.0, "{line}: {r:?}");
        eprintln!(
            "{line}: {:.0} router-hours, {} transitions, {} failovers, {:.3} s dual master, {} lost packets",
            r.router_hours, r.transitions, r.failovers, r.dual_master_seconds, r.packets_lost
        );
    }
}

#[test]
fn bad_arguments_are_refused() {
    assert!(parse_args(&args("--routers 1")).is_err());
    assert!(parse_args(&args("--advert-interval 15ms")).is_err());
    assert!(parse_args(&args("--version 2 --advert-interval 500ms")).is_err());
    assert!(parse_args(&args("--loss 1.5")).is_err());
    assert!(parse_args(&args("--bogus 1")).is_err());
    let a = parse_args(&args("--advert-interval 100ms --partitions 3")).unwrap();
    assert_eq!(a.advert_interval.as_centis(), 10);
    assert_eq!((a.crashes, a.shutdowns, a.probe_changes), (3, 3, 3));
}
