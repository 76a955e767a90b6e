//! Hand-written messages in the formats of RFC 3768 §5.1 (VRRPv2) and RFC 9568 §5.1 (VRRPv3),
//! with checksums computed independently of this crate (by hand / a separate script), parsed
//! and emitted byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vrrp_packet::{
    AddressFamily, AddressList, Auth, ChecksumContext, ChecksumMode, DecodeError, Interval, Packet,
    Version, VrrpRepr,
};

const SRC4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
const GROUP4: IpAddr = IpAddr::V4(vrrp_packet::MULTICAST_V4);

/// VRRPv2, no authentication: VRID 1, priority 100, 1 address, Adver Int 1 s.
#[rustfmt::skip]
const V2_NONE: [u8; 20] = [
    0x21, 0x01, 0x64, 0x01, // version 2, type 1, VRID 1, priority 100, count 1
    0x00, 0x01, 0xb8, 0xfa, // auth type 0, adver int 1, checksum 0xb8fa
    192, 0, 2, 1,           // 192.0.2.1
    0, 0, 0, 0, 0, 0, 0, 0, // authentication data
];

/// VRRPv2, simple password "secret": VRID 10, priority 200, 2 addresses, Adver Int 3 s.
#[rustfmt::skip]
const V2_PASS: [u8; 24] = [
    0x21, 0x0a, 0xc8, 0x02,
    0x01, 0x03, 0x55, 0x9f, // auth type 1, adver int 3, checksum 0x559f
    192, 0, 2, 1,
    192, 0, 2, 2,
    b's', b'e', b'c', b'r', b'e', b't', 0, 0,
];

/// VRRPv3 over IPv4 from 192.0.2.11 to 224.0.0.18: VRID 51, priority 100, 1 s, 192.0.2.100,
/// checksum with the IPv4 pseudo-header (0x0568).
#[rustfmt::skip]
const V3_V4_PSEUDO: [u8; 12] = [
    0x31, 0x33, 0x64, 0x01,
    0x00, 0x64, 0x05, 0x68, // reserved 0, Max Adver Int 100 cs, checksum 0x0568
    192, 0, 2, 100,
];

/// The same message with the checksum over the message only (0xa802).
#[rustfmt::skip]
const V3_V4_MESSAGE_ONLY: [u8; 12] = [
    0x31, 0x33, 0x64, 0x01,
    0x00, 0x64, 0xa8, 0x02,
    192, 0, 2, 100,
];

/// VRRPv3 over IPv6 from fe80::11 to ff02::12: VRID 1, priority 255 (owner), 1 s,
/// fe80::1 and 2001:db8::1, checksum with the IPv6 pseudo-header (0xa51c).
#[rustfmt::skip]
const V3_V6: [u8; 40] = [
    0x31, 0x01, 0xff, 0x02,
    0x00, 0x64, 0xa5, 0x1c,
    0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
];

fn src6() -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x11))
}

fn group6() -> IpAddr {
    IpAddr::V6(vrrp_packet::MULTICAST_V6)
}

fn emit(repr: &VrrpRepr<'_>, src: IpAddr, dst: IpAddr, mode: ChecksumMode) -> Vec<u8> {
    let mut buf = vec![0xaa; repr.buffer_len() + 4];
    let len = repr
        .emit(&mut buf, &ChecksumContext { src, dst, mode })
        .unwrap();
    assert_eq!(len, repr.buffer_len());
    assert!(
        buf[len..].iter().all(|b| *b == 0xaa),
        "emit wrote past its length"
    );
    buf.truncate(len);
    buf
}

