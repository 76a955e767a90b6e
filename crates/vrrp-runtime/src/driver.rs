//! The event loop: one tokio task that owns the engine ([`vrrp_election::Node`]), feeds it
//! packets, timer expiries, probe results, link events and requests, and executes its outputs
//! in the order the engine gives them (VIPs added before the advert and the gratuitous ARP;
//! VIPs removed before the priority-0 advert).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc, oneshot};
use vrrp_config::{Config, Instance};
use vrrp_election::{
    Action, Command, Event, InterfaceId, Node, NodeOutput, Output, Reason, RouterId, RxMeta, State,
    Transmit,
};
use vrrp_health::{HealthSet, ProbeEvent, ProbeEvents, ProbeResult, ProbeRunner};
use vrrp_netlink::{
    AddressInfo, Announcer, ArpFluxGuard, IpNet, LinkInfo, Mac, NetEvent, NetlinkOps, Vmac,
};
use vrrp_packet::AddressFamily;

use crate::announce::{AnnouncePolicy, AnnounceSchedule};
use crate::clock::{self, WallClock};
use crate::convert;
use crate::error::RuntimeError;
use crate::links::{self, LinkRt, RxKey, RxNeed};
use crate::log_limit::{DISCARD_LOG_BURST, DISCARD_LOG_WINDOW, LogLimiter};
use crate::notify::{Notifier, NotifyState, Subject};
use crate::socket::{RECV_BUFFER_LEN, VrrpReceiver, VrrpSender};
use crate::status::{InstanceStatus, ProbeView, Status, Transition};
use crate::{StateEvent, StateEventKind};

/// A packet from one of the receive tasks.
#[derive(Debug)]
pub(crate) struct RxPacket {
    meta: RxMeta,
    payload: Vec<u8>,
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
    notifier: Option<Notifier>,
    group: Option<usize>,
    /// The engine-level family.
    family: AddressFamily,
}

/// What an instance holds on its current interface.
struct InstanceIo {
    /// The interface the VIPs go on and announcements leave from (the VMAC, or `parent`).
    vip_ifindex: u32,
    /// The MAC announcements carry.
    mac: Mac,
    sender: Arc<VrrpSender>,
    announcer: Arc<Announcer>,
    vmac: Option<Vmac>,
    _arp_flux: Option<ArpFluxGuard>,
}

struct GroupRt {
    name: String,
    members: Vec<usize>,
    notifier: Option<Notifier>,
    /// The state last notified for the group.
    notified: Option<NotifyState>,
}

/// The event loop's state.
pub(crate) struct Driver<N: NetlinkOps + 'static> {
    netlink: Arc<N>,
    node: Node,
    instances: Vec<InstanceRt>,
    groups: Vec<GroupRt>,
    router_id: Option<String>,
    announce: AnnounceSchedule<usize>,
    probes: ProbeRunner,
    probe_kinds: BTreeMap<String, &'static str>,
    /// Interface probes: probe name → the interface it watches.
    probe_ifaces: BTreeMap<String, String>,
    wall: WallClock,
    events: broadcast::Sender<StateEvent>,
    /// One slot per interface name of the configuration.
    links: Vec<LinkRt>,
    /// The receive tasks, one per socket.
    receivers: BTreeMap<RxKey, tokio::task::JoinHandle<()>>,
    /// Where receive tasks send packets (kept to start new ones when an interface returns).
    packet_tx: Option<mpsc::Sender<RxPacket>>,
    /// Send sockets by (interface index, source), shared by the instances that use them.
    senders: BTreeMap<(u32, IpAddr), Arc<VrrpSender>>,
    /// Announcement sockets by interface index.
    announcers: BTreeMap<u32, Arc<Announcer>>,
    /// Rate limit of the logs peers can trigger: (instance index or None, counter name).
    discard_log: LogLimiter<(Option<usize>, &'static str)>,
}

