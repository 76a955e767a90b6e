//! Least privilege (issue 9), with real daemons in lab namespaces:
//!
//! - once set up, `vrrpd run` holds only CAP_NET_ADMIN and CAP_NET_RAW (effective, permitted,
//!   bounding; nothing inheritable or ambient), in every thread, and still moves the VIP;
//! - with scripts that run as another user it also keeps CAP_SETUID, CAP_SETGID and CAP_KILL, says why
//!   in its log, and the scripts run as `nobody` with no capability and a clean environment;
//! - as a non-root user with ambient capabilities (what the systemd unit does) it elects,
//!   moves the VIP, makes and removes a VMAC and restores the sysctls it changed; without
//!   CAP_SETUID it refuses scripts that switch user before it touches anything;
//! - without CAP_SYS_PTRACE, process probes still count only processes in the daemon's own
//!   network namespace;
//! - a config or a status socket that someone else could change is refused, with the fix.
//!
//! Each test builds its own lab and tears it down on drop, also on failure.

// Helpers of these tests unwrap: a failure there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::IpAddr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use support::{Daemon, holders, instance, start_backend, vrrpd, wait_until};
use vrrp_lab::{Lab, require_root};
use vrrp_runtime::privilege::{Capabilities, ThreadCapabilities};

const VIP: &str = "192.0.2.100";
/// The user the unprivileged daemon runs as: a uid with no passwd entry, as a dedicated
/// system user would have.
const DAEMON_UID: u32 = 64_123;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn net() -> Capabilities {
    Capabilities::NET_ADMIN.union(Capabilities::NET_RAW)
}

/// The capabilities of every thread of `pid`, checked to be the same in each.
fn threads_of(pid: u32) -> ThreadCapabilities {
    let tasks = format!("/proc/{pid}/task");
    let mut seen: Option<ThreadCapabilities> = None;
    let mut n = 0;
    for entry in std::fs::read_dir(&tasks).unwrap() {
        let caps = ThreadCapabilities::read(&entry.unwrap().path().join("status")).unwrap();
        if let Some(first) = seen {
            assert_eq!(caps, first, "threads of {pid} differ");
        }
        seen = Some(caps);
        n += 1;
    }
    assert!(n >= 1);
    seen.unwrap()
}

/// Waits until the daemon answers `status` with its instance in `state`.
fn wait_state(d: &Daemon<'_>, state: &str) {
    assert!(
        wait_until(Duration::from_secs(5), || d.state() == state),
        "not {state}: {}\n{}",
        d.state(),
        d.child.log()
    );
}

fn status_field(pid: u32, key: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

#[test]
fn once_set_up_the_daemon_holds_only_net_admin_and_net_raw_and_still_moves_the_vip() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(1).unwrap();
    let h1 = lab.host(1).unwrap();
    let d = Daemon::start(&lab, h1, &instance(51, 100, "100ms", "192.0.2.100/24", ""));
    let pid = d.child.pid();
    assert_eq!(
        status_field(pid, "Name"),
        "vrrpd",
        "the guard's pid is vrrpd itself"
    );
    // The VIP is added after the drop (becoming master takes Master_Down_Interval).
    wait_state(&d, "MASTER");
    assert_eq!(holders(&lab, ip(VIP)), vec![1]);

    let caps = threads_of(pid);
    assert_eq!(caps.effective, net(), "CapEff {}", caps.effective);
    assert_eq!(caps.permitted, net(), "CapPrm {}", caps.permitted);
    assert_eq!(caps.bounding, net(), "CapBnd {}", caps.bounding);
    assert!(
        caps.inheritable.is_empty() && caps.ambient.is_empty(),
        "{caps:?}"
    );
    let log = d.child.log();
    assert!(
        log.contains("privileges dropped") && log.contains("CAP_NET_ADMIN CAP_NET_RAW"),
        "{log}"
    );
    assert!(
        !log.contains("CAP_SETUID"),
        "no script: no user switch\n{log}"
    );

    // The status socket: 0600, the daemon's.
    let meta = std::fs::symlink_metadata(&d.socket).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o600, "socket mode {:o}", meta.mode());

    // A graceful stop still removes the VIP (netlink with CAP_NET_ADMIN only).
    d.child.terminate().unwrap();
    let mut child = d.child;
    let status = child.wait_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", child.log());
    assert_eq!(holders(&lab, ip(VIP)), Vec::<usize>::new());
    assert!(!child.log().contains("could not"), "{}", child.log());
}

/// A script that records what it runs with: its /proc status and its environment, in
/// `OUT/status-WHAT` and `OUT/env-WHAT`.
const DUMP: &str =
    "#!/bin/sh\ncat /proc/$$/status > \"$1/status-$2\"\ncat /proc/$$/environ > \"$1/env-$2\"\n";

