//! Real daemons in network namespaces (issue 5): election, failover on SIGKILL with a
//! gratuitous ARP, graceful handover, preemption, the address owner, IPv6 with unsolicited NA,
//! unicast peers, VMAC, stale-VIP cleanup after a crash, VRRPv2.
//!
//! Each test builds its own lab (bridge + hosts in namespaces, documentation addresses only)
//! and tears it down on drop, also on failure. Adverts are 100 ms (v3) except in the v2 test.

// Helpers of these tests unwrap: a failure there is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use support::{Daemon, holders, instance, master_down, skew, wait_until};
use vrrp_lab::{Lab, require_root};

const VIP4: &str = "192.0.2.100";
const VIP6: &str = "2001:db8::100";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Samples the VIP holders among `live` hosts every 10 ms for `span` and returns the first
/// moment two of them held it, if any.
fn dual_holders(lab: &Lab, vip: IpAddr, live: &[usize], span: Duration) -> Option<Vec<usize>> {
    let end = Instant::now() + span;
    while Instant::now() < end {
        let h: Vec<usize> = holders(lab, vip)
            .into_iter()
            .filter(|n| live.contains(n))
            .collect();
        if h.len() > 1 {
            return Some(h);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

#[test]
fn two_daemons_elect_the_higher_priority_and_a_kill_moves_the_vip_with_a_garp() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let d1 = Daemon::start(&lab, h1, &instance(51, 100, "100ms", "192.0.2.100/24", ""));
    let d2 = Daemon::start(&lab, h2, &instance(51, 200, "100ms", "192.0.2.100/24", ""));
    assert!(
        wait_until(Duration::from_secs(3), || holders(&lab, ip(VIP4))
            == vec![2]),
        "host 2 (priority 200) should hold the VIP; holders {:?}\n{}\n{}",
        holders(&lab, ip(VIP4)),
        d1.child.log(),
        d2.child.log()
    );
    assert_eq!(d1.state(), "BACKUP");
    assert_eq!(d2.state(), "MASTER");
    assert_eq!(d1.status()["instances"][0]["master"], "192.0.2.12");
    // Converged: never two holders.
    assert_eq!(
        dual_holders(&lab, ip(VIP4), &[1, 2], Duration::from_millis(500)),
        None
    );

    let garps = lab.capture("arp").unwrap();
    d2.child.kill().unwrap();
    let killed = Instant::now();
    // A killed daemon cannot remove its VIP; what matters is the backup taking over.
    assert!(
        wait_until(Duration::from_secs(2), || h1.has_address(ip(VIP4)).unwrap()),
        "host 1 should take over\n{}",
        d1.child.log()
    );
    let took = killed.elapsed();
    let bound = master_down(100, Duration::from_millis(100)) + Duration::from_millis(100);
    assert!(took <= bound, "takeover took {took:?}, bound {bound:?}");
    assert_eq!(d1.state(), "MASTER");
    let t = &d1.status()["instances"][0]["last_transition"];
    assert_eq!(t["reason"], "master_down_timer");

    // The new master announced the VIP: sender IP = target IP = VIP, sender MAC = host 1's.
    let mac = h1.mac();
    assert!(
        garps
            .wait_for(Duration::from_secs(1), |p| is_garp(
                &p.data,
                [192, 0, 2, 100],
                mac
            ))
            .unwrap()
            .is_some(),
        "no gratuitous ARP for the VIP from host 1 on the bridge"
    );
}

/// An ARP request with sender IP = target IP = `ip` and sender MAC `mac`, broadcast.
fn is_garp(frame: &[u8], ip: [u8; 4], mac: [u8; 6]) -> bool {
    frame.len() >= 42
        && frame[0..6] == [0xff; 6]
        && frame[12..14] == [0x08, 0x06]
        && frame[20..22] == [0, 1]
        && frame[22..28] == mac
        && frame[28..32] == ip
        && frame[38..42] == ip
}

#[test]
fn three_daemons_elect_the_highest_priority() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(3).unwrap();
    let prios = [150u8, 250, 100];
    let daemons: Vec<Daemon<'_>> = prios
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Daemon::start(
                &lab,
                lab.host(i + 1).unwrap(),
                &instance(7, *p, "100ms", "192.0.2.100/24", ""),
            )
        })
        .collect();
    assert!(
        wait_until(Duration::from_secs(3), || holders(&lab, ip(VIP4))
            == vec![2]),
        "host 2 (250) should win; holders {:?}",
        holders(&lab, ip(VIP4))
    );
    assert_eq!(
        dual_holders(&lab, ip(VIP4), &[1, 2, 3], Duration::from_millis(500)),
        None
    );
    let states: Vec<String> = daemons.iter().map(Daemon::state).collect();
    assert_eq!(states, ["BACKUP", "MASTER", "BACKUP"]);
    // The next in line takes over when the master dies.
    daemons[1].child.kill().unwrap();
    assert!(wait_until(Duration::from_secs(2), || lab
        .host(1)
        .unwrap()
        .has_address(ip(VIP4))
        .unwrap()));
    assert_eq!(daemons[0].state(), "MASTER");
    assert_eq!(daemons[2].state(), "BACKUP");
}

