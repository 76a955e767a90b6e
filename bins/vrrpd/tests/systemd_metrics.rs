//! The operator's side of a running daemon, in network namespaces: Prometheus metrics scraped
//! from inside the lab, and the systemd notify protocol spoken to a fake `NOTIFY_SOCKET` (a
//! Unix datagram socket this test binds) with a watchdog. 100 ms adverts.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::IpAddr;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use support::{Daemon, holders, http_get, instance, metric, wait_until};
use vrrp_lab::{Lab, require_root};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn with_metrics(addr: &str, body: &str) -> String {
    format!("[global]\nmetrics = \"{addr}\"\n{body}")
}

#[test]
fn metrics_scraped_in_the_lab_show_state_priorities_counters_and_probes() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let flag = lab.dir().join("h2-down");
    let probe = format!(
        "track = [\"maint\"]\n\n[probe.maint]\nkind = \"file\"\nmode = \"absent\"\npath = \"{}\"\ninterval = \"50ms\"\nweight = -150\n",
        flag.display()
    );
    // The higher priority first, so that host 1 never becomes master on its own.
    let d2 = Daemon::start(
        &lab,
        h2,
        &with_metrics(
            "192.0.2.12:9688",
            &instance(51, 200, "100ms", "192.0.2.100/24", &probe),
        ),
    );
    let d1 = Daemon::start(
        &lab,
        h1,
        &with_metrics(
            "127.0.0.1:9688",
            &instance(51, 100, "100ms", "192.0.2.100/24", ""),
        ),
    );
    assert!(wait_until(Duration::from_secs(3), || holders(
        &lab,
        ip("192.0.2.100")
    ) == vec![2]));
    std::thread::sleep(Duration::from_millis(300));

    // Host 2's endpoint, scraped from host 1 across the lab's LAN.
    let (code, text) = http_get(h1, "192.0.2.12:9688", "/metrics").unwrap();
    assert_eq!(code, 200, "{text}");
    let i = "instance=\"VI_1\"";
    assert_eq!(
        metric(&text, "vrrp_instance_state", &[i, "state=\"MASTER\""]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, "vrrp_instance_state", &[i, "state=\"BACKUP\""]),
        Some(0.0)
    );
    assert_eq!(metric(&text, "vrrp_instance_priority", &[i]), Some(200.0));
    assert_eq!(
        metric(&text, "vrrp_instance_effective_priority", &[i]),
        Some(200.0)
    );
    assert_eq!(metric(&text, "vrrp_became_master_total", &[i]), Some(1.0));
    assert_eq!(
        metric(
            &text,
            "vrrp_instance_transitions_total",
            &[i, "to=\"MASTER\""]
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &text,
            "vrrp_instance_transitions_total",
            &[i, "to=\"BACKUP\""]
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &text,
            "vrrp_probe_healthy",
            &[i, "probe=\"maint\"", "kind=\"file\""]
        ),
        Some(1.0)
    );
    // The counters are the ones `vrrpd status` shows (adverts go on between the two reads).
    let sent = metric(&text, "vrrp_adverts_sent_total", &[i]).unwrap();
    let status_sent = d2.counter("adverts_sent") as f64;
    assert!(
        sent >= 3.0 && sent <= status_sent,
        "metrics {sent}, status {status_sent}"
    );
    assert_eq!(metric(&text, "vrrp_checksum_errors_total", &[i]), Some(0.0));

    // Host 1's, on its loopback, from inside host 1: the backup's view.
    let (code, text) = http_get(h1, "127.0.0.1:9688", "/metrics").unwrap();
    assert_eq!(code, 200);
    assert_eq!(
        metric(&text, "vrrp_instance_state", &[i, "state=\"BACKUP\""]),
        Some(1.0)
    );
    let received = metric(&text, "vrrp_adverts_received_total", &[i]).unwrap();
    assert!(received >= 3.0, "{received}");
    assert_eq!(metric(&text, "vrrp_became_master_total", &[i]), Some(0.0));
    // Not /metrics: 404.
    assert_eq!(http_get(h1, "127.0.0.1:9688", "/").unwrap().0, 404);

    // The probe fails on host 2: effective priority and probe health follow, the VIP moves.
    std::fs::write(&flag, "").unwrap();
    assert!(wait_until(Duration::from_secs(2), || holders(
        &lab,
        ip("192.0.2.100")
    ) == vec![1]));
    let (_, text) = http_get(h1, "192.0.2.12:9688", "/metrics").unwrap();
    assert_eq!(
        metric(&text, "vrrp_instance_effective_priority", &[i]),
        Some(50.0)
    );
    assert_eq!(
        metric(&text, "vrrp_probe_healthy", &[i, "probe=\"maint\""]),
        Some(0.0)
    );
    assert_eq!(
        metric(&text, "vrrp_instance_state", &[i, "state=\"BACKUP\""]),
        Some(1.0)
    );
    let (_, text) = http_get(h1, "127.0.0.1:9688", "/metrics").unwrap();
    assert_eq!(metric(&text, "vrrp_became_master_total", &[i]), Some(1.0));

    // A reload moves the endpoint: the new address answers, the old one no longer does.
    d1.rewrite(&with_metrics(
        "127.0.0.1:9689",
        &instance(51, 100, "100ms", "192.0.2.100/24", ""),
    ));
    let r = d1.reload();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(http_get(h1, "127.0.0.1:9689", "/metrics").unwrap().0, 200);
    assert!(http_get(h1, "127.0.0.1:9688", "/metrics").is_err());
}

