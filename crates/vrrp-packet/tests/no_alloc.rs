//! Decoding never allocates: parse, inspect and the Display impls run under a counting
//! global allocator (allocation-counter) and must make zero allocations, even with 255
//! addresses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

mod common;

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vrrp_packet::{
    AddressList, Auth, ChecksumContext, ChecksumMode, Expectations, Interval, Version, VrrpRepr,
    inspect,
};

/// A `fmt::Write` that counts and keeps nothing.
struct Sink(usize);

impl std::fmt::Write for Sink {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

#[test]
fn the_counter_counts() {
    // Guard against a counter that always says 0.
    let info = allocation_counter::measure(|| {
        std::hint::black_box(vec![1u8; 16]);
    });
    assert_eq!(info.count_total, 1);
}

/// A whole IPv4 Ethernet frame carrying a v3 advert with 255 addresses.
fn frame_v4_255(mode: ChecksumMode) -> (Vec<u8>, usize) {
    let addrs: Vec<Ipv4Addr> = (0..255u8).map(|i| Ipv4Addr::new(198, 51, 100, i)).collect();
    let repr = VrrpRepr {
        version: Version::V3,
        vrid: 200,
        priority: 254,
        advert_interval: Interval::from_centis(1),
        auth: Auth::None,
        addresses: AddressList::ipv4(&addrs),
    };
    let src = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11));
    let dst = IpAddr::V4(vrrp_packet::MULTICAST_V4);
    let mut message = vec![0u8; repr.buffer_len()];
    repr.emit(&mut message, &ChecksumContext { src, dst, mode })
        .unwrap();
    let mut frame = common::hex("01005e000012 020000000011 0800");
    let total = 20 + message.len();
    let mut ip = vec![0x45, 0xc0];
    ip.extend_from_slice(&(total as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0, 0, 255, 112, 0, 0, 192, 0, 2, 11, 224, 0, 0, 18]);
    let sum: u32 = ip
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    frame.extend_from_slice(&ip);
    frame.extend_from_slice(&message);
    (frame, message.len())
}

#[test]
fn parse_and_inspect_of_255_ipv4_addresses_do_not_allocate() {
    for mode in [ChecksumMode::PseudoHeader, ChecksumMode::MessageOnly] {
        let (frame, len) = frame_v4_255(mode);
        assert_eq!(len, 8 + 255 * 4);
        let src = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11));
        let dst = IpAddr::V4(vrrp_packet::MULTICAST_V4);
        let vrids = [200u8];
        let expect = Expectations {
            version: Some(Version::V3),
            vrids: Some(&vrids),
            advert_interval: None,
            auth: None,
        };
        let mut ok = false;
        let mut sink = Sink(0);
        let info = allocation_counter::measure(|| {
            let (repr, m) = VrrpRepr::decode(&frame[34..], src, dst).unwrap();
            assert_eq!(m, mode);
            assert_eq!(repr.addresses.len(), 255);
            let mut n = 0;
            for a in repr.addresses.iter() {
                n += usize::from(a.is_ipv4());
            }
            let report = inspect(&frame, None, &expect);
            ok = report.is_valid() && n == 255 && report.repr == Some(repr);
            write!(sink, "{repr} {}", report.vrrp.unwrap()).unwrap();
        });
        assert!(ok);
        assert!(sink.0 > 255 * 11, "Display wrote every address");
        assert_eq!(
            info.count_total, 0,
            "decode allocated {} times",
            info.count_total
        );
    }
}

#[test]
fn parse_of_255_ipv6_addresses_does_not_allocate() {
    let addrs: Vec<Ipv6Addr> = (0..255u16)
        .map(|i| Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i))
        .collect();
    let repr = VrrpRepr {
        version: Version::V3,
        vrid: 1,
        priority: 100,
        advert_interval: Interval::DEFAULT,
        auth: Auth::None,
        addresses: AddressList::ipv6(&addrs),
    };
    let src = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
    let dst = IpAddr::V6(vrrp_packet::MULTICAST_V6);
    let mut message = vec![0u8; repr.buffer_len()];
    repr.emit(
        &mut message,
        &ChecksumContext {
            src,
            dst,
            mode: ChecksumMode::PseudoHeader,
        },
    )
    .unwrap();
    let mut equal = false;
    let info = allocation_counter::measure(|| {
        let (parsed, _) = VrrpRepr::decode(&message, src, dst).unwrap();
        equal = parsed == repr;
        // Emit does not allocate either.
        let mut again = [0u8; 8 + 255 * 16];
        let n = parsed
            .emit(
                &mut again,
                &ChecksumContext {
                    src,
                    dst,
                    mode: ChecksumMode::PseudoHeader,
                },
            )
            .unwrap();
        equal &= again[..n] == message[..];
    });
    assert!(equal);
    assert_eq!(info.count_total, 0);
}

#[test]
fn rejecting_hostile_bytes_does_not_allocate() {
    let frames: Vec<Vec<u8>> = common::VECTORS
        .iter()
        .map(|n| common::vector(n))
        .chain([vec![], vec![0xff; 3], vec![0x45; 100], vec![0x31; 2000]])
        .collect();
    let info = allocation_counter::measure(|| {
        for f in &frames {
            for cut in 0..f.len().min(120) {
                let r = inspect(&f[..cut], None, &Expectations::default());
                std::hint::black_box(r.is_valid());
                std::hint::black_box(r.first_failure());
            }
        }
    });
    assert_eq!(info.count_total, 0);
}
