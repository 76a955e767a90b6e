//! `vrrpd watch` on a real wire: keepalived 2.2.7 (Debian's, `/usr/sbin/keepalived`) on two
//! hosts of a three-host lab, at 100 ms VRRPv3 adverts over IPv4 and IPv6 (VRID 51 in both
//! families), and `vrrpd watch --json` on the third host.
//!
//! Needs root and network namespaces (vrrp-lab): skipped with a message otherwise, failed
//! when `CI` is set. keepalived runs inside the lab with its config, pid files and log in the
//! lab's temporary directory; nothing under /etc or /run is used.

// Test code: a failed expect is a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use vrrp_lab::{ChildGuard, Host, Lab, Traffic, require_root};
use vrrp_packet::{
    AddressList, Auth, ChecksumContext, ChecksumMode, Interval, MULTICAST_V4, Version, VrrpRepr,
};

const KEEPALIVED: &str = "/usr/sbin/keepalived";
const VRID: u8 = 51;

/// Root, namespaces and keepalived are here; or why not (a panic under CI).
fn lab_ready() -> bool {
    if !require_root() {
        return false;
    }
    if !Path::new(KEEPALIVED).exists() {
        if std::env::var_os("CI").is_some() {
            panic!("{KEEPALIVED} is missing and CI is set (apt-get install keepalived)");
        }
        eprintln!("skipping: {KEEPALIVED} is not installed");
        return false;
    }
    true
}

/// Starts keepalived in `host`: VRRPv3, 100 ms adverts, VRID 51 over IPv4 and IPv6.
fn start_keepalived(lab: &Lab, host: &Host, priority: u8) -> ChildGuard {
    let name = format!("h{}", host.number());
    let dir = lab.dir();
    let conf = dir.join(format!("{name}.conf"));
    let instance = |family: &str, vip: &str| {
        format!(
            "vrrp_instance {family} {{\n    interface eth0\n    state BACKUP\n    \
             virtual_router_id {VRID}\n    priority {priority}\n    advert_int 0.1\n    \
             virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
        )
    };
    let text = format!(
        "global_defs {{\n    router_id {name}\n    vrrp_version 3\n    \
         vrrp_garp_master_delay 0\n    vrrp_garp_master_repeat 1\n    script_user root\n    \
         enable_script_security\n}}\n{}{}",
        instance("V4", "192.0.2.100/24"),
        instance("V6", "2001:db8::100/64"),
    );
    std::fs::write(&conf, text).expect("write keepalived.conf");
    let path = |ext: &str| {
        dir.join(format!("{name}.{ext}"))
            .to_string_lossy()
            .into_owned()
    };
    let conf = conf.to_string_lossy().into_owned();
    let (pid, vrrp_pid) = (path("pid"), path("vrrp.pid"));
    host.spawn(&[
        KEEPALIVED, "-P", "-n", "-l", "-D", "-G", "-f", &conf, "-p", &pid, "-r", &vrrp_pid, "-i",
        &name,
    ])
    .expect("start keepalived")
}

/// Polls `cond` every 20 ms for up to `timeout`.
fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Waits until `host` holds both VIPs.
fn wait_for_master(host: &Host) {
    let v4 = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100));
    let v6: IpAddr = "2001:db8::100".parse().unwrap();
    assert!(
        wait_for(Duration::from_secs(10), || {
            host.has_address(v4).unwrap_or(false) && host.has_address(v6).unwrap_or(false)
        }),
        "host {} never became master",
        host.number()
    );
}

/// A running `vrrpd watch` in a lab host, its stdout lines parsed as JSON as they come.
struct Watch {
    child: Child,
    lines: Receiver<Value>,
    stderr: Arc<Mutex<String>>,
}

