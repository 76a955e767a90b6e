//! Tests of the lab itself (need root; they fail instead of skipping when `CI` is set).

// Helpers outside #[test] fns unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, UdpSocket};
use std::path::Path;
use std::time::Duration;

use vrrp_lab::{HOST_IFACE, Lab, Traffic, require_root};

fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

fn ping(from: &vrrp_lab::Host, to: IpAddr, count: u32) -> std::process::Output {
    let count = count.to_string();
    from.output(&[
        "ping",
        "-n",
        "-q",
        "-c",
        &count,
        "-i",
        "0.01",
        "-W",
        "1",
        &to.to_string(),
    ])
    .unwrap()
}

#[test]
fn namespaces_exist_while_the_lab_lives_and_are_gone_after_drop() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let names = lab.namespaces().to_vec();
    let dir = lab.dir().to_owned();
    assert_eq!(names.len(), 3);
    assert!(names.iter().all(|n| n.starts_with(lab.prefix())));
    assert!(names.iter().all(|n| netns_exists(n)), "{names:?}");
    let listed = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(names.iter().all(|n| listed.contains(n.as_str())));
    // The bridge has snooping off and both ports.
    let lan = lab.lan_namespace().to_owned();
    let out = std::process::Command::new("ip")
        .args(["-n", &lan, "-d", "-j", "link", "show", "br0"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json[0]["linkinfo"]["info_data"]["mcast_snooping"], 0,
        "{json}"
    );
    let ports = std::process::Command::new("ip")
        .args(["-n", &lan, "link", "show", "master", "br0"])
        .output()
        .unwrap();
    let ports = String::from_utf8_lossy(&ports.stdout);
    assert!(ports.contains("h1@") && ports.contains("h2@"), "{ports}");
    // A spawned process lives until the lab goes, even if its guard is leaked.
    let sleeper = lab.host(1).unwrap().spawn(&["sleep", "600"]).unwrap();
    let pid = sleeper.pid();
    std::mem::forget(sleeper);
    // Inside the host once `ip netns exec` has become `sleep` (before that, it may not have
    // entered the namespace yet).
    let comm = || std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while comm().trim() != "sleep" && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(comm().trim(), "sleep");
    drop(lab);
    for name in &names {
        assert!(!netns_exists(name), "{name} left behind");
    }
    assert!(!dir.exists(), "{} left behind", dir.display());
    // Killed by the time the drop returns (a zombie at most, since the leaked Child was never
    // reaped): the teardown waits for SIGKILL to land.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    assert!(
        status.is_empty() || status.contains("State:\tZ"),
        "{status}"
    );
}

#[test]
fn a_panicking_test_still_tears_the_lab_down() {
    if !require_root() {
        return;
    }
    let names = std::sync::Mutex::new(Vec::new());
    let result = std::panic::catch_unwind(|| {
        let lab = Lab::new(1).unwrap();
        *names.lock().unwrap() = lab.namespaces().to_vec();
        panic!("a failing assertion");
    });
    assert!(result.is_err());
    let names = names.into_inner().unwrap();
    assert_eq!(names.len(), 2);
    for name in &names {
        assert!(!netns_exists(name), "{name} left behind after a panic");
    }
}

