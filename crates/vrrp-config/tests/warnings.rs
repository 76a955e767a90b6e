//! Warnings: single node, against a host, and across the nodes of a cluster.

// Test helpers panic on purpose: a panic is a failed assertion.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use vrrp_config::{
    Diagnostic, FileStatus, InterfaceAddress, LoadedConfig, Severity, StaticHost, check_cluster,
};

fn load(name: &str, text: &str) -> LoadedConfig {
    LoadedConfig::parse(name, text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn texts(d: &[Diagnostic]) -> Vec<String> {
    d.iter().map(ToString::to_string).collect()
}

fn has(d: &[Diagnostic], needle: &str) {
    assert!(
        d.iter().any(|w| w.to_string().contains(needle)),
        "no warning containing {needle:?} in:\n{}",
        texts(d).join("\n")
    );
}

fn none(d: &[Diagnostic], needle: &str) {
    assert!(
        !d.iter().any(|w| w.to_string().contains(needle)),
        "unexpected warning containing {needle:?} in:\n{}",
        texts(d).join("\n")
    );
}

/// A node of the classic pair: one process probe with `weight`, one instance.
fn node(priority: u8, weight: i32, extra: &str) -> String {
    format!(
        r#"[probe.nginx]
kind = "process"
process = "nginx"
weight = {weight}

[[instance]]
name = "VI_1"
interface = "eth0"
vrid = 51
priority = {priority}
virtual_ips = ["192.0.2.100/24"]
track = ["nginx"]
{extra}
"#
    )
}

#[test]
fn the_100_80_minus_10_pair_is_caught_with_probe_node_priorities_and_fix() {
    let master = load("master.toml", &node(100, -10, ""));
    let backup = load("backup.toml", &node(80, -10, ""));
    let w = check_cluster(&[master, backup]);
    let weight: Vec<&Diagnostic> = w
        .iter()
        .filter(|d| d.message.contains("cannot move"))
        .collect();
    assert_eq!(weight.len(), 1, "{:#?}", texts(&w));
    let d = weight[0];
    assert_eq!(d.severity, Severity::Warning);
    // located at the probe's weight in the master's file
    assert_eq!((d.file.as_str(), d.line, d.column), ("master.toml", 4, 10));
    assert_eq!(
        d.message,
        "probe \"nginx\" (weight -10) cannot move instance \"VI_1\" away from master.toml: when it fails here, \
the priority drops from 100 to 90, still above backup.toml's 80, so backup.toml never takes over. \
Fix: weight must be below -20 (e.g. -21), or raise backup.toml's priority to 91..=99 (lowering it makes things worse), \
or remove the weight so that a failure puts the instance in FAULT"
    );
}

#[test]
fn a_weight_that_crosses_the_backup_is_fine_and_a_tie_is_flagged() {
    let w = check_cluster(&[
        load("m.toml", &node(100, -21, "")),
        load("b.toml", &node(80, -21, "")),
    ]);
    none(&w, "move instance");
    let w = check_cluster(&[
        load("m.toml", &node(100, -20, "")),
        load("b.toml", &node(80, -20, "")),
    ]);
    has(
        &w,
        "may not move instance \"VI_1\" away from m.toml: when it fails here, the priority drops from 100 to 80, equal to b.toml's 80",
    );
    // a probe without weight means FAULT: always moves
    let nw = node(100, 0, "").replace("weight = 0\n", "");
    let w = check_cluster(&[load("m.toml", &nw), load("b.toml", &node(80, -10, ""))]);
    none(&w, "move instance");
}

#[test]
fn positive_weights_count_on_both_sides() {
    // +30 on both: master 130, backup 110; master's failure leaves 100 < 110: moves
    let w = check_cluster(&[
        load("m.toml", &node(100, 30, "")),
        load("b.toml", &node(80, 30, "")),
    ]);
    none(&w, "move instance");
    // +10 on both: master 110, backup 90; failure leaves 100 > 90: stuck
    let w = check_cluster(&[
        load("m.toml", &node(100, 10, "")),
        load("b.toml", &node(80, 10, "")),
    ]);
    has(
        &w,
        "probe \"nginx\" (weight 10) cannot move instance \"VI_1\" away from m.toml: when it fails here, the priority drops from 110 (100 +10 from its healthy probes) to 100, still above b.toml's 90 (80 +10 from its healthy probes)",
    );
    has(&w, "lower this node's priority to 81..=89");
    // a positive weight only on the backup can make it outrank the intended master
    let plain = node(100, 0, "").replace("weight = 0\n", "");
    let w = check_cluster(&[load("m.toml", &plain), load("b.toml", &node(80, 30, ""))]);
    has(
        &w,
        "b.toml:10:12: warning: instance \"VI_1\": with every probe healthy this node's priority is 110 (80 +30 from its healthy probes), above m.toml's 100",
    );
}

#[test]
fn a_backup_without_preemption_never_takes_over_on_weights() {
    let w = check_cluster(&[
        load("m.toml", &node(100, -50, "")),
        load("b.toml", &node(80, -50, "preempt = false")),
    ]);
    has(
        &w,
        "the weights of this node's probes can never move the VIP: b.toml has `preempt = false`",
    );
}

#[test]
fn three_nodes_check_each_handover() {
    let w = check_cluster(&[
        load("a.toml", &node(100, -30, "")),
        load("b.toml", &node(90, -5, "")),
        load("c.toml", &node(80, -5, "")),
    ]);
    none(&w, "away from a.toml");
    has(
        &w,
        "away from b.toml: when it fails here (when a.toml is down), the priority drops from 90 to 85, still above c.toml's 80",
    );
}

#[test]
fn mismatches_between_nodes() {
    let a = node(100, -50, "advert_interval = \"1s\"");
    let b = node(80, -50, "advert_interval = \"2s\"")
        .replace("vrid = 51", "vrid = 52")
        .replace("192.0.2.100/24", "192.0.2.101/24");
    let w = check_cluster(&[load("a.toml", &a), load("b.toml", &b)]);
    has(
        &w,
        "b.toml:9:8: warning: instance \"VI_1\": vrid is 52 here but 51 in a.toml",
    );
    has(&w, "advert_interval is 2s here but 1s in a.toml");
    has(
        &w,
        "virtual_ips is [192.0.2.101] here but [192.0.2.100] in a.toml",
    );

    let v2 = |p: u8, pass: &str| node(p, -50, &format!("version = 2\nauth_pass = \"{pass}\""));
    let w = check_cluster(&[
        load("a.toml", &v2(100, "one")),
        load("b.toml", &v2(80, "two")),
    ]);
    has(&w, "auth_pass is a different password here");
    let w = check_cluster(&[
        load("a.toml", &node(100, -50, "version = 2")),
        load("b.toml", &node(80, -50, "")),
    ]);
    has(&w, "version is 3 here but 2 in a.toml");

    let w = check_cluster(&[
        load("a.toml", &node(100, -50, "")),
        load("b.toml", &node(100, -50, "")),
    ]);
    has(&w, "priority 100 here and in a.toml");

    let other = node(80, -50, "").replace("VI_1", "VI_X");
    let w = check_cluster(&[load("a.toml", &node(100, -50, "")), load("b.toml", &other)]);
    has(&w, "instance \"VI_1\" exists only in a.toml");
    has(
        &w,
        "instance \"VI_X\" uses vrid 51 like instance \"VI_1\" in a.toml",
    );

    let uni = |p: u8, src: &str, peer: &str| {
        node(
            p,
            -50,
            &format!("unicast_src = \"{src}\"\nunicast_peers = [\"{peer}\"]"),
        )
    };
    let w = check_cluster(&[
        load("a.toml", &uni(100, "192.0.2.11", "192.0.2.12")),
        load("b.toml", &uni(80, "192.0.2.12", "192.0.2.13")),
    ]);
    has(
        &w,
        "b.toml:14:17: warning: instance \"VI_1\": a.toml's unicast_src 192.0.2.11 is not among the unicast_peers here",
    );
    none(&w, "b.toml's unicast_src");
    let w = check_cluster(&[
        load("a.toml", &uni(100, "192.0.2.11", "192.0.2.12")),
        load("b.toml", &node(80, -50, "")),
    ]);
    has(&w, "one node sends unicast and the other multicast");
}

#[test]
fn single_node_warnings() {
    let w = load("n.toml", &node(255, -10, "preempt = false")).warnings(None);
    has(&w, "priority 255 is the address owner");
    has(&w, "the weight of probe \"nginx\" has no effect");

    let w = load("n.toml", &node(250, 10, "")).warnings(None);
    has(
        &w,
        "priority 250 plus the positive weights is 260, clamped to 254",
    );
    let w = load("n.toml", &node(5, -10, "")).warnings(None);
    has(&w, "clamped to 1");

    let w = load(
        "n.toml",
        &node(
            100,
            -60,
            "version = 2\nchecksum = \"message-only\"\ngarp_repeat = 0",
        ),
    )
    .warnings(None);
    has(&w, "`checksum` only applies to VRRPv3 over IPv4");
    has(&w, "`garp_repeat = 0`");

    let unused = format!(
        "[probe.spare]\nkind = \"tcp\"\nport = 80\ntimeout = \"2s\"\n{}",
        node(100, -60, "")
    );
    let w = load("n.toml", &unused).warnings(None);
    has(
        &w,
        "n.toml:1:1: warning: probe \"spare\" is not tracked by any instance",
    );
    has(&w, "timeout 2s is longer than its interval 1s");

    let dns = "[probe.h]\nkind = \"http\"\nurl = \"http://localhost/\"\n[probe.e]\nkind = \"exec\"\ncommand = \"check\"\n";
    let w = load(
        "n.toml",
        &format!(
            "{dns}{}",
            node(100, -60, "").replace("track = [\"nginx\"]", "track = [\"nginx\", \"h\", \"e\"]")
        ),
    )
    .warnings(None);
    has(&w, "resolved through DNS");
    has(&w, "is looked up in PATH");

    let grouped = format!(
        "{}[[sync_group]]\nname = \"G\"\ninstances = [\"VI_1\"]\n",
        node(100, -60, "")
    );
    let w = load("n.toml", &grouped).warnings(None);
    has(&w, "sync group \"G\" has one member");
    has(&w, "is in sync group \"G\" but tracks weighted probes");

    // the article's pair, written natively and correctly, warns about nothing
    let w = load("n.toml", &node(100, -60, "")).warnings(None);
    assert!(w.is_empty(), "{:#?}", texts(&w));
}

fn host(addrs: &[(&str, &str, u8)]) -> StaticHost {
    let mut interfaces: BTreeMap<String, Vec<InterfaceAddress>> = BTreeMap::new();
    for (ifname, a, len) in addrs {
        interfaces
            .entry((*ifname).to_string())
            .or_default()
            .push(InterfaceAddress {
                addr: a.parse().unwrap(),
                prefix_len: *len,
            });
    }
    StaticHost {
        interfaces: Some(interfaces),
        files: None,
    }
}

#[test]
fn host_checks_against_interfaces() {
    let h = host(&[
        ("eth0", "192.0.2.11", 24),
        ("eth0", "fe80::1", 64),
        ("lo", "127.0.0.1", 8),
    ]);
    let cfg = load("n.toml", &node(100, -60, ""));
    let w = cfg.warnings(Some(&h));
    assert!(w.is_empty(), "{:#?}", texts(&w));

    let outside = load(
        "n.toml",
        &node(100, -60, "").replace("192.0.2.100/24", "198.51.100.100/24"),
    );
    let w = outside.warnings(Some(&h));
    has(
        &w,
        "n.toml:11:16: warning: virtual IP 198.51.100.100 is outside every subnet of eth0 (192.0.2.11/24)",
    );

    let missing = load(
        "n.toml",
        &node(100, -60, "").replace("\"eth0\"", "\"eth9\""),
    );
    has(
        &missing.warnings(Some(&h)),
        "interface \"eth9\" does not exist on this host",
    );

    let own = load(
        "n.toml",
        &node(100, -60, "").replace("192.0.2.100/24", "192.0.2.11/24"),
    );
    has(
        &own.warnings(Some(&h)),
        "192.0.2.11 is already an address of eth0",
    );
    let owner = load("n.toml", &node(255, -60, ""));
    has(
        &owner.warnings(Some(&h)),
        "priority 255 means this host owns the virtual IPs",
    );

    let src = load(
        "n.toml",
        &node(
            100,
            -60,
            "unicast_src = \"192.0.2.99\"\nunicast_peers = [\"192.0.2.12\"]",
        ),
    );
    has(
        &src.warnings(Some(&h)),
        "`unicast_src` 192.0.2.99 is not an address of eth0",
    );
}

#[test]
fn host_checks_against_script_files() {
    let root_only = |mode| FileStatus {
        uid: 0,
        gid: 0,
        mode,
        is_dir: false,
    };
    let dir = |uid, mode| FileStatus {
        uid,
        gid: 0,
        mode,
        is_dir: true,
    };
    let mut files = BTreeMap::new();
    files.insert(PathBuf::from("/"), dir(0, 0o755));
    files.insert(PathBuf::from("/etc"), dir(0, 0o755));
    files.insert(PathBuf::from("/etc/vrrpd"), dir(0, 0o755));
    files.insert(PathBuf::from("/etc/vrrpd/good.sh"), root_only(0o755));
    files.insert(PathBuf::from("/etc/vrrpd/open.sh"), root_only(0o777));
    files.insert(PathBuf::from("/etc/vrrpd/plain.sh"), root_only(0o644));
    files.insert(PathBuf::from("/home"), dir(0, 0o755));
    files.insert(PathBuf::from("/home/bob"), dir(1000, 0o755));
    files.insert(
        PathBuf::from("/home/bob/check.sh"),
        FileStatus {
            uid: 1000,
            gid: 1000,
            mode: 0o755,
            is_dir: false,
        },
    );
    files.insert(PathBuf::from("/tmp"), dir(0, 0o1777));
    files.insert(PathBuf::from("/tmp/x.sh"), root_only(0o755));
    let h = StaticHost {
        interfaces: None,
        files: Some(files),
    };

    let with = |cmd: &str| {
        load(
            "n.toml",
            &format!(
                "[probe.s]\nkind = \"exec\"\ncommand = \"{cmd}\"\n{}",
                node(100, -60, "").replace("track = [\"nginx\"]", "track = [\"nginx\", \"s\"]")
            ),
        )
        .warnings(Some(&h))
    };
    assert!(
        with("/etc/vrrpd/good.sh").is_empty(),
        "{:#?}",
        texts(&with("/etc/vrrpd/good.sh"))
    );
    has(
        &with("/etc/vrrpd/open.sh"),
        "n.toml:3:11: warning: script /etc/vrrpd/open.sh is writable by every user",
    );
    has(&with("/etc/vrrpd/plain.sh"), "is not executable");
    has(
        &with("/etc/vrrpd/nothere.sh"),
        "/etc/vrrpd/nothere.sh does not exist on this host",
    );
    let bob = with("/home/bob/check.sh");
    has(
        &bob,
        "script /home/bob/check.sh is owned by uid 1000, not root",
    );
    has(&bob, "directory /home/bob is owned by uid 1000, not root");
    // /tmp is world-writable but sticky: the file itself is what matters
    assert!(
        with("/tmp/x.sh").is_empty(),
        "{:#?}",
        texts(&with("/tmp/x.sh"))
    );

    let notify =
        load("n.toml", &node(100, -60, "notify = \"/etc/vrrpd/open.sh\"")).warnings(Some(&h));
    has(
        &notify,
        "script /etc/vrrpd/open.sh is writable by every user",
    );
}

/// An instance with `n` IPv6 VIPs (2001:db8::1:1 upwards).
fn ipv6_instance(n: usize) -> String {
    let vips: Vec<String> = (1..=n)
        .map(|i| format!("\"2001:db8::1:{i:x}/64\""))
        .collect();
    format!(
        "[[instance]]\nname = \"V6\"\ninterface = \"eth0\"\nvrid = 51\npriority = 100\nversion = 3\nvirtual_ips = [{}]\n",
        vips.join(", ")
    )
}

#[test]
fn an_ipv6_advert_larger_than_the_ethernet_mtu_is_flagged() {
    // 40 + 8 + 16 × 90 = 1488 bytes: fits.
    let w = load("n.toml", &ipv6_instance(90)).warnings(None);
    none(&w, "Ethernet MTU");
    // 91 addresses: 1504 bytes, fragmented.
    let w = load("n.toml", &ipv6_instance(91)).warnings(None);
    has(
        &w,
        "instance \"V6\": 91 virtual_ips make a 1504-byte advert, more than a 1500-byte Ethernet MTU",
    );
}