impl Watch {
    fn start(host: &Host, extra: &[&str]) -> Watch {
        let mut argv = vec![
            env!("CARGO_BIN_EXE_vrrpd"),
            "watch",
            "--interface",
            "eth0",
            "--json",
        ];
        argv.extend_from_slice(extra);
        let mut child = host
            .command(&argv)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start vrrpd watch");
        let (tx, lines) = channel();
        let stdout = child.stdout.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let err = child.stderr.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let watch = Watch {
            child,
            lines,
            stderr,
        };
        assert!(
            wait_for(Duration::from_secs(10), || watch
                .stderr()
                .contains("listening on eth0")),
            "vrrpd watch did not start: {}",
            watch.stderr()
        );
        watch
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits for it to exit by itself, then returns its status and every line it printed.
    fn finish(mut self, timeout: Duration) -> (ExitStatus, Vec<Value>) {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "vrrpd watch still runs after {timeout:?}: {}",
                self.stderr()
            );
            thread::sleep(Duration::from_millis(20));
        };
        let mut lines = Vec::new();
        loop {
            match self.lines.recv_timeout(Duration::from_secs(5)) {
                Ok(v) => lines.push(v),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => panic!("stdout not closed"),
            }
        }
        (status, lines)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An Ethernet + IPv4 + VRRPv3 advert from `src` (MAC `mac`) with TTL `ttl`; `corrupt`
/// flips a bit of the VRRP checksum.
fn advert_frame(mac: [u8; 6], src: Ipv4Addr, ttl: u8, vrid: u8, corrupt: bool) -> Vec<u8> {
    let vips = [Ipv4Addr::new(192, 0, 2, 200)];
    let repr = VrrpRepr {
        version: Version::V3,
        vrid,
        priority: 77,
        advert_interval: Interval::from_centis(10),
        auth: Auth::None,
        addresses: AddressList::ipv4(&vips),
    };
    let mut vrrp = [0u8; 64];
    let len = repr
        .emit(
            &mut vrrp,
            &ChecksumContext {
                src: src.into(),
                dst: MULTICAST_V4.into(),
                mode: ChecksumMode::PseudoHeader,
            },
        )
        .unwrap();
    if corrupt {
        vrrp[7] ^= 0x01;
    }
    let mut frame = vec![0x01, 0x00, 0x5e, 0x00, 0x00, 0x12];
    frame.extend_from_slice(&mac);
    frame.extend_from_slice(&[0x08, 0x00]);
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&((20 + len) as u16).to_be_bytes());
    ip[8] = ttl;
    ip[9] = 112;
    ip[12..16].copy_from_slice(&src.octets());
    ip[16..20].copy_from_slice(&MULTICAST_V4.octets());
    let mut sum: u32 = ip
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    frame.extend_from_slice(&ip);
    frame.extend_from_slice(&vrrp[..len]);
    frame
}

/// Sends raw Ethernet frames out of `host`'s eth0.
fn inject(host: &Host, frames: Vec<Vec<u8>>) {
    let links: Value =
        serde_json::from_str(&host.run(&["ip", "-j", "link", "show", "eth0"]).unwrap()).unwrap();
    let ifindex = links[0]["ifindex"].as_u64().expect("ifindex") as u32;
    host.in_ns(move || {
        let announcer = vrrp_netlink::Announcer::new(ifindex).expect("AF_PACKET socket");
        for f in &frames {
            announcer.send_frame(f).expect("send frame");
        }
    })
    .unwrap();
}

fn is_masters(v: &Value) -> bool {
    v["type"] == "masters"
}

