//! Reload (SIGHUP and `vrrpd reload`) of real daemons in network namespaces: an unchanged
//! configuration causes no transition and no gap in adverts (captured on the bridge); an
//! invalid one changes nothing; a changed priority is re-applied; a removed instance hands
//! over gracefully and an added one starts; an instance added on an interface new to the
//! daemon follows it by name (deleted and created again, its last instance removed and put
//! back); a unicast peer added by a reload is heard once. 100 ms adverts.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use support::{Daemon, holders, largest_gap, vrrp_source, vrrp_vrid_priority, wait_until};
use vrrp_lab::{Lab, require_root};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn one(vrid: u8, name: &str, priority: u8, vip: &str) -> String {
    format!(
        r#"
[[instance]]
name = "{name}"
interface = "eth0"
vrid = {vrid}
priority = {priority}
advert_interval = "100ms"
virtual_ips = ["{vip}"]
"#
    )
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The parts of an instance's status a reload that changes nothing must leave as they were.
fn stable_view(d: &Daemon<'_>, name: &str) -> serde_json::Value {
    let mut i = d.instance(name);
    let obj = i.as_object_mut().unwrap();
    obj.remove("counters");
    obj.remove("probes");
    i
}

#[test]
fn reload_with_an_unchanged_config_causes_no_transition_and_no_advert_gap() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let cfg1 = one(51, "VI_1", 100, "192.0.2.100/24") + &one(52, "VI_2", 200, "192.0.2.200/24");
    let cfg2 = one(51, "VI_1", 200, "192.0.2.100/24") + &one(52, "VI_2", 100, "192.0.2.200/24");
    let d1 = Daemon::start(&lab, h1, &cfg1);
    let d2 = Daemon::start(&lab, h2, &cfg2);
    assert!(
        wait_until(Duration::from_secs(3), || holders(&lab, ip("192.0.2.100"))
            == vec![2]
            && holders(&lab, ip("192.0.2.200")) == vec![1]),
        "each host should master one VIP\n{}\n{}",
        d1.child.log(),
        d2.child.log()
    );
    let before = [
        stable_view(&d1, "VI_1"),
        stable_view(&d1, "VI_2"),
        stable_view(&d2, "VI_1"),
        stable_view(&d2, "VI_2"),
    ];
    let capture = lab.capture("ip proto 112").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // Both kinds of reload, on both hosts (each a master of one instance, backup of the other).
    let r = d2.reload();
    assert!(r.status.success(), "{}{}", stdout(&r), stderr(&r));
    assert!(
        stdout(&r).contains("instances: 2 unchanged, 0 re-applied, 0 added, 0 removed"),
        "{}",
        stdout(&r)
    );
    d1.hup();
    std::thread::sleep(Duration::from_millis(300));
    let r = d1.reload();
    assert!(r.status.success(), "{}", stderr(&r));
    d2.hup();
    std::thread::sleep(Duration::from_millis(500));
    let frames = capture.stop().unwrap();

    // No transition: state, last transition and transition counts are as they were.
    let after = [
        stable_view(&d1, "VI_1"),
        stable_view(&d1, "VI_2"),
        stable_view(&d2, "VI_1"),
        stable_view(&d2, "VI_2"),
    ];
    assert_eq!(before, after);
    // No gap: each master's adverts keep their 100 ms rhythm across the reloads.
    for (master, vrid) in [(ip("192.0.2.12"), 51u8), (ip("192.0.2.11"), 52)] {
        let adverts: Vec<_> = frames
            .iter()
            .filter(|f| {
                vrrp_source(&f.data).map(IpAddr::V4) == Some(master)
                    && vrrp_vrid_priority(&f.data).map(|v| v.0) == Some(vrid)
            })
            .collect();
        assert!(adverts.len() >= 12, "{} adverts only", adverts.len());
        let gap = largest_gap(&adverts);
        eprintln!(
            "VRID {vrid}: {} adverts across 4 reloads, largest gap {gap:?}",
            adverts.len()
        );
        assert!(
            gap < Duration::from_millis(150),
            "an advert gap of {gap:?} (VRID {vrid}) across the reloads"
        );
        // Nobody else spoke for the VRID (no priority-0, no backup taking over).
        assert!(frames.iter().all(|f| {
            vrrp_vrid_priority(&f.data).map(|v| v.0) != Some(vrid)
                || vrrp_source(&f.data).map(IpAddr::V4) == Some(master)
        }));
    }
    assert!(d1.child.log().contains("configuration reloaded"));
}

