//! The shipped example (examples/nginx-ha/) on two lab hosts, unchanged: the lab's hosts are
//! 192.0.2.11 and 192.0.2.12 on eth0, as in the example. Each host runs a stand-in for Nginx
//! (`vrrpd lab-backend`, process name `nginx`, answering /nginx_health).
#![allow(clippy::unwrap_used)]

mod support;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use support::{Daemon, holders, start_backend, wait_until};
use vrrp_lab::{Lab, require_root};

fn example(name: &str) -> String {
    let path = format!(
        "{}/../../examples/nginx-ha/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap()
}

#[test]
fn killing_the_masters_nginx_moves_the_vip_within_a_second() {
    if !require_root() {
        return;
    }
    let vip: IpAddr = "192.0.2.100".parse().unwrap();
    let lab = Lab::new(2).unwrap();
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let backend1 = start_backend(h1, "nginx-01");
    let _backend2 = start_backend(h2, "nginx-02");
    let d1 = Daemon::start(&lab, h1, &example("master.toml"));
    let d2 = Daemon::start(&lab, h2, &example("backup.toml"));
    assert!(
        wait_until(Duration::from_secs(3), || holders(&lab, vip) == vec![1]),
        "the master should hold the VIP; holders {:?}\n{}",
        holders(&lab, vip),
        d1.child.log()
    );
    let probes = d1.status()["instances"][0]["probes"].clone();
    assert_eq!(probes.as_array().unwrap().len(), 2, "{probes}");
    assert!(
        probes
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["healthy"] == true),
        "{probes}"
    );

    backend1.kill().unwrap();
    let killed = Instant::now();
    assert!(
        wait_until(Duration::from_secs(2), || holders(&lab, vip) == vec![2]),
        "the backup should hold the VIP alone; holders {:?}\n{}",
        holders(&lab, vip),
        d1.child.log()
    );
    let took = killed.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "the VIP moved after {took:?}"
    );
    eprintln!("Nginx killed -> VIP on the backup: {took:?}");
    assert_eq!(d1.state(), "FAULT");
    assert_eq!(d2.state(), "MASTER");
    let reason = d1.status()["instances"][0]["last_transition"]["reason"].clone();
    assert_eq!(reason, "fault");
}