fn failed_checks(v: &Value) -> Vec<String> {
    v["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The (family, VRID) entry of a masters object.
fn entry<'a>(masters: &'a Value, family: &str) -> &'a Value {
    masters["masters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["family"] == family && m["vrid"] == VRID)
        .unwrap_or_else(|| panic!("no {family} VRID {VRID} in {masters}"))
}

#[test]
fn watch_decodes_keepalived_adverts_and_names_failed_checks() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::new(3).unwrap();
    let (h1, h2, h3) = (
        lab.host(1).unwrap(),
        lab.host(2).unwrap(),
        lab.host(3).unwrap(),
    );
    let _k1 = start_keepalived(&lab, h1, 200);
    let _k2 = start_keepalived(&lab, h2, 100);
    wait_for_master(h1);
    let h1_ll = IpAddr::V6(h1.link_local("eth0").unwrap().expect("h1 link-local"));

    let watch = Watch::start(h3, &["--count", "20"]);
    // Two bad adverts from h2, just after the capture started: forwarded (TTL 64), and with a
    // corrupted checksum.
    inject(
        h2,
        vec![
            advert_frame(h2.mac(), h2.ipv4(), 64, 99, false),
            advert_frame(h2.mac(), h2.ipv4(), 255, 98, true),
        ],
    );
    // Other multicast traffic h3 receives too (ICMP echo to the broadcast address, ICMPv6 to
    // all nodes): the filter keeps it out.
    for argv in [
        [
            "ping",
            "-b",
            "-c",
            "2",
            "-i",
            "0.2",
            "-W",
            "1",
            "192.0.2.255",
        ],
        [
            "ping",
            "-6",
            "-c",
            "2",
            "-i",
            "0.2",
            "-W",
            "1",
            "ff02::1%eth0",
        ],
    ] {
        h2.output(&argv).unwrap();
    }
    let (status, lines) = watch.finish(Duration::from_secs(20));
    assert!(status.success(), "exit {status}");

    let (masters, packets): (Vec<&Value>, Vec<&Value>) = lines.iter().partition(|v| is_masters(v));
    assert_eq!(packets.len(), 20, "--count 20: {lines:#?}");
    for p in &packets {
        assert_eq!(p["interface"], "eth0");
        assert!(p["timestamp"].as_str().unwrap().ends_with('Z'), "{p}");
        assert_eq!(p["layer"], "ethernet");
        let protocol = p["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "protocol");
        assert_eq!(protocol.map(|c| &c["ok"]), Some(&Value::Bool(true)), "{p}");
    }

    // The injected packets, each with its failed check named.
    let by_vrid = |vrid: u8| -> &Value {
        packets
            .iter()
            .find(|p| p["vrid"] == vrid)
            .unwrap_or_else(|| panic!("the injected VRID {vrid} advert was not seen: {lines:#?}"))
    };
    let forwarded = by_vrid(99);
    assert_eq!(forwarded["valid"], false);
    assert_eq!(forwarded["ttl"], 64);
    assert_eq!(failed_checks(forwarded), ["ttl"]);
    let corrupted = by_vrid(98);
    assert_eq!(corrupted["valid"], false);
    assert_eq!(corrupted["checksum_valid"], false);
    assert_eq!(failed_checks(corrupted), ["checksum"]);

    // Everything else: keepalived's valid adverts, all from the master h1.
    let adverts: Vec<&&Value> = packets
        .iter()
        .filter(|p| p["vrid"] != 99 && p["vrid"] != 98)
        .collect();
    assert_eq!(adverts.len(), 18);
    let mut families = std::collections::BTreeSet::new();
    for a in &adverts {
        assert_eq!(a["valid"], true, "{a}");
        assert_eq!(a["version"], 3, "{a}");
        assert_eq!(a["vrid"], VRID, "{a}");
        assert_eq!(a["priority"], 200, "{a}");
        assert_eq!(a["advert_interval_ms"], 100, "{a}");
        assert_eq!(a["ttl"], 255, "{a}");
        let family = a["family"].as_str().unwrap().to_owned();
        let (src, dst, vip) = match family.as_str() {
            "ipv4" => (h1.ipv4().to_string(), "224.0.0.18", "192.0.2.100"),
            "ipv6" => (h1_ll.to_string(), "ff02::12", "2001:db8::100"),
            other => panic!("family {other}"),
        };
        assert_eq!(a["src"], src.as_str(), "{a}");
        assert_eq!(a["dst"], dst, "{a}");
        assert_eq!(a["addresses"], serde_json::json!([vip]), "{a}");
        // keepalived 2.2.7 sums the pseudo-header, also over IPv4.
        assert_eq!(a["checksum_mode"], "pseudo-header", "{a}");
        families.insert(family);
    }
    assert_eq!(families.len(), 2, "both families seen");

    // The master view: h1 in both families; the invalid adverts made no master.
    let last = masters.last().expect("a masters object");
    assert_eq!(last["interface"], "eth0");
    let v4 = entry(last, "ipv4");
    assert_eq!(v4["master"], h1.ipv4().to_string().as_str());
    assert_eq!(v4["priority"], 200);
    assert_eq!(v4["advert_interval_ms"], 100);
    let v6 = entry(last, "ipv6");
    assert_eq!(v6["master"], h1_ll.to_string().as_str());
    for m in [v4, v6] {
        assert_eq!(m["split_brain"], false, "{m}");
        assert_eq!(m["master_down"], false, "{m}");
    }
    assert_eq!(last["masters"].as_array().unwrap().len(), 2, "{last}");

    // The same wire in human mode: tcpdump-like lines and the master view. h3's own firewall
    // now drops VRRP: the watch reads the wire before it, so it still sees every advert.
    for argv in [
        &["nft", "add", "table", "inet", "vrwatch"][..],
        &[
            "nft",
            "add chain inet vrwatch input { type filter hook input priority 0; policy accept; }",
        ],
        &[
            "nft", "add", "rule", "inet", "vrwatch", "input", "meta", "l4proto", "112", "drop",
        ],
    ] {
        h3.run(argv).unwrap();
    }
    let out = h3
        .output(&[
            env!("CARGO_BIN_EXE_vrrpd"),
            "watch",
            "-i",
            "eth0",
            "--duration",
            "1500ms",
        ])
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text.contains(
            " 192.0.2.11 > 224.0.0.18 ttl 255: VRRPv3 advert vrid 51 prio 200 intvl 100ms \
             addrs 1 [192.0.2.100], valid (checksum pseudo-header)\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "   ipv6 vrid 51  master {h1_ll} prio 200 intvl 100ms VRRPv3, last advert "
        )),
        "{text}"
    );
    assert!(text.contains("-- masters on eth0 at "), "{text}");
    assert!(!text.contains("INVALID"), "{text}");
}

