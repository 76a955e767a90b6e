//! Engine benchmarks: one `handle_advert` / `handle_packet` / `handle_timeout` step, and a
//! Node with 255 routers (demultiplexing, timers). Target: one engine event under 500 ns.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods
)]

use std::hint::black_box;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use vrrp_election::{Command, InterfaceId, Node, RouterConfig, RouterId, RxMeta, VirtualRouter};
use vrrp_packet::{AddressList, ChecksumContext, ChecksumMode, Interval, VrrpRepr};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn config(vrid: u8, priority: u8) -> RouterConfig {
    let mut c = RouterConfig::new(
        vrid,
        InterfaceId(1),
        ip("192.0.2.11"),
        vec![ip("192.0.2.100")],
    );
    c.priority = priority;
    c
}

fn advert_bytes(vrid: u8, priority: u8) -> Vec<u8> {
    let vips = ["192.0.2.100".parse().unwrap()];
    let repr = VrrpRepr {
        version: vrrp_packet::Version::V3,
        vrid,
        priority,
        advert_interval: Interval::DEFAULT,
        auth: vrrp_packet::Auth::None,
        addresses: AddressList::ipv4(&vips),
    };
    let mut buf = vec![0u8; repr.buffer_len()];
    let n = repr
        .emit(
            &mut buf,
            &ChecksumContext {
                src: ip("192.0.2.12"),
                dst: ip("224.0.0.18"),
                mode: ChecksumMode::PseudoHeader,
            },
        )
        .unwrap();
    buf.truncate(n);
    buf
}

fn meta() -> RxMeta {
    RxMeta {
        interface: InterfaceId(1),
        src: ip("192.0.2.12"),
        dst: ip("224.0.0.18"),
        ttl: 255,
    }
}

fn single_router(c: &mut Criterion) {
    let t0 = Instant::now();
    let bytes = advert_bytes(51, 200);
    let (repr, _) = VrrpRepr::decode(&bytes, meta().src, meta().dst).unwrap();

    // A backup accepting its master's advert: checks, timer reset, no output.
    let mut r = VirtualRouter::new(config(51, 100)).unwrap();
    r.handle_command(t0, Command::Startup);
    while r.poll_output().is_some() {}
    let mut now = t0;
    c.bench_function("engine/backup handle_advert", |b| {
        b.iter(|| {
            now += Duration::from_millis(1);
            r.handle_advert(now, meta(), black_box(&repr));
            black_box(r.poll_output());
            black_box(r.poll_timeout())
        })
    });

    // The same with decoding and the checksum (what a runtime calls).
    c.bench_function("engine/backup handle_packet (decode + advert)", |b| {
        b.iter(|| {
            now += Duration::from_millis(1);
            r.handle_packet(now, meta(), black_box(&bytes));
            black_box(r.poll_output());
            black_box(r.poll_timeout())
        })
    });

    // A master's Adver_Timer: encode one advert (checksum, allocation), re-arm.
    let mut m = VirtualRouter::new(config(51, 255)).unwrap();
    m.handle_command(t0, Command::Startup);
    while m.poll_output().is_some() {}
    let mut now = t0;
    c.bench_function("engine/master handle_timeout (advert out)", |b| {
        b.iter(|| {
            now += Duration::from_secs(1);
            m.handle_timeout(now);
            let out = m.poll_output();
            black_box(&out);
            black_box(m.poll_timeout())
        })
    });

    // handle_timeout called early: the no-op path.
    c.bench_function("engine/early handle_timeout (no-op)", |b| {
        b.iter(|| {
            m.handle_timeout(black_box(t0));
            black_box(m.poll_output())
        })
    });
}

fn node_255(c: &mut Criterion) {
    let t0 = Instant::now();
    let mut node = Node::new();
    for vrid in 1..=255u8 {
        node.add_router(config(vrid, 100)).unwrap();
    }
    node.handle_command_all(t0, Command::Startup);
    while node.poll_output().is_some() {}
    let packets: Vec<Vec<u8>> = (1..=255u8).map(|v| advert_bytes(v, 200)).collect();
    let mut now = t0;
    let mut k = 0usize;
    c.bench_function("node255/handle_packet (demux + decode + advert)", |b| {
        b.iter(|| {
            now += Duration::from_micros(10);
            k = (k + 1) % packets.len();
            node.handle_packet(now, meta(), black_box(&packets[k]));
            black_box(node.poll_output());
        })
    });
    c.bench_function("node255/poll_timeout (min over 255 routers)", |b| {
        b.iter(|| black_box(node.poll_timeout()))
    });

    // 255 masters whose Adver_Timers all fire at once: one handle_timeout, 255 adverts.
    let mut masters = Node::new();
    for vrid in 1..=255u8 {
        masters.add_router(config(vrid, 255)).unwrap();
    }
    masters.handle_command_all(t0, Command::Startup);
    while masters.poll_output().is_some() {}
    let mut now = t0;
    c.bench_function("node255/handle_timeout (255 adverts out)", |b| {
        b.iter(|| {
            now += Duration::from_secs(1);
            masters.handle_timeout(now);
            let mut n = 0;
            while let Some(o) = masters.poll_output() {
                black_box(&o);
                n += 1;
            }
            assert_eq!(n, 255);
        })
    });
    let _ = node.router(RouterId(0));
}

criterion_group!(benches, single_router, node_255);
criterion_main!(benches);
