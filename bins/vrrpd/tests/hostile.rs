//! Hostile and malformed packets (issue 9): from a third lab host, crafted packets are
//! injected at a running pair of daemons (host 1 master, host 2 backup) with VRRPv3 over IPv4
//! and IPv6, VRRPv2 with a password, a unicast instance and an address owner. For every case of
//! [`CASES`] the test asserts that the packet is dropped, that exactly its counter in
//! `vrrpd status --json` goes up by one (per instance, or the daemon-wide `counters` when no
//! instance can take it, or the receiving kernel's own counter when the kernel drops it before
//! any socket sees it), and that no state changes. Further tests show that the hostile packets
//! do not reset the backup's Master_Down_Timer (it still takes over on time while they spoof
//! the dead master's address), that discard logs are rate-limited, and that a flood of 10^5
//! higher-priority adverts per second from a spoofed source on a unicast instance is ignored.
//!
//! [`CASES`] is the one list of cases: docs/security.md shows it (rendered by
//! `case_table_in_docs_is_current`; `UPDATE_DOCS=1` rewrites it).

// Helpers of these tests unwrap: a failure there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use support::{Daemon, unix_ms, wait_until};
use vrrp_lab::inject::{Injector, Ipv4Builder, Ipv6Builder, ethernet_destination, ethernet_frame};
use vrrp_lab::{Host, Lab, require_root};
use vrrp_packet::{
    AddressList, Auth, ChecksumContext, ChecksumMode, Interval, MULTICAST_V4, MULTICAST_V6, Packet,
    Version, VrrpRepr,
};

// ----- the lab ----------------------------------------------------------------------------

/// The instances every daemon of the pair runs (host 1 with the higher priority).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Inst {
    /// VRRPv3 over IPv4, VRID 10, 100 ms.
    V3v4,
    /// VRRPv2 with `auth_pass`, VRID 20, 1 s.
    V2v4,
    /// VRRPv3 over IPv6, VRID 30, 100 ms.
    V3v6,
    /// VRRPv3 over IPv4 with unicast peers, VRID 40, 100 ms.
    Unicast,
    /// VRRPv3 over IPv4, VRID 50: host 1 is the address owner (priority 255).
    Owner,
}

impl Inst {
    const ALL: [Inst; 5] = [
        Inst::V3v4,
        Inst::V2v4,
        Inst::V3v6,
        Inst::Unicast,
        Inst::Owner,
    ];

    fn name(self) -> &'static str {
        match self {
            Inst::V3v4 => "v3v4",
            Inst::V2v4 => "v2v4",
            Inst::V3v6 => "v3v6",
            Inst::Unicast => "unicast",
            Inst::Owner => "owner",
        }
    }

    fn vrid(self) -> u8 {
        match self {
            Inst::V3v4 => 10,
            Inst::V2v4 => 20,
            Inst::V3v6 => 30,
            Inst::Unicast => 40,
            Inst::Owner => 50,
        }
    }

    fn vip(self) -> IpAddr {
        match self {
            Inst::V3v4 => IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100)),
            Inst::V2v4 => IpAddr::V4(Ipv4Addr::new(192, 0, 2, 101)),
            Inst::V3v6 => IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100)),
            Inst::Unicast => IpAddr::V4(Ipv4Addr::new(192, 0, 2, 102)),
            Inst::Owner => IpAddr::V4(Ipv4Addr::new(192, 0, 2, 103)),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Inst::V3v4 => "v3 IPv4, VRID 10",
            Inst::V2v4 => "v2 IPv4 + password, VRID 20",
            Inst::V3v6 => "v3 IPv6, VRID 30",
            Inst::Unicast => "v3 IPv4 unicast, VRID 40",
            Inst::Owner => "v3 IPv4, VRID 50, host 1 owner",
        }
    }

    fn interval(self) -> Interval {
        match self {
            Inst::V2v4 => Interval::from_secs(1),
            _ => Interval::from_centis(10),
        }
    }

    /// The backup's (priority 100) Master_Down_Interval: 3 × interval + Skew_Time.
    fn master_down(self) -> Duration {
        let i = self.interval().as_duration();
        3 * i
            + match self {
                // RFC 3768 §6.1: Skew_Time = (256 − Priority) / 256 s.
                Inst::V2v4 => Duration::from_secs(156) / 256,
                // RFC 9568 §6.1: ((256 − Priority) × Master_Adver_Interval) / 256.
                _ => i * 156 / 256,
            }
    }
}

/// The password of the v2 instance.
const PASSWORD: &str = "s3cret";

/// Host `me`'s config: every instance of [`Inst`], master priorities on host 1.
fn pair_config(me: &Host, peer: &Host) -> String {
    let master = me.number() == 1;
    let prio = if master { 200 } else { 100 };
    let mut s = String::from("[global]\nrouter_id = \"h\"\n");
    for inst in Inst::ALL {
        let vip = match inst.vip() {
            IpAddr::V4(v4) => format!("{v4}/24"),
            IpAddr::V6(v6) => format!("{v6}/64"),
        };
        let priority = match inst {
            Inst::Owner if master => 255,
            _ => prio,
        };
        let extra = match inst {
            Inst::V2v4 => format!("version = 2\nauth_pass = \"{PASSWORD}\"\n"),
            Inst::Unicast => format!(
                "unicast_src = \"{}\"\nunicast_peers = [\"{}\"]\n",
                me.ipv4(),
                peer.ipv4()
            ),
            _ => String::new(),
        };
        s.push_str(&format!(
            "\n[[instance]]\nname = \"{}\"\ninterface = \"eth0\"\nvrid = {}\npriority = {priority}\nadvert_interval = \"{}\"\nvirtual_ips = [\"{vip}\"]\n{extra}",
            inst.name(),
            inst.vrid(),
            inst.interval(),
        ));
    }
    s
}

/// Addresses a case is crafted with.
#[derive(Debug, Clone, Copy)]
struct Ctx {
    /// The IPv4 source hostile packets claim (the attacker's own, or the master's when spoofing).
    src4: Ipv4Addr,
    /// The IPv6 link-local source they claim.
    src6: Ipv6Addr,
    /// A global IPv6 address of the same host as `src6`.
    src6_global: Ipv6Addr,
    /// The attacker's real IPv4 address (never a unicast peer).
    attacker4: Ipv4Addr,
    /// The master's IPv4 address (for the accepted cases, which spoof it).
    master4: Ipv4Addr,
    /// The backup's IPv4 address (unicast destination).
    backup4: Ipv4Addr,
}

