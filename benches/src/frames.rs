//! What the harness needs from captured frames: VRRP adverts and VIP announcements
//! (gratuitous ARP, unsolicited Neighbour Advertisements), with their capture time and VLAN.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::SystemTime;

use vrrp_lab::CapturedPacket;
use vrrp_packet::ip::IpHeader;
use vrrp_packet::{IP_PROTOCOL_VRRP, Packet};

const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_ARP: u16 = 0x0806;
const ICMPV6: u8 = 58;
/// IPv6 Fragment extension header (RFC 8200 §4.5).
const IPV6_FRAGMENT: u8 = 44;
const NEIGHBOR_ADVERTISEMENT: u8 = 136;

/// A VRRP advertisement seen on the bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advert {
    /// Capture time (wall clock).
    pub at: SystemTime,
    /// 802.1Q VLAN id, if tagged.
    pub vlan: Option<u16>,
    /// IP source (the sender's primary IPv4 address, or its IPv6 link-local address).
    pub src: IpAddr,
    /// VRRP version.
    pub version: u8,
    /// Virtual router id.
    pub vrid: u8,
    /// Priority (0: the master resigns).
    pub priority: u8,
    /// Sent in IP fragments (larger than the link MTU): this is the first fragment. A VRRP
    /// receiver gets it only after reassembly.
    pub fragmented: bool,
}

/// An announcement of a VIP: a gratuitous ARP (sender IP = target IP = the VIP) or an
/// unsolicited Neighbour Advertisement for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announcement {
    /// Capture time (wall clock).
    pub at: SystemTime,
    /// 802.1Q VLAN id, if tagged.
    pub vlan: Option<u16>,
    /// The announced address.
    pub ip: IpAddr,
    /// The Ethernet source.
    pub src_mac: [u8; 6],
}

/// A classified frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// A VRRP advertisement.
    Advert(Advert),
    /// A VIP announcement.
    Announcement(Announcement),
    /// Anything else.
    Other,
}

/// Classifies one captured frame.
pub fn classify(p: &CapturedPacket) -> Frame {
    classify_bytes(&p.data, p.timestamp).unwrap_or(Frame::Other)
}

/// The VRRP adverts among `packets`, in capture order.
pub fn adverts(packets: &[CapturedPacket]) -> Vec<Advert> {
    packets
        .iter()
        .filter_map(|p| match classify(p) {
            Frame::Advert(a) => Some(a),
            _ => None,
        })
        .collect()
}

/// The VIP announcements among `packets`, in capture order.
pub fn announcements(packets: &[CapturedPacket]) -> Vec<Announcement> {
    packets
        .iter()
        .filter_map(|p| match classify(p) {
            Frame::Announcement(a) => Some(a),
            _ => None,
        })
        .collect()
}

