//! Property tests: decoding never panics on any bytes, and emit → parse is the identity for
//! every valid advertisement.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use vrrp_packet::{
    AddressFamily, AddressList, Auth, ChecksumContext, ChecksumMode, Expectations, Interval, Layer,
    Packet, Version, VrrpRepr, fuzzing, inspect,
};

fn ip_pair() -> impl Strategy<Value = (IpAddr, IpAddr)> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<[u8; 4]>()).prop_map(|(s, d)| (IpAddr::from(s), IpAddr::from(d))),
        (any::<[u8; 16]>(), any::<[u8; 16]>())
            .prop_map(|(s, d)| (IpAddr::from(s), IpAddr::from(d))),
        (any::<[u8; 4]>(), any::<[u8; 16]>()).prop_map(|(s, d)| (IpAddr::from(s), IpAddr::from(d))),
    ]
}

/// Bytes that start like a VRRP header often enough to get past the first checks.
fn message_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        (
            prop_oneof![Just(0x21u8), Just(0x31u8), any::<u8>()],
            any::<u8>(),
            any::<u8>(),
            0u8..6,
            proptest::collection::vec(any::<u8>(), 0..120)
        )
            .prop_map(|(vt, vrid, prio, count, rest)| {
                let mut v = vec![vt, vrid, prio, count];
                v.extend(rest);
                v
            }),
    ]
}

fn exercise_packet(bytes: &[u8], src: IpAddr, dst: IpAddr) {
    let _ = VrrpRepr::decode(bytes, src, dst);
    let p = Packet::new_unchecked(bytes);
    let _ = p.to_string();
    if let Ok(p) = Packet::new_checked(bytes) {
        let _ = (
            p.version(),
            p.msg_type(),
            p.vrid(),
            p.priority(),
            p.count(),
            p.reserved_v3(),
            p.max_advert_interval_v3(),
            p.auth_type_v2(),
            p.advert_interval_v2(),
            p.advert_interval(),
            p.checksum(),
            p.auth_data(),
            p.infer_family(),
            p.verify_checksum(src, dst),
        );
        for family in [AddressFamily::Ipv4, AddressFamily::Ipv6] {
            let _ = p.expected_len(family);
            if let Some(list) = p.addresses(family) {
                let _ = list.iter().count();
                let _ = list.get(usize::MAX);
            }
            if let Ok(repr) = VrrpRepr::parse_structure(&p, family) {
                let _ = repr.to_string();
            }
            for mode in [ChecksumMode::PseudoHeader, ChecksumMode::MessageOnly] {
                let _ = p.compute_checksum(mode, src, dst);
            }
        }
    }
}

/// An Ethernet + IP frame around arbitrary VRRP bytes, with arbitrary header fields.
fn frame_around(
    payload: &[u8],
    v6: bool,
    ttl: u8,
    proto: u8,
    len_delta: i16,
    vlan: bool,
) -> Vec<u8> {
    let mut f = vec![0x01, 0x00, 0x5e, 0, 0, 0x12, 0x02, 0, 0, 0, 0, 0x11];
    if vlan {
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
    }
    if v6 {
        f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
        let plen = (payload.len() as i32 + i32::from(len_delta)).clamp(0, 0xffff) as u16;
        f.extend_from_slice(&plen.to_be_bytes());
        f.extend_from_slice(&[proto, ttl]);
        f.extend_from_slice(&Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1).octets());
        f.extend_from_slice(&vrrp_packet::MULTICAST_V6.octets());
    } else {
        f.extend_from_slice(&[0x08, 0x00, 0x45, 0xc0]);
        let total = (20 + payload.len() as i32 + i32::from(len_delta)).clamp(0, 0xffff) as u16;
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 0, ttl, proto, 0, 0, 192, 0, 2, 11, 224, 0, 0, 18]);
    }
    f.extend_from_slice(payload);
    f
}

/// version, family, VRID, priority, interval (v2 s / v3 cs), v2 password, checksum form,
/// address bytes.
type ReprParts = (
    Version,
    AddressFamily,
    u8,
    u8,
    u16,
    Option<[u8; 8]>,
    ChecksumMode,
    Vec<u8>,
);

