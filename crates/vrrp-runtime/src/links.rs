//! The interfaces the configuration names, and the receive sockets they need.
//!
//! The configuration names interfaces; the kernel knows them by index, and an index can
//! change: an interface deleted and created again (a driver reload, a veth re-plugged, a VPN
//! restarted) comes back with a new one, and a rename takes the name away from the index. So
//! the runtime keeps one [`LinkRt`] per configured name, resolves it to the index of whatever
//! interface carries that name now, and hands the engine a stable logical
//! [`InterfaceId`](vrrp_election::InterfaceId): the slot's position, which never changes.
//! Sockets, VMACs and announcers are bound to the index and rebuilt when it changes.
//!
//! Receive sockets are split by kind ([`ReceiveScope`]) so that a flood of one kind cannot
//! crowd the others out of a kernel queue: one for the VRRP group, and for unicast instances
//! one per configured peer (connected to it) plus one for unicast adverts from anyone else
//! (which are only there to be counted and dropped).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use vrrp_netlink::LinkInfo;
use vrrp_packet::AddressFamily;

use crate::socket::ReceiveScope;

/// One interface name of the configuration.
#[derive(Debug, Clone)]
pub(crate) struct LinkRt {
    /// The configured name.
    pub(crate) name: String,
    /// The interface that carries the name now, if any.
    pub(crate) info: Option<LinkInfo>,
    /// Its receive sockets are open.
    pub(crate) receiving: bool,
}

impl LinkRt {
    /// A slot for `name`, resolved to `info` if given.
    pub(crate) fn new(name: &str, info: Option<LinkInfo>) -> Self {
        LinkRt {
            name: name.to_owned(),
            info,
            receiving: false,
        }
    }

    /// The kernel's index of the interface carrying the name now.
    pub(crate) fn ifindex(&self) -> Option<u32> {
        self.info.as_ref().map(|i| i.index)
    }

    /// Up, with carrier, and its sockets open: instances on it can run.
    pub(crate) fn usable(&self) -> bool {
        self.receiving && self.info.as_ref().is_some_and(|i| i.up && i.lower_up)
    }
}

/// One receive socket: on which configured interface, for which family, hearing what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RxKey {
    /// The slot in the driver's links.
    pub(crate) link: usize,
    /// The family.
    pub(crate) family: AddressFamily,
    /// What it hears.
    pub(crate) scope: ReceiveScope,
}

/// What one instance needs to hear.
#[derive(Debug, Clone)]
pub(crate) struct RxNeed<'a> {
    /// Its link slot.
    pub(crate) link: usize,
    /// Its family.
    pub(crate) family: AddressFamily,
    /// Its unicast peers (empty: multicast).
    pub(crate) peers: &'a [IpAddr],
}

/// The receive sockets a set of instances needs, each with the sources its task must skip
/// (only the [`ReceiveScope::Unicast`] socket skips anything: the configured peers, whose
/// adverts reach us through their own sockets too and would otherwise be handled twice).
pub(crate) fn receive_plan<'a>(
    needs: impl IntoIterator<Item = RxNeed<'a>>,
) -> BTreeMap<RxKey, Vec<IpAddr>> {
    let mut plan: BTreeMap<RxKey, BTreeSet<IpAddr>> = BTreeMap::new();
    for need in needs {
        let key = |scope| RxKey {
            link: need.link,
            family: need.family,
            scope,
        };
        if need.peers.is_empty() {
            plan.entry(key(ReceiveScope::Group)).or_default();
            continue;
        }
        let skip = plan.entry(key(ReceiveScope::Unicast)).or_default();
        skip.extend(need.peers.iter().copied());
        for peer in need.peers {
            plan.entry(key(ReceiveScope::From(*peer))).or_default();
        }
    }
    plan.into_iter()
        .map(|(k, skip)| (k, skip.into_iter().collect()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn multicast_instances_share_one_group_socket_per_link_and_family() {
        let plan = receive_plan([
            RxNeed {
                link: 0,
                family: AddressFamily::Ipv4,
                peers: &[],
            },
            RxNeed {
                link: 0,
                family: AddressFamily::Ipv4,
                peers: &[],
            },
            RxNeed {
                link: 0,
                family: AddressFamily::Ipv6,
                peers: &[],
            },
            RxNeed {
                link: 1,
                family: AddressFamily::Ipv4,
                peers: &[],
            },
        ]);
        let keys: Vec<(usize, AddressFamily, ReceiveScope)> =
            plan.keys().map(|k| (k.link, k.family, k.scope)).collect();
        assert_eq!(
            keys,
            [
                (0, AddressFamily::Ipv4, ReceiveScope::Group),
                (0, AddressFamily::Ipv6, ReceiveScope::Group),
                (1, AddressFamily::Ipv4, ReceiveScope::Group),
            ]
        );
        assert!(plan.values().all(Vec::is_empty));
    }

    #[test]
    fn unicast_peers_get_their_own_sockets_and_the_catch_all_skips_them() {
        let a = [ip("192.0.2.11"), ip("192.0.2.12")];
        let b = [ip("192.0.2.12"), ip("192.0.2.13")];
        let plan = receive_plan([
            RxNeed {
                link: 0,
                family: AddressFamily::Ipv4,
                peers: &a,
            },
            RxNeed {
                link: 0,
                family: AddressFamily::Ipv4,
                peers: &b,
            },
        ]);
        let catch_all = RxKey {
            link: 0,
            family: AddressFamily::Ipv4,
            scope: ReceiveScope::Unicast,
        };
        assert_eq!(
            plan[&catch_all],
            [ip("192.0.2.11"), ip("192.0.2.12"), ip("192.0.2.13")]
        );
        let peers: Vec<ReceiveScope> = plan
            .keys()
            .filter(|k| matches!(k.scope, ReceiveScope::From(_)))
            .map(|k| k.scope)
            .collect();
        assert_eq!(
            peers,
            [
                ReceiveScope::From(ip("192.0.2.11")),
                ReceiveScope::From(ip("192.0.2.12")),
                ReceiveScope::From(ip("192.0.2.13")),
            ]
        );
        assert!(!plan.keys().any(|k| k.scope == ReceiveScope::Group));
    }
}