#[test]
fn hosts_reach_each_other_over_the_bridge_v4_v6_and_link_local() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(3).unwrap();
    let (a, c) = (lab.host(1).unwrap(), lab.host(3).unwrap());
    assert!(ping(a, c.ipv4().into(), 1).status.success());
    assert!(ping(a, c.ipv6().into(), 1).status.success());
    // Link-local, usable at once (DAD off).
    let ll = c
        .link_local(HOST_IFACE)
        .unwrap()
        .expect("c has a link-local address");
    let target = format!("{ll}%{HOST_IFACE}");
    let out = a
        .output(&["ping", "-n", "-q", "-c", "1", "-W", "1", &target])
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Addresses and MAC as documented, nothing tentative.
    let addrs = c.addresses(HOST_IFACE).unwrap();
    assert!(
        addrs
            .iter()
            .any(|x| x.ip == IpAddr::from(c.ipv4()) && x.prefix_len == 24)
    );
    assert!(
        addrs
            .iter()
            .any(|x| x.ip == IpAddr::from(c.ipv6()) && x.prefix_len == 64)
    );
    assert!(addrs.iter().all(|x| !x.tentative), "{addrs:?}");
    assert_eq!(c.link_mac(HOST_IFACE).unwrap(), c.mac());
    assert!(c.has_address(c.ipv4().into()).unwrap());
    assert!(!c.has_address(a.ipv4().into()).unwrap());
    // a learnt c's MAC.
    let n = a
        .neighbour(c.ipv4().into())
        .unwrap()
        .expect("neighbour entry");
    assert_eq!(n.mac, Some(c.mac()));
    assert_eq!(n.dev, HOST_IFACE);
}

#[test]
fn closures_and_futures_run_inside_a_host() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (a, b) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    // Inside a host: exactly its interfaces.
    let mut names: Vec<String> = a
        .in_ns(|| {
            std::fs::read_dir("/proc/sys/net/ipv4/conf")
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap();
    names.sort();
    assert_eq!(names, ["all", "default", "eth0", "lo"]);
    // A socket opened inside b stays in b: bind b's address there, send from a's namespace.
    let b_addr = std::net::SocketAddr::new(b.ipv4().into(), 40_000);
    let receiver = b.in_ns(|| UdpSocket::bind(b_addr)).unwrap().unwrap();
    receiver
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    a.in_ns(|| {
        let s = UdpSocket::bind((a.ipv4(), 0)).unwrap();
        s.send_to(b"hello", b_addr).unwrap();
    })
    .unwrap();
    let mut buf = [0u8; 16];
    let (n, from) = receiver.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello");
    assert_eq!(from.ip(), IpAddr::from(a.ipv4()));
    // A future on a tokio runtime inside a host.
    let got = b
        .block_on(|| async move {
            let s = tokio::net::UdpSocket::bind((b.ipv4(), 40_001))
                .await
                .unwrap();
            s.local_addr().unwrap()
        })
        .unwrap();
    assert_eq!(got.ip(), IpAddr::from(b.ipv4()));
    // A background task, joined later.
    let a_ip = a.ipv4();
    let task = a
        .spawn_async(move || async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            tokio::net::UdpSocket::bind((a_ip, 0)).await.is_ok()
        })
        .unwrap();
    assert!(task.join().unwrap());
    // A panic inside propagates to the test.
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        a.in_ns(|| panic!("inside"))
    }));
    assert!(caught.is_err());
}

#[test]
fn capture_on_the_bridge_returns_frames_with_timestamps() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (a, b) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let capture = lab.capture("icmp").unwrap();
    let before = std::time::SystemTime::now();
    assert!(ping(a, b.ipv4().into(), 3).status.success());
    let request = capture
        .wait_for(Duration::from_secs(5), |p| {
            p.eth_src() == Some(a.mac()) && p.ethertype() == Some(0x0800)
        })
        .unwrap()
        .expect("echo request seen on the bridge");
    assert_eq!(request.eth_dst(), Some(b.mac()));
    let ip = request.eth_payload();
    assert_eq!(ip[9], 1, "ICMP");
    assert_eq!(&ip[12..16], &a.ipv4().octets());
    assert_eq!(&ip[16..20], &b.ipv4().octets());
    assert!(request.timestamp >= before - Duration::from_secs(1));
    // Every frame was on the wire before ping returned; give tcpdump time to read them.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while capture.packets().unwrap().len() < 6 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let all = capture.stop().unwrap();
    // 3 requests + 3 replies, nothing else (filter "icmp").
    assert_eq!(all.len(), 6, "{all:?}");
    assert!(all.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
    // A capture on a host interface too.
    let host_capture = b.capture(HOST_IFACE, "arp or icmp").unwrap();
    assert!(ping(b, a.ipv4().into(), 1).status.success());
    let frames = host_capture.stop().unwrap();
    assert!(
        frames.iter().any(|p| p.eth_src() == Some(b.mac())),
        "{frames:?}"
    );
}

