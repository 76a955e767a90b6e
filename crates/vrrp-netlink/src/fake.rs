//! An in-memory [`NetlinkOps`] for tests of the runtime: links, addresses, events, a log of
//! every call in order, and injected failures.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc;

use crate::error::{NetlinkError, Result};
use crate::ops::{EventStream, NetlinkOps};
use crate::rtnl::validate_name;
use crate::types::{
    AddrGenMode, AddressInfo, IpNet, LinkInfo, Mac, NetEvent, OperState, eui64_link_local,
};

/// One call made on a [`FakeNetlink`], as recorded by [`FakeNetlink::ops`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Op {
    /// [`NetlinkOps::add_address`].
    AddAddress {
        /// Link index.
        index: u32,
        /// The address.
        net: IpNet,
    },
    /// [`NetlinkOps::remove_address`].
    RemoveAddress {
        /// Link index.
        index: u32,
        /// The address.
        net: IpNet,
    },
    /// [`NetlinkOps::create_macvlan`].
    CreateMacvlan {
        /// Parent link index.
        parent: u32,
        /// Name asked for.
        name: String,
        /// MAC asked for.
        mac: Mac,
    },
    /// [`NetlinkOps::delete_link`].
    DeleteLink {
        /// Link index.
        index: u32,
    },
    /// [`NetlinkOps::set_addr_gen_mode`].
    SetAddrGenMode {
        /// Link index.
        index: u32,
        /// The mode.
        mode: AddrGenMode,
    },
    /// [`NetlinkOps::set_link_up`].
    SetLinkUp {
        /// Link index.
        index: u32,
    },
    /// [`NetlinkOps::set_link_down`].
    SetLinkDown {
        /// Link index.
        index: u32,
    },
}

type FailWhen = Box<dyn Fn(&Op) -> bool + Send>;

#[derive(Default)]
struct State {
    links: BTreeMap<u32, LinkInfo>,
    addresses: Vec<AddressInfo>,
    addr_gen: BTreeMap<u32, AddrGenMode>,
    next_index: u32,
    ops: Vec<Op>,
    subscribers: Vec<mpsc::UnboundedSender<NetEvent>>,
    failures: Vec<(FailWhen, i32)>,
}

impl State {
    fn emit(&mut self, event: NetEvent) {
        self.subscribers.retain(|tx| tx.send(event.clone()).is_ok());
    }

    /// Records `op` and returns the injected failure for it, if any (consumed).
    fn record(&mut self, op: Op) -> Result<()> {
        let failure = self.failures.iter().position(|(when, _)| when(&op));
        let what = format!("{op:?}");
        self.ops.push(op);
        match failure {
            Some(i) => {
                let (_, errno) = self.failures.remove(i);
                Err(NetlinkError::Kernel {
                    op: what,
                    errno,
                    message: "injected failure".into(),
                })
            }
            None => Ok(()),
        }
    }

    fn link_mut(&mut self, index: u32, op: &str) -> Result<&mut LinkInfo> {
        self.links
            .get_mut(&index)
            .ok_or_else(|| NetlinkError::Kernel {
                op: op.to_owned(),
                errno: libc::ENODEV,
                message: "No such device".into(),
            })
    }

    fn insert_address(&mut self, index: u32, net: IpNet) {
        if self
            .addresses
            .iter()
            .any(|a| a.index == index && a.net == net)
        {
            return;
        }
        let secondary = match net.addr() {
            std::net::IpAddr::V4(_) => self.addresses.iter().any(|a| {
                a.index == index
                    && a.net.family() == net.family()
                    && a.net.prefix_len() == net.prefix_len()
                    && {
                        let (x, y) = (a.net.addr(), net.addr());
                        same_subnet(x, y, net.prefix_len())
                    }
            }),
            std::net::IpAddr::V6(_) => false,
        };
        let info = AddressInfo {
            index,
            net,
            tentative: false,
            dad_failed: false,
            secondary,
        };
        self.addresses.push(info);
        self.emit(NetEvent::AddressAdded(info));
    }
}