fn classify_bytes(data: &[u8], at: SystemTime) -> Option<Frame> {
    let src_mac: [u8; 6] = data.get(6..12)?.try_into().ok()?;
    let mut ethertype = u16::from_be_bytes(data.get(12..14)?.try_into().ok()?);
    let mut offset = 14;
    let mut vlan = None;
    if ethertype == ETHERTYPE_VLAN {
        let tci = u16::from_be_bytes(data.get(14..16)?.try_into().ok()?);
        vlan = Some(tci & 0x0fff);
        ethertype = u16::from_be_bytes(data.get(16..18)?.try_into().ok()?);
        offset = 18;
    }
    let payload = data.get(offset..)?;
    if ethertype == ETHERTYPE_ARP {
        // htype, ptype, hlen, plen, op, sha[6], spa[4], tha[6], tpa[4]
        let spa: [u8; 4] = payload.get(14..18)?.try_into().ok()?;
        let tpa: [u8; 4] = payload.get(24..28)?.try_into().ok()?;
        return (spa == tpa).then(|| {
            Frame::Announcement(Announcement {
                at,
                vlan,
                ip: IpAddr::V4(Ipv4Addr::from(spa)),
                src_mac,
            })
        });
    }
    let ip = IpHeader::new_checked(payload).ok()?;
    // A VRRP message too big for the MTU leaves in fragments: read the first one's header.
    let (protocol, body, fragmented) = match ip {
        IpHeader::V6(v6) if v6.next_header() == IPV6_FRAGMENT => {
            let frag = v6.payload();
            let offset = u16::from_be_bytes(frag.get(2..4)?.try_into().ok()?) >> 3;
            if offset != 0 {
                return None;
            }
            (*frag.first()?, frag.get(8..)?, true)
        }
        IpHeader::V4(v4) if v4.is_fragment() => {
            let offset = u16::from_be_bytes(payload.get(6..8)?.try_into().ok()?) & 0x1fff;
            if offset != 0 {
                return None;
            }
            (v4.protocol(), v4.payload(), true)
        }
        _ => (ip.protocol(), ip.payload(), false),
    };
    match protocol {
        IP_PROTOCOL_VRRP => {
            let vrrp = Packet::new_checked(body).ok()?;
            Some(Frame::Advert(Advert {
                at,
                vlan,
                src: ip.src(),
                version: vrrp.version(),
                vrid: vrrp.vrid(),
                priority: vrrp.priority(),
                fragmented,
            }))
        }
        ICMPV6 => {
            let icmp = ip.payload();
            if *icmp.first()? != NEIGHBOR_ADVERTISEMENT {
                return None;
            }
            // type, code, checksum, flags + reserved (4), target (16)
            let target: [u8; 16] = icmp.get(8..24)?.try_into().ok()?;
            Some(Frame::Announcement(Announcement {
                at,
                vlan,
                ip: IpAddr::V6(Ipv6Addr::from(target)),
                src_mac,
            }))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(ethertype: u16, vlan: Option<u16>, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 1, 0x11]);
        if let Some(id) = vlan {
            f.extend_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
            f.extend_from_slice(&id.to_be_bytes());
        }
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    fn ipv4_vrrp(prio: u8) -> Vec<u8> {
        let mut ip = vec![
            0x45, 0, 0, 28, 0, 0, 0, 0, 255, 112, 0, 0, 192, 0, 2, 11, 224, 0, 0, 18,
        ];
        ip.extend_from_slice(&[0x31, 51, prio, 1, 0, 100, 0, 0]);
        let len = ip.len() as u16;
        ip[2..4].copy_from_slice(&len.to_be_bytes());
        ip
    }

    #[test]
    fn adverts_are_found_tagged_or_not() {
        let at = SystemTime::UNIX_EPOCH;
        let plain = classify_bytes(&eth(0x0800, None, &ipv4_vrrp(200)), at).unwrap();
        let Frame::Advert(a) = plain else {
            panic!("{plain:?}")
        };
        assert_eq!((a.vlan, a.vrid, a.priority, a.version), (None, 51, 200, 3));
        assert!(!a.fragmented);
        assert_eq!(a.src, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11)));
        let tagged = classify_bytes(&eth(0x0800, Some(101), &ipv4_vrrp(0)), at).unwrap();
        let Frame::Advert(a) = tagged else {
            panic!("{tagged:?}")
        };
        assert_eq!((a.vlan, a.priority), (Some(101), 0));
    }

    #[test]
    fn gratuitous_arp_and_na_are_announcements() {
        let at = SystemTime::UNIX_EPOCH;
        let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 1];
        arp.extend_from_slice(&[2, 0, 0, 0, 1, 0x11, 203, 0, 113, 1]);
        arp.extend_from_slice(&[0xff; 6]);
        arp.extend_from_slice(&[203, 0, 113, 1]);
        let f = classify_bytes(&eth(ETHERTYPE_ARP, None, &arp), at).unwrap();
        assert_eq!(
            f,
            Frame::Announcement(Announcement {
                at,
                vlan: None,
                ip: "203.0.113.1".parse().unwrap(),
                src_mac: [2, 0, 0, 0, 1, 0x11],
            })
        );
        // An ordinary ARP request (sender != target) is not an announcement.
        let mut request = arp.clone();
        request[24..28].copy_from_slice(&[203, 0, 113, 9]);
        assert_eq!(
            classify_bytes(&eth(ETHERTYPE_ARP, None, &request), at),
            None
        );

        let target: Ipv6Addr = "2001:db8::100".parse().unwrap();
        let mut icmp = vec![136, 0, 0, 0, 0x20, 0, 0, 0];
        icmp.extend_from_slice(&target.octets());
        let mut ip6 = vec![0x60, 0, 0, 0];
        ip6.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
        ip6.extend_from_slice(&[58, 255]);
        ip6.extend_from_slice(&target.octets());
        ip6.extend_from_slice(&"ff02::1".parse::<Ipv6Addr>().unwrap().octets());
        ip6.extend_from_slice(&icmp);
        let f = classify_bytes(&eth(0x86dd, None, &ip6), at).unwrap();
        assert!(matches!(f, Frame::Announcement(a) if a.ip == IpAddr::V6(target)));
    }

    #[test]
    fn the_first_fragment_of_a_big_ipv6_advert_is_an_advert() {
        let src: Ipv6Addr = "fe80::1".parse().unwrap();
        let mut frag = vec![112, 0, 0, 1, 0, 0, 0, 7]; // next 112, offset 0, M=1, id 7
        frag.extend_from_slice(&[0x31, 51, 150, 100, 0, 10, 0, 0]);
        frag.extend_from_slice(&[0u8; 64]);
        let mut ip6 = vec![0x60, 0, 0, 0];
        ip6.extend_from_slice(&(frag.len() as u16).to_be_bytes());
        ip6.extend_from_slice(&[IPV6_FRAGMENT, 255]);
        ip6.extend_from_slice(&src.octets());
        ip6.extend_from_slice(&"ff02::12".parse::<Ipv6Addr>().unwrap().octets());
        ip6.extend_from_slice(&frag);
        let f = classify_bytes(&eth(0x86dd, None, &ip6), SystemTime::UNIX_EPOCH).unwrap();
        let Frame::Advert(a) = f else { panic!("{f:?}") };
        assert_eq!((a.vrid, a.priority, a.fragmented), (51, 150, true));
        assert_eq!(a.src, IpAddr::V6(src));
        // A later fragment (offset 181 × 8) carries no VRRP header.
        let mut later = ip6.clone();
        later[42..44].copy_from_slice(&(181u16 << 3).to_be_bytes());
        assert_eq!(
            classify_bytes(&eth(0x86dd, None, &later), SystemTime::UNIX_EPOCH),
            None
        );
    }

    #[test]
    fn garbage_is_other() {
        for len in 0..40 {
            let data = vec![0x81u8; len];
            let _ = classify_bytes(&data, SystemTime::UNIX_EPOCH);
        }
    }
}
