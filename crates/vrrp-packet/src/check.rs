//! Every receive check of RFC 9568 §7.1 / RFC 3768 §7.1 on a whole captured frame, an IP
//! packet or a bare VRRP message, each reported by name (what `vrrpd decode` prints).
//!
//! Unlike [`VrrpRepr::parse`](crate::VrrpRepr::parse), which stops at the first failure,
//! [`inspect`] evaluates every check it can so that an operator sees all that is wrong at once.
//! It never panics and never allocates.

use core::fmt;
use core::net::IpAddr;

use crate::checksum::{ChecksumMode, IP_PROTOCOL_VRRP};
use crate::error::{DecodeError, IpHeaderError, MismatchError};
use crate::ip::{EthernetFrame, IpHeader, is_ipv6_link_local};
use crate::vrrp::{
    AddressFamily, Auth, CheckName, HEADER_LEN, Interval, Packet, STRUCTURE_CHECKS, Version,
    VrrpRepr, structure_check,
};

/// The outermost layer of the bytes given to [`inspect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    /// An Ethernet II frame.
    Ethernet,
    /// An IPv4 or IPv6 packet.
    Ip,
    /// A bare VRRP message.
    Vrrp,
}

impl Layer {
    /// `"ethernet"`, `"ip"` or `"vrrp"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Layer::Ethernet => "ethernet",
            Layer::Ip => "ip",
            Layer::Vrrp => "vrrp",
        }
    }

    /// Guesses the layer of captured bytes, without allocating:
    ///
    /// 1. an Ethernet frame if bytes 12..14 hold the IPv4, IPv6 or 802.1Q EtherType and the
    ///    byte after the header starts an IP header of the version that EtherType names;
    /// 2. otherwise an IP packet if the first nibble is 4 or 6 (a VRRP message starts with 2
    ///    or 3, so the two never collide);
    /// 3. otherwise an Ethernet frame if the EtherType alone says so (a broken IP header is then
    ///    reported as such);
    /// 4. otherwise a bare VRRP message.
    ///
    /// Ethernet is tried first because a unicast destination MAC may well start with 0x4_ or
    /// 0x6_. Only a bare message whose bytes 12..15 happen to look like an EtherType and an IP
    /// header is misread; pass the layer explicitly to [`inspect`] for those.
    pub fn detect(bytes: &[u8]) -> Layer {
        use crate::ip::{ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN};
        let be16 = |at: usize| {
            bytes
                .get(at..at + 2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
        };
        let outer = be16(12);
        let (ip_offset, inner) = match outer {
            Some(ETHERTYPE_VLAN) => (18, be16(16)),
            other => (14, other),
        };
        let ip_version = bytes.get(ip_offset).map(|b| b >> 4);
        if matches!(
            (inner, ip_version),
            (Some(ETHERTYPE_IPV4), Some(4)) | (Some(ETHERTYPE_IPV6), Some(6))
        ) {
            return Layer::Ethernet;
        }
        match bytes.first().map(|b| b >> 4) {
            Some(4 | 6) => Layer::Ip,
            _ if matches!(
                outer,
                Some(ETHERTYPE_IPV4 | ETHERTYPE_IPV6 | ETHERTYPE_VLAN)
            ) =>
            {
                Layer::Ethernet
            }
            _ => Layer::Vrrp,
        }
    }
}

/// Why a check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The packet is malformed.
    Decode(DecodeError),
    /// The packet does not match the local configuration.
    Mismatch(MismatchError),
}

impl Failure {
    /// The counter this failure increments.
    pub const fn counter(&self) -> &'static str {
        match self {
            Failure::Decode(e) => e.counter(),
            Failure::Mismatch(e) => e.counter(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Decode(e) => e.fmt(f),
            Failure::Mismatch(e) => e.fmt(f),
        }
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The check passed.
    Pass,
    /// The check failed.
    Fail(Failure),
    /// The check could not be evaluated (an earlier layer is broken) or does not apply.
    Skipped,
}

/// One named check and its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    /// Which check.
    pub name: CheckName,
    /// What it found.
    pub outcome: Outcome,
}

