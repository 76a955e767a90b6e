//! One virtual router: the state machine of RFC 9568 §6 (VRRPv3) and RFC 3768 §6 (VRRPv2),
//! plus keepalived's FAULT, preempt delay and tracking weights.

use core::time::Duration;
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Instant;

use vrrp_packet::{
    AddressFamily, AddressList, ChecksumContext, ChecksumMode, DecodeError, Interval,
    MismatchError, Version, VrrpRepr, check_auth,
};

use crate::config::{ConfigError, OWNER_PRIORITY, RouterConfig};
use crate::stats::Stats;
use crate::types::{
    Action, Command, DiscardReason, Event, Output, Reason, RxMeta, State, Transmit,
};

/// The virtual addresses in the typed form the codec wants.
#[derive(Debug, Clone)]
enum Vips {
    V4(Vec<Ipv4Addr>),
    V6(Vec<Ipv6Addr>),
}

impl Vips {
    fn list(&self) -> AddressList<'_> {
        match self {
            Vips::V4(a) => AddressList::ipv4(a),
            Vips::V6(a) => AddressList::ipv6(a),
        }
    }
}

/// One virtual router: one VRID, one address family, one interface.
///
/// Sans-IO: feed it [`handle_command`](Self::handle_command),
/// [`handle_advert`](Self::handle_advert) (or [`handle_packet`](Self::handle_packet)) and
/// [`handle_timeout`](Self::handle_timeout) with the current time; after each call drain
/// [`poll_output`](Self::poll_output) and re-arm one timer at
/// [`poll_timeout`](Self::poll_timeout). Calling `handle_timeout` before the deadline does
/// nothing.
#[derive(Debug, Clone)]
pub struct VirtualRouter {
    config: RouterConfig,
    family: AddressFamily,
    vips: Vips,
    vips_shared: Arc<[IpAddr]>,
    /// Sorted copy for order-independent address list comparison.
    vips_sorted: Vec<IpAddr>,
    state: State,
    priority_offset: i16,
    probe_fault: bool,
    link_down: bool,
    group_fault: bool,
    /// Master_Adver_Interval (RFC 9568 §6.1): learned from the master in v3.
    master_adver_interval: Interval,
    /// Adver_Timer in Master, Master_Down_Timer in Backup (RFC 9568 §6.2).
    timer: Option<Instant>,
    /// The reason reported if the Master_Down_Timer fires.
    down_reason: Reason,
    /// A lower-priority master's advert was discarded since the timer was last reset.
    ignored_lower: bool,
    /// preempt_delay: until when a lower-priority master is still accepted.
    preempt_until: Option<Instant>,
    /// Sync group: a fired Master_Down_Timer waits for the group instead of taking over.
    sync_hold: bool,
    wants_master: bool,
    /// The master we last accepted an advert from (address, priority).
    current_master: Option<(IpAddr, u8)>,
    queue: VecDeque<Output>,
    stats: Stats,
}

impl VirtualRouter {
    /// Validates `config` and builds the router in [`State::Initialize`].
    pub fn new(config: RouterConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let family = config.family();
        let vips = match family {
            AddressFamily::Ipv4 => Vips::V4(
                config
                    .virtual_addresses
                    .iter()
                    .filter_map(|a| match a {
                        IpAddr::V4(a) => Some(*a),
                        IpAddr::V6(_) => None,
                    })
                    .collect(),
            ),
            AddressFamily::Ipv6 => Vips::V6(
                config
                    .virtual_addresses
                    .iter()
                    .filter_map(|a| match a {
                        IpAddr::V6(a) => Some(*a),
                        IpAddr::V4(_) => None,
                    })
                    .collect(),
            ),
        };
        let mut vips_sorted = config.virtual_addresses.clone();
        vips_sorted.sort();
        Ok(VirtualRouter {
            family,
            vips,
            vips_shared: config.virtual_addresses.clone().into(),
            vips_sorted,
            state: State::Initialize,
            priority_offset: 0,
            probe_fault: false,
            link_down: false,
            group_fault: false,
            master_adver_interval: config.advert_interval,
            timer: None,
            down_reason: Reason::MasterDownTimer,
            ignored_lower: false,
            preempt_until: None,
            sync_hold: false,
            wants_master: false,
            current_master: None,
            queue: VecDeque::new(),
            stats: Stats::default(),
            config,
        })
    }