/// Reads datagrams from the fake notify socket until `pred` holds for one (returned) or
/// `timeout` passes; every message read is appended to `log`.
fn wait_message(
    socket: &UnixDatagram,
    log: &mut Vec<(Instant, String)>,
    timeout: Duration,
    pred: impl Fn(&str) -> bool,
) -> Option<String> {
    let end = Instant::now() + timeout;
    let mut buf = [0u8; 4096];
    while Instant::now() < end {
        socket
            .set_read_timeout(Some(
                end.saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1)),
            ))
            .unwrap();
        let Ok(n) = socket.recv(&mut buf) else {
            continue;
        };
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        log.push((Instant::now(), text.clone()));
        if pred(&text) {
            return Some(text);
        }
    }
    None
}

#[test]
fn systemd_notify_ready_status_watchdog_reload_and_stopping() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(1).unwrap();
    let h1 = lab.host(1).unwrap();
    let path = lab.dir().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let cfg = instance(51, 100, "100ms", "192.0.2.100/24", "")
        + &instance(52, 100, "100ms", "192.0.2.200/24", "").replace("VI_1", "VI_2");
    let notify = format!("NOTIFY_SOCKET={}", path.display());
    // A 400 ms watchdog: WATCHDOG=1 every 200 ms.
    let mut d = Daemon::start_env(&lab, h1, &cfg, &[&notify, "WATCHDOG_USEC=400000"]);
    let mut log = Vec::new();

    // READY=1 comes once every instance is started (none is still INIT), with a status line.
    let ready = wait_message(&socket, &mut log, Duration::from_secs(5), |m| {
        m.contains("READY=1")
    })
    .unwrap_or_else(|| panic!("no READY=1: {log:?}\n{}", d.child.log()));
    assert!(
        ready.contains("STATUS=2 instances: VI_1 BACKUP, VI_2 BACKUP"),
        "{ready}"
    );
    // Alone on the LAN, both become master: STATUS follows.
    assert!(
        wait_message(&socket, &mut log, Duration::from_secs(3), |m| m
            == "STATUS=2 instances: VI_1 MASTER, VI_2 MASTER\n")
        .is_some(),
        "{log:?}"
    );
    // The watchdog: pinged every 200 ms from the event loop.
    let start = Instant::now();
    let mut pings = Vec::new();
    let window = Duration::from_millis(1100);
    while start.elapsed() < window {
        let left = window.saturating_sub(start.elapsed());
        if wait_message(&socket, &mut log, left, |m| m == "WATCHDOG=1\n").is_some() {
            pings.push(Instant::now());
        }
    }
    assert!(
        (4..=7).contains(&pings.len()),
        "{} pings in 1.1 s: {log:?}",
        pings.len()
    );
    let longest = pings
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();
    assert!(longest < Duration::from_millis(350), "{longest:?}");

    // SIGHUP: RELOADING=1 with the monotonic time, then READY=1 again.
    d.hup();
    let reloading = wait_message(&socket, &mut log, Duration::from_secs(2), |m| {
        m.contains("RELOADING=1")
    })
    .unwrap_or_else(|| panic!("{log:?}"));
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    let ready = wait_message(&socket, &mut log, Duration::from_secs(2), |m| {
        m.contains("READY=1")
    })
    .unwrap_or_else(|| panic!("{log:?}"));
    assert!(ready.contains("STATUS=2 instances: VI_1 MASTER, VI_2 MASTER"));

    // SIGTERM: STOPPING=1, then a clean exit.
    d.child.terminate().unwrap();
    assert!(
        wait_message(&socket, &mut log, Duration::from_secs(2), |m| m
            .contains("STOPPING=1"))
        .is_some(),
        "{log:?}"
    );
    let exit = d.child.wait_timeout(Duration::from_secs(3)).unwrap();
    assert!(exit.is_some_and(|s| s.success()), "{exit:?}");
    assert!(holders(&lab, ip("192.0.2.100")).is_empty());
}

