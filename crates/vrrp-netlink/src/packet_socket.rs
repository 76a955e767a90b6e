//! Sending whole Ethernet frames on an AF_PACKET socket (socket2).
//!
//! This is the crate's only `unsafe`: socket2 has no constructor for a link-layer address
//! (`sockaddr_ll`), so one is written into a `sockaddr_storage` by hand.

use std::mem::size_of;
use std::net::{Ipv4Addr, Ipv6Addr};

use socket2::{Domain, Protocol, SockAddr, SockAddrStorage, Socket, Type, socklen_t};

use crate::error::{NetlinkError, Result};
use crate::frames::{NeighborAdvert, PreparedAnnouncement, gratuitous_arp, unsolicited_na};
use crate::types::Mac;

/// Sends announcement frames (gratuitous ARP, unsolicited NA, or any Ethernet frame) out of
/// one interface, one frame per call.
///
/// Repeats (`garp_repeat` frames `garp_interval` apart, the refresh while master) are the
/// caller's scheduling. The socket is opened in the network namespace of the calling thread,
/// with protocol 0 so that it never receives (no queue to drain), and non-blocking.
#[derive(Debug)]
pub struct Announcer {
    socket: Socket,
    ifindex: u32,
}

impl Announcer {
    /// Opens the socket for interface `ifindex` (needs CAP_NET_RAW).
    pub fn new(ifindex: u32) -> Result<Self> {
        let socket =
            Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(0))).map_err(|source| {
                NetlinkError::Packet {
                    op: "open an AF_PACKET socket".into(),
                    source,
                }
            })?;
        socket
            .set_nonblocking(true)
            .map_err(|source| NetlinkError::Packet {
                op: "make the AF_PACKET socket non-blocking".into(),
                source,
            })?;
        Ok(Self { socket, ifindex })
    }

    /// The interface it sends on.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Sends one complete Ethernet frame (destination, source, EtherType, payload) as is.
    pub fn send_frame(&self, frame: &[u8]) -> Result<()> {
        let (Some(dst), Some(ethertype)) = (frame.get(0..6), frame.get(12..14)) else {
            return Err(NetlinkError::ShortFrame(frame.len()));
        };
        let mut dst_mac = [0u8; 6];
        dst_mac.copy_from_slice(dst);
        let ethertype = u16::from_be_bytes([ethertype[0], ethertype[1]]);
        let address = link_address(self.ifindex, ethertype, dst_mac);
        let op = || format!("send a {}-byte frame on link {}", frame.len(), self.ifindex);
        let sent = self
            .socket
            .send_to(frame, &address)
            .map_err(|source| NetlinkError::Packet { op: op(), source })?;
        if sent != frame.len() {
            return Err(NetlinkError::Packet {
                op: op(),
                source: std::io::Error::new(
                    std::io::ErrorKind::WriteZero,
                    format!("only {sent} bytes sent"),
                ),
            });
        }
        Ok(())
    }

    /// Sends one gratuitous ARP for `vip` from `mac` (see [`gratuitous_arp`]).
    pub fn send_garp(&self, mac: Mac, vip: Ipv4Addr) -> Result<()> {
        self.send_frame(&gratuitous_arp(mac, vip))
    }

    /// Sends one unsolicited Neighbour Advertisement (see [`unsolicited_na`]).
    pub fn send_na(&self, na: &NeighborAdvert) -> Result<()> {
        self.send_frame(&unsolicited_na(na))
    }

    /// Sends a [`PreparedAnnouncement`], an NA with the Router flag as `router` says.
    pub fn send_prepared(&self, announcement: &PreparedAnnouncement, router: bool) -> Result<()> {
        self.send_frame(announcement.frame(router))
    }

    /// Sends the NA keepalived sends for `vip`: from the VIP, Override set, R as `router`.
    pub fn send_unsolicited_na(&self, mac: Mac, vip: Ipv6Addr, router: bool) -> Result<()> {
        self.send_na(&NeighborAdvert::unsolicited(mac, vip, router))
    }
}

/// The `sockaddr_ll` to `bind(2)` an AF_PACKET socket with: receive the frames of interface
/// `ifindex` whose EtherType is `protocol` (host byte order; `0x0003`, `ETH_P_ALL`, for every
/// frame, incoming and outgoing), as packet(7) describes. Only the address is built here: the
/// caller opens and binds its own socket (`vrrpd watch` does).
pub fn link_bind_address(ifindex: u32, protocol: u16) -> SockAddr {
    // bind(2) on AF_PACKET reads only the family, protocol and interface index.
    link_address(ifindex, protocol, [0; 6])
}

/// A `sockaddr_ll` for sending on `ifindex` to `dst` with `ethertype` (packet(7)).
#[allow(unsafe_code)]
fn link_address(ifindex: u32, ethertype: u16, dst: [u8; 6]) -> SockAddr {
    let mut storage = SockAddrStorage::zeroed();
    // SAFETY: `sockaddr_ll` is one of this platform's socket address types, as `view_as`
    // requires, and it is smaller than `sockaddr_storage` (view_as asserts the size).
    let ll = unsafe { storage.view_as::<libc::sockaddr_ll>() };
    ll.sll_family = libc::AF_PACKET as libc::sa_family_t;
    ll.sll_protocol = ethertype.to_be();
    ll.sll_ifindex = ifindex as libc::c_int;
    ll.sll_halen = 6;
    ll.sll_addr[..6].copy_from_slice(&dst);
    let len = size_of::<libc::sockaddr_ll>() as socklen_t;
    // SAFETY: the storage was zeroed and its first `len` bytes now hold the `sockaddr_ll`
    // written above, whose family field says AF_PACKET.
    unsafe { SockAddr::new(storage, len) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_address_is_an_af_packet_address() {
        let a = link_address(7, 0x0806, [0xff; 6]);
        assert_eq!(i32::from(a.family()), libc::AF_PACKET);
        assert_eq!(a.len() as usize, size_of::<libc::sockaddr_ll>());
        assert!(a.as_socket().is_none(), "not an IP address");
    }

    #[test]
    fn bind_address_is_an_af_packet_address() {
        let a = link_bind_address(3, 0x0003);
        assert_eq!(i32::from(a.family()), libc::AF_PACKET);
        assert_eq!(a.len() as usize, size_of::<libc::sockaddr_ll>());
    }
}
