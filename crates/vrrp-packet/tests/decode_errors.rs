//! Every discard reason is reachable, reported by the right check, with the offending value and
//! the right counter. Frames are the captured keepalived ones, mutated one field at a time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

mod common;

use std::net::{IpAddr, Ipv6Addr};

use common::vector;
use vrrp_packet::{
    Auth, CheckName, DecodeError, EthernetError, Expectations, Failure, IpHeaderError, Layer,
    MismatchError, Outcome, Packet, Version, VrrpRepr, check_auth, inspect,
};

const GROUP4: IpAddr = IpAddr::V4(vrrp_packet::MULTICAST_V4);
const SRC4: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 11));

/// The v3 IPv4 keepalived frame (14 + 20 + 20 bytes; VRRP at 34).
fn v3_frame() -> Vec<u8> {
    vector("v3-ipv4-50ms")
}

/// Recomputes the IPv4 header checksum of a frame (IP header at 14, IHL 5).
fn fix_ipv4_header(frame: &mut [u8]) {
    frame[24] = 0;
    frame[25] = 0;
    let mut sum: u32 = frame[14..34]
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    frame[24..26].copy_from_slice(&(!(sum as u16)).to_be_bytes());
}

/// Recomputes the VRRP checksum of a v3-over-IPv4 frame (pseudo-header form).
fn fix_vrrp_checksum(frame: &mut [u8]) {
    let ip = vrrp_packet::ip::Ipv4Header::new_checked(&frame[14..]).unwrap();
    let (src, dst) = (IpAddr::V4(ip.src()), IpAddr::V4(ip.dst()));
    let end = 14 + ip.total_len();
    let sum = Packet::new_unchecked(&frame[34..end])
        .compute_checksum(vrrp_packet::ChecksumMode::PseudoHeader, src, dst)
        .unwrap();
    frame[40..42].copy_from_slice(&sum.to_be_bytes());
}

/// The failed checks of an inspection, in order.
fn failures(bytes: &[u8], layer: Option<Layer>) -> Vec<(CheckName, Failure)> {
    inspect(bytes, layer, &Expectations::default())
        .checks()
        .iter()
        .filter_map(|c| match c.outcome {
            Outcome::Fail(f) => Some((c.name, f)),
            _ => None,
        })
        .collect()
}

fn only_failure(bytes: &[u8], layer: Option<Layer>) -> (CheckName, DecodeError) {
    let f = failures(bytes, layer);
    assert_eq!(f.len(), 1, "expected exactly one failure, got {f:?}");
    match f[0] {
        (name, Failure::Decode(e)) => (name, e),
        other => panic!("not a decode failure: {other:?}"),
    }
}

/// A VRRP message of the v3 frame with one byte changed and the checksum fixed, parsed.
fn parse_mutated(offset: usize, value: u8) -> Result<(), DecodeError> {
    let mut frame = v3_frame();
    frame[34 + offset] = value;
    fix_vrrp_checksum(&mut frame);
    VrrpRepr::decode(&frame[34..], SRC4, GROUP4).map(|_| ())
}

#[test]
fn truncated() {
    for len in 0..8 {
        let msg = [0x31u8; 8];
        assert_eq!(
            VrrpRepr::decode(&msg[..len], SRC4, GROUP4),
            Err(DecodeError::Truncated { len })
        );
        assert_eq!(
            Packet::new_checked(&msg[..len]),
            Err(DecodeError::Truncated { len })
        );
    }
    let e = DecodeError::Truncated { len: 3 };
    assert_eq!(e.counter(), "packet_length_errors");
    // In a frame: the IP payload is shorter than a VRRP header.
    let mut frame = v3_frame();
    frame.truncate(34 + 6);
    frame[16..18].copy_from_slice(&26u16.to_be_bytes());
    fix_ipv4_header(&mut frame);
    assert_eq!(
        only_failure(&frame, None),
        (CheckName::HeaderLength, DecodeError::Truncated { len: 6 })
    );
}

#[test]
fn version() {
    for v in [0u8, 1, 4, 15] {
        assert_eq!(parse_mutated(0, (v << 4) | 1), Err(DecodeError::Version(v)));
    }
    assert_eq!(DecodeError::Version(4).counter(), "version_errors");
}

#[test]
fn msg_type() {
    for t in [0u8, 2, 15] {
        assert_eq!(parse_mutated(0, 0x30 | t), Err(DecodeError::Type(t)));
    }
    assert_eq!(DecodeError::Type(2).counter(), "invalid_type");
}

#[test]
fn vrid_zero() {
    assert_eq!(parse_mutated(1, 0), Err(DecodeError::VridZero));
    assert_eq!(DecodeError::VridZero.counter(), "vrid_errors");
}

