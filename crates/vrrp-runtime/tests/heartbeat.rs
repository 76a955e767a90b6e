//! The heartbeat of `start_with`: called by the event loop at its period (virtual time, no
//! network: a runtime with no instance needs no sockets).
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use vrrp_runtime::StartOptions;

fn empty() -> vrrp_config::Config {
    vrrp_config::Config {
        global: vrrp_config::Global::default(),
        probes: Default::default(),
        instances: Vec::new(),
        sync_groups: Vec::new(),
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_event_loop_calls_the_heartbeat_at_its_period() {
    let beats = Arc::new(AtomicUsize::new(0));
    let counter = beats.clone();
    let options = StartOptions::new().heartbeat(Duration::from_millis(100), move || {
        counter.fetch_add(1, Ordering::Relaxed);
    });
    let handle = vrrp_runtime::start_with(empty(), vrrp_netlink::FakeNetlink::new(), options)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1050)).await;
    // One at once, then one every 100 ms.
    assert_eq!(beats.load(Ordering::Relaxed), 11);
    // A reload to the same (empty) config changes nothing and the beat goes on.
    let report = handle.reload(empty()).await.unwrap();
    assert!(report.is_noop());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(beats.load(Ordering::Relaxed), 16);
    // Once the loop has stopped, so has the heartbeat.
    handle.shutdown().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(beats.load(Ordering::Relaxed), 16);
}
