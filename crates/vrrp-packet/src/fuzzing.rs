//! The properties the fuzz targets check, as plain functions, so that `fuzz/` and the corpus
//! replay test (`tests/corpus_replay.rs`) run exactly the same code on the same bytes.
//!
//! Each function takes arbitrary bytes, never panics on its own and returns `Err` with a short
//! description when a property does not hold; the fuzz targets turn that `Err` into a crash.
//! None of them allocates.

use core::fmt::{self, Write};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::{
    AddressFamily, AddressList, Auth, ChecksumContext, ChecksumMode, Expectations, Interval, Layer,
    Packet, Version, VrrpRepr, inspect,
};

/// A `fmt::Write` sink that only counts, to exercise every `Display` without allocating.
struct Sink(usize);

impl Write for Sink {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

/// Splits fuzz input into (src, dst, message): byte 0 chooses the family (even: IPv4, odd:
/// IPv6), then come the source and destination addresses, then the message.
fn split_addresses(data: &[u8]) -> Option<(IpAddr, IpAddr, &[u8])> {
    let (&selector, rest) = data.split_first()?;
    if selector % 2 == 0 {
        let src: [u8; 4] = rest.get(0..4)?.try_into().ok()?;
        let dst: [u8; 4] = rest.get(4..8)?.try_into().ok()?;
        Some((
            IpAddr::V4(Ipv4Addr::from(src)),
            IpAddr::V4(Ipv4Addr::from(dst)),
            rest.get(8..)?,
        ))
    } else {
        let src: [u8; 16] = rest.get(0..16)?.try_into().ok()?;
        let dst: [u8; 16] = rest.get(16..32)?.try_into().ok()?;
        Some((
            IpAddr::V6(Ipv6Addr::from(src)),
            IpAddr::V6(Ipv6Addr::from(dst)),
            rest.get(32..)?,
        ))
    }
}

/// Target `decode`: `data` is a family selector byte, source and destination addresses and a
/// VRRP message. Decodes it; if it is accepted, the repr must be valid, emit to the same
/// length with the checksum form that matched, and decode again to an equal repr.
pub fn decode(data: &[u8]) -> Result<(), &'static str> {
    let Some((src, dst, message)) = split_addresses(data) else {
        return Ok(());
    };
    let packet = match Packet::new_checked(message) {
        Ok(p) => p,
        Err(_) => return Ok(()),
    };
    let mut sink = Sink(0);
    write!(sink, "{packet}").map_err(|_| "Packet Display failed")?;
    let Ok((repr, mode)) = VrrpRepr::decode(message, src, dst) else {
        return Ok(());
    };
    write!(sink, "{repr}").map_err(|_| "VrrpRepr Display failed")?;
    repr.validate()
        .map_err(|_| "a decoded repr does not validate")?;
    if repr.buffer_len() != message.len() {
        return Err("buffer_len differs from the decoded message length");
    }
    let mut buf = [0u8; 8 + 255 * 16 + 8];
    let len = repr
        .emit(&mut buf, &ChecksumContext { src, dst, mode })
        .map_err(|_| "a decoded repr cannot be emitted")?;
    let (again, mode_again) =
        VrrpRepr::decode(&buf[..len], src, dst).map_err(|_| "re-emitted message rejected")?;
    if again != repr {
        return Err("decode → emit → decode changed the repr");
    }
    if mode_again != mode {
        return Err("re-emitted checksum form differs");
    }
    Ok(())
}

/// Target `inspect_frame`: `data` is a whole frame, IP packet or message. Runs [`inspect`]
/// with the detected layer and with each explicit layer, with and without expectations, and
/// checks that the report is self-consistent.
pub fn inspect_frame(data: &[u8]) -> Result<(), &'static str> {
    let vrids = [1u8, 51, 255];
    let expect = Expectations {
        version: Some(Version::V3),
        vrids: Some(&vrids),
        advert_interval: Some(Interval::DEFAULT),
        auth: Some(Auth::simple_password("1234abcd")),
    };
    for layer in [
        None,
        Some(Layer::Ethernet),
        Some(Layer::Ip),
        Some(Layer::Vrrp),
    ] {
        for e in [Expectations::default(), expect] {
            let report = inspect(data, layer, &e);
            let mut sink = Sink(0);
            for check in report.checks() {
                if let crate::Outcome::Fail(f) = check.outcome {
                    write!(sink, "{} {f} {}", check.name.as_str(), f.counter())
                        .map_err(|_| "Failure Display failed")?;
                }
            }
            if let Some(p) = report.vrrp {
                write!(sink, "{p}").map_err(|_| "Packet Display failed")?;
            }
            if let Some(r) = report.repr {
                write!(sink, "{r}").map_err(|_| "VrrpRepr Display failed")?;
            }
            if report.is_valid() && report.repr.is_none() {
                return Err("valid without a repr");
            }
            if report.is_valid() != report.first_failure().is_none() {
                return Err("is_valid disagrees with first_failure");
            }
            if let (Some(mode), Some(repr)) = (report.checksum_mode, report.repr)
                && repr.version == Version::V2
                && mode != ChecksumMode::MessageOnly
            {
                return Err("a VRRPv2 checksum matched a pseudo-header form");
            }
        }
    }
    Ok(())
}

