//! The announcement frames a new master sends: gratuitous ARP (IPv4) and unsolicited
//! Neighbour Advertisements (IPv6), complete Ethernet frames built with `pnet_packet`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pnet_base::MacAddr;
use pnet_packet::MutablePacket;
use pnet_packet::arp::{ArpHardwareTypes, ArpOperations, MutableArpPacket};
use pnet_packet::ethernet::{EtherTypes, MutableEthernetPacket};
use pnet_packet::icmpv6::ndp::{
    Icmpv6Codes, MutableNeighborAdvertPacket, NdpOption, NdpOptionTypes, NeighborAdvertFlags,
};
use pnet_packet::icmpv6::{Icmpv6Packet, Icmpv6Types};
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv6::MutableIpv6Packet;

use crate::types::Mac;

/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// The all-nodes multicast address, where unsolicited NAs go (RFC 4861 §7.2.6).
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// The Ethernet address of ff02::1 (RFC 2464 §7: 33-33 + the low 32 bits).
pub const ALL_NODES_MAC: Mac = Mac([0x33, 0x33, 0, 0, 0, 1]);
/// Length of a gratuitous ARP frame: Ethernet header 14 + ARP 28 (no padding, as keepalived
/// sends it; the kernel or NIC pads on the wire where needed).
pub const GARP_LEN: usize = 14 + 28;
/// Length of an unsolicited NA frame: Ethernet 14 + IPv6 40 + NA 24 + target link-layer
/// address option 8.
pub const NA_LEN: usize = 14 + 40 + 24 + 8;
/// Hop limit of every Neighbour Discovery message (RFC 4861 §7.1.2: receivers drop others).
pub const ND_HOP_LIMIT: u8 = 255;

const ETH_HEADER: usize = 14;
const IPV6_HEADER: usize = 40;
const NA_PAYLOAD: usize = 24 + 8;

fn mac_addr(mac: Mac) -> MacAddr {
    let [a, b, c, d, e, f] = mac.0;
    MacAddr::new(a, b, c, d, e, f)
}

/// A gratuitous ARP for `ip` from `mac`, exactly as keepalived sends it: Ethernet broadcast
/// from `mac`, ARP request (op 1), sender = target protocol address = `ip`, sender hardware
/// address `mac`, target hardware address ff:ff:ff:ff:ff:ff.
///
/// RFC 9568 §6.4.1 / §6.4.2 (v3) and RFC 3768 §6.4.2 (v2): a new master broadcasts a
/// gratuitous ARP for each IPv4 address of the virtual router, with the virtual router MAC
/// (with a VMAC) or the interface's MAC (keepalived without `use_vmac`).
pub fn gratuitous_arp(mac: Mac, ip: Ipv4Addr) -> [u8; GARP_LEN] {
    let mut frame = [0u8; GARP_LEN];
    if let Some(mut eth) = MutableEthernetPacket::new(&mut frame) {
        eth.set_destination(MacAddr::broadcast());
        eth.set_source(mac_addr(mac));
        eth.set_ethertype(EtherTypes::Arp);
        if let Some(mut arp) = MutableArpPacket::new(eth.payload_mut()) {
            arp.set_hardware_type(ArpHardwareTypes::Ethernet);
            arp.set_protocol_type(EtherTypes::Ipv4);
            arp.set_hw_addr_len(6);
            arp.set_proto_addr_len(4);
            arp.set_operation(ArpOperations::Request);
            arp.set_sender_hw_addr(mac_addr(mac));
            arp.set_sender_proto_addr(ip);
            arp.set_target_hw_addr(MacAddr::broadcast());
            arp.set_target_proto_addr(ip);
        }
    }
    frame
}

/// The fields of an unsolicited Neighbour Advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighborAdvert {
    /// The link-layer address to announce (target link-layer address option) and the
    /// Ethernet source: the VMAC, or the interface's MAC.
    pub mac: Mac,
    /// The address announced (the VIP).
    pub target: Ipv6Addr,
    /// The IPv6 source address.
    pub source: Ipv6Addr,
    /// The Router flag.
    pub router: bool,
}