#[test]
fn address_count_zero() {
    // RFC 9568 erratum 8299: Count 0 is discarded (checked before the length).
    assert_eq!(parse_mutated(3, 0), Err(DecodeError::AddressCountZero));
    assert_eq!(
        DecodeError::AddressCountZero.counter(),
        "address_list_errors"
    );
}

#[test]
fn length() {
    // Count says 4, 3 are present.
    assert_eq!(
        parse_mutated(3, 4),
        Err(DecodeError::Length {
            expected: 24,
            actual: 20,
            count: 4
        })
    );
    // Count says 2, 3 are present: trailing bytes are refused too.
    assert_eq!(
        parse_mutated(3, 2),
        Err(DecodeError::Length {
            expected: 16,
            actual: 20,
            count: 2
        })
    );
    // VRRPv2 without its 8 authentication bytes.
    let frame = vector("v2-noauth");
    assert_eq!(
        VrrpRepr::decode(&frame[34..46], SRC4, GROUP4),
        Err(DecodeError::Length {
            expected: 20,
            actual: 12,
            count: 1
        })
    );
    assert_eq!(
        DecodeError::Length {
            expected: 1,
            actual: 2,
            count: 3
        }
        .counter(),
        "packet_length_errors"
    );
}

#[test]
fn interval_zero() {
    // RFC 9568 erratum 8301. v3: both bytes of Max Adver Int zero; reserved bits don't count.
    let mut frame = v3_frame();
    frame[38] = 0xf0;
    frame[39] = 0;
    fix_vrrp_checksum(&mut frame);
    assert_eq!(
        VrrpRepr::decode(&frame[34..], SRC4, GROUP4),
        Err(DecodeError::IntervalZero)
    );
    // v2: Adver Int 0.
    let mut v2 = vector("v2-noauth")[34..].to_vec();
    v2[5] = 0;
    assert_eq!(
        VrrpRepr::parse_structure(
            &Packet::new_checked(&v2[..]).unwrap(),
            vrrp_packet::AddressFamily::Ipv4
        ),
        Err(DecodeError::IntervalZero)
    );
    assert_eq!(DecodeError::IntervalZero.counter(), "interval_errors");
}

#[test]
fn auth_type() {
    // RFC 3768 §5.3.6: type 2 (IP AH) is no longer defined; others never were.
    for t in [2u8, 3, 255] {
        let mut v2 = vector("v2-noauth")[34..].to_vec();
        v2[4] = t;
        assert_eq!(
            VrrpRepr::parse_structure(
                &Packet::new_checked(&v2[..]).unwrap(),
                vrrp_packet::AddressFamily::Ipv4
            ),
            Err(DecodeError::AuthType(t))
        );
    }
    assert_eq!(DecodeError::AuthType(2).counter(), "auth_errors");
}

#[test]
fn v2_over_ipv6() {
    let v2 = &vector("v2-noauth")[34..];
    let src = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
    let dst = IpAddr::V6(vrrp_packet::MULTICAST_V6);
    assert_eq!(VrrpRepr::decode(v2, src, dst), Err(DecodeError::V2OverIpv6));
    assert_eq!(DecodeError::V2OverIpv6.counter(), "version_errors");
}

#[test]
fn checksum() {
    let mut frame = v3_frame();
    frame[40] ^= 0x01;
    let found = u16::from_be_bytes([frame[40], frame[41]]);
    assert_eq!(
        VrrpRepr::decode(&frame[34..], SRC4, GROUP4),
        Err(DecodeError::Checksum {
            found,
            expected: 0x4eee
        })
    );
    assert_eq!(
        only_failure(&frame, None),
        (
            CheckName::Checksum,
            DecodeError::Checksum {
                found,
                expected: 0x4eee
            }
        )
    );
    // A corrupted address is caught by the checksum too.
    let mut frame = v3_frame();
    frame[45] ^= 0x80;
    assert_eq!(only_failure(&frame, None).0, CheckName::Checksum);
    assert_eq!(
        DecodeError::Checksum {
            found: 0,
            expected: 1
        }
        .counter(),
        "checksum_errors"
    );
}

#[test]
fn ttl() {
    // RFC 9568 §7.1: a packet whose TTL is not 255 may have been forwarded.
    let mut frame = v3_frame();
    frame[22] = 64;
    fix_ipv4_header(&mut frame);
    assert_eq!(
        only_failure(&frame, None),
        (CheckName::Ttl, DecodeError::Ttl(64))
    );
    // IPv6 hop limit (no header checksum there).
    let mut frame = vector("v3-ipv6");
    frame[21] = 1;
    assert_eq!(
        only_failure(&frame, None),
        (CheckName::Ttl, DecodeError::Ttl(1))
    );
    assert_eq!(DecodeError::Ttl(1).counter(), "ttl_errors");
}

