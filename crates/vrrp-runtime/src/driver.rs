//! The event loop: one tokio task that owns the engine ([`vrrp_election::Node`]), feeds it
//! packets, timer expiries, probe results, link events and requests, and executes its outputs
//! in the order the engine gives them (VIPs added before the gratuitous ARP; VIPs removed
//! before the priority-0 advert), except that a takeover's advert does not wait for the
//! kernel to install its VIPs (see [`Driver::drain`]).
//!
//! Interfaces are known by the names of the configuration (see [`crate::links`]): each name
//! has a slot whose position is the engine's `InterfaceId`, bound to whatever interface
//! carries the name now. Start-up and reload go through one path, [`Driver::apply`], which
//! resolves names through that table; link events bind and unbind slots.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc, oneshot};
use vrrp_config::{Config, Instance, SyncGroup};
use vrrp_election::{
    Action, Command, Event, InterfaceId, Node, NodeOutput, Output, Reason, RouterConfig, RouterId,
    RxMeta, State, Transmit, VirtualRouter,
};
use vrrp_health::{HealthSet, ProbeEvent, ProbeEvents, ProbeResult, ProbeRunner};
use vrrp_netlink::{
    AddressInfo, Announcer, ArpFluxGuard, IpNet, Ipv6Forwarding, LinkInfo, Mac, NetEvent,
    NetlinkOps, PreparedAnnouncement, Vmac,
};
use vrrp_packet::AddressFamily;

use crate::announce::{AnnouncePolicy, AnnounceSchedule};
use crate::clock::{self, WallClock};
use crate::convert;
use crate::error::RuntimeError;
use crate::links::{self, LinkRt, RxKey, RxNeed};
use crate::log_limit::{DISCARD_LOG_BURST, DISCARD_LOG_WINDOW, LogLimiter, Summary};
use crate::notify::{Notifier, NotifyState, Subject};
use crate::privilege::PrivilegePlan;
use crate::reload::{self, Failure, ReloadReport};
use crate::socket::{RECV_BUFFER_LEN, VrrpReceiver, VrrpSender};
use crate::status::{InstanceStatus, ProbeView, Status, Transition};
use crate::timer::ProtocolTimer;
use crate::{StateEvent, StateEventKind};

/// A packet from one of the receive tasks.
#[derive(Debug)]
pub(crate) struct RxPacket {
    meta: RxMeta,
    payload: Vec<u8>,
    /// When the kernel received it (its stamp on the monotonic clock; see `ArrivalClock`).
    arrived: Instant,
}

/// Requests from a [`crate::RuntimeHandle`].
#[derive(Debug)]
pub(crate) enum Request {
    Status(oneshot::Sender<Status>),
    SetPriorityOffset {
        instance: String,
        offset: i16,
        reply: oneshot::Sender<Result<(), RuntimeError>>,
    },
    SetFault {
        instance: String,
        fault: bool,
        reply: oneshot::Sender<Result<(), RuntimeError>>,
    },
    Shutdown(oneshot::Sender<()>),
    Reload {
        config: Box<Config>,
        reply: oneshot::Sender<Result<ReloadReport, RuntimeError>>,
    },
}

/// Everything the runtime keeps per instance besides the engine's router.
struct InstanceRt {
    cfg: Instance,
    router: RouterId,
    /// Its interface: the slot in [`Driver::links`] (also the engine's `InterfaceId`).
    link: usize,
    /// The source address the engine's router was built with (it cannot change).
    primary: IpAddr,
    /// Sockets, VMAC and announcer on the interface that carries the configured name now;
    /// `None` while there is none (deleted, renamed away) or it lacks the source address.
    io: Option<InstanceIo>,
    /// What the engine was last told: the interface is usable (`InterfaceUp`).
    link_ok: bool,
    health: HealthSet,
    external_offset: i16,
    external_fault: bool,
    last_transition: Option<(State, State, Reason, Instant)>,
    /// Transitions so far, by the state entered (kept across a reload that re-applies it).
    transitions: BTreeMap<&'static str, u64>,
    notifier: Option<Notifier>,
    /// Index in `Driver::groups`.
    group: Option<usize>,
    /// The engine-level family.
    family: AddressFamily,
}

/// What an instance holds on its current interface.
struct InstanceIo {
    /// The interface the VIPs go on and announcements leave from (the VMAC, or the parent).
    vip_ifindex: u32,
    /// Shared with the other instances on `vip_ifindex` with the same source address.
    sender: Arc<VrrpSender>,
    /// Shared with the other instances on `vip_ifindex`.
    announcer: Arc<Announcer>,
    /// The VIPs as netlink addresses, in the configured order (their add requests are
    /// prepared: `NetlinkOps::prepare_addresses`).
    vip_nets: Vec<IpNet>,
    /// One per VIP, in the configured order, from the VMAC's MAC or the interface's, built
    /// when the interface was set up.
    announcements: Vec<PreparedAnnouncement>,
    /// The interface's IPv6 `forwarding`, for the NAs' Router flag: open when there is an
    /// NA to send and no VMAC (a VMAC's NAs always say R).
    forwarding: Option<Ipv6Forwarding>,
    vmac: Option<Vmac>,
    _arp_flux: Option<ArpFluxGuard>,
}

struct GroupRt {
    cfg: SyncGroup,
    /// Indices in `Driver::instances`.
    members: Vec<usize>,
    notifier: Option<Notifier>,
    /// The state last notified for the group.
    notified: Option<NotifyState>,
}

/// One receive task and the sources it drops (see [`links::receive_plan`]).
struct RxTask {
    skip: Vec<IpAddr>,
    task: tokio::task::JoinHandle<()>,
}

/// How long before a backup's Master_Down deadline its takeover is rehearsed
/// ([`Driver::rehearse_takeover`]); the first stage of the protocol timer's long waits ends
/// then too (timer.rs).
const REHEARSAL_LEAD: Duration = Duration::from_millis(10);

/// A callback the event loop itself calls at a fixed period (the systemd watchdog): a loop
/// that is stuck stops calling it.
pub struct Heartbeat {
    /// The period.
    pub every: Duration,
    /// Called from the loop every `every`.
    pub beat: Box<dyn FnMut() + Send>,
}

impl std::fmt::Debug for Heartbeat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Heartbeat")
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

/// The key of the discard-log rate limit: the instance's router (`None`: no instance, e.g.
/// an unknown VRID) and the counter.
type DiscardKey = (Option<RouterId>, &'static str);

/// The event loop's state.
pub(crate) struct Driver<N: NetlinkOps + 'static> {
    netlink: Arc<N>,
    node: Node,
    /// The configuration in force.
    config: Config,
    /// In configuration order.
    instances: Vec<InstanceRt>,
    groups: Vec<GroupRt>,
    announce: AnnounceSchedule<RouterId>,
    probes: ProbeRunner,
    probe_kinds: BTreeMap<String, &'static str>,
    /// Interface probes: probe name → the interface it watches.
    probe_ifaces: BTreeMap<String, String>,
    wall: WallClock,
    events: broadcast::Sender<StateEvent>,
    /// One slot per interface name configured since the start. A slot outlives its last
    /// instance (a reload may bring one back), so slot numbers, the engine's `InterfaceId`s,
    /// never change meaning.
    links: Vec<LinkRt>,
    /// The receive tasks, one per socket.
    receivers: BTreeMap<RxKey, RxTask>,
    /// Where receive tasks send packets.
    packet_tx: mpsc::Sender<RxPacket>,
    /// Rate limit of the logs peers can trigger.
    discard_log: LogLimiter<DiscardKey>,
}

/// What `start` hands to the loop task.
pub(crate) struct Channels {
    pub(crate) packets: mpsc::Receiver<RxPacket>,
    pub(crate) requests: mpsc::Receiver<Request>,
    pub(crate) probe_events: ProbeEvents,
    pub(crate) net_events: Option<vrrp_netlink::EventStream>,
    pub(crate) heartbeat: Option<Heartbeat>,
}

/// An instance checked against the machine, ready to be built.
struct Resolved {
    /// Its interface's slot in [`Driver::links`]; `links.len()` and up for a name no slot
    /// has yet (numbered in the order the names first appear).
    slot: usize,
    /// The interface carrying the name.
    link: LinkInfo,
    addrs: Vec<AddressInfo>,
    primary: IpAddr,
    router_config: RouterConfig,
}

fn empty_config() -> Config {
    Config {
        global: vrrp_config::Global::default(),
        probes: BTreeMap::new(),
        instances: Vec::new(),
        sync_groups: Vec::new(),
    }
}

