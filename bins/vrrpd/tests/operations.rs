//! The commands of docs/operations.md that `vrrpd demo` does not run, run as the guide shows
//! them, on the shipped example configs in lab hosts (the lab's hosts are 192.0.2.11 and
//! 192.0.2.12 on eth0, as in the guide). The table at the end of the guide says which test
//! covers which command.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{
    Daemon, HttpClient, example, holders, keepalived_installed, start_backend, start_keepalived,
    vrrpd, wait_until,
};
use vrrp_lab::{Host, Lab, require_root};

fn vip() -> IpAddr {
    "192.0.2.100".parse().unwrap()
}

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/nginx-ha")
}

/// Runs a shell command line of the guide inside `host` (`sh -c`), returning its output.
fn sh(host: &Host, line: &str) -> std::process::Output {
    host.output(&["sh", "-c", line]).unwrap()
}

fn text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The two daemons of the guide with their Nginx stand-ins, host 1 holding the VIP.
struct Pair<'l> {
    backends: [vrrp_lab::ChildGuard; 2],
    daemons: [Daemon<'l>; 2],
}

fn pair(lab: &Lab) -> Pair<'_> {
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let backends = [start_backend(h1, "nginx-01"), start_backend(h2, "nginx-02")];
    let daemons = [
        Daemon::start(lab, h1, &example("master.toml")),
        Daemon::start(lab, h2, &example("backup.toml")),
    ];
    assert!(
        wait_until(Duration::from_secs(5), || holders(lab, vip()) == vec![1]),
        "host 1 should hold the VIP: {:?}\n{}",
        holders(lab, vip()),
        daemons[0].child.log()
    );
    Pair { backends, daemons }
}

#[test]
fn check_config_passes_the_shipped_pair_and_catches_drift() {
    let dir = examples_dir();
    let (master, backup) = (dir.join("master.toml"), dir.join("backup.toml"));
    // `vrrpd check-config master.toml backup.toml` (strict: not even a warning)
    let out = Command::new(vrrpd())
        .args(["check-config", "--strict"])
        .args([&master, &backup])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
    assert_eq!(text(&out), "2 files checked: 0 errors, 0 warnings\n");

    // Drift: the backup edited on its own (another VRID and interval) is caught.
    let scratch = std::env::temp_dir().join(format!("vrrpd-ops-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let drifted = scratch.join("backup.toml");
    std::fs::write(
        &drifted,
        example("backup.toml")
            .replace("vrid = 51", "vrid = 52")
            .replace("advert_interval = \"100ms\"", "advert_interval = \"1s\""),
    )
    .unwrap();
    let out = Command::new(vrrpd())
        .args(["check-config", "--strict"])
        .args([&master, &drifted])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&scratch);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("vrid is 52 here but 51 in") && stderr.contains("both become master"),
        "{stderr}"
    );
    assert!(
        stderr.contains("advert_interval is 1s here but 100ms"),
        "{stderr}"
    );
}

#[test]
fn check_config_on_each_host_passes_the_example_in_its_place() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    for (n, file) in [(1, "master.toml"), (2, "backup.toml")] {
        let host = lab.host(n).unwrap();
        let config = lab.dir().join(file);
        std::fs::write(&config, example(file)).unwrap();
        // `vrrpd check-config /etc/vrrpd/vrrpd.toml` on the host itself: its eth0 and subnet.
        let out = host
            .output(&[
                vrrpd(),
                "check-config",
                "--strict",
                config.to_str().unwrap(),
            ])
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        // On a host whose eth0 is elsewhere, the VIP outside every subnet is reported.
        host.run(&["ip", "addr", "flush", "dev", "eth0"]).unwrap();
        host.run(&["ip", "addr", "add", "198.51.100.5/24", "dev", "eth0"])
            .unwrap();
        let out = host
            .output(&[vrrpd(), "check-config", config.to_str().unwrap()])
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("192.0.2.100"), "{out:?}");
    }
}

