//! The capture socket of `vrrpd watch`, the only part of it that touches the network.
//!
//! An AF_PACKET socket (packet(7)) bound to one interface with `ETH_P_ALL`, so that it sees
//! every frame the host receives or sends there: multicast adverts, unicast adverts to or
//! from this host, and the host's own adverts. A classic BPF filter, attached before the bind
//! so that nothing else is ever queued, keeps IPv4 protocol 112 and IPv6 next header 112
//! (also behind one 802.1Q tag). While it runs, the watch joins 224.0.0.18 and ff02::12 on
//! the interface (from two ordinary UDP sockets), so that a NIC's multicast filter does not
//! hide the adverts from a host that runs no VRRP itself. The interface is not put in
//! promiscuous mode: unicast adverts between two other hosts are only seen on a mirror port.

use std::fmt;
use std::io::{self, Read as _};

use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockFilter, Socket, Type};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use vrrp_packet::{IP_PROTOCOL_VRRP, MULTICAST_V4, MULTICAST_V6};

/// `ETH_P_ALL`: every EtherType, incoming and outgoing (linux/if_ether.h).
const ETH_P_ALL: u16 = 0x0003;
/// The largest frame read whole (a VRRP advert with 255 IPv6 addresses is about 4 KiB).
pub(crate) const MAX_FRAME: usize = 65_536;

// Classic BPF opcodes (linux/filter.h).
const LDH_ABS: u16 = 0x28; // BPF_LD | BPF_H | BPF_ABS
const LDB_ABS: u16 = 0x30; // BPF_LD | BPF_B | BPF_ABS
const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const RET_K: u16 = 0x06; // BPF_RET | BPF_K

const ETHERTYPE_IPV4: u32 = 0x0800;
const ETHERTYPE_IPV6: u32 = 0x86dd;
const ETHERTYPE_VLAN: u32 = 0x8100;
const VRRP: u32 = IP_PROTOCOL_VRRP as u32;

/// The filter program, as (code, jump if true, jump if false, k). Jumps are relative to the
/// next instruction. Offsets: EtherType at 12 (16 behind a VLAN tag); IPv4 protocol at
/// 14 + 9 = 23 (27); IPv6 next header at 14 + 6 = 20 (24).
pub(crate) const VRRP_FILTER: [(u16, u8, u8, u32); 17] = [
    (LDH_ABS, 0, 0, 12),             // 0: EtherType
    (JEQ_K, 5, 0, ETHERTYPE_IPV4),   // 1: → 7
    (JEQ_K, 6, 0, ETHERTYPE_IPV6),   // 2: → 9
    (JEQ_K, 0, 12, ETHERTYPE_VLAN),  // 3: → 4, else drop
    (LDH_ABS, 0, 0, 16),             // 4: EtherType behind the tag
    (JEQ_K, 5, 0, ETHERTYPE_IPV4),   // 5: → 11
    (JEQ_K, 6, 9, ETHERTYPE_IPV6),   // 6: → 13, else drop
    (LDB_ABS, 0, 0, 23),             // 7: IPv4 protocol
    (JEQ_K, 6, 7, VRRP),             // 8: → accept / drop
    (LDB_ABS, 0, 0, 20),             // 9: IPv6 next header
    (JEQ_K, 4, 5, VRRP),             // 10
    (LDB_ABS, 0, 0, 27),             // 11: IPv4 protocol behind the tag
    (JEQ_K, 2, 3, VRRP),             // 12
    (LDB_ABS, 0, 0, 24),             // 13: IPv6 next header behind the tag
    (JEQ_K, 0, 1, VRRP),             // 14
    (RET_K, 0, 0, MAX_FRAME as u32), // 15: accept, whole frame
    (RET_K, 0, 0, 0),                // 16: drop
];

