//! Health probes for vrrp-rs: the checks that decide whether this host deserves the virtual IP,
//! built in instead of the shell scripts keepalived users write.
//!
//! The classic keepalived setup forks `ps` and `curl` from a `check_nginx.sh` every two
//! seconds: a dead Nginx costs 3 to 6 seconds of outage, and `ps -ef | grep nginx` matches the
//! script's own name, so the check never fails. This crate runs the same checks in-process:
//!
//! | kind | checks | replaces |
//! |---|---|---|
//! | [`HttpProbe`] | `GET` answered with an accepted status within the timeout | `curl` in a script |
//! | [`TcpProbe`] | a TCP connect | `</dev/tcp/HOST/PORT`, `nc -z` |
//! | [`ExecProbe`] | a command exits 0 (as `nobody`, own process group, killed as a group on timeout) | `vrrp_script` |
//! | [`ProcessProbe`] | processes matched exactly by name, exits seen at once through pidfd | `ps \| grep`, `killall -0`, `pidof` |
//! | [`FileProbe`] | a number in a file times the weight, or presence/absence | keepalived's `track_file`, `test -f` |
//! | [`InterfaceProbe`] | link administratively up with carrier | `track_interface`, `ip link \| grep` |
//!
//! Two layers:
//!
//! - **Sans-IO** ([`ProbeTracker`], [`HealthSet`]): rise/fall counting, initial states and
//!   keepalived's weight rules, driven by results and a caller-supplied `now`. A weighted probe
//!   yields [`Contribution::Weight`] (a negative weight applies while failing, a positive one
//!   while passing, a file probe's number is multiplied by the weight); an unweighted probe
//!   yields [`Contribution::Fault`]. A [`HealthSet`] adds up the probes one instance tracks
//!   into a priority offset and a fault flag, and says when they change.
//! - **tokio executors** behind [`ProbeRunner`]: spawn probes from plain [`ProbeSpec`]s, get a
//!   stream of [`ProbeEvent`]s, read every probe's [`ProbeStatus`] for `vrrpd status`.
//!
//! The crate does not depend on the election engine: the runtime turns a [`HealthSummary`]
//! into the engine's priority-offset and fault commands.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use vrrp_health::{Contribution, HealthSet, HealthState, HealthSummary, ProbeResult, ProbeTracker, TrackerConfig};
//!
//! // An http probe at 100 ms, two failures to fall, weight -50; and a process probe without
//! // weight (its failure means FAULT). Both start healthy.
//! let http_cfg = TrackerConfig {
//!     interval: Duration::from_millis(100),
//!     timeout: Duration::from_millis(80),
//!     fall: 2,
//!     weight: Some(-50),
//!     initial: HealthState::Healthy,
//!     ..Default::default()
//! };
//! let proc_cfg = TrackerConfig { initial: HealthState::Healthy, ..Default::default() };
//! let mut http = ProbeTracker::new("nginx-http", http_cfg.clone())?;
//! let mut proc = ProbeTracker::new("nginx-proc", proc_cfg.clone())?;
//!
//! let mut instance = HealthSet::new();
//! instance.track("nginx-http", http_cfg.initial_contribution());
//! instance.track("nginx-proc", proc_cfg.initial_contribution());
//!
//! let t0 = Instant::now(); // time is an input: any instant will do
//! assert!(http.record(t0, ProbeResult::failure("HTTP status 502")).is_none()); // 1 of 2
//! let change = http.record(t0 + Duration::from_millis(100), ProbeResult::Timeout).unwrap();
//! assert_eq!(instance.update("nginx-http", change.contribution),
//!            Some(HealthSummary { offset: -50, fault: false }));
//!
//! let change = proc.record(t0 + Duration::from_millis(120), ProbeResult::failure("pid 812 exited")).unwrap();
//! assert_eq!(change.contribution, Contribution::Fault(true));
//! assert_eq!(instance.update("nginx-proc", change.contribution),
//!            Some(HealthSummary { offset: -50, fault: true }));
//! # Ok::<(), vrrp_health::HealthError>(())
//! ```
//!
//! With tokio, [`ProbeRunner`] does the running: see its example. The probe kinds, their
//! keys and defaults are documented in `docs/health-probes.md`.

mod error;
mod probe;
mod runner;
mod set;
mod spec;
mod tracker;

pub use error::HealthError;
pub use probe::exec::Script;
pub use runner::{ProbeEvent, ProbeEvents, ProbeRunner};
pub use set::{HealthSet, HealthSummary};
pub use spec::{
    ExecProbe, FileCheck, FileProbe, HttpProbe, InterfaceProbe, ProbeKind, ProbeSpec, ProcessMatch,
    ProcessProbe, StatusCodes, TcpProbe,
};
pub use tracker::{
    Contribution, HealthState, MAX_OFFSET, ProbeResult, ProbeStatus, ProbeTracker, Scoring,
    TrackerChange, TrackerConfig,
};