fn valid_repr_parts() -> impl Strategy<Value = ReprParts> {
    (any::<bool>(), any::<bool>()).prop_flat_map(|(v3, v6)| {
        let version = if v3 { Version::V3 } else { Version::V2 };
        let family = if v3 && v6 {
            AddressFamily::Ipv6
        } else {
            AddressFamily::Ipv4
        };
        let interval = if v3 { 1u16..=4095 } else { 1u16..=255 };
        let auth = if v3 {
            Just(None).boxed()
        } else {
            proptest::option::of(any::<[u8; 8]>()).boxed()
        };
        (
            Just(version),
            Just(family),
            1u8..=255,
            any::<u8>(),
            interval,
            auth,
            prop_oneof![
                Just(ChecksumMode::PseudoHeader),
                Just(ChecksumMode::MessageOnly)
            ],
            (1usize..=255).prop_flat_map(move |n| {
                proptest::collection::vec(any::<u8>(), n * family.address_len())
            }),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics(bytes in message_bytes(), (src, dst) in ip_pair()) {
        exercise_packet(&bytes, src, dst);
    }

    #[test]
    fn inspect_never_panics_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        for layer in [None, Some(Layer::Ethernet), Some(Layer::Ip), Some(Layer::Vrrp)] {
            let r = inspect(&bytes, layer, &Expectations::default());
            prop_assert!(!r.is_valid() || r.repr.is_some());
        }
        prop_assert_eq!(fuzzing::inspect_frame(&bytes), Ok(()));
    }

    #[test]
    fn inspect_never_panics_on_frames_around_any_bytes(
        payload in message_bytes(),
        v6 in any::<bool>(),
        ttl in prop_oneof![Just(255u8), any::<u8>()],
        proto in prop_oneof![Just(112u8), any::<u8>()],
        len_delta in prop_oneof![Just(0i16), -30i16..30],
        vlan in any::<bool>(),
    ) {
        let frame = frame_around(&payload, v6, ttl, proto, len_delta, vlan);
        let r = inspect(&frame, None, &Expectations::default());
        prop_assert_eq!(r.layer, Layer::Ethernet);
        prop_assert_eq!(fuzzing::inspect_frame(&frame), Ok(()));
        prop_assert_eq!(fuzzing::inspect_frame(&frame[14 + if vlan { 4 } else { 0 }..]), Ok(()));
    }

    #[test]
    fn fuzz_properties_hold_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        prop_assert_eq!(fuzzing::decode(&bytes), Ok(()));
        prop_assert_eq!(fuzzing::roundtrip(&bytes), Ok(()));
    }

    #[test]
    fn emit_then_parse_is_identity(
        (version, family, vrid, priority, interval, password, mode, addr_bytes) in valid_repr_parts(),
        (src4, dst4) in (any::<[u8; 4]>(), any::<[u8; 4]>()),
        (src6, dst6) in (any::<[u8; 16]>(), any::<[u8; 16]>()),
    ) {
        let advert_interval = match version {
            Version::V2 => Interval::from_secs(interval),
            Version::V3 => Interval::from_centis(interval),
        };
        let repr = VrrpRepr {
            version,
            vrid,
            priority,
            advert_interval,
            auth: password.map_or(Auth::None, Auth::SimplePassword),
            addresses: AddressList::from_wire(family, &addr_bytes),
        };
        let (src, dst) = match family {
            AddressFamily::Ipv4 => (IpAddr::from(src4), IpAddr::from(dst4)),
            AddressFamily::Ipv6 => (IpAddr::from(src6), IpAddr::from(dst6)),
        };
        prop_assert_eq!(repr.validate(), Ok(()));
        let mut buf = vec![0u8; repr.buffer_len()];
        let len = repr.emit(&mut buf, &ChecksumContext { src, dst, mode }).unwrap();
        prop_assert_eq!(len, buf.len());
        let (parsed, found) = VrrpRepr::decode(&buf, src, dst).unwrap();
        prop_assert_eq!(parsed, repr);
        let wanted = match (version, family) {
            (Version::V2, _) => ChecksumMode::MessageOnly,
            (_, AddressFamily::Ipv6) => ChecksumMode::PseudoHeader,
            _ => mode,
        };
        if found != wanted {
            // Only possible when both forms give the same sum.
            let p = Packet::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(
                p.compute_checksum(ChecksumMode::PseudoHeader, src, dst),
                p.compute_checksum(ChecksumMode::MessageOnly, src, dst)
            );
        }
        // Typed lists emit the same bytes as wire lists.
        let mut typed = vec![0u8; len];
        match family {
            AddressFamily::Ipv4 => {
                let v: Vec<Ipv4Addr> = addr_bytes.chunks(4).map(|c| Ipv4Addr::from(<[u8; 4]>::try_from(c).unwrap())).collect();
                VrrpRepr { addresses: AddressList::ipv4(&v), ..repr }
                    .emit(&mut typed, &ChecksumContext { src, dst, mode }).unwrap();
            }
            AddressFamily::Ipv6 => {
                let v: Vec<Ipv6Addr> = addr_bytes.chunks(16).map(|c| Ipv6Addr::from(<[u8; 16]>::try_from(c).unwrap())).collect();
                VrrpRepr { addresses: AddressList::ipv6(&v), ..repr }
                    .emit(&mut typed, &ChecksumContext { src, dst, mode }).unwrap();
            }
        }
        prop_assert_eq!(typed, buf);
    }
}
