//! Configuration of one virtual router, validated when the router is built.

use core::time::Duration;
use std::net::IpAddr;

use vrrp_packet::{AddressFamily, Auth, ChecksumMode, Interval, Version};

/// An interface, named by the caller (typically the kernel's ifindex). The engine only
/// compares it and hands it back in [`Transmit`](crate::Transmit)s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InterfaceId(pub u32);

/// The priority of an address owner (RFC 9568 §5.2.4): it owns the virtual addresses, is
/// always master while it runs, and ignores adverts for its VRID (§7.1).
pub const OWNER_PRIORITY: u8 = 255;

/// The longest `preempt_delay` accepted (keepalived's limit).
pub const MAX_PREEMPT_DELAY: Duration = Duration::from_secs(1000);

/// Everything one virtual router needs to know. Build it with [`RouterConfig::new`] (RFC
/// defaults) and set the fields that differ; [`VirtualRouter::new`](crate::VirtualRouter::new)
/// validates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterConfig {
    /// Virtual router identifier, 1..=255 (RFC 9568 §5.2.3).
    pub vrid: u8,
    /// The interface the router runs on.
    pub interface: InterfaceId,
    /// VRRP version: [`Version::V3`] (RFC 9568) or [`Version::V2`] (RFC 3768, IPv4 only).
    pub version: Version,
    /// Base priority, 1..=255; 255 makes this router the address owner (RFC 9568 §6.1).
    pub priority: u8,
    /// Advertisement_Interval (RFC 9568 §6.1). v2: whole seconds 1..=255; v3: 1..=4095 cs.
    pub advert_interval: Interval,
    /// Preempt_Mode (RFC 9568 §6.1): a higher-priority backup takes over from a lower master.
    pub preempt: bool,
    /// keepalived's `preempt_delay`: after startup (or after first hearing a lower-priority
    /// master) keep accepting a lower-priority master for this long before preempting it.
    pub preempt_delay: Duration,
    /// Accept_Mode (RFC 9568 §6.1): a non-owner master accepts packets sent to the virtual
    /// addresses. Reported to the runtime in [`Action::AddAddresses`](crate::Action).
    pub accept_mode: bool,
    /// The virtual addresses (1..=255, all of one family): what the master adds and announces
    /// and what adverts carry.
    pub virtual_addresses: Vec<IpAddr>,
    /// Our source address: the interface's primary IPv4 address, or its IPv6 link-local
    /// address (RFC 9568 §5.1.1.1, §5.1.2.1). Also the tie-breaker between equal priorities
    /// (RFC 9568 §6.4.3).
    pub primary_address: IpAddr,
    /// keepalived's unicast mode: when not empty, adverts go to each of these addresses
    /// instead of the multicast group, and adverts from any other source are discarded.
    pub unicast_peers: Vec<IpAddr>,
    /// VRRPv2 authentication (RFC 3768 §5.3.6; type 1 for keepalived `auth_type PASS`).
    /// Must be [`Auth::None`] for v3.
    pub auth: Auth,
    /// VRRPv3 over IPv4: which checksum form to send (see [`ChecksumMode`]). Both forms are
    /// accepted on receive.
    pub checksum_mode: ChecksumMode,
    /// Discard received adverts whose TTL / hop limit is not 255 (RFC 9568 §7.1). On by
    /// default; keepalived relaxes it for unicast peers behind a router.
    pub check_ttl: bool,
    /// VRRPv3: discard adverts whose address list differs from ours. The RFC only logs this
    /// (RFC 9568 §7.1), which is the default; keepalived discards. Counted either way.
    /// (VRRPv2 always discards a mismatch unless the sender is the owner, RFC 3768 §7.1.)
    pub discard_address_mismatch: bool,
}

impl RouterConfig {
    /// A configuration with the RFC defaults (RFC 9568 §6.1): VRRPv3, priority 100,
    /// 1 s interval, preempt on, no preempt delay, accept mode off, multicast, TTL checked,
    /// the pseudo-header checksum form that keepalived ≤ 2.2.7 and FRR send.
    pub fn new(
        vrid: u8,
        interface: InterfaceId,
        primary_address: IpAddr,
        virtual_addresses: Vec<IpAddr>,
    ) -> Self {
        RouterConfig {
            vrid,
            interface,
            version: Version::V3,
            priority: 100,
            advert_interval: Interval::DEFAULT,
            preempt: true,
            preempt_delay: Duration::ZERO,
            accept_mode: false,
            virtual_addresses,
            primary_address,
            unicast_peers: Vec::new(),
            auth: Auth::None,
            checksum_mode: ChecksumMode::PseudoHeader,
            check_ttl: true,
            discard_address_mismatch: false,
        }
    }