#[test]
fn scripts_run_as_nobody_with_no_capability_and_a_clean_environment() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(1).unwrap();
    let h1 = lab.host(1).unwrap();
    let script = lab.dir().join("dump.sh");
    std::fs::write(&script, DUMP).unwrap();
    std::fs::set_permissions(&script, PermissionsExt::from_mode(0o755)).unwrap();
    let out = lab.dir().join("out");
    std::fs::create_dir(&out).unwrap();
    std::os::unix::fs::chown(&out, Some(65534), Some(65534)).unwrap();
    let (script, out) = (script.to_str().unwrap(), out.to_str().unwrap());
    let toml = format!(
        "[probe.dump]\nkind = \"exec\"\ncommand = [\"{script}\", \"{out}\", \"probe\"]\ninterval = \"100ms\"\nweight = -1\n{}",
        instance(
            51,
            100,
            "100ms",
            "192.0.2.100/24",
            &format!("track = [\"dump\"]\nnotify_master = \"{script} {out} master\""),
        )
    );
    // The daemon runs with whatever environment the test has; the scripts must not see it.
    let d = Daemon::start(&lab, h1, &toml);
    wait_state(&d, "MASTER");

    let caps = threads_of(d.child.pid());
    let with_switch = net().union(Capabilities::SCRIPT_USER_SWITCH);
    assert_eq!(caps.effective, with_switch, "CapEff {}", caps.effective);
    assert_eq!(caps.permitted, with_switch);
    assert_eq!(caps.bounding, with_switch);
    assert!(caps.ambient.is_empty() && caps.inheritable.is_empty());
    let log = d.child.log();
    assert!(
        log.contains("CAP_SETUID, CAP_SETGID and CAP_KILL kept because scripts run as script_user")
            && log.contains("script_user=nobody")
            && log.contains("probe dump, instance VI_1 notify_master"),
        "{log}"
    );

    for what in ["probe", "master"] {
        let status = Path::new(out).join(format!("status-{what}"));
        let env = Path::new(out).join(format!("env-{what}"));
        assert!(
            wait_until(Duration::from_secs(5), || env.exists()
                && std::fs::metadata(&env).is_ok_and(|m| m.len() > 0)),
            "the {what} script did not run\n{}",
            d.child.log()
        );
        let text = std::fs::read_to_string(&status).unwrap();
        let caps = ThreadCapabilities::parse_status(&text).unwrap();
        assert!(
            caps.effective.is_empty() && caps.permitted.is_empty() && caps.ambient.is_empty(),
            "{what} script holds capabilities: {caps:?}"
        );
        assert_eq!(
            caps.bounding, with_switch,
            "{what}: the bounding set is inherited"
        );
        let field = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(k)?.strip_prefix(':'))
                .unwrap()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(field("Uid"), "65534 65534 65534 65534", "{what}");
        assert_eq!(field("Gid"), "65534 65534 65534 65534", "{what}");
        assert_eq!(field("Groups"), "", "{what}: no supplementary group");
        assert_eq!(
            std::fs::read(&env).unwrap(),
            b"PATH=/usr/sbin:/usr/bin:/sbin:/bin\0",
            "{what}: the environment is PATH only"
        );
    }
}

