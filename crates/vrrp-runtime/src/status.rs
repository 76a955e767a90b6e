//! What `vrrpd status` shows: a snapshot of every instance, serialisable as JSON.

use std::collections::BTreeMap;

use serde::Serialize;

/// A snapshot of the whole runtime. JSON: `{"instances": [...]}` (plus `router_id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// `[global] router_id`, if set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub router_id: Option<String>,
    /// Every instance, in configuration order.
    pub instances: Vec<InstanceStatus>,
    /// Daemon-wide counters: packets no instance could take (an unknown VRID, or too
    /// malformed to name one).
    pub counters: BTreeMap<String, u64>,
}

/// One instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceStatus {
    /// Instance name.
    pub name: String,
    /// Interface name.
    pub interface: String,
    /// Virtual router identifier.
    pub vrid: u8,
    /// `ipv4` or `ipv6`.
    pub family: &'static str,
    /// VRRP version (2 or 3).
    pub version: u8,
    /// `INIT`, `BACKUP`, `MASTER` or `FAULT`.
    pub state: &'static str,
    /// The configured priority.
    pub priority: u8,
    /// The priority in force (configured + tracking weights, clamped to 1..=254).
    pub effective_priority: u8,
    /// The current master's address, if known (ours when we are master).
    pub master: Option<String>,
    /// The current master's advertised priority, if known.
    pub master_priority: Option<u8>,
    /// Our advertisement interval, in milliseconds.
    pub advert_interval_ms: u32,
    /// The virtual addresses with prefix lengths.
    pub virtual_ips: Vec<String>,
    /// The last state change.
    pub last_transition: Option<Transition>,
    /// The probes this instance tracks.
    pub probes: Vec<ProbeView>,
    /// Counters: RFC 6527 statistics and one per discard reason, snake_case.
    pub counters: BTreeMap<String, u64>,
}

/// A state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transition {
    /// State before.
    pub from: &'static str,
    /// State after.
    pub to: &'static str,
    /// Why (`master_down_timer`, `higher_priority`, `priority_zero_received`, `preempt`,
    /// `fault`, `shutdown`, ...).
    pub reason: &'static str,
    /// When, RFC 3339 UTC.
    pub at: String,
    /// When, milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
}

/// One tracked probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeView {
    /// Probe name.
    pub name: String,
    /// Probe kind (`http`, `process`, ...).
    pub kind: &'static str,
    /// Whether it is healthy now.
    pub healthy: bool,
    /// `unknown`, `healthy` or `unhealthy`.
    pub state: &'static str,
    /// The last result, as text (`success`, `timeout`, `failure: ...`).
    pub last_result: Option<String>,
    /// Consecutive failures up to the last result.
    pub consecutive_failures: u32,
    /// Its weight; `null` means a failure puts the instance in FAULT.
    pub weight: Option<i32>,
}
