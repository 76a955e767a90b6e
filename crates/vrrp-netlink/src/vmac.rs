//! Virtual router MAC (`use_vmac`): a macvlan carrying 00-00-5E-00-01-{VRID} or
//! 00-00-5E-00-02-{VRID}, built from [`NetlinkOps`] primitives so that the fake and the real
//! kernel go through the same steps in the same order.

use std::net::{IpAddr, Ipv6Addr};

use crate::error::{NetlinkError, Result};
use crate::ops::NetlinkOps;
use crate::types::{AddrGenMode, Family, IpNet, LinkInfo, Mac, eui64_link_local};

/// The virtual router MAC address of `vrid` for `family`.
///
/// RFC 9568 §7.3: IPv4 00-00-5E-00-01-{VRID}, IPv6 00-00-5E-00-02-{VRID}.
pub fn vmac_address(vrid: u8, family: Family) -> Result<Mac> {
    if vrid == 0 {
        return Err(NetlinkError::InvalidVrid);
    }
    let kind = match family {
        Family::V4 => 0x01,
        Family::V6 => 0x02,
    };
    Ok(Mac([0x00, 0x00, 0x5e, 0x00, kind, vrid]))
}

/// What [`create_vmac`] builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmacConfig {
    /// The parent interface's index.
    pub parent: u32,
    /// The virtual router id (1..255).
    pub vrid: u8,
    /// The family of the virtual router (decides the MAC).
    pub family: Family,
    /// The macvlan's name (at most 15 bytes).
    pub name: String,
    /// IPv6 only: the link-local address to put on the VMAC (the source of the adverts).
    /// `None` takes the parent's link-local address, or failing that the EUI-64 address of
    /// the parent's MAC, as keepalived does.
    pub link_local: Option<Ipv6Addr>,
}

impl VmacConfig {
    /// The defaults: named `vrrp4.<vrid>` / `vrrp6.<vrid>`, link-local from the parent.
    pub fn new(parent: u32, vrid: u8, family: Family) -> Self {
        let name = match family {
            Family::V4 => format!("vrrp4.{vrid}"),
            Family::V6 => format!("vrrp6.{vrid}"),
        };
        Self {
            parent,
            vrid,
            family,
            name,
            link_local: None,
        }
    }
}

/// A VMAC interface made by [`create_vmac`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vmac {
    /// The macvlan as it was after it came up.
    pub link: LinkInfo,
    /// Its MAC (the virtual router MAC).
    pub mac: Mac,
    /// IPv6: the link-local address we put on it.
    pub link_local: Option<Ipv6Addr>,
}

/// Creates the VMAC macvlan on `config.parent` and brings it up.
///
/// The order matters and is:
/// 1. a stale link of the same name is deleted if it is a macvlan (left by a crash), and
///    refused otherwise;
/// 2. the macvlan is created *down*, in bridge mode, with the virtual router MAC;
/// 3. its addr_gen_mode is set to none, *before* it comes up: every router of the virtual
///    router has the same MAC, so the kernel's EUI-64 link-local would be the same on all of
///    them (RFC 9568 §7.4: the virtual router MAC MUST NOT be used for the interface
///    identifiers);
/// 4. IPv6: a link-local address of this router (see [`VmacConfig::link_local`]) is added;
///    an IPv4 VMAC gets no IPv6 address at all;
/// 5. it is brought up.
///
/// If a step after creation fails, the macvlan is deleted again.
pub async fn create_vmac<N: NetlinkOps>(nl: &N, config: &VmacConfig) -> Result<Vmac> {
    let mac = vmac_address(config.vrid, config.family)?;
    let parent = nl
        .link_by_index(config.parent)
        .await?
        .ok_or_else(|| NetlinkError::NoSuchLink(config.parent.to_string()))?;
    if let Some(stale) = nl.link_by_name(&config.name).await? {
        if stale.kind.as_deref() != Some("macvlan") {
            return Err(NetlinkError::NotMacvlan { name: stale.name });
        }
        tracing::info!(name = %stale.name, "deleting a stale VMAC interface");
        nl.delete_link(stale.index).await?;
    }
    let link = nl.create_macvlan(parent.index, &config.name, mac).await?;
    match configure(nl, config, &parent, &link).await {
        Ok(link_local) => {
            let link = nl.link_by_index(link.index).await?.unwrap_or(link);
            Ok(Vmac {
                link,
                mac,
                link_local,
            })
        }
        Err(e) => {
            if let Err(cleanup) = nl.delete_link(link.index).await {
                tracing::warn!(name = %config.name, error = %cleanup, "cannot delete a half-made VMAC");
            }
            Err(e)
        }
    }
}

async fn configure<N: NetlinkOps>(
    nl: &N,
    config: &VmacConfig,
    parent: &LinkInfo,
    link: &LinkInfo,
) -> Result<Option<Ipv6Addr>> {
    // RFC 9568 §7.4: no interface identifier from the shared virtual router MAC; this must
    // happen before the link is up, when the kernel derives the link-local address.
    nl.set_addr_gen_mode(link.index, AddrGenMode::None).await?;
    let link_local = match config.family {
        Family::V4 => None,
        Family::V6 => {
            let ll = match config.link_local {
                Some(ll) => ll,
                None => parent_link_local(nl, parent).await?,
            };
            nl.add_address(link.index, IpNet::new(IpAddr::V6(ll), 64)?)
                .await?;
            Some(ll)
        }
    };
    nl.set_link_up(link.index).await?;
    Ok(link_local)
}