#[test]
fn graceful_stop_hands_over_within_skew_time() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let d1 = Daemon::start(&lab, h1, &instance(51, 100, "100ms", "192.0.2.100/24", ""));
    let mut d2 = Daemon::start(&lab, h2, &instance(51, 200, "100ms", "192.0.2.100/24", ""));
    assert!(wait_until(Duration::from_secs(3), || holders(
        &lab,
        ip(VIP4)
    ) == vec![2]));
    d2.child.terminate().unwrap();
    let stopped = Instant::now();
    assert!(
        wait_until(Duration::from_secs(2), || holders(&lab, ip(VIP4))
            == vec![1]),
        "host 1 should hold the VIP alone; holders {:?}",
        holders(&lab, ip(VIP4))
    );
    let took = stopped.elapsed();
    let bound = skew(100, Duration::from_millis(100)) + Duration::from_millis(100);
    assert!(
        took <= bound,
        "handover took {took:?}, bound Skew_Time + 100 ms = {bound:?}"
    );
    let exit = d2.child.wait_timeout(Duration::from_secs(3)).unwrap();
    assert!(
        exit.is_some_and(|s| s.success()),
        "vrrpd should exit 0 on SIGTERM: {exit:?}\n{}",
        d2.child.log()
    );
    let status = d1.status();
    assert_eq!(
        status["instances"][0]["last_transition"]["reason"],
        "priority_zero_received"
    );
    assert!(
        status["instances"][0]["counters"]["priority_zero_received"]
            .as_u64()
            .unwrap()
            >= 1
    );
}

#[test]
fn preempt_takes_over_and_nopreempt_does_not() {
    if !require_root() {
        return;
    }
    for preempt in [true, false] {
        let lab = Lab::new(2).unwrap();
        let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
        let _d1 = Daemon::start(&lab, h1, &instance(51, 100, "100ms", "192.0.2.100/24", ""));
        assert!(wait_until(Duration::from_secs(3), || holders(
            &lab,
            ip(VIP4)
        ) == vec![1]));
        let d2 = Daemon::start(
            &lab,
            h2,
            &instance(
                51,
                200,
                "100ms",
                "192.0.2.100/24",
                &format!("preempt = {preempt}"),
            ),
        );
        if preempt {
            assert!(
                wait_until(Duration::from_secs(2), || holders(&lab, ip(VIP4))
                    == vec![2]),
                "the higher priority should preempt"
            );
            assert_eq!(
                d2.status()["instances"][0]["last_transition"]["reason"],
                "preempt"
            );
        } else {
            // Well past Master_Down_Interval: still host 1.
            std::thread::sleep(Duration::from_millis(1000));
            assert_eq!(
                holders(&lab, ip(VIP4)),
                vec![1],
                "preempt = false must not take over"
            );
            assert_eq!(d2.state(), "BACKUP");
        }
    }
}

#[test]
fn the_address_owner_is_master_at_once_and_keeps_it() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let d1 = Daemon::start(&lab, h1, &instance(51, 254, "100ms", "192.0.2.100/24", ""));
    assert!(wait_until(Duration::from_secs(3), || holders(
        &lab,
        ip(VIP4)
    ) == vec![1]));
    let started = Instant::now();
    let d2 = Daemon::start(&lab, h2, &instance(51, 255, "100ms", "192.0.2.100/24", ""));
    // RFC 9568 §6.4.1: the owner goes straight to master, without waiting.
    assert!(wait_until(Duration::from_secs(1), || holders(
        &lab,
        ip(VIP4)
    ) == vec![2]));
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "the owner took {:?}",
        started.elapsed()
    );
    assert_eq!(
        d2.status()["instances"][0]["last_transition"]["reason"],
        "address_owner"
    );
    assert_eq!(d1.state(), "BACKUP");
}

