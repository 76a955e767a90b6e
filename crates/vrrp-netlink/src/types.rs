//! Our own vocabulary for links, addresses and events (no rtnetlink type leaks out).

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use crate::error::NetlinkError;

/// An Ethernet MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// ff:ff:ff:ff:ff:ff.
    pub const BROADCAST: Mac = Mac([0xff; 6]);

    /// The six bytes.
    pub const fn octets(self) -> [u8; 6] {
        self.0
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl FromStr for Mac {
    type Err = NetlinkError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || NetlinkError::InvalidMac(s.to_owned());
        let mut mac = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for byte in &mut mac {
            let part = parts.next().ok_or_else(bad)?;
            if part.len() != 2 {
                return Err(bad());
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Mac(mac))
    }
}

impl From<[u8; 6]> for Mac {
    fn from(octets: [u8; 6]) -> Self {
        Mac(octets)
    }
}

/// IPv4 or IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    /// The family of an address.
    pub fn of(addr: IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

/// An interface address with its prefix length (`192.0.2.100/24`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpNet {
    addr: IpAddr,
    prefix_len: u8,
}

impl IpNet {
    /// `addr/prefix_len`; the length must fit the family (≤ 32 or ≤ 128).
    pub fn new(addr: IpAddr, prefix_len: u8) -> Result<Self, NetlinkError> {
        let max = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        if prefix_len > max {
            return Err(NetlinkError::InvalidPrefix { addr, prefix_len });
        }
        Ok(Self { addr, prefix_len })
    }

    /// A host route-sized net (/32 or /128).
    pub fn host(addr: IpAddr) -> Self {
        let prefix_len = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        Self { addr, prefix_len }
    }

    /// The address.
    pub const fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub const fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// Its family.
    pub fn family(&self) -> Family {
        Family::of(self.addr)
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

impl FromStr for IpNet {
    type Err = NetlinkError;

    /// `addr/len`, or a bare address meaning /32 or /128.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || NetlinkError::InvalidNet(s.to_owned());
        match s.split_once('/') {
            Some((addr, len)) => {
                let addr: IpAddr = addr.parse().map_err(|_| bad())?;
                let len: u8 = len.parse().map_err(|_| bad())?;
                IpNet::new(addr, len)
            }
            None => Ok(IpNet::host(s.parse().map_err(|_| bad())?)),
        }
    }
}

/// The operational state of a link (RFC 2863, as the kernel reports it in IFLA_OPERSTATE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OperState {
    /// Unknown (loopback and some virtual links always say so).
    Unknown,
    /// Some component is missing.
    NotPresent,
    /// Down.
    Down,
    /// Down because a lower link is down.
    LowerLayerDown,
    /// In a test mode.
    Testing,
    /// Waiting for an external event.
    Dormant,
    /// Up: can pass packets.
    Up,
    /// A value this crate does not know.
    Other(u8),
}

/// A network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// Interface index.
    pub index: u32,
    /// Interface name.
    pub name: String,
    /// Hardware address (None for links without one, like `lo` on some kernels).
    pub mac: Option<Mac>,
    /// Administratively up (IFF_UP).
    pub up: bool,
    /// Carrier present (IFF_LOWER_UP).
    pub lower_up: bool,
    /// Operational state.
    pub oper: OperState,
    /// MTU.
    pub mtu: u32,
    /// The lower link (IFLA_LINK: a macvlan's parent), if any.
    pub parent: Option<u32>,
    /// The link kind (`macvlan`, `veth`, `bridge` ...), if the kernel says.
    pub kind: Option<String>,
}

impl LinkInfo {
    /// Whether the link can pass traffic: administratively up and operationally up (or
    /// unknown, as for links that do not report a carrier).
    pub fn is_running(&self) -> bool {
        self.up && self.lower_up && matches!(self.oper, OperState::Up | OperState::Unknown)
    }
}

