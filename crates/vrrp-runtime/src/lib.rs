//! The tokio runtime of vrrp-rs: it turns the sans-IO election engine
//! ([`vrrp_election`]) into something that moves a virtual IP between Linux hosts, and is the
//! API other Rust services embed.
//!
//! - Raw IP protocol 112 sockets ([`socket`]): per interface and family, one receive socket
//!   bound to and joined to 224.0.0.18 / ff02::12 with `IP_MULTICAST_ALL` off, and for unicast
//!   instances one connected to each peer plus one for unicast adverts from anyone else, so
//!   that a flood of forged packets only fills its own kernel queue; TTL / hop limit 255 on
//!   send; the received TTL / hop limit goes to the engine.
//! - Interfaces by name: each configured interface name is resolved to the kernel's index at
//!   start and again when an interface of that name appears (deleted and created again,
//!   renamed back); its instances are in FAULT while there is none, and get new sockets (and
//!   VMACs) when it returns.
//! - Every discarded advert is counted (see [`Status`]); the log lines about them are
//!   rate-limited (the first 5 per instance and reason in 10 s, then one summary).
//! - One event loop that feeds the engine packets, timer expiries, probe results
//!   ([`vrrp_health`]), link and address events and requests, and executes its outputs **in
//!   order**: VIPs (via [`vrrp_netlink`]) before the gratuitous ARP; VIPs removed before the
//!   priority-0 advert. (A takeover's advert leaves without waiting for the kernel to install
//!   the VIPs, which takes milliseconds on a busy host; RFC 9568 §6.4.2 sends it first too.)
//!   One timer, at the earliest of the engine's `poll_timeout()` and the loop's own deadlines
//!   (announcement bursts, log summaries, the heartbeat); the clocks are read in one module
//!   only. A packet's time is when the kernel received it (its receive timestamp), so a
//!   backup's Master_Down_Timer runs from the advert's arrival, not from the loop's wake-up.
//! - Notify scripts, one at a time per instance in transition order, never delaying an advert.
//! - At start, a VIP of ours left on an interface by a crash is removed (becoming master adds
//!   it back); at stop, everything we added is removed (VIPs, VMACs, sysctls).
//!
//! Embedding: [`start`] returns a [`RuntimeHandle`] with [`status`](RuntimeHandle::status),
//! a stream of state changes ([`subscribe`](RuntimeHandle::subscribe)),
//! [`set_priority_offset`](RuntimeHandle::set_priority_offset) /
//! [`set_fault`](RuntimeHandle::set_fault) for the embedder's own health logic,
//! [`reload`](RuntimeHandle::reload) to move to a new configuration without touching the
//! instances that did not change, and a graceful [`shutdown`](RuntimeHandle::shutdown).
//! [`start_with`] can also have the event loop call a heartbeat (a watchdog's ping).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = vrrp_config::LoadedConfig::parse("inline", r#"
//!     [[instance]]
//!     name = "VI_1"
//!     interface = "eth0"
//!     vrid = 51
//!     priority = 100
//!     advert_interval = "100ms"
//!     virtual_ips = ["192.0.2.100/24"]
//! "#)?.config;
//! let handle = vrrp_runtime::start(config, vrrp_netlink::RtNetlink::new()?).await?;
//! let mut changes = handle.subscribe();
//! tokio::spawn(async move {
//!     while let Ok(change) = changes.recv().await {
//!         println!("{} {} -> {} ({})", change.instance, change.from, change.to, change.reason.as_str());
//!     }
//! });
//! // The embedder's own health logic can lower the priority or force FAULT:
//! handle.set_priority_offset("VI_1", -20).await?;
//! // A new configuration: unchanged instances are not touched, the report says what changed.
//! let report = handle.reload(vrrp_config::LoadedConfig::parse("inline", r#"
//!     [[instance]]
//!     name = "VI_1"
//!     interface = "eth0"
//!     vrid = 51
//!     priority = 150
//!     advert_interval = "100ms"
//!     virtual_ips = ["192.0.2.100/24"]
//! "#)?.config).await?;
//! println!("{report}"); // instances: 0 unchanged, 1 re-applied (VI_1), 0 added, 0 removed; ...
//! println!("{}", serde_json::to_string(&handle.status().await?)?);
//! handle.shutdown().await; // VIPs removed, priority-0 advert sent
//! # Ok(()) }
//! ```

mod announce;
mod clock;
pub mod control;
mod convert;
mod driver;
mod error;
mod links;
mod log_limit;
mod notify;
pub mod privilege;
mod reload;
pub mod socket;
mod status;
mod timer;
pub mod trusted;

use tokio::sync::{broadcast, mpsc, oneshot};
use vrrp_config::Config;
use vrrp_election::{Reason, State};
use vrrp_netlink::NetlinkOps;

pub use announce::{AnnouncePolicy, AnnounceSchedule};
pub use driver::Heartbeat;
pub use error::RuntimeError;
pub use notify::{NotifyState, Subject};
pub use reload::{Failure, ReloadReport};
pub use status::{InstanceStatus, ProbeView, Status, Transition};