#[test]
fn ipv6_vip_moves_with_an_unsolicited_na_whose_router_flag_follows_forwarding() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let d1 = Daemon::start(
        &lab,
        h1,
        &instance(61, 100, "100ms", "2001:db8::100/64", ""),
    );
    let d2 = Daemon::start(
        &lab,
        h2,
        &instance(61, 200, "100ms", "2001:db8::100/64", ""),
    );
    assert!(
        wait_until(Duration::from_secs(3), || holders(&lab, ip(VIP6))
            == vec![2]),
        "holders {:?}\n{}\n{}",
        holders(&lab, ip(VIP6)),
        d1.child.log(),
        d2.child.log()
    );
    assert_eq!(d1.state(), "BACKUP");
    let master = d1.status()["instances"][0]["master"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        master.starts_with("fe80::"),
        "IPv6 adverts come from the link-local address: {master}"
    );
    // Forwarding turned on after host 1's frames were prepared: its NAs must say R.
    h1.run(&["sysctl", "-qw", "net.ipv6.conf.eth0.forwarding=1"])
        .unwrap();
    let nas = lab.capture("icmp6 and ip6[40] == 136").unwrap();
    d2.child.kill().unwrap();
    assert!(wait_until(Duration::from_secs(2), || h1
        .has_address(ip(VIP6))
        .unwrap()));
    let vip: [u8; 16] = "2001:db8::100"
        .parse::<std::net::Ipv6Addr>()
        .unwrap()
        .octets();
    let mac = h1.mac();
    assert!(
        nas.wait_for(Duration::from_secs(1), |p| {
            let f = &p.data;
            // Ethernet(14) + IPv6(40): type 136, flags with Router and Override set,
            // target = VIP, target link-layer option = host 1's MAC.
            f.len() >= 86
                && f[6..12] == mac
                && f[54] == 136
                && f[58] & 0xa0 == 0xa0
                && f[62..78] == vip
                && f[80..86] == mac
        })
        .unwrap()
        .is_some(),
        "no unsolicited NA with R set for the VIP from host 1"
    );
    assert!(
        nas.packets()
            .unwrap()
            .iter()
            .filter(|p| p.data.len() >= 86 && p.data[6..12] == mac)
            .all(|p| p.data[58] & 0x80 != 0),
        "an NA from host 1 with R clear while it forwards"
    );
}

#[test]
fn unicast_peers_elect_and_fail_over() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let cfg = |prio: u8, me: &str, peer: &str| {
        instance(
            51,
            prio,
            "100ms",
            "192.0.2.100/24",
            &format!("unicast_src = \"{me}\"\nunicast_peers = [\"{peer}\"]"),
        )
    };
    let multicast = lab.capture("ip proto 112 and dst host 224.0.0.18").unwrap();
    let unicast = lab.capture("ip proto 112 and dst host 192.0.2.11").unwrap();
    let d1 = Daemon::start(&lab, h1, &cfg(100, "192.0.2.11", "192.0.2.12"));
    let d2 = Daemon::start(&lab, h2, &cfg(200, "192.0.2.12", "192.0.2.11"));
    assert!(wait_until(Duration::from_secs(3), || holders(
        &lab,
        ip(VIP4)
    ) == vec![2]));
    assert!(
        unicast
            .wait_for(Duration::from_secs(1), |_| true)
            .unwrap()
            .is_some(),
        "no unicast adverts to host 1"
    );
    assert_eq!(d1.state(), "BACKUP");
    d2.child.kill().unwrap();
    assert!(wait_until(Duration::from_secs(2), || h1
        .has_address(ip(VIP4))
        .unwrap()));
    assert!(
        multicast.stop().unwrap().is_empty(),
        "unicast instances must not send to the group"
    );
    assert_eq!(d1.counter("unicast_source_errors"), 0);
}