#[test]
fn as_a_non_root_user_with_ambient_capabilities_it_elects_moves_the_vip_and_cleans_up() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    // VMAC: a macvlan made at setup, arp_ignore / arp_filter written under /proc/sys/net and
    // restored at exit, after the drop: CAP_NET_ADMIN is enough for all of it.
    let sysctl = |h: &vrrp_lab::Host, key: &str| {
        h.run(&["cat", &format!("/proc/sys/net/ipv4/conf/eth0/{key}")])
            .unwrap()
            .trim()
            .to_owned()
    };
    let before = (sysctl(h1, "arp_ignore"), sysctl(h1, "arp_filter"));
    let d1 = Daemon::start_unprivileged(
        &lab,
        h1,
        &instance(51, 200, "100ms", "192.0.2.100/24", "use_vmac = true"),
        DAEMON_UID,
    );
    let d2 = Daemon::start(
        &lab,
        h2,
        &instance(51, 100, "100ms", "192.0.2.100/24", "use_vmac = true"),
    );
    wait_state(&d1, "MASTER");
    wait_state(&d2, "BACKUP");
    assert_eq!(holders(&lab, ip(VIP)), vec![1]);

    let pid = d1.child.pid();
    assert_eq!(status_field(pid, "Name"), "vrrpd");
    let uid = status_field(pid, "Uid");
    assert!(
        uid.split_whitespace().all(|u| u == DAEMON_UID.to_string()),
        "Uid {uid}"
    );
    let caps = threads_of(pid);
    assert_eq!(caps.effective, net());
    assert_eq!(caps.permitted, net());
    assert_eq!(caps.bounding, net());
    assert!(
        caps.ambient.is_empty() && caps.inheritable.is_empty(),
        "the ambient capabilities are not passed on: {caps:?}"
    );
    assert_eq!(sysctl(h1, "arp_ignore"), "1", "set for the VMAC");
    let log = d1.child.log();
    assert!(log.contains("privileges dropped"), "{log}");
    assert!(!log.contains("bounding set could not"), "{log}");
    // `vrrpd status` works against the user's socket (mode 0600, owned by it).
    let meta = std::fs::metadata(&d1.socket).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (DAEMON_UID, 0o600));

    // Graceful stop: VIP and VMAC removed, sysctls restored, the backup takes over.
    d1.child.terminate().unwrap();
    let mut child = d1.child;
    let status = child.wait_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", child.log());
    assert!(
        wait_until(Duration::from_secs(3), || holders(&lab, ip(VIP)) == vec![2]),
        "host 2 should hold the VIP: {:?}\n{}",
        holders(&lab, ip(VIP)),
        d2.child.log()
    );
    let links = h1.run(&["ip", "-o", "link"]).unwrap();
    assert!(!links.contains("vrrp"), "VMAC left behind:\n{links}");
    assert_eq!((sysctl(h1, "arp_ignore"), sysctl(h1, "arp_filter")), before);
    let log = child.log();
    assert!(
        !log.contains("could not") && !log.contains("ERROR"),
        "the unprivileged daemon failed something:\n{log}"
    );
}

#[test]
fn a_non_root_daemon_without_setuid_refuses_scripts_that_switch_user_before_touching_anything() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(1).unwrap();
    let h1 = lab.host(1).unwrap();
    let config = lab.dir().join("scripts.toml");
    std::fs::write(
        &config,
        format!(
            "[probe.chk]\nkind = \"exec\"\ncommand = [\"/bin/true\"]\n{}",
            instance(
                51,
                100,
                "100ms",
                "192.0.2.100/24",
                "track = [\"chk\"]\nuse_vmac = true"
            )
        ),
    )
    .unwrap();
    let run = lab.dir().join("run-refuse");
    std::fs::create_dir(&run).unwrap();
    std::os::unix::fs::chown(&run, Some(DAEMON_UID), Some(DAEMON_UID)).unwrap();
    let (reuid, regid) = (
        format!("--reuid={DAEMON_UID}"),
        format!("--regid={DAEMON_UID}"),
    );
    let out = h1
        .output(&[
            "setpriv",
            &reuid,
            &regid,
            "--clear-groups",
            "--inh-caps=-all,+net_admin,+net_raw",
            "--ambient-caps=-all,+net_admin,+net_raw",
            vrrpd(),
            "run",
            "--config",
            config.to_str().unwrap(),
            "--socket",
            run.join("vrrpd.sock").to_str().unwrap(),
        ])
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "vrrpd (uid {DAEMON_UID}) lacks CAP_KILL CAP_SETGID CAP_SETUID, which it needs to run probe chk as script_user \"nobody\" (uid 65534) (or set script_user to vrrpd's own user)"
        )),
        "{stderr}"
    );
    // Refused before the setup: no VMAC was made.
    let links = h1.run(&["ip", "-o", "link"]).unwrap();
    assert!(!links.contains("vrrp"), "{links}");
}