fn same_subnet(a: std::net::IpAddr, b: std::net::IpAddr, len: u8) -> bool {
    match (a, b) {
        (std::net::IpAddr::V4(a), std::net::IpAddr::V4(b)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        _ => false,
    }
}

/// An in-memory network namespace implementing [`NetlinkOps`] with the kernel's semantics
/// that matter to VRRP:
///
/// - address add/remove are idempotent, and fail with ENODEV on a missing link;
/// - a macvlan is created down; creating a second link of the same name fails with EEXIST;
/// - when a link goes up, it gets an IPv6 link-local address according to its
///   addr_gen_mode *at that moment* (EUI-64 of its MAC by default, none for
///   [`AddrGenMode::None`]), so a runtime that brings a VMAC up before setting the mode is
///   caught the way it would be on Linux;
/// - every change is sent to the subscribers as a [`NetEvent`].
///
/// Clones share the same state. Test code drives the "outside world" with
/// [`add_link`](FakeNetlink::add_link), [`set_carrier`](FakeNetlink::set_carrier) and
/// [`remove_link`](FakeNetlink::remove_link), and checks with [`ops`](FakeNetlink::ops).
#[derive(Clone, Default)]
pub struct FakeNetlink {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for FakeNetlink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("FakeNetlink")
            .field("links", &state.links)
            .field("addresses", &state.addresses)
            .field("ops", &state.ops)
            .finish()
    }
}

impl FakeNetlink {
    /// An empty namespace.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock only happens in a failing test; keep going.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds an Ethernet link that is up with carrier and has its EUI-64 link-local address,
    /// like a configured `eth0`; returns its index.
    pub fn add_link(&self, name: &str, mac: Mac) -> u32 {
        let mut state = self.lock();
        state.next_index += 1;
        let index = state.next_index + 1; // index 1 is lo on Linux
        let link = LinkInfo {
            index,
            name: name.to_owned(),
            mac: Some(mac),
            up: true,
            lower_up: true,
            oper: OperState::Up,
            mtu: 1500,
            parent: None,
            kind: Some("veth".into()),
        };
        state.links.insert(index, link.clone());
        state.emit(NetEvent::Link(link));
        state.insert_address(
            index,
            IpNet::host(eui64_link_local(mac).into()).with_len(64),
        );
        index
    }

    /// Sets a link's carrier (as when a cable is pulled), emitting a link event.
    pub fn set_carrier(&self, index: u32, carrier: bool) {
        let mut state = self.lock();
        let Some(link) = state.links.get_mut(&index) else {
            return;
        };
        link.lower_up = carrier;
        link.oper = if carrier && link.up {
            OperState::Up
        } else {
            OperState::LowerLayerDown
        };
        let link = link.clone();
        state.emit(NetEvent::Link(link));
    }

    /// Removes a link from outside (as when a USB NIC goes away), with its addresses.
    pub fn remove_link(&self, index: u32) {
        let mut state = self.lock();
        Self::drop_link(&mut state, index);
    }

    fn drop_link(state: &mut State, index: u32) {
        let Some(link) = state.links.remove(&index) else {
            return;
        };
        let (gone, kept): (Vec<_>, Vec<_>) =
            state.addresses.drain(..).partition(|a| a.index == index);
        state.addresses = kept;
        for address in gone {
            state.emit(NetEvent::AddressRemoved(address));
        }
        state.addr_gen.remove(&index);
        state.emit(NetEvent::LinkRemoved {
            index,
            name: link.name,
        });
    }

    /// The link with this index, now.
    pub fn link(&self, index: u32) -> Option<LinkInfo> {
        self.lock().links.get(&index).cloned()
    }

    /// The addresses of link `index`, now.
    pub fn addresses_of(&self, index: u32) -> Vec<IpNet> {
        self.lock()
            .addresses
            .iter()
            .filter(|a| a.index == index)
            .map(|a| a.net)
            .collect()
    }

    /// The addr_gen_mode last set on link `index` (None if never set: EUI-64).
    pub fn addr_gen_mode(&self, index: u32) -> Option<AddrGenMode> {
        self.lock().addr_gen.get(&index).copied()
    }

    /// Every call made so far, in order (including idempotent no-ops and failed calls).
    pub fn ops(&self) -> Vec<Op> {
        self.lock().ops.clone()
    }

    /// Forgets the recorded calls.
    pub fn clear_ops(&self) {
        self.lock().ops.clear();
    }

    /// Makes the next call matching `when` fail with `errno` (one failure per registration).
    pub fn fail_next(&self, when: impl Fn(&Op) -> bool + Send + 'static, errno: i32) {
        self.lock().failures.push((Box::new(when), errno));
    }
}

impl IpNet {
    /// The same address with another prefix length (clamped to the family's maximum).
    fn with_len(self, len: u8) -> IpNet {
        IpNet::new(self.addr(), len).unwrap_or(self)
    }
}