#[test]
fn an_invalid_reload_changes_nothing_and_says_why() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let good = one(51, "VI_1", 200, "192.0.2.100/24");
    let d1 = Daemon::start(&lab, h1, &one(51, "VI_1", 100, "192.0.2.100/24"));
    let d2 = Daemon::start(&lab, h2, &good);
    assert!(wait_until(Duration::from_secs(3), || holders(
        &lab,
        ip("192.0.2.100")
    ) == vec![2]));
    let before = stable_view(&d2, "VI_1");

    // A syntax-valid file with two errors: both are reported with FILE:LINE:COL.
    let bad = good.replace("vrid = 51", "vrid = 300\nprio = 1");
    d2.rewrite(&bad);
    let r = d2.reload();
    assert_eq!(r.status.code(), Some(1), "{}", stdout(&r));
    let err = stderr(&r);
    let file = d2.config.display().to_string();
    assert!(err.contains("nothing changed"), "{err}");
    assert!(
        err.contains(&format!("{file}:5:8: `vrid` must be 1..=255, found 300")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{file}:6:1: unknown key `prio`")),
        "{err}"
    );
    // SIGHUP with the same file: logged, nothing changes, the daemon goes on. (Wait for its
    // own line, the second: the file must not be rewritten while it is being read.)
    d2.hup();
    assert!(wait_until(Duration::from_secs(2), || d2
        .child
        .log()
        .matches(&format!("{file}:6:1: unknown key `prio`"))
        .count()
        == 2));
    // Valid TOML the machine cannot run (no such interface): refused before any change.
    d2.rewrite(&good.replace("\"eth0\"", "\"eth9\""));
    let r = d2.reload();
    assert_eq!(r.status.code(), Some(1));
    assert!(
        stderr(&r).contains("instance VI_1: interface eth9 does not exist"),
        "{}",
        stderr(&r)
    );
    // Two instances on one VRID and interface: refused too.
    d2.rewrite(&(good.clone() + &one(51, "VI_2", 100, "192.0.2.200/24")));
    let r = d2.reload();
    assert_eq!(r.status.code(), Some(1), "{}", stdout(&r));

    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(stable_view(&d2, "VI_1"), before);
    assert_eq!(d2.status()["instances"].as_array().unwrap().len(), 1);
    assert_eq!(holders(&lab, ip("192.0.2.100")), vec![2]);
    assert_eq!(d1.state(), "BACKUP");
    assert!(alive(&d2), "vrrpd should still run\n{}", d2.child.log());
    // The running config is still the old one: a reload of the good file changes nothing.
    d2.rewrite(&good);
    let r = d2.reload();
    assert!(r.status.success(), "{}", stderr(&r));
    assert!(stdout(&r).contains("1 unchanged"), "{}", stdout(&r));
}

fn alive(d: &Daemon<'_>) -> bool {
    std::path::Path::new(&format!("/proc/{}", d.child.pid())).exists()
}