/// What the local router expects, for the checks of RFC 9568 §7.1 that need configuration.
/// Each `None` skips its check.
#[derive(Debug, Clone, Copy, Default)]
pub struct Expectations<'c> {
    /// The configured VRRP version.
    pub version: Option<Version>,
    /// The VRIDs configured on the receiving interface.
    pub vrids: Option<&'c [u8]>,
    /// VRRPv2: our advertisement interval (v2 discards a different one; v3 adopts it).
    pub advert_interval: Option<Interval>,
    /// VRRPv2: our authentication.
    pub auth: Option<Auth>,
}

/// Maximum number of checks a report holds.
pub const MAX_CHECKS: usize = 20;

/// The result of [`inspect`]: every layer found, every field readable, every check.
#[derive(Debug, Clone, Copy)]
pub struct Inspection<'a> {
    /// The outermost layer.
    pub layer: Layer,
    /// The Ethernet frame, if the input was one and its header is sound.
    pub ethernet: Option<EthernetFrame<'a>>,
    /// The IP header, if there was one and it is sound.
    pub ip: Option<IpHeader<'a>>,
    /// The address family (from the IP header, or inferred from a bare message's length).
    pub family: Option<AddressFamily>,
    /// The VRRP message view, if at least its 8-byte header is present.
    pub vrrp: Option<Packet<&'a [u8]>>,
    /// The parsed advertisement, if every structural check passed.
    pub repr: Option<VrrpRepr<'a>>,
    /// Which checksum form matched, if the checksum is right.
    pub checksum_mode: Option<ChecksumMode>,
    checks: [Check; MAX_CHECKS],
    len: usize,
}

impl<'a> Inspection<'a> {
    /// The checks, in the order they were evaluated.
    pub fn checks(&self) -> &[Check] {
        &self.checks[..self.len]
    }

    /// True if no check failed (skipped checks do not count as failures).
    pub fn is_valid(&self) -> bool {
        self.first_failure().is_none() && self.repr.is_some()
    }

    /// The first failure, in check order: the one a receiver discards for.
    pub fn first_failure(&self) -> Option<(CheckName, Failure)> {
        self.checks().iter().find_map(|c| match c.outcome {
            Outcome::Fail(f) => Some((c.name, f)),
            _ => None,
        })
    }

    /// The outcome of a named check, if it was evaluated.
    pub fn outcome(&self, name: CheckName) -> Option<Outcome> {
        self.checks()
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.outcome)
    }

    fn push(&mut self, name: CheckName, outcome: Outcome) {
        if let Some(slot) = self.checks.get_mut(self.len) {
            *slot = Check { name, outcome };
            self.len += 1;
        }
    }

    fn push_result(&mut self, name: CheckName, r: Result<(), Failure>) {
        self.push(name, r.map_or_else(Outcome::Fail, |()| Outcome::Pass));
    }
}

fn decode<T>(r: Result<T, DecodeError>) -> Result<T, Failure> {
    r.map_err(Failure::Decode)
}

