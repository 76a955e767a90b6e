//! Minimal IPv4, IPv6 and Ethernet header views: just what the VRRP receive checks need
//! (RFC 9568 §7.1: TTL / hop limit, protocol, source and destination, lengths).
//!
//! Each view is made with `new_checked`, which validates the lengths so that the accessors
//! never panic, and exposes the payload that the header's own length field delimits
//! (Ethernet padding after the IP packet is dropped).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::checksum;
use crate::error::{EthernetError, IpHeaderError};

/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// EtherType of an 802.1Q VLAN tag.
pub const ETHERTYPE_VLAN: u16 = 0x8100;

/// A view of an IPv4 header and its payload (RFC 791).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Header<'a> {
    bytes: &'a [u8],
    header_len: usize,
    total_len: usize,
}

impl<'a> Ipv4Header<'a> {
    /// Checks version 4, IHL ≥ 5 within the buffer, total length ≥ IHL and within the buffer.
    /// Bytes after the total length (Ethernet padding) are not part of the payload.
    pub fn new_checked(bytes: &'a [u8]) -> Result<Self, IpHeaderError> {
        if bytes.len() < 20 {
            return Err(IpHeaderError::Truncated { len: bytes.len() });
        }
        let version = bytes[0] >> 4;
        if version != 4 {
            return Err(IpHeaderError::Version(version));
        }
        let ihl = bytes[0] & 0x0f;
        let header_len = usize::from(ihl) * 4;
        if ihl < 5 || header_len > bytes.len() {
            return Err(IpHeaderError::HeaderLength {
                ihl,
                len: bytes.len(),
            });
        }
        let total_len = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
        if total_len < header_len || total_len > bytes.len() {
            return Err(IpHeaderError::TotalLength {
                declared: total_len,
                len: bytes.len(),
            });
        }
        Ok(Ipv4Header {
            bytes,
            header_len,
            total_len,
        })
    }

    /// Header length in bytes (IHL × 4).
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// The IHL field, in 32-bit words.
    pub fn ihl(&self) -> u8 {
        self.bytes[0] & 0x0f
    }

    /// The total length field.
    pub fn total_len(&self) -> usize {
        self.total_len
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.bytes[8]
    }

    /// Protocol number.
    pub fn protocol(&self) -> u8 {
        self.bytes[9]
    }

    /// True if this is a fragment (MF set or a non-zero fragment offset).
    pub fn is_fragment(&self) -> bool {
        let flags_frag = u16::from_be_bytes([self.bytes[6], self.bytes[7]]);
        flags_frag & 0x3fff != 0
    }

    /// The header checksum field.
    pub fn header_checksum(&self) -> u16 {
        u16::from_be_bytes([self.bytes[10], self.bytes[11]])
    }

    /// True if the header checksum is right.
    pub fn verify_header_checksum(&self) -> bool {
        checksum::fold(checksum::sum_bytes(0, &self.bytes[..self.header_len])) == 0xffff
    }

    /// Source address.
    pub fn src(&self) -> Ipv4Addr {
        Ipv4Addr::new(
            self.bytes[12],
            self.bytes[13],
            self.bytes[14],
            self.bytes[15],
        )
    }

    /// Destination address.
    pub fn dst(&self) -> Ipv4Addr {
        Ipv4Addr::new(
            self.bytes[16],
            self.bytes[17],
            self.bytes[18],
            self.bytes[19],
        )
    }

    /// The payload delimited by the total length.
    pub fn payload(&self) -> &'a [u8] {
        &self.bytes[self.header_len..self.total_len]
    }
}

/// A view of a fixed IPv6 header and its payload (RFC 8200). Extension headers are not
/// walked: VRRP is sent with next header 112 directly (RFC 9568 §5.1.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Header<'a> {
    bytes: &'a [u8],
    payload_len: usize,
}

impl<'a> Ipv6Header<'a> {
    /// Length of the fixed IPv6 header.
    pub const HEADER_LEN: usize = 40;

    /// Checks version 6 and that the payload length fits in the buffer.
    pub fn new_checked(bytes: &'a [u8]) -> Result<Self, IpHeaderError> {
        if bytes.len() < Self::HEADER_LEN {
            return Err(IpHeaderError::Truncated { len: bytes.len() });
        }
        let version = bytes[0] >> 4;
        if version != 6 {
            return Err(IpHeaderError::Version(version));
        }
        let payload_len = usize::from(u16::from_be_bytes([bytes[4], bytes[5]]));
        if Self::HEADER_LEN + payload_len > bytes.len() {
            return Err(IpHeaderError::TotalLength {
                declared: Self::HEADER_LEN + payload_len,
                len: bytes.len(),
            });
        }
        Ok(Ipv6Header { bytes, payload_len })
    }

    /// The payload length field.
    pub fn payload_len(&self) -> usize {
        self.payload_len
    }

    /// Next header.
    pub fn next_header(&self) -> u8 {
        self.bytes[6]
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.bytes[7]
    }