#[test]
fn protocol() {
    let mut frame = v3_frame();
    frame[23] = 17;
    fix_ipv4_header(&mut frame);
    assert_eq!(
        only_failure(&frame, None),
        (CheckName::Protocol, DecodeError::Protocol(17))
    );
    let report = inspect(&frame, None, &Expectations::default());
    assert!(report.vrrp.is_none(), "not VRRP: the payload is not read");
    assert_eq!(DecodeError::Protocol(17).counter(), "ip_errors");
}

#[test]
fn source_not_link_local() {
    let mut frame = vector("v3-ipv6");
    // Source 2001:db8::11 instead of fe80::ff:fe00:11; fix the VRRP checksum for it.
    frame[22..38].copy_from_slice(&Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x11).octets());
    let ip = vrrp_packet::ip::Ipv6Header::new_checked(&frame[14..]).unwrap();
    let sum = Packet::new_unchecked(&frame[54..])
        .compute_checksum(
            vrrp_packet::ChecksumMode::PseudoHeader,
            IpAddr::V6(ip.src()),
            IpAddr::V6(ip.dst()),
        )
        .unwrap();
    frame[60..62].copy_from_slice(&sum.to_be_bytes());
    assert_eq!(
        only_failure(&frame, None),
        (CheckName::SourceLinkLocal, DecodeError::SourceNotLinkLocal)
    );
    assert_eq!(DecodeError::SourceNotLinkLocal.counter(), "source_errors");
}

#[test]
fn ip_header_errors() {
    let ip_err = |frame: &[u8]| match only_failure(frame, Some(Layer::Ethernet)) {
        (CheckName::IpHeader | CheckName::Ipv4HeaderChecksum, DecodeError::IpHeader(e)) => e,
        other => panic!("{other:?}"),
    };
    // Truncated: fewer than 20 bytes after the Ethernet header.
    let frame = v3_frame();
    assert_eq!(
        ip_err(&frame[..14 + 19]),
        IpHeaderError::Truncated { len: 19 }
    );
    // Version: EtherType IPv4 but version nibble 5.
    let mut f = v3_frame();
    f[14] = 0x55;
    assert_eq!(ip_err(&f), IpHeaderError::Version(5));
    // Version: EtherType IPv6 but an IPv4 header behind it.
    let mut f = v3_frame();
    f[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
    f.extend_from_slice(&[0u8; 40]);
    assert_eq!(ip_err(&f), IpHeaderError::Version(4));
    // Header length below 5 words, and beyond the buffer.
    let mut f = v3_frame();
    f[14] = 0x44;
    assert_eq!(ip_err(&f), IpHeaderError::HeaderLength { ihl: 4, len: 40 });
    let mut f = v3_frame();
    f.truncate(14 + 24);
    f[14] = 0x4f;
    assert_eq!(ip_err(&f), IpHeaderError::HeaderLength { ihl: 15, len: 24 });
    // Total length beyond the bytes, or shorter than the header.
    let mut f = v3_frame();
    f[16..18].copy_from_slice(&41u16.to_be_bytes());
    assert_eq!(
        ip_err(&f),
        IpHeaderError::TotalLength {
            declared: 41,
            len: 40
        }
    );
    let mut f = v3_frame();
    f[16..18].copy_from_slice(&19u16.to_be_bytes());
    assert_eq!(
        ip_err(&f),
        IpHeaderError::TotalLength {
            declared: 19,
            len: 40
        }
    );
    // IPv6 payload length beyond the bytes.
    let mut f = vector("v3-ipv6");
    f[18..20].copy_from_slice(&41u16.to_be_bytes());
    assert_eq!(
        ip_err(&f),
        IpHeaderError::TotalLength {
            declared: 81,
            len: 80
        }
    );
    // Header checksum.
    let mut f = v3_frame();
    f[24] ^= 0xff;
    let found = u16::from_be_bytes([f[24], f[25]]);
    assert_eq!(ip_err(&f), IpHeaderError::HeaderChecksum(found));
    // A fragment (MF set).
    let mut f = v3_frame();
    f[20] = 0x20;
    fix_ipv4_header(&mut f);
    assert_eq!(ip_err(&f), IpHeaderError::Fragment);
    assert_eq!(
        DecodeError::IpHeader(IpHeaderError::Fragment).counter(),
        "ip_errors"
    );
}

#[test]
fn ethernet_errors() {
    let frame = v3_frame();
    assert_eq!(
        only_failure(&frame[..13], Some(Layer::Ethernet)),
        (
            CheckName::Ethernet,
            DecodeError::Ethernet(EthernetError::Truncated { len: 13 })
        )
    );
    let mut f = frame.clone();
    f[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
    assert_eq!(
        only_failure(&f, Some(Layer::Ethernet)),
        (
            CheckName::Ethernet,
            DecodeError::Ethernet(EthernetError::EtherType(0x0806))
        )
    );
    // An 802.1Q tag cut short.
    let mut f = frame[..16].to_vec();
    f[12..14].copy_from_slice(&0x8100u16.to_be_bytes());
    assert_eq!(
        only_failure(&f, Some(Layer::Ethernet)),
        (
            CheckName::Ethernet,
            DecodeError::Ethernet(EthernetError::Truncated { len: 16 })
        )
    );
    assert_eq!(
        DecodeError::Ethernet(EthernetError::EtherType(0)).counter(),
        "ip_errors"
    );
}

#[test]
fn vlan_tagged_and_padded_frames_are_accepted() {
    let frame = v3_frame();
    let mut tagged = frame[..12].to_vec();
    tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x07]);
    tagged.extend_from_slice(&frame[12..]);
    // Ethernet padding after the IP packet is not part of the message.
    tagged.extend_from_slice(&[0u8; 6]);
    let report = inspect(&tagged, None, &Expectations::default());
    assert_eq!(report.layer, Layer::Ethernet);
    assert!(report.is_valid(), "{:?}", report.first_failure());
    assert_eq!(report.repr.unwrap().vrid, 53);
}

