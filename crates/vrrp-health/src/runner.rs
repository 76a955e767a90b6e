//! [`ProbeRunner`]: runs probes on tokio and reports their changes as [`ProbeEvent`]s.

use std::collections::BTreeMap;
use std::time::Instant;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::error::HealthError;
use crate::probe::exec::ExecCommand;
use crate::probe::process::ProcessWatcher;
use crate::probe::{file, http, interface, tcp};
use crate::spec::{FileProbe, HttpProbe, InterfaceProbe, ProbeKind, ProbeSpec, TcpProbe};
use crate::tracker::{Contribution, HealthState, ProbeResult, ProbeStatus, ProbeTracker};

/// A probe's state or contribution changed (or, once per probe, its initial state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeEvent {
    /// The probe's name.
    pub probe: String,
    /// Whether the probe is healthy now.
    pub healthy: bool,
    /// Its state now (`Unknown` only in the initial event).
    pub state: HealthState,
    /// What it now does to the instances tracking it; feed to [`crate::HealthSet::apply`].
    pub contribution: Contribution,
    /// The result that caused the change, for logs and transition reasons; `None` in the
    /// initial event.
    pub result: Option<ProbeResult>,
    /// When the change was recorded (tokio's clock, as a std `Instant`).
    pub at: Instant,
}

/// The receiving end of a runner's events.
#[derive(Debug)]
pub struct ProbeEvents(mpsc::UnboundedReceiver<ProbeEvent>);

impl ProbeEvents {
    /// The next event; `None` once the runner is dropped and every event was received.
    pub async fn recv(&mut self) -> Option<ProbeEvent> {
        self.0.recv().await
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<ProbeEvent> {
        self.0.try_recv().ok()
    }
}

#[derive(Debug)]
struct RunningProbe {
    task: JoinHandle<()>,
    status: watch::Receiver<ProbeStatus>,
    inbox: mpsc::UnboundedSender<ProbeResult>,
}

/// Runs probes, each as a tokio task, and reports what changed.
///
/// Each probe sends one event when spawned (its initial state) and then one per change of its
/// state or contribution. Dropping the runner (or [`ProbeRunner::stop`]) stops the probes; an
/// `exec` probe that is running then has its process group killed.
///
/// ```no_run
/// # async fn demo() -> Result<(), vrrp_health::HealthError> {
/// use std::time::Duration;
/// use vrrp_health::{HealthSet, HttpProbe, ProbeKind, ProbeRunner, ProbeSpec, ProcessProbe};
///
/// let (mut runner, mut events) = ProbeRunner::new();
/// let mut http = ProbeSpec::new("nginx-http", ProbeKind::Http(HttpProbe::from_url("http://127.0.0.1/nginx_health")?));
/// http.interval = Duration::from_millis(100);
/// http.timeout = Duration::from_millis(80);
/// http.fall = 2;
/// http.weight = Some(-50);
/// runner.spawn(http)?;
/// runner.spawn(ProbeSpec::new("nginx", ProbeKind::Process(ProcessProbe::named("nginx"))))?;
///
/// let mut instance = HealthSet::new();
/// while let Some(event) = events.recv().await {
///     if !instance.tracks(&event.probe) {
///         instance.track(event.probe.clone(), event.contribution);
///     } else if let Some(summary) = instance.apply(&event) {
///         println!("priority offset {} fault {}", summary.offset, summary.fault);
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ProbeRunner {
    events: mpsc::UnboundedSender<ProbeEvent>,
    probes: BTreeMap<String, RunningProbe>,
}

impl ProbeRunner {
    /// A runner with no probes, and the stream of its events.
    pub fn new() -> (Self, ProbeEvents) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Self {
                events: tx,
                probes: BTreeMap::new(),
            },
            ProbeEvents(rx),
        )
    }

    /// Validates `spec` and starts it. Must be called within a tokio runtime with IO and time
    /// enabled. The first run starts at once.
    pub fn spawn(&mut self, spec: ProbeSpec) -> Result<(), HealthError> {
        spec.validate()?;
        if self.probes.contains_key(&spec.name) {
            return Err(HealthError::DuplicateProbe(spec.name));
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| HealthError::NoRuntime)?;
        let tracker = ProbeTracker::new(spec.name.clone(), spec.tracker_config())?;
        let executor = Executor::new(&spec)?;
        let (status_tx, status_rx) = watch::channel(tracker.status());
        let (inbox_tx, inbox_rx) = mpsc::unbounded_channel();
        let _ = self.events.send(ProbeEvent {
            probe: spec.name.clone(),
            healthy: tracker.is_healthy(),
            state: tracker.state(),
            contribution: tracker.contribution(),
            result: None,
            at: now(),
        });
        let task = runtime.spawn(drive(
            tracker,
            executor,
            inbox_rx,
            status_tx,
            self.events.clone(),
        ));
        self.probes.insert(
            spec.name,
            RunningProbe {
                task,
                status: status_rx,
                inbox: inbox_tx,
            },
        );
        Ok(())
    }

    /// Stops probe `name` (killing a running `exec` probe's processes). Returns whether it was
    /// running.
    pub fn stop(&mut self, name: &str) -> bool {
        match self.probes.remove(name) {
            Some(p) => {
                p.task.abort();
                true
            }
            None => false,
        }
    }

    /// Feeds a result observed elsewhere into probe `name`, as if one of its runs had produced
    /// it: for example a netlink link-down event for an `interface` probe, so it does not wait
    /// for its next read of sysfs.
    pub fn report(&self, name: &str, result: ProbeResult) -> Result<(), HealthError> {
        let probe = self
            .probes
            .get(name)
            .ok_or_else(|| HealthError::UnknownProbe(name.to_owned()))?;
        probe
            .inbox
            .send(result)
            .map_err(|_| HealthError::UnknownProbe(name.to_owned()))
    }

    /// The status of probe `name`.
    pub fn status(&self, name: &str) -> Option<ProbeStatus> {
        self.probes.get(name).map(|p| p.status.borrow().clone())
    }

    /// The status of every probe, in name order (what `vrrpd status` shows).
    pub fn statuses(&self) -> Vec<ProbeStatus> {
        self.probes
            .values()
            .map(|p| p.status.borrow().clone())
            .collect()
    }

    /// Names of the running probes, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.probes.keys().map(String::as_str)
    }
}

