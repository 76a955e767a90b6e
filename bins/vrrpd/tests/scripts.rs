//! Probes, notify scripts and sync groups of real daemons in network namespaces: a process
//! probe sees its process die at once (not at its next interval); notify scripts run as
//! `script_user` in transition order with keepalived's arguments, through a failover, a fault
//! and a stop; a slow notify script never delays a takeover; the members of a sync group move
//! together when one's probe fails. 100 ms adverts.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::{Daemon, holders, instance, master_down, start_backend, wait_until};
use vrrp_lab::{Lab, require_root};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn the_process_probe_sees_the_kill_without_waiting_for_its_interval() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let backend = start_backend(h1, "nginx-01");
    // A 30 s interval: only the pidfd can make this probe fail within the test.
    let probe = "track = [\"nginx\"]\n\n[probe.nginx]\nkind = \"process\"\nprocess = \"nginx\"\ninterval = \"30s\"\n";
    let d1 = Daemon::start(
        &lab,
        h1,
        &instance(51, 200, "100ms", "192.0.2.100/24", probe),
    );
    let d2 = Daemon::start(&lab, h2, &instance(51, 100, "100ms", "192.0.2.100/24", ""));
    assert!(
        wait_until(Duration::from_secs(3), || holders(&lab, ip("192.0.2.100"))
            == vec![1]),
        "{}",
        d1.child.log()
    );
    assert_eq!(d1.instance("VI_1")["probes"][0]["healthy"], true);
    backend.kill().unwrap();
    let killed = Instant::now();
    assert!(
        wait_until(Duration::from_secs(5), || holders(&lab, ip("192.0.2.100"))
            == vec![2]),
        "the VIP should move\n{}",
        d1.child.log()
    );
    let took = killed.elapsed();
    eprintln!("process killed -> VIP on the backup: {took:?} (probe interval 30 s)");
    // FAULT sends priority 0: the backup takes over after Skew_Time (60 ms), not 30 s.
    assert!(took < Duration::from_secs(1), "took {took:?}");
    let v = d1.instance("VI_1");
    assert_eq!(v["state"], "FAULT");
    assert_eq!(v["probes"][0]["healthy"], false);
    assert_eq!(d2.state(), "MASTER");
}

/// A notify script that appends `USER: ARGS` to `log`, readable and executable by everyone,
/// and the log, writable by everyone (scripts run as `nobody`).
fn logging_script(lab: &Lab, name: &str) -> (PathBuf, PathBuf) {
    let script = lab.dir().join(format!("{name}.sh"));
    let log = lab.dir().join(format!("{name}.log"));
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$(id -un): $*\" >> {}\n", log.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(&log, "").unwrap();
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o666)).unwrap();
    // The lab directory must let `nobody` reach them.
    let dir_mode = std::fs::metadata(lab.dir()).unwrap().permissions().mode();
    assert_eq!(dir_mode & 0o005, 0o005, "lab dir mode {dir_mode:o}");
    (script, log)
}

