//! Many virtual routers behind one packet input, one output queue and one timer.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use vrrp_packet::{AddressFamily, VrrpRepr};

use crate::config::{ConfigError, InterfaceId, RouterConfig};
use crate::router::VirtualRouter;
use crate::stats::Stats;
use crate::types::{Command, DiscardReason, Event, Output, Reason, RxMeta, State};

/// Names a router inside a [`Node`]: its index, in the order routers were added.
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
#[derive(Debug, Clone, Default)]
pub struct Node {
    routers: Vec<VirtualRouter>,
    group_of: Vec<Option<usize>>,
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

    /// Adds a router (in [`State::Initialize`]); refuses a second router for the same
    /// interface, family and VRID.
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
        let id = RouterId(self.routers.len());
        self.routers.push(router);
        self.group_of.push(None);
        self.index.insert(key, id);
        Ok(id)
    }

    /// Makes `members` a sync group: a member entering FAULT takes every member to FAULT
    /// (until all are healthy), a member leaving MASTER takes the other masters to BACKUP,
    /// and a backup whose Master_Down_Timer fires becomes master only together with every
    /// other started member (keepalived's `vrrp_sync_group`).
    pub fn add_sync_group(&mut self, members: &[RouterId]) -> Result<usize, ConfigError> {
        for m in members {
            match self.group_of.get(m.0) {
                None => return Err(ConfigError::UnknownRouter(m.0)),
                Some(Some(_)) => return Err(ConfigError::AlreadyGrouped(m.0)),
                Some(None) => {}
            }
        }
        let g = self.groups.len();
        for m in members {
            self.group_of[m.0] = Some(g);
            self.routers[m.0].set_sync_hold(true);
        }
        self.groups.push(members.to_vec());
        Ok(g)
    }

    /// A router.
    pub fn router(&self, id: RouterId) -> Option<&VirtualRouter> {
        self.routers.get(id.0)
    }

    /// Every router with its id, in id order.
    pub fn routers(&self) -> impl Iterator<Item = (RouterId, &VirtualRouter)> {
        self.routers
            .iter()
            .enumerate()
            .map(|(i, r)| (RouterId(i), r))
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
        if let Some(r) = self.routers.get_mut(id.0) {
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
            if self.routers[i].config().interface == interface {
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
                    let r = &mut self.routers[id.0];
                    r.note_checksum_mode(&repr, mode);
                    r.handle_advert(now, meta, &repr);
                    self.drive(now, id);
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
                        self.routers[id.0].discard(meta.src, DiscardReason::Decode(e));
                        self.drive(now, id);
                    }
                    None => self.node_discard(meta, DiscardReason::Decode(e)),
                }
            }
        }
    }

    /// Fires every due timer (in router id order). Early calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        for i in 0..self.routers.len() {
            if self.routers[i].poll_timeout().is_some_and(|t| t <= now) {
                self.routers[i].handle_timeout(now);
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
        self.routers.iter().filter_map(|r| r.poll_timeout()).min()
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
        let Some(g) = self.group_of[id.0] else { return };
        let members = self.groups[g].clone();
        for (from, to, reason) in transitions {
            if reason == Reason::SyncGroup {
                continue;
            }
            // A member that leaves MASTER (other than into FAULT, handled below) takes the
            // other masters of the group to BACKUP.
            if from == State::Master && to != State::Fault {
                for m in members.iter().filter(|m| **m != id) {
                    self.routers[m.0].force_backup(now);
                    self.drain(*m, &mut Vec::new());
                }
            }
        }
        // FAULT: every member is in FAULT while any member has a fault of its own.
        for m in &members {
            let other_fault = members
                .iter()
                .any(|k| k != m && self.routers[k.0].own_fault());
            self.routers[m.0].set_group_fault(now, other_fault);
            self.drain(*m, &mut Vec::new());
        }
        // MASTER: held backups take over together, when every started member wants to.
        let any_wants = members.iter().any(|m| self.routers[m.0].wants_master());
        let all_ready = members.iter().all(|m| {
            let r = &self.routers[m.0];
            r.wants_master() || matches!(r.state(), State::Master | State::Initialize)
        });
        if any_wants && all_ready {
            for m in &members {
                self.routers[m.0].release_to_master(now);
                self.drain(*m, &mut Vec::new());
            }
        }
    }

    fn drain(&mut self, id: RouterId, transitions: &mut Vec<(State, State, Reason)>) {
        while let Some(output) = self.routers[id.0].poll_output() {
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
