//! A small reference model of who must be master, independent of the engine, and a decoder
//! that turns arbitrary bytes into a scenario (shared by the fuzz target `engine_sequence`
//! and the proptest that runs the same check in `cargo test`).
//!
//! The model follows only the scripted disturbances: which hosts run, their FAULT flags and
//! priority offsets. On a loss-free segment without partitions, once quiet, exactly one
//! healthy router must be master (none if none is healthy), and when every healthy router
//! preempts, the master's effective priority is the highest (RFC 9568 §6.4.2-6.4.3: a higher
//! priority backup preempts; equal priorities keep the current master).

use std::time::Duration;

use vrrp_election::{Interval, Version};

use crate::{Disturbance, LinkParams, RouterSpec, Sim, SimConfig};

/// What the model knows about one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelHost {
    /// Base priority.
    pub base: u8,
    /// Preempt_Mode.
    pub preempt: bool,
    /// Running (not crashed, not shut down).
    pub alive: bool,
    /// An unweighted probe is failing.
    pub fault: bool,
    /// The tracking offset.
    pub offset: i16,
}

impl ModelHost {
    /// Effective priority: 255 stays; others base + offset clamped to 1..=254.
    pub fn priority(&self) -> u8 {
        if self.base == 255 {
            255
        } else {
            (i32::from(self.base) + i32::from(self.offset)).clamp(1, 254) as u8
        }
    }

    /// Running and not in FAULT.
    pub fn eligible(&self) -> bool {
        self.alive && !self.fault
    }
}

/// The reference model of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    /// One entry per host.
    pub hosts: Vec<ModelHost>,
}

impl Model {
    /// Every host running, healthy, offset 0 (the simulator starts them all at time 0).
    pub fn new(routers: &[RouterSpec]) -> Self {
        Model {
            hosts: routers
                .iter()
                .map(|r| ModelHost {
                    base: r.priority,
                    preempt: r.preempt,
                    alive: true,
                    fault: false,
                    offset: 0,
                })
                .collect(),
        }
    }

    /// Follows one disturbance (as the simulator applies it).
    pub fn apply(&mut self, d: &Disturbance) {
        match *d {
            Disturbance::Crash(h) | Disturbance::Shutdown(h) => {
                if let Some(host) = self.hosts.get_mut(h) {
                    host.alive = false;
                }
            }
            Disturbance::Restart(h) => {
                if let Some(host) = self.hosts.get_mut(h)
                    && !host.alive
                {
                    // A fresh engine: probes start healthy.
                    host.alive = true;
                    host.fault = false;
                    host.offset = 0;
                }
            }
            Disturbance::PriorityOffset(h, o) => {
                if let Some(host) = self.hosts.get_mut(h).filter(|h| h.alive) {
                    host.offset = o;
                }
            }
            Disturbance::Fault(h, f) => {
                if let Some(host) = self.hosts.get_mut(h).filter(|h| h.alive) {
                    host.fault = f;
                }
            }
            Disturbance::Partition(_)
            | Disturbance::Heal
            | Disturbance::BlockLink(..)
            | Disturbance::UnblockLink(..) => {}
        }
    }

    /// Checks the masters of a quiet, connected, loss-free segment.
    pub fn check(&self, masters: &[usize]) -> Result<(), String> {
        let eligible: Vec<usize> = (0..self.hosts.len())
            .filter(|i| self.hosts[*i].eligible())
            .collect();
        if eligible.is_empty() {
            return if masters.is_empty() {
                Ok(())
            } else {
                Err(format!("no router is healthy but {masters:?} are master"))
            };
        }
        let [m] = masters else {
            return Err(format!(
                "masters {masters:?}, expected exactly one of {eligible:?}"
            ));
        };
        if !eligible.contains(m) {
            return Err(format!("master {m} is not running or in FAULT"));
        }
        let best = eligible
            .iter()
            .map(|i| self.hosts[*i].priority())
            .max()
            .unwrap_or(0);
        if eligible.iter().all(|i| self.hosts[*i].preempt) && self.hosts[*m].priority() != best {
            return Err(format!(
                "master {m} has priority {} but {best} is healthy and preempts",
                self.hosts[*m].priority()
            ));
        }
        Ok(())
    }
}

