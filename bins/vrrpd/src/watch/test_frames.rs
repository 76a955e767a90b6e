//! Frames for the unit tests of `vrrpd watch`.

use std::net::{IpAddr, Ipv4Addr};

use vrrp_packet::{AddressList, Auth, ChecksumContext, ChecksumMode, Interval, Version, VrrpRepr};

/// An Ethernet + IPv4 + VRRPv3 advert from 192.0.2.`host` (MAC 02:00:00:00:01:`host`),
/// TTL `ttl`, interval `centis`; `corrupt` flips a bit of the VRRP checksum.
pub(crate) fn advert_v4(
    host: u8,
    ttl: u8,
    vrid: u8,
    priority: u8,
    centis: u16,
    corrupt: bool,
) -> Vec<u8> {
    let vips = [Ipv4Addr::new(192, 0, 2, 100)];
    let repr = VrrpRepr {
        version: Version::V3,
        vrid,
        priority,
        advert_interval: Interval::from_centis(centis),
        auth: Auth::None,
        addresses: AddressList::ipv4(&vips),
    };
    let src = Ipv4Addr::new(192, 0, 2, host);
    let mut vrrp = [0u8; 64];
    let len = repr
        .emit(
            &mut vrrp,
            &ChecksumContext {
                src: IpAddr::V4(src),
                dst: IpAddr::V4(vrrp_packet::MULTICAST_V4),
                mode: ChecksumMode::PseudoHeader,
            },
        )
        .unwrap();
    if corrupt {
        vrrp[7] ^= 1;
    }
    let mut f = vec![0x01, 0x00, 0x5e, 0x00, 0x00, 0x12, 0x02, 0, 0, 0, 1, host];
    f.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + len) as u16;
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[8] = ttl;
    ip[9] = 112;
    ip[12..16].copy_from_slice(&src.octets());
    ip[16..20].copy_from_slice(&[224, 0, 0, 18]);
    let mut sum: u32 = ip
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&vrrp[..len]);
    f
}
