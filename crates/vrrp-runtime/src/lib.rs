//! The tokio runtime of vrrp-rs: it turns the sans-IO election engine
//! ([`vrrp_election`]) into something that moves a virtual IP between Linux hosts, and is the
//! API other Rust services embed.
//!
//! - Raw IP protocol 112 sockets ([`socket`]): one receive socket per interface and family,
//!   joined to 224.0.0.18 / ff02::12 with `IP_MULTICAST_ALL` off; TTL / hop limit 255 on send;
//!   the received TTL / hop limit goes to the engine.
//! - One event loop that feeds the engine packets, timer expiries, probe results
//!   ([`vrrp_health`]), link and address events and requests, and executes its outputs **in
//!   order**: VIPs (via [`vrrp_netlink`]) before the advert and the gratuitous ARP; VIPs removed
//!   before the priority-0 advert. One timer, at the engine's `poll_timeout()`; the clock is
//!   read in exactly one function.
//! - Notify scripts, one at a time per instance in transition order, never delaying an advert.
//! - At start, a VIP of ours left on an interface by a crash is removed (becoming master adds
//!   it back); at stop, everything we added is removed (VIPs, VMACs, sysctls).
//!
//! - Least privilege ([`privilege`], opt-in through [`start_with`]): once the sockets are open
//!   and before any probe or script runs, only CAP_NET_ADMIN and CAP_NET_RAW are kept (plus
//!   CAP_SETUID and CAP_SETGID when scripts switch user); `vrrpd run` does this.
//! - The control socket's request line ([`control`]), parsed without IO so it can be fuzzed.
//! - Files the daemon trusts ([`trusted`]): the config and the status socket are refused when
//!   a user other than root or the daemon's own could change them.
//!
//! Embedding: [`start`] returns a [`RuntimeHandle`] with [`status`](RuntimeHandle::status),
//! a stream of state changes ([`subscribe`](RuntimeHandle::subscribe)),
//! [`set_priority_offset`](RuntimeHandle::set_priority_offset) /
//! [`set_fault`](RuntimeHandle::set_fault) for the embedder's own health logic, and a graceful
//! [`shutdown`](RuntimeHandle::shutdown).
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
mod notify;
pub mod privilege;
pub mod socket;
mod status;
pub mod trusted;

use tokio::sync::{broadcast, mpsc, oneshot};
use vrrp_config::Config;
use vrrp_election::{Reason, State};
use vrrp_netlink::NetlinkOps;

pub use announce::{AnnouncePolicy, AnnounceSchedule};
pub use error::RuntimeError;
pub use notify::{NotifyState, Subject};
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

/// Sets up every instance of `config` (interfaces, source addresses, VMACs, sockets, probes),
/// starts the routers, and runs the event loop on a tokio task. Needs CAP_NET_ADMIN and
/// CAP_NET_RAW. Fails without leaving anything behind if an instance cannot be set up.
/// Keeps the process's capabilities; [`start_with`] can drop them.
pub async fn start<N: NetlinkOps + 'static>(
    config: Config,
    netlink: N,
) -> Result<RuntimeHandle, RuntimeError> {
    start_with(config, netlink, StartOptions::default()).await
}

/// How [`start_with`] starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StartOptions {
    /// Drop every capability the runtime no longer needs once its sockets are open, before
    /// any probe or script runs ([`privilege::PrivilegePlan`]). The whole process is
    /// affected, so only for a process that is all daemon and has no other thread yet (a
    /// current-thread tokio runtime started before any `spawn_blocking`): `vrrpd run`.
    /// Starting fails, before anything is set up, when a kept capability is missing.
    pub drop_privileges: bool,
}

impl StartOptions {
    /// Options that drop privileges (see [`StartOptions::drop_privileges`]).
    pub fn dropping_privileges() -> Self {
        StartOptions {
            drop_privileges: true,
        }
    }
}

/// [`start`] with options.
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
    let (driver, channels) =
        Driver::setup(config, netlink, events.clone(), req_rx, privileges.as_ref()).await?;
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
    /// [`StartOptions::drop_privileges`]. A reload must check the new configuration against
    /// it: `applied.covers(&PrivilegePlan::for_config(&new)?)` refuses a configuration that
    /// needs a capability given up at start (the first script that switches user).
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