/// How a crafted packet leaves the attacker.
#[derive(Debug, Clone)]
enum Wire {
    /// A complete IP packet, sent on a raw socket with the header included.
    Ip(Vec<u8>),
    /// An Ethernet frame, for IP headers even a raw IP socket refuses to send.
    Frame(Vec<u8>),
}

/// What must happen on one receiving host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// vrrpd drops it and this per-instance counter (of the case's instance) goes up by one.
    Counter(&'static str),
    /// vrrpd drops it before any instance: this daemon-wide counter goes up by one.
    Daemon(&'static str),
    /// vrrpd accepts it (it is valid: VRRP has no cryptographic authentication); no discard
    /// counter moves, and this counter, if any, goes up by one.
    Accepted(Option<&'static str>),
    /// The receiving kernel drops it before any socket: this counter of /proc/net/snmp or
    /// /proc/net/netstat (`Section.Field`) goes up by one; vrrpd sees nothing.
    Kernel(&'static str),
    /// The receiving kernel drops it before any socket and keeps no per-namespace count: an
    /// IPv4 packet from one of the host's own addresses (a "martian source", fib_validate_source).
    /// vrrpd sees nothing.
    Martian,
    /// Not sent to this host (unicast to the other one).
    NotDelivered,
}

impl Outcome {
    fn describe(self) -> String {
        match self {
            Outcome::Counter(c) => format!("dropped, `{c}`"),
            Outcome::Daemon(c) => format!("dropped, daemon-wide `{c}`"),
            Outcome::Accepted(Some(c)) => format!("accepted, `{c}`"),
            Outcome::Accepted(None) => "accepted (a valid advert)".to_owned(),
            Outcome::Kernel(c) => format!("dropped by the kernel, `{c}`"),
            Outcome::Martian => "dropped by the kernel (martian source; no counter)".to_owned(),
            Outcome::NotDelivered => "not sent here".to_owned(),
        }
    }
}

/// One hostile packet and what must become of it.
struct Case {
    /// Short unique name.
    name: &'static str,
    /// What is wrong with it (or, for the accepted ones, what is unusual).
    what: &'static str,
    /// The instance it is aimed at (its VRID, family and version).
    inst: Inst,
    /// The rule that drops it.
    rule: &'static str,
    /// The packet.
    craft: fn(&Ctx) -> Wire,
    /// On host 1 (the master; the address owner of [`Inst::Owner`]).
    master: Outcome,
    /// On host 2 (the backup).
    backup: Outcome,
}

// ----- crafting -----------------------------------------------------------------------------

/// An advert that would make the master step down and the backup reset its timer: priority
/// 250, the instance's VRID, interval and VIP, correct auth.
fn repr_for(inst: Inst, vips4: &[Ipv4Addr], vips6: &[Ipv6Addr]) -> VrrpRepr<'static> {
    // The slices are leaked so the repr can be 'static: a few bytes per test case.
    let addresses = match inst.vip() {
        IpAddr::V4(_) => AddressList::ipv4(Vec::leak(vips4.to_vec())),
        IpAddr::V6(_) => AddressList::ipv6(Vec::leak(vips6.to_vec())),
    };
    VrrpRepr {
        version: if inst == Inst::V2v4 {
            Version::V2
        } else {
            Version::V3
        },
        vrid: inst.vrid(),
        priority: 250,
        advert_interval: inst.interval(),
        auth: if inst == Inst::V2v4 {
            Auth::simple_password(PASSWORD)
        } else {
            Auth::None
        },
        addresses,
    }
}

fn own_vip4(inst: Inst) -> Vec<Ipv4Addr> {
    match inst.vip() {
        IpAddr::V4(v4) => vec![v4],
        IpAddr::V6(_) => Vec::new(),
    }
}

fn own_vip6(inst: Inst) -> Vec<Ipv6Addr> {
    match inst.vip() {
        IpAddr::V6(v6) => vec![v6],
        IpAddr::V4(_) => Vec::new(),
    }
}

/// The instance's well-formed advert at priority 250.
fn good(inst: Inst) -> VrrpRepr<'static> {
    repr_for(inst, &own_vip4(inst), &own_vip6(inst))
}

/// Emits `repr` checksummed for `src` → `dst`.
fn emit(repr: &VrrpRepr<'_>, src: IpAddr, dst: IpAddr, mode: ChecksumMode) -> Vec<u8> {
    let mut buf = vec![0u8; repr.buffer_len()];
    let n = repr
        .emit(&mut buf, &ChecksumContext { src, dst, mode })
        .unwrap();
    buf.truncate(n);
    buf
}

/// Rewrites the checksum of a (mutated) message so that the only defect is the intended one.
fn refill(msg: &mut [u8], src: IpAddr, dst: IpAddr, mode: ChecksumMode) {
    if msg.len() < 8 {
        return;
    }
    let sum = Packet::new_unchecked(&*msg)
        .compute_checksum(mode, src, dst)
        .unwrap();
    Packet::new_unchecked(msg).set_checksum(sum);
}

/// A message for `inst` from the case's source to the group, mutated by `mutate`, with its
/// checksum made right again afterwards (v3 IPv4: pseudo-header form), wrapped in IP.
fn mutated(ctx: &Ctx, inst: Inst, mutate: impl FnOnce(&mut Vec<u8>)) -> Wire {
    let (src, dst) = source_and_group(ctx, inst);
    let mode = mode_of(inst);
    let mut msg = emit(&good(inst), src, dst, mode);
    mutate(&mut msg);
    refill(&mut msg, src, dst, mode);
    Wire::Ip(ip(src, dst, 255, &msg))
}

fn mode_of(inst: Inst) -> ChecksumMode {
    if inst == Inst::V2v4 {
        ChecksumMode::MessageOnly
    } else {
        ChecksumMode::PseudoHeader
    }
}

fn source_and_group(ctx: &Ctx, inst: Inst) -> (IpAddr, IpAddr) {
    match inst.vip() {
        IpAddr::V4(_) => (IpAddr::V4(ctx.src4), IpAddr::V4(MULTICAST_V4)),
        IpAddr::V6(_) => (IpAddr::V6(ctx.src6), IpAddr::V6(MULTICAST_V6)),
    }
}

/// Wraps a VRRP message in an IPv4 or IPv6 header with TTL / hop limit `ttl`.
fn ip(src: IpAddr, dst: IpAddr, ttl: u8, msg: &[u8]) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Ipv4Builder::new(s, d, 112).ttl(ttl).build(msg),
        (IpAddr::V6(s), IpAddr::V6(d)) => Ipv6Builder::new(s, d, 112).hop_limit(ttl).build(msg),
        _ => panic!("mixed families"),
    }
}