#[test]
fn a_reload_that_changes_the_priority_re_applies_it() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let d1 = Daemon::start(&lab, h1, &one(51, "VI_1", 100, "192.0.2.100/24"));
    let d2 = Daemon::start(&lab, h2, &one(51, "VI_1", 200, "192.0.2.100/24"));
    assert!(wait_until(Duration::from_secs(3), || holders(
        &lab,
        ip("192.0.2.100")
    ) == vec![2]));

    // The master drops to 50: it hands over gracefully and comes back as a backup at 50.
    d2.rewrite(&one(51, "VI_1", 50, "192.0.2.100/24"));
    let t = Instant::now();
    let r = d2.reload();
    assert!(r.status.success(), "{}", stderr(&r));
    assert!(stdout(&r).contains("1 re-applied (VI_1)"), "{}", stdout(&r));
    assert!(
        wait_until(Duration::from_secs(2), || holders(&lab, ip("192.0.2.100"))
            == vec![1]),
        "host 1 should take over\n{}",
        d2.child.log()
    );
    eprintln!(
        "reload to priority 50 -> VIP on the other host: {:?}",
        t.elapsed()
    );
    assert!(t.elapsed() < Duration::from_secs(1));
    let v = d2.instance("VI_1");
    assert_eq!(v["priority"], 50);
    assert_eq!(v["effective_priority"], 50);
    assert_eq!(v["state"], "BACKUP");
    assert_eq!(
        d1.instance("VI_1")["last_transition"]["reason"],
        "priority_zero_received"
    );
    // Back to 200: it preempts again.
    d2.rewrite(&one(51, "VI_1", 200, "192.0.2.100/24"));
    let r = d2.reload();
    assert!(r.status.success(), "{}", stderr(&r));
    assert!(wait_until(Duration::from_secs(2), || holders(
        &lab,
        ip("192.0.2.100")
    ) == vec![2]));
    assert_eq!(d2.instance("VI_1")["priority"], 200);
    assert_eq!(d2.instance("VI_1")["state"], "MASTER");
}

#[test]
fn a_removed_instance_hands_over_gracefully_and_an_added_one_starts() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let both = |p: u8| one(51, "VI_1", p, "192.0.2.100/24") + &one(52, "VI_2", p, "192.0.2.200/24");
    let d1 = Daemon::start(&lab, h1, &both(100));
    let d2 = Daemon::start(&lab, h2, &both(200));
    assert!(wait_until(Duration::from_secs(3), || {
        holders(&lab, ip("192.0.2.100")) == vec![2] && holders(&lab, ip("192.0.2.200")) == vec![2]
    }));
    let vi1_before = stable_view(&d2, "VI_1");
    let capture = lab.capture("ip proto 112").unwrap();

    // VI_2 goes: its VIP leaves host 2 and host 1 takes over within Skew_Time (priority 0).
    d2.rewrite(&one(51, "VI_1", 200, "192.0.2.100/24"));
    let t = Instant::now();
    let r = d2.reload();
    assert!(r.status.success(), "{}", stderr(&r));
    assert!(
        stdout(&r).contains("1 unchanged, 0 re-applied, 0 added, 1 removed (VI_2)"),
        "{}",
        stdout(&r)
    );
    assert!(wait_until(Duration::from_secs(2), || holders(
        &lab,
        ip("192.0.2.200")
    ) == vec![1]));
    let took = t.elapsed();
    eprintln!("removed instance -> VIP on the other host: {took:?}");
    // Skew_Time of priority 100 at 100 ms is 61 ms; allow for the reload round trip.
    assert!(took < Duration::from_millis(250), "handover took {took:?}");
    assert_eq!(d1.instance("VI_2")["state"], "MASTER");
    assert_eq!(
        d1.instance("VI_2")["last_transition"]["reason"],
        "priority_zero_received"
    );
    assert_eq!(d2.instance("VI_2"), serde_json::Value::Null);
    assert_eq!(stable_view(&d2, "VI_1"), vi1_before);
    std::thread::sleep(Duration::from_millis(200));
    let frames = capture.stop().unwrap();
    assert!(
        frames.iter().any(
            |f| vrrp_source(&f.data) == Some("192.0.2.12".parse().unwrap())
                && vrrp_vrid_priority(&f.data) == Some((52, 0))
        ),
        "no priority-0 advert for VRID 52 from host 2"
    );

    // VI_3 comes, with a probe: it starts (master: nobody else has VRID 53), the probe too.
    let added = one(51, "VI_1", 200, "192.0.2.100/24")
        + &one(53, "VI_3", 150, "192.0.2.150/24")
        + "track = [\"up\"]\n\n[probe.up]\nkind = \"interface\"\ninterface = \"eth0\"\n";
    d2.rewrite(&added);
    let r = d2.reload();
    assert!(r.status.success(), "{}", stderr(&r));
    assert!(
        stdout(&r).contains("1 added (VI_3), 0 removed; probes: 1 started (up)"),
        "{}",
        stdout(&r)
    );
    assert!(wait_until(Duration::from_secs(2), || holders(
        &lab,
        ip("192.0.2.150")
    ) == vec![2]));
    let v3 = d2.instance("VI_3");
    assert_eq!(v3["state"], "MASTER");
    assert_eq!(v3["probes"][0]["name"], "up");
    assert_eq!(v3["probes"][0]["healthy"], true);
    assert_eq!(stable_view(&d2, "VI_1"), vi1_before);
    // And the probe goes with its instance.
    d2.rewrite(&one(51, "VI_1", 200, "192.0.2.100/24"));
    let r = d2.reload();
    assert!(
        stdout(&r).contains("1 removed (VI_3); probes: 0 started, 0 restarted, 1 stopped (up)"),
        "{}",
        stdout(&r)
    );
    assert!(wait_until(Duration::from_secs(1), || holders(
        &lab,
        ip("192.0.2.150")
    )
    .is_empty()));
}