#[test]
fn vmac_instance_answers_arp_with_the_virtual_mac_and_cleans_up() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(3).unwrap();
    let (h1, h2, client) = (
        lab.host(1).unwrap(),
        lab.host(2).unwrap(),
        lab.host(3).unwrap(),
    );
    let _d1 = Daemon::start(
        &lab,
        h1,
        &instance(51, 100, "100ms", "192.0.2.100/24", "use_vmac = true"),
    );
    let mut d2 = Daemon::start(
        &lab,
        h2,
        &instance(51, 200, "100ms", "192.0.2.100/24", "use_vmac = true"),
    );
    assert!(wait_until(Duration::from_secs(3), || holders(
        &lab,
        ip(VIP4)
    ) == vec![2]));
    let vmac = [0x00, 0x00, 0x5e, 0x00, 0x01, 51];
    assert_eq!(h2.link_mac("vrrp4.51").unwrap(), vmac);
    // The client resolves the VIP to the VMAC.
    let arps = lab.capture("arp").unwrap();
    let _ = client.run(&["ping", "-c", "1", "-W", "1", VIP4]);
    std::thread::sleep(Duration::from_millis(200));
    // Exactly one ARP reply for the VIP, from the VMAC; and no ARP from host 2's own MAC that
    // claims the VIP as its sender address.
    let frames = arps.stop().unwrap();
    let replies: Vec<&[u8]> = frames
        .iter()
        .map(|p| p.data.as_slice())
        .filter(|f| f.len() >= 42 && f[20..22] == [0, 2] && f[28..32] == [192, 0, 2, 100])
        .collect();
    assert_eq!(
        replies.len(),
        1,
        "one ARP reply for the VIP: {replies:02x?}"
    );
    assert_eq!(replies[0][22..28], vmac);
    assert!(
        !frames.iter().any(|p| p.data.len() >= 42
            && p.data[22..28] == h2.mac()
            && p.data[28..32] == [192, 0, 2, 100]),
        "host 2's own MAC must never speak for the VIP"
    );
    let neigh = client
        .neighbour(ip(VIP4))
        .unwrap()
        .expect("the client has a neighbour entry for the VIP");
    assert_eq!(
        neigh.mac,
        Some(vmac),
        "the VIP must resolve to the VMAC: {neigh:?}"
    );
    d2.child.terminate().unwrap();
    assert!(
        d2.child
            .wait_timeout(Duration::from_secs(3))
            .unwrap()
            .is_some()
    );
    assert!(
        h2.link_mac("vrrp4.51").is_err(),
        "the VMAC interface must be removed on exit"
    );
    assert!(wait_until(Duration::from_secs(2), || holders(
        &lab,
        ip(VIP4)
    ) == vec![1]));
}

#[test]
fn a_restarted_daemon_removes_the_vip_a_crash_left_behind() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let _d1 = Daemon::start(&lab, h1, &instance(51, 100, "100ms", "192.0.2.100/24", ""));
    let d2 = Daemon::start(&lab, h2, &instance(51, 200, "100ms", "192.0.2.100/24", ""));
    assert!(wait_until(Duration::from_secs(3), || holders(
        &lab,
        ip(VIP4)
    ) == vec![2]));
    d2.child.kill().unwrap();
    assert!(wait_until(Duration::from_secs(2), || h1
        .has_address(ip(VIP4))
        .unwrap()));
    assert!(
        h2.has_address(ip(VIP4)).unwrap(),
        "a killed daemon leaves its VIP behind"
    );
    drop(d2);
    // Back with a lower priority: it must not keep answering for the VIP.
    let d2 = Daemon::start(&lab, h2, &instance(51, 50, "100ms", "192.0.2.100/24", ""));
    assert!(
        wait_until(Duration::from_secs(2), || holders(&lab, ip(VIP4))
            == vec![1]),
        "holders {:?}\n{}",
        holders(&lab, ip(VIP4)),
        d2.child.log()
    );
    assert_eq!(d2.state(), "BACKUP");
}

#[test]
fn vrrp_v2_with_password_elects_and_fails_over() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let extra = "version = 2\nauth_pass = \"s3cret\"";
    let d1 = Daemon::start(&lab, h1, &instance(51, 100, "1s", "192.0.2.100/24", extra));
    let d2 = Daemon::start(&lab, h2, &instance(51, 200, "1s", "192.0.2.100/24", extra));
    assert!(
        wait_until(Duration::from_secs(6), || holders(&lab, ip(VIP4))
            == vec![2]),
        "holders {:?}\n{}",
        holders(&lab, ip(VIP4)),
        d1.child.log()
    );
    assert_eq!(d1.state(), "BACKUP");
    assert_eq!(d1.counter("auth_errors"), 0);
    d2.child.kill().unwrap();
    let killed = Instant::now();
    assert!(wait_until(Duration::from_secs(5), || h1
        .has_address(ip(VIP4))
        .unwrap()));
    // v2: Master_Down_Interval = 3 × 1 s + (256 − 100)/256 s.
    let bound = Duration::from_secs(3) + Duration::from_millis(610) + Duration::from_millis(100);
    assert!(
        killed.elapsed() <= bound,
        "v2 takeover took {:?}",
        killed.elapsed()
    );
}
