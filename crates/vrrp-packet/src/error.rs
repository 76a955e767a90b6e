//! Why a packet was not accepted, and why one could not be emitted.

use crate::Version;

/// Why a received VRRP packet (or the frame around it) is discarded.
///
/// Small and `Copy`: one variant per discard rule of RFC 9568 §7.1 / RFC 3768 §7.1 that can be
/// decided from the packet alone, each carrying the offending value. [`DecodeError::counter`]
/// names the statistic (RFC 6527 where it has one) that the discard increments.
///
/// Rules that need the local configuration (the VRID is ours, the interval matches, the password
/// matches) are [`MismatchError`]s instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Fewer bytes than the fixed VRRP header (8 bytes).
    #[error("truncated: {len} bytes, a VRRP header needs 8")]
    Truncated {
        /// Bytes available.
        len: usize,
    },
    /// The version field is neither 2 nor 3.
    #[error("version {0} is not 2 or 3")]
    Version(u8),
    /// The type field is not 1 (ADVERTISEMENT), the only type VRRP defines.
    #[error("type {0} is not 1 (ADVERTISEMENT)")]
    Type(u8),
    /// VRID 0 is not a valid virtual router identifier (1..255).
    #[error("VRID 0 is not valid (1..255)")]
    VridZero,
    /// Count IPvX Addr is zero (RFC 9568 erratum 8299: at least one address).
    #[error("address count is 0; at least one address is required")]
    AddressCountZero,
    /// The message length does not match 8 + Count × address size (+ 8 auth bytes for v2).
    #[error("length {actual} bytes does not match {expected} for {count} addresses")]
    Length {
        /// Bytes the header promises.
        expected: usize,
        /// Bytes present.
        actual: usize,
        /// The Count IPvX Addr field.
        count: u8,
    },
    /// The advertisement interval is zero (RFC 9568 erratum 8301).
    #[error("advertisement interval is 0")]
    IntervalZero,
    /// VRRPv2 authentication type 2 (IP Authentication Header), removed by RFC 3768, or an
    /// unknown type.
    #[error("authentication type {0} is not supported (0 none, 1 simple password)")]
    AuthType(u8),
    /// VRRPv2 over IPv6, which does not exist.
    #[error("VRRPv2 is IPv4 only; this message came over IPv6")]
    V2OverIpv6,
    /// The VRRP checksum is wrong in every form allowed for this version and family.
    #[error("checksum 0x{found:04x} is wrong (expected 0x{expected:04x})")]
    Checksum {
        /// The checksum in the packet.
        found: u16,
        /// The checksum this packet should carry in its preferred form.
        expected: u16,
    },
    /// The IP TTL / hop limit is not 255 (RFC 9568 §7.1: the packet may have been forwarded).
    #[error("TTL/hop limit {0} is not 255")]
    Ttl(u8),
    /// The IP protocol / next header is not 112.
    #[error("IP protocol {0} is not 112 (VRRP)")]
    Protocol(u8),
    /// The IP header is malformed: version, header length or total length.
    #[error("malformed IP header: {0}")]
    IpHeader(IpHeaderError),
    /// The Ethernet frame is too short or does not carry IPv4/IPv6.
    #[error("malformed Ethernet frame: {0}")]
    Ethernet(EthernetError),
    /// An IPv6 advertisement whose source is not a link-local address (RFC 9568 §5.1.2.1).
    #[error("IPv6 source is not link-local")]
    SourceNotLinkLocal,
}

impl DecodeError {
    /// The name of the counter this discard increments, in snake_case. Where RFC 6527 defines
    /// the statistic, the name follows it (`vrrpv3StatisticsRcvdInvalidType` → `invalid_type`).
    pub const fn counter(&self) -> &'static str {
        match self {
            DecodeError::Truncated { .. } | DecodeError::Length { .. } => "packet_length_errors",
            DecodeError::Version(_) | DecodeError::V2OverIpv6 => "version_errors",
            DecodeError::Type(_) => "invalid_type",
            DecodeError::VridZero => "vrid_errors",
            DecodeError::AddressCountZero => "address_list_errors",
            DecodeError::IntervalZero => "interval_errors",
            DecodeError::AuthType(_) => "auth_errors",
            DecodeError::Checksum { .. } => "checksum_errors",
            DecodeError::Ttl(_) => "ttl_errors",
            DecodeError::Protocol(_) | DecodeError::IpHeader(_) | DecodeError::Ethernet(_) => {
                "ip_errors"
            }
            DecodeError::SourceNotLinkLocal => "source_errors",
        }
    }
}