impl NetlinkOps for FakeNetlink {
    async fn link_by_name(&self, name: &str) -> Result<Option<LinkInfo>> {
        validate_name(name)?;
        Ok(self.lock().links.values().find(|l| l.name == name).cloned())
    }

    async fn link_by_index(&self, index: u32) -> Result<Option<LinkInfo>> {
        Ok(self.link(index))
    }

    async fn links(&self) -> Result<Vec<LinkInfo>> {
        Ok(self.lock().links.values().cloned().collect())
    }

    async fn addresses(&self, index: u32) -> Result<Vec<AddressInfo>> {
        Ok(self
            .lock()
            .addresses
            .iter()
            .filter(|a| a.index == index)
            .copied()
            .collect())
    }

    async fn add_address(&self, index: u32, net: IpNet) -> Result<()> {
        let mut state = self.lock();
        state.record(Op::AddAddress { index, net })?;
        state.link_mut(index, "add address")?;
        state.insert_address(index, net);
        Ok(())
    }

    async fn remove_address(&self, index: u32, net: IpNet) -> Result<()> {
        let mut state = self.lock();
        state.record(Op::RemoveAddress { index, net })?;
        state.link_mut(index, "remove address")?;
        if let Some(i) = state
            .addresses
            .iter()
            .position(|a| a.index == index && a.net == net)
        {
            let gone = state.addresses.remove(i);
            state.emit(NetEvent::AddressRemoved(gone));
        }
        Ok(())
    }