#[test]
fn watch_reports_split_brain_master_down_and_takeover() {
    if !lab_ready() {
        return;
    }
    let lab = Lab::new(3).unwrap();
    let (h1, h2, h3) = (
        lab.host(1).unwrap(),
        lab.host(2).unwrap(),
        lab.host(3).unwrap(),
    );
    let k1 = start_keepalived(&lab, h1, 200);
    let k2 = start_keepalived(&lab, h2, 100);
    wait_for_master(h1);

    let watch = Watch::start(h3, &["--duration", "30s"]);
    // A partition between the two keepalived hosts only: each becomes master, and h3 hears
    // both.
    let partition = lab.drop_between(h1, h2, Traffic::VRRP).unwrap();
    wait_for_master(h2);
    let mut seen = Vec::new();
    let mut until = |what: &str, pred: &dyn Fn(&Value) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(v) = watch.lines.recv_timeout(Duration::from_millis(100)) {
                let hit = is_masters(&v) && pred(&v);
                seen.push(v);
                if hit {
                    return;
                }
            }
        }
        let views: Vec<&Value> = seen.iter().filter(|v| is_masters(v)).collect();
        let tail: Vec<String> = seen
            .iter()
            .rev()
            .take(6)
            .map(|v| {
                format!(
                    "{} {} {} {}",
                    v["timestamp"], v["src"], v["priority"], v["valid"]
                )
            })
            .collect();
        panic!("no masters object with {what}: {views:#?}\nlast lines: {tail:#?}");
    };
    until("a split brain", &|v| {
        entry(v, "ipv4")["split_brain"] == true
    });
    // The partition heals: h2 hears the higher priority and yields.
    drop(partition);
    until("h1 alone again", &|v| {
        let m = entry(v, "ipv4");
        m["split_brain"] == false && m["master"] == "192.0.2.11" && m["master_down"] == false
    });
    // h3 stops hearing h1 (h2 still does, so it stays backup): the watch reports the master
    // down, and keeps doing so.
    let deaf = lab.drop_one_way(h1, h3, Traffic::VRRP).unwrap();
    until("h1 down", &|v| {
        let m = entry(v, "ipv4");
        m["master"] == "192.0.2.11" && m["master_down"] == true
    });
    // h1 crashes: h2 takes over. Both keepalived processes die at once (killing the parent
    // alone makes its VRRP child resign with priority 0).
    let pid = |ext: &str| {
        std::fs::read_to_string(lab.dir().join(format!("h1.{ext}")))
            .unwrap()
            .trim()
            .to_owned()
    };
    let (parent, child) = (pid("pid"), pid("vrrp.pid"));
    h1.run(&["kill", "-KILL", &parent, &child]).unwrap();
    until("h2 master", &|v| {
        let m = entry(v, "ipv4");
        m["master"] == "192.0.2.12" && m["priority"] == 100 && m["master_down"] == false
    });
    // h2 stops gracefully: keepalived resigns with a priority-0 advert.
    k2.terminate().unwrap();
    until("h2 resigned", &|v| {
        entry(v, "ipv4")["resigned"] == "192.0.2.12"
    });
    drop(watch);
    drop((deaf, k1));
}

#[test]
fn watch_exit_codes_for_bad_arguments_and_missing_privilege() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(1).unwrap();
    let h1 = lab.host(1).unwrap();
    let vrrpd = env!("CARGO_BIN_EXE_vrrpd");

    let out = h1
        .output(&[vrrpd, "watch", "--interface", "nosuch0", "--count", "1"])
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "unknown interface");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no interface named \"nosuch0\""), "{err}");

    let out = h1
        .output(&[vrrpd, "watch", "--interface", "eth0", "--count", "0"])
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "--count 0");

    // Without CAP_NET_RAW (as nobody): exit 1 with what it needs.
    let out = h1
        .output(&[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            vrrpd,
            "watch",
            "--interface",
            "eth0",
        ])
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("needs CAP_NET_RAW (run as root)"), "{err}");

    // A clean stop after --duration, even with nothing on the wire.
    let out = h1
        .output(&[vrrpd, "watch", "--interface", "eth0", "--duration", "300ms"])
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("0 packets, 0 invalid"), "{err}");
    assert!(out.stdout.is_empty());

    // Ctrl-C and SIGTERM are clean stops too.
    for interrupt in [true, false] {
        let mut watch = h1.spawn(&[vrrpd, "watch", "-i", "eth0"]).unwrap();
        assert!(
            wait_for(Duration::from_secs(10), || watch
                .log()
                .contains("listening on eth0")),
            "{}",
            watch.log()
        );
        if interrupt {
            watch.interrupt().unwrap();
        } else {
            watch.terminate().unwrap();
        }
        let status = watch.wait_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", watch.log());
        assert!(
            watch.log().contains("0 packets, 0 invalid"),
            "{}",
            watch.log()
        );
    }
}