    /// The address family, from the primary address.
    pub fn family(&self) -> AddressFamily {
        AddressFamily::of(&self.primary_address)
    }

    /// True if this router is the address owner (priority 255).
    pub fn is_owner(&self) -> bool {
        self.priority == OWNER_PRIORITY
    }

    /// Checks every rule a configuration must follow.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.vrid == 0 {
            return Err(ConfigError::VridZero);
        }
        if self.priority == 0 {
            return Err(ConfigError::PriorityZero);
        }
        let n = self.virtual_addresses.len();
        if n == 0 || n > 255 {
            return Err(ConfigError::AddressCount(n));
        }
        let family = self.family();
        if let Some(bad) = self
            .virtual_addresses
            .iter()
            .chain(self.unicast_peers.iter())
            .find(|a| AddressFamily::of(a) != family)
        {
            return Err(ConfigError::MixedFamilies { address: *bad });
        }
        let centis = self.advert_interval.as_centis();
        match self.version {
            Version::V2 => {
                // RFC 3768 §1: VRRPv2 is IPv4 only.
                if family == AddressFamily::Ipv6 {
                    return Err(ConfigError::V2Ipv6);
                }
                // RFC 3768 §5.3.7: Adver Int is whole seconds, 8 bits.
                if centis == 0 || !centis.is_multiple_of(100) || centis / 100 > 255 {
                    return Err(ConfigError::Interval {
                        centis,
                        version: self.version,
                    });
                }
            }
            Version::V3 => {
                // RFC 9568 §5.2.7: 12 bits of centiseconds; erratum 8301: not zero.
                if centis == 0 || centis > Interval::MAX_V3.as_centis() {
                    return Err(ConfigError::Interval {
                        centis,
                        version: self.version,
                    });
                }
                // RFC 9568 §9: VRRPv3 has no authentication.
                if self.auth != Auth::None {
                    return Err(ConfigError::AuthWithV3);
                }
            }
        }
        if self.preempt_delay > MAX_PREEMPT_DELAY {
            return Err(ConfigError::PreemptDelay(self.preempt_delay));
        }
        Ok(())
    }
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// VRID 0 is not valid (1..=255).
    #[error("VRID 0 is not valid (1..255)")]
    VridZero,
    /// Priority 0 is reserved for a master that resigns (RFC 9568 §5.2.4).
    #[error("priority 0 is reserved for a resigning master; use 1..255")]
    PriorityZero,
    /// A virtual router has 1 to 255 virtual addresses.
    #[error("{0} virtual addresses; a virtual router has 1 to 255")]
    AddressCount(usize),
    /// A virtual address or unicast peer is not of the primary address's family.
    #[error("address {address} is not of the family of the primary address")]
    MixedFamilies {
        /// The address of the wrong family.
        address: IpAddr,
    },
    /// VRRPv2 exists only for IPv4.
    #[error("VRRPv2 is IPv4 only")]
    V2Ipv6,
    /// The advertisement interval cannot be carried by this version.
    #[error("advertisement interval {centis} cs cannot be used with VRRP{version}")]
    Interval {
        /// The interval, in centiseconds.
        centis: u16,
        /// The configured version.
        version: Version,
    },
    /// VRRPv3 has no authentication.
    #[error("VRRPv3 has no authentication; remove auth or use version 2")]
    AuthWithV3,
    /// `preempt_delay` above 1000 s.
    #[error("preempt_delay {0:?} is above 1000 s")]
    PreemptDelay(Duration),
    /// A router with the same interface, family and VRID is already in the node.
    #[error("a router for VRID {vrid} on interface {interface:?} ({family}) already exists")]
    Duplicate {
        /// The interface.
        interface: InterfaceId,
        /// The family.
        family: AddressFamily,
        /// The VRID.
        vrid: u8,
    },
    /// A sync group names a router the node does not have.
    #[error("sync group names unknown router {0}")]
    UnknownRouter(usize),
    /// A router can be in one sync group only.
    #[error("router {0} is already in a sync group")]
    AlreadyGrouped(usize),
}