    async fn subscribe(&self) -> Result<EventStream> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().subscribers.push(tx);
        Ok(EventStream::new(rx, Vec::new()))
    }

    async fn create_macvlan(&self, parent: u32, name: &str, mac: Mac) -> Result<LinkInfo> {
        validate_name(name)?;
        let mut state = self.lock();
        state.record(Op::CreateMacvlan {
            parent,
            name: name.to_owned(),
            mac,
        })?;
        let mtu = state.link_mut(parent, "create macvlan")?.mtu;
        if state.links.values().any(|l| l.name == name) {
            return Err(NetlinkError::Kernel {
                op: format!("create macvlan {name}"),
                errno: libc::EEXIST,
                message: "File exists".into(),
            });
        }
        state.next_index += 1;
        let index = state.next_index + 1;
        let link = LinkInfo {
            index,
            name: name.to_owned(),
            mac: Some(mac),
            up: false,
            lower_up: false,
            oper: OperState::Down,
            mtu,
            parent: Some(parent),
            kind: Some("macvlan".into()),
        };
        state.links.insert(index, link.clone());
        state.emit(NetEvent::Link(link.clone()));
        Ok(link)
    }

    async fn delete_link(&self, index: u32) -> Result<()> {
        let mut state = self.lock();
        state.record(Op::DeleteLink { index })?;
        Self::drop_link(&mut state, index);
        Ok(())
    }

    async fn set_addr_gen_mode(&self, index: u32, mode: AddrGenMode) -> Result<()> {
        let mut state = self.lock();
        state.record(Op::SetAddrGenMode { index, mode })?;
        state.link_mut(index, "set addr_gen_mode")?;
        state.addr_gen.insert(index, mode);
        Ok(())
    }

    async fn set_link_up(&self, index: u32) -> Result<()> {
        let mut state = self.lock();
        state.record(Op::SetLinkUp { index })?;
        let carrier = {
            let link = state.link_mut(index, "set link up")?;
            link.parent
        }
        .and_then(|p| state.links.get(&p).map(|l| l.lower_up))
        .unwrap_or(true);
        let link = state.link_mut(index, "set link up")?;
        let was_up = link.up;
        link.up = true;
        link.lower_up = carrier;
        link.oper = if carrier {
            OperState::Up
        } else {
            OperState::LowerLayerDown
        };
        let link = link.clone();
        state.emit(NetEvent::Link(link.clone()));
        if !was_up {
            // Linux (addrconf_dev_config) derives the link-local when the link comes up,
            // from the addr_gen_mode set at that moment.
            let ll = match state
                .addr_gen
                .get(&index)
                .copied()
                .unwrap_or(AddrGenMode::Eui64)
            {
                AddrGenMode::None => None,
                AddrGenMode::Eui64 => link.mac.map(eui64_link_local),
                AddrGenMode::StablePrivacy | AddrGenMode::Random => {
                    // Any identifier that is not derived from the MAC will do.
                    Some(Ipv6Addr::new(
                        0xfe80,
                        0,
                        0,
                        0,
                        0x1234,
                        0x5678,
                        0x9abc,
                        index as u16,
                    ))
                }
            };
            if let Some(ll) = ll {
                state.insert_address(index, IpNet::host(ll.into()).with_len(64));
            }
        }
        Ok(())
    }

    async fn set_link_down(&self, index: u32) -> Result<()> {
        let mut state = self.lock();
        state.record(Op::SetLinkDown { index })?;
        let link = state.link_mut(index, "set link down")?;
        link.up = false;
        link.oper = OperState::Down;
        let link = link.clone();
        state.emit(NetEvent::Link(link));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    const MAC: Mac = Mac([2, 0, 0, 0, 1, 0x11]);

    #[test]
    fn addresses_are_idempotent_and_need_a_link() {
        block_on(async {
            let nl = FakeNetlink::new();
            let eth0 = nl.add_link("eth0", MAC);
            let vip: IpNet = "192.0.2.100/24".parse().unwrap();
            nl.add_address(eth0, vip).await.unwrap();
            nl.add_address(eth0, vip).await.unwrap();
            assert_eq!(
                nl.addresses_of(eth0).iter().filter(|n| **n == vip).count(),
                1
            );
            nl.remove_address(eth0, vip).await.unwrap();
            nl.remove_address(eth0, vip).await.unwrap();
            assert!(!nl.addresses_of(eth0).contains(&vip));
            let err = nl.add_address(99, vip).await.unwrap_err();
            assert_eq!(err.errno(), Some(libc::ENODEV));
            assert_eq!(nl.ops().len(), 5);
        });
    }

    #[test]
    fn events_follow_changes() {
        block_on(async {
            let nl = FakeNetlink::new();
            let eth0 = nl.add_link("eth0", MAC);
            let mut events = nl.subscribe().await.unwrap();
            let vip: IpNet = "192.0.2.100/24".parse().unwrap();
            nl.add_address(eth0, vip).await.unwrap();
            nl.set_carrier(eth0, false);
            nl.remove_address(eth0, vip).await.unwrap();
            match events.recv().await.unwrap() {
                NetEvent::AddressAdded(a) => assert_eq!((a.index, a.net), (eth0, vip)),
                other => panic!("{other:?}"),
            }
            match events.recv().await.unwrap() {
                NetEvent::Link(l) => assert!(!l.lower_up && !l.is_running()),
                other => panic!("{other:?}"),
            }
            assert!(matches!(
                events.recv().await.unwrap(),
                NetEvent::AddressRemoved(_)
            ));
            assert!(events.try_recv().is_none());
        });
    }

    #[test]
    fn a_macvlan_brought_up_before_addr_gen_mode_gets_the_eui64_link_local() {
        block_on(async {
            let nl = FakeNetlink::new();
            let eth0 = nl.add_link("eth0", MAC);
            let vmac = Mac([0, 0, 0x5e, 0, 2, 51]);
            let wrong = nl.create_macvlan(eth0, "bad", vmac).await.unwrap();
            assert!(!wrong.up);
            nl.set_link_up(wrong.index).await.unwrap();
            nl.set_addr_gen_mode(wrong.index, AddrGenMode::None)
                .await
                .unwrap();
            assert!(
                nl.addresses_of(wrong.index)
                    .iter()
                    .any(|n| n.addr() == eui64_link_local(vmac))
            );
            let right = nl
                .create_macvlan(eth0, "good", Mac([0, 0, 0x5e, 0, 2, 52]))
                .await
                .unwrap();
            nl.set_addr_gen_mode(right.index, AddrGenMode::None)
                .await
                .unwrap();
            nl.set_link_up(right.index).await.unwrap();
            assert!(nl.addresses_of(right.index).is_empty());
            let dup = nl.create_macvlan(eth0, "good", vmac).await.unwrap_err();
            assert_eq!(dup.errno(), Some(libc::EEXIST));
            nl.delete_link(right.index).await.unwrap();
            nl.delete_link(right.index).await.unwrap();
            assert!(nl.link(right.index).is_none());
        });
    }

    #[test]
    fn injected_failures_fire_once() {
        block_on(async {
            let nl = FakeNetlink::new();
            let eth0 = nl.add_link("eth0", MAC);
            nl.fail_next(|op| matches!(op, Op::AddAddress { .. }), libc::EPERM);
            let vip: IpNet = "192.0.2.100/24".parse().unwrap();
            assert_eq!(
                nl.add_address(eth0, vip).await.unwrap_err().errno(),
                Some(libc::EPERM)
            );
            nl.add_address(eth0, vip).await.unwrap();
            assert!(nl.addresses_of(eth0).contains(&vip));
        });
    }
}