async fn parent_link_local<N: NetlinkOps>(nl: &N, parent: &LinkInfo) -> Result<Ipv6Addr> {
    let from_parent =
        nl.addresses(parent.index)
            .await?
            .into_iter()
            .find_map(|a| match a.net.addr() {
                IpAddr::V6(v6) if v6.is_unicast_link_local() => Some(v6),
                _ => None,
            });
    match (from_parent, parent.mac) {
        (Some(ll), _) => Ok(ll),
        (None, Some(mac)) => Ok(eui64_link_local(mac)),
        (None, None) => Err(NetlinkError::NoSuchLink(format!(
            "a link-local address or MAC on {}",
            parent.name
        ))),
    }
}

/// Deletes a VMAC made by [`create_vmac`] (idempotent). Refuses to delete a link that is not
/// a macvlan, so a wrong index can never take a real interface away.
pub async fn remove_vmac<N: NetlinkOps>(nl: &N, index: u32) -> Result<()> {
    match nl.link_by_index(index).await? {
        None => Ok(()),
        Some(link) if link.kind.as_deref() == Some("macvlan") => nl.delete_link(index).await,
        Some(link) => Err(NetlinkError::NotMacvlan { name: link.name }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{FakeNetlink, Op};

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn vmac_addresses_follow_rfc_9568_7_3() {
        assert_eq!(
            vmac_address(1, Family::V4).unwrap(),
            Mac([0, 0, 0x5e, 0, 1, 1])
        );
        assert_eq!(
            vmac_address(255, Family::V6).unwrap(),
            Mac([0, 0, 0x5e, 0, 2, 255])
        );
        assert!(matches!(
            vmac_address(0, Family::V4),
            Err(NetlinkError::InvalidVrid)
        ));
    }

    #[test]
    fn addr_gen_mode_is_set_after_creation_and_before_up() {
        block_on(async {
            let nl = FakeNetlink::new();
            let eth0 = nl.add_link("eth0", Mac([2, 0, 0, 0, 1, 0x11]));
            let vmac = create_vmac(&nl, &VmacConfig::new(eth0, 51, Family::V6))
                .await
                .unwrap();
            assert_eq!(vmac.mac, Mac([0, 0, 0x5e, 0, 2, 51]));
            assert!(vmac.link.up);
            assert_eq!(vmac.link.name, "vrrp6.51");
            let ll = eui64_link_local(Mac([2, 0, 0, 0, 1, 0x11])); // the parent's
            assert_eq!(vmac.link_local, Some(ll));
            let index = vmac.link.index;
            let ops = nl.ops();
            let mac = vmac.mac;
            assert_eq!(
                ops,
                vec![
                    Op::CreateMacvlan {
                        parent: eth0,
                        name: "vrrp6.51".into(),
                        mac
                    },
                    Op::SetAddrGenMode {
                        index,
                        mode: AddrGenMode::None
                    },
                    Op::AddAddress {
                        index,
                        net: IpNet::new(ll.into(), 64).unwrap()
                    },
                    Op::SetLinkUp { index },
                ]
            );
            // Only the link-local we chose: none derived from the shared VMAC.
            assert_eq!(
                nl.addresses_of(index),
                vec![IpNet::new(ll.into(), 64).unwrap()]
            );
            remove_vmac(&nl, index).await.unwrap();
            remove_vmac(&nl, index).await.unwrap();
            assert!(nl.link(index).is_none());
            assert!(matches!(
                remove_vmac(&nl, eth0).await,
                Err(NetlinkError::NotMacvlan { .. })
            ));
        });
    }

    #[test]
    fn an_ipv4_vmac_gets_no_ipv6_address_and_a_stale_one_is_replaced() {
        block_on(async {
            let nl = FakeNetlink::new();
            let eth0 = nl.add_link("eth0", Mac([2, 0, 0, 0, 1, 0x11]));
            let first = create_vmac(&nl, &VmacConfig::new(eth0, 7, Family::V4))
                .await
                .unwrap();
            let second = create_vmac(&nl, &VmacConfig::new(eth0, 7, Family::V4))
                .await
                .unwrap();
            assert_ne!(first.link.index, second.link.index);
            assert!(nl.link(first.link.index).is_none());
            assert!(nl.addresses_of(second.link.index).is_empty());
            assert_eq!(second.link_local, None);
            // A non-macvlan of that name is never deleted.
            let mut config = VmacConfig::new(eth0, 8, Family::V4);
            config.name = "eth0".into();
            assert!(matches!(
                create_vmac(&nl, &config).await,
                Err(NetlinkError::NotMacvlan { .. })
            ));
            assert!(nl.link(eth0).is_some());
        });
    }

    #[test]
    fn a_failure_after_creation_deletes_the_half_made_vmac() {
        block_on(async {
            let nl = FakeNetlink::new();
            let eth0 = nl.add_link("eth0", Mac([2, 0, 0, 0, 1, 0x11]));
            nl.fail_next(|op| matches!(op, Op::SetLinkUp { .. }), libc::EPERM);
            let err = create_vmac(&nl, &VmacConfig::new(eth0, 9, Family::V6))
                .await
                .unwrap_err();
            assert_eq!(err.errno(), Some(libc::EPERM));
            assert!(nl.link_by_name("vrrp6.9").await.unwrap().is_none());
        });
    }
}