/// The instance's valid advert from the case's source with TTL / hop limit `ttl`.
fn with_ttl(ctx: &Ctx, inst: Inst, ttl: u8) -> Wire {
    let (src, dst) = source_and_group(ctx, inst);
    Wire::Ip(ip(
        src,
        dst,
        ttl,
        &emit(&good(inst), src, dst, mode_of(inst)),
    ))
}

/// The instance's advert with its checksum off by one.
fn bad_checksum(ctx: &Ctx, inst: Inst) -> Wire {
    let (src, dst) = source_and_group(ctx, inst);
    let mut msg = emit(&good(inst), src, dst, mode_of(inst));
    msg[7] ^= 0x01;
    Wire::Ip(ip(src, dst, 255, &msg))
}

/// The instance's advert with the version nibble set to `v`.
fn version(ctx: &Ctx, inst: Inst, v: u8) -> Wire {
    mutated(ctx, inst, |m| m[0] = (v << 4) | (m[0] & 0x0f))
}

/// The instance's advert with the type nibble set to `t`.
fn msg_type(ctx: &Ctx, inst: Inst, t: u8) -> Wire {
    mutated(ctx, inst, |m| m[0] = (m[0] & 0xf0) | t)
}

/// The instance's advert cut to `len` bytes (the checksum is right for the bytes sent).
fn truncated(ctx: &Ctx, inst: Inst, len: usize) -> Wire {
    mutated(ctx, inst, |m| m.truncate(len))
}

/// The VRRPv2 advert with auth type `t` (the data stays the password).
fn v2_auth_type(ctx: &Ctx, t: u8) -> Wire {
    mutated(ctx, Inst::V2v4, |m| m[4] = t)
}

/// An IPv4 frame to the VRRP group from the attacker's MAC, from `build`'s header.
fn frame4(ctx: &Ctx, build: impl FnOnce(Ipv4Builder) -> Ipv4Builder) -> Wire {
    let src = IpAddr::V4(ctx.src4);
    let dst = IpAddr::V4(MULTICAST_V4);
    let msg = emit(&good(Inst::V3v4), src, dst, ChecksumMode::PseudoHeader);
    let packet = build(Ipv4Builder::new(ctx.src4, MULTICAST_V4, 112)).build(&msg);
    Wire::Frame(ethernet_frame(
        ethernet_destination(dst, [0; 6]),
        ATTACKER_MAC,
        &packet,
    ))
}

/// The MAC the attacker's frames carry (host 3's).
const ATTACKER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x01, 0x13];

// ----- the cases ----------------------------------------------------------------------------

/// Shorthand: the same outcome on both hosts.
const fn both(
    name: &'static str,
    what: &'static str,
    inst: Inst,
    rule: &'static str,
    craft: fn(&Ctx) -> Wire,
    outcome: Outcome,
) -> Case {
    Case {
        name,
        what,
        inst,
        rule,
        craft,
        master: outcome,
        backup: outcome,
    }
}

use Inst::{Owner, Unicast, V2v4, V3v4, V3v6};
use Outcome::{Accepted, Counter, Daemon as Node, Kernel, Martian, NotDelivered};