#[test]
fn nftables_drop_a_protocol_between_two_hosts_and_heal() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(3).unwrap();
    let (a, b, c) = (
        lab.host(1).unwrap(),
        lab.host(2).unwrap(),
        lab.host(3).unwrap(),
    );
    let icmp = Traffic::IpProtocol(1);
    let rules = lab.drop_between(a, b, icmp).unwrap();
    assert!(
        !ping(a, b.ipv4().into(), 1).status.success(),
        "a→b ICMP must be dropped"
    );
    assert!(
        !ping(b, a.ipv4().into(), 1).status.success(),
        "b→a ICMP must be dropped"
    );
    assert!(
        ping(a, c.ipv4().into(), 1).status.success(),
        "a→c is not affected"
    );
    rules.remove().unwrap();
    assert!(ping(a, b.ipv4().into(), 1).status.success(), "healed");
    // The guard heals on drop too; all traffic this time.
    {
        let _partition = lab.drop_between(a, c, Traffic::All).unwrap();
        assert!(!ping(a, c.ipv4().into(), 1).status.success());
    }
    assert!(ping(a, c.ipv4().into(), 1).status.success());
}

#[test]
fn nftables_random_loss_drops_about_the_share_asked_for() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (a, b) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    // Resolve ARP first so that loss only hits the pings.
    assert!(ping(a, b.ipv4().into(), 1).status.success());
    let _all = lab.drop_random(a, 100).unwrap();
    assert!(!ping(a, b.ipv4().into(), 2).status.success());
    drop(_all);
    // 30% each way: a round trip survives with p = 0.49. Out of 200, the count of replies is
    // within 60..140 except with probability far below 1e-6.
    let _loss = lab.drop_random(a, 30).unwrap();
    let out = ping(a, b.ipv4().into(), 200);
    let text = String::from_utf8_lossy(&out.stdout);
    let received: u32 = text
        .split(',')
        .find_map(|part| {
            part.trim()
                .strip_suffix(" received")
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or_else(|| panic!("no summary in {text}"));
    assert!(
        (60..=140).contains(&received),
        "{received} of 200 replies with 30% loss each way: {text}"
    );
}

#[test]
fn the_address_watch_sees_adds_and_removals_with_wall_clock_times() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(1).unwrap();
    let h = lab.host(1).unwrap();
    let watch = h.watch_addresses().unwrap();
    let before = std::time::SystemTime::now();
    h.run(&["ip", "addr", "add", "203.0.113.7/32", "dev", HOST_IFACE])
        .unwrap();
    h.run(&[
        "ip",
        "addr",
        "add",
        "2001:db8::7/128",
        "dev",
        HOST_IFACE,
        "nodad",
    ])
    .unwrap();
    h.run(&["ip", "addr", "del", "203.0.113.7/32", "dev", HOST_IFACE])
        .unwrap();
    let after = std::time::SystemTime::now();
    let v4: IpAddr = "203.0.113.7".parse().unwrap();
    let v6: IpAddr = "2001:db8::7".parse().unwrap();
    let removed = watch
        .wait_for(Duration::from_secs(2), |e| !e.added && e.ip == v4)
        .expect("removal seen");
    let events = watch.events();
    let added4 = events.iter().find(|e| e.added && e.ip == v4).unwrap();
    let added6 = events.iter().find(|e| e.added && e.ip == v6).unwrap();
    assert_eq!((added4.prefix_len, added6.prefix_len), (32, 128));
    assert!(before <= added4.at && added4.at <= added6.at && added6.at <= removed.at);
    assert!(removed.at <= after + Duration::from_millis(100));
    assert!(!watch.overflowed());
    // Addresses of other namespaces are not seen. The host's own ones may be: its IPv6
    // link-local address can appear after the watch started (the kernel adds it once DAD
    // on the new link is done; seen in CI).
    let own: Vec<IpAddr> = h
        .addresses(HOST_IFACE)
        .unwrap()
        .iter()
        .map(|a| a.ip)
        .collect();
    assert!(
        events.iter().all(|e| e.ip == v4 || own.contains(&e.ip)),
        "{events:?}"
    );
}