#[test]
fn v2_no_auth() {
    let (repr, mode) = VrrpRepr::decode(&V2_NONE, SRC4, GROUP4).unwrap();
    assert_eq!(mode, ChecksumMode::MessageOnly);
    assert_eq!(repr.version, Version::V2);
    assert_eq!(repr.vrid, 1);
    assert_eq!(repr.priority, 100);
    assert_eq!(repr.advert_interval, Interval::from_secs(1));
    assert_eq!(repr.advert_interval.as_millis(), 1000);
    assert_eq!(repr.auth, Auth::None);
    assert_eq!(
        repr.addresses.iter().collect::<Vec<_>>(),
        [IpAddr::from([192, 0, 2, 1])]
    );
    let packet = Packet::new_checked(&V2_NONE[..]).unwrap();
    assert_eq!(packet.auth_type_v2(), 0);
    assert_eq!(packet.advert_interval_v2(), 1);
    assert_eq!(packet.auth_data(), Some([0; 8]));
    // The VRRPv2 checksum does not depend on the IP addresses.
    let other = IpAddr::from([203, 0, 113, 9]);
    assert!(VrrpRepr::decode(&V2_NONE, other, other).is_ok());

    assert_eq!(
        emit(&repr, SRC4, GROUP4, ChecksumMode::PseudoHeader),
        V2_NONE
    );
    assert_eq!(
        repr.to_string(),
        "VRRPv2 advert vrid 1 prio 100 intvl 1s addrs 1 [192.0.2.1]"
    );
}

#[test]
fn v2_simple_password() {
    let (repr, mode) = VrrpRepr::decode(&V2_PASS, SRC4, GROUP4).unwrap();
    assert_eq!(mode, ChecksumMode::MessageOnly);
    assert_eq!(repr.vrid, 10);
    assert_eq!(repr.priority, 200);
    assert_eq!(repr.advert_interval, Interval::from_secs(3));
    assert_eq!(repr.auth, Auth::simple_password("secret"));
    assert_eq!(repr.auth, Auth::SimplePassword(*b"secret\0\0"));
    assert_eq!(repr.addresses.len(), 2);
    assert_eq!(repr.addresses.get(1), Some(IpAddr::from([192, 0, 2, 2])));
    assert_eq!(repr.addresses.get(2), None);
    assert_eq!(
        emit(&repr, SRC4, GROUP4, ChecksumMode::MessageOnly),
        V2_PASS
    );
    assert_eq!(
        repr.to_string(),
        "VRRPv2 advert vrid 10 prio 200 intvl 3s auth simple \"secret\" addrs 2 [192.0.2.1, 192.0.2.2]"
    );
}

#[test]
fn v3_ipv4_both_checksum_forms() {
    let src = IpAddr::from([192, 0, 2, 11]);
    let (pseudo, mode) = VrrpRepr::decode(&V3_V4_PSEUDO, src, GROUP4).unwrap();
    assert_eq!(mode, ChecksumMode::PseudoHeader);
    let (message_only, mode) = VrrpRepr::decode(&V3_V4_MESSAGE_ONLY, src, GROUP4).unwrap();
    assert_eq!(mode, ChecksumMode::MessageOnly);
    assert_eq!(pseudo, message_only);
    assert_eq!(pseudo.version, Version::V3);
    assert_eq!(pseudo.vrid, 51);
    assert_eq!(pseudo.advert_interval, Interval::from_centis(100));
    assert_eq!(pseudo.auth, Auth::None);

    assert_eq!(
        emit(&pseudo, src, GROUP4, ChecksumMode::PseudoHeader),
        V3_V4_PSEUDO
    );
    assert_eq!(
        emit(&pseudo, src, GROUP4, ChecksumMode::MessageOnly),
        V3_V4_MESSAGE_ONLY
    );

    // The pseudo-header form depends on the addresses: from another source it is wrong.
    let other = IpAddr::from([192, 0, 2, 12]);
    assert_eq!(
        VrrpRepr::decode(&V3_V4_PSEUDO, other, GROUP4),
        Err(DecodeError::Checksum {
            found: 0x0568,
            expected: Packet::new_checked(&V3_V4_PSEUDO[..])
                .unwrap()
                .compute_checksum(ChecksumMode::PseudoHeader, other, GROUP4)
                .unwrap(),
        })
    );
    // The message-only form does not.
    assert!(VrrpRepr::decode(&V3_V4_MESSAGE_ONLY, other, GROUP4).is_ok());
}

