//! Crafting and injecting hostile packets from a lab host: whole IPv4 / IPv6 packets built
//! byte by byte (any TTL, hop limit, source address, header length, protocol) and sent with
//! raw sockets that take the IP header as given (`IP_HDRINCL`, `IPV6_HDRINCL`), plus Ethernet
//! frames for what even those sockets refuse to send (an IPv4 header longer than the packet,
//! a total length beyond the frame).
//!
//! The builders are pure functions over bytes; [`Injector`] is the only part that needs root
//! and a namespace. Open it inside the attacking host with [`Injector::open`] (it enters the
//! host's namespace for you): the sockets stay in that namespace and can then be used from
//! any thread.
//!
//! ```no_run
//! use std::net::Ipv4Addr;
//! use vrrp_lab::inject::{Injector, Ipv4Builder};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let lab = vrrp_lab::Lab::new(3)?;
//! let attacker = lab.host(3)?;
//! let injector = Injector::open(attacker)?;
//! // A VRRP message (here 8 junk bytes) with TTL 64 to the VRRP group.
//! let packet = Ipv4Builder::new(attacker.ipv4(), Ipv4Addr::new(224, 0, 0, 18), 112)
//!     .ttl(64)
//!     .build(&[0x31, 1, 100, 1, 0, 100, 0, 0]);
//! injector.send(&packet)?;
//! # Ok(())
//! # }
//! ```

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::error::{LabError, Result};
use crate::{HOST_IFACE, Host};

/// `IPPROTO_RAW`: a raw socket that sends complete IP packets.
const IPPROTO_RAW: i32 = 255;