use driver::{Driver, Request};

/// A state change of one instance, as the embedder sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateEvent {
    /// The instance.
    pub instance: String,
    /// The state before.
    pub from: State,
    /// The state after.
    pub to: State,
    /// Why.
    pub reason: Reason,
    /// When, in milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
    /// What kind of event this is.
    pub kind: StateEventKind,
}

/// Kinds of [`StateEvent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateEventKind {
    /// A state transition.
    Transition,
}

/// A handle on a running runtime. Cheap to clone; the runtime stops (gracefully) when
/// [`shutdown`](Self::shutdown) is called or every handle is dropped.
#[derive(Debug, Clone)]
pub struct RuntimeHandle {
    requests: mpsc::Sender<Request>,
    events: broadcast::Sender<StateEvent>,
    done: tokio::sync::watch::Receiver<bool>,
    privileges: Option<std::sync::Arc<privilege::PrivilegePlan>>,
}

/// Builds a runtime from configuration values, for embedders that do not read a TOML file.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use vrrp_config::Instance;
///
/// let handle = vrrp_runtime::Builder::new()
///     .instance(Instance {
///         priority: 150,
///         advert_interval: Duration::from_millis(100),
///         ..Instance::new("VI_1", "eth0", 51, vec!["192.0.2.100/24".parse()?])
///     })
///     .start(vrrp_netlink::RtNetlink::new()?)
///     .await?;
/// # handle.shutdown().await; Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Builder {
    config: Config,
}

impl Builder {
    /// An empty configuration with the TOML defaults for `[global]`.
    pub fn new() -> Self {
        Builder::default()
    }

    /// Starts from a whole configuration (e.g. parsed from TOML).
    pub fn from_config(config: Config) -> Self {
        Builder { config }
    }

    /// Adds an instance.
    pub fn instance(mut self, instance: vrrp_config::Instance) -> Self {
        self.config.instances.push(instance);
        self
    }

    /// Adds (or replaces) a probe that instances can `track` by `name`.
    pub fn probe(mut self, name: impl Into<String>, probe: vrrp_config::Probe) -> Self {
        self.config.probes.insert(name.into(), probe);
        self
    }

    /// Adds a sync group.
    pub fn sync_group(mut self, group: vrrp_config::SyncGroup) -> Self {
        self.config.sync_groups.push(group);
        self
    }

    /// The user exec probes and notify scripts run as (default `nobody`).
    pub fn script_user(mut self, user: impl Into<String>) -> Self {
        self.config.global.script_user = user.into();
        self
    }

    /// The configuration built so far.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Starts the runtime: see [`start`].
    pub async fn start<N: NetlinkOps + 'static>(
        self,
        netlink: N,
    ) -> Result<RuntimeHandle, RuntimeError> {
        start(self.config, netlink).await
    }
}

/// Options of [`start_with`].
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct StartOptions {
    /// A callback the event loop calls periodically (see [`Heartbeat`]).
    pub heartbeat: Option<Heartbeat>,
    /// Drop every capability the runtime does not need once it runs, before any probe or
    /// script starts ([`privilege::PrivilegePlan`]): CAP_NET_ADMIN and CAP_NET_RAW are kept,
    /// plus CAP_SETUID, CAP_SETGID and CAP_KILL when scripts switch user. The whole process is
    /// affected, so only for a process that is all daemon and has no other thread yet (a
    /// current-thread tokio runtime started before any `spawn_blocking`): `vrrpd run`.
    /// Starting fails, before anything is set up, when a kept capability is missing.
    pub drop_privileges: bool,
}

impl StartOptions {
    /// No options: what [`start`] uses.
    pub fn new() -> Self {
        Self::default()
    }

    /// Options that drop privileges (see [`StartOptions::drop_privileges`]).
    pub fn dropping_privileges() -> Self {
        Self::new().drop_privileges(true)
    }

    /// Sets [`StartOptions::drop_privileges`].
    pub fn drop_privileges(mut self, drop: bool) -> Self {
        self.drop_privileges = drop;
        self
    }

    /// Has the event loop itself call `beat` every `every` (at most that often; later if the
    /// loop is busy, never if it is stuck). For a watchdog such as systemd's, whose ping must
    /// prove that the loop still turns.
    pub fn heartbeat(
        mut self,
        every: std::time::Duration,
        beat: impl FnMut() + Send + 'static,
    ) -> Self {
        self.heartbeat = Some(Heartbeat {
            every,
            beat: Box::new(beat),
        });
        self
    }
}

/// Sets up every instance of `config` (interfaces, source addresses, VMACs, sockets, probes),
/// starts the routers, and runs the event loop on a tokio task. Needs CAP_NET_ADMIN and
/// CAP_NET_RAW. Fails without leaving anything behind if an instance cannot be set up.
/// When it returns, every router has been started.
pub async fn start<N: NetlinkOps + 'static>(
    config: Config,
    netlink: N,
) -> Result<RuntimeHandle, RuntimeError> {
    start_with(config, netlink, StartOptions::new()).await
}