/// What `start` hands to the loop task.
pub(crate) struct Channels {
    pub(crate) packets: mpsc::Receiver<RxPacket>,
    pub(crate) requests: mpsc::Receiver<Request>,
    pub(crate) probe_events: ProbeEvents,
    pub(crate) net_events: Option<vrrp_netlink::EventStream>,
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
    ) -> Result<(Self, Channels), RuntimeError> {
        let netlink = Arc::new(netlink);
        let (probes, probe_events) = ProbeRunner::new();
        let mut driver = Driver {
            netlink: netlink.clone(),
            node: Node::new(),
            instances: Vec::new(),
            groups: Vec::new(),
            router_id: config.global.router_id.clone(),
            announce: AnnounceSchedule::new(),
            probes,
            probe_kinds: BTreeMap::new(),
            probe_ifaces: BTreeMap::new(),
            wall: WallClock::start(),
            events,
            links: Vec::new(),
            receivers: BTreeMap::new(),
            packet_tx: None,
            senders: BTreeMap::new(),
            announcers: BTreeMap::new(),
            discard_log: LogLimiter::new(DISCARD_LOG_BURST, DISCARD_LOG_WINDOW),
        };
        match driver.build(&config).await {
            Ok(channels) => {
                let (packets, requests_rx) = channels;
                let net_events = match netlink.subscribe().await {
                    Ok(s) => Some(s),
                    Err(e) => {
                        tracing::warn!(error = %e, "no link/address events: interface changes will not be seen");
                        None
                    }
                };
                let channels = Channels {
                    packets,
                    requests: requests_rx.unwrap_or(requests),
                    probe_events,
                    net_events,
                };
                driver.start_routers();
                driver.drain().await;
                Ok((driver, channels))
            }
            Err(e) => {
                driver.teardown().await;
                Err(e)
            }
        }
    }

    #[allow(clippy::type_complexity)]
    async fn build(
        &mut self,
        config: &Config,
    ) -> Result<(mpsc::Receiver<RxPacket>, Option<mpsc::Receiver<Request>>), RuntimeError> {
        let (packet_tx, packet_rx) = mpsc::channel(1024);
        self.packet_tx = Some(packet_tx);

        for inst in &config.instances {
            let link = self
                .netlink
                .link_by_name(&inst.interface)
                .await
                .map_err(|e| RuntimeError::netlink(format!("looking up {}", inst.interface), e))?
                .ok_or_else(|| RuntimeError::InterfaceNotFound {
                    instance: inst.name.clone(),
                    interface: inst.interface.clone(),
                })?;
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
            let slot = match self.links.iter().position(|l| l.name == inst.interface) {
                Some(k) => k,
                None => {
                    self.links
                        .push(LinkRt::new(&inst.interface, Some(link.clone())));
                    self.links.len() - 1
                }
            };
            let router_config = convert::router_config(inst, link_id(slot), primary);
            let router =
                self.node
                    .add_router(router_config)
                    .map_err(|source| RuntimeError::Engine {
                        instance: inst.name.clone(),
                        source,
                    })?;
            let notifier = Notifier::start(
                Subject::Instance,
                &inst.name,
                &inst.notify,
                &config.global.script_user,
                config.global.notify_timeout,
            );
            self.instances.push(InstanceRt {
                cfg: inst.clone(),
                router,
                link: slot,
                primary,
                io: None,
                link_ok: true,
                health: HealthSet::new(),
                external_offset: 0,
                external_fault: false,
                last_transition: None,
                notifier,
                group: None,
                family,
            });
            let idx = self.instances.len() - 1;
            let io = self.open_io(idx, &link, &addrs).await?;
            self.instances[idx].io = Some(io);
        }
        for slot in 0..self.links.len() {
            self.open_receivers(slot)?;
        }
        let now = clock::now();
        for idx in 0..self.instances.len() {
            self.sync_link_state(now, idx);
        }

        // Sync groups.
        for group in &config.sync_groups {
            let members: Vec<usize> = group
                .instances
                .iter()
                .filter_map(|name| self.instances.iter().position(|i| &i.cfg.name == name))
                .collect();
            let ids: Vec<RouterId> = members.iter().map(|i| self.instances[*i].router).collect();
            self.node
                .add_sync_group(&ids)
                .map_err(|source| RuntimeError::Engine {
                    instance: group.name.clone(),
                    source,
                })?;
            let gi = self.groups.len();
            for m in &members {
                self.instances[*m].group = Some(gi);
            }
            self.groups.push(GroupRt {
                name: group.name.clone(),
                members,
                notifier: Notifier::start(
                    Subject::Group,
                    &group.name,
                    &group.notify,
                    &config.global.script_user,
                    config.global.notify_timeout,
                ),
                notified: None,
            });
        }

        // Probes: start every configured probe; each instance tracks its own.
        for (name, probe) in &config.probes {
            let spec =
                convert::probe_spec(name, probe, &config.global.script_user).ok_or_else(|| {
                    RuntimeError::UnsupportedProbe {
                        probe: name.clone(),
                        kind: probe.kind_name(),
                    }
                })?;
            self.probe_kinds.insert(name.clone(), probe.kind_name());
            if let vrrp_config::ProbeKind::Interface(i) = &probe.kind {
                self.probe_ifaces.insert(name.clone(), i.interface.clone());
            }
            for inst in &mut self.instances {
                if inst.cfg.track.iter().any(|t| t == name) {
                    inst.health
                        .track(name.clone(), spec.tracker_config().initial_contribution());
                }
            }
            self.probes
                .spawn(spec)
                .map_err(|source| RuntimeError::Probe {
                    probe: name.clone(),
                    source,
                })?;
        }
        let now = clock::now();
        for idx in 0..self.instances.len() {
            self.apply_health(now, idx);
        }
        Ok((packet_rx, None))
    }

    fn start_routers(&mut self) {
        self.node.handle_command_all(clock::now(), Command::Startup);
    }

    /// Sets instance `idx` up on interface `link` (whose addresses are `addrs`): the VMAC if
    /// configured, removal of a stale VIP, and the send and announcement sockets.
    async fn open_io(
        &mut self,
        idx: usize,
        link: &LinkInfo,
        addrs: &[AddressInfo],
    ) -> Result<InstanceIo, RuntimeError> {
        let inst = self.instances[idx].cfg.clone();
        let family = self.instances[idx].family;
        let primary = self.instances[idx].primary;
        // VMAC: a macvlan carrying 00-00-5E-00-01-{VRID} (or -02- for IPv6).
        let (vip_ifindex, vip_ifname, mac, vmac, arp_flux) = if inst.use_vmac {
            let mut vcfg =
                vrrp_netlink::VmacConfig::new(link.index, inst.vrid, convert::nl_family(family));
            vcfg.name = convert::vmac_name(&inst);
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

        // A VIP of ours left on the interface (a crash, a kill -9) must not answer while we
        // are not master: remove it now; becoming master adds it back.
        for vip in &inst.virtual_ips {
            if let Ok(net) = IpNet::new(vip.addr, vip.prefix_len) {
                if addrs.iter().any(|a| a.net.addr() == vip.addr) || vip_ifindex != link.index {
                    if let Err(e) = self.netlink.remove_address(vip_ifindex, net).await {
                        tracing::warn!(instance = %inst.name, vip = %net, error = %e, "could not remove a stale VIP");
                    } else if addrs.iter().any(|a| a.net.addr() == vip.addr) {
                        tracing::info!(instance = %inst.name, vip = %net, "removed a VIP left on the interface by an earlier run");
                    }
                }
            }
        }

        let sender = match self.senders.get(&(vip_ifindex, primary)) {
            Some(s) => s.clone(),
            None => {
                let s = Arc::new(VrrpSender::open(&vip_ifname, vip_ifindex, primary).map_err(|e| {
                    RuntimeError::io(format!("instance {}: opening the send socket on {vip_ifname} from {primary}", inst.name), e)
                })?);
                self.senders.insert((vip_ifindex, primary), s.clone());
                s
            }
        };
        let announcer = match self.announcers.get(&vip_ifindex) {
            Some(a) => a.clone(),
            None => {
                let a = Arc::new(Announcer::new(vip_ifindex).map_err(|e| {
                    RuntimeError::netlink(
                        format!(
                            "instance {}: opening the announcement socket on {vip_ifname}",
                            inst.name
                        ),
                        e,
                    )
                })?);
                self.announcers.insert(vip_ifindex, a.clone());
                a
            }
        };
        Ok(InstanceIo {
            vip_ifindex,
            mac,
            sender,
            announcer,
            vmac,
            _arp_flux: arp_flux,
        })
    }

    /// Opens the receive sockets interface slot `slot` needs (see [`links::receive_plan`])
    /// and starts their tasks.
    fn open_receivers(&mut self, slot: usize) -> Result<(), RuntimeError> {
        let Some(link) = self.links[slot].info.clone() else {
            return Ok(());
        };
        let Some(tx) = self.packet_tx.clone() else {
            return Ok(());
        };
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
        for (key, skip) in plan {
            if self.receivers.contains_key(&key) {
                continue;
            }
            let receiver = VrrpReceiver::open_scoped(key.family, &link.name, link.index, key.scope)
                .map_err(|e| {
                    RuntimeError::io(
                        format!(
                            "opening the receive socket on {} ({:?}, {})",
                            link.name,
                            key.scope,
                            key.family.as_str()
                        ),
                        e,
                    )
                })?;
            let task = tokio::spawn(receive_loop(receiver, link_id(slot), skip, tx.clone()));
            self.receivers.insert(key, task);
        }
        self.links[slot].receiving = true;
        Ok(())
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
            match self.open_io(idx, &link, &addrs).await {
                Ok(io) => {
                    tracing::info!(instance = %self.instances[idx].cfg.name, interface = %name, ifindex = link.index, "bound to the interface");
                    self.instances[idx].io = Some(io);
                }
                Err(e) => {
                    tracing::error!(instance = %self.instances[idx].cfg.name, error = %e, "cannot set up on the interface; will retry on its next change");
                }
            }
        }
        if let Err(e) = self.open_receivers(slot) {
            tracing::error!(interface = %name, error = %e, "cannot open the receive sockets; will retry on the interface's next change");
            self.close_receivers(slot);
        }
    }

    /// Slot `slot`'s interface is gone: deleted (`deleted`), or renamed away. Its instances go
    /// to FAULT (a master first removes its VIPs from a renamed interface, which still
    /// exists), then their sockets, VMACs and announcers are released and the receive tasks
    /// stopped.
    async fn unbind_link(&mut self, slot: usize, deleted: bool) {
        let now = clock::now();
        let old = self.links[slot].info.take();
        let mut released = Vec::new();
        for idx in 0..self.instances.len() {
            if self.instances[idx].link != slot {
                continue;
            }
            if deleted {
                // Nothing to remove from an interface that no longer exists.
                released.push(self.instances[idx].io.take());
            }
            self.sync_link_state(now, idx);
        }
        // The engine's outputs (VIP removal) use the renamed interface.
        self.drain().await;
        for idx in 0..self.instances.len() {
            if self.instances[idx].link == slot {
                self.announce.stop(idx);
                released.push(self.instances[idx].io.take());
            }
        }
        for mut io in released.into_iter().flatten() {
            if let Some(vmac) = io.vmac.take() {
                // Gone with its parent if that was deleted; still there after a rename.
                let _ = vrrp_netlink::remove_vmac(self.netlink.as_ref(), vmac.link.index).await;
            }
            self.senders
                .retain(|(ifindex, _), _| *ifindex != io.vip_ifindex);
            self.announcers.remove(&io.vip_ifindex);
        }
        if let Some(old) = old {
            self.senders.retain(|(ifindex, _), _| *ifindex != old.index);
            self.announcers.remove(&old.index);
        }
        self.close_receivers(slot);
    }

    fn close_receivers(&mut self, slot: usize) {
        self.receivers.retain(|key, task| {
            if key.link == slot {
                task.abort();
                false
            } else {
                true
            }
        });
        self.links[slot].receiving = false;
    }

    /// The loop. Returns after a graceful shutdown.
    pub(crate) async fn run(mut self, mut ch: Channels) {
        let mut shutdown_reply: Option<oneshot::Sender<()>> = None;
        loop {
            let deadline = [
                self.node.poll_timeout(),
                self.announce.next_deadline(),
                self.discard_log.next_deadline(),
            ]
            .into_iter()
            .flatten()
            .min();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                request = ch.requests.recv() => match request {
                    Some(Request::Shutdown(reply)) => {
                        shutdown_reply = Some(reply);
                        break;
                    }
                    Some(request) => self.handle_request(request),
                    // Every handle is gone: nobody can ask us to stop any more, so stop.
                    None => break,
                },
                Some(packet) = ch.packets.recv() => {
                    self.node.handle_packet(clock::now(), packet.meta, &packet.payload);
                }
                () = sleep => {
                    let now = clock::now();
                    self.node.handle_timeout(now);
                    for idx in self.announce.due(now) {
                        self.announce_now(idx);
                    }
                    self.log_discard_summaries(now);
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
    }

    async fn teardown(&mut self) {
        for (_, task) in std::mem::take(&mut self.receivers) {
            task.abort();
        }
        for inst in &mut self.instances {
            let Some(io) = inst.io.as_mut() else { continue };
            if let Some(vmac) = io.vmac.take() {
                if let Err(e) =
                    vrrp_netlink::remove_vmac(self.netlink.as_ref(), vmac.link.index).await
                {
                    tracing::warn!(instance = %inst.cfg.name, error = %e, "could not remove the VMAC");
                }
            }
            io._arp_flux = None;
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
            Request::Shutdown(_) => {}
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
                    for idx in 0..self.instances.len() {
                        if self.instances[idx].link == slot {
                            self.sync_link_state(now, idx);
                        }
                    }
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
                    if pending {
                        if let Some(link) = self.links[slot].info.clone() {
                            self.bind_link(slot, link).await;
                            for idx in 0..self.instances.len() {
                                if self.instances[idx].link == slot {
                                    self.sync_link_state(now, idx);
                                }
                            }
                        }
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
                        let vips = inst.cfg.virtual_ips.clone();
                        let ifindex = io.vip_ifindex;
                        self.add_vips(ifindex, &vips).await;
                        self.announce_start(idx, now);
                    }
                }
            }
            _ => {}
        }
    }

    /// Executes every pending engine output, in order.
    async fn drain(&mut self) {
        while let Some(NodeOutput { router, output }) = self.node.poll_output() {
            let idx = router.and_then(|r| self.instances.iter().position(|i| i.router == r));
            match output {
                Output::Transmit(tx) => self.transmit(idx, tx).await,
                Output::Action(action) => self.act(idx, action).await,
                Output::Event(event) => self.event(idx, event),
            }
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
            Action::AddAddresses { .. } => {
                let vips = self.instances[idx].cfg.virtual_ips.clone();
                if let Some(io) = &self.instances[idx].io {
                    let ifindex = io.vip_ifindex;
                    self.add_vips(ifindex, &vips).await;
                }
            }
            Action::RemoveAddresses { .. } => {
                self.announce.stop(idx);
                let inst = &self.instances[idx];
                let Some(io) = &inst.io else { return };
                for vip in &inst.cfg.virtual_ips {
                    let Ok(net) = IpNet::new(vip.addr, vip.prefix_len) else {
                        continue;
                    };
                    if let Err(e) = self.netlink.remove_address(io.vip_ifindex, net).await {
                        tracing::error!(instance = %inst.cfg.name, vip = %net, error = %e, "could not remove VIP");
                    }
                }
            }
            Action::Announce { .. } => self.announce_start(idx, now),
            _ => {}
        }
    }

    async fn add_vips(&self, ifindex: u32, vips: &[vrrp_config::VirtualIp]) {
        for vip in vips {
            let Ok(net) = IpNet::new(vip.addr, vip.prefix_len) else {
                continue;
            };
            if let Err(e) = self.netlink.add_address(ifindex, net).await {
                tracing::error!(vip = %net, ifindex, error = %e, "could not add VIP");
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
        self.announce.start(idx, now, policy);
    }

    /// Sends one gratuitous ARP / unsolicited NA per VIP of instance `idx`.
    fn announce_now(&self, idx: usize) {
        let inst = &self.instances[idx];
        let Some(io) = &inst.io else { return };
        for vip in &inst.cfg.virtual_ips {
            let result = match vip.addr {
                IpAddr::V4(v4) => io.announcer.send_garp(io.mac, v4),
                IpAddr::V6(v6) => {
                    // keepalived sets the Router flag when forwarding is on (RFC 9568 §6.4.2
                    // wants R=1 with a virtual MAC).
                    let router = io.vmac.is_some()
                        || vrrp_netlink::ipv6_forwarding(&inst.cfg.interface).unwrap_or(false);
                    io.announcer.send_unsolicited_na(io.mac, v6, router)
                }
            };
            if let Err(e) = result {
                tracing::warn!(instance = %inst.cfg.name, vip = %vip.addr, error = %e, "announcement not sent");
            }
        }
    }

    fn event(&mut self, idx: Option<usize>, event: Event) {
        let now = clock::now();
        match event {
            Event::StateChanged { from, to, reason } => {
                let Some(idx) = idx else { return };
                let inst = &mut self.instances[idx];
                inst.last_transition = Some((from, to, reason, now));
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
                if self.discard_log.admit(now, &(idx, counter)) {
                    let name = self.instance_name(idx);
                    tracing::warn!(instance = name, %src, reason = %reason, counter, "advert discarded");
                }
            }
            Event::AddressListMismatch { src } => {
                self.log_discard_summaries(now);
                if self.discard_log.admit(now, &(idx, "address_list_mismatch")) {
                    let name = self.instance_name(idx);
                    tracing::warn!(instance = name, %src, counter = "address_list_errors", "advert's address list differs from ours (kept, counted): check the VIPs on every node");
                }
            }
            Event::PriorityChanged { from, to } => {
                let name = idx
                    .map(|i| self.instances[i].cfg.name.as_str())
                    .unwrap_or("-");
                tracing::info!(instance = name, from, to, "effective priority changed");
            }
            _ => {}
        }
    }

    fn instance_name(&self, idx: Option<usize>) -> &str {
        idx.and_then(|i| self.instances.get(i))
            .map(|i| i.cfg.name.as_str())
            .unwrap_or("-")
    }

    /// Logs one line per rate-limit window that ended with discards left unlogged.
    fn log_discard_summaries(&mut self, now: Instant) {
        let window_s = self.discard_log.window().as_secs();
        for summary in self.discard_log.take_ended(now) {
            let (idx, counter) = summary.key;
            let name = self.instance_name(idx);
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
            tracing::info!(group = %group.name, state = word.as_str(), "sync group changed");
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
                }
            })
            .collect();
        Status {
            router_id: self.router_id.clone(),
            instances,
            counters: convert::counters(self.node.stats()),
        }
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
    loop {
        match receiver.recv(&mut buf).await {
            Ok(rx) => {
                errors = 0;
                if skip.contains(&rx.src) {
                    continue;
                }
                let packet = RxPacket {
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