/// A v3 instance on interface `dev` (100 ms adverts).
fn on(dev: &str, vrid: u8, name: &str, priority: u8, vip: &str, extra: &str) -> String {
    one(vrid, name, priority, vip)
        .replace("interface = \"eth0\"", &format!("interface = \"{dev}\""))
        + extra
}

/// A veth pair `lan1` between hosts 1 and 2 (198.51.100.11 and .12), created inside their
/// namespaces; gone with them.
fn plug_lan1(lab: &Lab) {
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    h1.run(&[
        "ip",
        "link",
        "add",
        "lan1",
        "type",
        "veth",
        "peer",
        "name",
        "lan1",
        "netns",
        h2.namespace(),
    ])
    .unwrap();
    for (h, addr) in [(h1, "198.51.100.11/24"), (h2, "198.51.100.12/24")] {
        h.run(&["ip", "addr", "add", addr, "dev", "lan1"]).unwrap();
        h.run(&["ip", "link", "set", "lan1", "up"]).unwrap();
    }
}

#[test]
fn an_instance_added_on_a_new_interface_follows_it_by_name() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let base = |p: u8| one(51, "VI_1", p, "192.0.2.100/24");
    let with_lan = |p: u8| base(p) + &on("lan1", 61, "VI_L", p, "198.51.100.100/24", "");
    let d1 = Daemon::start(&lab, h1, &base(200));
    let d2 = Daemon::start(&lab, h2, &base(100));
    assert!(wait_until(Duration::from_secs(3), || holders(
        &lab,
        ip("192.0.2.100")
    ) == vec![1]));
    let vi1_before = stable_view(&d1, "VI_1");

    // An interface the daemons have never seen, and a reload that puts an instance on it.
    plug_lan1(&lab);
    for (d, p) in [(&d1, 200), (&d2, 100)] {
        d.rewrite(&with_lan(p));
        let r = d.reload();
        assert!(r.status.success(), "{}", stderr(&r));
        assert!(
            stdout(&r).contains("1 unchanged, 0 re-applied, 1 added (VI_L), 0 removed"),
            "{}",
            stdout(&r)
        );
    }
    let lan_vip = ip("198.51.100.100");
    let settled = || {
        holders(&lab, lan_vip) == vec![1]
            && d1.instance("VI_L")["state"] == "MASTER"
            && d2.instance("VI_L")["state"] == "BACKUP"
    };
    // Host 2 hears host 1 on lan1 (else both would be master).
    assert!(
        wait_until(Duration::from_secs(3), settled),
        "one master on lan1: holders {:?}\n{}\n{}",
        holders(&lab, lan_vip),
        d1.child.log(),
        d2.child.log()
    );

    // Deleted (both ends of the pair) and created again with new indices: both daemons
    // follow the name, as for an interface of the start-up configuration.
    h1.run(&["ip", "link", "del", "lan1"]).unwrap();
    assert!(
        wait_until(Duration::from_secs(2), || d1.instance("VI_L")["state"]
            == "FAULT"
            && d2.instance("VI_L")["state"] == "FAULT"),
        "FAULT without lan1"
    );
    assert_eq!(d1.instance("VI_1")["state"], "MASTER");
    plug_lan1(&lab);
    assert!(
        wait_until(Duration::from_secs(3), settled),
        "one master on the new lan1: holders {:?}\n{}\n{}",
        holders(&lab, lan_vip),
        d1.child.log(),
        d2.child.log()
    );

    // The name's last instance goes; the interface stays known, and an instance put back on
    // it by the next reload hears its peer again.
    d2.rewrite(&base(100));
    let r = d2.reload();
    assert!(
        stdout(&r).contains("0 added, 1 removed (VI_L)"),
        "{}",
        stdout(&r)
    );
    assert_eq!(d2.instance("VI_L"), serde_json::Value::Null);
    d2.rewrite(&with_lan(100));
    let r = d2.reload();
    assert!(
        stdout(&r).contains("1 added (VI_L), 0 removed"),
        "{}",
        stdout(&r)
    );
    assert!(wait_until(Duration::from_secs(3), settled));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(d2.instance("VI_L")["state"], "BACKUP");
    assert_eq!(d1.instance("VI_L")["transitions"]["MASTER"], 2);
    assert_eq!(stable_view(&d1, "VI_1"), vi1_before);
}