/// A scenario decoded from bytes: a segment and a timed list of disturbances.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The segment (loss-free, fixed delay, so that the model applies).
    pub config: SimConfig,
    /// Disturbances with their times.
    pub events: Vec<(Duration, Disturbance)>,
}

impl Scenario {
    /// Decodes any bytes (never fails): 2-4 routers, v2/v3, IPv4/IPv6, priorities, preempt,
    /// a 10 ms / 100 ms / 1 s interval, then up to 64 disturbances spaced by whole tenths of
    /// an interval. Partitions always heal at the end.
    pub fn from_bytes(data: &[u8]) -> Scenario {
        let mut it = data.iter().copied();
        let n = 2 + usize::from(take(&mut it) % 3);
        let flags = take(&mut it);
        let version = if flags & 1 == 1 {
            Version::V2
        } else {
            Version::V3
        };
        let ipv6 = version == Version::V3 && flags & 2 == 2;
        let interval = match (version, (flags >> 2) % 3) {
            (Version::V2, _) | (_, 2) => Interval::from_secs(1),
            (_, 1) => Interval::from_centis(10),
            _ => Interval::from_centis(1),
        };
        let routers = (0..n)
            .map(|_| {
                let b = take(&mut it);
                let p = take(&mut it);
                RouterSpec {
                    // 255 (an owner) only from 255 itself; 0 becomes 1.
                    priority: p.max(1),
                    preempt: b & 1 == 0,
                }
            })
            .collect::<Vec<_>>();
        // At most one owner: two owners of one VRID are a misconfiguration, not a scenario.
        let mut routers = routers;
        let mut seen_owner = false;
        for r in &mut routers {
            if r.priority == 255 {
                if seen_owner {
                    r.priority = 254;
                }
                seen_owner = true;
            }
        }
        let step = interval.as_duration() / 10;
        let mut t = Duration::ZERO;
        let mut events = Vec::new();
        let mut partitioned = false;
        while events.len() < 64 {
            let (Some(dt), Some(kind), Some(arg)) =
                (next_opt(&mut it), next_opt(&mut it), next_opt(&mut it))
            else {
                break;
            };
            t += step * u32::from(dt % 64);
            let host = usize::from(arg) % n;
            let d = match kind % 8 {
                0 => Disturbance::Crash(host),
                1 => Disturbance::Restart(host),
                2 => Disturbance::Shutdown(host),
                3 => {
                    partitioned = true;
                    Disturbance::Partition(
                        (0..n).map(|i| (usize::from(arg) >> i) & 1 == 1).collect(),
                    )
                }
                4 => {
                    partitioned = false;
                    Disturbance::Heal
                }
                5 => Disturbance::PriorityOffset(host, i16::from(arg as i8)),
                6 => Disturbance::Fault(host, true),
                _ => Disturbance::Fault(host, false),
            };
            events.push((t, d));
        }
        if partitioned {
            events.push((t, Disturbance::Heal));
        }
        Scenario {
            config: SimConfig {
                routers,
                version,
                ipv6,
                advert_interval: interval,
                link: LinkParams {
                    loss: 0.0,
                    delay: Duration::from_micros(100),
                    jitter: Duration::ZERO,
                },
                seed: u64::from(flags),
            },
            events,
        }
    }

    /// Runs the scenario in the simulator, then quiet for 40 intervals, and checks both the
    /// simulator's invariants and the reference model.
    pub fn check(&self) -> Result<(), String> {
        let mut sim = Sim::new(self.config.clone());
        let mut model = Model::new(&self.config.routers);
        let mut end = Duration::ZERO;
        for (t, d) in &self.events {
            sim.schedule(*t, d.clone());
            model.apply(d);
            end = end.max(*t);
        }
        let report = sim.run_for(end + self.config.advert_interval.as_duration() * 40);
        if report.invariant_violations > 0 {
            return Err(format!("invariants: {:?}", report.violations));
        }
        model
            .check(&sim.masters())
            .map_err(|e| format!("model: {e} (states {:?})", sim.states()))
    }
}

fn next_opt(it: &mut impl Iterator<Item = u8>) -> Option<u8> {
    it.next()
}

fn take(it: &mut impl Iterator<Item = u8>) -> u8 {
    it.next().unwrap_or(0)
}