#[test]
fn without_ptrace_rights_process_probes_still_count_only_their_own_namespace() {
    if !require_root() {
        return;
    }
    // A daemon that dropped its capabilities may not read /proc/PID/ns/net of a root process
    // with more capabilities (an Nginx master, here the lab's stand-in); it tells namespaces
    // apart by /proc/PID/net/dev instead. Only the process probe decides here: if host 2's
    // "nginx" counted for host 1, killing host 1's would change nothing.
    let lab = Lab::new(2).unwrap();
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let backend1 = start_backend(h1, "nginx-01");
    let _backend2 = start_backend(h2, "nginx-02");
    let probe = "[probe.nginx]\nkind = \"process\"\nprocess = \"nginx\"\ninterval = \"100ms\"\n";
    let track = "track = [\"nginx\"]";
    let d1 = Daemon::start(
        &lab,
        h1,
        &format!(
            "{probe}{}",
            instance(51, 150, "100ms", "192.0.2.100/24", track)
        ),
    );
    let d2 = Daemon::start(
        &lab,
        h2,
        &format!(
            "{probe}{}",
            instance(51, 100, "100ms", "192.0.2.100/24", track)
        ),
    );
    wait_state(&d1, "MASTER");
    wait_state(&d2, "BACKUP");
    assert_eq!(threads_of(d1.child.pid()).effective, net());
    let backend_pid = backend1.pid();
    let denied = h1
        .output(&[
            "setpriv",
            "--inh-caps=-all",
            "--bounding-set=-all,+net_admin,+net_raw",
            "readlink",
            &format!("/proc/{backend_pid}/ns/net"),
        ])
        .unwrap();
    assert!(
        !denied.status.success(),
        "control: with vrrpd's capabilities the ns/net link of a root process is unreadable"
    );

    backend1.kill().unwrap();
    wait_state(&d1, "FAULT");
    assert!(
        wait_until(Duration::from_secs(3), || holders(&lab, ip(VIP)) == vec![2]),
        "host 2 should hold the VIP: {:?}\n{}",
        holders(&lab, ip(VIP)),
        d1.child.log()
    );
}

/// Runs `vrrpd run` in `host` and expects it to refuse at once (exit 1) with `needles` in
/// its error.
fn refused(host: &vrrp_lab::Host, config: &Path, socket: &Path, needles: &[&str]) {
    let out = host
        .output(&[
            vrrpd(),
            "run",
            "--config",
            config.to_str().unwrap(),
            "--socket",
            socket.to_str().unwrap(),
        ])
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "not refused:\n{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} not in:\n{stderr}");
    }
}

#[test]
fn configs_and_sockets_that_others_could_change_are_refused_with_the_fix() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(1).unwrap();
    let h1 = lab.host(1).unwrap();
    let toml = instance(51, 100, "100ms", "192.0.2.100/24", "");
    let conf_dir = lab.dir().join("etc");
    std::fs::create_dir(&conf_dir).unwrap();
    let config = conf_dir.join("vrrpd.toml");
    std::fs::write(&config, &toml).unwrap();
    let socket = lab.dir().join("refuse.sock");
    let c = config.display().to_string();
    let mode =
        |p: &Path, m: u32| std::fs::set_permissions(p, PermissionsExt::from_mode(m)).unwrap();

    // World-writable config.
    mode(&config, 0o646);
    refused(
        h1,
        &config,
        &socket,
        &[
            &format!("refusing {c}: it is world-writable"),
            &format!("fix: chmod o-w {c}"),
        ],
    );
    mode(&config, 0o644);

    // A config owned by someone else.
    std::os::unix::fs::chown(&config, Some(4242), Some(4242)).unwrap();
    refused(
        h1,
        &config,
        &socket,
        &[
            &format!("refusing {c}: it belongs to uid 4242"),
            &format!("fix: chown root {c}"),
        ],
    );
    std::os::unix::fs::chown(&config, Some(0), Some(0)).unwrap();

    // A world-writable directory (sticky or not).
    mode(&conf_dir, 0o1777);
    let dir = conf_dir.display().to_string();
    refused(
        h1,
        &config,
        &socket,
        &[
            &format!("refusing {c}: its directory {dir} is world-writable"),
            &format!("fix: chmod o-w {dir}"),
        ],
    );
    mode(&conf_dir, 0o755);

    // A socket path someone else holds: a live socket of theirs is neither used nor removed.
    let theirs = lab.dir().join("theirs.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(4242), Some(4242)).unwrap();
    let s = theirs.display().to_string();
    refused(
        h1,
        &config,
        &theirs,
        &[
            &format!("refusing {s}: it belongs to uid 4242"),
            "answer `vrrpd status`",
        ],
    );
    assert!(theirs.exists(), "the foreign socket must be left alone");

    // A regular file where the socket should go is not removed either.
    let file = lab.dir().join("file.sock");
    std::fs::write(&file, "keep me").unwrap();
    refused(
        h1,
        &config,
        &file,
        &["it exists and is not a socket (a regular file)"],
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");

    // A socket in a world-writable directory.
    let open_dir = lab.dir().join("open");
    std::fs::create_dir(&open_dir).unwrap();
    mode(&open_dir, 0o777);
    refused(
        h1,
        &config,
        &open_dir.join("vrrpd.sock"),
        &[&format!(
            "its directory {} is world-writable",
            open_dir.display()
        )],
    );

    // Nothing above touched the network, and the fixed setup runs.
    assert_eq!(holders(&lab, ip(VIP)), Vec::<usize>::new());
    let d = Daemon::start(&lab, h1, &toml);
    wait_state(&d, "MASTER");
}