impl<N: NetlinkOps + 'static> Driver<N> {
    /// Sets everything up: resolves interfaces and source addresses, creates VMACs, removes
    /// stale VIPs, opens sockets, starts probes and the receive tasks, and starts every
    /// router. Nothing is left behind if it fails half-way (VMACs are removed).
    pub(crate) async fn setup(
        config: Config,
        netlink: N,
        events: broadcast::Sender<StateEvent>,
        requests: mpsc::Receiver<Request>,
        heartbeat: Option<Heartbeat>,
        privileges: Option<&PrivilegePlan>,
    ) -> Result<(Self, Channels), RuntimeError> {
        let netlink = Arc::new(netlink);
        let (probes, probe_events) = ProbeRunner::new();
        let (packet_tx, packets) = mpsc::channel(1024);
        let mut driver = Driver {
            netlink: netlink.clone(),
            node: Node::new(),
            config: empty_config(),
            instances: Vec::new(),
            groups: Vec::new(),
            announce: AnnounceSchedule::new(),
            probes,
            probe_kinds: BTreeMap::new(),
            probe_ifaces: BTreeMap::new(),
            wall: WallClock::start(),
            events,
            links: Vec::new(),
            receivers: BTreeMap::new(),
            packet_tx,
            discard_log: LogLimiter::new(DISCARD_LOG_BURST, DISCARD_LOG_WINDOW),
        };
        // From here on only CAP_NET_ADMIN and CAP_NET_RAW (and the scripts' user switch) are
        // needed: opening raw sockets, netlink, the VMAC's net sysctls. Dropped before
        // anything starts a thread (the first process probe's blocking scan would keep
        // whatever the process holds at that moment).
        if let Some(plan) = privileges {
            let dropped = plan.apply()?;
            log_dropped(plan, &dropped);
        }
        match driver.apply(config, true).await {
            Ok(_) => {
                let net_events = match netlink.subscribe().await {
                    Ok(s) => Some(s),
                    Err(e) => {
                        tracing::warn!(error = %e, "no link/address events: interface changes will not be seen");
                        None
                    }
                };
                let channels = Channels {
                    packets,
                    requests,
                    probe_events,
                    net_events,
                    heartbeat,
                };
                Ok((driver, channels))
            }
            Err(e) => {
                driver.teardown().await;
                Err(e)
            }
        }
    }

    /// Moves from the configuration in force to `new` (see [`crate::reload`]): checks what
    /// it can first, without changing anything (interfaces, source addresses, probe and
    /// engine parameters, duplicate VRIDs), then stops changed and removed instances
    /// gracefully, restarts changed probes, and starts changed and added instances.
    /// Unchanged instances are not touched. With `strict` (start-up), any instance that fails
    /// to start is an error; otherwise it is reported and the others go on.
    async fn apply(&mut self, new: Config, strict: bool) -> Result<ReloadReport, RuntimeError> {
        let plan = reload::plan(&self.config, &new);
        let resolved = self.check(&new, &plan).await?;
        let now = clock::now();

        // 1. Hand over and stop the changed and removed instances (their VIPs removed before
        //    the priority-0 advert; notify STOP), then take them out of the engine.
        let stopping: Vec<String> = plan.to_stop(&self.config).map(str::to_owned).collect();
        for name in &stopping {
            if let Some(inst) = self.instances.iter().find(|i| i.cfg.name == *name) {
                self.node
                    .handle_command(now, inst.router, Command::Shutdown);
            }
        }
        self.drain().await;
        let mut carried: BTreeMap<String, Carried> = BTreeMap::new();
        for name in &stopping {
            let Some(idx) = self.instances.iter().position(|i| i.cfg.name == *name) else {
                continue;
            };
            let router = self.instances[idx].router;
            // Its discard-log windows end with it: the engine may give its id to another.
            let ended = self.discard_log.close(|(r, _)| *r == Some(router));
            self.log_summaries(ended);
            let mut inst = self.instances.remove(idx);
            self.announce.stop(router);
            if let Err(e) = self.node.remove_router(clock::now(), router) {
                tracing::warn!(instance = %name, error = %e, "router already gone");
            }
            if let Some(io) = inst.io.take() {
                self.release_io(name, io, false).await;
            }
            tracing::info!(instance = %name, "instance stopped for reload");
            carried.insert(
                name.clone(),
                Carried {
                    external_offset: inst.external_offset,
                    external_fault: inst.external_fault,
                    transitions: inst.transitions,
                    last_transition: inst.last_transition,
                },
            );
        }
        self.reindex_groups();
        // Removing routers can move the members of their groups; execute that too.
        self.drain().await;
        // Groups that no longer exist as they were: their GroupRt goes (the engine dissolved
        // them as their members left).
        let keep_groups: Vec<bool> = self
            .groups
            .iter()
            .map(|g| new.sync_groups.contains(&g.cfg) && g.members.len() == g.cfg.instances.len())
            .collect();
        let mut keep = keep_groups.into_iter();
        self.groups.retain(|_| keep.next().unwrap_or(false));

        // 2. Probes.
        let mut failures: Vec<Failure> = Vec::new();
        for name in plan.probes_removed.iter().chain(&plan.probes_changed) {
            self.probes.stop(name);
            self.probe_kinds.remove(name);
            self.probe_ifaces.remove(name);
        }
        for name in plan.probes_changed.iter().chain(&plan.probes_added) {
            let Some(probe) = new.probes.get(name) else {
                continue;
            };
            // Checked in `check`.
            let Some(spec) = convert::probe_spec(name, probe, &new.global.script_user) else {
                continue;
            };
            if let Err(source) = self.probes.spawn(spec) {
                let e = RuntimeError::Probe {
                    probe: name.clone(),
                    source,
                };
                if strict {
                    return Err(e);
                }
                tracing::error!(probe = %name, error = %error_chain(&e), "probe could not start");
                failures.push(Failure {
                    what: format!("probe {name}"),
                    error: error_chain(&e),
                });
                continue;
            }
            self.probe_kinds.insert(name.clone(), probe.kind_name());
            if let vrrp_config::ProbeKind::Interface(i) = &probe.kind {
                self.probe_ifaces.insert(name.clone(), i.interface.clone());
            }
        }

        // 3. Start the changed and added instances.
        let mut report = ReloadReport {
            unchanged: plan.unchanged.clone(),
            changed: plan.changed.clone(),
            added: plan.added.clone(),
            removed: plan.removed.clone(),
            probes_started: plan.probes_added.clone(),
            probes_restarted: plan.probes_changed.clone(),
            probes_stopped: plan.probes_removed.clone(),
            failed: failures,
        };
        let mut started: Vec<RouterId> = Vec::new();
        for (inst, resolved) in plan.to_start(&new).zip(resolved) {
            self.claim_slot(&inst.interface, &resolved).await;
            match self.add_instance(inst, &new.global, resolved).await {
                Ok(router) => {
                    if let (Some(c), Some(rt)) = (
                        carried.remove(&inst.name),
                        self.instances.iter_mut().find(|i| i.router == router),
                    ) {
                        rt.external_offset = c.external_offset;
                        rt.external_fault = c.external_fault;
                        rt.transitions = c.transitions;
                        rt.last_transition = c.last_transition;
                    }
                    started.push(router);
                }
                Err(e) if strict => return Err(e),
                Err(e) => {
                    tracing::error!(instance = %inst.name, error = %error_chain(&e), "instance could not start");
                    report.failed.push(Failure {
                        what: format!("instance {}", inst.name),
                        error: error_chain(&e),
                    });
                }
            }
        }
        // Configuration order, for status and metrics.
        self.instances.sort_by_key(|i| {
            new.instances
                .iter()
                .position(|c| c.name == i.cfg.name)
                .unwrap_or(usize::MAX)
        });
        self.reindex_groups();

        // 4. New sync groups (their members are all new routers).
        for group in &new.sync_groups {
            if self.groups.iter().any(|g| g.cfg == *group) {
                continue;
            }
            let ids: Vec<RouterId> = group
                .instances
                .iter()
                .filter_map(|name| self.instances.iter().find(|i| i.cfg.name == *name))
                .map(|i| i.router)
                .collect();
            if let Err(source) = self.node.add_sync_group(&ids) {
                let e = RuntimeError::Engine {
                    instance: group.name.clone(),
                    source,
                };
                if strict {
                    return Err(e);
                }
                tracing::error!(group = %group.name, error = %error_chain(&e), "sync group could not be formed");
                report.failed.push(Failure {
                    what: format!("sync group {}", group.name),
                    error: error_chain(&e),
                });
                continue;
            }
            self.groups.push(GroupRt {
                cfg: group.clone(),
                members: Vec::new(),
                notifier: Notifier::start(
                    Subject::Group,
                    &group.name,
                    &group.notify,
                    &new.global.script_user,
                    new.global.notify_timeout,
                ),
                notified: None,
            });
        }
        self.reindex_groups();

        // 5. The receive sockets no instance needs any more close (those still needed are not
        //    touched: no gap for the unchanged instances). Each instance's engine router
        //    learns whether its interface is usable, the new ones also their probes' current
        //    contributions; then the new ones start.
        for slot in 0..self.links.len() {
            if let Err(e) = self.sync_receivers(slot) {
                tracing::error!(interface = %self.links[slot].name, error = %error_chain(&e), "cannot open the receive sockets; will retry on the interface's next change");
            }
        }
        let now = clock::now();
        for idx in 0..self.instances.len() {
            self.sync_link_state(now, idx);
            if !started.contains(&self.instances[idx].router) {
                continue;
            }
            let track = self.instances[idx].cfg.track.clone();
            for probe in track {
                if let Some(status) = self.probes.status(&probe) {
                    self.instances[idx].health.track(probe, status.contribution);
                }
            }
            self.apply_health(now, idx);
        }
        for id in &started {
            self.node.handle_command(now, *id, Command::Startup);
        }
        // What failed to start is not in force: leave it out of the configuration we record,
        // so that the next reload of the same file tries it again (and re-forms its group).
        let mut new = new;
        for failure in &report.failed {
            if let Some(name) = failure.what.strip_prefix("instance ") {
                new.instances.retain(|i| i.name != name);
                new.sync_groups
                    .retain(|g| !g.instances.iter().any(|m| m == name));
            } else if let Some(name) = failure.what.strip_prefix("probe ") {
                new.probes.remove(name);
            } else if let Some(name) = failure.what.strip_prefix("sync group ") {
                new.sync_groups.retain(|g| g.name != name);
            }
        }
        self.config = new;
        self.drain().await;
        Ok(report)
    }

    /// Everything that can be checked before anything is changed: the probes' parameters,
    /// and for each instance to start its interface, source address, engine parameters,
    /// and that no two instances share an interface, family and VRID.
    ///
    /// Interface names are resolved through the links table: a name that has a slot bound
    /// to an interface means that interface (the one the instances on it use, whatever
    /// link events are still queued); a new name, or one whose interface is gone, is looked
    /// up in the kernel. Engine parameters are checked with the slot as the `InterfaceId`,
    /// as the router will have it.
    async fn check(
        &self,
        new: &Config,
        plan: &reload::Plan,
    ) -> Result<Vec<Resolved>, RuntimeError> {
        for name in plan.probes_changed.iter().chain(&plan.probes_added) {
            let Some(probe) = new.probes.get(name) else {
                continue;
            };
            let spec =
                convert::probe_spec(name, probe, &new.global.script_user).ok_or_else(|| {
                    RuntimeError::UnsupportedProbe {
                        probe: name.clone(),
                        kind: probe.kind_name(),
                    }
                })?;
            spec.validate().map_err(|source| RuntimeError::Probe {
                probe: name.clone(),
                source,
            })?;
        }
        let mut resolved = Vec::new();
        let mut keys: BTreeMap<(usize, AddressFamily, u8), String> = BTreeMap::new();
        for inst in &self.instances {
            if plan.unchanged.contains(&inst.cfg.name) {
                keys.insert(
                    (inst.link, inst.family, inst.cfg.vrid),
                    inst.cfg.name.clone(),
                );
            }
        }
        // Names without a slot yet, in order of first appearance: they get the next slots.
        let mut new_names: Vec<&str> = Vec::new();
        for inst in plan.to_start(new) {
            let slot = match self.links.iter().position(|l| l.name == inst.interface) {
                Some(slot) => slot,
                None => {
                    let k = match new_names.iter().position(|n| *n == inst.interface) {
                        Some(k) => k,
                        None => {
                            new_names.push(&inst.interface);
                            new_names.len() - 1
                        }
                    };
                    self.links.len() + k
                }
            };
            let link = match self.links.get(slot).and_then(|l| l.info.clone()) {
                Some(bound) => bound,
                None => self
                    .netlink
                    .link_by_name(&inst.interface)
                    .await
                    .map_err(|e| {
                        RuntimeError::netlink(format!("looking up {}", inst.interface), e)
                    })?
                    .ok_or_else(|| RuntimeError::InterfaceNotFound {
                        instance: inst.name.clone(),
                        interface: inst.interface.clone(),
                    })?,
            };
            let family = inst.family();
            let addrs = self.netlink.addresses(link.index).await.map_err(|e| {
                RuntimeError::netlink(format!("reading addresses of {}", link.name), e)
            })?;
            let primary = convert::primary_address(inst, &addrs).ok_or_else(|| {
                RuntimeError::NoSourceAddress {
                    instance: inst.name.clone(),
                    interface: inst.interface.clone(),
                    family: match family {
                        AddressFamily::Ipv4 => "IPv4",
                        AddressFamily::Ipv6 => "IPv6 link-local",
                    },
                    hint: match family {
                        AddressFamily::Ipv4 => " (add one, or set unicast_src)",
                        AddressFamily::Ipv6 => " (is IPv6 enabled on it?)",
                    },
                }
            })?;
            let router_config = convert::router_config(inst, link_id(slot), primary);
            let engine_error = |source| RuntimeError::Engine {
                instance: inst.name.clone(),
                source,
            };
            router_config.validate().map_err(engine_error)?;
            if keys
                .insert((slot, family, inst.vrid), inst.name.clone())
                .is_some()
            {
                return Err(engine_error(vrrp_election::ConfigError::Duplicate {
                    interface: link_id(slot),
                    family,
                    vrid: inst.vrid,
                }));
            }
            resolved.push(Resolved {
                slot,
                link,
                addrs,
                primary,
                router_config,
            });
        }
        Ok(resolved)
    }

    /// Gives `resolved.slot` to interface name `name` as [`check`](Self::check) planned: a
    /// new name gets its slot, bound to the interface found; a slot whose interface was gone
    /// is bound to the one found (its waiting instances with it).
    async fn claim_slot(&mut self, name: &str, resolved: &Resolved) {
        match self.links.get(resolved.slot) {
            // The next slot: `check` numbered new names in the order they are claimed.
            None => self
                .links
                .push(LinkRt::new(name, Some(resolved.link.clone()))),
            Some(link) if link.info.is_none() => {
                tracing::info!(interface = %name, ifindex = resolved.link.index, "interface (back) under its configured name: binding");
                self.bind_link(resolved.slot, resolved.link.clone()).await;
            }
            Some(_) => {}
        }
    }

    /// Builds one instance and adds it to `instances`: VMAC, stale-VIP cleanup and sockets
    /// ([`open_io`](Self::open_io)), engine router (not started), the receive sockets its
    /// interface now needs. If a step fails, what the earlier ones did is undone.
    async fn add_instance(
        &mut self,
        inst: &Instance,
        global: &vrrp_config::Global,
        resolved: Resolved,
    ) -> Result<RouterId, RuntimeError> {
        let Resolved {
            slot,
            link,
            addrs,
            primary,
            router_config,
        } = resolved;
        let io = self.open_io(inst, primary, &link, &addrs).await?;
        let router = match self.node.add_router(router_config) {
            Ok(router) => router,
            Err(source) => {
                self.release_io(&inst.name, io, false).await;
                return Err(RuntimeError::Engine {
                    instance: inst.name.clone(),
                    source,
                });
            }
        };
        self.instances.push(InstanceRt {
            cfg: inst.clone(),
            router,
            link: slot,
            primary,
            io: Some(io),
            link_ok: true,
            health: HealthSet::new(),
            external_offset: 0,
            external_fault: false,
            last_transition: None,
            transitions: BTreeMap::new(),
            notifier: None,
            group: None,
            family: inst.family(),
        });
        if let Err(e) = self.sync_receivers(slot) {
            // Back to the sockets the other instances had.
            if let Some(mut rt) = self.instances.pop() {
                // Never started: no output.
                let _ = self.node.remove_router(clock::now(), rt.router);
                if let Some(io) = rt.io.take() {
                    self.release_io(&inst.name, io, false).await;
                }
            }
            if let Err(e) = self.sync_receivers(slot) {
                tracing::error!(interface = %self.links[slot].name, error = %error_chain(&e), "cannot open the receive sockets; will retry on the interface's next change");
            }
            return Err(e);
        }
        if let Some(rt) = self.instances.last_mut() {
            rt.notifier = Notifier::start(
                Subject::Instance,
                &inst.name,
                &inst.notify,
                &global.script_user,
                global.notify_timeout,
            );
        }
        Ok(router)
    }

    /// Sets instance `inst` up on interface `link` (whose addresses are `addrs`): the VMAC if
    /// configured, the send and announcement sockets (those of another instance on the same
    /// interface, and source address, if there is one), and removal of a VIP of ours left
    /// there by an earlier run. A VMAC created here is removed again if a later step fails.
    async fn open_io(
        &self,
        inst: &Instance,
        primary: IpAddr,
        link: &LinkInfo,
        addrs: &[AddressInfo],
    ) -> Result<InstanceIo, RuntimeError> {
        let family = inst.family();
        // VMAC: a macvlan carrying 00-00-5E-00-01-{VRID} (or -02- for IPv6).
        let (vip_ifindex, vip_ifname, mac, vmac, arp_flux) = if inst.use_vmac {
            let mut vcfg =
                vrrp_netlink::VmacConfig::new(link.index, inst.vrid, convert::nl_family(family));
            vcfg.name = convert::vmac_name(inst);
            let vmac = vrrp_netlink::create_vmac(self.netlink.as_ref(), &vcfg)
                .await
                .map_err(|e| {
                    RuntimeError::netlink(
                        format!("instance {}: creating VMAC {}", inst.name, vcfg.name),
                        e,
                    )
                })?;
            let guard = if family == AddressFamily::Ipv4 {
                match vrrp_netlink::prevent_arp_flux(&link.name, &vmac.link.name) {
                    Ok(g) => Some(g),
                    Err(e) => {
                        tracing::warn!(instance = %inst.name, error = %e, "could not set arp_ignore/arp_filter: the parent may answer ARP for the VIP");
                        None
                    }
                }
            } else {
                None
            };
            (
                vmac.link.index,
                vmac.link.name.clone(),
                vmac.mac,
                Some(vmac),
                guard,
            )
        } else {
            let mac = link.mac.unwrap_or(Mac([0; 6]));
            (link.index, link.name.clone(), mac, None, None)
        };
        let (sender, announcer) = match self.open_sockets(inst, vip_ifindex, &vip_ifname, primary) {
            Ok(sockets) => sockets,
            Err(e) => {
                if let Some(v) = vmac {
                    let _ = vrrp_netlink::remove_vmac(self.netlink.as_ref(), v.link.index).await;
                }
                return Err(e);
            }
        };
        // A VIP of ours left on the interface (a crash, a kill -9) must not answer while we
        // are not master: remove it now; becoming master adds it back.
        for vip in &inst.virtual_ips {
            if let Ok(net) = IpNet::new(vip.addr, vip.prefix_len) {
                let stale = addrs.iter().any(|a| a.net.addr() == vip.addr);
                if stale || vip_ifindex != link.index {
                    if let Err(e) = self.netlink.remove_address(vip_ifindex, net).await {
                        tracing::warn!(instance = %inst.name, vip = %net, error = %e, "could not remove a stale VIP");
                    } else if stale {
                        tracing::info!(instance = %inst.name, vip = %net, "removed a VIP left on the interface by an earlier run");
                    }
                }
            }
        }
        // The takeover's work done in advance: the VIPs' netlink requests and their
        // announcement frames (what is left on its path is sending bytes).
        let vip_nets = vip_nets(&inst.virtual_ips);
        self.netlink.prepare_addresses(vip_ifindex, &vip_nets);
        let announcements: Vec<PreparedAnnouncement> = inst
            .virtual_ips
            .iter()
            .map(|vip| PreparedAnnouncement::new(mac, vip.addr))
            .collect();
        let forwarding = if vmac.is_none() && announcements.iter().any(PreparedAnnouncement::is_na)
        {
            Ipv6Forwarding::open(&link.name)
                .inspect_err(|e| {
                    tracing::warn!(instance = %inst.name, error = %e, "cannot read IPv6 forwarding: NAs go without the Router flag");
                })
                .ok()
        } else {
            None
        };
        Ok(InstanceIo {
            vip_ifindex,
            vip_nets,
            sender,
            announcer,
            announcements,
            forwarding,
            vmac,
            _arp_flux: arp_flux,
        })
    }

    /// The send and announcement sockets for an instance: those of another instance on the
    /// same interface (and source address) if there is one, else new ones.
    fn open_sockets(
        &self,
        inst: &Instance,
        vip_ifindex: u32,
        vip_ifname: &str,
        primary: IpAddr,
    ) -> Result<(Arc<VrrpSender>, Arc<Announcer>), RuntimeError> {
        let on_interface = || {
            self.instances
                .iter()
                .filter_map(|i| i.io.as_ref().map(|io| (i, io)))
                .filter(|(_, io)| io.vip_ifindex == vip_ifindex)
        };
        let sender = match on_interface().find(|(i, _)| i.primary == primary) {
            Some((_, io)) => io.sender.clone(),
            None => Arc::new(
                VrrpSender::open(vip_ifname, vip_ifindex, primary).map_err(|e| {
                    RuntimeError::io(
                        format!(
                            "instance {}: opening the send socket on {vip_ifname} from {primary}",
                            inst.name
                        ),
                        e,
                    )
                })?,
            ),
        };
        let announcer = match on_interface().next() {
            Some((_, io)) => io.announcer.clone(),
            None => Arc::new(Announcer::new(vip_ifindex).map_err(|e| {
                RuntimeError::netlink(
                    format!(
                        "instance {}: opening the announcement socket on {vip_ifname}",
                        inst.name
                    ),
                    e,
                )
            })?),
        };
        Ok((sender, announcer))
    }

    /// Gives up what instance `name` holds on its interface: its VMAC is deleted (unless the
    /// parent interface was, which took the VMAC with it) and the ARP sysctls restored; the
    /// sockets close with their last user.
    async fn release_io(&self, name: &str, mut io: InstanceIo, parent_deleted: bool) {
        if let Some(vmac) = io.vmac.take()
            && !parent_deleted
            && let Err(e) = vrrp_netlink::remove_vmac(self.netlink.as_ref(), vmac.link.index).await
        {
            tracing::warn!(instance = %name, error = %e, "could not remove the VMAC");
        }
    }

    /// Makes the receive sockets of interface slot `slot` what its instances need (see
    /// [`links::receive_plan`]): stops those no instance needs any more or whose skip list
    /// changed (the catch-all, as peers come and go), and opens the missing ones if the
    /// name has an interface. Sockets that stay are not touched (no gap for the instances
    /// using them). The slot is `receiving` when all it needs are open.
    fn sync_receivers(&mut self, slot: usize) -> Result<(), RuntimeError> {
        let plan =
            links::receive_plan(
                self.instances
                    .iter()
                    .filter(|i| i.link == slot)
                    .map(|i| RxNeed {
                        link: slot,
                        family: i.family,
                        peers: &i.cfg.unicast_peers,
                    }),
            );
        self.receivers.retain(|key, rx| {
            let keep = key.link != slot || plan.get(key) == Some(&rx.skip);
            if !keep {
                rx.task.abort();
            }
            keep
        });
        let Some(link) = self.links[slot].info.clone() else {
            return Ok(());
        };
        for (key, skip) in plan {
            if self.receivers.contains_key(&key) {
                continue;
            }
            let receiver =
                match VrrpReceiver::open_scoped(key.family, &link.name, link.index, key.scope) {
                    Ok(receiver) => receiver,
                    Err(e) => {
                        self.links[slot].receiving = false;
                        return Err(RuntimeError::io(
                            format!(
                                "opening the receive socket on {} ({:?}, {})",
                                link.name,
                                key.scope,
                                key.family.as_str()
                            ),
                            e,
                        ));
                    }
                };
            let task = tokio::spawn(receive_loop(
                receiver,
                link_id(slot),
                skip.clone(),
                self.packet_tx.clone(),
            ));
            self.receivers.insert(key, RxTask { skip, task });
        }
        self.links[slot].receiving = true;
        Ok(())
    }

    /// Stops every receive task of slot `slot`.
    fn close_receivers(&mut self, slot: usize) {
        self.receivers.retain(|key, rx| {
            if key.link == slot {
                rx.task.abort();
                false
            } else {
                true
            }
        });
        self.links[slot].receiving = false;
    }

    /// Tells the engine whether instance `idx`'s interface is usable (up, with carrier, its
    /// sockets open), if that changed: FAULT while it is not.
    fn sync_link_state(&mut self, now: Instant, idx: usize) {
        let inst = &self.instances[idx];
        let ok = inst.io.is_some() && self.links[inst.link].usable();
        if ok != inst.link_ok {
            let router = inst.router;
            self.instances[idx].link_ok = ok;
            let cmd = if ok {
                Command::InterfaceUp
            } else {
                Command::InterfaceDown
            };
            self.node.handle_command(now, router, cmd);
        }
    }

    /// [`sync_link_state`](Self::sync_link_state) for every instance on slot `slot`.
    fn sync_slot_state(&mut self, now: Instant, slot: usize) {
        for idx in 0..self.instances.len() {
            if self.instances[idx].link == slot {
                self.sync_link_state(now, idx);
            }
        }
    }

    /// The interface that carries slot `slot`'s name is `link` (it appeared, came back with a
    /// new index, or was renamed to it): set up every instance on it whose source address is
    /// there, and open the receive sockets.
    async fn bind_link(&mut self, slot: usize, link: LinkInfo) {
        let name = self.links[slot].name.clone();
        self.links[slot].info = Some(link.clone());
        let addrs = match self.netlink.addresses(link.index).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(interface = %name, error = %e, "cannot read the addresses of the interface; will retry on its next change");
                return;
            }
        };
        for idx in 0..self.instances.len() {
            if self.instances[idx].link != slot || self.instances[idx].io.is_some() {
                continue;
            }
            let inst = &self.instances[idx];
            match convert::primary_address(&inst.cfg, &addrs) {
                Some(p) if p == inst.primary => {}
                Some(p) => {
                    tracing::error!(instance = %inst.cfg.name, interface = %name, was = %inst.primary, now = %p, "the interface came back with another source address; the instance stays in FAULT until it has its old one again (or vrrpd restarts)");
                    continue;
                }
                None => {
                    tracing::info!(instance = %inst.cfg.name, interface = %name, source = %inst.primary, "waiting for the source address on the interface");
                    continue;
                }
            }
            match self.open_io(&inst.cfg, inst.primary, &link, &addrs).await {
                Ok(io) => {
                    tracing::info!(instance = %self.instances[idx].cfg.name, interface = %name, ifindex = link.index, "bound to the interface");
                    self.instances[idx].io = Some(io);
                }
                Err(e) => {
                    tracing::error!(instance = %self.instances[idx].cfg.name, error = %error_chain(&e), "cannot set up on the interface; will retry on its next change");
                }
            }
        }
        if let Err(e) = self.sync_receivers(slot) {
            tracing::error!(interface = %name, error = %error_chain(&e), "cannot open the receive sockets; will retry on the interface's next change");
        }
    }

    /// Slot `slot`'s interface is gone: deleted (`deleted`), or renamed away. Its instances go
    /// to FAULT (a master first removes its VIPs from a renamed interface, which still
    /// exists), then their sockets, VMACs and announcers are released and the receive tasks
    /// stopped.
    async fn unbind_link(&mut self, slot: usize, deleted: bool) {
        let now = clock::now();
        self.links[slot].info = None;
        let mut released = Vec::new();
        for idx in 0..self.instances.len() {
            if self.instances[idx].link != slot {
                continue;
            }
            if deleted {
                // Nothing to remove from an interface that no longer exists.
                if let Some(io) = self.instances[idx].io.take() {
                    released.push((self.instances[idx].cfg.name.clone(), io));
                }
            }
            self.sync_link_state(now, idx);
        }
        // The engine's outputs (VIP removal) use the renamed interface.
        self.drain().await;
        for idx in 0..self.instances.len() {
            if self.instances[idx].link == slot {
                self.announce.stop(self.instances[idx].router);
                if let Some(io) = self.instances[idx].io.take() {
                    released.push((self.instances[idx].cfg.name.clone(), io));
                }
            }
        }
        for (name, io) in released {
            self.release_io(&name, io, deleted).await;
        }
        self.close_receivers(slot);
    }

    /// Recomputes the instance ↔ group indices from the names.
    fn reindex_groups(&mut self) {
        for inst in &mut self.instances {
            inst.group = None;
        }
        for (gi, group) in self.groups.iter_mut().enumerate() {
            group.members = group
                .cfg
                .instances
                .iter()
                .filter_map(|name| self.instances.iter().position(|i| i.cfg.name == *name))
                .collect();
            for m in &group.members {
                self.instances[*m].group = Some(gi);
            }
        }
    }

    /// The loop. Returns after a graceful shutdown.
    pub(crate) async fn run(mut self, mut ch: Channels) {
        let mut shutdown_reply: Option<oneshot::Sender<()>> = None;
        let mut heartbeat = ch.heartbeat.take();
        // The first beat at once, then one `every` after the previous one.
        let mut next_beat = heartbeat.as_ref().map(|_| clock::now());
        // The engine's deadlines on a high-resolution timer (timer.rs says why).
        let mut protocol_timer = ProtocolTimer::new();
        // The latest time given to the engine with a packet or a timeout.
        let mut engine_floor = clock::now();
        tracing::debug!(
            timerfd = protocol_timer.is_precise(),
            "protocol timer ready"
        );
        // The Master_Down deadline whose takeover was last rehearsed.
        let mut rehearsed: Option<Instant> = None;
        loop {
            // Two timers, one wake-up: the engine's deadline (precise), and the
            // announcements', the discard-log summaries' and the heartbeat's (tokio's).
            let protocol_deadline = self.node.poll_timeout();
            // A backup about to take over (its Master_Down deadline is next, and far enough
            // away to be worth a wake-up of its own): rehearse the takeover shortly before.
            let rehearsal = protocol_deadline
                .filter(|d| rehearsed != Some(*d))
                .filter(|d| d.saturating_duration_since(clock::now()) > 2 * REHEARSAL_LEAD)
                .filter(|d| self.backups_due_at(*d).next().is_some())
                .map(|d| (d, d - REHEARSAL_LEAD));
            let other_deadline = [
                self.announce.next_deadline(),
                self.discard_log.next_deadline(),
                next_beat,
                rehearsal.map(|(_, at)| at),
            ]
            .into_iter()
            .flatten()
            .min();
            let timer = &mut protocol_timer;
            let sleep = async move {
                let protocol = async move {
                    match protocol_deadline {
                        Some(d) => timer.wait_until(d).await,
                        None => std::future::pending().await,
                    }
                };
                let other = async {
                    match other_deadline {
                        Some(d) => {
                            tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await
                        }
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    biased;
                    () = protocol => {}
                    () = other => {}
                }
            };
            tokio::select! {
                biased;
                request = ch.requests.recv() => match request {
                    Some(Request::Shutdown(reply)) => {
                        shutdown_reply = Some(reply);
                        break;
                    }
                    Some(Request::Reload { config, reply }) => {
                        // Probe results already sent belong to the probes in force: apply
                        // them before some of those probes are replaced.
                        while let Some(event) = ch.probe_events.try_recv() {
                            self.handle_probe_event(event);
                        }
                        self.drain().await;
                        let result = self.apply(*config, false).await;
                        match &result {
                            Ok(report) => tracing::info!(%report, "configuration reloaded"),
                            Err(e) => tracing::error!(error = %error_chain(e), "reload refused; nothing changed"),
                        }
                        let _ = reply.send(result);
                    }
                    Some(request) => self.handle_request(request),
                    // Every handle is gone: nobody can ask us to stop any more, so stop.
                    None => break,
                },
                Some(packet) = ch.packets.recv() => {
                    // The engine's time for a packet is when it arrived, so a backup's
                    // Master_Down_Timer (RFC 9568 §6.4.2) runs from the advert's arrival, not
                    // from this loop's wake-up. Never before a time the engine has already
                    // been given, so its inputs stay in order.
                    let at = packet.arrived.clamp(engine_floor, clock::now().max(engine_floor));
                    engine_floor = at;
                    // Events in the order they happened: a timer that was due before the
                    // packet arrived fires first (its expiry may not have been handled yet
                    // when the loop woke late).
                    if self.node.poll_timeout().is_some_and(|due| due <= at) {
                        self.node.handle_timeout(at);
                    }
                    self.node.handle_packet(at, packet.meta, &packet.payload);
                }
                () = sleep => {
                    let now = clock::now();
                    if let Some((deadline, at)) = rehearsal
                        && now >= at
                        && now < deadline
                    {
                        rehearsed = Some(deadline);
                        self.rehearse_takeover(deadline);
                    }
                    engine_floor = engine_floor.max(now);
                    self.node.handle_timeout(now);
                    // The engine's outputs first: a takeover's advert must not wait for the
                    // housekeeping below (after an idle interval, every extra piece of code
                    // on the way to it runs cold; see docs/performance.md).
                    self.drain().await;
                    for router in self.announce.due(now) {
                        if let Some(idx) = self.instances.iter().position(|i| i.router == router) {
                            self.announce_now(idx);
                        }
                    }
                    self.log_discard_summaries(now);
                    if let (Some(h), Some(due)) = (heartbeat.as_mut(), next_beat)
                        && now >= due
                    {
                        (h.beat)();
                        next_beat = Some(now + h.every.max(Duration::from_millis(1)));
                    }
                }
                Some(event) = ch.probe_events.recv() => self.handle_probe_event(event),
                Some(event) = next_net_event(&mut ch.net_events) => self.handle_net_event(event).await,
            }
            self.drain().await;
        }
        self.shutdown().await;
        if let Some(reply) = shutdown_reply {
            let _ = reply.send(());
        }
    }

    /// Graceful stop: every master removes its VIPs and sends a priority-0 advert
    /// (RFC 9568 §6.4.3), then VMACs are deleted and sysctls restored.
    async fn shutdown(&mut self) {
        self.node
            .handle_command_all(clock::now(), Command::Shutdown);
        self.drain().await;
        self.teardown().await;
        // The STOP scripts (and any still queued) run before we return, within
        // notify_timeout: a stopping daemon must not cut them off.
        let deadline = tokio::time::Instant::from_std(clock::now())
            + self.config.global.notify_timeout
            + Duration::from_millis(500);
        let notifiers: Vec<Notifier> = self
            .instances
            .iter_mut()
            .filter_map(|i| i.notifier.take())
            .chain(self.groups.iter_mut().filter_map(|g| g.notifier.take()))
            .collect();
        for n in notifiers {
            n.finish(deadline).await;
        }
    }

    async fn teardown(&mut self) {
        for (_, rx) in std::mem::take(&mut self.receivers) {
            rx.task.abort();
        }
        let mut released = Vec::new();
        for inst in &mut self.instances {
            if let Some(io) = inst.io.take() {
                released.push((inst.cfg.name.clone(), io));
            }
        }
        for (name, io) in released {
            self.release_io(&name, io, false).await;
        }
    }

    fn instance_index(&self, name: &str) -> Result<usize, RuntimeError> {
        self.instances
            .iter()
            .position(|i| i.cfg.name == name)
            .ok_or_else(|| RuntimeError::UnknownInstance(name.to_owned()))
    }

    fn handle_request(&mut self, request: Request) {
        match request {
            Request::Status(reply) => {
                let _ = reply.send(self.status());
            }
            Request::SetPriorityOffset {
                instance,
                offset,
                reply,
            } => {
                let r = self.instance_index(&instance).map(|idx| {
                    self.instances[idx].external_offset = offset;
                    self.apply_health(clock::now(), idx);
                });
                let _ = reply.send(r);
            }
            Request::SetFault {
                instance,
                fault,
                reply,
            } => {
                let r = self.instance_index(&instance).map(|idx| {
                    self.instances[idx].external_fault = fault;
                    self.apply_health(clock::now(), idx);
                });
                let _ = reply.send(r);
            }
            // Handled by the loop itself.
            Request::Shutdown(_) | Request::Reload { .. } => {}
        }
    }

    /// Gives the engine instance `idx`'s priority offset and fault: its probes' plus what the
    /// embedder set.
    fn apply_health(&mut self, now: Instant, idx: usize) {
        let inst = &self.instances[idx];
        let offset = inst.health.offset() + i32::from(inst.external_offset);
        let offset = i16::try_from(offset.clamp(-255, 255)).unwrap_or(0);
        let fault = inst.health.fault() || inst.external_fault;
        let id = inst.router;
        self.node
            .handle_command(now, id, Command::SetPriorityOffset(offset));
        self.node.handle_command(now, id, Command::SetFault(fault));
    }

    fn handle_probe_event(&mut self, event: ProbeEvent) {
        let now = clock::now();
        for idx in 0..self.instances.len() {
            if !self.instances[idx].health.tracks(&event.probe) {
                continue;
            }
            if let Some(summary) = self.instances[idx].health.apply(&event) {
                tracing::info!(
                    instance = %self.instances[idx].cfg.name,
                    probe = %event.probe,
                    healthy = event.healthy,
                    offset = summary.offset,
                    fault = summary.fault,
                    result = ?event.result,
                    "probe changed"
                );
                self.apply_health(now, idx);
            }
        }
    }

    async fn handle_net_event(&mut self, event: NetEvent) {
        let now = clock::now();
        match event {
            NetEvent::Link(link) => {
                // A configured interface renamed away: its name is gone (the configuration
                // names interfaces, as it does at start).
                for slot in 0..self.links.len() {
                    if self.links[slot].ifindex() == Some(link.index)
                        && self.links[slot].name != link.name
                    {
                        tracing::warn!(interface = %self.links[slot].name, new_name = %link.name, "interface renamed: its instances are in FAULT until an interface of that name is back");
                        self.unbind_link(slot, false).await;
                    }
                }
                if let Some(slot) = self.links.iter().position(|l| l.name == link.name) {
                    match self.links[slot].ifindex() {
                        Some(index) if index == link.index => {
                            self.links[slot].info = Some(link.clone());
                            if !self.links[slot].receiving
                                && let Err(e) = self.sync_receivers(slot)
                            {
                                tracing::error!(interface = %link.name, error = %error_chain(&e), "cannot open the receive sockets; will retry on the interface's next change");
                            }
                        }
                        known => {
                            if known.is_some() {
                                // The old interface's removal was missed.
                                self.unbind_link(slot, true).await;
                            }
                            tracing::info!(interface = %link.name, ifindex = link.index, "interface (back) under its configured name: binding");
                            self.bind_link(slot, link.clone()).await;
                        }
                    }
                    self.sync_slot_state(now, slot);
                }
                // Interface probes hear about it at once instead of at their next read.
                let up = link.up && link.lower_up;
                let watching: Vec<String> = self
                    .probe_ifaces
                    .iter()
                    .filter(|(_, ifname)| **ifname == link.name)
                    .map(|(probe, _)| probe.clone())
                    .collect();
                for probe in watching {
                    let result = if up {
                        ProbeResult::Success
                    } else {
                        ProbeResult::failure(format!("{} is down", link.name))
                    };
                    let _ = self.probes.report(&probe, result);
                }
            }
            NetEvent::LinkRemoved { index, name } => {
                for slot in 0..self.links.len() {
                    if self.links[slot].ifindex() == Some(index) {
                        tracing::warn!(interface = %name, "interface deleted: its instances are in FAULT until an interface of that name is back");
                        self.unbind_link(slot, true).await;
                    }
                }
            }
            NetEvent::AddressAdded(info) => {
                // An instance waiting for its source address on a re-created interface.
                let waiting = self
                    .links
                    .iter()
                    .position(|l| l.ifindex() == Some(info.index));
                if let Some(slot) = waiting {
                    let pending = self
                        .instances
                        .iter()
                        .any(|i| i.link == slot && i.io.is_none());
                    if let (true, Some(link)) = (pending, self.links[slot].info.clone()) {
                        self.bind_link(slot, link).await;
                        self.sync_slot_state(now, slot);
                    }
                }
            }
            NetEvent::AddressRemoved(info) => {
                // A VIP removed by hand while we are master: put it back and re-announce, or
                // clients would be left without it while the protocol thinks all is well.
                for idx in 0..self.instances.len() {
                    let inst = &self.instances[idx];
                    let Some(io) = &inst.io else { continue };
                    if io.vip_ifindex != info.index
                        || !inst
                            .cfg
                            .virtual_ips
                            .iter()
                            .any(|v| v.addr == info.net.addr())
                    {
                        continue;
                    }
                    let master =
                        self.node.router(inst.router).map(|r| r.state()) == Some(State::Master);
                    if master {
                        tracing::warn!(instance = %inst.cfg.name, vip = %info.net, "VIP removed from under us while master: adding it back");
                        self.add_vips(idx).await;
                        self.announce_start(idx, now);
                    }
                }
            }
            _ => {}
        }
    }

    /// Executes every pending engine output, in order.
    ///
    /// One exception to the engine's order: a takeover's advert is sent *before* its VIPs
    /// are installed, not after. Adding an address is a synchronous `RTM_NEWADDR` in which
    /// the kernel takes the RTNL lock and runs the address notifiers; measured in the lab it
    /// takes 0.7-2.4 ms, and waiting for it made every takeover advert that late (the
    /// host-death overshoot of `docs/performance.md`). Nothing on the LAN depends on the VIP
    /// being installed when the advert leaves: other routers only read the advert, and
    /// hosts move to us on the gratuitous ARP / NA, which still waits for the install (the
    /// design's rule: VIP added before gARP). RFC 9568 §6.4.2 lists the advert first too,
    /// and keepalived sends it first. Removal keeps the engine's order (VIPs removed before
    /// the priority-0 advert).
    async fn drain(&mut self) {
        let mut lookahead: Option<NodeOutput> = None;
        while let Some(out) = lookahead.take().or_else(|| self.node.poll_output()) {
            if matches!(out.output, Output::Action(Action::AddAddresses { .. })) {
                lookahead = self.node.poll_output();
                if let Some(next) = lookahead.take_if(|next| {
                    next.router == out.router && matches!(next.output, Output::Transmit(_))
                }) {
                    self.execute(next).await;
                }
            }
            self.execute(out).await;
        }
    }

    async fn execute(&mut self, NodeOutput { router, output }: NodeOutput) {
        let idx = router.and_then(|r| self.instances.iter().position(|i| i.router == r));
        match output {
            Output::Transmit(tx) => self.transmit(idx, tx).await,
            Output::Action(action) => self.act(idx, action).await,
            Output::Event(event) => self.event(idx, event),
        }
    }

    async fn transmit(&mut self, idx: Option<usize>, tx: Transmit) {
        let Some(idx) = idx else { return };
        let inst = &self.instances[idx];
        let Some(io) = &inst.io else {
            tracing::debug!(instance = %inst.cfg.name, "no interface: advert not sent");
            return;
        };
        if let Err(e) = io.sender.send(tx.dst, &tx.payload).await {
            tracing::warn!(instance = %inst.cfg.name, dst = %tx.dst, error = %e, "advert not sent");
        }
    }

    async fn act(&mut self, idx: Option<usize>, action: Action) {
        let Some(idx) = idx else { return };
        let now = clock::now();
        match action {
            Action::AddAddresses { .. } => self.add_vips(idx).await,
            Action::RemoveAddresses { .. } => {
                self.announce.stop(self.instances[idx].router);
                let inst = &self.instances[idx];
                let Some(io) = &inst.io else { return };
                for &net in &io.vip_nets {
                    if let Err(e) = self.netlink.remove_address(io.vip_ifindex, net).await {
                        tracing::error!(instance = %inst.cfg.name, vip = %net, error = %e, "could not remove VIP");
                    }
                }
            }
            Action::Announce { .. } => self.announce_start(idx, now),
            _ => {}
        }
    }

    /// The instances whose router is a backup with its Master_Down_Timer due at `deadline`.
    fn backups_due_at(&self, deadline: Instant) -> impl Iterator<Item = &InstanceRt> {
        self.instances.iter().filter(move |inst| {
            self.node
                .router(inst.router)
                .is_some_and(|r| r.state() == State::Backup && r.poll_timeout() == Some(deadline))
        })
    }

    /// Runs the code and touches the data of the takeover that is due at `deadline`, without
    /// doing any of it: the engine's adverts as master, the prepared netlink batch, the
    /// announcement frames. On the project's VM a backup that has been idle for seconds runs
    /// its takeover on cold caches; rehearsing it 10 ms before cut the overshoot at 1 s
    /// adverts from 0.40 to 0.25 ms (median; worst 0.88 → 0.52 ms; interleaved A/B,
    /// docs/performance.md). Nothing here is sent or changed.
    fn rehearse_takeover(&self, deadline: Instant) {
        for inst in self.backups_due_at(deadline) {
            let adverts = self
                .node
                .router(inst.router)
                .map(VirtualRouter::takeover_adverts);
            std::hint::black_box(&adverts);
            if let Some(io) = &inst.io {
                self.netlink.prepare_addresses(io.vip_ifindex, &io.vip_nets);
                for announcement in &io.announcements {
                    std::hint::black_box(announcement.frame(io.vmac.is_some()));
                }
            }
            tracing::trace!(instance = %inst.cfg.name, "takeover rehearsed");
        }
    }

    /// Adds instance `idx`'s VIPs on its interface, all at once with the requests prepared
    /// in `open_io`: the takeover's path, between its advert and its gratuitous ARP.
    async fn add_vips(&self, idx: usize) {
        let inst = &self.instances[idx];
        let Some(io) = &inst.io else { return };
        let results = self
            .netlink
            .add_addresses(io.vip_ifindex, &io.vip_nets)
            .await;
        for (net, result) in io.vip_nets.iter().zip(results) {
            if let Err(e) = result {
                tracing::error!(instance = %inst.cfg.name, vip = %net, ifindex = io.vip_ifindex, error = %e, "could not add VIP");
            }
        }
    }

    /// Sends the first announcement of a burst now and schedules the rest.
    fn announce_start(&mut self, idx: usize, now: Instant) {
        self.announce_now(idx);
        let cfg = &self.instances[idx].cfg;
        let policy = AnnouncePolicy {
            repeat: cfg.garp_repeat.max(1),
            interval: cfg.garp_interval,
            refresh: cfg.garp_refresh,
        };
        let router = self.instances[idx].router;
        self.announce.start(router, now, policy);
    }

    /// Sends one gratuitous ARP / unsolicited NA per VIP of instance `idx`.
    fn announce_now(&self, idx: usize) {
        let inst = &self.instances[idx];
        let Some(io) = &inst.io else { return };
        // keepalived sets the NAs' Router flag when forwarding is on (RFC 9568 §6.4.2 wants
        // R=1 with a virtual MAC). Read at the moment of sending, once per round of frames
        // (keepalived caches it for 5 s): a stale R clear would cost hosts their default
        // router (RFC 4861 §7.2.5).
        let router = io.vmac.is_some()
            || io
                .forwarding
                .as_ref()
                .is_some_and(|f| f.read().unwrap_or(false));
        for announcement in &io.announcements {
            if let Err(e) = io.announcer.send_prepared(announcement, router) {
                tracing::warn!(instance = %inst.cfg.name, vip = %announcement.vip(), error = %e, "announcement not sent");
            }
        }
    }

    fn event(&mut self, idx: Option<usize>, event: Event) {
        let now = clock::now();
        let router = idx.map(|i| self.instances[i].router);
        match event {
            Event::StateChanged { from, to, reason } => {
                let Some(idx) = idx else { return };
                let inst = &mut self.instances[idx];
                inst.last_transition = Some((from, to, reason, now));
                *inst.transitions.entry(to.as_str()).or_default() += 1;
                let priority = self
                    .node
                    .router(inst.router)
                    .map(|r| r.priority())
                    .unwrap_or(0);
                tracing::info!(
                    instance = %inst.cfg.name,
                    vrid = inst.cfg.vrid,
                    from = %from,
                    to = %to,
                    reason = reason.as_str(),
                    priority,
                    "state changed"
                );
                let _ = self.events.send(StateEvent {
                    instance: inst.cfg.name.clone(),
                    from,
                    to,
                    reason,
                    at_unix_ms: self.wall.unix_ms(now),
                    kind: StateEventKind::Transition,
                });
                let word = notify_state(to, reason);
                if let (Some(word), Some(n)) = (word, &inst.notifier) {
                    n.notify(word, priority);
                }
                if let (Some(word), Some(g)) = (word, inst.group) {
                    self.group_notify(g, word);
                }
            }
            Event::Discarded { src, reason } => {
                // Peers (and forgers) decide how often this happens: rate-limited, visible.
                self.log_discard_summaries(now);
                let counter = reason.counter();
                if self.discard_log.admit(now, &(router, counter)) {
                    let name = self.name_of(router);
                    tracing::warn!(instance = name, %src, reason = %reason, counter, "advert discarded");
                }
            }
            Event::AddressListMismatch { src } => {
                self.log_discard_summaries(now);
                if self
                    .discard_log
                    .admit(now, &(router, "address_list_mismatch"))
                {
                    let name = self.name_of(router);
                    tracing::warn!(instance = name, %src, counter = "address_list_errors", "advert's address list differs from ours (kept, counted): check the VIPs on every node");
                }
            }
            Event::PriorityChanged { from, to } => {
                let name = self.name_of(router);
                tracing::info!(instance = name, from, to, "effective priority changed");
            }
            _ => {}
        }
    }

    /// The name of the instance whose router is `router` (`-` for none).
    fn name_of(&self, router: Option<RouterId>) -> &str {
        router
            .and_then(|r| self.instances.iter().find(|i| i.router == r))
            .map(|i| i.cfg.name.as_str())
            .unwrap_or("-")
    }

    /// Logs one line per rate-limit window that ended with discards left unlogged.
    fn log_discard_summaries(&mut self, now: Instant) {
        let ended = self.discard_log.take_ended(now);
        self.log_summaries(ended);
    }

    fn log_summaries(&self, summaries: Vec<Summary<DiscardKey>>) {
        let window_s = self.discard_log.window().as_secs();
        for summary in summaries {
            let (router, counter) = summary.key;
            let name = self.name_of(router);
            tracing::warn!(
                instance = name,
                counter,
                suppressed = summary.suppressed,
                logged = summary.logged,
                window_s,
                "more adverts discarded than logged: see the counters of `vrrpd status`"
            );
        }
    }

    /// A group's notify runs once when every member has reached the same state.
    fn group_notify(&mut self, g: usize, word: NotifyState) {
        let all = self.groups[g].members.iter().all(|m| {
            let inst = &self.instances[*m];
            let state = self.node.router(inst.router).map(|r| r.state());
            let reason = inst.last_transition.map(|t| t.2);
            state.and_then(|s| notify_state(s, reason.unwrap_or(Reason::Startup))) == Some(word)
        });
        let group = &mut self.groups[g];
        if all && group.notified != Some(word) {
            group.notified = Some(word);
            tracing::info!(group = %group.cfg.name, state = word.as_str(), "sync group changed");
            if let Some(n) = &group.notifier {
                n.notify(word, 0);
            }
        }
    }

    fn status(&self) -> Status {
        let statuses: BTreeMap<String, vrrp_health::ProbeStatus> = self
            .probes
            .statuses()
            .into_iter()
            .map(|s| (s.name.clone(), s))
            .collect();
        let instances = self
            .instances
            .iter()
            .map(|inst| {
                let router = self.node.router(inst.router);
                let state = router.map(|r| r.state()).unwrap_or(State::Initialize);
                let master = router.and_then(|r| r.current_master());
                let counters = router
                    .map(|r| convert::counters(r.stats()))
                    .unwrap_or_default();
                InstanceStatus {
                    name: inst.cfg.name.clone(),
                    interface: inst.cfg.interface.clone(),
                    vrid: inst.cfg.vrid,
                    family: inst.family.as_str(),
                    version: inst.cfg.version.number(),
                    state: state.as_str(),
                    priority: inst.cfg.priority,
                    effective_priority: router.map(|r| r.priority()).unwrap_or(inst.cfg.priority),
                    master: master.map(|(a, _)| a.to_string()),
                    master_priority: master.map(|(_, p)| p),
                    advert_interval_ms: inst.cfg.advert_interval_wire().as_millis(),
                    virtual_ips: inst.cfg.virtual_ips.iter().map(|v| v.to_string()).collect(),
                    last_transition: inst.last_transition.map(|(from, to, reason, at)| {
                        let ms = self.wall.unix_ms(at);
                        Transition {
                            from: from.as_str(),
                            to: to.as_str(),
                            reason: reason.as_str(),
                            at: clock::rfc3339(ms),
                            at_unix_ms: ms,
                        }
                    }),
                    probes: inst
                        .cfg
                        .track
                        .iter()
                        .filter_map(|name| statuses.get(name))
                        .map(|s| ProbeView {
                            name: s.name.clone(),
                            kind: self.probe_kinds.get(&s.name).copied().unwrap_or("?"),
                            healthy: s.healthy,
                            state: s.state.as_str(),
                            last_result: s.last_result.as_ref().map(convert::result_text),
                            consecutive_failures: s.consecutive_failures,
                            weight: s.weight,
                        })
                        .collect(),
                    counters,
                    transitions: inst
                        .transitions
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), *v))
                        .collect(),
                }
            })
            .collect();
        Status {
            router_id: self.config.global.router_id.clone(),
            instances,
            counters: convert::counters(self.node.stats()),
        }
    }
}

