//! A tiny service that embeds one VRRP instance: it answers HTTP on port 8080 with the role it
//! holds ("MASTER" or "BACKUP"), lowers its own priority when its work queue is too long (here:
//! when the file /tmp/overloaded exists), and hands the VIP over gracefully on Ctrl-C.
//!
//! Run it as root inside a lab namespace (never on a real network by accident):
//!
//! ```text
//! cargo run -p vrrp-runtime --example embedded_service -- eth0 51 150 192.0.2.100/24
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use vrrp_election::State;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [interface, vrid, priority, vip] = args.as_slice() else {
        eprintln!("usage: embedded_service INTERFACE VRID PRIORITY VIP/LEN");
        std::process::exit(2);
    };
    // Built from values; an embedder could as well parse the TOML an operator writes.
    let instance = vrrp_config::Instance {
        priority: priority.parse()?,
        advert_interval: Duration::from_millis(100),
        ..vrrp_config::Instance::new(
            "service",
            interface.as_str(),
            vrid.parse()?,
            vec![vip.parse()?],
        )
    };
    let handle = vrrp_runtime::Builder::new()
        .instance(instance)
        .start(vrrp_netlink::RtNetlink::new()?)
        .await?;

    // Follow our role from the state-change stream.
    let master = Arc::new(AtomicBool::new(false));
    let mut changes = handle.subscribe();
    let role = master.clone();
    tokio::spawn(async move {
        while let Ok(change) = changes.recv().await {
            eprintln!(
                "{} -> {} ({})",
                change.from,
                change.to,
                change.reason.as_str()
            );
            role.store(change.to == State::Master, Ordering::Relaxed);
        }
    });

    // Our own health logic: an overload signal costs 100 priority points.
    let health = handle.clone();
    tokio::spawn(async move {
        let mut overloaded = false;
        loop {
            let now = std::path::Path::new("/tmp/overloaded").exists();
            if now != overloaded {
                overloaded = now;
                let offset = if now { -100 } else { 0 };
                let _ = health.set_priority_offset("service", offset).await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });

    let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (mut stream, _) = accepted?;
                let body = if master.load(Ordering::Relaxed) { "MASTER\n" } else { "BACKUP\n" };
                let reply = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
                let _ = stream.write_all(reply.as_bytes()).await;
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    // VIP removed and a priority-0 advert sent: the peer takes over within Skew_Time.
    handle.shutdown().await;
    Ok(())
}