impl NeighborAdvert {
    /// The NA keepalived sends for a VIP: from the VIP itself, with `router` as the R flag
    /// (keepalived sets R when IPv6 forwarding is on; RFC 9568 §6.4.2 wants it set).
    pub fn unsolicited(mac: Mac, vip: Ipv6Addr, router: bool) -> Self {
        Self {
            mac,
            target: vip,
            source: vip,
            router,
        }
    }
}

/// An unsolicited Neighbour Advertisement frame: Ethernet from `na.mac` to 33:33:00:00:00:01,
/// IPv6 from `na.source` to ff02::1 with hop limit 255, ICMPv6 type 136 code 0 with Override
/// set, Solicited clear and Router as asked, the target address, and a target link-layer
/// address option (type 2, length 1) carrying `na.mac`; ICMPv6 checksum over the IPv6
/// pseudo-header.
///
/// RFC 9568 §6.4.2: for each IPv6 address of the virtual router, "send an unsolicited ND
/// Neighbor Advertisement with the Router Flag (R) set, the Solicited Flag (S) clear, the
/// Override flag (O) set, the target address set to the IPv6 address of the Virtual Router,
/// and the target link-layer address set to the Virtual Router MAC address". RFC 4861 §7.2.6:
/// unsolicited advertisements go to the all-nodes multicast address with S clear.
pub fn unsolicited_na(na: &NeighborAdvert) -> [u8; NA_LEN] {
    let mut frame = [0u8; NA_LEN];
    if let Some(mut eth) = MutableEthernetPacket::new(&mut frame) {
        eth.set_destination(mac_addr(ALL_NODES_MAC));
        eth.set_source(mac_addr(na.mac));
        eth.set_ethertype(EtherTypes::Ipv6);
    }
    if let Some(mut ip) = MutableIpv6Packet::new(&mut frame[ETH_HEADER..]) {
        ip.set_version(6);
        ip.set_traffic_class(0);
        ip.set_flow_label(0);
        ip.set_payload_length(NA_PAYLOAD as u16);
        ip.set_next_header(IpNextHeaderProtocols::Icmpv6);
        ip.set_hop_limit(ND_HOP_LIMIT);
        ip.set_source(na.source);
        ip.set_destination(ALL_NODES);
    }
    let icmp = &mut frame[ETH_HEADER + IPV6_HEADER..];
    if let Some(mut adv) = MutableNeighborAdvertPacket::new(icmp) {
        adv.set_icmpv6_type(Icmpv6Types::NeighborAdvert);
        adv.set_icmpv6_code(Icmpv6Codes::NoCode);
        let mut flags = NeighborAdvertFlags::Override;
        if na.router {
            flags |= NeighborAdvertFlags::Router;
        }
        adv.set_flags(flags);
        adv.set_reserved(0);
        adv.set_target_addr(na.target);
        adv.set_options(&[NdpOption {
            option_type: NdpOptionTypes::TargetLLAddr,
            length: 1,
            data: na.mac.0.to_vec(),
        }]);
    }
    let checksum = Icmpv6Packet::new(&frame[ETH_HEADER + IPV6_HEADER..])
        .map(|p| pnet_packet::icmpv6::checksum(&p, &na.source, &ALL_NODES))
        .unwrap_or(0);
    frame[ETH_HEADER + IPV6_HEADER + 2..ETH_HEADER + IPV6_HEADER + 4]
        .copy_from_slice(&checksum.to_be_bytes());
    frame
}

/// The announcement of one virtual address, built once (at instance setup) so that a
/// takeover only sends bytes: on the project's VM, building the frame on the takeover's path
/// ran cold, after the VIP's install, on the way to the first gratuitous ARP
/// (`docs/performance.md`).
///
/// An IPv6 address keeps two frames, with the Router flag clear and set: which one is right
/// depends on the interface's `forwarding` at the moment it is sent (see
/// [`NeighborAdvert::unsolicited`]), and a host that hears R clear from its router removes
/// it from its default routers (RFC 4861 §7.2.5), so the flag is never guessed in advance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreparedAnnouncement {
    /// A gratuitous ARP ([`gratuitous_arp`]).
    Arp {
        /// The address announced.
        vip: Ipv4Addr,
        /// The frame.
        frame: [u8; GARP_LEN],
    },
    /// An unsolicited Neighbour Advertisement ([`unsolicited_na`] of
    /// [`NeighborAdvert::unsolicited`]).
    Na {
        /// The address announced.
        vip: Ipv6Addr,
        /// The frame with the Router flag clear.
        router_clear: [u8; NA_LEN],
        /// The frame with the Router flag set.
        router_set: [u8; NA_LEN],
    },
}

