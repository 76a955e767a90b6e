//! Frames captured from keepalived 2.2.7 (see tests/vectors/README.md): every field decoded,
//! every receive check passed, and our encoder reproduces keepalived's bytes exactly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use common::vector;
use vrrp_packet::ip::{EthernetFrame, IpHeader};
use vrrp_packet::{
    AddressFamily, Auth, CheckName, ChecksumContext, ChecksumMode, Expectations, Interval, Layer,
    Outcome, Version, VrrpRepr, inspect,
};

const HOST_A_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x11];
const HOST_B_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x12];
const HOST_A_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);

/// What a vector must decode to.
struct Expected {
    name: &'static str,
    dst_mac: [u8; 6],
    src: IpAddr,
    dst: IpAddr,
    version: Version,
    vrid: u8,
    interval: Interval,
    auth: Auth,
    checksum: u16,
    mode: ChecksumMode,
    addresses: Vec<IpAddr>,
}

fn v4(a: [u8; 4]) -> IpAddr {
    IpAddr::from(a)
}

fn expected() -> Vec<Expected> {
    let group4 = IpAddr::V4(vrrp_packet::MULTICAST_V4);
    vec![
        Expected {
            name: "v2-noauth",
            dst_mac: [0x01, 0x00, 0x5e, 0, 0, 0x12],
            src: IpAddr::V4(HOST_A_V4),
            dst: group4,
            version: Version::V2,
            vrid: 51,
            interval: Interval::from_secs(1),
            auth: Auth::None,
            checksum: 0x8665,
            mode: ChecksumMode::MessageOnly,
            addresses: vec![v4([192, 0, 2, 100])],
        },
        Expected {
            name: "v2-pass",
            dst_mac: [0x01, 0x00, 0x5e, 0, 0, 0x12],
            src: IpAddr::V4(HOST_A_V4),
            dst: group4,
            version: Version::V2,
            vrid: 52,
            interval: Interval::from_secs(1),
            auth: Auth::SimplePassword(*b"1234abcd"),
            checksum: 0x99d0,
            mode: ChecksumMode::MessageOnly,
            addresses: vec![v4([192, 0, 2, 100]), v4([192, 0, 2, 101])],
        },
        Expected {
            name: "v3-ipv4-50ms",
            dst_mac: [0x01, 0x00, 0x5e, 0, 0, 0x12],
            src: IpAddr::V4(HOST_A_V4),
            dst: group4,
            version: Version::V3,
            vrid: 53,
            interval: Interval::from_centis(5),
            auth: Auth::None,
            checksum: 0x4eee,
            // keepalived 2.2.7 includes the IPv4 pseudo-header.
            mode: ChecksumMode::PseudoHeader,
            addresses: vec![
                v4([192, 0, 2, 100]),
                v4([192, 0, 2, 101]),
                v4([192, 0, 2, 102]),
            ],
        },
        Expected {
            name: "v3-ipv6",
            dst_mac: [0x33, 0x33, 0, 0, 0, 0x12],
            src: IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, 0x11)),
            dst: IpAddr::V6(vrrp_packet::MULTICAST_V6),
            version: Version::V3,
            vrid: 54,
            interval: Interval::from_centis(100),
            auth: Auth::None,
            checksum: 0x0d96,
            mode: ChecksumMode::PseudoHeader,
            // Configuration order: the global VIP first, the link-local one second.
            addresses: vec![
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100)),
                IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x54)),
            ],
        },
        Expected {
            name: "v3-unicast",
            dst_mac: HOST_B_MAC,
            src: IpAddr::V4(HOST_A_V4),
            dst: v4([192, 0, 2, 12]),
            version: Version::V3,
            vrid: 55,
            interval: Interval::from_centis(100),
            auth: Auth::None,
            checksum: 0xf169,
            mode: ChecksumMode::PseudoHeader,
            addresses: vec![v4([192, 0, 2, 100])],
        },
    ]
}

#[test]
fn every_vector_is_listed() {
    let names: Vec<_> = expected().iter().map(|e| e.name).collect();
    assert_eq!(names, common::VECTORS);
}

#[test]
fn frames_decode_with_every_field_and_pass_every_check() {
    for e in expected() {
        let frame = vector(e.name);
        let report = inspect(&frame, None, &Expectations::default());
        assert_eq!(report.layer, Layer::Ethernet, "{}", e.name);
        assert!(
            report.is_valid(),
            "{}: {:?}",
            e.name,
            report.first_failure()
        );
        for check in report.checks() {
            assert_eq!(check.outcome, Outcome::Pass, "{}: {:?}", e.name, check.name);
        }

        let eth = report.ethernet.unwrap();
        assert_eq!(eth.dst_mac(), e.dst_mac, "{}", e.name);
        assert_eq!(eth.src_mac(), HOST_A_MAC, "{}", e.name);

        let ip = report.ip.unwrap();
        assert_eq!(ip.src(), e.src, "{}", e.name);
        assert_eq!(ip.dst(), e.dst, "{}", e.name);
        assert_eq!(ip.ttl(), 255, "{}", e.name);
        assert_eq!(ip.protocol(), 112, "{}", e.name);
        let family = AddressFamily::of(&e.src);
        assert_eq!(report.family, Some(family));

        let packet = report.vrrp.unwrap();
        assert_eq!(packet.version(), e.version.number(), "{}", e.name);
        assert_eq!(packet.msg_type(), 1, "{}", e.name);
        assert_eq!(packet.checksum(), e.checksum, "{}", e.name);
        assert_eq!(usize::from(packet.count()), e.addresses.len(), "{}", e.name);
        if e.version == Version::V3 {
            assert_eq!(packet.reserved_v3(), 0, "{}", e.name);
        }

        let repr = report.repr.unwrap();
        assert_eq!(repr.version, e.version, "{}", e.name);
        assert_eq!(repr.vrid, e.vrid, "{}", e.name);
        assert_eq!(repr.priority, 150, "{}", e.name);
        assert_eq!(repr.advert_interval, e.interval, "{}", e.name);
        assert_eq!(repr.auth, e.auth, "{}", e.name);
        assert_eq!(repr.addresses.family(), family, "{}", e.name);
        assert_eq!(
            repr.addresses.iter().collect::<Vec<_>>(),
            e.addresses,
            "{}",
            e.name
        );
        assert_eq!(report.checksum_mode, Some(e.mode), "{}", e.name);
    }
}