/// One address on a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressInfo {
    /// Interface index.
    pub index: u32,
    /// The address and prefix length.
    pub net: IpNet,
    /// IPv6 duplicate address detection still running.
    pub tentative: bool,
    /// IPv6 duplicate address detection failed.
    pub dad_failed: bool,
    /// An IPv4 secondary address (another address of the same subnet came first).
    pub secondary: bool,
}

/// How the kernel derives an interface's IPv6 link-local address (IFLA_INET6_ADDR_GEN_MODE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AddrGenMode {
    /// From the MAC address (modified EUI-64): every VMAC would get the same address.
    Eui64,
    /// No automatic link-local address at all.
    None,
    /// RFC 7217 stable privacy (needs a `stable_secret`).
    StablePrivacy,
    /// A random interface identifier.
    Random,
}

/// A change of links or addresses, from [`NetlinkOps::subscribe`](crate::NetlinkOps::subscribe).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetEvent {
    /// A link appeared or changed (flags, carrier, name, MAC ...): its new state.
    Link(LinkInfo),
    /// A link was deleted.
    LinkRemoved {
        /// Its former index.
        index: u32,
        /// Its former name.
        name: String,
    },
    /// An address was added (or changed, e.g. finished DAD).
    AddressAdded(AddressInfo),
    /// An address was removed.
    AddressRemoved(AddressInfo),
}

/// The EUI-64 link-local address RFC 4291 §2.5.1 / RFC 2464 §5 derive from a MAC
/// (fe80::XXXX:XXff:feXX:XXXX with the universal/local bit flipped).
pub fn eui64_link_local(mac: Mac) -> Ipv6Addr {
    let m = mac.0;
    Ipv6Addr::from([
        0xfe,
        0x80,
        0,
        0,
        0,
        0,
        0,
        0,
        m[0] ^ 0x02,
        m[1],
        m[2],
        0xff,
        0xfe,
        m[3],
        m[4],
        m[5],
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_round_trips() {
        let mac: Mac = "00:00:5E:00:01:33".parse().unwrap();
        assert_eq!(mac, Mac([0, 0, 0x5e, 0, 1, 0x33]));
        assert_eq!(mac.to_string(), "00:00:5e:00:01:33");
        assert_eq!(
            "00-00-5e-00-02-ff".parse::<Mac>().unwrap(),
            Mac([0, 0, 0x5e, 0, 2, 0xff])
        );
        for bad in [
            "",
            "00:00:5e:00:01",
            "00:00:5e:00:01:33:44",
            "0:00:5e:00:01:33",
            "zz:00:5e:00:01:33",
        ] {
            assert!(bad.parse::<Mac>().is_err(), "{bad}");
        }
    }

    #[test]
    fn ipnet_parses_and_checks_the_prefix() {
        let n: IpNet = "192.0.2.100/24".parse().unwrap();
        assert_eq!(n.addr(), "192.0.2.100".parse::<IpAddr>().unwrap());
        assert_eq!(n.prefix_len(), 24);
        assert_eq!(n.family(), Family::V4);
        assert_eq!(n.to_string(), "192.0.2.100/24");
        assert_eq!("2001:db8::100".parse::<IpNet>().unwrap().prefix_len(), 128);
        assert_eq!("192.0.2.1".parse::<IpNet>().unwrap().prefix_len(), 32);
        assert!("192.0.2.1/33".parse::<IpNet>().is_err());
        assert!("2001:db8::1/129".parse::<IpNet>().is_err());
        assert!("2001:db8::1/64".parse::<IpNet>().is_ok());
        assert!("nonsense/8".parse::<IpNet>().is_err());
        assert!("192.0.2.1/x".parse::<IpNet>().is_err());
    }

    #[test]
    fn eui64_flips_the_universal_local_bit() {
        let ll = eui64_link_local(Mac([0x00, 0x00, 0x5e, 0x00, 0x02, 0x33]));
        assert_eq!(ll, "fe80::200:5eff:fe00:233".parse::<Ipv6Addr>().unwrap());
    }
}