#[test]
fn a_reload_that_adds_a_unicast_peer_hears_each_of_its_adverts_once() {
    if !require_root() {
        return;
    }
    // Host 1 runs VI_1 with host 2 as unicast peer; a reload adds VI_2 with host 3 as peer.
    // Host 3's adverts reach host 1 on the socket connected to it and on the catch-all for
    // unicast adverts from anyone else, which must start skipping host 3 too.
    let lab = Lab::new(3).unwrap();
    let (h1, h2, h3) = (
        lab.host(1).unwrap(),
        lab.host(2).unwrap(),
        lab.host(3).unwrap(),
    );
    let unicast = |vrid: u8, name: &str, p: u8, me: &vrrp_lab::Host, peer: &vrrp_lab::Host| {
        one(vrid, name, p, &format!("192.0.2.{vrid}/24"))
            + &format!(
                "unicast_src = \"{}\"\nunicast_peers = [\"{}\"]\n",
                me.ipv4(),
                peer.ipv4()
            )
    };
    let d1 = Daemon::start(&lab, h1, &unicast(51, "VI_1", 100, h1, h2));
    let _d2 = Daemon::start(&lab, h2, &unicast(51, "VI_1", 200, h2, h1));
    let _d3 = Daemon::start(&lab, h3, &unicast(52, "VI_2", 200, h3, h1));
    assert!(wait_until(Duration::from_secs(3), || d1.state() == "BACKUP"));
    d1.rewrite(&(unicast(51, "VI_1", 100, h1, h2) + &unicast(52, "VI_2", 100, h1, h3)));
    let r = d1.reload();
    assert!(
        stdout(&r).contains("1 unchanged, 0 re-applied, 1 added (VI_2)"),
        "{}",
        stdout(&r)
    );
    assert!(wait_until(
        Duration::from_secs(3),
        || d1.instance("VI_2")["state"] == "BACKUP"
    ));
    let received = |name: &str| {
        d1.instance(name)["counters"]["adverts_received"]
            .as_u64()
            .unwrap()
    };
    let before = (received("VI_1"), received("VI_2"));
    std::thread::sleep(Duration::from_secs(2));
    let after = (received("VI_1"), received("VI_2"));
    // 100 ms adverts: at most about 20 in 2 s from each master (fewer if it is slowed down);
    // about twice that if each is heard twice.
    for (name, n) in [("VI_1", after.0 - before.0), ("VI_2", after.1 - before.1)] {
        eprintln!("{name}: {n} adverts received in 2 s");
        assert!((10..=28).contains(&n), "{name}: {n} adverts in 2 s");
    }
}