/// What is wrong with an IP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum IpHeaderError {
    /// Fewer bytes than the fixed header (20 for IPv4, 40 for IPv6).
    #[error("truncated: {len} bytes")]
    Truncated {
        /// Bytes available.
        len: usize,
    },
    /// The version nibble is neither 4 nor 6 (or not the one expected).
    #[error("IP version {0}")]
    Version(u8),
    /// IPv4 IHL below 5 words, or beyond the bytes available.
    #[error("IPv4 header length {ihl} words does not fit in {len} bytes (minimum 5)")]
    HeaderLength {
        /// The IHL field, in 32-bit words.
        ihl: u8,
        /// Bytes available.
        len: usize,
    },
    /// The IPv4 total length / IPv6 payload length is shorter than the header or longer than
    /// the bytes available.
    #[error("IP length {declared} does not fit in {len} bytes")]
    TotalLength {
        /// Length the header declares (IPv4: total; IPv6: 40 + payload length).
        declared: usize,
        /// Bytes available.
        len: usize,
    },
    /// The IPv4 header checksum is wrong.
    #[error("IPv4 header checksum 0x{0:04x} is wrong")]
    HeaderChecksum(u16),
    /// A fragment: VRRP messages are never fragmented.
    #[error("fragmented packet")]
    Fragment,
}

/// What is wrong with an Ethernet frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum EthernetError {
    /// Fewer than 14 bytes (18 with an 802.1Q tag).
    #[error("truncated: {len} bytes")]
    Truncated {
        /// Bytes available.
        len: usize,
    },
    /// The EtherType is neither IPv4 (0x0800) nor IPv6 (0x86dd).
    #[error("EtherType 0x{0:04x} is not IPv4 or IPv6")]
    EtherType(u16),
}

/// A packet that is well formed but does not match the local configuration
/// (RFC 9568 §7.1 checks 5-7, RFC 3768 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum MismatchError {
    /// No virtual router with this VRID is configured here.
    #[error("VRID {0} is not configured here")]
    UnknownVrid(u8),
    /// The version is not the one configured.
    #[error("version {theirs} but this router runs {ours}")]
    Version {
        /// Ours.
        ours: Version,
        /// In the packet.
        theirs: Version,
    },
    /// VRRPv2: the advertisement interval differs from ours (RFC 3768 §7.1: discard).
    #[error("advertisement interval {theirs_cs} cs but ours is {ours_cs} cs")]
    Interval {
        /// Ours, in centiseconds.
        ours_cs: u16,
        /// In the packet, in centiseconds.
        theirs_cs: u16,
    },
    /// VRRPv2: the authentication type differs from ours.
    #[error("authentication type {theirs} but ours is {ours}")]
    AuthType {
        /// Ours.
        ours: u8,
        /// In the packet.
        theirs: u8,
    },
    /// VRRPv2: simple-password authentication with a different password.
    #[error("authentication password does not match")]
    Password,
}

impl MismatchError {
    /// The name of the counter this discard increments, in snake_case.
    pub const fn counter(&self) -> &'static str {
        match self {
            MismatchError::UnknownVrid(_) => "vrid_errors",
            MismatchError::Version { .. } => "version_errors",
            MismatchError::Interval { .. } => "interval_errors",
            MismatchError::AuthType { .. } | MismatchError::Password => "auth_errors",
        }
    }
}

/// Why a [`VrrpRepr`](crate::VrrpRepr) cannot be written to the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum EmitError {
    /// The output buffer is smaller than [`VrrpRepr::buffer_len`](crate::VrrpRepr::buffer_len).
    #[error("buffer of {len} bytes is smaller than the {needed} bytes needed")]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        len: usize,
    },
    /// No addresses, or more than 255.
    #[error("{0} addresses; a VRRP message carries 1 to 255")]
    AddressCount(usize),
    /// VRID 0.
    #[error("VRID 0 is not valid (1..255)")]
    VridZero,
    /// The interval cannot be written in this version's field (v2: whole seconds 1..255;
    /// v3: 1..4095 centiseconds).
    #[error("interval {centis} cs cannot be encoded in VRRP{version}")]
    Interval {
        /// The interval, in centiseconds.
        centis: u16,
        /// The version it was to be written in.
        version: Version,
    },
    /// VRRPv3 has no authentication, or VRRPv2 over IPv6 was asked for.
    #[error("{0}")]
    Unsupported(&'static str),
    /// The source and destination addresses are not of the family of the virtual addresses.
    #[error("source, destination and virtual addresses are not all of one family")]
    FamilyMismatch,
}
