//! The Internet checksum (RFC 1071) and the pseudo-headers VRRP uses.
//!
//! Which bytes a VRRP checksum covers depends on the version and the address family:
//!
//! | version | family | covers | reference |
//! |---|---|---|---|
//! | 2 | IPv4 | the VRRP message | RFC 3768 §5.3.8 |
//! | 3 | IPv6 | IPv6 pseudo-header + message | RFC 9568 §5.2.8, RFC 8200 §8.1 |
//! | 3 | IPv4 | the message only (RFC 9568 §5.2.8), **or** IPv4 pseudo-header + message (what keepalived ≤ 2.2.7 and FRR send) | see [`ChecksumMode`] |

use core::net::IpAddr;

/// IP protocol number of VRRP (RFC 9568 §5.1.1.4, §5.1.2.3).
pub const IP_PROTOCOL_VRRP: u8 = 112;

/// Which bytes a VRRPv3-over-IPv4 checksum covers.
///
/// RFC 9568 §5.2.8 computes the checksum over the VRRP message only for IPv4 (the
/// pseudo-header belongs to IPv6). RFC 5798 was read both ways: keepalived up to 2.2.7 and
/// FRR include the IPv4 pseudo-header (source, destination, zero, protocol 112, length) and
/// keepalived 2.2.7 rejects the other form. Sending the pseudo-header form is therefore the
/// default (it is what the installed base understands); on receive both forms are accepted
/// and the matching one is reported so that it can be counted.
///
/// For VRRPv2 the checksum is always over the message ([`ChecksumMode::MessageOnly`]); for
/// VRRPv3 over IPv6 it always includes the pseudo-header ([`ChecksumMode::PseudoHeader`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ChecksumMode {
    /// Pseudo-header + message (keepalived ≤ 2.2.7, FRR; always used for IPv6).
    #[default]
    PseudoHeader,
    /// Message only (RFC 9568 §5.2.8 for IPv4; always used for VRRPv2).
    MessageOnly,
}

impl ChecksumMode {
    /// A short, stable, human-readable name: `"pseudo-header"` or `"message-only"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ChecksumMode::PseudoHeader => "pseudo-header",
            ChecksumMode::MessageOnly => "message-only",
        }
    }
}

impl core::fmt::Display for ChecksumMode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Adds `data` to a running one's complement sum (not yet inverted; folded to at most 17
/// bits, so that callers can keep adding small values to it).
///
/// Odd-length data is padded with a zero byte, as RFC 1071 requires. The sum is taken over
/// 32-bit big-endian words in a 64-bit accumulator and folded at the end: one's complement
/// addition is associative, so this equals the 16-bit word sum (RFC 1071 §2 (B), (C)) and
/// cannot overflow for any input shorter than 16 GiB.
pub(crate) fn sum_bytes(acc: u32, data: &[u8]) -> u32 {
    let mut sum = u64::from(acc);
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        sum += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    let rest = words.remainder();
    let mut tail = [0u8; 4];
    tail[..rest.len()].copy_from_slice(rest);
    sum += u64::from(u32::from_be_bytes(tail));
    // Fold 64 → 32 → 16 bits (end-around carries).
    sum = (sum & 0xffff_ffff) + (sum >> 32);
    sum = (sum & 0xffff_ffff) + (sum >> 32);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    // At most 0xffff + 1 here; fits in u32.
    sum as u32
}

/// Folds a running sum to 16 bits (without inverting it).
pub(crate) fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    // The loop above leaves acc <= 0xffff.
    acc as u16
}

/// The sum of the pseudo-header for a upper-layer message of `len` bytes between `src` and
/// `dst`. Returns `None` if the two addresses are of different families.
pub(crate) fn pseudo_header_sum(src: IpAddr, dst: IpAddr, len: usize) -> Option<u32> {
    match (src, dst) {
        // IPv4 pseudo-header: src, dst, zero, protocol, 16-bit length (RFC 768 / RFC 793 form).
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut acc = sum_bytes(0, &s.octets());
            acc = sum_bytes(acc, &d.octets());
            acc = acc.wrapping_add(u32::from(IP_PROTOCOL_VRRP));
            acc = acc.wrapping_add((len as u32) & 0xffff);
            Some(acc)
        }
        // IPv6 pseudo-header: src, dst, 32-bit length, 3 zero bytes, next header (RFC 8200 §8.1).
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut acc = sum_bytes(0, &s.octets());
            acc = sum_bytes(acc, &d.octets());
            let len = len as u32;
            acc = acc.wrapping_add(len >> 16).wrapping_add(len & 0xffff);
            acc = acc.wrapping_add(u32::from(IP_PROTOCOL_VRRP));
            Some(acc)
        }
        _ => None,
    }
}

/// The Internet checksum of `message` with an optional pseudo-header sum already computed.
/// The checksum field inside `message` must be zero (or be compensated by the caller).
pub(crate) fn checksum(pseudo: u32, message: &[u8]) -> u16 {
    !fold(sum_bytes(pseudo, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3 worked example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum_bytes(0, &data)), 0xddf2);
        assert_eq!(checksum(0, &data), !0xddf2);
    }

    #[test]
    fn odd_length_is_zero_padded() {
        assert_eq!(fold(sum_bytes(0, &[0xab])), 0xab00);
        assert_eq!(fold(sum_bytes(0, &[0x12, 0x34, 0xab])), 0x12_34 + 0xab00);
    }

    #[test]
    fn large_input_does_not_overflow() {
        let data = [0xffu8; 65_535];
        // All-ones words sum to 0xffff in one's complement arithmetic, plus the padded 0xff00.
        let folded = fold(sum_bytes(0, &data));
        assert_eq!(folded, fold(0xffff + 0xff00));
    }

    #[test]
    fn mixed_families_have_no_pseudo_header() {
        let v4 = IpAddr::from([192, 0, 2, 1]);
        let v6 = IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]);
        assert_eq!(pseudo_header_sum(v4, v6, 8), None);
    }
}