/// The 16-bit one's complement of the one's complement sum of `data` (RFC 1071), with
/// `initial` added to the sum first (a pseudo-header's sum, say).
pub fn internet_checksum(initial: u32, data: &[u8]) -> u16 {
    let mut sum = initial;
    let mut chunks = data.chunks_exact(2);
    for pair in &mut chunks {
        sum = sum.wrapping_add(u32::from(u16::from_be_bytes([pair[0], pair[1]])));
    }
    if let [last] = chunks.remainder() {
        sum = sum.wrapping_add(u32::from(*last) << 8);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Builds an IPv4 packet byte by byte. Defaults: TTL 255, no options, a correct header
/// checksum and total length, DF clear, ID 0x1234. Every field can be set to a wrong value.
#[derive(Debug, Clone)]
pub struct Ipv4Builder {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: u8,
    ttl: u8,
    options: Vec<u8>,
    ihl: Option<u8>,
    total_length: Option<u16>,
    checksum: Option<u16>,
    flags_fragment: u16,
}

impl Ipv4Builder {
    /// A packet from `src` to `dst` carrying IP protocol `protocol`.
    pub fn new(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8) -> Self {
        Self {
            src,
            dst,
            protocol,
            ttl: 255,
            options: Vec::new(),
            ihl: None,
            total_length: None,
            checksum: None,
            flags_fragment: 0,
        }
    }

    /// The TTL.
    pub fn ttl(mut self, ttl: u8) -> Self {
        self.ttl = ttl;
        self
    }

    /// IP options, padded with zeros (End of Options) to a multiple of 4 bytes.
    pub fn options(mut self, options: &[u8]) -> Self {
        self.options = options.to_vec();
        while !self.options.len().is_multiple_of(4) {
            self.options.push(0);
        }
        self
    }

    /// Writes this IHL (in 32-bit words) instead of the true header length.
    pub fn ihl(mut self, words: u8) -> Self {
        self.ihl = Some(words & 0x0f);
        self
    }

    /// Writes this total length instead of the true one.
    pub fn total_length(mut self, len: u16) -> Self {
        self.total_length = Some(len);
        self
    }

    /// Writes this header checksum instead of the correct one.
    pub fn header_checksum(mut self, sum: u16) -> Self {
        self.checksum = Some(sum);
        self
    }

    /// The flags and fragment offset field (e.g. `0x2000`: More Fragments).
    pub fn flags_fragment(mut self, value: u16) -> Self {
        self.flags_fragment = value;
        self
    }

    /// The packet: header (20 bytes + options) followed by `payload`.
    pub fn build(&self, payload: &[u8]) -> Vec<u8> {
        let header_len = 20 + self.options.len();
        let true_ihl = (header_len / 4) as u8;
        let ihl = self.ihl.unwrap_or(true_ihl);
        let total = (header_len + payload.len()) as u16;
        let mut p = Vec::with_capacity(header_len + payload.len());
        p.push(0x40 | ihl);
        p.push(0); // DSCP / ECN
        p.extend_from_slice(&self.total_length.unwrap_or(total).to_be_bytes());
        p.extend_from_slice(&0x1234u16.to_be_bytes()); // identification
        p.extend_from_slice(&self.flags_fragment.to_be_bytes());
        p.push(self.ttl);
        p.push(self.protocol);
        p.extend_from_slice(&[0, 0]); // checksum, below
        p.extend_from_slice(&self.src.octets());
        p.extend_from_slice(&self.dst.octets());
        p.extend_from_slice(&self.options);
        // The checksum covers the header as it will be read: IHL words, within what exists.
        let covered = (usize::from(ihl) * 4).clamp(0, p.len());
        let sum = self
            .checksum
            .unwrap_or_else(|| internet_checksum(0, &p[..covered]));
        p[10..12].copy_from_slice(&sum.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }
}

/// Builds an IPv6 packet (fixed header, no extension headers). Defaults: hop limit 255, a
/// correct payload length.
#[derive(Debug, Clone)]
pub struct Ipv6Builder {
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next_header: u8,
    hop_limit: u8,
    payload_length: Option<u16>,
}

impl Ipv6Builder {
    /// A packet from `src` to `dst` whose next header is `next_header`.
    pub fn new(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8) -> Self {
        Self {
            src,
            dst,
            next_header,
            hop_limit: 255,
            payload_length: None,
        }
    }

    /// The hop limit.
    pub fn hop_limit(mut self, hop_limit: u8) -> Self {
        self.hop_limit = hop_limit;
        self
    }

    /// Writes this payload length instead of the true one.
    pub fn payload_length(mut self, len: u16) -> Self {
        self.payload_length = Some(len);
        self
    }

    /// The packet: the 40-byte header followed by `payload`.
    pub fn build(&self, payload: &[u8]) -> Vec<u8> {
        let mut p = Vec::with_capacity(40 + payload.len());
        p.extend_from_slice(&[0x60, 0, 0, 0]);
        let len = self.payload_length.unwrap_or(payload.len() as u16);
        p.extend_from_slice(&len.to_be_bytes());
        p.push(self.next_header);
        p.push(self.hop_limit);
        p.extend_from_slice(&self.src.octets());
        p.extend_from_slice(&self.dst.octets());
        p.extend_from_slice(payload);
        p
    }
}

/// The Ethernet destination of an IP destination: the multicast mapping (RFC 1112 §6.4,
/// RFC 2464 §7) for a multicast group, `unicast` otherwise.
pub fn ethernet_destination(dst: IpAddr, unicast: [u8; 6]) -> [u8; 6] {
    match dst {
        IpAddr::V4(v4) if v4.is_multicast() => {
            let o = v4.octets();
            [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]]
        }
        IpAddr::V6(v6) if v6.is_multicast() => {
            let o = v6.octets();
            [0x33, 0x33, o[12], o[13], o[14], o[15]]
        }
        _ => unicast,
    }
}

/// An Ethernet II frame around an IP packet (`packet`'s first nibble picks the EtherType).
pub fn ethernet_frame(dst: [u8; 6], src: [u8; 6], packet: &[u8]) -> Vec<u8> {
    let ethertype: u16 = match packet.first().map(|b| b >> 4) {
        Some(6) => 0x86dd,
        _ => 0x0800,
    };
    let mut f = Vec::with_capacity(14 + packet.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(packet);
    f
}

/// Raw sockets in a lab host that send complete IP packets, header included, out of `eth0`.
#[derive(Debug)]
pub struct Injector {
    v4: Socket,
    v6: Socket,
    ifindex: u32,
}

impl Injector {
    /// Opens the sockets inside `host`'s namespace, bound to its `eth0`.
    pub fn open(host: &Host) -> Result<Self> {
        host.in_ns(|| Self::open_here(HOST_IFACE))?
    }

    /// Opens the sockets in the calling thread's namespace, bound to `ifname`.
    pub fn open_here(ifname: &str) -> Result<Self> {
        let io = |what: &str, source: io::Error| LabError::Spawn {
            command: format!("raw socket: {what}"),
            source,
        };
        // IPPROTO_RAW implies IP_HDRINCL for IPv4; set it anyway to say what we mean.
        let v4 = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(IPPROTO_RAW)))
            .map_err(|e| io("IPv4", e))?;
        v4.set_header_included_v4(true)
            .map_err(|e| io("IP_HDRINCL", e))?;
        v4.bind_device(Some(ifname.as_bytes()))
            .map_err(|e| io("SO_BINDTODEVICE", e))?;
        let v6 = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::from(IPPROTO_RAW)))
            .map_err(|e| io("IPv6", e))?;
        v6.set_header_included_v6(true)
            .map_err(|e| io("IPV6_HDRINCL", e))?;
        v6.bind_device(Some(ifname.as_bytes()))
            .map_err(|e| io("SO_BINDTODEVICE", e))?;
        // Asked of the socket (SIOCGIFINDEX), not of /sys: sysfs shows the namespace that
        // mounted it, not the calling thread's.
        let ifindex = rustix::net::netdevice::name_to_index(&v4, ifname)
            .map_err(|e| io("SIOCGIFINDEX", e.into()))?;
        Ok(Self { v4, v6, ifindex })
    }

    /// Sends one complete IP packet (the version nibble picks the socket; the destination
    /// is read from the header). Returns what the kernel said: it refuses some malformed
    /// IPv4 headers (`EINVAL` for a header length beyond the packet).
    pub fn send(&self, packet: &[u8]) -> io::Result<()> {
        let invalid = || io::Error::new(io::ErrorKind::InvalidInput, "not an IP packet");
        let (socket, dst) = match packet.first().map(|b| b >> 4) {
            Some(4) => {
                let d = packet.get(16..20).ok_or_else(invalid)?;
                let dst = Ipv4Addr::new(d[0], d[1], d[2], d[3]);
                (&self.v4, SockAddr::from(SocketAddr::from((dst, 0))))
            }
            Some(6) => {
                let d: [u8; 16] = packet
                    .get(24..40)
                    .and_then(|d| d.try_into().ok())
                    .ok_or_else(invalid)?;
                let dst = Ipv6Addr::from(d);
                let scope = if dst.is_multicast() || dst.is_unicast_link_local() {
                    self.ifindex
                } else {
                    0
                };
                (
                    &self.v6,
                    SockAddr::from(SocketAddrV6::new(dst, 0, 0, scope)),
                )
            }
            _ => return Err(invalid()),
        };
        let sent = socket.send_to(packet, &dst)?;
        if sent == packet.len() {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("{sent} of {} bytes sent", packet.len()),
            ))
        }
    }

    /// The index of the interface the sockets send on.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_header_checksum_verifies() {
        let p = Ipv4Builder::new(
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(224, 0, 0, 18),
            112,
        )
        .build(&[1, 2, 3, 4]);
        assert_eq!(p.len(), 24);
        assert_eq!(p[0], 0x45);
        assert_eq!(u16::from_be_bytes([p[2], p[3]]), 24);
        assert_eq!((p[8], p[9]), (255, 112));
        // A correct header sums to 0xffff, so its checksum is 0.
        assert_eq!(internet_checksum(0, &p[..20]), 0);
    }

    #[test]
    fn ipv4_overrides_are_written_as_given() {
        let p = Ipv4Builder::new(
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(224, 0, 0, 18),
            112,
        )
        .ttl(1)
        .ihl(15)
        .total_length(9999)
        .header_checksum(0xdead)
        .flags_fragment(0x2000)
        .build(&[0; 8]);
        assert_eq!(p[0], 0x4f);
        assert_eq!(u16::from_be_bytes([p[2], p[3]]), 9999);
        assert_eq!(u16::from_be_bytes([p[6], p[7]]), 0x2000);
        assert_eq!(p[8], 1);
        assert_eq!(u16::from_be_bytes([p[10], p[11]]), 0xdead);
    }

    #[test]
    fn ipv4_options_are_padded_and_counted() {
        let p = Ipv4Builder::new(
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(192, 0, 2, 2),
            112,
        )
        .options(&[1, 1, 1])
        .build(&[]);
        assert_eq!(p[0], 0x46);
        assert_eq!(p.len(), 24);
        assert_eq!(internet_checksum(0, &p[..24]), 0);
    }

    #[test]
    fn ipv6_header_fields() {
        let src: Ipv6Addr = "fe80::1".parse().unwrap_or(Ipv6Addr::UNSPECIFIED);
        let dst: Ipv6Addr = "ff02::12".parse().unwrap_or(Ipv6Addr::UNSPECIFIED);
        let p = Ipv6Builder::new(src, dst, 112).hop_limit(1).build(&[9; 12]);
        assert_eq!(p.len(), 52);
        assert_eq!(p[0] >> 4, 6);
        assert_eq!(u16::from_be_bytes([p[4], p[5]]), 12);
        assert_eq!((p[6], p[7]), (112, 1));
        assert_eq!(p[8..24], src.octets());
        assert_eq!(p[24..40], dst.octets());
    }

    #[test]
    fn multicast_macs_and_frames() {
        let group = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));
        assert_eq!(
            ethernet_destination(group, [2; 6]),
            [1, 0, 0x5e, 0, 0, 0x12]
        );
        let group6: IpAddr = "ff02::12".parse().unwrap_or(group);
        assert_eq!(
            ethernet_destination(group6, [2; 6]),
            [0x33, 0x33, 0, 0, 0, 0x12]
        );
        let one = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(ethernet_destination(one, [2; 6]), [2; 6]);
        let f = ethernet_frame([1; 6], [2; 6], &[0x60, 0]);
        assert_eq!(f[12..14], [0x86, 0xdd]);
        let f = ethernet_frame([1; 6], [2; 6], &[0x45, 0]);
        assert_eq!(f[12..14], [0x08, 0x00]);
    }

    #[test]
    fn checksum_of_odd_lengths() {
        // RFC 1071's example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2.
        assert_eq!(
            internet_checksum(0, &[0, 1, 0xf2, 3, 0xf4, 0xf5, 0xf6, 0xf7]),
            !0xddf2
        );
        assert_eq!(internet_checksum(0, &[0xff]), !0xff00);
    }
}
