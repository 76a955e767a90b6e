//! Many virtual routers behind one packet input, one output queue and one timer.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use vrrp_packet::{AddressFamily, VrrpRepr};

use crate::config::{ConfigError, InterfaceId, RouterConfig};
use crate::router::VirtualRouter;
use crate::stats::Stats;
use crate::types::{Command, DiscardReason, Event, Output, Reason, RxMeta, State};

/// Names a router inside a [`Node`]: its slot. Routers added to an empty node get 0, 1, 2 ...
/// in the order they are added; an id stays the router's until it is
/// [removed](Node::remove_router), and the lowest free id is given to the next router added
/// (so a node that is reloaded again and again does not grow).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouterId(pub usize);

/// One output of a [`Node`], tagged with the router it came from (`None` for packets that
/// matched no router).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeOutput {
    /// The router, if the output belongs to one.
    pub router: Option<RouterId>,
    /// The output.
    pub output: Output,
}

/// Many virtual routers (one per interface, family and VRID) with sync groups.
///
/// Takes raw VRRP payloads with [`RxMeta`], decodes each once, demultiplexes it by
/// (interface, family, VRID), and turns decode errors into [`Event::Discarded`] and counters
/// (on the router the VRID names, if any; otherwise on the node's own [`Stats`]). One ordered
/// [`poll_output`](Self::poll_output), one [`poll_timeout`](Self::poll_timeout).
///
/// Routers can be added and removed while the node runs ([`add_router`](Self::add_router),
/// [`remove_router`](Self::remove_router)): the others keep their ids, state and timers.
#[derive(Debug, Clone, Default)]
pub struct Node {
    /// Routers by id; `None` is a free slot (a removed router).
    routers: Vec<Option<VirtualRouter>>,
    group_of: Vec<Option<usize>>,
    /// Sync groups by index; an empty one is free (every member was removed).
    groups: Vec<Vec<RouterId>>,
    index: BTreeMap<(InterfaceId, AddressFamily, u8), RouterId>,
    queue: VecDeque<NodeOutput>,
    stats: Stats,
}

impl Node {
    /// An empty node.
    pub fn new() -> Self {
        Node::default()
    }

    /// Adds a router (in [`State::Initialize`]: start it with [`Command::Startup`]); refuses a
    /// second router for the same interface, family and VRID. Its id is the lowest free one.
    pub fn add_router(&mut self, config: RouterConfig) -> Result<RouterId, ConfigError> {
        let key = (config.interface, config.family(), config.vrid);
        if self.index.contains_key(&key) {
            return Err(ConfigError::Duplicate {
                interface: key.0,
                family: key.1,
                vrid: key.2,
            });
        }
        let router = VirtualRouter::new(config)?;
        let id = match self.routers.iter().position(Option::is_none) {
            Some(free) => {
                self.routers[free] = Some(router);
                self.group_of[free] = None;
                RouterId(free)
            }
            None => {
                self.routers.push(Some(router));
                self.group_of.push(None);
                RouterId(self.routers.len() - 1)
            }
        };
        self.index.insert(key, id);
        Ok(id)
    }

    /// Removes router `id` and returns it (its final state and counters).
    ///
    /// A running router is shut down first, exactly as by [`Command::Shutdown`]: a master
    /// removes its addresses and sends a priority-0 advert so a backup takes over after
    /// Skew_Time (RFC 9568 §6.4.3); a backup stops its Master_Down_Timer (RFC 9568 §6.4.2).
    /// Those outputs are queued under `id`, in order, before this returns: drain them before
    /// giving `id` to anything else, since the next [`add_router`](Self::add_router) may reuse
    /// it. Then the router leaves the demultiplexer (its VRID's adverts count as unknown) and
    /// its sync group, whose rules are applied again to the members that remain: a member
    /// held in FAULT only by the removed one recovers, and held backups that were waiting for
    /// it take over. The other routers keep their ids, states and timers.
    pub fn remove_router(
        &mut self,
        now: Instant,
        id: RouterId,
    ) -> Result<VirtualRouter, ConfigError> {
        if self.router(id).is_none() {
            return Err(ConfigError::UnknownRouter(id.0));
        }
        self.handle_command(now, id, Command::Shutdown);
        let router = self.routers[id.0]
            .take()
            .ok_or(ConfigError::UnknownRouter(id.0))?;
        let config = router.config();
        self.index
            .remove(&(config.interface, config.family(), config.vrid));
        if let Some(g) = self.group_of[id.0].take() {
            self.groups[g].retain(|m| *m != id);
            self.apply_group_rules(now, g);
        }
        Ok(router)
    }

