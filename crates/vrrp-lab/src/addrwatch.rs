//! Timestamped address events of one lab host, straight from rtnetlink.
//!
//! A thread inside the host's namespace holds a `NETLINK_ROUTE` socket subscribed to the
//! IPv4 and IPv6 address groups and stamps every `RTM_NEWADDR` / `RTM_DELADDR` with the wall
//! clock (`CLOCK_REALTIME`, the clock tcpdump stamps frames with) as soon as `recv` returns.
//! That is when "VIP installed" happened, to within the thread's wake-up latency (tens of
//! microseconds on an idle machine), which is what the benchmarks compare with packet times
//! from a capture.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::sockopt::{self, Timeout};
use rustix::net::{AddressFamily, RecvFlags, SocketType};

use crate::error::{LabError, Result};
use crate::netns;

/// rtnetlink multicast groups (linux/rtnetlink.h): RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR.
const GROUPS: u32 = 0x10 | 0x100;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
/// How often the thread looks at its stop flag.
const TICK: Duration = Duration::from_millis(50);
/// Big enough for a thousand VIPs arriving at once.
const RCVBUF: usize = 8 << 20;

/// One address added to or removed from an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressEvent {
    /// When the watcher received it (wall clock).
    pub at: SystemTime,
    /// Added (`RTM_NEWADDR`) or removed (`RTM_DELADDR`).
    pub added: bool,
    /// The interface index.
    pub ifindex: u32,
    /// The address.
    pub ip: IpAddr,
    /// Its prefix length.
    pub prefix_len: u8,
}

