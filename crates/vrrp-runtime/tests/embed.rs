//! The embedding API, in process, inside network namespaces: two runtimes started with
//! `vrrp_runtime::start`, driven through their handles (status, state-change stream,
//! priority offset, fault, graceful shutdown).
#![allow(clippy::unwrap_used, clippy::expect_used)]

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
    let built = vrrp_runtime::Builder::new()
        .instance(vrrp_config::Instance {
            priority,
            advert_interval: Duration::from_millis(100),
            ..vrrp_config::Instance::new(
                "VI_1",
                "eth0",
                42,
                vec!["192.0.2.100/24".parse().unwrap()],
            )
        })
        .config()
        .clone();
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