    /// Makes `members` a sync group: a member entering FAULT takes every member to FAULT
    /// (until all are healthy), a member leaving MASTER takes the other masters to BACKUP,
    /// and a backup whose Master_Down_Timer fires becomes master only together with every
    /// other started member (keepalived's `vrrp_sync_group`).
    pub fn add_sync_group(&mut self, members: &[RouterId]) -> Result<usize, ConfigError> {
        for m in members {
            if self.router(*m).is_none() {
                return Err(ConfigError::UnknownRouter(m.0));
            }
            if self.group_of[m.0].is_some() {
                return Err(ConfigError::AlreadyGrouped(m.0));
            }
        }
        let g = match self.groups.iter().position(Vec::is_empty) {
            Some(free) => {
                self.groups[free] = members.to_vec();
                free
            }
            None => {
                self.groups.push(members.to_vec());
                self.groups.len() - 1
            }
        };
        for m in members {
            self.group_of[m.0] = Some(g);
            if let Some(r) = self.routers[m.0].as_mut() {
                r.set_sync_hold(true);
            }
        }
        Ok(g)
    }

    /// A router.
    pub fn router(&self, id: RouterId) -> Option<&VirtualRouter> {
        self.routers.get(id.0).and_then(Option::as_ref)
    }

    /// Every router with its id, in id order.
    pub fn routers(&self) -> impl Iterator<Item = (RouterId, &VirtualRouter)> {
        self.routers
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.as_ref().map(|r| (RouterId(i), r)))
    }

    /// The router for (interface, family, VRID).
    pub fn lookup(
        &self,
        interface: InterfaceId,
        family: AddressFamily,
        vrid: u8,
    ) -> Option<RouterId> {
        self.index.get(&(interface, family, vrid)).copied()
    }

    /// Counters of packets that matched no router.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Applies a command to one router (unknown ids are ignored).
    pub fn handle_command(&mut self, now: Instant, id: RouterId, cmd: Command) {
        if let Some(r) = self.routers.get_mut(id.0).and_then(Option::as_mut) {
            r.handle_command(now, cmd);
            self.drive(now, id);
        }
    }

    /// Applies a command to every router, in id order (e.g. [`Command::Startup`]).
    pub fn handle_command_all(&mut self, now: Instant, cmd: Command) {
        for i in 0..self.routers.len() {
            self.handle_command(now, RouterId(i), cmd);
        }
    }

    /// The interface went up or down: [`Command::InterfaceUp`] / [`Command::InterfaceDown`]
    /// to every router on it.
    pub fn handle_interface(&mut self, now: Instant, interface: InterfaceId, up: bool) {
        let cmd = if up {
            Command::InterfaceUp
        } else {
            Command::InterfaceDown
        };
        for i in 0..self.routers.len() {
            if self.routers[i]
                .as_ref()
                .is_some_and(|r| r.config().interface == interface)
            {
                self.handle_command(now, RouterId(i), cmd);
            }
        }
    }

    /// A received VRRP payload (the IP payload) with its metadata.
    pub fn handle_packet(&mut self, now: Instant, meta: RxMeta, payload: &[u8]) {
        let family = AddressFamily::of(&meta.src);
        match VrrpRepr::decode(payload, meta.src, meta.dst) {
            Ok((repr, mode)) => match self.lookup(meta.interface, family, repr.vrid) {
                Some(id) => {
                    if let Some(r) = self.routers[id.0].as_mut() {
                        r.note_checksum_mode(&repr, mode);
                        r.handle_advert(now, meta, &repr);
                        self.drive(now, id);
                    }
                }
                None => self.node_discard(
                    meta,
                    DiscardReason::Mismatch(vrrp_packet::MismatchError::UnknownVrid(repr.vrid)),
                ),
            },
            Err(e) => {
                // Attribute the discard to the router the VRID byte names, if there is one
                // (RFC 6527 counts most discards per virtual router).
                let id = payload
                    .get(1)
                    .and_then(|vrid| self.lookup(meta.interface, family, *vrid));
                match id {
                    Some(id) => {
                        if let Some(r) = self.routers[id.0].as_mut() {
                            r.discard(meta.src, DiscardReason::Decode(e));
                            self.drive(now, id);
                        }
                    }
                    None => self.node_discard(meta, DiscardReason::Decode(e)),
                }
            }
        }
    }

    /// Fires every due timer (in router id order). Early calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        for i in 0..self.routers.len() {
            if let Some(r) = self.routers[i].as_mut()
                && r.poll_timeout().is_some_and(|t| t <= now)
            {
                r.handle_timeout(now);
                self.drive(now, RouterId(i));
            }
        }
    }

    /// The next output of any router, in order.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<NodeOutput> {
        self.queue.pop_front()
    }

    /// The earliest timer of any router.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.routers
            .iter()
            .flatten()
            .filter_map(|r| r.poll_timeout())
            .min()
    }

    fn node_discard(&mut self, meta: RxMeta, reason: DiscardReason) {
        self.stats.increment(reason.counter());
        self.queue.push_back(NodeOutput {
            router: None,
            output: Output::Event(Event::Discarded {
                src: meta.src,
                reason,
            }),
        });
    }

    /// Moves a router's outputs to the node queue, then applies its sync group's rules.
    fn drive(&mut self, now: Instant, id: RouterId) {
        let mut transitions: Vec<(State, State, Reason)> = Vec::new();
        self.drain(id, &mut transitions);
        let Some(g) = self.group_of.get(id.0).copied().flatten() else {
            return;
        };
        let members = self.groups[g].clone();
        for (from, to, reason) in transitions {
            // A member moved by the group does not move it again; a member that stops
            // (Shutdown, or its removal) leaves the others as they are: each hands over on
            // its own when it stops, and keepalived stops instances the same way.
            if matches!(reason, Reason::SyncGroup | Reason::Shutdown) {
                continue;
            }
            // A member that leaves MASTER (other than into FAULT, handled below) takes the
            // other masters of the group to BACKUP.
            if from == State::Master && to != State::Fault {
                for m in members.iter().filter(|m| **m != id) {
                    if let Some(r) = self.routers[m.0].as_mut() {
                        r.force_backup(now);
                    }
                    self.drain(*m, &mut Vec::new());
                }
            }
        }
        self.apply_group_rules(now, g);
    }

    /// The group-wide rules: FAULT while any member has a fault of its own; held backups take
    /// over together when every started member wants to.
    fn apply_group_rules(&mut self, now: Instant, g: usize) {
        let members = self.groups[g].clone();
        let own_fault = |node: &Self, k: &RouterId| {
            node.routers[k.0]
                .as_ref()
                .is_some_and(VirtualRouter::own_fault)
        };
        for m in &members {
            let other_fault = members.iter().any(|k| k != m && own_fault(self, k));
            if let Some(r) = self.routers[m.0].as_mut() {
                r.set_group_fault(now, other_fault);
            }
            self.drain(*m, &mut Vec::new());
        }
        let live = || members.iter().filter_map(|m| self.routers[m.0].as_ref());
        let any_wants = live().any(VirtualRouter::wants_master);
        let all_ready = live()
            .all(|r| r.wants_master() || matches!(r.state(), State::Master | State::Initialize));
        if any_wants && all_ready {
            for m in &members {
                if let Some(r) = self.routers[m.0].as_mut() {
                    r.release_to_master(now);
                }
                self.drain(*m, &mut Vec::new());
            }
        }
    }

    fn drain(&mut self, id: RouterId, transitions: &mut Vec<(State, State, Reason)>) {
        let Some(router) = self.routers.get_mut(id.0).and_then(Option::as_mut) else {
            return;
        };
        while let Some(output) = router.poll_output() {
            if let Output::Event(Event::StateChanged { from, to, reason }) = &output {
                transitions.push((*from, *to, *reason));
            }
            self.queue.push_back(NodeOutput {
                router: Some(id),
                output,
            });
        }
    }
}