fn log_dropped(plan: &PrivilegePlan, dropped: &crate::privilege::Dropped) {
    match &plan.user_switch {
        Some(switch) => tracing::info!(
            kept = %dropped.kept,
            script_user = %switch.user,
            uid = switch.uid,
            scripts = %switch.scripts.join(", "),
            "privileges dropped: CAP_SETUID, CAP_SETGID and CAP_KILL kept because scripts run as script_user, another user than vrrpd's"
        ),
        None => tracing::info!(kept = %dropped.kept, "privileges dropped"),
    }
    if !dropped.bounding_reduced {
        tracing::warn!(
            bounding = %dropped.bounding,
            "the capability bounding set could not be reduced (no CAP_SETPCAP): limit it in the service unit (CapabilityBoundingSet=)"
        );
    }
}

/// The notify word for entering `to` (None for Initialize other than by shutdown).
fn notify_state(to: State, reason: Reason) -> Option<NotifyState> {
    match to {
        State::Master => Some(NotifyState::Master),
        State::Backup => Some(NotifyState::Backup),
        State::Fault => Some(NotifyState::Fault),
        State::Initialize if reason == Reason::Shutdown => Some(NotifyState::Stop),
        _ => None,
    }
}

async fn next_net_event(events: &mut Option<vrrp_netlink::EventStream>) -> Option<NetEvent> {
    match events {
        Some(stream) => stream.recv().await,
        None => std::future::pending().await,
    }
}