#[test]
fn v3_reserved_bits_are_ignored_on_receipt_and_zero_on_send() {
    // RFC 9568 §5.2.6: reserved bits set by the sender are ignored.
    let mut msg = V3_V4_MESSAGE_ONLY;
    msg[4] |= 0xf0;
    // Recompute the message-only checksum over the changed word.
    let packet = Packet::new_checked(&msg[..]).unwrap();
    let sum = packet
        .compute_checksum(ChecksumMode::MessageOnly, SRC4, GROUP4)
        .unwrap();
    msg[6..8].copy_from_slice(&sum.to_be_bytes());
    let packet = Packet::new_checked(&msg[..]).unwrap();
    assert_eq!(packet.reserved_v3(), 0xf);
    assert_eq!(packet.max_advert_interval_v3(), 100);
    let (repr, _) = VrrpRepr::decode(&msg, SRC4, GROUP4).unwrap();
    assert_eq!(repr.advert_interval, Interval::from_centis(100));
    let out = emit(&repr, SRC4, GROUP4, ChecksumMode::MessageOnly);
    assert_eq!(out, V3_V4_MESSAGE_ONLY);
}

#[test]
fn v3_max_interval_uses_all_12_bits() {
    let addrs = [Ipv4Addr::new(192, 0, 2, 1)];
    let repr = VrrpRepr {
        version: Version::V3,
        vrid: 1,
        priority: 1,
        advert_interval: Interval::MAX_V3,
        auth: Auth::None,
        addresses: AddressList::ipv4(&addrs),
    };
    let out = emit(&repr, SRC4, GROUP4, ChecksumMode::PseudoHeader);
    assert_eq!(&out[4..6], &[0x0f, 0xff]);
    let (back, _) = VrrpRepr::decode(&out, SRC4, GROUP4).unwrap();
    assert_eq!(back.advert_interval.as_millis(), 40_950);
}

#[test]
fn v3_ipv6() {
    let (repr, mode) = VrrpRepr::decode(&V3_V6, src6(), group6()).unwrap();
    assert_eq!(mode, ChecksumMode::PseudoHeader);
    assert_eq!(repr.version, Version::V3);
    assert_eq!(repr.vrid, 1);
    assert_eq!(repr.priority, 255);
    assert_eq!(repr.addresses.family(), AddressFamily::Ipv6);
    assert_eq!(
        repr.addresses.iter().collect::<Vec<_>>(),
        [
            IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)),
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        ]
    );
    // Asking for the message-only form changes nothing for IPv6: the pseudo-header is
    // mandatory there.
    assert_eq!(
        emit(&repr, src6(), group6(), ChecksumMode::MessageOnly),
        V3_V6
    );
    assert_eq!(
        emit(&repr, src6(), group6(), ChecksumMode::PseudoHeader),
        V3_V6
    );
    // Typed address lists emit the same bytes as wire lists.
    let typed = [
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1),
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
    ];
    let built = VrrpRepr {
        addresses: AddressList::ipv6(&typed),
        ..repr
    };
    assert_eq!(built, repr);
    assert_eq!(
        emit(&built, src6(), group6(), ChecksumMode::PseudoHeader),
        V3_V6
    );
}

#[test]
fn packet_setters_build_the_rfc_message() {
    let mut buf = [0u8; 12];
    let mut p = Packet::new_unchecked(&mut buf[..]);
    p.set_version_type(3, 1);
    p.set_vrid(51);
    p.set_priority(100);
    p.set_count(1);
    p.set_max_advert_interval_v3(100);
    buf[8..12].copy_from_slice(&[192, 0, 2, 100]);
    let mut p = Packet::new_unchecked(&mut buf[..]);
    let mode = p
        .fill_checksum(
            ChecksumMode::PseudoHeader,
            IpAddr::from([192, 0, 2, 11]),
            GROUP4,
        )
        .unwrap();
    assert_eq!(mode, ChecksumMode::PseudoHeader);
    assert_eq!(buf, V3_V4_PSEUDO);

    let mut v2 = [0u8; 20];
    let mut p = Packet::new_unchecked(&mut v2[..]);
    p.set_version_type(2, 1);
    p.set_vrid(1);
    p.set_priority(100);
    p.set_count(1);
    p.set_auth_type_v2(0);
    p.set_advert_interval_v2(1);
    p.set_checksum(0xb8fa);
    v2[8..12].copy_from_slice(&[192, 0, 2, 1]);
    assert_eq!(v2, V2_NONE);

    // Setters on a short buffer write what fits and never panic.
    let mut short = [0u8; 3];
    let mut p = Packet::new_unchecked(&mut short[..]);
    p.set_checksum(0xffff);
    p.set_count(9);
    p.set_max_advert_interval_v3(5);
    p.set_priority(7);
    assert_eq!(short, [0, 0, 7]);
}