/// Every hostile case, in the order they are sent. Unless said otherwise a packet comes from
/// the attacker's own address to the VRRP group, carries priority 250 (so that if it were
/// accepted the master would step down and the backup would follow it) and is correct in every
/// other field, checksum included.
static CASES: &[Case] = &[
    // TTL / hop limit (RFC 9568 §7.1, RFC 3768 §7.1).
    both(
        "v3-ipv4-ttl-254",
        "TTL 254 (routed once)",
        V3v4,
        "RFC 9568 §7.1",
        |c| with_ttl(c, V3v4, 254),
        Counter("ttl_errors"),
    ),
    both(
        "v3-ipv4-ttl-1",
        "TTL 1",
        V3v4,
        "RFC 9568 §7.1",
        |c| with_ttl(c, V3v4, 1),
        Counter("ttl_errors"),
    ),
    both(
        "v2-ttl-64",
        "VRRPv2, TTL 64",
        V2v4,
        "RFC 3768 §7.1",
        |c| with_ttl(c, V2v4, 64),
        Counter("ttl_errors"),
    ),
    both(
        "v3-ipv6-hop-limit-254",
        "hop limit 254",
        V3v6,
        "RFC 9568 §7.1",
        |c| with_ttl(c, V3v6, 254),
        Counter("ttl_errors"),
    ),
    both(
        "v3-ipv6-hop-limit-1",
        "hop limit 1",
        V3v6,
        "RFC 9568 §7.1",
        |c| with_ttl(c, V3v6, 1),
        Counter("ttl_errors"),
    ),
    // Checksums.
    both(
        "v3-ipv4-bad-checksum",
        "checksum off by one",
        V3v4,
        "RFC 9568 §7.1",
        |c| bad_checksum(c, V3v4),
        Counter("checksum_errors"),
    ),
    both(
        "v2-bad-checksum",
        "VRRPv2, checksum off by one",
        V2v4,
        "RFC 3768 §7.1",
        |c| bad_checksum(c, V2v4),
        Counter("checksum_errors"),
    ),
    both(
        "v3-ipv6-bad-checksum",
        "checksum off by one",
        V3v6,
        "RFC 9568 §7.1",
        |c| bad_checksum(c, V3v6),
        Counter("checksum_errors"),
    ),
    Case {
        name: "v3-ipv4-message-only-checksum",
        what: "checksum over the message only (RFC 9568 §5.2.8's form), priority 200, spoofing the master",
        inst: V3v4,
        rule: "RFC 9568 §5.2.8; both forms accepted",
        craft: |c| {
            let (src, dst) = (IpAddr::V4(c.master4), IpAddr::V4(MULTICAST_V4));
            let mut repr = good(V3v4);
            repr.priority = 200;
            Wire::Ip(ip(
                src,
                dst,
                255,
                &emit(&repr, src, dst, ChecksumMode::MessageOnly),
            ))
        },
        master: Martian,
        backup: Accepted(Some("checksum_message_only")),
    },
    Case {
        name: "v3-ipv4-header-options",
        what: "IPv4 header with options (IHL 6), message-only checksum, priority 200, spoofing the master",
        inst: V3v4,
        rule: "RFC 791: options are legal; the VRRP message starts after them",
        craft: |c| {
            let (src, dst) = (IpAddr::V4(c.master4), IpAddr::V4(MULTICAST_V4));
            let mut repr = good(V3v4);
            repr.priority = 200;
            let msg = emit(&repr, src, dst, ChecksumMode::MessageOnly);
            Wire::Ip(
                Ipv4Builder::new(c.master4, MULTICAST_V4, 112)
                    .options(&[1, 1, 1, 0])
                    .build(&msg),
            )
        },
        master: Martian,
        backup: Accepted(Some("checksum_message_only")),
    },
    // Version and type (RFC 9568 §5.2.1, §5.2.2, §7.1).
    both(
        "v3-version-1",
        "version 1",
        V3v4,
        "RFC 9568 §7.1",
        |c| version(c, V3v4, 1),
        Counter("version_errors"),
    ),
    both(
        "v3-version-4",
        "version 4",
        V3v4,
        "RFC 9568 §7.1",
        |c| version(c, V3v4, 4),
        Counter("version_errors"),
    ),
    both(
        "v3-version-15",
        "version 15",
        V3v4,
        "RFC 9568 §7.1",
        |c| version(c, V3v4, 15),
        Counter("version_errors"),
    ),
    both(
        "v2-on-v3-instance",
        "a well-formed VRRPv2 advert for the v3 instance's VRID",
        V3v4,
        "RFC 9568 §7.1 (version must be the configured one)",
        |c| {
            let (src, dst) = source_and_group(c, V3v4);
            let mut repr = good(V3v4);
            repr.version = Version::V2;
            repr.advert_interval = Interval::from_secs(1);
            repr.auth = Auth::simple_password(PASSWORD);
            Wire::Ip(ip(
                src,
                dst,
                255,
                &emit(&repr, src, dst, ChecksumMode::MessageOnly),
            ))
        },
        Counter("version_errors"),
    ),
    both(
        "v3-on-v2-instance",
        "a well-formed VRRPv3 advert for the v2 instance's VRID",
        V2v4,
        "RFC 3768 §7.1",
        |c| {
            let (src, dst) = source_and_group(c, V2v4);
            let mut repr = good(V2v4);
            repr.version = Version::V3;
            repr.auth = Auth::None;
            Wire::Ip(ip(
                src,
                dst,
                255,
                &emit(&repr, src, dst, ChecksumMode::PseudoHeader),
            ))
        },
        Counter("version_errors"),
    ),
    both(
        "v2-over-ipv6",
        "version 2 over IPv6 (VRRPv2 is IPv4 only)",
        V3v6,
        "RFC 3768 §1",
        |c| version(c, V3v6, 2),
        Counter("version_errors"),
    ),
    both(
        "v3-type-0",
        "type 0",
        V3v4,
        "RFC 9568 §5.2.2",
        |c| msg_type(c, V3v4, 0),
        Counter("invalid_type"),
    ),
    both(
        "v3-type-2",
        "type 2",
        V3v4,
        "RFC 9568 §5.2.2",
        |c| msg_type(c, V3v4, 2),
        Counter("invalid_type"),
    ),
    both(
        "v3-type-15",
        "type 15",
        V3v4,
        "RFC 9568 §5.2.2",
        |c| msg_type(c, V3v4, 15),
        Counter("invalid_type"),
    ),
    both(
        "v3-ipv6-type-0",
        "type 0",
        V3v6,
        "RFC 9568 §5.2.2",
        |c| msg_type(c, V3v6, 0),
        Counter("invalid_type"),
    ),
    // Length and address count (RFC 9568 §7.1, errata 8299).
    both(
        "v3-short-7",
        "7 bytes (one short of the fixed header)",
        V3v4,
        "RFC 9568 §7.1",
        |c| truncated(c, V3v4, 7),
        Counter("packet_length_errors"),
    ),
    both(
        "v3-short-1",
        "1 byte: not even a VRID, so no instance can take it",
        V3v4,
        "RFC 9568 §7.1",
        |c| truncated(c, V3v4, 1),
        Node("packet_length_errors"),
    ),
    both(
        "v3-empty",
        "an IP packet with no VRRP bytes at all",
        V3v4,
        "RFC 9568 §7.1",
        |c| truncated(c, V3v4, 0),
        Node("packet_length_errors"),
    ),
    both(
        "v3-count-larger",
        "address count 2, one address present",
        V3v4,
        "RFC 9568 §7.1",
        |c| mutated(c, V3v4, |m| m[3] = 2),
        Counter("packet_length_errors"),
    ),
    both(
        "v3-count-smaller",
        "address count 1, two addresses present",
        V3v4,
        "RFC 9568 §7.1",
        |c| {
            let (src, dst) = source_and_group(c, V3v4);
            let two = repr_for(
                V3v4,
                &[Ipv4Addr::new(192, 0, 2, 100), Ipv4Addr::new(192, 0, 2, 200)],
                &[],
            );
            let mut msg = emit(&two, src, dst, ChecksumMode::PseudoHeader);
            msg[3] = 1;
            refill(&mut msg, src, dst, ChecksumMode::PseudoHeader);
            Wire::Ip(ip(src, dst, 255, &msg))
        },
        Counter("packet_length_errors"),
    ),
    both(
        "v3-count-zero",
        "address count 0, one address present",
        V3v4,
        "RFC 9568 erratum 8299",
        |c| mutated(c, V3v4, |m| m[3] = 0),
        Counter("address_list_errors"),
    ),
    both(
        "v3-ipv6-count-larger",
        "address count 3, one address present",
        V3v6,
        "RFC 9568 §7.1",
        |c| mutated(c, V3v6, |m| m[3] = 3),
        Counter("packet_length_errors"),
    ),
    // Interval.
    both(
        "v3-interval-0",
        "Max Adver Int 0",
        V3v4,
        "RFC 9568 erratum 8301",
        |c| {
            mutated(c, V3v4, |m| {
                m[4] = 0;
                m[5] = 0;
            })
        },
        Counter("interval_errors"),
    ),
    both(
        "v2-interval-2s",
        "VRRPv2, Adver Int 2 s (ours is 1 s)",
        V2v4,
        "RFC 3768 §7.1",
        |c| mutated(c, V2v4, |m| m[5] = 2),
        Counter("interval_errors"),
    ),
    // VRRPv2 authentication (RFC 3768 §5.3.6, §7.1; RFC 2338 for type 1).
    both(
        "v2-wrong-password",
        "auth type 1 with another password",
        V2v4,
        "RFC 2338 §5.3.6.1",
        |c| {
            let (src, dst) = source_and_group(c, V2v4);
            let mut repr = good(V2v4);
            repr.auth = Auth::simple_password("guess");
            Wire::Ip(ip(
                src,
                dst,
                255,
                &emit(&repr, src, dst, ChecksumMode::MessageOnly),
            ))
        },
        Counter("auth_errors"),
    ),
    both(
        "v2-auth-type-0",
        "auth type 0 (none) where a password is configured",
        V2v4,
        "RFC 3768 §7.1",
        |c| v2_auth_type(c, 0),
        Counter("auth_errors"),
    ),
    both(
        "v2-auth-type-2",
        "auth type 2 (IP AH, removed)",
        V2v4,
        "RFC 3768 §5.3.6",
        |c| v2_auth_type(c, 2),
        Counter("auth_errors"),
    ),
    both(
        "v2-auth-type-3",
        "auth type 3 (undefined)",
        V2v4,
        "RFC 3768 §5.3.6",
        |c| v2_auth_type(c, 3),
        Counter("auth_errors"),
    ),
    both(
        "v2-auth-data-missing",
        "auth type 1 without the 8 bytes of auth data",
        V2v4,
        "RFC 3768 §7.1",
        |c| truncated(c, V2v4, 12),
        Counter("packet_length_errors"),
    ),
    both(
        "v2-address-list-differs",
        "VRRPv2 advert for another VIP",
        V2v4,
        "RFC 3768 §7.1",
        |c| {
            let (src, dst) = source_and_group(c, V2v4);
            let repr = repr_for(V2v4, &[Ipv4Addr::new(192, 0, 2, 201)], &[]);
            Wire::Ip(ip(
                src,
                dst,
                255,
                &emit(&repr, src, dst, ChecksumMode::MessageOnly),
            ))
        },
        Counter("address_list_errors"),
    ),
    // VRID.
    both(
        "vrid-not-ours",
        "VRID 99, which neither host runs",
        V3v4,
        "RFC 9568 §7.1",
        |c| mutated(c, V3v4, |m| m[1] = 99),
        Node("vrid_errors"),
    ),
    both(
        "vrid-0",
        "VRID 0",
        V3v4,
        "RFC 9568 §5.2.3",
        |c| mutated(c, V3v4, |m| m[1] = 0),
        Node("vrid_errors"),
    ),
    both(
        "v3-ipv6-vrid-not-ours",
        "VRID 10 over IPv6 (only IPv4 runs VRID 10)",
        V3v6,
        "RFC 9568 §7.1",
        |c| mutated(c, V3v6, |m| m[1] = 10),
        Node("vrid_errors"),
    ),
    // IPv6 source.
    both(
        "v3-ipv6-global-source",
        "IPv6 advert from a global address",
        V3v6,
        "RFC 9568 §5.1.2.1, §7.1",
        |c| {
            let (src, dst) = (IpAddr::V6(c.src6_global), IpAddr::V6(MULTICAST_V6));
            Wire::Ip(ip(
                src,
                dst,
                255,
                &emit(&good(V3v6), src, dst, ChecksumMode::PseudoHeader),
            ))
        },
        Counter("source_errors"),
    ),
    // Unicast peers (keepalived's extension).
    Case {
        name: "unicast-from-stranger",
        what: "unicast advert to the backup from an address not in `unicast_peers`",
        inst: Unicast,
        rule: "unicast_peers (keepalived)",
        craft: |c| {
            let (src, dst) = (IpAddr::V4(c.attacker4), IpAddr::V4(c.backup4));
            Wire::Ip(ip(
                src,
                dst,
                255,
                &emit(&good(Unicast), src, dst, ChecksumMode::PseudoHeader),
            ))
        },
        master: NotDelivered,
        backup: Counter("unicast_source_errors"),
    },
    both(
        "unicast-multicast-from-stranger",
        "multicast advert for the unicast instance from a stranger",
        Unicast,
        "unicast_peers (keepalived)",
        |c| {
            let (src, dst) = (IpAddr::V4(c.attacker4), IpAddr::V4(MULTICAST_V4));
            Wire::Ip(ip(
                src,
                dst,
                255,
                &emit(&good(Unicast), src, dst, ChecksumMode::PseudoHeader),
            ))
        },
        Counter("unicast_source_errors"),
    ),
    // The address owner.
    Case {
        name: "priority-255-from-non-owner",
        what: "priority 255 from another address while host 1 is the owner",
        inst: Owner,
        rule: "RFC 9568 §7.1 (the owner ignores adverts for its VRID)",
        craft: |c| {
            let (src, dst) = source_and_group(c, Owner);
            let mut repr = good(Owner);
            repr.priority = 255;
            Wire::Ip(ip(
                src,
                dst,
                255,
                &emit(&repr, src, dst, ChecksumMode::PseudoHeader),
            ))
        },
        master: Counter("owner_discards"),
        backup: Accepted(None),
    },
    // IP headers the kernel refuses before any raw socket sees them (RFC 791; Linux
    // ip_rcv_core). Sent as Ethernet frames: even IP_HDRINCL fixes up or refuses these.
    both(
        "ipv4-ihl-4",
        "IPv4 header length 4 words (below the minimum 5)",
        V3v4,
        "RFC 791; Linux drops it (ip_rcv_core)",
        |c| frame4(c, |b| b.ihl(4)),
        Kernel("Ip.InHdrErrors"),
    ),
    both(
        "ipv4-ihl-beyond-datagram",
        "IPv4 header length 15 words in a 28-byte packet",
        V3v4,
        "RFC 791; Linux drops it (ip_rcv_core)",
        |c| frame4(c, |b| b.ihl(15)),
        Kernel("Ip.InHdrErrors"),
    ),
    both(
        "ipv4-total-length-beyond-frame",
        "IPv4 total length 200 in a 28-byte packet",
        V3v4,
        "RFC 791; Linux drops it (ip_rcv_core)",
        |c| frame4(c, |b| b.total_length(200)),
        Kernel("IpExt.InTruncatedPkts"),
    ),
    both(
        "ipv4-total-length-below-header",
        "IPv4 total length 16 (shorter than its header)",
        V3v4,
        "RFC 791; Linux drops it (ip_rcv_core)",
        |c| frame4(c, |b| b.total_length(16)),
        Kernel("Ip.InHdrErrors"),
    ),
    both(
        "ipv4-header-checksum",
        "IPv4 header checksum wrong",
        V3v4,
        "RFC 791; Linux drops it (ip_rcv_core)",
        |c| frame4(c, |b| b.header_checksum(0xbad)),
        Kernel("IpExt.InCsumErrors"),
    ),
];

