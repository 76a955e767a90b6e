//! A deterministic simulated LAN for the vrrp-rs election engine.
//!
//! Many hosts, each running a [`vrrp_election::Node`] with one virtual router of the same
//! VRID, share one segment. A virtual clock jumps to the earliest event (a packet arrival, a
//! scripted disturbance, or a node's `poll_timeout`); every link has its own seeded loss, delay
//! and jitter; partitions start and heal; hosts crash, restart, shut down gracefully, and their
//! fake probes change priorities or raise FAULT. Same seed, same trace ([`Report::trace_hash`]).
//!
//! After every step the simulator checks the invariants of the election (see [`Sim`]) and
//! counts violations; the `soak` command (`cargo run --release -p vrrp-sim -- soak`) runs
//! thousands of router-hours this way.
//!
//! ```
//! use std::time::Duration;
//! use vrrp_sim::{Disturbance, LinkParams, RouterSpec, Sim, SimConfig};
//!
//! let mut sim = Sim::new(SimConfig {
//!     routers: vec![RouterSpec::new(200), RouterSpec::new(100)],
//!     link: LinkParams { loss: 0.0, delay: Duration::from_micros(200), jitter: Duration::ZERO },
//!     ..SimConfig::default()
//! });
//! sim.schedule(Duration::from_secs(20), Disturbance::Crash(0));
//! sim.schedule(Duration::from_secs(40), Disturbance::Restart(0));
//! let report = sim.run_for(Duration::from_secs(60));
//! assert_eq!(report.invariant_violations, 0, "{:?}", report.violations);
//! assert_eq!(sim.masters(), vec![0]);
//! assert_eq!(report.failovers, 1);
//! assert!(report.max_failover_overshoot_ms.unwrap() <= 0.0);
//! ```

pub mod fuzzing;
pub mod model;
mod rng;
pub mod soak;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use vrrp_election::{
    Action, Command, Event, InterfaceId, Interval, Node, Output, RouterConfig, RouterId, RxMeta,
    State, Version, VirtualRouter,
};

pub use rng::Rng;

const IFACE: InterfaceId = InterfaceId(1);
const VRID: u8 = 51;

/// One simulated router's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterSpec {
    /// Base priority (1..=255).
    pub priority: u8,
    /// Preempt_Mode.
    pub preempt: bool,
}

impl RouterSpec {
    /// A router with this priority and preempt on.
    pub fn new(priority: u8) -> Self {
        RouterSpec {
            priority,
            preempt: true,
        }
    }
}

/// Per-link behaviour (every ordered pair of hosts is a link with its own random stream).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkParams {
    /// Probability that a packet is lost.
    pub loss: f64,
    /// Fixed one-way delay.
    pub delay: Duration,
    /// Extra delay, uniform in [0, jitter].
    pub jitter: Duration,
}

impl Default for LinkParams {
    fn default() -> Self {
        LinkParams {
            loss: 0.0,
            delay: Duration::from_micros(100),
            jitter: Duration::ZERO,
        }
    }
}

/// The simulated segment.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// The routers; host `i` has primary address 192.0.2.(10+i) (or fe80::(10+i)).
    pub routers: Vec<RouterSpec>,
    /// VRRP version of every router.
    pub version: Version,
    /// IPv6 instead of IPv4 (VRRPv3 only).
    pub ipv6: bool,
    /// Advertisement_Interval of every router.
    pub advert_interval: Interval,
    /// Link behaviour.
    pub link: LinkParams,
    /// The seed of every random choice.
    pub seed: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            routers: vec![RouterSpec::new(200), RouterSpec::new(100)],
            version: Version::V3,
            ipv6: false,
            advert_interval: Interval::DEFAULT,
            link: LinkParams::default(),
            seed: 1,
        }
    }
}

