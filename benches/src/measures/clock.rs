//! The clock check: do capture timestamps and the harness's `CLOCK_REALTIME` agree?
//!
//! From inside a lab host, the harness reads the wall clock and at once sends a UDP datagram
//! across the bridge, 20 times; tcpdump on the bridge stamps each frame. Capture time minus
//! send time must be small and positive (the frame's trip through the stack and the veth).
//!
//! It also measures the address watcher's latency: the harness adds an address with its own
//! rtnetlink request (the kernel installs it, and tells listeners, inside that `sendmsg`),
//! and compares the wall clock read right before the send with the watcher's stamp. "VIP
//! installed" times are late by about that much.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, SystemTime};

use vrrp_lab::Lab;

use crate::error::{BenchError, Result};
use crate::report::ClockCheck;
use crate::stats::Summary;

const PORT: u16 = 9; // discard
const COUNT: usize = 20;

/// Runs the check (`drift_us` is filled in by the caller at the end of the run).
pub fn check() -> Result<ClockCheck> {
    let lab = Lab::new(2)?;
    let watch_latency = watcher_latency(&lab)?;
    let (h1, h2) = (lab.host(1)?, lab.host(2)?);
    let capture = lab.capture(&format!("udp dst port {PORT}"))?;
    let target = SocketAddr::new(h2.ipv4().into(), PORT);
    let sent: Vec<SystemTime> = h1
        .in_ns(|| -> std::io::Result<Vec<SystemTime>> {
            let socket = UdpSocket::bind("0.0.0.0:0")?;
            let mut sent = Vec::new();
            for i in 0..COUNT {
                let at = SystemTime::now();
                socket.send_to(&[i as u8], target)?;
                sent.push(at);
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(sent)
        })?
        .map_err(|source| BenchError::File {
            path: "udp socket".into(),
            source,
        })?;
    std::thread::sleep(Duration::from_millis(100));
    let packets = capture.stop()?;
    // Frames carry their index as the one payload byte (after 14 + 20 + 8 header bytes).
    let mut offsets = Vec::new();
    for p in &packets {
        let Some(&i) = p.data.get(42) else { continue };
        if let Some(at) = sent.get(usize::from(i)) {
            offsets.push(crate::measures::ms(p.timestamp, *at) * 1e3);
        }
    }
    let summary = Summary::of(&offsets);
    let ok = offsets.len() == COUNT && offsets.iter().all(|&o| (0.0..1000.0).contains(&o));
    Ok(ClockCheck {
        method: format!(
            "{COUNT} UDP datagrams sent from a lab host; capture time on the bridge minus CLOCK_REALTIME read right before each send"
        ),
        offsets_us: summary,
        address_watch_latency_us: Summary::of(&watch_latency),
        realtime_drift_us: 0.0,
        ok,
    })
}

/// rtnetlink constants (linux/rtnetlink.h, linux/netlink.h).
const RTM_NEWADDR: u16 = 20;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const AF_INET: u8 = 2;

/// An RTM_NEWADDR request for `ip`/32 on interface `ifindex`.
fn new_address_request(seq: u32, ifindex: u32, ip: std::net::Ipv4Addr) -> Vec<u8> {
    let mut m = Vec::with_capacity(40);
    m.extend_from_slice(&40u32.to_ne_bytes());
    m.extend_from_slice(&RTM_NEWADDR.to_ne_bytes());
    m.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE).to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    // struct ifaddrmsg: family, prefixlen, flags, scope, index
    m.extend_from_slice(&[AF_INET, 32, 0, 0]);
    m.extend_from_slice(&ifindex.to_ne_bytes());
    for kind in [IFA_LOCAL, IFA_ADDRESS] {
        m.extend_from_slice(&8u16.to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&ip.octets());
    }
    m
}

/// Adds 20 addresses with our own rtnetlink requests and returns, for each, the watcher's
/// stamp minus the wall clock read right before the request, in µs.
fn watcher_latency(lab: &Lab) -> Result<Vec<f64>> {
    use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketType};
    let host = lab.host(1)?;
    let json: serde_json::Value = serde_json::from_str(&host.run(&[
        "ip",
        "-j",
        "link",
        "show",
        "dev",
        vrrp_lab::HOST_IFACE,
    ])?)?;
    let ifindex = json[0]["ifindex"]
        .as_u64()
        .ok_or_else(|| BenchError::Invalid("no ifindex for eth0".into()))? as u32;
    let watch = host.watch_addresses()?;
    let ips: Vec<std::net::Ipv4Addr> = (0..COUNT as u8)
        .map(|i| std::net::Ipv4Addr::new(198, 51, 100, 200 + i))
        .collect();
    let sent = host
        .in_ns(|| -> std::io::Result<Vec<SystemTime>> {
            let socket = rustix::net::socket(AddressFamily::NETLINK, SocketType::RAW, None)?;
            let mut sent = Vec::new();
            let mut ack = [0u8; 512];
            for (seq, ip) in ips.iter().enumerate() {
                let request = new_address_request(seq as u32 + 1, ifindex, *ip);
                let at = SystemTime::now();
                rustix::net::send(&socket, &request, SendFlags::empty())?;
                rustix::net::recv(&socket, &mut ack[..], RecvFlags::empty())?;
                sent.push(at);
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(sent)
        })?
        .map_err(|source| BenchError::File {
            path: "netlink socket".into(),
            source,
        })?;
    let mut out = Vec::new();
    for (ip, at) in ips.iter().zip(&sent) {
        let ip = std::net::IpAddr::V4(*ip);
        let event = watch
            .wait_for(Duration::from_secs(2), |e| e.added && e.ip == ip)
            .ok_or_else(|| BenchError::Timeout(format!("the watcher did not see {ip}")))?;
        out.push(crate::measures::ms(event.at, *at) * 1e3);
    }
    Ok(out)
}