// ----- observing the daemons ----------------------------------------------------------------

/// Counters that legitimate traffic moves all the time, or that count successes.
const TRAFFIC: &[&str] = &[
    "adverts_received",
    "became_master",
    "adverts_sent",
    "checksum_pseudo_header",
    "checksum_message_only",
    "master_transitions",
    "priority_zero_received",
    "priority_zero_sent",
];

/// What `vrrpd status --json` says about counters and states.
#[derive(Debug, Clone, PartialEq)]
struct Snapshot {
    /// instance name → counter → value.
    instances: BTreeMap<String, BTreeMap<String, u64>>,
    /// The daemon-wide counters.
    node: BTreeMap<String, u64>,
    /// instance name → (state, last transition time).
    states: BTreeMap<String, (String, Option<u64>)>,
}

fn counters(v: &serde_json::Value) -> BTreeMap<String, u64> {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect()
}

fn snapshot(d: &Daemon<'_>) -> Snapshot {
    let s = d.status();
    let mut instances = BTreeMap::new();
    let mut states = BTreeMap::new();
    for i in s["instances"].as_array().unwrap() {
        let name = i["name"].as_str().unwrap().to_owned();
        instances.insert(name.clone(), counters(&i["counters"]));
        states.insert(
            name,
            (
                i["state"].as_str().unwrap().to_owned(),
                i["last_transition"]["at_unix_ms"].as_u64(),
            ),
        );
    }
    Snapshot {
        instances,
        node: counters(&s["counters"]),
        states,
    }
}