/// Run as a child process by the test below: builds a lab with a process inside, says its
/// names, and waits for a signal.
fn signal_child() {
    vrrp_lab::cleanup_on_signals().unwrap();
    let lab = Lab::new(1).unwrap();
    let sleeper = lab.host(1).unwrap().spawn(&["sleep", "60"]).unwrap();
    println!(
        "READY {} {} {}",
        sleeper.pid(),
        lab.dir().display(),
        lab.namespaces().join(" ")
    );
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn a_signal_tears_every_lab_of_the_process_down() {
    if std::env::var_os("VRLAB_SIGNAL_CHILD").is_some() {
        signal_child();
        return;
    }
    if !require_root() {
        return;
    }
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_signal_tears_every_lab_of_the_process_down",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("VRLAB_SIGNAL_CHILD", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.split_once("READY ").map(|(_, rest)| rest.to_owned()))
        .expect("the child builds its lab");
    let mut words = line.split_whitespace();
    let sleeper: u32 = words.next().unwrap().parse().unwrap();
    let dir = std::path::PathBuf::from(words.next().unwrap());
    let namespaces: Vec<String> = words.map(str::to_owned).collect();
    assert_eq!(namespaces.len(), 2);
    assert!(namespaces.iter().all(|n| netns_exists(n)));
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "exit 128 + SIGINT");
    assert!(
        namespaces.iter().all(|n| !netns_exists(n)),
        "{namespaces:?}"
    );
    assert!(!dir.exists());
    // The sleeper inside was killed, not left running in a deleted namespace (it was the
    // child's child: gone, or a zombie until init reaps it).
    let stat = std::fs::read_to_string(format!("/proc/{sleeper}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z"),
        "sleep {sleeper} survives: {stat}"
    );
}

