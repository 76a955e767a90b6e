//! The VRRP wire codec of vrrp-rs: VRRPv2 ([RFC 3768]) and VRRPv3 ([RFC 9568]) advertisements
//! over IPv4 and IPv6, in the style of smoltcp's `wire` module.
//!
//! - [`Packet`] is a zero-copy view over a byte buffer with field accessors and setters;
//!   [`Packet::new_checked`] makes it safe for untrusted input.
//! - [`VrrpRepr`] is the high-level form: [`VrrpRepr::parse`] validates a received message
//!   (structure and checksum), [`VrrpRepr::emit`] writes one with its checksum,
//!   [`VrrpRepr::buffer_len`] says how many bytes that takes.
//! - Checksums in every form VRRP uses, including both readings of VRRPv3 over IPv4
//!   ([`ChecksumMode`]).
//! - [`inspect`] runs every receive check of RFC 9568 §7.1 on an Ethernet frame, an IP packet
//!   or a bare message and names each result (what `vrrpd decode` prints).
//! - [`DecodeError`] is small and `Copy`, one variant per discard reason, each naming its
//!   counter.
//! - [`fuzzing`] holds the properties the fuzz targets check, shared with the corpus replay
//!   test so that `cargo test` runs every corpus file.
//!
//! **Decoding never panics and never allocates**, whatever the input, even with 255
//! addresses: the proptest and fuzz targets in this repository hold it to that, and a counting
//! allocator test checks the second half (`tests/no_alloc.rs`). Frames captured from
//! keepalived 2.2.7 are pinned as test vectors in `tests/vectors/`. The crate is `no_std`
//! (`default-features = false`) and depends on nothing but `thiserror`; it never reads a clock.
//!
//! ```
//! use core::net::{IpAddr, Ipv4Addr};
//! use vrrp_packet::{AddressList, ChecksumContext, ChecksumMode, Interval, Version, VrrpRepr, Auth};
//!
//! let vips = [Ipv4Addr::new(192, 0, 2, 100)];
//! let repr = VrrpRepr {
//!     version: Version::V3,
//!     vrid: 51,
//!     priority: 100,
//!     advert_interval: Interval::from_centis(100),
//!     auth: Auth::None,
//!     addresses: AddressList::ipv4(&vips),
//! };
//! let src = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11));
//! let dst = IpAddr::V4(vrrp_packet::MULTICAST_V4);
//! let mut buf = [0u8; 64];
//! let len = repr
//!     .emit(&mut buf, &ChecksumContext { src, dst, mode: ChecksumMode::PseudoHeader })
//!     .unwrap();
//!
//! let (parsed, mode) = VrrpRepr::decode(&buf[..len], src, dst).unwrap();
//! assert_eq!(parsed, repr);
//! assert_eq!(mode, ChecksumMode::PseudoHeader);
//! assert_eq!(parsed.to_string(), "VRRPv3 advert vrid 51 prio 100 intvl 1s addrs 1 [192.0.2.100]");
//! ```
//!
//! [RFC 3768]: https://www.rfc-editor.org/rfc/rfc3768
//! [RFC 9568]: https://www.rfc-editor.org/rfc/rfc9568
#![cfg_attr(not(feature = "std"), no_std)]

mod check;
mod checksum;
mod error;
pub mod fuzzing;
pub mod ip;
mod vrrp;

pub use check::{
    Check, Expectations, Failure, Inspection, Layer, MAX_CHECKS, Outcome, check_auth, inspect,
};
pub use checksum::{ChecksumMode, IP_PROTOCOL_VRRP};
pub use error::{DecodeError, EmitError, EthernetError, IpHeaderError, MismatchError};
pub use vrrp::{
    AUTH_DATA_LEN, AddressFamily, AddressList, Auth, CheckName, ChecksumContext, HEADER_LEN,
    Interval, MULTICAST_V4, MULTICAST_V6, Packet, TYPE_ADVERTISEMENT, Version, VrrpRepr,
};