/// The discard counters that changed between two snapshots: (instance or "daemon", counter,
/// delta).
fn discard_deltas(before: &Snapshot, after: &Snapshot) -> Vec<(String, String, u64)> {
    let mut out = Vec::new();
    let mut diff = |who: &str, b: &BTreeMap<String, u64>, a: &BTreeMap<String, u64>| {
        for (k, va) in a {
            let vb = b.get(k).copied().unwrap_or(0);
            if *va != vb && !TRAFFIC.contains(&k.as_str()) {
                out.push((who.to_owned(), k.clone(), va - vb));
            }
        }
    };
    diff("daemon", &before.node, &after.node);
    for (name, a) in &after.instances {
        diff(name, &before.instances[name], a);
    }
    out
}

/// A kernel counter (`Section.Field`) of /proc/net/snmp or /proc/net/netstat in `host`.
fn kernel_counter(host: &Host, key: &str) -> u64 {
    let (section, field) = key.split_once('.').unwrap();
    let text = host
        .run(&["cat", "/proc/net/snmp", "/proc/net/netstat"])
        .unwrap();
    let prefix = format!("{section}:");
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with(&prefix)).collect();
    for pair in lines.chunks(2) {
        let [names, values] = pair else { continue };
        let names: Vec<&str> = names.split_whitespace().collect();
        let values: Vec<&str> = values.split_whitespace().collect();
        if let Some(i) = names.iter().position(|n| *n == field) {
            return values[i].parse().unwrap();
        }
    }
    panic!("no {key} in /proc/net/snmp or /proc/net/netstat")
}

/// The lab: host 1 master, host 2 backup, host 3 the attacker; both daemons converged.
struct Pair<'l> {
    lab: &'l Lab,
    master: Daemon<'l>,
    backup: Daemon<'l>,
    injector: Injector,
    frames: vrrp_netlink::Announcer,
    ctx: Ctx,
}

fn start_pair(lab: &Lab) -> Pair<'_> {
    let (h1, h2, h3) = (
        lab.host(1).unwrap(),
        lab.host(2).unwrap(),
        lab.host(3).unwrap(),
    );
    let master = Daemon::start(lab, h1, &pair_config(h1, h2));
    let backup = Daemon::start(lab, h2, &pair_config(h2, h1));
    // Converged: every instance master on host 1 and backup on host 2 (v2 takes ~3.2 s).
    let converged = wait_until(Duration::from_secs(8), || {
        let (m, b) = (master.status(), backup.status());
        (0..Inst::ALL.len()).all(|i| {
            m["instances"][i]["state"] == "MASTER" && b["instances"][i]["state"] == "BACKUP"
        })
    });
    assert!(
        converged,
        "the pair did not converge:\n{}\n{}",
        master.child.log(),
        backup.child.log()
    );
    let injector = Injector::open(h3).unwrap();
    let ifindex = injector.ifindex();
    let frames = h3
        .in_ns(|| vrrp_netlink::Announcer::new(ifindex))
        .unwrap()
        .unwrap();
    let src6 = h3.link_local("eth0").unwrap().unwrap();
    assert_eq!(h3.mac(), ATTACKER_MAC);
    let ctx = Ctx {
        src4: h3.ipv4(),
        src6,
        src6_global: h3.ipv6(),
        attacker4: h3.ipv4(),
        master4: h1.ipv4(),
        backup4: h2.ipv4(),
    };
    Pair {
        lab,
        master,
        backup,
        injector,
        frames,
        ctx,
    }
}

impl Pair<'_> {
    fn send(&self, wire: &Wire) -> Result<(), String> {
        match wire {
            Wire::Ip(p) => self.injector.send(p).map_err(|e| format!("send: {e}")),
            Wire::Frame(f) => self.frames.send_frame(f).map_err(|e| format!("send: {e}")),
        }
    }
}

/// Waits until `outcome` shows on `d` (or a timeout), then checks it exactly against `before`.
fn verify(
    case: &Case,
    who: &str,
    d: &Daemon<'_>,
    host: &Host,
    outcome: Outcome,
    before: &Snapshot,
    kernel_before: u64,
) -> Result<(), String> {
    let inst = case.inst.name();
    let mut after = snapshot(d);
    let moved = |s: &Snapshot| match outcome {
        Outcome::Counter(c) => s.instances[inst][c] > before.instances[inst][c],
        Outcome::Daemon(c) => s.node[c] > before.node[c],
        Outcome::Accepted(Some(c)) => s.instances[inst][c] > before.instances[inst][c],
        Outcome::Kernel(k) => kernel_counter(host, k) > kernel_before,
        Outcome::Accepted(None) | Outcome::NotDelivered | Outcome::Martian => true,
    };
    let deadline = Instant::now() + Duration::from_secs(3);
    while !moved(&after) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        after = snapshot(d);
    }
    if matches!(
        outcome,
        Outcome::Accepted(None) | Outcome::NotDelivered | Outcome::Kernel(_) | Outcome::Martian
    ) {
        // Nothing of ours to wait for: give a stray packet time to be counted.
        std::thread::sleep(Duration::from_millis(100));
        after = snapshot(d);
    }
    let deltas = discard_deltas(before, &after);
    let expected: Vec<(String, String, u64)> = match outcome {
        Outcome::Counter(c) => vec![(inst.to_owned(), c.to_owned(), 1)],
        Outcome::Daemon(c) => vec![("daemon".to_owned(), c.to_owned(), 1)],
        _ => Vec::new(),
    };
    if deltas != expected {
        return Err(format!(
            "{}: on the {who}, expected discard counters {expected:?}, got {deltas:?}",
            case.name
        ));
    }
    if let Outcome::Accepted(Some(c)) = outcome {
        let d = after.instances[inst][c] - before.instances[inst][c];
        if d != 1 {
            return Err(format!("{}: on the {who}, {c} moved by {d}", case.name));
        }
    }
    if let Outcome::Kernel(k) = outcome {
        let d = kernel_counter(host, k) - kernel_before;
        if d != 1 {
            return Err(format!(
                "{}: on the {who}, kernel {k} moved by {d}",
                case.name
            ));
        }
    }
    if after.states != before.states {
        return Err(format!(
            "{}: the {who}'s states changed: {:?} → {:?}",
            case.name, before.states, after.states
        ));
    }
    Ok(())
}