#[test]
fn verification_stale_arp_and_failing_probe_commands_show_what_the_guide_says() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(3).unwrap();
    let (h1, h2, client) = (
        lab.host(1).unwrap(),
        lab.host(2).unwrap(),
        lab.host(3).unwrap(),
    );
    let p = pair(&lab);
    let [d1, d2] = &p.daemons;

    // Nginx's health location answers on each host:
    // curl -fsS http://127.0.0.1/nginx_health
    for h in [h1, h2] {
        let out = sh(h, "curl -fsS http://127.0.0.1/nginx_health");
        assert!(out.status.success(), "{out:?}");
        assert_eq!(text(&out), "ok\n");
    }

    // ip -4 addr show dev eth0: the VIP on the master only, as a secondary address.
    let out = sh(h1, "ip -4 addr show dev eth0");
    assert!(
        text(&out).contains("inet 192.0.2.100/24 brd 192.0.2.255 scope global secondary eth0"),
        "{}",
        text(&out)
    );
    assert!(!text(&sh(h2, "ip -4 addr show dev eth0")).contains("192.0.2.100"));

    // vrrpd status, once the probes have their first results.
    assert!(wait_until(Duration::from_secs(3), || {
        d1.status_text()
            .contains("probe nginx_http (http): healthy")
            && d2
                .status_text()
                .contains("probe nginx_http (http): healthy")
    }));
    let s1 = d1.status_text();
    let s2 = d2.status_text();
    eprintln!("vrrpd status on nginx-01:\n{s1}\nvrrpd status on nginx-02:\n{s2}");
    assert!(
        s1.starts_with(
            "VI_1 ipv4 vrid 51 on eth0: MASTER (priority 150 effective 150), master 192.0.2.11\n"
        ),
        "{s1}"
    );
    assert!(
        s1.contains("probe nginx_process (process): healthy, 0 consecutive failures"),
        "{s1}"
    );
    assert!(
        s2.starts_with(
            "VI_1 ipv4 vrid 51 on eth0: BACKUP (priority 100 effective 100), master 192.0.2.11\n"
        ),
        "{s2}"
    );

    // From a client: curl -sS http://192.0.2.100/ and ip neigh show 192.0.2.100
    let out = sh(client, "curl -sS --max-time 2 http://192.0.2.100/");
    assert_eq!(text(&out), "nginx-01\n", "{out:?}");
    let neigh = text(&sh(client, "ip neigh show 192.0.2.100"));
    assert!(neigh.contains("lladdr 02:00:00:00:01:11"), "{neigh}");

    // The master's Nginx dies; the backup's gratuitous ARP updates the client's entry before
    // the client sends anything.
    p.backends[0].kill().unwrap();
    assert!(wait_until(Duration::from_secs(2), || holders(&lab, vip()) == vec![2]));
    assert!(
        wait_until(Duration::from_secs(1), || text(&sh(
            client,
            "ip neigh show 192.0.2.100"
        ))
        .contains("lladdr 02:00:00:00:01:12")),
        "{}",
        text(&sh(client, "ip neigh show 192.0.2.100"))
    );
    // The documented cure for a client that kept a stale entry: flush it.
    let out = sh(client, "ip neigh flush to 192.0.2.100");
    assert!(out.status.success(), "{out:?}");
    let out = sh(client, "curl -sS --max-time 2 http://192.0.2.100/");
    assert_eq!(text(&out), "nginx-02\n", "{out:?}");

    // "Probe always failing": status names the probe and its last result, and the probe's
    // request by hand fails the same way.
    assert!(wait_until(Duration::from_secs(2), || d1
        .status_text()
        .contains("probe nginx_http (http): unhealthy")));
    let s1 = d1.status_text();
    eprintln!("vrrpd status on nginx-01 after its Nginx died:\n{s1}");
    assert!(s1.starts_with("VI_1 ipv4 vrid 51 on eth0: FAULT"), "{s1}");
    assert!(s1.contains("(fault)"), "{s1}");
    assert!(
        s1.contains("probe nginx_process (process): unhealthy"),
        "{s1}"
    );
    let out = sh(
        h1,
        "curl -sS -o /dev/null -w '%{http_code}\\n' http://127.0.0.1/nginx_health",
    );
    assert!(!out.status.success());
    assert_eq!(text(&out), "000\n");
}

#[test]
fn a_firewall_that_drops_vrrp_makes_two_masters_and_the_guide_s_rule_fixes_it() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    // A host firewall on the backup that lets HTTP in but forgot VRRP.
    let ruleset = lab.dir().join("nftables.conf");
    std::fs::write(
        &ruleset,
        "table inet filter {\n  chain input {\n    type filter hook input priority filter; policy drop;\n    ct state established,related accept\n    iif lo accept\n    tcp dport 80 accept\n  }\n}\n",
    )
    .unwrap();
    h2.run(&["nft", "-f", ruleset.to_str().unwrap()]).unwrap();
    let _b1 = start_backend(h1, "nginx-01");
    let _b2 = start_backend(h2, "nginx-02");
    let _d1 = Daemon::start(&lab, h1, &example("master.toml"));
    let d2 = Daemon::start(&lab, h2, &example("backup.toml"));
    assert!(
        wait_until(Duration::from_secs(5), || holders(&lab, vip())
            == vec![1, 2]),
        "both should hold the VIP: {:?}",
        holders(&lab, vip())
    );
    assert_eq!(d2.state(), "MASTER");
    // The VRRP socket never saw the master's adverts: the firewall dropped them first.
    assert_eq!(d2.counter("adverts_received"), 0);

    // The guide's rule: nft add rule inet filter input meta l4proto 112 accept
    let out = sh(h2, "nft add rule inet filter input meta l4proto 112 accept");
    assert!(out.status.success(), "{out:?}");
    assert!(
        wait_until(Duration::from_secs(2), || holders(&lab, vip()) == vec![1]),
        "the backup should step down: {:?}",
        holders(&lab, vip())
    );
    assert_eq!(d2.state(), "BACKUP");
}