/// Why the capture could not start.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// No interface of that name here (a bad argument).
    NoInterface {
        /// The name given.
        name: String,
        /// What the kernel said.
        source: io::Error,
    },
    /// A socket call failed.
    Socket {
        /// What was being done.
        op: String,
        /// What the kernel said.
        source: io::Error,
    },
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::NoInterface { name, source } => write!(
                f,
                "no interface named {name:?} in this network namespace ({source}); \
                 `ip link` lists them"
            ),
            OpenError::Socket { op, source } => {
                write!(f, "cannot {op}: {source}")?;
                if source.kind() == io::ErrorKind::PermissionDenied {
                    f.write_str("; capturing needs CAP_NET_RAW (run as root)")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for OpenError {}

fn socket_error(op: impl Into<String>) -> impl FnOnce(io::Error) -> OpenError {
    let op = op.into();
    move |source| OpenError::Socket { op, source }
}

/// A running capture on one interface.
#[derive(Debug)]
pub(crate) struct Capture {
    socket: AsyncFd<Socket>,
    /// The UDP sockets holding the multicast memberships (released when dropped).
    _groups: Vec<Socket>,
    warnings: Vec<String>,
}

impl Capture {
    /// Opens the capture on interface `name`, in the network namespace of the calling thread.
    /// Must run inside a tokio runtime with IO enabled.
    pub(crate) fn open(name: &str) -> Result<Self, OpenError> {
        // An ordinary UDP socket needs no privilege: look the interface up with it first, so
        // that a wrong name is reported as such even without root.
        let v4 = Socket::new(Domain::IPV4, Type::DGRAM, None)
            .map_err(socket_error("open a UDP socket"))?;
        let ifindex = rustix::net::netdevice::name_to_index(&v4, name).map_err(|e| {
            OpenError::NoInterface {
                name: name.to_owned(),
                source: e.into(),
            }
        })?;

        // Protocol 0: nothing is queued until the bind below, after the filter is in place.
        let socket = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(0)))
            .map_err(socket_error("open an AF_PACKET socket"))?;
        let filter: Vec<SockFilter> = VRRP_FILTER
            .iter()
            .map(|&(code, jt, jf, k)| SockFilter::new(code, jt, jf, k))
            .collect();
        socket
            .attach_filter(&filter)
            .map_err(socket_error("attach the VRRP filter"))?;
        socket
            .bind(&vrrp_netlink::link_bind_address(ifindex, ETH_P_ALL))
            .map_err(socket_error(format!("bind the AF_PACKET socket to {name}")))?;
        socket
            .set_nonblocking(true)
            .map_err(socket_error("make the AF_PACKET socket non-blocking"))?;
        // tokio 1.54 deprecates its safe constructors because an arbitrary `AsRawFd` type could
        // hand out different descriptors over time, and the replacement is `unsafe`, which this
        // workspace forbids. A socket2 `Socket` owns one open descriptor for its whole life
        // and always returns it: the contract the unsafe constructor asks for (vrrp-health
        // does the same with its pidfds).
        #[allow(deprecated)]
        let socket = AsyncFd::with_interest(socket, Interest::READABLE)
            .map_err(socket_error("register the socket with tokio"))?;

        let mut warnings = Vec::new();
        let mut groups = Vec::new();
        match v4.join_multicast_v4_n(&MULTICAST_V4, &InterfaceIndexOrAddress::Index(ifindex)) {
            Ok(()) => groups.push(v4),
            Err(e) => warnings.push(format!(
                "cannot join {MULTICAST_V4} on {name} ({e}): a NIC multicast filter may hide IPv4 adverts"
            )),
        }
        let v6 = Socket::new(Domain::IPV6, Type::DGRAM, None)
            .and_then(|s| s.join_multicast_v6(&MULTICAST_V6, ifindex).map(|()| s));
        match v6 {
            Ok(s) => groups.push(s),
            Err(e) => warnings.push(format!(
                "cannot join {MULTICAST_V6} on {name} ({e}): a NIC multicast filter may hide IPv6 adverts"
            )),
        }
        Ok(Self {
            socket,
            _groups: groups,
            warnings,
        })
    }

    /// What did not work but does not stop the capture.
    pub(crate) fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Waits for the next frame and copies it into `buf` (a longer frame is cut to
    /// `buf.len()`); returns its length.
    pub(crate) async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.socket.readable().await?;
            match guard.try_io(|socket| {
                let mut reader: &Socket = socket.get_ref();
                reader.read(buf)
            }) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the classic BPF subset the filter uses over `frame`: the accepted length.
    fn run_filter(frame: &[u8]) -> u32 {
        let mut acc: u32 = 0;
        let mut pc = 0usize;
        loop {
            let (code, jt, jf, k) = VRRP_FILTER[pc];
            let at = k as usize;
            match code {
                LDH_ABS => match frame.get(at..at + 2) {
                    Some(b) => acc = u32::from(u16::from_be_bytes([b[0], b[1]])),
                    None => return 0, // out of bounds: the kernel drops
                },
                LDB_ABS => match frame.get(at) {
                    Some(b) => acc = u32::from(*b),
                    None => return 0,
                },
                JEQ_K => {
                    pc += usize::from(if acc == k { jt } else { jf });
                }
                RET_K => return k,
                other => panic!("opcode {other:#x} not in the filter's subset"),
            }
            pc += 1;
        }
    }

    fn frame(ethertype: u16, vlan: bool, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x01, 0, 0x5e, 0, 0, 0x12, 2, 0, 0, 0, 1, 0x11];
        if vlan {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 0x07]);
        }
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    fn ipv4(protocol: u8) -> Vec<u8> {
        let mut ip = vec![0u8; 28];
        ip[0] = 0x45;
        ip[9] = protocol;
        ip
    }

    fn ipv6(next_header: u8) -> Vec<u8> {
        let mut ip = vec![0u8; 48];
        ip[0] = 0x60;
        ip[6] = next_header;
        ip
    }

    #[test]
    fn filter_keeps_vrrp_over_ipv4_and_ipv6_also_tagged() {
        for vlan in [false, true] {
            assert_eq!(run_filter(&frame(0x0800, vlan, &ipv4(112))), 65_536);
            assert_eq!(run_filter(&frame(0x86dd, vlan, &ipv6(112))), 65_536);
            assert_eq!(run_filter(&frame(0x0800, vlan, &ipv4(1))), 0, "ICMP");
            assert_eq!(run_filter(&frame(0x0800, vlan, &ipv4(17))), 0, "UDP");
            assert_eq!(run_filter(&frame(0x86dd, vlan, &ipv6(58))), 0, "ICMPv6");
            // VRRP's number in the other family's position does not count.
            assert_eq!(run_filter(&frame(0x86dd, vlan, &ipv4(112))), 0);
        }
        assert_eq!(run_filter(&frame(0x0806, false, &[0u8; 28])), 0, "ARP");
        assert_eq!(run_filter(&[0u8; 10]), 0, "runt");
    }

    #[test]
    fn every_jump_stays_inside_the_program() {
        for (pc, &(code, jt, jf, _)) in VRRP_FILTER.iter().enumerate() {
            if code == JEQ_K {
                assert!(pc + 1 + usize::from(jt.max(jf)) < VRRP_FILTER.len(), "{pc}");
            }
        }
        assert_eq!(VRRP_FILTER.last().map(|i| i.0), Some(RET_K));
    }

    #[test]
    fn errors_say_what_to_do() {
        let e = OpenError::Socket {
            op: "open an AF_PACKET socket".into(),
            source: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        assert!(
            e.to_string().ends_with("needs CAP_NET_RAW (run as root)"),
            "{e}"
        );
        let e = OpenError::NoInterface {
            name: "eth9".into(),
            source: io::Error::from_raw_os_error(19),
        };
        assert!(
            e.to_string().starts_with("no interface named \"eth9\""),
            "{e}"
        );
    }
}
