//! `interface` probes on a veth pair inside a private network namespace. sysfs shows the
//! interfaces of the namespace that mounted it, so the test mounts one from inside the
//! namespace and points the probe at it. Needs root; skipped otherwise unless CI is set.

// Test code: a panic is a failed assertion, in helpers as in tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use support::{NamespaceSysfs, NetNs, PATIENCE, next_event, require_root};
use vrrp_health::{
    HealthState, InterfaceProbe, ProbeEvent, ProbeKind, ProbeResult, ProbeRunner, ProbeSpec,
};

fn reason(event: &ProbeEvent) -> &str {
    match &event.result {
        Some(ProbeResult::Failure { reason }) => reason,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn interface_down_and_no_carrier_fail() {
    if !require_root("interface_down_and_no_carrier_fail") {
        return;
    }
    let ns = NetNs::with_lab_address();
    ns.block_on(async {
        let sysfs = NamespaceSysfs::mount_here();
        let probe = |name: &str| {
            let mut spec = ProbeSpec::new(
                name,
                ProbeKind::Interface(InterfaceProbe {
                    sysfs_net: sysfs.class_net(),
                    ..InterfaceProbe::new(name)
                }),
            );
            spec.interval = Duration::from_millis(50);
            spec
        };
        let (mut runner, mut events) = ProbeRunner::new();
        runner.spawn(probe("vha")).unwrap();
        assert_eq!(
            next_event(&mut events, PATIENCE).await.state,
            HealthState::Unknown
        );
        let up = next_event(&mut events, PATIENCE).await;
        assert!(up.healthy, "{up:?}");

        // The peer goes down: vha stays up but loses carrier.
        ns.ip(&["link", "set", "vhb", "down"]);
        let event = next_event(&mut events, PATIENCE).await;
        assert!(!event.healthy);
        assert!(reason(&event).contains("no carrier"), "{event:?}");

        ns.ip(&["link", "set", "vhb", "up"]);
        assert!(next_event(&mut events, PATIENCE).await.healthy);

        ns.ip(&["link", "set", "vha", "down"]);
        let event = next_event(&mut events, PATIENCE).await;
        assert_eq!(reason(&event), "vha is administratively down");

        // lo reports operstate "unknown" with carrier: healthy.
        runner.spawn(probe("lo")).unwrap();
        next_event(&mut events, PATIENCE).await; // initial
        let lo = next_event(&mut events, PATIENCE).await;
        assert_eq!((lo.probe.as_str(), lo.healthy), ("lo", true));

        runner.spawn(probe("vhnone")).unwrap();
        next_event(&mut events, PATIENCE).await; // initial
        let none = next_event(&mut events, PATIENCE).await;
        assert!(reason(&none).starts_with("no interface vhnone"), "{none:?}");
        drop(runner);
        drop(sysfs);
    });
}