impl Drop for ProbeRunner {
    fn drop(&mut self) {
        for probe in self.probes.values() {
            probe.task.abort();
        }
    }
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// One probe's executor, by kind.
#[derive(Debug)]
enum Executor {
    Http(HttpProbe),
    Tcp(TcpProbe),
    Exec(ExecCommand),
    Process(ProcessWatcher),
    File(FileProbe),
    Interface(InterfaceProbe),
}

impl Executor {
    fn new(spec: &ProbeSpec) -> Result<Self, HealthError> {
        Ok(match &spec.kind {
            ProbeKind::Http(p) => Self::Http(p.clone()),
            ProbeKind::Tcp(p) => Self::Tcp(p.clone()),
            ProbeKind::Exec(p) => Self::Exec(ExecCommand::prepare(&spec.name, p)?),
            ProbeKind::Process(p) => Self::Process(ProcessWatcher::new(p)),
            ProbeKind::File(p) => Self::File(p.clone()),
            ProbeKind::Interface(p) => Self::Interface(p.clone()),
        })
    }

    /// One scheduled run; the caller bounds it with the timeout.
    async fn run(&mut self) -> ProbeResult {
        match self {
            Self::Http(p) => http::run(p).await,
            Self::Tcp(p) => tcp::run(p).await,
            Self::Exec(c) => c.run().await,
            Self::Process(w) => w.run().await,
            Self::File(p) => file::run(p).await,
            Self::Interface(p) => interface::run(p),
        }
    }

    /// A result the probe observes between runs (a watched process exited). Never completes
    /// for kinds that only poll.
    async fn next_event(&mut self) -> ProbeResult {
        match self {
            Self::Process(w) => w.next_exit().await,
            _ => std::future::pending().await,
        }
    }
}

enum Wake {
    Result(ProbeResult),
    Run,
}

/// The loop of one probe: run at each interval, record results pushed in between, publish
/// changes.
async fn drive(
    mut tracker: ProbeTracker,
    mut executor: Executor,
    mut inbox: mpsc::UnboundedReceiver<ProbeResult>,
    status: watch::Sender<ProbeStatus>,
    events: mpsc::UnboundedSender<ProbeEvent>,
) {
    let timeout = tracker.config().timeout;
    loop {
        let due = tracker.next_run_at().map(tokio::time::Instant::from_std);
        let wake = tokio::select! {
            biased;
            Some(result) = inbox.recv() => Wake::Result(result),
            result = executor.next_event() => Wake::Result(result),
            () = sleep_until(due) => Wake::Run,
        };
        let (change, result) = match wake {
            Wake::Result(result) => (tracker.record(now(), result.clone()), result),
            Wake::Run => {
                tracker.start_run(now());
                let result = tokio::time::timeout(timeout, executor.run())
                    .await
                    .unwrap_or(ProbeResult::Timeout);
                let change = tracker.finish_run(now(), result);
                let recorded = tracker.status().last_result.unwrap_or(ProbeResult::Timeout);
                (change, recorded)
            }
        };
        status.send_replace(tracker.status());
        if let Some(change) = change {
            let _ = events.send(ProbeEvent {
                probe: tracker.name().to_owned(),
                healthy: change.to == HealthState::Healthy,
                state: change.to,
                contribution: change.contribution,
                result: Some(result),
                at: change.at,
            });
        }
    }
}

async fn sleep_until(due: Option<tokio::time::Instant>) {
    if let Some(due) = due {
        tokio::time::sleep_until(due).await;
    }
}