/// A running watcher (see the [module docs](self)); stops when dropped.
#[derive(Debug)]
pub struct AddressWatch {
    events: Arc<Mutex<Vec<AddressEvent>>>,
    overflowed: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl AddressWatch {
    /// Starts watching in namespace `namespace`; returns once subscribed, so every change
    /// made after this returns is seen.
    pub(crate) fn start(namespace: &str) -> Result<Self> {
        let events = Arc::new(Mutex::new(Vec::new()));
        let overflowed = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel::<Result<()>>();
        let name = namespace.to_owned();
        let (ev, of, st) = (events.clone(), overflowed.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name(format!("addrwatch-{name}"))
            .spawn(move || {
                let socket = netns::enter(&name).and_then(|()| open_socket(&name));
                match socket {
                    Ok(socket) => {
                        let _ = ready_tx.send(Ok(()));
                        run(&socket, &ev, &of, &st);
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            })
            .map_err(|source| LabError::Spawn {
                command: "address watch thread".into(),
                source,
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Self {
                events,
                overflowed,
                stop,
                thread: Some(thread),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(LabError::Invalid("address watch thread died".into())),
        }
    }

    /// Every event so far, in arrival order.
    pub fn events(&self) -> Vec<AddressEvent> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// Whether the kernel dropped events because the socket buffer was full (then the list
    /// is incomplete).
    pub fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Relaxed)
    }

    /// Waits until an event satisfies `pred` (returned) or `timeout` passes (`None`).
    pub fn wait_for(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&AddressEvent) -> bool,
    ) -> Option<AddressEvent> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = self
                .events
                .lock()
                .ok()
                .and_then(|e| e.iter().find(|e| pred(e)).copied())
            {
                return Some(found);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Waits until at least `count` events satisfy `pred`; returns them all (in order), or
    /// `None` after `timeout`.
    pub fn wait_for_count(
        &self,
        timeout: Duration,
        count: usize,
        mut pred: impl FnMut(&AddressEvent) -> bool,
    ) -> Option<Vec<AddressEvent>> {
        let deadline = Instant::now() + timeout;
        loop {
            let matching: Vec<AddressEvent> = self
                .events
                .lock()
                .map(|e| e.iter().filter(|e| pred(e)).copied().collect())
                .unwrap_or_default();
            if matching.len() >= count {
                return Some(matching);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Forgets the events seen so far.
    pub fn clear(&self) {
        if let Ok(mut e) = self.events.lock() {
            e.clear();
        }
    }
}

impl Drop for AddressWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn open_socket(namespace: &str) -> Result<OwnedFd> {
    let err = |what: &str, e: rustix::io::Errno| LabError::Spawn {
        command: format!("netlink {what} in {namespace}"),
        source: e.into(),
    };
    let socket = rustix::net::socket(
        AddressFamily::NETLINK,
        SocketType::RAW,
        None, // NETLINK_ROUTE
    )
    .map_err(|e| err("socket", e))?;
    // Root may go past rmem_max; if not, the default buffer still works for small labs.
    if sockopt::set_socket_recv_buffer_size_force(&socket, RCVBUF).is_err() {
        let _ = sockopt::set_socket_recv_buffer_size(&socket, RCVBUF);
    }
    sockopt::set_socket_timeout(&socket, Timeout::Recv, Some(TICK))
        .map_err(|e| err("SO_RCVTIMEO", e))?;
    rustix::net::bind(&socket, &SocketAddrNetlink::new(0, GROUPS)).map_err(|e| err("bind", e))?;
    Ok(socket)
}

fn run(
    socket: &OwnedFd,
    events: &Mutex<Vec<AddressEvent>>,
    overflowed: &AtomicBool,
    stop: &AtomicBool,
) {
    let mut buf = vec![0u8; 1 << 16];
    while !stop.load(Ordering::Relaxed) {
        match rustix::net::recv(socket, &mut buf[..], RecvFlags::empty()) {
            Ok((n, _)) => {
                let at = SystemTime::now();
                let parsed = parse_messages(&buf[..n.min(buf.len())], at);
                if let Ok(mut e) = events.lock() {
                    e.extend(parsed);
                }
            }
            Err(rustix::io::Errno::NOBUFS) => overflowed.store(true, Ordering::Relaxed),
            Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => {}
            Err(_) => break,
        }
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Parses the address messages in one netlink datagram (anything else is skipped).
fn parse_messages(mut data: &[u8], at: SystemTime) -> Vec<AddressEvent> {
    let mut out = Vec::new();
    while let (Some(len), Some(kind)) = (u32_at(data, 0), u16_at(data, 4)) {
        let len = len as usize;
        if len < 16 || len > data.len() {
            break;
        }
        if (kind == RTM_NEWADDR || kind == RTM_DELADDR)
            && let Some(event) = parse_ifaddr(&data[16..len], kind == RTM_NEWADDR, at)
        {
            out.push(event);
        }
        data = data.get(align4(len)..).unwrap_or(&[]);
    }
    out
}

/// `struct ifaddrmsg` (8 bytes) followed by attributes.
fn parse_ifaddr(body: &[u8], added: bool, at: SystemTime) -> Option<AddressEvent> {
    let (family, prefix_len) = (*body.first()?, *body.get(1)?);
    let ifindex = u32_at(body, 4)?;
    let mut attrs = body.get(8..)?;
    let (mut local, mut address) = (None, None);
    while let (Some(len), Some(kind)) = (u16_at(attrs, 0), u16_at(attrs, 2)) {
        let len = usize::from(len);
        if len < 4 || len > attrs.len() {
            break;
        }
        let value = &attrs[4..len];
        let ip = match (family, value.len()) {
            (AF_INET, 4) => Some(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(value).ok()?))),
            (AF_INET6, 16) => Some(IpAddr::V6(Ipv6Addr::from(
                <[u8; 16]>::try_from(value).ok()?,
            ))),
            _ => None,
        };
        match kind {
            IFA_LOCAL => local = ip,
            IFA_ADDRESS => address = ip,
            _ => {}
        }
        attrs = attrs.get(align4(len)..).unwrap_or(&[]);
    }
    Some(AddressEvent {
        at,
        added,
        ifindex,
        // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on
        // point-to-point links and the same address elsewhere (IPv6 sends only it).
        ip: local.or(address)?,
        prefix_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
        a.extend_from_slice(&kind.to_ne_bytes());
        a.extend_from_slice(value);
        while a.len() % 4 != 0 {
            a.push(0);
        }
        a
    }

    fn message(kind: u16, family: u8, prefix: u8, ifindex: u32, attrs: &[Vec<u8>]) -> Vec<u8> {
        let mut body = vec![family, prefix, 0, 0];
        body.extend_from_slice(&ifindex.to_ne_bytes());
        for a in attrs {
            body.extend_from_slice(a);
        }
        let mut m = Vec::new();
        m.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&[0u8; 10]);
        m.extend_from_slice(&body);
        m
    }

    #[test]
    fn address_messages_parse_and_others_are_skipped() {
        let at = SystemTime::UNIX_EPOCH;
        let mut data = message(
            RTM_NEWADDR,
            AF_INET,
            32,
            2,
            &[
                attr(IFA_ADDRESS, &[192, 0, 2, 1]),
                attr(IFA_LOCAL, &[192, 0, 2, 100]),
            ],
        );
        data.extend(message(16, AF_INET, 0, 2, &[])); // RTM_NEWLINK: skipped
        let v6: Ipv6Addr = "2001:db8::100".parse().unwrap();
        data.extend(message(
            RTM_DELADDR,
            AF_INET6,
            128,
            3,
            &[attr(IFA_ADDRESS, &v6.octets())],
        ));
        let events = parse_messages(&data, at);
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[0].ip, "192.0.2.100".parse::<IpAddr>().unwrap());
        assert!(events[0].added);
        assert_eq!((events[0].ifindex, events[0].prefix_len), (2, 32));
        assert_eq!(events[1].ip, IpAddr::V6(v6));
        assert!(!events[1].added);
        assert_eq!(events[1].prefix_len, 128);
    }

    #[test]
    fn truncated_input_never_panics() {
        let data = message(
            RTM_NEWADDR,
            AF_INET,
            32,
            2,
            &[attr(IFA_LOCAL, &[192, 0, 2, 100])],
        );
        for cut in 0..data.len() {
            let _ = parse_messages(&data[..cut], SystemTime::UNIX_EPOCH);
        }
    }
}