    // ----- accessors -------------------------------------------------------------------

    /// The configuration.
    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The address family.
    pub fn family(&self) -> AddressFamily {
        self.family
    }

    /// The effective priority: 255 for an owner; otherwise base + offset clamped to
    /// 1..=254 (keepalived's tracking-weight semantics).
    pub fn priority(&self) -> u8 {
        effective_priority(self.config.priority, self.priority_offset)
    }

    /// Master_Adver_Interval (RFC 9568 §6.1): in v3 the interval learned from the master.
    pub fn master_adver_interval(&self) -> Interval {
        self.master_adver_interval
    }

    /// Skew_Time with the current effective priority (RFC 9568 §6.1; RFC 3768 §6.1).
    pub fn skew_time(&self) -> Duration {
        let weight = 256 - u64::from(self.priority());
        match self.config.version {
            // RFC 9568 §6.1: ((256 - Priority) * Master_Adver_Interval) / 256, in
            // centiseconds; kept exact to the nanosecond (1 cs = 10^7 ns).
            Version::V3 => Duration::from_nanos(
                weight * u64::from(self.master_adver_interval.as_centis()) * 10_000_000 / 256,
            ),
            // RFC 3768 §6.1: (256 - Priority) / 256 seconds.
            Version::V2 => Duration::from_nanos(weight * 1_000_000_000 / 256),
        }
    }

    /// Master_Down_Interval (RFC 9568 §6.1: 3 × Master_Adver_Interval + Skew_Time; RFC 3768
    /// §6.1: 3 × Advertisement_Interval + Skew_Time).
    pub fn master_down_interval(&self) -> Duration {
        let interval = match self.config.version {
            Version::V3 => self.master_adver_interval,
            Version::V2 => self.config.advert_interval,
        };
        interval.as_duration() * 3 + self.skew_time()
    }

    /// The master we last accepted an advert from, with its priority (Backup), or ourselves
    /// (Master).
    pub fn current_master(&self) -> Option<(IpAddr, u8)> {
        match self.state {
            State::Master => Some((self.config.primary_address, self.priority())),
            State::Backup => self.current_master,
            State::Initialize | State::Fault => None,
        }
    }

    /// True while FAULT applies (probe, interface, or sync group).
    pub fn is_faulted(&self) -> bool {
        self.own_fault() || self.group_fault
    }

    pub(crate) fn own_fault(&self) -> bool {
        self.probe_fault || self.link_down
    }

