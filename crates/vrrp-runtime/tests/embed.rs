//! The embedding API, in process, inside network namespaces: two runtimes started with
//! `vrrp_runtime::start`, driven through their handles (status, state-change stream,
//! priority offset, fault, graceful shutdown).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use vrrp_election::{Reason, State};
use vrrp_lab::{Host, Lab, NsTask, require_root};
use vrrp_runtime::{RuntimeHandle, StateEvent};

fn config(priority: u8) -> vrrp_config::Config {
    let parsed = vrrp_config::LoadedConfig::parse(
        "embed.toml",
        &format!(
            r#"
[[instance]]
name = "VI_1"
interface = "eth0"
vrid = 42
priority = {priority}
advert_interval = "100ms"
virtual_ips = ["192.0.2.100/24"]
"#
        ),
    )
    .unwrap()
    .config;
    // The builder from values gives the same configuration as the file.
    let built = common::config(priority);
    assert_eq!(built, parsed);
    built
}

/// Starts a runtime inside `host` on its own thread; returns its handle.
fn start(host: &Host, priority: u8) -> (RuntimeHandle, NsTask<()>) {
    let (tx, rx) = oneshot::channel();
    let task = host
        .spawn_async(move || async move {
            let netlink = vrrp_netlink::RtNetlink::new().unwrap();
            let handle = vrrp_runtime::start(config(priority), netlink)
                .await
                .unwrap();
            tx.send(handle.clone()).unwrap();
            handle.stopped().await;
        })
        .unwrap();
    (rx.blocking_recv().unwrap(), task)
}

fn vip() -> IpAddr {
    "192.0.2.100".parse().unwrap()
}

fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    f()
}

/// Waits for the next transition of `events` into `to`.
async fn next_transition(
    events: &mut tokio::sync::broadcast::Receiver<StateEvent>,
    to: State,
) -> StateEvent {
    loop {
        let e = tokio::time::timeout(Duration::from_secs(3), events.recv())
            .await
            .expect("a state change within 3 s")
            .unwrap();
        if e.to == to {
            return e;
        }
    }
}

#[test]
fn an_embedder_steers_the_election_through_the_handle() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let (a, task_a) = start(h1, 100);
    let (b, task_b) = start(h2, 200);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    assert!(wait_until(Duration::from_secs(3), || h2
        .has_address(vip())
        .unwrap()
        && !h1.has_address(vip()).unwrap()));
    rt.block_on(async {
        let sb = b.status().await.unwrap();
        assert_eq!(sb.instances[0].state, "MASTER");
        assert_eq!(sb.instances[0].effective_priority, 200);
        let sa = a.status().await.unwrap();
        assert_eq!(sa.instances[0].state, "BACKUP");
        assert_eq!(sa.instances[0].master.as_deref(), Some("192.0.2.12"));

        // The embedder's own health logic lowers b below a: a preempts.
        let mut events_a = a.subscribe();
        b.set_priority_offset("VI_1", -150).await.unwrap();
        let e = next_transition(&mut events_a, State::Master).await;
        assert_eq!(
            (e.instance.as_str(), e.from, e.reason),
            ("VI_1", State::Backup, Reason::Preempt)
        );
        assert_eq!(
            b.status().await.unwrap().instances[0].effective_priority,
            50
        );

        // a is told it is faulty: it resigns and b (50, the only one left) takes over fast.
        let mut events_b = b.subscribe();
        let faulted = Instant::now();
        a.set_fault("VI_1", true).await.unwrap();
        let e = next_transition(&mut events_b, State::Master).await;
        assert_eq!(e.reason, Reason::PriorityZeroReceived);
        assert!(
            faulted.elapsed() < Duration::from_millis(300),
            "took {:?}",
            faulted.elapsed()
        );
        assert_eq!(a.status().await.unwrap().instances[0].state, "FAULT");

        // Unknown instances are an error, not a panic.
        assert!(a.set_fault("nope", true).await.is_err());
    });
    assert!(wait_until(Duration::from_secs(1), || h2
        .has_address(vip())
        .unwrap()
        && !h1.has_address(vip()).unwrap()));

    // Graceful shutdown removes the VIP; the handle reports Stopped afterwards.
    rt.block_on(async {
        b.shutdown().await;
        assert!(b.status().await.is_err());
    });
    assert!(
        !h2.has_address(vip()).unwrap(),
        "shutdown must remove the VIP"
    );
    rt.block_on(a.shutdown());
    task_a.join().unwrap();
    task_b.join().unwrap();
}

fn config_text(text: &str) -> vrrp_config::Config {
    vrrp_config::LoadedConfig::parse("reload.toml", text)
        .unwrap()
        .config
}