#[test]
fn packet_display_works_on_valid_and_broken_messages() {
    let p = Packet::new_unchecked(&V3_V4_PSEUDO[..]);
    assert_eq!(
        p.to_string(),
        "VRRP version 3 type 1 vrid 51 prio 100 count 1 intvl 100cs cksum 0x0568 len 12 [192.0.2.100]"
    );
    let p = Packet::new_unchecked(&V2_PASS[..20]);
    assert_eq!(
        p.to_string(),
        "VRRP version 2 type 1 vrid 10 prio 200 count 2 auth 1 intvl 3s cksum 0x559f len 20 [192.0.2.1, 192.0.2.2]"
    );
    let p = Packet::new_unchecked(&V2_PASS[..10]);
    assert!(p.to_string().ends_with("[addresses incomplete]"), "{p}");
    assert_eq!(
        Packet::new_unchecked(&V2_PASS[..3]).to_string(),
        "VRRP truncated (3 bytes)"
    );
}

#[test]
fn emit_refuses_what_cannot_be_encoded() {
    use vrrp_packet::EmitError;
    let addrs = [Ipv4Addr::new(192, 0, 2, 1)];
    let base = VrrpRepr {
        version: Version::V3,
        vrid: 1,
        priority: 100,
        advert_interval: Interval::DEFAULT,
        auth: Auth::None,
        addresses: AddressList::ipv4(&addrs),
    };
    let ctx = ChecksumContext {
        src: SRC4,
        dst: GROUP4,
        mode: ChecksumMode::PseudoHeader,
    };
    let mut buf = [0u8; 64];
    let err = |r: VrrpRepr<'_>, buf: &mut [u8]| r.emit(buf, &ctx).unwrap_err();
    assert_eq!(
        err(VrrpRepr { vrid: 0, ..base }, &mut buf),
        EmitError::VridZero
    );
    assert_eq!(
        err(
            VrrpRepr {
                addresses: AddressList::ipv4(&[]),
                ..base
            },
            &mut buf
        ),
        EmitError::AddressCount(0)
    );
    let many = [Ipv4Addr::new(192, 0, 2, 1); 256];
    assert_eq!(
        err(
            VrrpRepr {
                addresses: AddressList::ipv4(&many),
                ..base
            },
            &mut [0u8; 2048]
        ),
        EmitError::AddressCount(256)
    );
    for centis in [0, 4096] {
        assert_eq!(
            err(
                VrrpRepr {
                    advert_interval: Interval::from_centis(centis),
                    ..base
                },
                &mut buf
            ),
            EmitError::Interval {
                centis,
                version: Version::V3
            }
        );
    }
    for centis in [0, 150, 25_600] {
        assert_eq!(
            err(
                VrrpRepr {
                    version: Version::V2,
                    advert_interval: Interval::from_centis(centis),
                    ..base
                },
                &mut buf
            ),
            EmitError::Interval {
                centis,
                version: Version::V2
            }
        );
    }
    assert!(matches!(
        err(
            VrrpRepr {
                auth: Auth::simple_password("x"),
                ..base
            },
            &mut buf
        ),
        EmitError::Unsupported(_)
    ));
    let v6 = [Ipv6Addr::LOCALHOST];
    assert!(matches!(
        err(
            VrrpRepr {
                version: Version::V2,
                addresses: AddressList::ipv6(&v6),
                ..base
            },
            &mut buf
        ),
        EmitError::Unsupported(_)
    ));
    assert_eq!(
        err(
            VrrpRepr {
                addresses: AddressList::ipv6(&v6),
                ..base
            },
            &mut buf
        ),
        EmitError::FamilyMismatch
    );
    assert_eq!(
        err(base, &mut buf[..11]),
        EmitError::BufferTooSmall {
            needed: 12,
            len: 11
        }
    );
    // Every error has a message.
    assert!(!EmitError::FamilyMismatch.to_string().is_empty());
}