/// A scripted disturbance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disturbance {
    /// The host dies at once: no outputs, its addresses are gone with it.
    Crash(usize),
    /// A crashed or stopped host starts again (fresh engine, probes healthy).
    Restart(usize),
    /// Graceful stop: `Command::Shutdown` (priority-0 advert if master).
    Shutdown(usize),
    /// Split the segment: hosts with `true` cannot talk to hosts with `false`.
    Partition(Vec<bool>),
    /// End the partition.
    Heal,
    /// A weighted probe changed: the host's priority offset.
    PriorityOffset(usize, i16),
    /// An unweighted probe failed (`true`) or recovered.
    Fault(usize, bool),
    /// Packets from the first host to the second are dropped (a one-way failure, which VRRP
    /// cannot handle: used to check that the invariant checks do fire).
    BlockLink(usize, usize),
    /// Undo [`Disturbance::BlockLink`].
    UnblockLink(usize, usize),
}

/// What a run found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Simulated time × routers, in hours.
    pub router_hours: f64,
    /// State changes of all routers.
    pub transitions: u64,
    /// Time during which two routers that can hear each other were both master.
    pub dual_master_seconds: f64,
    /// Worst (failover time − RFC bound) over measured failovers, in ms; ≤ 0 is within the
    /// bound. `None` when no failover was measured.
    pub max_failover_overshoot_ms: Option<f64>,
    /// Failovers measured (master crashed, shut down or faulted with a live backup).
    pub failovers: u64,
    /// Invariant violations found.
    pub invariant_violations: u64,
    /// The first violations, described.
    pub violations: Vec<String>,
    /// Adverts the engines sent (one per destination).
    pub packets_sent: u64,
    /// Packets delivered to a live host.
    pub packets_delivered: u64,
    /// Packets lost on links or at partitions.
    pub packets_lost: u64,
    /// Simulation steps (distinct event times).
    pub steps: u64,
    /// FNV-1a hash of every output with its time and host: equal seeds give equal hashes.
    pub trace_hash: u64,
}

#[derive(Debug)]
enum Pending {
    Deliver {
        to: usize,
        from: usize,
        payload: Rc<Vec<u8>>,
        dst: IpAddr,
    },
}

