//! The keepalived driver against the real keepalived, in lab namespaces (need root and the
//! keepalived package; they fail instead of skipping when `CI` is set).

// Helpers outside #[test] fns unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::IpAddr;
use std::time::Duration;

use vrrp_lab::keepalived::{
    InstanceState, Keepalived, KeepalivedConfig, TrackRef, VirtualIp, VrrpInstance, VrrpScript,
    require_keepalived,
};
use vrrp_lab::{CapturedPacket, Host, Lab, require_root};

const INTERVAL: Duration = Duration::from_millis(100);

fn config(router_id: &str, priority: u8, vip: IpAddr) -> KeepalivedConfig {
    let mut instance = VrrpInstance::new("VI_1", "eth0", 51, priority, vec![VirtualIp::host(vip)]);
    instance.advert_interval = INTERVAL;
    let mut config = KeepalivedConfig::new(router_id);
    config.instances.push(instance);
    config
}

/// (source IP, priority) of a VRRP advert (IPv4 or IPv6, no VLAN), if `p` is one.
fn advert(p: &CapturedPacket) -> Option<(IpAddr, u8)> {
    let ip = p.eth_payload();
    match p.ethertype()? {
        0x0800 if ip.get(9) == Some(&112) => {
            let ihl = usize::from(ip.first()? & 0x0f) * 4;
            let src: [u8; 4] = ip.get(12..16)?.try_into().ok()?;
            Some((IpAddr::from(src), *ip.get(ihl + 2)?))
        }
        0x86dd if ip.get(6) == Some(&112) => {
            let src: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            Some((IpAddr::from(src), *ip.get(40 + 2)?))
        }
        _ => None,
    }
}

fn source_of(host: &Host, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(host.link_local("eth0").unwrap().expect("link-local"))
    } else {
        IpAddr::V4(host.ipv4())
    }
}

fn elect_and_crash(vip: IpAddr) {
    let v6 = vip.is_ipv6();
    let lab = Lab::new(2).unwrap();
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let (src1, src2) = (source_of(h1, v6), source_of(h2, v6));
    let capture = lab.capture("ip proto 112 or ip6 proto 112").unwrap();
    let mut a = Keepalived::start(h1, &config("h1", 200, vip)).unwrap();
    let b = Keepalived::start(h2, &config("h2", 100, vip)).unwrap();
    a.wait_for_state("VI_1", InstanceState::Master, Duration::from_secs(5))
        .unwrap();
    assert!(
        h1.wait_for_address(vip, true, Duration::from_secs(2))
            .unwrap()
    );
    assert_eq!(b.state("VI_1"), Some(InstanceState::Backup), "{}", b.log());
    assert!(!h2.has_address(vip).unwrap());
    assert_eq!(a.pids().len(), 2, "parent and VRRP child");
    // Let the backup hear a few adverts, then kill the master's host.
    std::thread::sleep(INTERVAL * 3);
    // Its counters (SIGUSR2 dump, written in its own directory) show them, and no errors.
    let stats = b.stats().unwrap();
    assert!(b.dir().join("keepalived.stats").exists());
    let heard = stats["VI_1"].get("advertisements.received").unwrap();
    assert!(heard >= 2, "{stats:?}");
    assert_eq!(stats["VI_1"].errors(), vec![], "{stats:?}");
    assert_eq!(b.receive_errors(), Vec::<String>::new());
    let watch = h2.watch_addresses().unwrap();
    let moment = a.crash().unwrap();
    assert!(
        a.pids().is_empty(),
        "every keepalived process of h1 is gone"
    );
    assert!(
        a.log().contains("Entering MASTER STATE"),
        "the log outlives a crash"
    );
    let added = watch
        .wait_for(Duration::from_secs(3), |e| e.added && e.ip == vip)
        .expect("the backup installs the VIP");
    b.wait_for_state("VI_1", InstanceState::Master, Duration::from_secs(1))
        .unwrap();
    // A crashed host keeps its address (nobody removed it).
    assert!(h1.has_address(vip).unwrap());
    let frames = capture.stop().unwrap();
    let adverts: Vec<_> = frames
        .iter()
        .filter_map(|p| Some((p.timestamp, advert(p)?)))
        .collect();
    let last_a = adverts
        .iter()
        .rfind(|(_, (src, _))| *src == src1)
        .expect("adverts from h1");
    assert_eq!(last_a.1.1, 200, "host death: no priority-0 advert from h1");
    let first_b = adverts
        .iter()
        .find(|(t, (src, _))| *src == src2 && *t > moment.realtime)
        .expect("h2 advertises after the crash");
    assert_eq!(first_b.1.1, 100);
    // RFC 9568 §6.4.2: the backup waits Master_Down_Interval after the last advert it heard.
    let mdi = config("h2", 100, vip).instances[0].master_down_interval();
    let waited = first_b.0.duration_since(last_a.0).unwrap();
    assert!(
        waited >= mdi - Duration::from_millis(5) && waited < mdi + Duration::from_millis(200),
        "{waited:?} vs {mdi:?}"
    );
    let install_delay = added.at.duration_since(moment.realtime).unwrap();
    assert!(
        install_delay < mdi + Duration::from_millis(200),
        "{install_delay:?}"
    );
}