    /// The next output, in the order its side effects must happen.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.queue.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer
    }

    // ----- inputs ----------------------------------------------------------------------

    /// Applies a command.
    pub fn handle_command(&mut self, now: Instant, cmd: Command) {
        match cmd {
            Command::Startup => self.startup(now),
            Command::Shutdown => self.shutdown(),
            Command::SetPriorityOffset(offset) => {
                let before = self.priority();
                self.priority_offset = offset;
                let after = self.priority();
                if before != after {
                    self.event(Event::PriorityChanged {
                        from: before,
                        to: after,
                    });
                }
            }
            Command::SetFault(failed) => {
                self.probe_fault = failed;
                self.update_fault(now, false);
            }
            Command::InterfaceUp => {
                self.link_down = false;
                self.update_fault(now, false);
            }
            Command::InterfaceDown => {
                self.link_down = true;
                self.update_fault(now, false);
            }
        }
    }

    /// Decodes a received VRRP payload and handles it ([`handle_advert`](Self::handle_advert)).
    /// Decode failures become [`Event::Discarded`] and a counter.
    pub fn handle_packet(&mut self, now: Instant, meta: RxMeta, payload: &[u8]) {
        match VrrpRepr::decode(payload, meta.src, meta.dst) {
            Ok((repr, mode)) => {
                self.note_checksum_mode(&repr, mode);
                self.handle_advert(now, meta, &repr);
            }
            Err(e) => self.discard(meta.src, DiscardReason::Decode(e)),
        }
    }

    /// Handles a decoded advertisement: the configuration checks of RFC 9568 §7.1 /
    /// RFC 3768 §7.1, then the state machine of §6.4.
    pub fn handle_advert(&mut self, now: Instant, meta: RxMeta, advert: &VrrpRepr<'_>) {
        if matches!(self.state, State::Initialize | State::Fault) {
            // Not running, or silent in FAULT: nothing listens.
            return;
        }
        self.stats.adverts_received += 1;
        if let Err(reason) = self.receive_checks(&meta, advert) {
            self.discard(meta.src, reason);
            return;
        }
        if advert.priority == 0 {
            self.stats.priority_zero_received += 1;
        }
        match self.state {
            State::Backup => self.backup_receive(now, &meta, advert),
            State::Master => self.master_receive(now, &meta, advert),
            State::Initialize | State::Fault => {}
        }
    }

    /// Fires the timer if it is due; does nothing before the deadline.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(deadline) = self.timer else { return };
        if now < deadline {
            return;
        }
        match self.state {
            // RFC 9568 §6.4.3 / RFC 3768 §6.4.3: Adver_Timer fires → send an advert, reset
            // the timer to Advertisement_Interval.
            State::Master => {
                self.send_advert(self.priority());
                self.timer = Some(now + self.config.advert_interval.as_duration());
            }
            // RFC 9568 §6.4.2 / RFC 3768 §6.4.2: Master_Down_Timer fires → become master.
            State::Backup => {
                let reason = if self.down_reason == Reason::MasterDownTimer && self.ignored_lower {
                    Reason::Preempt
                } else {
                    self.down_reason
                };
                if self.sync_hold {
                    // The sync group decides (Node): wait, silent, for the other members.
                    self.timer = None;
                    self.wants_master = true;
                    self.down_reason = reason;
                } else {
                    self.become_master(now, reason);
                }
            }
            State::Initialize | State::Fault => self.timer = None,
        }
    }

    // ----- state machine ---------------------------------------------------------------

    fn startup(&mut self, now: Instant) {
        if self.state != State::Initialize {
            return;
        }
        if self.is_faulted() {
            let reason = if self.own_fault() {
                Reason::Fault
            } else {
                Reason::SyncGroup
            };
            self.set_state(State::Fault, reason);
            return;
        }
        self.enter_running(now, Reason::Startup);
    }

    /// Initialize (or FAULT) → Backup / Master, RFC 9568 §6.4.1 / RFC 3768 §6.4.1.
    fn enter_running(&mut self, now: Instant, reason: Reason) {
        if self.config.is_owner() {
            // RFC 9568 §6.4.1: Priority 255 → send an advert, announce, Adver_Timer,
            // transition to Master.
            self.become_master(now, Reason::AddressOwner);
        } else {
            // RFC 9568 §6.4.1: Master_Adver_Interval = Advertisement_Interval,
            // Master_Down_Timer = Master_Down_Interval, transition to Backup.
            self.master_adver_interval = self.config.advert_interval;
            self.current_master = None;
            self.wants_master = false;
            self.arm_down_timer(now, self.master_down_interval(), Reason::MasterDownTimer);
            // keepalived preempt_delay: a freshly started backup does not preempt at once.
            self.preempt_until =
                (!self.config.preempt_delay.is_zero()).then(|| now + self.config.preempt_delay);
            self.set_state(State::Backup, reason);
        }
    }

    fn shutdown(&mut self) {
        match self.state {
            State::Initialize => {}
            // RFC 9568 §6.4.3: cancel Adver_Timer, send an advert with priority 0, go
            // Initialize. The addresses go first so that no one still sends to us
            // after the backup took over.
            State::Master => {
                self.timer = None;
                self.remove_addresses();
                self.send_advert(0);
                self.set_state(State::Initialize, Reason::Shutdown);
            }
            // RFC 9568 §6.4.2: cancel Master_Down_Timer, go Initialize.
            State::Backup | State::Fault => {
                self.timer = None;
                self.wants_master = false;
                self.set_state(State::Initialize, Reason::Shutdown);
            }
        }
    }

    /// Enters or leaves FAULT as the fault flags say; `via_group` when the sync group moved
    /// us (the reason reported).
    fn update_fault(&mut self, now: Instant, via_group: bool) {
        let faulted = self.is_faulted();
        let reason = if via_group {
            Reason::SyncGroup
        } else {
            Reason::Fault
        };
        match (self.state, faulted) {
            (State::Master, true) => {
                // keepalived: a master entering FAULT removes its addresses and sends a
                // priority-0 advert so that the backup takes over after Skew_Time. With the
                // interface down nothing can be sent.
                self.timer = None;
                self.remove_addresses();
                if !self.link_down {
                    self.send_advert(0);
                }
                self.set_state(State::Fault, reason);
            }
            (State::Backup, true) => {
                self.timer = None;
                self.wants_master = false;
                self.set_state(State::Fault, reason);
            }
            (State::Fault, false) => {
                let reason = if via_group {
                    Reason::SyncGroup
                } else {
                    Reason::FaultCleared
                };
                self.enter_running(now, reason);
            }
            _ => {}
        }
    }

    /// Backup receives an advert: RFC 9568 §6.4.2 / RFC 3768 §6.4.2.
    fn backup_receive(&mut self, now: Instant, meta: &RxMeta, advert: &VrrpRepr<'_>) {
        let ours = self.priority();
        if advert.priority == 0 {
            // RFC 9568 §6.4.2: priority 0 → Master_Down_Timer = Skew_Time.
            self.arm_down_timer(now, self.skew_time(), Reason::PriorityZeroReceived);
            self.current_master = None;
            return;
        }
        let lower = advert.priority < ours;
        // keepalived preempt_delay: a lower-priority master is accepted as if preempt were off
        // until the delay (started by startup or the first such advert) has passed.
        let delayed = lower && self.config.preempt && self.preempt_delay_holds(now);
        if !self.config.preempt || !lower || delayed {
            // RFC 9568 §6.4.2: Preempt_Mode False, or priority ≥ ours → (v3) learn
            // Master_Adver_Interval, recompute Skew_Time and Master_Down_Interval, reset
            // Master_Down_Timer. (RFC 3768 §6.4.2: reset it to Master_Down_Interval.)
            if !lower {
                self.preempt_until = None;
            }
            if self.config.version == Version::V3 {
                self.master_adver_interval = advert.advert_interval;
            }
            self.current_master = Some((meta.src, advert.priority));
            self.wants_master = false;
            self.arm_down_timer(now, self.master_down_interval(), Reason::MasterDownTimer);
        } else {
            // RFC 9568 §6.4.2: otherwise discard it; the timer keeps running and we preempt
            // when it fires.
            self.ignored_lower = true;
        }
    }

    fn preempt_delay_holds(&mut self, now: Instant) -> bool {
        if self.config.preempt_delay.is_zero() {
            return false;
        }
        match self.preempt_until {
            None => {
                self.preempt_until = Some(now + self.config.preempt_delay);
                true
            }
            Some(until) => now < until,
        }
    }

    /// Master receives an advert: RFC 9568 §6.4.3 / RFC 3768 §6.4.3.
    fn master_receive(&mut self, now: Instant, meta: &RxMeta, advert: &VrrpRepr<'_>) {
        let ours = self.priority();
        if advert.priority == 0 {
            // RFC 9568 §6.4.3: priority 0 → send an advert, reset Adver_Timer.
            self.send_advert(ours);
            self.timer = Some(now + self.config.advert_interval.as_duration());
            return;
        }
        let higher = advert.priority > ours
            || (advert.priority == ours
                && addr_key(&meta.src) > addr_key(&self.config.primary_address));
        if higher {
            // RFC 9568 §6.4.3: cancel Adver_Timer, (v3) Master_Adver_Interval = its
            // interval, recompute Skew_Time and Master_Down_Interval, arm Master_Down_Timer,
            // transition to Backup. RFC 3768 §6.4.3 likewise without learning.
            if self.config.version == Version::V3 {
                self.master_adver_interval = advert.advert_interval;
            }
            self.remove_addresses();
            // Not in RFC 9568 §6.4.3 (which goes to Backup silently): one last advert at our
            // priority, so that the new master hears that another master existed and
            // re-announces the addresses (its §6.4.3 lower-priority branch below). After a
            // partition heals, whichever master hears the other first must fix the clients'
            // ARP caches: without this, when the lower one hears the higher one first, the
            // higher one never learns of the split and clients keep the lower one's MAC.
            self.send_advert(ours);
            self.current_master = Some((meta.src, advert.priority));
            self.preempt_until = None;
            self.wants_master = false;
            self.arm_down_timer(now, self.master_down_interval(), Reason::MasterDownTimer);
            self.set_state(State::Backup, Reason::HigherPriority);
        } else {
            // RFC 9568 §6.4.3: a lower priority → discard it and send an advert at once to
            // assert ourselves (ends a split brain after a partition heals). We also
            // re-announce the addresses (keepalived does, unless lower_prio_no_advert) so
            // that clients that followed the other master come back.
            self.send_advert(ours);
            self.timer = Some(now + self.config.advert_interval.as_duration());
            self.queue.push_back(Output::Action(Action::Announce {
                interface: self.config.interface,
                addresses: self.vips_shared.clone(),
            }));
        }
    }

    /// Backup → Master (RFC 9568 §6.4.2) or Initialize → Master for the owner (§6.4.1):
    /// add the addresses, send an advert, announce, arm Adver_Timer.
    fn become_master(&mut self, now: Instant, reason: Reason) {
        self.wants_master = false;
        self.preempt_until = None;
        self.current_master = None;
        self.queue.push_back(Output::Action(Action::AddAddresses {
            interface: self.config.interface,
            addresses: self.vips_shared.clone(),
            // RFC 9568 §6.4.3: accept packets to the addresses if owner or Accept_Mode.
            accept: self.config.is_owner() || self.config.accept_mode,
        }));
        self.send_advert(self.priority());
        self.queue.push_back(Output::Action(Action::Announce {
            interface: self.config.interface,
            addresses: self.vips_shared.clone(),
        }));
        self.timer = Some(now + self.config.advert_interval.as_duration());
        self.stats.master_transitions += 1;
        self.set_state(State::Master, reason);
    }

    fn remove_addresses(&mut self) {
        self.queue
            .push_back(Output::Action(Action::RemoveAddresses {
                interface: self.config.interface,
                addresses: self.vips_shared.clone(),
            }));
    }

    fn arm_down_timer(&mut self, now: Instant, after: Duration, reason: Reason) {
        self.timer = Some(now + after);
        self.down_reason = reason;
        self.ignored_lower = false;
    }

    fn set_state(&mut self, to: State, reason: Reason) {
        let from = self.state;
        self.state = to;
        self.event(Event::StateChanged { from, to, reason });
    }

    fn event(&mut self, e: Event) {
        self.queue.push_back(Output::Event(e));
    }

    // ----- sync-group hooks (used by Node) ---------------------------------------------

    pub(crate) fn set_sync_hold(&mut self, hold: bool) {
        self.sync_hold = hold;
    }

    pub(crate) fn wants_master(&self) -> bool {
        self.state == State::Backup && self.wants_master
    }

    /// The group is ready: a held backup takes over now.
    pub(crate) fn release_to_master(&mut self, now: Instant) {
        if self.wants_master() {
            let reason = self.down_reason;
            self.become_master(now, reason);
        }
    }

    /// Another member left MASTER: so do we.
    pub(crate) fn force_backup(&mut self, now: Instant) {
        if self.state == State::Master {
            self.remove_addresses();
            self.arm_down_timer(now, self.master_down_interval(), Reason::MasterDownTimer);
            self.set_state(State::Backup, Reason::SyncGroup);
        }
    }

    /// Another member entered (or every member left) FAULT.
    pub(crate) fn set_group_fault(&mut self, now: Instant, fault: bool) {
        if self.group_fault != fault {
            self.group_fault = fault;
            self.update_fault(now, true);
        }
    }

    // ----- receive checks --------------------------------------------------------------

    /// RFC 9568 §7.1 / RFC 3768 §7.1, the checks that need our configuration, in the RFC's
    /// order. The structural ones (version field, type, length, checksum...) are the codec's.
    fn receive_checks(
        &mut self,
        meta: &RxMeta,
        advert: &VrrpRepr<'_>,
    ) -> Result<(), DiscardReason> {
        if meta.src == self.config.primary_address {
            return Err(DiscardReason::OwnAdvert);
        }
        if AddressFamily::of(&meta.src) != self.family || advert.addresses.family() != self.family {
            return Err(DiscardReason::Family);
        }
        // RFC 9568 §7.1 / RFC 3768 §7.1: the TTL / hop limit must be 255.
        if self.config.check_ttl && meta.ttl != 255 {
            return Err(DiscardReason::Ttl(meta.ttl));
        }
        // RFC 9568 §5.1.2.1: an IPv6 advert's source is the sender's link-local address. A
        // global source on the group means the packet is forged or comes from a misconfigured
        // sender; unicast adverts (keepalived's extension) may use a global address.
        if let (IpAddr::V6(src), IpAddr::V6(dst)) = (meta.src, meta.dst)
            && dst.is_multicast()
            && !vrrp_packet::ip::is_ipv6_link_local(&src)
        {
            return Err(DiscardReason::Decode(DecodeError::SourceNotLinkLocal));
        }
        // RFC 9568 §7.1: the version must be the configured one.
        if advert.version != self.config.version {
            return Err(DiscardReason::Mismatch(MismatchError::Version {
                ours: self.config.version,
                theirs: advert.version,
            }));
        }
        // RFC 9568 §7.1: the VRID must be configured on this interface...
        if advert.vrid != self.config.vrid {
            return Err(DiscardReason::Mismatch(MismatchError::UnknownVrid(
                advert.vrid,
            )));
        }
        // keepalived unicast mode: only from the configured peers.
        if !self.config.unicast_peers.is_empty() && !self.config.unicast_peers.contains(&meta.src) {
            return Err(DiscardReason::UnicastSource);
        }
        if self.config.version == Version::V2 {
            // RFC 3768 §7.1: the auth type must match ours (and the password, RFC 2338).
            check_auth(&self.config.auth, &advert.auth).map_err(DiscardReason::Mismatch)?;
            // RFC 3768 §7.1: Adver Interval must equal ours.
            if advert.advert_interval != self.config.advert_interval {
                return Err(DiscardReason::Mismatch(MismatchError::Interval {
                    ours_cs: self.config.advert_interval.as_centis(),
                    theirs_cs: advert.advert_interval.as_centis(),
                }));
            }
        }
        // RFC 9568 §7.1: ... and the local router must not be the address owner.
        if self.config.is_owner() {
            return Err(DiscardReason::AddressOwner);
        }
        if !self.same_addresses(&advert.addresses) {
            match self.config.version {
                // RFC 3768 §7.1: drop a mismatched list unless the sender is the owner.
                Version::V2 if advert.priority != OWNER_PRIORITY => {
                    return Err(DiscardReason::AddressList);
                }
                Version::V3 if self.config.discard_address_mismatch => {
                    return Err(DiscardReason::AddressList);
                }
                // RFC 9568 §7.1: log the misconfiguration, keep processing.
                _ => {
                    self.stats.address_list_errors += 1;
                    self.event(Event::AddressListMismatch { src: meta.src });
                }
            }
        }
        Ok(())
    }

    fn same_addresses(&self, list: &AddressList<'_>) -> bool {
        list.len() == self.vips_sorted.len()
            && list
                .iter()
                .all(|a| self.vips_sorted.binary_search(&a).is_ok())
    }

    pub(crate) fn note_checksum_mode(&mut self, repr: &VrrpRepr<'_>, mode: ChecksumMode) {
        let running = matches!(self.state, State::Backup | State::Master);
        if running && repr.version == Version::V3 && self.family == AddressFamily::Ipv4 {
            match mode {
                ChecksumMode::PseudoHeader => self.stats.checksum_pseudo_header += 1,
                ChecksumMode::MessageOnly => self.stats.checksum_message_only += 1,
            }
        }
    }

    /// Counts a discard and reports it.
    pub(crate) fn discard(&mut self, src: IpAddr, reason: DiscardReason) {
        self.stats.increment(reason.counter());
        self.event(Event::Discarded { src, reason });
    }

    // ----- transmit --------------------------------------------------------------------

    /// Sends one advert with `priority` to the multicast group or to each unicast peer
    /// (RFC 9568 §7.2, RFC 3768 §7.2).
    fn send_advert(&mut self, priority: u8) {
        let (adverts, failed) = self.adverts(priority);
        let sent = adverts.len();
        self.queue.extend(adverts.into_iter().map(Output::Transmit));
        self.stats.emit_errors += failed;
        if sent > 0 {
            self.stats.adverts_sent += 1;
            if priority == 0 {
                self.stats.priority_zero_sent += 1;
            }
        }
    }

    /// The adverts [`handle_timeout`](Self::handle_timeout) would send if this backup's
    /// Master_Down_Timer fired now and it became master (RFC 9568 §6.4.2), without changing
    /// anything: for a caller that wants that code and data warm before the moment comes
    /// (the runtime rehearses a takeover shortly before a backup's deadline).
    pub fn takeover_adverts(&self) -> Vec<Transmit> {
        self.adverts(self.priority()).0
    }

    /// The adverts with `priority`, one per destination, and how many could not be encoded.
    fn adverts(&self, priority: u8) -> (Vec<Transmit>, u64) {
        let repr = VrrpRepr {
            version: self.config.version,
            vrid: self.config.vrid,
            priority,
            // RFC 9568 §5.2.7: Max Adver Int is our Advertisement_Interval.
            advert_interval: self.config.advert_interval,
            auth: self.config.auth,
            addresses: self.vips.list(),
        };
        let src = self.config.primary_address;
        let mut adverts = Vec::new();
        let mut failed = 0u64;
        let multicast = [self.family.multicast_group()];
        let dsts: &[IpAddr] = if self.config.unicast_peers.is_empty() {
            &multicast
        } else {
            &self.config.unicast_peers
        };
        for dst in dsts {
            let mut payload = vec![0u8; repr.buffer_len()];
            let ck = ChecksumContext {
                src,
                dst: *dst,
                mode: self.config.checksum_mode,
            };
            match repr.emit(&mut payload, &ck) {
                Ok(len) => {
                    payload.truncate(len);
                    adverts.push(Transmit {
                        interface: self.config.interface,
                        src,
                        dst: *dst,
                        ttl: 255,
                        priority,
                        payload,
                    });
                }
                Err(_) => failed += 1,
            }
        }
        (adverts, failed)
    }
}

/// Effective priority: an owner stays 255; others are clamped to 1..=254.
pub(crate) fn effective_priority(base: u8, offset: i16) -> u8 {
    if base == OWNER_PRIORITY {
        return OWNER_PRIORITY;
    }
    let p = (i32::from(base) + i32::from(offset)).clamp(1, 254);
    // Clamped to 1..=254 above.
    p as u8
}

/// RFC 9568 §6.4.3: primary addresses compare as unsigned integers in network byte order.
fn addr_key(a: &IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u128::from(u32::from(*a)),
        IpAddr::V6(a) => u128::from(*a),
    }
}