fn lines(log: &Path, prefixes: &[&str]) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter(|l| {
            let args = l.split_once(": ").map_or("", |(_, a)| a);
            prefixes.iter().any(|p| args.starts_with(p))
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn notify_scripts_run_in_transition_order_with_keepalived_arguments() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let (script, log) = logging_script(&lab, "notify");
    let s = script.display();
    let flag = lab.dir().join("h1-down");
    let vi1 = format!(
        "notify = \"{s}\"\nnotify_master = \"{s} hook master\"\nnotify_backup = \"{s} hook backup\"\n\
         notify_fault = \"{s} hook fault\"\nnotify_stop = \"{s} hook stop\"\ntrack = [\"maint\"]\n"
    );
    let pair = |prio: u8, extra: &str, group_notify: &str| {
        instance(51, prio, "100ms", "192.0.2.100/24", extra)
            + &instance(52, prio, "100ms", "192.0.2.200/24", "").replace("VI_1", "VI_2")
            + &format!(
                "\n[[sync_group]]\nname = \"G1\"\ninstances = [\"VI_1\", \"VI_2\"]\n{group_notify}"
            )
    };
    let h1_cfg = pair(
        200,
        &vi1,
        &format!("notify = \"{s}\"\nnotify_master = \"{s} group-hook master\"\n"),
    ) + &format!(
        "\n[probe.maint]\nkind = \"file\"\nmode = \"absent\"\npath = \"{}\"\ninterval = \"50ms\"\n",
        flag.display()
    );
    let _d2 = Daemon::start(&lab, h2, &pair(100, "", ""));
    let mut d1 = Daemon::start(&lab, h1, &h1_cfg);
    let both_on = |host: usize| {
        holders(&lab, ip("192.0.2.100")) == vec![host]
            && holders(&lab, ip("192.0.2.200")) == vec![host]
    };
    assert!(
        wait_until(Duration::from_secs(3), || both_on(1)),
        "{}",
        d1.child.log()
    );
    // A fault on VI_1's probe: the group goes to FAULT, host 2 takes both VIPs.
    std::fs::write(&flag, "").unwrap();
    assert!(wait_until(Duration::from_secs(2), || both_on(2)));
    assert_eq!(d1.instance("VI_2")["state"], "FAULT");
    // Cleared: back to backup, then host 1 preempts.
    std::fs::remove_file(&flag).unwrap();
    assert!(wait_until(Duration::from_secs(3), || both_on(1)));
    // A graceful stop.
    d1.child.terminate().unwrap();
    let exit = d1.child.wait_timeout(Duration::from_secs(5)).unwrap();
    assert!(exit.is_some_and(|s| s.success()), "{exit:?}");

    let expect_instance: Vec<String> = [
        "hook backup",
        "INSTANCE VI_1 BACKUP 200",
        "hook master",
        "INSTANCE VI_1 MASTER 200",
        "hook fault",
        "INSTANCE VI_1 FAULT 200",
        "hook backup",
        "INSTANCE VI_1 BACKUP 200",
        "hook master",
        "INSTANCE VI_1 MASTER 200",
        "hook stop",
        "INSTANCE VI_1 STOP 200",
    ]
    .iter()
    .map(|l| format!("nobody: {l}"))
    .collect();
    let expect_group: Vec<String> = [
        "GROUP G1 BACKUP 0",
        "group-hook master",
        "GROUP G1 MASTER 0",
        "GROUP G1 FAULT 0",
        "GROUP G1 BACKUP 0",
        "group-hook master",
        "GROUP G1 MASTER 0",
        "GROUP G1 STOP 0",
    ]
    .iter()
    .map(|l| format!("nobody: {l}"))
    .collect();
    // The STOP scripts ran before vrrpd exited.
    assert_eq!(lines(&log, &["hook ", "INSTANCE"]), expect_instance);
    assert_eq!(lines(&log, &["group-hook", "GROUP"]), expect_group);
    // No line for VI_2, which has no scripts of its own.
    assert!(!std::fs::read_to_string(&log).unwrap().contains("VI_2"));
}

#[test]
fn a_slow_notify_script_never_delays_a_takeover() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let (script, log) = logging_script(&lab, "slow");
    // Every transition runs a 5 s script first: the BACKUP one is still running when the
    // master dies, and the MASTER one runs after the takeover.
    let slow = format!(
        "notify = \"{}\"\nnotify_backup = \"/bin/sleep 5\"\nnotify_master = \"/bin/sleep 5\"\n",
        script.display()
    );
    let d1 = Daemon::start(
        &lab,
        h1,
        &instance(51, 100, "100ms", "192.0.2.100/24", &slow),
    );
    let d2 = Daemon::start(&lab, h2, &instance(51, 200, "100ms", "192.0.2.100/24", ""));
    assert!(wait_until(Duration::from_secs(3), || holders(
        &lab,
        ip("192.0.2.100")
    ) == vec![2]));
    let adverts = lab.capture("ip proto 112 and src host 192.0.2.11").unwrap();
    d2.child.kill().unwrap();
    let killed = Instant::now();
    assert!(
        wait_until(Duration::from_secs(2), || h1
            .has_address(ip("192.0.2.100"))
            .unwrap()),
        "{}",
        d1.child.log()
    );
    let took = killed.elapsed();
    let bound = master_down(100, Duration::from_millis(100)) + Duration::from_millis(100);
    eprintln!("takeover with a 5 s notify script in the way: {took:?} (bound {bound:?})");
    assert!(took <= bound, "takeover took {took:?}, bound {bound:?}");
    assert_eq!(d1.state(), "MASTER");
    // The new master advertises every 100 ms from the start.
    std::thread::sleep(Duration::from_millis(1000));
    let sent: Vec<_> = adverts.stop().unwrap();
    assert!(sent.len() >= 9, "{} adverts in 1 s", sent.len());
    let gap = support::largest_gap(&sent.iter().collect::<Vec<_>>());
    assert!(gap < Duration::from_millis(150), "advert gap {gap:?}");
    // The scripts are still queued behind the sleeps: nothing logged the MASTER yet.
    assert!(
        !std::fs::read_to_string(&log).unwrap().contains("MASTER"),
        "the MASTER notify ran before the slow BACKUP one finished"
    );
}

#[test]
fn sync_group_members_move_together_when_one_probe_fails() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let flag = lab.dir().join("h1-down");
    let pair = |prio: u8, track: &str| {
        instance(51, prio, "100ms", "192.0.2.100/24", track)
            + &instance(52, prio, "100ms", "192.0.2.200/24", "").replace("VI_1", "VI_2")
            + "\n[[sync_group]]\nname = \"G1\"\ninstances = [\"VI_1\", \"VI_2\"]\n"
    };
    let h1_cfg = pair(200, "track = [\"maint\"]\n")
        + &format!(
            "\n[probe.maint]\nkind = \"file\"\nmode = \"absent\"\npath = \"{}\"\ninterval = \"50ms\"\n",
            flag.display()
        );
    let d1 = Daemon::start(&lab, h1, &h1_cfg);
    let d2 = Daemon::start(&lab, h2, &pair(100, ""));
    let on = |vip: &str| holders(&lab, ip(vip));
    assert!(wait_until(Duration::from_secs(3), || on("192.0.2.100")
        == vec![1]
        && on("192.0.2.200") == vec![1]));
    std::fs::write(&flag, "").unwrap();
    let failed = Instant::now();
    assert!(
        wait_until(Duration::from_secs(2), || on("192.0.2.100") == vec![2]
            && on("192.0.2.200") == vec![2]),
        "both VIPs should move\n{}",
        d1.child.log()
    );
    eprintln!(
        "probe failed -> both VIPs on the backup: {:?}",
        failed.elapsed()
    );
    let (vi1, vi2) = (d1.instance("VI_1"), d1.instance("VI_2"));
    assert_eq!(vi1["state"], "FAULT");
    assert_eq!(vi1["last_transition"]["reason"], "fault");
    assert_eq!(vi2["state"], "FAULT");
    assert_eq!(vi2["last_transition"]["reason"], "sync_group");
    assert_eq!(d2.instance("VI_1")["state"], "MASTER");
    assert_eq!(d2.instance("VI_2")["state"], "MASTER");
    std::fs::remove_file(&flag).unwrap();
    assert!(wait_until(Duration::from_secs(3), || on("192.0.2.100")
        == vec![1]
        && on("192.0.2.200") == vec![1]));
}