#[test]
fn rollback_to_a_single_nginx_keeps_the_vip_on_the_host_that_stays() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(3).unwrap();
    let (h1, client) = (lab.host(1).unwrap(), lab.host(3).unwrap());
    let mut p = pair(&lab);
    let http = HttpClient::start(client, vip());
    std::thread::sleep(Duration::from_millis(200));

    // 1. On nginx-02 (the backup): stop vrrpd. Nothing changes for clients.
    p.daemons[1].child.terminate().unwrap();
    assert!(
        p.daemons[1]
            .child
            .wait_timeout(Duration::from_secs(5))
            .unwrap()
            .is_some_and(|s| s.success())
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(holders(&lab, vip()), vec![1]);

    // 2. On nginx-01: systemctl stop vrrpd && ip addr add 192.0.2.100/24 dev eth0
    let stopped = Instant::now();
    p.daemons[0].child.terminate().unwrap();
    assert!(
        p.daemons[0]
            .child
            .wait_timeout(Duration::from_secs(5))
            .unwrap()
            .is_some_and(|s| s.success())
    );
    let out = sh(h1, "ip addr add 192.0.2.100/24 dev eth0");
    assert!(out.status.success(), "{out:?}");
    let gap = stopped.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(holders(&lab, vip()), vec![1]);
    let answers = http.stop();
    let failed = answers.iter().filter(|(_, a)| a.is_err()).count();
    eprintln!(
        "rollback to one Nginx: {} requests, {failed} failed, VIP gone for {gap:?}",
        answers.len()
    );
    assert!(
        answers
            .iter()
            .rev()
            .take(10)
            .all(|(_, a)| a.as_deref() == Ok("nginx-01"))
    );
    // Only the moment between vrrpd's exit and `ip addr add` can fail.
    assert!(failed <= 5, "{failed} failed");
}

#[test]
fn rollback_to_keepalived_one_node_at_a_time_without_an_outage() {
    if !require_root() || !keepalived_installed() {
        return;
    }
    let lab = Lab::new(3).unwrap();
    let (h1, h2, client) = (
        lab.host(1).unwrap(),
        lab.host(2).unwrap(),
        lab.host(3).unwrap(),
    );
    let mut p = pair(&lab);
    // The keepalived configs the pair ran before (the classic guide's, with our addresses),
    // their check script replaced by one that exists here.
    let script = lab.dir().join("check_nginx.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nexec curl -fsS -o /dev/null --max-time 2 http://127.0.0.1/nginx_health\n",
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let keepalived_conf = |file: &str| {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../crates/vrrp-config/tests/fixtures/keepalived")
            .join(file);
        std::fs::read_to_string(path)
            .unwrap()
            .replace("/etc/keepalived/check_nginx.sh", script.to_str().unwrap())
            .lines()
            .filter(|l| !l.trim_start().starts_with("notify_"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let http = HttpClient::start(client, vip());
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();

    // 1. On nginx-02: systemctl stop vrrpd; systemctl start keepalived. keepalived (VRRPv2,
    //    1 s) does not hear vrrpd (VRRPv3): after its Master_Down_Interval it holds the VIP
    //    too and its gratuitous ARP moves the clients to nginx-02.
    p.daemons[1].child.terminate().unwrap();
    p.daemons[1]
        .child
        .wait_timeout(Duration::from_secs(5))
        .unwrap();
    let _k2 = start_keepalived(&lab, h2, &keepalived_conf("nginx-backup.conf"));
    assert!(
        wait_until(Duration::from_secs(10), || holders(&lab, vip())
            == vec![1, 2]),
        "{:?}",
        holders(&lab, vip())
    );
    // 2. On nginx-01: systemctl stop vrrpd; systemctl start keepalived. The VIP stays on
    //    nginx-02 until nginx-01's keepalived (priority 100) preempts it.
    std::thread::sleep(Duration::from_millis(300));
    p.daemons[0].child.terminate().unwrap();
    p.daemons[0]
        .child
        .wait_timeout(Duration::from_secs(5))
        .unwrap();
    assert_eq!(holders(&lab, vip()), vec![2]);
    let k1 = start_keepalived(&lab, h1, &keepalived_conf("nginx-master.conf"));
    assert!(
        wait_until(Duration::from_secs(12), || holders(&lab, vip()) == vec![1]),
        "{:?}\n{}",
        holders(&lab, vip()),
        k1.log()
    );
    // A request sent just before or as the VIP moved may go to nginx-02's stale MAC and time
    // out (200 ms); keepalived's gratuitous ARP settles the client well within 300 ms. Every
    // request sent after that must reach nginx-01.
    let settled = Instant::now() + Duration::from_millis(300);
    std::thread::sleep(Duration::from_millis(700));
    let answers = http.stop();
    let failed: Vec<_> = answers.iter().filter(|(_, a)| a.is_err()).collect();
    eprintln!(
        "rollback to keepalived in {:?}: {} requests, {} failed",
        started.elapsed(),
        answers.len(),
        failed.len()
    );
    let after: Vec<_> = answers
        .iter()
        .filter(|(sent, _)| *sent >= settled)
        .collect();
    assert!(
        after.len() >= 5 && after.iter().all(|(_, a)| a.as_deref() == Ok("nginx-01")),
        "{after:?}"
    );
    // At every step some host answered: at most a request or two caught mid-move.
    assert!(failed.len() <= 3, "{failed:?}");
}