impl PreparedAnnouncement {
    /// The frames announcing `vip` from `mac` (the VMAC, or the interface's MAC).
    pub fn new(mac: Mac, vip: IpAddr) -> Self {
        match vip {
            IpAddr::V4(vip) => PreparedAnnouncement::Arp {
                vip,
                frame: gratuitous_arp(mac, vip),
            },
            IpAddr::V6(vip) => PreparedAnnouncement::Na {
                vip,
                router_clear: unsolicited_na(&NeighborAdvert::unsolicited(mac, vip, false)),
                router_set: unsolicited_na(&NeighborAdvert::unsolicited(mac, vip, true)),
            },
        }
    }

    /// The address announced.
    pub fn vip(&self) -> IpAddr {
        match self {
            PreparedAnnouncement::Arp { vip, .. } => IpAddr::V4(*vip),
            PreparedAnnouncement::Na { vip, .. } => IpAddr::V6(*vip),
        }
    }

    /// Whether it is a Neighbour Advertisement (its frame depends on the Router flag).
    pub fn is_na(&self) -> bool {
        matches!(self, PreparedAnnouncement::Na { .. })
    }

    /// The frame to send: for an NA the one with the Router flag as `router` says; a
    /// gratuitous ARP has no such flag and ignores it.
    pub fn frame(&self, router: bool) -> &[u8] {
        match self {
            PreparedAnnouncement::Arp { frame, .. } => frame,
            PreparedAnnouncement::Na {
                router_clear,
                router_set,
                ..
            } => {
                if router {
                    router_set
                } else {
                    router_clear
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: Mac = Mac([0x02, 0x00, 0x00, 0x00, 0x01, 0x11]);

    #[test]
    fn gratuitous_arp_has_every_field_keepalived_sends() {
        let vip = Ipv4Addr::new(192, 0, 2, 100);
        let f = gratuitous_arp(MAC, vip);
        #[rustfmt::skip]
        let expected: [u8; 42] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // Ethernet destination: broadcast
            0x02, 0x00, 0x00, 0x00, 0x01, 0x11, // Ethernet source: our MAC
            0x08, 0x06,                         // EtherType ARP
            0x00, 0x01,                         // hardware type Ethernet
            0x08, 0x00,                         // protocol type IPv4
            6, 4,                               // address lengths
            0x00, 0x01,                         // operation: request
            0x02, 0x00, 0x00, 0x00, 0x01, 0x11, // sender hardware address
            192, 0, 2, 100,                     // sender protocol address = VIP
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // target hardware address: broadcast
            192, 0, 2, 100,                     // target protocol address = VIP
        ];
        assert_eq!(f, expected);
    }

    #[test]
    fn gratuitous_arp_with_a_vmac() {
        let vmac = Mac([0, 0, 0x5e, 0, 1, 51]);
        let f = gratuitous_arp(vmac, Ipv4Addr::new(192, 0, 2, 200));
        assert_eq!(&f[6..12], &vmac.0);
        assert_eq!(&f[22..28], &vmac.0);
        assert_eq!(&f[28..32], &[192, 0, 2, 200]);
        assert_eq!(&f[38..42], &[192, 0, 2, 200]);
    }

    /// The RFC 1071 one's complement sum over the IPv6 pseudo-header and `icmp`, computed here
    /// independently of pnet.
    fn icmpv6_checksum_ok(src: Ipv6Addr, dst: Ipv6Addr, icmp: &[u8]) -> bool {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&src.octets());
        bytes.extend_from_slice(&dst.octets());
        bytes.extend_from_slice(&(icmp.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&[0, 0, 0, 58]);
        bytes.extend_from_slice(icmp);
        if bytes.len() % 2 == 1 {
            bytes.push(0);
        }
        let mut sum: u32 = bytes
            .chunks(2)
            .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum == 0xffff
    }

    #[test]
    fn unsolicited_na_has_every_field() {
        let vip: Ipv6Addr = "2001:db8::100".parse().unwrap();
        let f = unsolicited_na(&NeighborAdvert::unsolicited(MAC, vip, false));
        assert_eq!(f.len(), 86);
        // Ethernet
        assert_eq!(&f[0..6], &[0x33, 0x33, 0, 0, 0, 1]);
        assert_eq!(&f[6..12], &MAC.0);
        assert_eq!(&f[12..14], &[0x86, 0xdd]);
        // IPv6
        let ip = &f[14..54];
        assert_eq!(ip[0] >> 4, 6, "version");
        assert_eq!(
            &ip[0..4],
            &[0x60, 0, 0, 0],
            "traffic class and flow label 0"
        );
        assert_eq!(u16::from_be_bytes([ip[4], ip[5]]), 32, "payload length");
        assert_eq!(ip[6], 58, "next header ICMPv6");
        assert_eq!(ip[7], 255, "hop limit");
        assert_eq!(&ip[8..24], &vip.octets(), "source = VIP");
        assert_eq!(&ip[24..40], &ALL_NODES.octets(), "destination ff02::1");
        // ICMPv6 NA
        let na = &f[54..];
        assert_eq!(na[0], 136, "type NA");
        assert_eq!(na[1], 0, "code");
        assert_eq!(na[4], 0b0010_0000, "R clear, S clear, O set");
        assert_eq!(&na[5..8], &[0, 0, 0], "reserved");
        assert_eq!(&na[8..24], &vip.octets(), "target");
        assert_eq!(
            &na[24..26],
            &[2, 1],
            "target link-layer address option, 8 bytes"
        );
        assert_eq!(&na[26..32], &MAC.0);
        assert!(
            icmpv6_checksum_ok(vip, ALL_NODES, na),
            "checksum {:02x}{:02x}",
            na[2],
            na[3]
        );
        assert_ne!(&na[2..4], &[0, 0]);
    }

    #[test]
    fn router_flag_and_source_are_configurable() {
        let vip: Ipv6Addr = "2001:db8::100".parse().unwrap();
        let ll: Ipv6Addr = "fe80::11".parse().unwrap();
        let vmac = Mac([0, 0, 0x5e, 0, 2, 51]);
        let na = NeighborAdvert {
            mac: vmac,
            target: vip,
            source: ll,
            router: true,
        };
        let f = unsolicited_na(&na);
        assert_eq!(f[54 + 4], 0b1010_0000, "R set, S clear, O set");
        assert_eq!(&f[14 + 8..14 + 24], &ll.octets());
        assert_eq!(&f[54 + 8..54 + 24], &vip.octets());
        assert_eq!(&f[54 + 26..54 + 32], &vmac.0);
        assert_eq!(&f[6..12], &vmac.0);
        assert!(icmpv6_checksum_ok(ll, ALL_NODES, &f[54..]));
        // Any change of a covered field breaks the checksum.
        let mut broken = f;
        broken[54 + 10] ^= 1;
        assert!(!icmpv6_checksum_ok(ll, ALL_NODES, &broken[54..]));
    }

    #[test]
    fn prepared_announcements_are_the_frames_built_on_demand() {
        let v4 = Ipv4Addr::new(192, 0, 2, 100);
        let arp = PreparedAnnouncement::new(MAC, IpAddr::V4(v4));
        assert_eq!(arp.vip(), IpAddr::V4(v4));
        assert!(!arp.is_na());
        assert_eq!(arp.frame(false), &gratuitous_arp(MAC, v4)[..]);
        assert_eq!(arp.frame(true), &gratuitous_arp(MAC, v4)[..]);

        let v6: Ipv6Addr = "2001:db8::100".parse().unwrap();
        let na = PreparedAnnouncement::new(MAC, IpAddr::V6(v6));
        assert_eq!(na.vip(), IpAddr::V6(v6));
        assert!(na.is_na());
        let clear = unsolicited_na(&NeighborAdvert::unsolicited(MAC, v6, false));
        let set = unsolicited_na(&NeighborAdvert::unsolicited(MAC, v6, true));
        assert_ne!(clear, set);
        assert_eq!(na.frame(false), &clear[..]);
        assert_eq!(na.frame(true), &set[..]);
        assert_eq!(na.frame(true)[54 + 4], 0b1010_0000, "R set, O set");
        assert_eq!(na.frame(false)[54 + 4], 0b0010_0000, "R clear, O set");
    }
}