/// [`start`] with [`StartOptions`].
pub async fn start_with<N: NetlinkOps + 'static>(
    config: Config,
    netlink: N,
    options: StartOptions,
) -> Result<RuntimeHandle, RuntimeError> {
    let privileges = if options.drop_privileges {
        let plan = privilege::PrivilegePlan::for_config(&config)?;
        plan.check_available()?;
        Some(plan)
    } else {
        None
    };
    let (events, _) = broadcast::channel(256);
    let (req_tx, req_rx) = mpsc::channel(64);
    let (driver, channels) = Driver::setup(
        config,
        netlink,
        events.clone(),
        req_rx,
        options.heartbeat,
        privileges.as_ref(),
    )
    .await?;
    let (done_tx, done_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        driver.run(channels).await;
        let _ = done_tx.send(true);
    });
    Ok(RuntimeHandle {
        requests: req_tx,
        events,
        done: done_rx,
        privileges: privileges.map(std::sync::Arc::new),
    })
}

impl RuntimeHandle {
    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Request,
    ) -> Result<T, RuntimeError> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(make(tx))
            .await
            .map_err(|_| RuntimeError::Stopped)?;
        rx.await.map_err(|_| RuntimeError::Stopped)
    }

    /// The privileges the runtime dropped to, when it was started with
    /// [`StartOptions::drop_privileges`]; [`reload`](Self::reload) refuses a configuration
    /// that would need one given up at start (the first script that switches user).
    pub fn privileges(&self) -> Option<&privilege::PrivilegePlan> {
        self.privileges.as_deref()
    }

    /// A snapshot of every instance (what `vrrpd status` prints).
    pub async fn status(&self) -> Result<Status, RuntimeError> {
        self.ask(Request::Status).await
    }

    /// State changes from now on. A slow reader that falls more than 256 events behind
    /// gets `RecvError::Lagged` and continues from the newest.
    pub fn subscribe(&self) -> broadcast::Receiver<StateEvent> {
        self.events.subscribe()
    }

    /// Sets the embedder's priority offset for `instance`; it adds to the probes' weights.
    /// The effective priority stays within 1..=254 (an owner's 255 never changes).
    pub async fn set_priority_offset(
        &self,
        instance: &str,
        offset: i16,
    ) -> Result<(), RuntimeError> {
        self.ask(|reply| Request::SetPriorityOffset {
            instance: instance.to_owned(),
            offset,
            reply,
        })
        .await?
    }

    /// Puts `instance` in FAULT (`true`) or lets it out (`false`), in addition to its probes.
    pub async fn set_fault(&self, instance: &str, fault: bool) -> Result<(), RuntimeError> {
        self.ask(|reply| Request::SetFault {
            instance: instance.to_owned(),
            fault,
            reply,
        })
        .await?
    }

    /// Moves to a new configuration without a restart (what `vrrpd reload` and SIGHUP do).
    ///
    /// First everything that can be checked is checked, without changing anything: each new
    /// or changed instance's interface and source address, the engine's and the probes'
    /// parameters, no two instances on one interface with the same family and VRID. If a
    /// check fails, the error is returned and nothing has changed. An interface name already
    /// in use means the interface its instances run on; a name new to the runtime must exist
    /// now, and is then followed like the others (deleted and created again, renamed away and
    /// back), also once its last instance is gone, should a later reload use it again.
    ///
    /// Then: instances whose configuration did not change (the instance itself, the probes
    /// it tracks, its sync group, the globals it uses) are left alone: same state, timers and
    /// sockets, no gap in adverts. Changed ones hand over gracefully (a master removes its
    /// VIPs and sends a priority-0 advert; notify STOP) and start again with their new
    /// configuration; removed ones hand over and stop; added ones start. Changed probes are
    /// restarted, new ones started, removed ones stopped. The report says which was which;
    /// an instance that cannot start at this point (its interface vanished since the check)
    /// is listed in [`ReloadReport::failed`] while the others go on.
    ///
    /// A re-applied instance keeps its embedder offset and fault, its transition counts and
    /// last transition; its engine counters start again from zero.
    pub async fn reload(&self, config: Config) -> Result<ReloadReport, RuntimeError> {
        // Capabilities dropped at start cannot come back: refuse, before any change, a
        // configuration that needs more than was kept.
        if let Some(applied) = &self.privileges {
            applied.covers(&privilege::PrivilegePlan::for_config(&config)?)?;
        }
        self.ask(|reply| Request::Reload {
            config: Box::new(config),
            reply,
        })
        .await?
    }

    /// Stops gracefully: masters remove their VIPs and send a priority-0 advert so a backup
    /// takes over within Skew_Time; VMACs are removed. Returns when done (also if it had
    /// already stopped).
    pub async fn shutdown(&self) {
        let _ = self.ask(Request::Shutdown).await;
        self.stopped().await;
    }

    /// Waits until the runtime has stopped.
    pub async fn stopped(&self) {
        let mut done = self.done.clone();
        let _ = done.wait_for(|d| *d).await;
    }
}