#[derive(Debug)]
struct Queued {
    at: Instant,
    seq: u64,
    what: Pending,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

#[derive(Debug)]
struct Host {
    config: RouterConfig,
    preempt: bool,
    node: Option<Node>,
    has_vip: bool,
    state: State,
    /// When this host last sent a non-zero-priority advert.
    last_advert: Option<Instant>,
    /// When this host last entered BACKUP (its Master_Down_Timer started then at the latest).
    backup_since: Instant,
    /// When an advert with a non-zero priority was last delivered to this host.
    last_heard: Instant,
    /// When this host's priority offset last changed.
    last_priority_change: Instant,
    next_timeout: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct Failover {
    component: u8,
    bound: Instant,
}

/// The simulator. Invariants checked after every step:
///
/// 1. **VIP exactly on the master**: a host holds the virtual address iff its router is
///    MASTER.
/// 2. **A master hears a better master and yields**: whenever a master's advert is delivered
///    to another master with a lower (priority, address), the receiver is no longer master
///    right after (RFC 9568 §6.4.3). On a loss-free network, any two masters that can hear each
///    other stop being two within one advert interval plus two link delays.
/// 3. **Convergence**: once nothing has been disturbed and no state changed for a settle
///    time, every part of the segment with a healthy router has exactly one master, and when
///    all its routers preempt, the master has the highest effective priority there.
/// 4. **Failover within Master_Down_Interval**: after the master dies (or resigns), the new
///    master appears no later than the old master's last advert + the longest link delay +
///    the smallest Master_Down_Interval among the backups (RFC 9568 §6.4.2).
/// 5. **No flapping**: on a loss-free network, no state changes at all after convergence.
#[derive(Debug)]
pub struct Sim {
    cfg: SimConfig,
    hosts: Vec<Host>,
    links: Vec<Rng>,
    /// Packets in flight (few at a time: a small heap).
    queue: BinaryHeap<Reverse<Queued>>,
    /// Scripted disturbances, sorted by (time, seq); `script_next` is the next to apply.
    script: Vec<(Instant, u64, Disturbance)>,
    script_next: usize,
    seq: u64,
    start: Instant,
    now: Instant,
    partition: Option<Vec<bool>>,
    /// `blocked[from * n + to]`: one-way link failures.
    blocked: Vec<bool>,
    last_disturbance: Instant,
    last_transition: Instant,
    settle: Duration,
    max_delay: Duration,
    failover: Option<Failover>,
    /// Start of the current episode of two masters in one component.
    dual_since: Option<Instant>,
    report: Report,
}

impl Sim {
    /// Builds the hosts (not started: [`Sim::run_for`] starts them all at time 0).
    #[allow(clippy::disallowed_methods)] // The origin of the virtual clock; only offsets matter.
    pub fn new(cfg: SimConfig) -> Self {
        let start = Instant::now();
        let mut master_rng = Rng::new(cfg.seed);
        let n = cfg.routers.len();
        let links = (0..n * n).map(|_| master_rng.fork()).collect();
        let vip: IpAddr = if cfg.ipv6 {
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100))
        } else {
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100))
        };
        let hosts = cfg
            .routers
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let mut c = RouterConfig::new(VRID, IFACE, host_addr(cfg.ipv6, i), vec![vip]);
                c.version = cfg.version;
                c.priority = spec.priority;
                c.preempt = spec.preempt;
                c.advert_interval = cfg.advert_interval;
                Host {
                    config: c,
                    preempt: spec.preempt,
                    node: None,
                    has_vip: false,
                    state: State::Initialize,
                    last_advert: None,
                    backup_since: start,
                    last_heard: start,
                    last_priority_change: start,
                    next_timeout: None,
                }
            })
            .collect();
        let max_delay = cfg.link.delay + cfg.link.jitter;
        let interval = cfg.advert_interval.as_duration();
        // The slowest convergence: a restarted best router waits its Master_Down_Interval
        // (< 4 intervals), then the old master needs one advert round trip to yield.
        let settle = interval * 10 + max_delay * 8;
        let mut sim = Sim {
            hosts,
            links,
            queue: BinaryHeap::new(),
            script: Vec::new(),
            script_next: 0,
            seq: 0,
            start,
            now: start,
            partition: None,
            blocked: vec![false; n * n],
            last_disturbance: start,
            last_transition: start,
            settle,
            max_delay,
            failover: None,
            dual_since: None,
            report: Report {
                trace_hash: 0xcbf2_9ce4_8422_2325,
                ..Report::default()
            },
            cfg,
        };
        for i in 0..n {
            sim.schedule(Duration::ZERO, Disturbance::Restart(i));
        }
        sim
    }

    /// Schedules a disturbance `at` after the start.
    pub fn schedule(&mut self, at: Duration, what: Disturbance) {
        let at = self.start + at.max(self.now - self.start);
        self.seq += 1;
        let key = (at, self.seq);
        let pos = self.script[self.script_next..].partition_point(|(t, s, _)| (*t, *s) <= key)
            + self.script_next;
        self.script.insert(pos, (at, self.seq, what));
    }

    /// Schedules a random mix over `[0, length)`: `partitions` partitions (1 s..2 min each),
    /// `crashes` crash/restart pairs (1 s..5 min down), `shutdowns` graceful stop/restart
    /// pairs, and `probe_changes` priority or fault episodes (1 s..2 min), all from the seed.
    pub fn random_schedule(
        &mut self,
        length: Duration,
        partitions: usize,
        crashes: usize,
        shutdowns: usize,
        probe_changes: usize,
    ) {
        let mut rng = Rng::new(self.cfg.seed ^ 0x5ced_u64.rotate_left(40));
        let n = self.hosts.len();
        let len_ms = length.as_millis().max(1) as u64;
        let slots = |count: usize, rng: &mut Rng| -> Vec<(Duration, Duration)> {
            // One event per slot so that episodes of one kind never overlap.
            let slot = len_ms / (count as u64).max(1);
            (0..count as u64)
                .map(|k| {
                    let begin = k * slot + rng.below(slot / 2 + 1);
                    let room = (k + 1) * slot - begin;
                    (Duration::from_millis(begin), Duration::from_millis(room))
                })
                .collect()
        };
        for (at, room) in slots(partitions, &mut rng) {
            let mut side: Vec<bool> = (0..n).map(|_| rng.chance(0.5)).collect();
            if (side.iter().all(|s| *s) || side.iter().all(|s| !*s))
                && let Some(first) = side.first_mut()
            {
                *first = !*first;
            }
            let dur = Duration::from_millis(1000 + rng.below(119_000)).min(room);
            self.schedule(at, Disturbance::Partition(side));
            self.schedule(at + dur, Disturbance::Heal);
        }
        for (at, room) in slots(crashes, &mut rng) {
            let h = rng.below(n as u64) as usize;
            let dur = Duration::from_millis(1000 + rng.below(299_000)).min(room);
            self.schedule(at, Disturbance::Crash(h));
            self.schedule(at + dur, Disturbance::Restart(h));
        }
        for (at, room) in slots(shutdowns, &mut rng) {
            let h = rng.below(n as u64) as usize;
            let dur = Duration::from_millis(1000 + rng.below(119_000)).min(room);
            self.schedule(at, Disturbance::Shutdown(h));
            self.schedule(at + dur, Disturbance::Restart(h));
        }
        for (at, room) in slots(probe_changes, &mut rng) {
            let h = rng.below(n as u64) as usize;
            let dur = Duration::from_millis(1000 + rng.below(119_000)).min(room);
            if rng.chance(0.3) {
                self.schedule(at, Disturbance::Fault(h, true));
                self.schedule(at + dur, Disturbance::Fault(h, false));
            } else {
                let offset = rng.below(201) as i16 - 100;
                self.schedule(at, Disturbance::PriorityOffset(h, offset));
                self.schedule(at + dur, Disturbance::PriorityOffset(h, 0));
            }
        }
    }

    /// The hosts whose router is master now.
    pub fn masters(&self) -> Vec<usize> {
        (0..self.hosts.len())
            .filter(|i| self.hosts[*i].state == State::Master)
            .collect()
    }

    /// The state of every host's router (`Initialize` for a crashed host).
    pub fn states(&self) -> Vec<State> {
        self.hosts.iter().map(|h| h.state).collect()
    }

    /// Simulated time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Runs until `length` after the start and returns the report so far.
    pub fn run_for(&mut self, length: Duration) -> Report {
        let end = self.start + length;
        loop {
            let next_packet = self.queue.peek().map(|Reverse(q)| (q.at, q.seq));
            let next_script = self.script.get(self.script_next).map(|(t, s, _)| (*t, *s));
            let script_first = match (next_script, next_packet) {
                (Some(a), Some(b)) => a < b,
                (a, _) => a.is_some(),
            };
            let next_queue = if script_first {
                next_script.map(|(t, _)| t)
            } else {
                next_packet.map(|(t, _)| t)
            };
            let next_timer = self.hosts.iter().filter_map(|h| h.next_timeout).min();
            let next = match (next_queue, next_timer) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) => a,
                (None, Some(b)) => b,
                (None, None) => end,
            };
            if next > end {
                self.advance(end);
                break;
            }
            self.advance(next);
            self.report.steps += 1;
            if next_queue == Some(next) {
                // Every scripted disturbance and packet due now, in (time, seq) order.
                loop {
                    let packet = self.queue.peek().map(|Reverse(q)| (q.at, q.seq));
                    let script = self.script.get(self.script_next).map(|(t, s, _)| (*t, *s));
                    let take_script = match (script, packet) {
                        (Some(a), Some(b)) => a < b,
                        (a, _) => a.is_some(),
                    };
                    if take_script && script.is_some_and(|(t, _)| t == next) {
                        let d = self.script[self.script_next].2.clone();
                        self.script_next += 1;
                        self.disturb(d);
                    } else if !take_script && packet.is_some_and(|(t, _)| t == next) {
                        let Some(Reverse(q)) = self.queue.pop() else {
                            break;
                        };
                        self.process(q.what);
                    } else {
                        break;
                    }
                }
            } else {
                for i in 0..self.hosts.len() {
                    if self.hosts[i].next_timeout.is_some_and(|t| t <= next) {
                        if let Some(node) = self.hosts[i].node.as_mut() {
                            node.handle_timeout(next);
                        }
                        self.drain(i);
                    }
                }
            }
            self.check_step();
            if next == end {
                break;
            }
        }
        self.report.router_hours =
            (self.now - self.start).as_secs_f64() * self.hosts.len() as f64 / 3600.0;
        self.report.clone()
    }

    fn push(&mut self, at: Instant, what: Pending) {
        self.seq += 1;
        self.queue.push(Reverse(Queued {
            at,
            seq: self.seq,
            what,
        }));
    }

    /// Moves the clock, accounting dual-master time.
    fn advance(&mut self, to: Instant) {
        if to > self.now && self.dual_master_now() {
            self.report.dual_master_seconds += (to - self.now).as_secs_f64();
        }
        if to > self.now {
            self.now = to;
        }
    }

    fn component(&self, i: usize) -> u8 {
        match &self.partition {
            Some(side) if side.get(i).copied().unwrap_or(false) => 1,
            _ => 0,
        }
    }

    fn connected(&self, a: usize, b: usize) -> bool {
        self.component(a) == self.component(b)
    }

    fn dual_master_now(&self) -> bool {
        // No allocation: this runs at every step.
        let mut seen = [false; 2];
        for (i, h) in self.hosts.iter().enumerate() {
            if h.state == State::Master {
                let c = usize::from(self.component(i));
                if seen[c] {
                    return true;
                }
                seen[c] = true;
            }
        }
        false
    }

    fn router(&self, i: usize) -> Option<&VirtualRouter> {
        self.hosts[i]
            .node
            .as_ref()
            .and_then(|n| n.router(RouterId(0)))
    }

    fn disturbed(&mut self) {
        self.last_disturbance = self.now;
        self.failover = None;
    }

    fn process(&mut self, what: Pending) {
        match what {
            Pending::Deliver {
                to,
                from,
                payload,
                dst,
            } => {
                if !self.connected(from, to) || self.blocked[from * self.hosts.len() + to] {
                    self.report.packets_lost += 1;
                    return;
                }
                let meta = RxMeta {
                    interface: IFACE,
                    src: self.hosts[from].config.primary_address,
                    dst,
                    ttl: 255,
                };
                let was_master = self.hosts[to].state == State::Master;
                if self.hosts[to].node.is_none() {
                    self.report.packets_lost += 1;
                    return;
                }
                self.report.packets_delivered += 1;
                if payload.get(2).is_some_and(|p| *p != 0) {
                    self.hosts[to].last_heard = self.now;
                }
                let Some(node) = self.hosts[to].node.as_mut() else {
                    return;
                };
                node.handle_packet(self.now, meta, &payload);
                self.drain(to);
                // Invariant 2: a master that hears a better master yields at once.
                if was_master && self.hosts[from].state == State::Master {
                    let prio = |i: usize| self.router(i).map_or(0, VirtualRouter::priority);
                    let key = |i: usize| (prio(i), self.hosts[i].config.primary_address);
                    if payload.get(2).copied() == Some(prio(from))
                        && key(from) > key(to)
                        && self.hosts[to].state == State::Master
                    {
                        self.violation(format!(
                            "host {to} stayed master after an advert from better master {from}"
                        ));
                    }
                }
            }
        }
    }

    fn disturb(&mut self, d: Disturbance) {
        let n = self.hosts.len();
        let in_range = match &d {
            Disturbance::Crash(h)
            | Disturbance::Restart(h)
            | Disturbance::Shutdown(h)
            | Disturbance::PriorityOffset(h, _)
            | Disturbance::Fault(h, _) => *h < n,
            Disturbance::BlockLink(a, b) | Disturbance::UnblockLink(a, b) => *a < n && *b < n,
            Disturbance::Partition(side) => side.len() == n,
            Disturbance::Heal => true,
        };
        if !in_range {
            return;
        }
        self.hash(&format!("script {d:?}"));
        match d.clone() {
            Disturbance::Crash(h) => {
                if self.hosts[h].node.is_none() {
                    return;
                }
                let was_master = self.hosts[h].state == State::Master;
                let last = self.hosts[h].last_advert;
                self.disturbed();
                let host = &mut self.hosts[h];
                host.node = None;
                host.has_vip = false;
                host.next_timeout = None;
                if host.state != State::Initialize {
                    self.report.transitions += 1;
                    self.last_transition = self.now;
                }
                self.hosts[h].state = State::Initialize;
                if was_master && last.is_some() {
                    self.arm_failover(h, false);
                }
            }
            Disturbance::Restart(h) => {
                if self.hosts[h].node.is_some() && self.hosts[h].state != State::Initialize {
                    return;
                }
                self.disturbed();
                let mut node = Node::new();
                if node.add_router(self.hosts[h].config.clone()).is_err() {
                    self.violation(format!("host {h}: configuration refused"));
                    return;
                }
                node.handle_command_all(self.now, Command::Startup);
                self.hosts[h].node = Some(node);
                self.drain(h);
            }
            Disturbance::Shutdown(h) => {
                let was_master = self.hosts[h].state == State::Master;
                let last = self.hosts[h].last_advert;
                self.command(h, Command::Shutdown);
                if was_master && last.is_some() {
                    self.arm_failover(h, true);
                }
            }
            Disturbance::Partition(side) => {
                self.disturbed();
                self.partition = Some(side);
            }
            Disturbance::Heal => {
                self.disturbed();
                self.partition = None;
            }
            Disturbance::PriorityOffset(h, o) => {
                self.hosts[h].last_priority_change = self.now;
                self.command(h, Command::SetPriorityOffset(o));
            }
            Disturbance::BlockLink(a, b) | Disturbance::UnblockLink(a, b) => {
                self.disturbed();
                let block = matches!(d, Disturbance::BlockLink(..));
                let n = self.hosts.len();
                if let Some(slot) = self.blocked.get_mut(a * n + b) {
                    *slot = block;
                }
            }
            Disturbance::Fault(h, f) => {
                let was_master = self.hosts[h].state == State::Master;
                let last = self.hosts[h].last_advert;
                self.command(h, Command::SetFault(f));
                if f && was_master && last.is_some() {
                    self.arm_failover(h, true);
                }
            }
        }
    }

    fn command(&mut self, h: usize, cmd: Command) {
        self.disturbed();
        if let Some(node) = self.hosts[h].node.as_mut() {
            node.handle_command(self.now, RouterId(0), cmd);
            self.drain(h);
        }
    }

    /// Invariant 4 setup: the master `h` is gone; some healthy backup of its component must
    /// take over no later than its Master_Down_Interval after the last advert it received (or
    /// after it entered BACKUP, or after the last advert still in flight can arrive, if later). When its priority changed since, the interval it
    /// armed is not the current one: the largest possible (priority 1) is used instead.
    fn arm_failover(&mut self, h: usize, resigned: bool) {
        let comp = self.component(h);
        // Adverts still in flight (sent before the crash) can reset a backup's timer later.
        let in_flight = self
            .hosts
            .iter()
            .filter_map(|x| x.last_advert)
            .max()
            .map(|t| t + self.max_delay)
            .filter(|t| *t > self.now);
        let bound = (0..self.hosts.len())
            .filter(|i| *i != h && self.component(*i) == comp)
            .filter(|i| self.hosts[*i].state == State::Backup)
            .filter_map(|i| {
                let r = self.router(i)?;
                let host = &self.hosts[i];
                let armed = host
                    .last_heard
                    .max(host.backup_since)
                    .max(in_flight.unwrap_or(self.start));
                let mdi = if host.last_priority_change >= armed {
                    let interval = match r.config().version {
                        Version::V3 => r.master_adver_interval(),
                        Version::V2 => r.config().advert_interval,
                    }
                    .as_duration();
                    interval * 3 + interval * 255 / 256
                } else {
                    r.master_down_interval()
                };
                // A priority-0 advert (shutdown, fault) sets the timer to Skew_Time when it
                // arrives (RFC 9568 §6.4.2), even if that is later than the running timer.
                let prio0 = resigned.then(|| self.now + self.max_delay + r.skew_time());
                Some((armed + mdi).max(prio0.unwrap_or(self.start)))
            })
            .min();
        let others_master = (0..self.hosts.len())
            .any(|i| i != h && self.component(i) == comp && self.hosts[i].state == State::Master);
        if let (Some(bound), false) = (bound, others_master) {
            self.failover = Some(Failover {
                component: comp,
                bound,
            });
        }
    }

    /// Moves a host's outputs into the world.
    fn drain(&mut self, i: usize) {
        while let Some(out) = self.hosts[i].node.as_mut().and_then(Node::poll_output) {
            let out = out.output;
            self.hash_output(i, &out);
            match out {
                Output::Transmit(t) => {
                    if t.priority != 0 {
                        self.hosts[i].last_advert = Some(self.now);
                    }
                    let payload = Rc::new(t.payload);
                    for j in 0..self.hosts.len() {
                        if j == i {
                            continue;
                        }
                        self.report.packets_sent += 1;
                        let link = &mut self.links[i * self.hosts.len() + j];
                        if link.chance(self.cfg.link.loss) {
                            self.report.packets_lost += 1;
                            continue;
                        }
                        let jitter_ns = self.cfg.link.jitter.as_nanos() as u64;
                        let extra = Duration::from_nanos(link.below(jitter_ns + 1));
                        let at = self.now + self.cfg.link.delay + extra;
                        self.push(
                            at,
                            Pending::Deliver {
                                to: j,
                                from: i,
                                payload: payload.clone(),
                                dst: t.dst,
                            },
                        );
                    }
                }
                Output::Action(Action::AddAddresses { .. }) => self.hosts[i].has_vip = true,
                Output::Action(Action::RemoveAddresses { .. }) => self.hosts[i].has_vip = false,
                Output::Action(_) => {}
                Output::Event(Event::StateChanged { to, .. }) => self.transition(i, to),
                Output::Event(_) => {}
            }
        }
        self.hosts[i].next_timeout = self.hosts[i].node.as_ref().and_then(Node::poll_timeout);
    }

    fn transition(&mut self, i: usize, to: State) {
        self.report.transitions += 1;
        // Invariant 5: nothing changes on a loss-free network after convergence.
        if self.cfg.link.loss == 0.0 && self.now >= self.last_disturbance + self.settle {
            self.violation(format!(
                "host {i} changed to {to} on a loss-free network {:?} after the last disturbance",
                self.now - self.last_disturbance
            ));
        }
        self.last_transition = self.now;
        self.hosts[i].state = to;
        if to == State::Backup {
            self.hosts[i].backup_since = self.now;
        }
        if to == State::Master
            && let Some(f) = self.failover
            && f.component == self.component(i)
        {
            let overshoot = self.now.saturating_duration_since(f.bound).as_secs_f64()
                - f.bound.saturating_duration_since(self.now).as_secs_f64();
            let ms = overshoot * 1000.0;
            self.report.failovers += 1;
            let worst = self.report.max_failover_overshoot_ms.unwrap_or(f64::MIN);
            self.report.max_failover_overshoot_ms = Some(worst.max(ms));
            if self.now > f.bound {
                self.violation(format!(
                    "failover by host {i} {ms:.3} ms after the RFC bound"
                ));
            }
            self.failover = None;
        }
    }

    /// The invariants checked after every step.
    fn check_step(&mut self) {
        // Invariant 1: the VIP is on the master and nowhere else.
        for i in 0..self.hosts.len() {
            let h = &self.hosts[i];
            if h.has_vip != (h.state == State::Master) {
                self.violation(format!(
                    "host {i} is {} but {} the VIP",
                    h.state,
                    if h.has_vip { "holds" } else { "lacks" }
                ));
            }
        }
        // Invariant 2 (loss-free): two masters that hear each other do not last.
        let dual = self.dual_master_now();
        match (dual, self.dual_since) {
            (true, None) => self.dual_since = Some(self.now),
            (false, Some(_)) => self.dual_since = None,
            (true, Some(since)) => {
                let limit = self.cfg.advert_interval.as_duration() + self.max_delay * 2;
                if self.cfg.link.loss == 0.0 && self.now - since > limit {
                    self.violation(format!(
                        "two masters {:?} for {:?} on a loss-free network",
                        self.masters(),
                        self.now - since
                    ));
                    self.dual_since = Some(self.now);
                }
            }
            (false, None) => {}
        }
        // Invariant 3: converged parts have one master, the best one when preempting.
        let quiet_since = self.last_disturbance.max(self.last_transition);
        if self.now >= quiet_since + self.settle {
            for comp in 0..2u8 {
                self.check_converged(comp);
            }
        }
    }

    fn check_converged(&mut self, comp: u8) {
        // No allocation in the common case: this runs at every step once converged.
        let mut members = 0usize;
        let mut masters = 0usize;
        let mut master = 0usize;
        let mut all_preempt = true;
        let mut best = 0u8;
        for i in 0..self.hosts.len() {
            let h = &self.hosts[i];
            if self.component(i) != comp || !matches!(h.state, State::Backup | State::Master) {
                continue;
            }
            members += 1;
            all_preempt &= h.preempt;
            best = best.max(self.router(i).map_or(0, VirtualRouter::priority));
            if h.state == State::Master {
                masters += 1;
                master = i;
            }
        }
        if members == 0 {
            return;
        }
        if masters != 1 {
            let list: Vec<usize> = self.masters();
            self.violation(format!(
                "converged part {comp} has {masters} masters {list:?} among {members} routers"
            ));
            // Report once per quiet period.
            self.last_transition = self.now;
            return;
        }
        let prio = self.router(master).map_or(0, VirtualRouter::priority);
        if all_preempt && prio != best {
            self.violation(format!(
                "converged master {master} has priority {prio} but {best} is available"
            ));
            self.last_transition = self.now;
        }
    }

    fn violation(&mut self, what: String) {
        self.report.invariant_violations += 1;
        if self.report.violations.len() < 20 {
            let t = self.now - self.start;
            self.report
                .violations
                .push(format!("t={:.6}s: {what}", t.as_secs_f64()));
        }
    }

    fn hash_output(&mut self, host: usize, out: &Output) {
        let t = (self.now - self.start).as_nanos() as u64;
        let mut h = self.report.trace_hash;
        for b in t.to_le_bytes().into_iter().chain([host as u8]) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        let tag: &[u8] = match out {
            Output::Transmit(t) => &t.payload,
            Output::Action(Action::AddAddresses { .. }) => b"add",
            Output::Action(Action::RemoveAddresses { .. }) => b"remove",
            Output::Action(_) => b"action",
            Output::Event(Event::StateChanged { to, .. }) => to.as_str().as_bytes(),
            Output::Event(_) => b"event",
        };
        for b in tag {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.report.trace_hash = h;
    }

    fn hash(&mut self, s: &str) {
        let mut h = self.report.trace_hash;
        for b in s.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.report.trace_hash = h;
    }
}

fn host_addr(ipv6: bool, i: usize) -> IpAddr {
    let n = 10 + i as u16;
    if ipv6 {
        IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, n))
    } else {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, n as u8))
    }
}