// ----- tests --------------------------------------------------------------------------------

#[test]
fn each_hostile_packet_is_dropped_and_counted_exactly_once() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(3).unwrap();
    let pair = start_pair(&lab);
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let initial = (snapshot(&pair.master).states, snapshot(&pair.backup).states);
    let mut failures = Vec::new();
    for case in CASES {
        let kernel_key = |o: Outcome| match o {
            Outcome::Kernel(k) => Some(k),
            _ => None,
        };
        let kb_master = kernel_key(case.master).map_or(0, |k| kernel_counter(h1, k));
        let kb_backup = kernel_key(case.backup).map_or(0, |k| kernel_counter(h2, k));
        let before_master = snapshot(&pair.master);
        let before_backup = snapshot(&pair.backup);
        if let Err(e) = pair.send(&(case.craft)(&pair.ctx)) {
            failures.push(format!("{}: {e}", case.name));
            continue;
        }
        for (who, d, host, outcome, before, kb) in [
            (
                "master",
                &pair.master,
                h1,
                case.master,
                &before_master,
                kb_master,
            ),
            (
                "backup",
                &pair.backup,
                h2,
                case.backup,
                &before_backup,
                kb_backup,
            ),
        ] {
            if let Err(e) = verify(case, who, d, host, outcome, before, kb) {
                failures.push(e);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}\n--- master log\n{}\n--- backup log\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n"),
        pair.master.child.log(),
        pair.backup.child.log()
    );
    let end = (snapshot(&pair.master).states, snapshot(&pair.backup).states);
    assert_eq!(end, initial, "a state changed during the cases");
    let _ = pair.lab;
}

#[test]
fn hostile_packets_spoofing_the_dead_master_do_not_delay_the_takeover() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(3).unwrap();
    let mut pair = start_pair(&lab);
    let h1 = lab.host(1).unwrap();
    // From now on the hostile packets claim the master's addresses.
    pair.ctx.src4 = h1.ipv4();
    pair.ctx.src6 = h1.link_local("eth0").unwrap().unwrap();
    pair.ctx.src6_global = h1.ipv6();
    // Every case the backup must drop (the accepted ones are valid adverts: they would reset
    // the timer, as the RFC wants).
    let stream: Vec<Wire> = CASES
        .iter()
        .filter(|c| !matches!(c.backup, Outcome::Accepted(_) | Outcome::NotDelivered))
        .map(|c| (c.craft)(&pair.ctx))
        .collect();
    assert!(stream.len() >= 30, "{} cases in the stream", stream.len());
    pair.master.child.kill().unwrap();
    let killed = unix_ms();
    let started = Instant::now();
    let mut sent = 0u64;
    // Keep spraying until every instance has taken over (or long after it should have).
    let all_master = || {
        let s = pair.backup.status();
        (0..Inst::ALL.len()).all(|i| s["instances"][i]["state"] == "MASTER")
    };
    let mut next_check = Instant::now();
    loop {
        for w in &stream {
            pair.send(w).unwrap();
            sent += 1;
            std::thread::sleep(Duration::from_micros(300));
        }
        if Instant::now() >= next_check {
            if all_master() || started.elapsed() > Duration::from_secs(8) {
                break;
            }
            next_check = Instant::now() + Duration::from_millis(50);
        }
    }
    let s = pair.backup.status();
    let mut report = Vec::new();
    for (i, inst) in Inst::ALL.iter().enumerate() {
        let st = &s["instances"][i];
        assert_eq!(st["name"], inst.name());
        let at = st["last_transition"]["at_unix_ms"].as_u64().unwrap();
        let took = Duration::from_millis(at.saturating_sub(killed));
        let bound = inst.master_down();
        report.push(format!(
            "{}: {took:?} (Master_Down_Interval {bound:?})",
            inst.name()
        ));
        assert_eq!(
            st["state"],
            "MASTER",
            "{} did not take over while hostile packets flowed",
            inst.name()
        );
        assert_eq!(st["last_transition"]["reason"], "master_down_timer");
        // The last real advert left at most one interval before the kill.
        let earliest =
            bound.saturating_sub(inst.interval().as_duration() + Duration::from_millis(20));
        let latest = bound + Duration::from_millis(150);
        assert!(
            took >= earliest && took <= latest,
            "{}: took over {took:?} after the kill; Master_Down_Interval {bound:?}",
            inst.name()
        );
    }
    eprintln!(
        "{sent} hostile packets sent; takeovers: {}",
        report.join(", ")
    );
}

/// Lines of `log` that contain every one of `parts`.
fn log_lines(log: &str, parts: &[&str]) -> usize {
    log.lines()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .count()
}

#[test]
fn discard_logs_are_rate_limited_and_summarised() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(3).unwrap();
    let pair = start_pair(&lab);
    let burst = 300u64;
    let packet = with_ttl(&pair.ctx, V3v4, 64);
    let before = snapshot(&pair.backup);
    let sent_at = Instant::now();
    for _ in 0..burst {
        pair.send(&packet).unwrap();
        // Paced so that no socket buffer overflows: every packet must be counted.
        std::thread::sleep(Duration::from_millis(1));
    }
    let counted = |d: &Daemon<'_>, b: &Snapshot| {
        snapshot(d).instances["v3v4"]["ttl_errors"] - b.instances["v3v4"]["ttl_errors"]
    };
    assert!(wait_until(Duration::from_secs(3), || counted(
        &pair.backup,
        &before
    ) == burst));
    // One line per discard for the first five, then silence...
    let one_by_one = ["advert discarded", "v3v4", "ttl_errors"];
    let summary = ["more adverts discarded than logged", "v3v4", "ttl_errors"];
    for d in [&pair.master, &pair.backup] {
        assert_eq!(
            log_lines(&d.child.log(), &one_by_one),
            5,
            "{}",
            d.child.log()
        );
        assert_eq!(log_lines(&d.child.log(), &summary), 0);
    }
    // ...and one summary when the 10 s window ends, with the exact number left out.
    let suppressed = format!("suppressed={}", burst - 5);
    let summarised = wait_until(Duration::from_secs(12), || {
        [&pair.master, &pair.backup]
            .iter()
            .all(|d| log_lines(&d.child.log(), &summary) == 1)
    });
    let waited = sent_at.elapsed();
    for d in [&pair.master, &pair.backup] {
        let log = d.child.log();
        assert!(summarised, "no summary line:\n{log}");
        assert_eq!(
            log_lines(&log, &[&summary[..], &[&suppressed]].concat()),
            1,
            "{log}"
        );
        assert_eq!(log_lines(&log, &one_by_one), 5);
        // The other discards of the run (none) did not log either.
        assert_eq!(log_lines(&log, &["WARN"]), 6, "{log}");
    }
    eprintln!("{burst} discards: 5 lines + 1 summary after {waited:?}");
}

/// Utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// The drops column of /proc/net/raw in `host` (every raw IPv4 socket).
fn raw_drops(host: &Host) -> u64 {
    host.run(&["cat", "/proc/net/raw"])
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
        .sum()
}

#[test]
fn a_flood_of_forged_higher_priority_adverts_on_a_unicast_instance_is_ignored() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(3).unwrap();
    let pair = start_pair(&lab);
    let h2 = lab.host(2).unwrap();
    // Valid-looking: priority 254, the right VRID, VIP, interval and checksum, TTL 255, sent
    // to the backup's address like the master's unicast adverts; only the source (the
    // attacker's, not a unicast peer) is wrong.
    let Wire::Ip(packet) = (CASES
        .iter()
        .find(|c| c.name == "unicast-from-stranger")
        .unwrap()
        .craft)(&pair.ctx)
    else {
        panic!("an IP packet")
    };
    let rate = 100_000u64;
    let duration = Duration::from_secs(2);
    let before = snapshot(&pair.backup);
    let ticks_before = cpu_ticks(pair.backup.child.pid());
    let drops_before = raw_drops(h2);
    let start = Instant::now();
    let mut sent = 0u64;
    let mut send_errors = 0u64;
    while start.elapsed() < duration {
        // Paced in batches of 100 to 10^5 per second.
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        while sent < due {
            if pair.injector.send(&packet).is_err() {
                send_errors += 1;
            }
            sent += 1;
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    let elapsed = start.elapsed();
    // Let the daemon drain what is queued.
    std::thread::sleep(Duration::from_millis(500));
    let ticks = cpu_ticks(pair.backup.child.pid()) - ticks_before;
    let after = snapshot(&pair.backup);
    let counted = after.instances["unicast"]["unicast_source_errors"]
        - before.instances["unicast"]["unicast_source_errors"];
    let dropped = raw_drops(h2) - drops_before;
    let received = after.instances["unicast"]["adverts_received"]
        - before.instances["unicast"]["adverts_received"];
    // The master's adverts arrive on the socket connected to it, not in the flood's queue.
    let legit = received - counted;
    let tick_hz = 100.0; // USER_HZ on Linux
    let cpu = ticks as f64 / tick_hz / (elapsed.as_secs_f64() + 0.5);
    eprintln!(
        "flood: {sent} sent in {elapsed:?} ({:.0}/s, {send_errors} send errors); counted {counted}, \
         kernel queue drops {dropped}; {legit} adverts of the real master handled meanwhile; \
         backup daemon CPU {:.0} % of one core",
        sent as f64 / elapsed.as_secs_f64(),
        cpu * 100.0
    );
    assert_eq!(after.states, before.states, "the flood changed a state");
    assert_eq!(
        discard_deltas(&before, &after)
            .into_iter()
            .filter(|(_, c, _)| c != "unicast_source_errors")
            .collect::<Vec<_>>(),
        Vec::new()
    );
    // Every forged packet is accounted for: counted by vrrpd, or dropped by the kernel when
    // the daemon could not keep up (the drops column of /proc/net/raw). The kernel also
    // gives the catch-all socket a copy of each of the master's adverts (vrrpd skips it
    // there: it is handled from the socket connected to the master); while the flood fills
    // that queue, some of those copies are dropped too, so the drops may exceed the
    // forged packets by at most the master's adverts.
    assert_eq!(send_errors, 0);
    assert!(
        (sent..=sent + legit).contains(&(counted + dropped)),
        "counted {counted} + dropped {dropped} != sent {sent} (+ at most {legit} copies of \
         the master's adverts)"
    );
    assert!(counted >= sent / 2, "only {counted} of {sent} counted");
    // 2.5 s at 100 ms: about 25 real adverts, none lost to the flood.
    assert!(legit >= 20, "{legit} real adverts handled during the flood");
    assert!(cpu < 0.8, "the daemon used {:.0} % of a core", cpu * 100.0);
}

// ----- the table in docs/security.md ---------------------------------------------------------

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/security.md");
const TABLE_START: &str = "<!-- hostile-cases:start (generated from bins/vrrpd/tests/hostile.rs: UPDATE_DOCS=1 cargo test -p vrrpd --test hostile case_table) -->";
const TABLE_END: &str = "<!-- hostile-cases:end -->";

/// [`CASES`] as a Markdown table.
fn render_cases() -> String {
    let mut t = String::from(
        "| # | case | the packet | instance | host 1 (master) | host 2 (backup) | rule |\n|---|---|---|---|---|---|---|\n",
    );
    for (i, c) in CASES.iter().enumerate() {
        t.push_str(&format!(
            "| {} | `{}` | {} | {} | {} | {} | {} |\n",
            i + 1,
            c.name,
            c.what.replace('|', "\\|"),
            c.inst.describe(),
            c.master.describe(),
            c.backup.describe(),
            c.rule
        ));
    }
    t
}

#[test]
fn case_table_in_docs_is_current() {
    let table = render_cases();
    let doc = std::fs::read_to_string(DOC).unwrap_or_default();
    let (Some(a), Some(b)) = (doc.find(TABLE_START), doc.find(TABLE_END)) else {
        panic!("docs/security.md lacks the markers {TABLE_START} / {TABLE_END}");
    };
    let current = &doc[a + TABLE_START.len()..b];
    let wanted = format!("\n{table}");
    if current != wanted {
        if std::env::var_os("UPDATE_DOCS").is_some() {
            let new = format!("{}{}{wanted}{}", &doc[..a], TABLE_START, &doc[b..]);
            std::fs::write(DOC, new).unwrap();
        } else {
            panic!(
                "docs/security.md's case table is stale: run UPDATE_DOCS=1 cargo test -p vrrpd --test hostile case_table"
            );
        }
    }
    // At least 30 cases, names unique.
    assert!(CASES.len() >= 30, "{} cases", CASES.len());
    let mut names: Vec<&str> = CASES.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), CASES.len(), "duplicate case names");
}