#[test]
fn a_burst_is_captured_whole_and_drops_are_reported() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (a, b) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let capture = lab.capture("udp dst port 9").unwrap();
    let target = std::net::SocketAddr::new(b.ipv4().into(), 9);
    a.in_ns(|| {
        let socket = UdpSocket::bind("0.0.0.0:0").unwrap();
        // Bursts of 500 frames: each is well within the kernel's backlog (1000), so a frame
        // missing from the capture can only be the capture's loss, which it must report.
        for burst in 0..4u32 {
            for i in 0..500u32 {
                socket
                    .send_to(&(burst * 500 + i).to_be_bytes(), target)
                    .unwrap();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let (frames, dropped) = capture.stop_with_drops().unwrap();
    assert_eq!((frames.len(), dropped), (2000, 0));
}

#[test]
fn extra_segments_are_separate_broadcast_domains_with_their_own_bridge() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (a, b) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let s1 = lab.add_segment().unwrap();
    let s2 = lab.add_segment().unwrap();
    assert_eq!(
        (s1.index(), s1.bridge(), s1.interface()),
        (1, "br1", "eth1")
    );
    assert_eq!((s2.bridge(), s2.interface()), ("br2", "eth2"));
    for (host, last) in [(a, 1), (b, 2)] {
        for (seg, base) in [(&s1, 0), (&s2, 64)] {
            host.run(&[
                "ip",
                "addr",
                "add",
                &format!("198.51.100.{}/26", base + last),
                "dev",
                seg.interface(),
            ])
            .unwrap();
        }
    }
    let capture1 = lab.capture_on(s1.bridge(), "icmp").unwrap();
    let capture2 = lab.capture_on(s2.bridge(), "icmp").unwrap();
    let out = a
        .output(&[
            "ping",
            "-n",
            "-q",
            "-c",
            "2",
            "-i",
            "0.05",
            "-W",
            "1",
            "198.51.100.66",
        ])
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let (on1, on2) = (capture1.stop().unwrap(), capture2.stop().unwrap());
    assert!(on1.is_empty(), "segment 1 saw segment 2's ping");
    assert_eq!(on2.len(), 4, "2 requests + 2 replies on br2");
    assert!(a.link_local("eth1").unwrap().is_some());
}

#[test]
fn unplug_and_replug_give_a_new_interface_with_the_same_identity() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (a, b) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let index = |h: &vrrp_lab::Host| -> u64 {
        let out = h
            .run(&["ip", "-j", "link", "show", "dev", HOST_IFACE])
            .unwrap();
        serde_json::from_str::<serde_json::Value>(&out).unwrap()[0]["ifindex"]
            .as_u64()
            .unwrap()
    };
    let before = index(a);
    lab.unplug(a).unwrap();
    assert!(a.link_mac(HOST_IFACE).is_err(), "eth0 should be gone");
    lab.replug(a).unwrap();
    assert_ne!(index(a), before);
    assert_eq!(a.link_mac(HOST_IFACE).unwrap(), a.mac());
    assert!(a.has_address(a.ipv4().into()).unwrap());
    assert!(ping(a, b.ipv4().into(), 1).status.success());
}

#[test]
fn the_injector_sends_forged_headers_and_the_bridge_forwards_malformed_ones() {
    use vrrp_lab::inject::{Injector, Ipv4Builder, Ipv6Builder};
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (a, b) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let capture = b.capture(HOST_IFACE, "ip proto 112 or ip6").unwrap();
    let injector = Injector::open(a).unwrap();
    // A source that is not host 1's, TTL 7, to the VRRP group.
    let spoofed = std::net::Ipv4Addr::new(192, 0, 2, 99);
    let group = std::net::Ipv4Addr::new(224, 0, 0, 18);
    injector
        .send(
            &Ipv4Builder::new(spoofed, group, 112)
                .ttl(7)
                .build(&[0x31, 1, 2, 3]),
        )
        .unwrap();
    // IPv6 with hop limit 3 from a global address to ff02::12.
    let g6: std::net::Ipv6Addr = "2001:db8::99".parse().unwrap();
    let m6: std::net::Ipv6Addr = "ff02::12".parse().unwrap();
    injector
        .send(
            &Ipv6Builder::new(g6, m6, 112)
                .hop_limit(3)
                .build(&[0x31, 1, 2, 3]),
        )
        .unwrap();
    let v4 = capture
        .wait_for(Duration::from_secs(2), |p| {
            p.data.len() >= 34 && p.data[12..14] == [8, 0] && p.data[26..30] == spoofed.octets()
        })
        .unwrap()
        .expect("the forged IPv4 packet reached host 2");
    assert_eq!(v4.data[22], 7, "TTL as given");
    let v6 = capture
        .wait_for(Duration::from_secs(2), |p| {
            p.data.len() >= 54 && p.data[12..14] == [0x86, 0xdd] && p.data[22..38] == g6.octets()
        })
        .unwrap()
        .expect("the forged IPv6 packet reached host 2");
    assert_eq!((v6.data[20], v6.data[21]), (112, 3));
    // The bridge forwards frames as a switch would: with br_netfilter loaded, its IP
    // validation is off in the LAN namespace (malformed IPv4 headers must reach the hosts;
    // bins/vrrpd/tests/hostile.rs sends them).
    let knob = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            lab.lan_namespace(),
            "cat",
            "/proc/sys/net/bridge/bridge-nf-call-iptables",
        ])
        .output()
        .unwrap();
    if knob.status.success() {
        assert_eq!(String::from_utf8_lossy(&knob.stdout).trim(), "0");
    }
}