/// The capabilities of packaging/vrrpd.service, in setpriv's syntax (`-all,+net_admin,...`).
fn unit_capabilities() -> Vec<String> {
    let unit = std::fs::read_to_string(format!(
        "{}/../../packaging/vrrpd.service",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    for needed in [
        "Type=notify",
        "WatchdogSec=",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "NoNewPrivileges=yes",
    ] {
        assert!(
            unit.lines().any(|l| l.starts_with(needed)),
            "unit lacks {needed}"
        );
    }
    let line = unit
        .lines()
        .find_map(|l| l.strip_prefix("CapabilityBoundingSet="))
        .unwrap();
    line.split_whitespace()
        .map(|c| c.trim_start_matches("CAP_").to_lowercase())
        .collect()
}

fn bounding_set(caps: &[String]) -> String {
    let mut set = "-all".to_owned();
    for c in caps {
        set.push_str(",+");
        set.push_str(c);
    }
    set
}

/// Processes in `host` whose command line contains `needle`.
fn processes_with(host: &vrrp_lab::Host, needle: &str) -> usize {
    let out = std::process::Command::new("ip")
        .args(["netns", "pids", host.namespace()])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
                .is_ok_and(|c| c.contains(needle))
        })
        .count()
}

#[test]
fn the_unit_files_capabilities_are_enough_and_each_one_is_needed() {
    if !require_root() {
        return;
    }
    let caps = unit_capabilities();
    assert_eq!(caps, ["net_admin", "net_raw", "setuid", "setgid", "kill"]);
    let lab = Lab::new(1).unwrap();
    let h1 = lab.host(1).unwrap();
    let script = lab.dir().join("whoami.sh");
    let log = lab.dir().join("whoami.log");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$(id -un) $1\" >> {}\n", log.display()),
    )
    .unwrap();
    std::fs::write(&log, "").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o666)).unwrap();
    // Everything that needs a privilege: a VMAC (and its parent's ARP sysctls), raw sockets,
    // a notify script and an exec probe run as nobody, the probe killed at each timeout.
    let cfg = instance(
        51,
        100,
        "100ms",
        "192.0.2.100/24",
        &format!(
            "use_vmac = true\nnotify_master = \"{} master\"\ntrack = [\"hang\"]\n\n\
             [probe.hang]\nkind = \"exec\"\ncommand = \"/bin/sleep 3601\"\ninterval = \"200ms\"\n\
             timeout = \"100ms\"\nweight = -10\n",
            script.display()
        ),
    );
    let wrapped = |set: &str| -> Vec<String> {
        ["setpriv", "--nnp", "--bounding-set", set]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let run = |set: &str| {
        let prefix = wrapped(set);
        let prefix: Vec<&str> = prefix.iter().map(String::as_str).collect();
        Daemon::start_wrapped(&lab, h1, &cfg, &prefix)
    };

    // The unit's set: all of it works.
    let mut d = run(&bounding_set(&caps));
    assert!(
        wait_until(Duration::from_secs(3), || h1
            .has_address(ip("192.0.2.100"))
            .unwrap()),
        "{}",
        d.child.log()
    );
    assert_eq!(h1.addresses("vrrp4.51").unwrap().len(), 1);
    assert!(
        wait_until(Duration::from_secs(2), || std::fs::read_to_string(&log)
            .unwrap()
            .contains("nobody master")),
        "the notify script did not run as nobody\n{}",
        d.child.log()
    );
    std::thread::sleep(Duration::from_millis(1200));
    let sleeping = processes_with(h1, "sleep 3601");
    assert!(sleeping <= 1, "{sleeping} probe processes left running");
    assert_eq!(
        d.instance("VI_1")["probes"][0]["last_result"],
        "timeout",
        "{}",
        d.child.log()
    );
    assert!(!d.child.log().contains("could not set arp_ignore"));
    d.child.terminate().unwrap();
    let exit = d.child.wait_timeout(Duration::from_secs(5)).unwrap();
    assert!(exit.is_some_and(|s| s.success()), "{}", d.child.log());
    assert!(h1.addresses("vrrp4.51").is_err(), "the VMAC should be gone");
    drop(d);

    // Without any one of them the daemon refuses to start, before touching the network, and
    // names what it lacks: CAP_KILL (timed-out scripts of another user could not be killed
    // and would pile up), CAP_SETUID (scripts could not switch to nobody), CAP_NET_RAW (no
    // sockets).
    let without = |cap: &str| {
        let rest: Vec<String> = caps.iter().filter(|c| *c != cap).cloned().collect();
        bounding_set(&rest)
    };
    let config = lab.dir().join("vrrpd-1.toml");
    let config = config.to_str().unwrap().to_owned();
    let refused = |cap: &str| {
        let prefix = wrapped(&without(cap));
        let mut argv: Vec<&str> = prefix.iter().map(String::as_str).collect();
        let socket = lab.dir().join(format!("no-{cap}.sock"));
        let socket = socket.to_str().unwrap().to_owned();
        argv.extend_from_slice(&[
            support::vrrpd(),
            "run",
            "--config",
            &config,
            "--socket",
            &socket,
        ]);
        let mut child = h1.spawn(&argv).unwrap();
        let exit = child.wait_timeout(Duration::from_secs(5)).unwrap();
        assert!(
            exit.is_some_and(|s| !s.success()),
            "without {cap}: {exit:?}"
        );
        assert!(
            !h1.has_address(ip("192.0.2.100")).unwrap(),
            "without {cap}: a VIP was added"
        );
        assert!(
            h1.addresses("vrrp4.51").is_err(),
            "without {cap}: a VMAC was made"
        );
        child.log()
    };
    let log_kill = refused("kill");
    assert!(log_kill.contains("lacks CAP_KILL"), "{log_kill}");
    let log_setuid = refused("setuid");
    assert!(log_setuid.contains("lacks CAP_SETUID"), "{log_setuid}");
    let log_raw = refused("net_raw");
    assert!(log_raw.contains("lacks CAP_NET_RAW"), "{log_raw}");
}