/// The engine's name for the interface in slot `slot` of the driver's links.
fn link_id(slot: usize) -> InterfaceId {
    InterfaceId(u32::try_from(slot).unwrap_or(u32::MAX))
}

/// An instance's VIPs as netlink addresses.
fn vip_nets(vips: &[vrrp_config::VirtualIp]) -> Vec<IpNet> {
    vips.iter()
        .filter_map(|vip| IpNet::new(vip.addr, vip.prefix_len).ok())
        .collect()
}

/// Reads packets from one receive socket and hands them to the loop, tagged with the
/// interface slot `link`. Packets from `skip` (peers that have a socket of their own) are
/// dropped here: they arrive there too.
async fn receive_loop(
    receiver: VrrpReceiver,
    link: InterfaceId,
    skip: Vec<IpAddr>,
    tx: mpsc::Sender<RxPacket>,
) {
    let mut buf = vec![0u8; RECV_BUFFER_LEN];
    let mut errors = 0u32;
    let mut arrivals = clock::ArrivalClock::new();
    loop {
        match receiver.recv(&mut buf).await {
            Ok(rx) => {
                errors = 0;
                if skip.contains(&rx.src) {
                    continue;
                }
                let packet = RxPacket {
                    arrived: arrivals.arrival(rx.kernel_time),
                    meta: RxMeta {
                        interface: link,
                        src: rx.src,
                        dst: rx.dst,
                        ttl: rx.ttl,
                    },
                    payload: rx.payload(&buf).to_vec(),
                };
                if tx.send(packet).await.is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                tracing::debug!(ifindex = receiver.ifindex(), error = %e, "malformed IP packet dropped");
            }
            // A unicast receive socket is connected to its peer, so the kernel reports on it
            // the ICMP errors that peer sends back for our adverts: "protocol unreachable"
            // (ENOPROTOOPT) from a peer whose VRRP daemon is stopped, "host unreachable"
            // while it is down. That is the peer's state, not a fault of the socket, which
            // goes on receiving: no warning, no back-off.
            Err(e) if is_icmp_report(&e) => {
                tracing::debug!(ifindex = receiver.ifindex(), error = %e, "peer reported an ICMP error for our adverts");
            }
            Err(e) => {
                errors += 1;
                if errors == 1 || errors.is_power_of_two() {
                    tracing::warn!(ifindex = receiver.ifindex(), error = %e, errors, "receive error");
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Whether a receive error is an ICMP error report queued on the socket (see
/// `receive_loop`), rather than a failure of the socket itself.
fn is_icmp_report(e: &std::io::Error) -> bool {
    use rustix::io::Errno;
    matches!(
        Errno::from_io_error(e),
        Some(
            Errno::NOPROTOOPT
                | Errno::CONNREFUSED
                | Errno::HOSTUNREACH
                | Errno::NETUNREACH
                | Errno::HOSTDOWN
                | Errno::PROTO
                | Errno::MSGSIZE
        )
    )
}

/// What a re-applied instance keeps from before the reload.
struct Carried {
    external_offset: i16,
    external_fault: bool,
    transitions: BTreeMap<&'static str, u64>,
    last_transition: Option<(State, State, Reason, Instant)>,
}

/// An error and its sources, as one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icmp_reports_are_told_apart_from_socket_failures() {
        let os = |errno: rustix::io::Errno| std::io::Error::from_raw_os_error(errno.raw_os_error());
        // What a peer's ICMP errors become on a connected raw socket.
        for errno in [
            rustix::io::Errno::NOPROTOOPT,
            rustix::io::Errno::CONNREFUSED,
            rustix::io::Errno::HOSTUNREACH,
            rustix::io::Errno::NETUNREACH,
        ] {
            assert!(is_icmp_report(&os(errno)), "{errno:?}");
        }
        // Failures of our own socket stay loud.
        for errno in [
            rustix::io::Errno::NOBUFS,
            rustix::io::Errno::BADF,
            rustix::io::Errno::NOMEM,
        ] {
            assert!(!is_icmp_report(&os(errno)), "{errno:?}");
        }
        assert!(!is_icmp_report(&std::io::Error::other("not an OS error")));
    }
}
