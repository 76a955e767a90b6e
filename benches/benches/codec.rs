//! Codec benchmarks (docs/performance.md, "Codec"): parse + validate a VRRPv3 advert with 1 and
//! with 255 addresses, inspect a whole captured frame, emit.
//!
//! Run: `cargo bench -p vrrp-benches --bench codec`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)] // bench harness code

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{Criterion, criterion_group, criterion_main};
use vrrp_packet::{
    AddressList, Auth, ChecksumContext, ChecksumMode, Expectations, Interval, Version, VrrpRepr,
    inspect,
};

/// The keepalived 2.2.7 capture `v3-ipv4-50ms` (crates/vrrp-packet/tests/vectors).
const KEEPALIVED_FRAME: &str =
    include_str!("../../crates/vrrp-packet/tests/vectors/v3-ipv4-50ms.hex");

fn hex(s: &str) -> Vec<u8> {
    let s = s.trim();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11));
const DST: IpAddr = IpAddr::V4(vrrp_packet::MULTICAST_V4);

fn message(addrs: &[Ipv4Addr]) -> (VrrpRepr<'_>, Vec<u8>) {
    let repr = VrrpRepr {
        version: Version::V3,
        vrid: 51,
        priority: 100,
        advert_interval: Interval::DEFAULT,
        auth: Auth::None,
        addresses: AddressList::ipv4(addrs),
    };
    let mut buf = vec![0u8; repr.buffer_len()];
    repr.emit(
        &mut buf,
        &ChecksumContext {
            src: SRC,
            dst: DST,
            mode: ChecksumMode::PseudoHeader,
        },
    )
    .unwrap();
    (repr, buf)
}

fn codec(c: &mut Criterion) {
    let one = [Ipv4Addr::new(192, 0, 2, 100)];
    let many: Vec<Ipv4Addr> = (0..255u8).map(|i| Ipv4Addr::new(198, 51, 100, i)).collect();
    let (repr1, msg1) = message(&one);
    let (repr255, msg255) = message(&many);

    let mut g = c.benchmark_group("parse_validate");
    g.bench_function("v3_ipv4_1_address", |b| {
        b.iter(|| VrrpRepr::decode(black_box(&msg1), black_box(SRC), black_box(DST)).unwrap())
    });
    g.bench_function("v3_ipv4_255_addresses", |b| {
        b.iter(|| VrrpRepr::decode(black_box(&msg255), black_box(SRC), black_box(DST)).unwrap())
    });
    g.finish();

    let frame = hex(KEEPALIVED_FRAME);
    let expect = Expectations::default();
    c.bench_function("inspect/keepalived_v3_frame", |b| {
        b.iter(|| {
            let r = inspect(black_box(&frame), None, &expect);
            assert!(r.is_valid());
            r.repr
        })
    });

    let ctx = ChecksumContext {
        src: SRC,
        dst: DST,
        mode: ChecksumMode::PseudoHeader,
    };
    let mut g = c.benchmark_group("emit");
    let mut buf = [0u8; 8 + 255 * 4];
    g.bench_function("v3_ipv4_1_address", |b| {
        b.iter(|| black_box(&repr1).emit(black_box(&mut buf), &ctx).unwrap())
    });
    g.bench_function("v3_ipv4_255_addresses", |b| {
        b.iter(|| black_box(&repr255).emit(black_box(&mut buf), &ctx).unwrap())
    });
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