fn instance_text(name: &str, vrid: u8, priority: u8, interface: &str, vip: &str) -> String {
    format!(
        "[[instance]]\nname = \"{name}\"\ninterface = \"{interface}\"\nvrid = {vrid}\npriority = {priority}\nadvert_interval = \"100ms\"\nvirtual_ips = [\"{vip}\"]\n"
    )
}

#[test]
fn reload_through_the_handle_reports_what_it_did() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(1).unwrap();
    let h1 = lab.host(1).unwrap();
    let vi1 = instance_text("VI_1", 42, 100, "eth0", "192.0.2.100/24");
    let vi2 = instance_text("VI_2", 43, 100, "eth0", "192.0.2.200/24");
    let first = config_text(&vi1);
    let (tx, rx) = oneshot::channel();
    let task = h1
        .spawn_async(move || async move {
            let netlink = vrrp_netlink::RtNetlink::new().unwrap();
            let handle = vrrp_runtime::start(first, netlink).await.unwrap();
            tx.send(handle.clone()).unwrap();
            handle.stopped().await;
        })
        .unwrap();
    let handle: RuntimeHandle = rx.blocking_recv().unwrap();
    assert!(wait_until(Duration::from_secs(3), || h1
        .has_address(vip())
        .unwrap()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut events = handle.subscribe();
        // The same config: nothing at all happens.
        let report = handle.reload(config_text(&vi1)).await.unwrap();
        assert_eq!(report.unchanged, ["VI_1"]);
        assert!(report.is_noop(), "{report}");
        // A config the machine cannot run is refused, with nothing changed.
        let err = handle
            .reload(config_text(&instance_text(
                "VI_1",
                42,
                100,
                "eth7",
                "192.0.2.100/24",
            )))
            .await
            .unwrap_err();
        assert!(
            matches!(err, vrrp_runtime::RuntimeError::InterfaceNotFound { .. }),
            "{err}"
        );
        // Two instances on one interface with one VRID (the config crate refuses that too;
        // an embedder may build its Config by hand).
        let mut dup = config_text(&vi1);
        let mut twin = dup.instances[0].clone();
        twin.name = "VI_2".into();
        dup.instances.push(twin);
        assert!(matches!(
            handle.reload(dup).await.unwrap_err(),
            vrrp_runtime::RuntimeError::Engine { .. }
        ));
        let status = handle.status().await.unwrap();
        assert_eq!(status.instances.len(), 1);
        assert_eq!(status.instances[0].state, "MASTER");
        // Adding VI_2 leaves VI_1 alone.
        let report = handle
            .reload(config_text(&format!("{vi1}{vi2}")))
            .await
            .unwrap();
        assert_eq!(
            (report.unchanged.as_slice(), report.added.as_slice()),
            (&["VI_1".to_owned()][..], &["VI_2".to_owned()][..])
        );
        let e = next_transition(&mut events, State::Master).await;
        assert_eq!(e.instance, "VI_2", "VI_1 must not move: {e:?}");
        // Changing VI_1 (its priority) re-applies it: it stops (shutdown) and starts again.
        let changed = format!(
            "{}{vi2}",
            instance_text("VI_1", 42, 150, "eth0", "192.0.2.100/24")
        );
        let report = handle.reload(config_text(&changed)).await.unwrap();
        assert_eq!(report.changed, ["VI_1"]);
        assert_eq!(report.unchanged, ["VI_2"]);
        let stop = next_transition(&mut events, State::Initialize).await;
        assert_eq!(
            (stop.instance.as_str(), stop.reason),
            ("VI_1", Reason::Shutdown)
        );
        let back = next_transition(&mut events, State::Master).await;
        assert_eq!(back.instance, "VI_1");
        let status = handle.status().await.unwrap();
        let vi1_status = &status.instances[0];
        assert_eq!(
            (vi1_status.name.as_str(), vi1_status.priority),
            ("VI_1", 150)
        );
        assert_eq!(vi1_status.transitions.get("MASTER"), Some(&2));
        // Removing VI_2 hands it over (its VIP goes).
        let report = handle
            .reload(config_text(&changed.replace(&vi2, "")))
            .await
            .unwrap();
        assert_eq!(report.removed, ["VI_2"]);
        assert_eq!(handle.status().await.unwrap().instances.len(), 1);
    });
    assert!(!h1.has_address("192.0.2.200".parse().unwrap()).unwrap());
    assert!(h1.has_address(vip()).unwrap());
    rt.block_on(handle.shutdown());
    task.join().unwrap();
}