#[test]
fn parse_of_the_bare_message_agrees_and_emit_reproduces_keepalived_bytes() {
    for e in expected() {
        let frame = vector(e.name);
        let eth = EthernetFrame::new_checked(&frame).unwrap();
        let ip = IpHeader::new_checked(eth.payload()).unwrap();
        let message = ip.payload();
        let (repr, mode) = VrrpRepr::decode(message, ip.src(), ip.dst()).unwrap();
        assert_eq!(mode, e.mode, "{}", e.name);
        assert_eq!(repr.buffer_len(), message.len(), "{}", e.name);

        let mut buf = [0u8; 128];
        let len = repr
            .emit(
                &mut buf,
                &ChecksumContext {
                    src: ip.src(),
                    dst: ip.dst(),
                    mode,
                },
            )
            .unwrap();
        assert_eq!(
            &buf[..len],
            message,
            "{}: our bytes differ from keepalived's",
            e.name
        );
    }
}

#[test]
fn v3_ipv4_message_only_form_is_not_what_keepalived_sends() {
    let frame = vector("v3-ipv4-50ms");
    let ip = IpHeader::new_checked(EthernetFrame::new_checked(&frame).unwrap().payload()).unwrap();
    let packet = vrrp_packet::Packet::new_checked(ip.payload()).unwrap();
    let pseudo = packet.compute_checksum(ChecksumMode::PseudoHeader, ip.src(), ip.dst());
    let message_only = packet.compute_checksum(ChecksumMode::MessageOnly, ip.src(), ip.dst());
    assert_eq!(pseudo, Some(0x4eee));
    assert_eq!(message_only, Some(0xf190));
    assert_eq!(packet.checksum(), 0x4eee);
}

#[test]
fn the_ip_packet_and_the_bare_message_are_detected_too() {
    for e in expected() {
        let frame = vector(e.name);
        let ip_bytes = &frame[14..];
        let report = inspect(ip_bytes, None, &Expectations::default());
        assert_eq!(report.layer, Layer::Ip, "{}", e.name);
        assert!(
            report.is_valid(),
            "{}: {:?}",
            e.name,
            report.first_failure()
        );
        assert_eq!(report.checksum_mode, Some(e.mode));

        let header_len = match report.ip.unwrap() {
            IpHeader::V4(h) => h.header_len(),
            IpHeader::V6(_) => 40,
        };
        let message = &ip_bytes[header_len..];
        let report = inspect(message, None, &Expectations::default());
        assert_eq!(report.layer, Layer::Vrrp, "{}", e.name);
        assert_eq!(report.family, Some(AddressFamily::of(&e.src)), "{}", e.name);
        assert_eq!(report.repr.unwrap().vrid, e.vrid);
        // Without the IP header, a pseudo-header checksum cannot be verified: skipped, not
        // failed. VRRPv2's message-only checksum still is.
        let checksum = report.outcome(CheckName::Checksum).unwrap();
        match e.mode {
            ChecksumMode::MessageOnly => assert_eq!(checksum, Outcome::Pass, "{}", e.name),
            ChecksumMode::PseudoHeader => assert_eq!(checksum, Outcome::Skipped, "{}", e.name),
        }
        assert!(report.is_valid(), "{}", e.name);
    }
}

#[test]
fn configuration_checks_on_a_captured_v2_pass_frame() {
    let frame = vector("v2-pass");
    let vrids = [52u8];
    let good = Expectations {
        version: Some(Version::V2),
        vrids: Some(&vrids),
        advert_interval: Some(Interval::from_secs(1)),
        auth: Some(Auth::simple_password("1234abcd")),
    };
    let report = inspect(&frame, None, &good);
    assert!(report.is_valid());
    for name in [
        CheckName::VersionConfigured,
        CheckName::VridConfigured,
        CheckName::IntervalConfigured,
        CheckName::AuthConfigured,
    ] {
        assert_eq!(report.outcome(name), Some(Outcome::Pass), "{name:?}");
    }

    let other_vrids = [7u8];
    let bad = Expectations {
        version: Some(Version::V3),
        vrids: Some(&other_vrids),
        advert_interval: Some(Interval::from_secs(2)),
        auth: Some(Auth::simple_password("wrong")),
    };
    let report = inspect(&frame, None, &bad);
    assert!(!report.is_valid());
    let failures: Vec<_> = report
        .checks()
        .iter()
        .filter_map(|c| match c.outcome {
            Outcome::Fail(f) => Some((c.name, f.counter())),
            _ => None,
        })
        .collect();
    assert_eq!(
        failures,
        vec![
            (CheckName::VersionConfigured, "version_errors"),
            (CheckName::VridConfigured, "vrid_errors"),
            (CheckName::IntervalConfigured, "interval_errors"),
            (CheckName::AuthConfigured, "auth_errors"),
        ]
    );
}
