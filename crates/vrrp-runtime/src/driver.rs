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
use vrrp_netlink::{Announcer, ArpFluxGuard, IpNet, Mac, NetEvent, NetlinkOps, Vmac};
use vrrp_packet::AddressFamily;

use crate::announce::{AnnouncePolicy, AnnounceSchedule};
use crate::clock::{self, WallClock};
use crate::convert;
use crate::error::RuntimeError;
use crate::notify::{Notifier, NotifyState, Subject};
use crate::privilege::PrivilegePlan;
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
    /// The interface the instance runs on (adverts are received here).
    parent: u32,
    /// The interface the VIPs go on and announcements leave from (the VMAC, or `parent`).
    vip_ifindex: u32,
    /// The MAC announcements carry.
    mac: Mac,
    sender: Arc<VrrpSender>,
    announcer: Arc<Announcer>,
    vmac: Option<Vmac>,
    _arp_flux: Option<ArpFluxGuard>,
    health: HealthSet,
    external_offset: i16,
    external_fault: bool,
    last_transition: Option<(State, State, Reason, Instant)>,
    notifier: Option<Notifier>,
    group: Option<usize>,
    /// The engine-level family.
    family: AddressFamily,
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
    rx_tasks: Vec<tokio::task::JoinHandle<()>>,
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
        privileges: Option<&PrivilegePlan>,
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
            rx_tasks: Vec::new(),
        };
        match driver.build(&config, privileges).await {
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
        privileges: Option<&PrivilegePlan>,
    ) -> Result<(mpsc::Receiver<RxPacket>, Option<mpsc::Receiver<Request>>), RuntimeError> {
        let (packet_tx, packet_rx) = mpsc::channel(1024);
        let mut senders: BTreeMap<(u32, IpAddr), Arc<VrrpSender>> = BTreeMap::new();
        let mut announcers: BTreeMap<u32, Arc<Announcer>> = BTreeMap::new();
        let mut receivers: BTreeMap<(u32, AddressFamily), ()> = BTreeMap::new();

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

            // VMAC: a macvlan carrying 00-00-5E-00-01-{VRID} (or -02- for IPv6).
            let (vip_ifindex, vip_ifname, mac, vmac, arp_flux) = if inst.use_vmac {
                let mut vcfg = vrrp_netlink::VmacConfig::new(
                    link.index,
                    inst.vrid,
                    convert::nl_family(family),
                );
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

            let sender = match senders.get(&(vip_ifindex, primary)) {
                Some(s) => s.clone(),
                None => {
                    let s = Arc::new(VrrpSender::open(&vip_ifname, vip_ifindex, primary).map_err(|e| {
                        RuntimeError::io(format!("instance {}: opening the send socket on {vip_ifname} from {primary}", inst.name), e)
                    })?);
                    senders.insert((vip_ifindex, primary), s.clone());
                    s
                }
            };
            let announcer = match announcers.get(&vip_ifindex) {
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
                    announcers.insert(vip_ifindex, a.clone());
                    a
                }
            };
            if receivers.insert((link.index, family), ()).is_none() {
                let receiver = VrrpReceiver::open(family, &link.name, link.index).map_err(|e| {
                    RuntimeError::io(
                        format!(
                            "instance {}: opening the receive socket on {}",
                            inst.name, link.name
                        ),
                        e,
                    )
                })?;
                self.rx_tasks
                    .push(tokio::spawn(receive_loop(receiver, packet_tx.clone())));
            }

            let router_config = convert::router_config(inst, InterfaceId(link.index), primary);
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
                parent: link.index,
                vip_ifindex,
                mac,
                sender,
                announcer,
                vmac,
                _arp_flux: arp_flux,
                health: HealthSet::new(),
                external_offset: 0,
                external_fault: !link.up || !link.lower_up,
                last_transition: None,
                notifier,
                group: None,
                family,
            });
            if !link.up || !link.lower_up {
                self.node
                    .handle_interface(clock::now(), InterfaceId(link.index), false);
            }
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

        // Every socket is open and every VMAC made: from here on only CAP_NET_ADMIN and
        // CAP_NET_RAW (and the scripts' user switch) are needed. Dropped before the probes
        // start: the first process probe starts a blocking thread, which would keep whatever
        // the process holds at that moment.
        if let Some(plan) = privileges {
            let dropped = plan.apply()?;
            log_dropped(plan, &dropped);
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

    /// The loop. Returns after a graceful shutdown.
    pub(crate) async fn run(mut self, mut ch: Channels) {
        let mut shutdown_reply: Option<oneshot::Sender<()>> = None;
        loop {
            let deadline = [self.node.poll_timeout(), self.announce.next_deadline()]
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
        for task in self.rx_tasks.drain(..) {
            task.abort();
        }
        for inst in &mut self.instances {
            if let Some(vmac) = inst.vmac.take() {
                if let Err(e) =
                    vrrp_netlink::remove_vmac(self.netlink.as_ref(), vmac.link.index).await
                {
                    tracing::warn!(instance = %inst.cfg.name, error = %e, "could not remove the VMAC");
                }
            }
            inst._arp_flux = None;
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
                let up = link.up && link.lower_up;
                if self.instances.iter().any(|i| i.parent == link.index) {
                    self.node.handle_interface(now, InterfaceId(link.index), up);
                }
                // Interface probes hear about it at once instead of at their next read.
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
            NetEvent::LinkRemoved { index, name }
                if self.instances.iter().any(|i| i.parent == index) =>
            {
                tracing::warn!(interface = %name, "interface deleted");
                self.node.handle_interface(now, InterfaceId(index), false);
            }
            NetEvent::AddressRemoved(info) => {
                // A VIP removed by hand while we are master: put it back and re-announce, or
                // clients would be left without it while the protocol thinks all is well.
                for idx in 0..self.instances.len() {
                    let inst = &self.instances[idx];
                    if inst.vip_ifindex != info.index
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
                        let ifindex = inst.vip_ifindex;
                        self.add_vips(ifindex, &vips).await;
                        self.announce_start(idx, now);
                    }
                }
            }
            NetEvent::AddressAdded(_) => {}
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
        if let Err(e) = inst.sender.send(tx.dst, &tx.payload).await {
            tracing::warn!(instance = %inst.cfg.name, dst = %tx.dst, error = %e, "advert not sent");
        }
    }

    async fn act(&mut self, idx: Option<usize>, action: Action) {
        let Some(idx) = idx else { return };
        let now = clock::now();
        match action {
            Action::AddAddresses { .. } => {
                let vips = self.instances[idx].cfg.virtual_ips.clone();
                let ifindex = self.instances[idx].vip_ifindex;
                self.add_vips(ifindex, &vips).await;
            }
            Action::RemoveAddresses { .. } => {
                self.announce.stop(idx);
                let inst = &self.instances[idx];
                for vip in &inst.cfg.virtual_ips {
                    let Ok(net) = IpNet::new(vip.addr, vip.prefix_len) else {
                        continue;
                    };
                    if let Err(e) = self.netlink.remove_address(inst.vip_ifindex, net).await {
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
        for vip in &inst.cfg.virtual_ips {
            let result = match vip.addr {
                IpAddr::V4(v4) => inst.announcer.send_garp(inst.mac, v4),
                IpAddr::V6(v6) => {
                    // keepalived sets the Router flag when forwarding is on (RFC 9568 §6.4.2
                    // wants R=1 with a virtual MAC).
                    let router = inst.vmac.is_some()
                        || vrrp_netlink::ipv6_forwarding(&inst.cfg.interface).unwrap_or(false);
                    inst.announcer.send_unsolicited_na(inst.mac, v6, router)
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
                let name = idx
                    .map(|i| self.instances[i].cfg.name.as_str())
                    .unwrap_or("-");
                tracing::debug!(instance = name, %src, reason = %reason, counter = reason.counter(), "advert discarded");
            }
            Event::AddressListMismatch { src } => {
                let name = idx
                    .map(|i| self.instances[i].cfg.name.as_str())
                    .unwrap_or("-");
                tracing::debug!(instance = name, %src, "advert's address list differs from ours (kept, counted)");
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

fn log_dropped(plan: &PrivilegePlan, dropped: &crate::privilege::Dropped) {
    match &plan.user_switch {
        Some(switch) => tracing::info!(
            kept = %dropped.kept,
            script_user = %switch.user,
            uid = switch.uid,
            scripts = %switch.scripts.join(", "),
            "privileges dropped: CAP_SETUID and CAP_SETGID kept because scripts run as script_user, another user than vrrpd's"
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

/// Reads packets from one receive socket and hands them to the loop.
async fn receive_loop(receiver: VrrpReceiver, tx: mpsc::Sender<RxPacket>) {
    let mut buf = vec![0u8; RECV_BUFFER_LEN];
    let mut errors = 0u32;
    loop {
        match receiver.recv(&mut buf).await {
            Ok(rx) => {
                errors = 0;
                let packet = RxPacket {
                    meta: RxMeta {
                        interface: InterfaceId(receiver.ifindex()),
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