#[test]
fn two_keepalived_elect_the_higher_priority_and_fail_over_on_sigkill_v4() {
    if !require_root() || !require_keepalived() {
        return;
    }
    elect_and_crash("192.0.2.100".parse().unwrap());
}

#[test]
fn two_keepalived_elect_the_higher_priority_and_fail_over_on_sigkill_v6() {
    if !require_root() || !require_keepalived() {
        return;
    }
    elect_and_crash("2001:db8::100".parse().unwrap());
}

#[test]
fn a_graceful_stop_sends_priority_zero_and_the_backup_takes_over_within_skew_time() {
    if !require_root() || !require_keepalived() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let vip: IpAddr = "192.0.2.100".parse().unwrap();
    let mut a = Keepalived::start(h1, &config("h1", 200, vip)).unwrap();
    let b = Keepalived::start(h2, &config("h2", 100, vip)).unwrap();
    a.wait_for_state("VI_1", InstanceState::Master, Duration::from_secs(5))
        .unwrap();
    std::thread::sleep(INTERVAL * 3);
    let capture = lab.capture("ip proto 112 or ip6 proto 112").unwrap();
    let watch = h2.watch_addresses().unwrap();
    let status = a.stop(Duration::from_secs(5)).unwrap();
    assert!(status.success(), "{status}: {}", a.log());
    assert!(
        !h1.has_address(vip).unwrap(),
        "a graceful stop removes the VIP"
    );
    watch
        .wait_for(Duration::from_secs(2), |e| e.added && e.ip == vip)
        .expect("backup takes the VIP");
    b.wait_for_state("VI_1", InstanceState::Master, Duration::from_secs(1))
        .unwrap();
    let frames = capture.stop().unwrap();
    let prio0 = frames
        .iter()
        .find(|p| advert(p) == Some((IpAddr::V4(h1.ipv4()), 0)))
        .expect("a priority-0 advert from h1");
    let first_b = frames
        .iter()
        .find(|p| advert(p).is_some_and(|(src, prio)| src == IpAddr::V4(h2.ipv4()) && prio == 100))
        .expect("h2 advertises");
    // RFC 9568 §6.4.2: on priority 0 the backup waits Skew_Time only.
    let skew = config("h2", 100, vip).instances[0].skew_time();
    let waited = first_b.timestamp.duration_since(prio0.timestamp).unwrap();
    assert!(
        waited < skew + Duration::from_millis(50),
        "{waited:?} vs {skew:?}"
    );
}

#[test]
fn a_failing_script_with_a_weight_moves_the_vip() {
    if !require_root() || !require_keepalived() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let vip: IpAddr = "192.0.2.100".parse().unwrap();
    let flag = lab.dir().join("service-up");
    std::fs::write(&flag, "").unwrap();
    let mut master = config("h1", 200, vip);
    let mut script = VrrpScript::new("chk", format!("/usr/bin/test -e {}", flag.display()));
    script.weight = -150;
    master.scripts.push(script);
    master.instances[0].track_scripts.push(TrackRef::new("chk"));
    let a = Keepalived::start(h1, &master).unwrap();
    let _b = Keepalived::start(h2, &config("h2", 100, vip)).unwrap();
    a.wait_for_state("VI_1", InstanceState::Master, Duration::from_secs(5))
        .unwrap();
    std::thread::sleep(INTERVAL * 3);
    assert!(!h2.has_address(vip).unwrap());
    std::fs::remove_file(&flag).unwrap();
    // 200 - 150 = 50 < 100: within one script interval (1 s) h1 advertises 50, and h2 takes
    // over one Master_Down_Interval after the last advert it accepted (RFC 9568 §6.4.2).
    assert!(
        h2.wait_for_address(vip, true, Duration::from_secs(3))
            .unwrap(),
        "{}",
        a.log()
    );
    a.wait_for_state("VI_1", InstanceState::Backup, Duration::from_secs(1))
        .unwrap();
    assert!(
        a.log()
            .contains("Changing effective priority from 200 to 50"),
        "{}",
        a.log()
    );
}