    /// Source address.
    pub fn src(&self) -> Ipv6Addr {
        let mut o = [0u8; 16];
        o.copy_from_slice(&self.bytes[8..24]);
        Ipv6Addr::from(o)
    }

    /// Destination address.
    pub fn dst(&self) -> Ipv6Addr {
        let mut o = [0u8; 16];
        o.copy_from_slice(&self.bytes[24..40]);
        Ipv6Addr::from(o)
    }

    /// The payload delimited by the payload length.
    pub fn payload(&self) -> &'a [u8] {
        &self.bytes[Self::HEADER_LEN..Self::HEADER_LEN + self.payload_len]
    }
}

/// An IPv4 or IPv6 header, whichever the version nibble says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpHeader<'a> {
    /// IPv4.
    V4(Ipv4Header<'a>),
    /// IPv6.
    V6(Ipv6Header<'a>),
}

impl<'a> IpHeader<'a> {
    /// Parses whichever version the first nibble names.
    pub fn new_checked(bytes: &'a [u8]) -> Result<Self, IpHeaderError> {
        match bytes.first().map(|b| b >> 4) {
            Some(4) => Ipv4Header::new_checked(bytes).map(IpHeader::V4),
            Some(6) => Ipv6Header::new_checked(bytes).map(IpHeader::V6),
            Some(v) => Err(IpHeaderError::Version(v)),
            None => Err(IpHeaderError::Truncated { len: 0 }),
        }
    }

    /// Source address.
    pub fn src(&self) -> IpAddr {
        match self {
            IpHeader::V4(h) => IpAddr::V4(h.src()),
            IpHeader::V6(h) => IpAddr::V6(h.src()),
        }
    }

    /// Destination address.
    pub fn dst(&self) -> IpAddr {
        match self {
            IpHeader::V4(h) => IpAddr::V4(h.dst()),
            IpHeader::V6(h) => IpAddr::V6(h.dst()),
        }
    }

    /// TTL (IPv4) or hop limit (IPv6).
    pub fn ttl(&self) -> u8 {
        match self {
            IpHeader::V4(h) => h.ttl(),
            IpHeader::V6(h) => h.hop_limit(),
        }
    }

    /// Protocol (IPv4) or next header (IPv6).
    pub fn protocol(&self) -> u8 {
        match self {
            IpHeader::V4(h) => h.protocol(),
            IpHeader::V6(h) => h.next_header(),
        }
    }

    /// The payload.
    pub fn payload(&self) -> &'a [u8] {
        match self {
            IpHeader::V4(h) => h.payload(),
            IpHeader::V6(h) => h.payload(),
        }
    }
}

/// A view of an Ethernet II frame, with at most one 802.1Q tag skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetFrame<'a> {
    bytes: &'a [u8],
    payload_offset: usize,
    ethertype: u16,
}

impl<'a> EthernetFrame<'a> {
    /// Checks that the header (and VLAN tag, if any) is present and the EtherType is IPv4 or
    /// IPv6.
    pub fn new_checked(bytes: &'a [u8]) -> Result<Self, EthernetError> {
        if bytes.len() < 14 {
            return Err(EthernetError::Truncated { len: bytes.len() });
        }
        let mut ethertype = u16::from_be_bytes([bytes[12], bytes[13]]);
        let mut payload_offset = 14;
        if ethertype == ETHERTYPE_VLAN {
            if bytes.len() < 18 {
                return Err(EthernetError::Truncated { len: bytes.len() });
            }
            ethertype = u16::from_be_bytes([bytes[16], bytes[17]]);
            payload_offset = 18;
        }
        if ethertype != ETHERTYPE_IPV4 && ethertype != ETHERTYPE_IPV6 {
            return Err(EthernetError::EtherType(ethertype));
        }
        Ok(EthernetFrame {
            bytes,
            payload_offset,
            ethertype,
        })
    }

    /// Destination MAC address.
    pub fn dst_mac(&self) -> [u8; 6] {
        let mut m = [0u8; 6];
        m.copy_from_slice(&self.bytes[0..6]);
        m
    }

    /// Source MAC address.
    pub fn src_mac(&self) -> [u8; 6] {
        let mut m = [0u8; 6];
        m.copy_from_slice(&self.bytes[6..12]);
        m
    }

    /// The EtherType of the payload (after a VLAN tag, if any).
    pub fn ethertype(&self) -> u16 {
        self.ethertype
    }

    /// The payload (including any Ethernet padding).
    pub fn payload(&self) -> &'a [u8] {
        &self.bytes[self.payload_offset..]
    }
}

/// Formats a MAC address as `00:00:5e:00:01:33`.
pub struct MacDisplay(pub [u8; 6]);

impl core::fmt::Display for MacDisplay {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

/// True if `addr` is an IPv6 link-local unicast address (fe80::/10).
pub const fn is_ipv6_link_local(addr: &Ipv6Addr) -> bool {
    addr.segments()[0] & 0xffc0 == 0xfe80
}