/// Inspects `bytes` as `layer` (or the detected layer when `None`) and evaluates every receive
/// check it can, plus the configuration checks that `expect` asks for.
pub fn inspect<'a>(
    bytes: &'a [u8],
    layer: Option<Layer>,
    expect: &Expectations<'_>,
) -> Inspection<'a> {
    let layer = layer.unwrap_or_else(|| Layer::detect(bytes));
    let mut out = Inspection {
        layer,
        ethernet: None,
        ip: None,
        family: None,
        vrrp: None,
        repr: None,
        checksum_mode: None,
        checks: [Check {
            name: CheckName::Version,
            outcome: Outcome::Skipped,
        }; MAX_CHECKS],
        len: 0,
    };

    // Ethernet.
    let ip_bytes = match layer {
        Layer::Ethernet => match EthernetFrame::new_checked(bytes) {
            Ok(frame) => {
                out.ethernet = Some(frame);
                out.push(CheckName::Ethernet, Outcome::Pass);
                Some(frame.payload())
            }
            Err(e) => {
                out.push(
                    CheckName::Ethernet,
                    Outcome::Fail(Failure::Decode(DecodeError::Ethernet(e))),
                );
                return out;
            }
        },
        Layer::Ip => Some(bytes),
        Layer::Vrrp => None,
    };

    // IP. Behind Ethernet the IP version must be the one the EtherType names.
    let ip_parsed = ip_bytes.map(|b| {
        let header = IpHeader::new_checked(b)?;
        if let Some(frame) = out.ethernet {
            let expected = match header {
                IpHeader::V4(_) => crate::ip::ETHERTYPE_IPV4,
                IpHeader::V6(_) => crate::ip::ETHERTYPE_IPV6,
            };
            if frame.ethertype() != expected {
                return Err(IpHeaderError::Version(b.first().map_or(0, |v| v >> 4)));
            }
        }
        Ok(header)
    });
    let (vrrp_bytes, addrs) = match ip_parsed {
        Some(parsed) => match parsed {
            Ok(ip) => {
                out.ip = Some(ip);
                let family = AddressFamily::of(&ip.src());
                out.family = Some(family);
                let fragment = matches!(ip, IpHeader::V4(h) if h.is_fragment());
                out.push_result(
                    CheckName::IpHeader,
                    decode(if fragment {
                        Err(DecodeError::IpHeader(IpHeaderError::Fragment))
                    } else {
                        Ok(())
                    }),
                );
                if let IpHeader::V4(h) = ip {
                    out.push_result(
                        CheckName::Ipv4HeaderChecksum,
                        decode(if h.verify_header_checksum() {
                            Ok(())
                        } else {
                            Err(DecodeError::IpHeader(IpHeaderError::HeaderChecksum(
                                h.header_checksum(),
                            )))
                        }),
                    );
                }
                let proto = ip.protocol();
                out.push_result(
                    CheckName::Protocol,
                    decode(if proto == IP_PROTOCOL_VRRP {
                        Ok(())
                    } else {
                        Err(DecodeError::Protocol(proto))
                    }),
                );
                // RFC 9568 §7.1 / RFC 3768 §7.1: TTL / hop limit MUST be 255.
                let ttl = ip.ttl();
                out.push_result(
                    CheckName::Ttl,
                    decode(if ttl == 255 {
                        Ok(())
                    } else {
                        Err(DecodeError::Ttl(ttl))
                    }),
                );
                // RFC 9568 §5.1.2.1: the IPv6 source of a multicast advert is the sender's
                // link-local address. Unicast adverts (a keepalived extension) may come from a
                // global address, so the check applies to multicast destinations only.
                if let IpHeader::V6(h) = ip
                    && h.dst().is_multicast()
                {
                    out.push_result(
                        CheckName::SourceLinkLocal,
                        decode(if is_ipv6_link_local(&h.src()) {
                            Ok(())
                        } else {
                            Err(DecodeError::SourceNotLinkLocal)
                        }),
                    );
                }
                if proto != IP_PROTOCOL_VRRP {
                    return out;
                }
                (ip.payload(), Some((ip.src(), ip.dst())))
            }
            Err(e) => {
                out.push(
                    CheckName::IpHeader,
                    Outcome::Fail(Failure::Decode(DecodeError::IpHeader(e))),
                );
                return out;
            }
        },
        None => (bytes, None),
    };

    // VRRP header.
    let packet = match Packet::new_checked(vrrp_bytes) {
        Ok(p) => p,
        Err(e) => {
            out.push(CheckName::HeaderLength, Outcome::Fail(Failure::Decode(e)));
            return out;
        }
    };
    out.vrrp = Some(packet);
    out.push(CheckName::HeaderLength, Outcome::Pass);
    let family = match out.family {
        Some(f) => f,
        None => {
            // A bare message: infer the family from the length; fall back to IPv4 so that
            // the length check reports what is wrong.
            let f = packet.infer_family().unwrap_or(AddressFamily::Ipv4);
            out.family = Some(f);
            f
        }
    };
    for index in 0..STRUCTURE_CHECKS {
        if let (name, Some(r)) = structure_check(index, &packet, family) {
            out.push_result(name, decode(r));
        }
    }

    // Checksum: needs the IP addresses for every form but VRRPv2's, whose sum covers only
    // the message.
    match addrs {
        Some((src, dst)) => match packet.verify_checksum(src, dst) {
            Ok(mode) => {
                out.checksum_mode = Some(mode);
                out.push(CheckName::Checksum, Outcome::Pass);
            }
            Err(e) => out.push(CheckName::Checksum, Outcome::Fail(Failure::Decode(e))),
        },
        None if packet.version() == 2 => {
            let unspecified = IpAddr::from([0u8, 0, 0, 0]);
            match packet.verify_checksum(unspecified, unspecified) {
                Ok(mode) => {
                    out.checksum_mode = Some(mode);
                    out.push(CheckName::Checksum, Outcome::Pass);
                }
                Err(e) => out.push(CheckName::Checksum, Outcome::Fail(Failure::Decode(e))),
            }
        }
        // A bare VRRPv3 message: without the IP addresses only the message-only IPv4 form can
        // be verified; report it if it matches, skip otherwise.
        None => {
            let unspecified = IpAddr::from([0u8, 0, 0, 0]);
            let sum = packet.compute_checksum(ChecksumMode::MessageOnly, unspecified, unspecified);
            if family == AddressFamily::Ipv4 && sum == Some(packet.checksum()) {
                out.checksum_mode = Some(ChecksumMode::MessageOnly);
                out.push(CheckName::Checksum, Outcome::Pass);
            } else {
                out.push(CheckName::Checksum, Outcome::Skipped);
            }
        }
    }

    if vrrp_bytes.len() >= HEADER_LEN {
        out.repr = VrrpRepr::parse_structure(&packet, family).ok();
    }

    // Configuration checks (RFC 9568 §7.1 checks 5-7).
    if let Some(repr) = out.repr {
        if let Some(ours) = expect.version {
            out.push_result(
                CheckName::VersionConfigured,
                if ours == repr.version {
                    Ok(())
                } else {
                    Err(Failure::Mismatch(MismatchError::Version {
                        ours,
                        theirs: repr.version,
                    }))
                },
            );
        }
        if let Some(vrids) = expect.vrids {
            out.push_result(
                CheckName::VridConfigured,
                if vrids.contains(&repr.vrid) {
                    Ok(())
                } else {
                    Err(Failure::Mismatch(MismatchError::UnknownVrid(repr.vrid)))
                },
            );
        }
        if repr.version == Version::V2 {
            if let Some(ours) = expect.advert_interval {
                // RFC 3768 §7.1: a v2 interval different from ours is discarded.
                out.push_result(
                    CheckName::IntervalConfigured,
                    if ours == repr.advert_interval {
                        Ok(())
                    } else {
                        Err(Failure::Mismatch(MismatchError::Interval {
                            ours_cs: ours.as_centis(),
                            theirs_cs: repr.advert_interval.as_centis(),
                        }))
                    },
                );
            }
            if let Some(ours) = expect.auth {
                out.push_result(
                    CheckName::AuthConfigured,
                    check_auth(&ours, &repr.auth).map_err(Failure::Mismatch),
                );
            }
        }
    }
    out
}

/// RFC 3768 §7.1 (RFC 2338 §7.1 for the simple password): the auth type must equal ours, and
/// for type 1 the password must match.
pub fn check_auth(ours: &Auth, theirs: &Auth) -> Result<(), MismatchError> {
    match (ours, theirs) {
        (Auth::None, Auth::None) => Ok(()),
        (Auth::SimplePassword(a), Auth::SimplePassword(b)) => {
            if a == b {
                Ok(())
            } else {
                Err(MismatchError::Password)
            }
        }
        _ => Err(MismatchError::AuthType {
            ours: ours.type_number(),
            theirs: theirs.type_number(),
        }),
    }
}