/// Reads bytes from the front of the fuzz input.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }
}

/// Target `roundtrip`: builds an always-valid repr from `data` (version, family, VRID,
/// priority, interval, auth, checksum form, 1..255 addresses), emits it and checks that
/// parsing the result gives the same repr and the same checksum form.
pub fn roundtrip(data: &[u8]) -> Result<(), &'static str> {
    let mut r = Reader(data);
    let flags = r.u8();
    let version = if flags & 1 == 0 {
        Version::V2
    } else {
        Version::V3
    };
    // VRRPv2 is IPv4 only.
    let family = if version == Version::V3 && flags & 2 != 0 {
        AddressFamily::Ipv6
    } else {
        AddressFamily::Ipv4
    };
    let mode = if flags & 4 == 0 {
        ChecksumMode::PseudoHeader
    } else {
        ChecksumMode::MessageOnly
    };
    let vrid = r.u8().max(1);
    let priority = r.u8();
    let count = usize::from(r.u8().max(1));
    let advert_interval = match version {
        Version::V2 => Interval::from_secs(u16::from(r.u8().max(1))),
        Version::V3 => Interval::from_centis((r.u16() % 4095) + 1),
    };
    let auth = match (version, flags & 8 != 0) {
        (Version::V2, true) => match r.take(8).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
            Some(p) => Auth::SimplePassword(p),
            None => Auth::None,
        },
        _ => Auth::None,
    };
    let (src, dst) = match family {
        AddressFamily::Ipv4 => {
            let s = Ipv4Addr::from(u32::from(r.u16()) << 16 | u32::from(r.u16()));
            let d = Ipv4Addr::from(u32::from(r.u16()) << 16 | u32::from(r.u16()));
            (IpAddr::V4(s), IpAddr::V4(d))
        }
        AddressFamily::Ipv6 => {
            let mut s = [0u8; 16];
            let mut d = [0u8; 16];
            s.iter_mut().for_each(|b| *b = r.u8());
            d.iter_mut().for_each(|b| *b = r.u8());
            (IpAddr::V6(Ipv6Addr::from(s)), IpAddr::V6(Ipv6Addr::from(d)))
        }
    };
    // The addresses: whatever bytes remain, cycled to fill `count` addresses.
    let size = family.address_len();
    let mut storage = [0u8; 255 * 16];
    let rest = r.0;
    for (i, b) in storage.iter_mut().take(count * size).enumerate() {
        *b = if rest.is_empty() {
            i as u8
        } else {
            rest[i % rest.len()]
        };
    }
    let repr = VrrpRepr {
        version,
        vrid,
        priority,
        advert_interval,
        auth,
        addresses: AddressList::from_wire(family, &storage[..count * size]),
    };
    let mut buf = [0u8; 8 + 255 * 16 + 8];
    let len = repr
        .emit(&mut buf, &ChecksumContext { src, dst, mode })
        .map_err(|_| "a valid repr could not be emitted")?;
    if len != repr.buffer_len() {
        return Err("emit wrote a length other than buffer_len");
    }
    let (parsed, parsed_mode) =
        VrrpRepr::decode(&buf[..len], src, dst).map_err(|_| "an emitted message was rejected")?;
    if parsed != repr {
        return Err("emit → parse changed the repr");
    }
    // v2 always uses the message-only form and v3 over IPv6 always the pseudo-header; for v3
    // over IPv4 the form asked for must be the one found, unless both forms give the same sum.
    let expected_mode = match (version, family) {
        (Version::V2, _) => ChecksumMode::MessageOnly,
        (_, AddressFamily::Ipv6) => ChecksumMode::PseudoHeader,
        _ => mode,
    };
    if parsed_mode != expected_mode {
        let packet = Packet::new_unchecked(&buf[..len]);
        let both_equal = packet.compute_checksum(ChecksumMode::PseudoHeader, src, dst)
            == packet.compute_checksum(ChecksumMode::MessageOnly, src, dst);
        if !both_equal {
            return Err("the checksum form found is not the one emitted");
        }
    }
    Ok(())
}