#[test]
fn several_failures_are_all_named() {
    let mut frame = v3_frame();
    frame[22] = 1; // TTL
    fix_ipv4_header(&mut frame);
    frame[34] = 0x32; // type 2
    frame[35] = 0; // VRID 0
    let names: Vec<_> = failures(&frame, None).iter().map(|f| f.0).collect();
    assert_eq!(
        names,
        [
            CheckName::Ttl,
            CheckName::Type,
            CheckName::Vrid,
            CheckName::Checksum
        ]
    );
    let report = inspect(&frame, None, &Expectations::default());
    assert_eq!(
        report.first_failure().map(|f| f.0),
        Some(CheckName::Ttl),
        "the first failure is the one a receiver discards for"
    );
    assert!(report.repr.is_none());
}

#[test]
fn mismatch_errors_and_counters() {
    assert_eq!(check_auth(&Auth::None, &Auth::None), Ok(()));
    assert_eq!(
        check_auth(&Auth::simple_password("a"), &Auth::simple_password("a")),
        Ok(())
    );
    assert_eq!(
        check_auth(&Auth::simple_password("a"), &Auth::simple_password("b")),
        Err(MismatchError::Password)
    );
    assert_eq!(
        check_auth(&Auth::None, &Auth::simple_password("b")),
        Err(MismatchError::AuthType { ours: 0, theirs: 1 })
    );
    // keepalived keeps the first 8 bytes of a longer password, and so do we.
    assert_eq!(
        Auth::simple_password("123456789"),
        Auth::simple_password("12345678")
    );
    let cases = [
        (MismatchError::UnknownVrid(9), "vrid_errors"),
        (
            MismatchError::Version {
                ours: Version::V3,
                theirs: Version::V2,
            },
            "version_errors",
        ),
        (
            MismatchError::Interval {
                ours_cs: 100,
                theirs_cs: 200,
            },
            "interval_errors",
        ),
        (
            MismatchError::AuthType { ours: 1, theirs: 0 },
            "auth_errors",
        ),
        (MismatchError::Password, "auth_errors"),
    ];
    for (e, counter) in cases {
        assert_eq!(e.counter(), counter);
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn every_decode_error_has_a_message_and_is_small() {
    assert!(std::mem::size_of::<DecodeError>() <= 32);
    let all = [
        DecodeError::Truncated { len: 1 },
        DecodeError::Version(4),
        DecodeError::Type(2),
        DecodeError::VridZero,
        DecodeError::AddressCountZero,
        DecodeError::Length {
            expected: 1,
            actual: 2,
            count: 3,
        },
        DecodeError::IntervalZero,
        DecodeError::AuthType(2),
        DecodeError::V2OverIpv6,
        DecodeError::Checksum {
            found: 1,
            expected: 2,
        },
        DecodeError::Ttl(1),
        DecodeError::Protocol(6),
        DecodeError::IpHeader(IpHeaderError::Fragment),
        DecodeError::Ethernet(EthernetError::EtherType(0x0806)),
        DecodeError::SourceNotLinkLocal,
    ];
    for e in all {
        let copy = e;
        assert_eq!(copy, e);
        assert!(!e.to_string().is_empty());
        assert!(!e.counter().is_empty());
    }
}
