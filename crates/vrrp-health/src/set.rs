//! [`HealthSet`]: what all the probes one instance tracks add up to.

use std::collections::BTreeMap;

use crate::runner::ProbeEvent;
use crate::tracker::Contribution;

/// The sum of a set of probes: a priority offset and a fault flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HealthSummary {
    /// Sum of the weights of the tracked probes (saturating). The engine adds it to the base
    /// priority and clamps to 1..=254 (an address owner's 255 is never changed).
    pub offset: i32,
    /// Whether at least one tracked probe holds the instance in FAULT.
    pub fault: bool,
}

/// The probes one consumer (a VRRP instance, a sync group) tracks, and what they add up to.
///
/// Feed it every [`ProbeEvent`] (it ignores probes it does not track); it answers with the new
/// [`HealthSummary`] when the offset or the fault flag changed, which is exactly when the
/// runtime must tell the election engine.
///
/// ```
/// use vrrp_health::{Contribution, HealthSet, HealthSummary};
///
/// let mut set = HealthSet::new();
/// set.track("nginx-http", Contribution::Weight(0));
/// set.track("nginx-proc", Contribution::Fault(false));
/// assert_eq!(set.update("nginx-http", Contribution::Weight(-50)),
///            Some(HealthSummary { offset: -50, fault: false }));
/// assert_eq!(set.update("nginx-http", Contribution::Weight(-50)), None); // no change
/// assert_eq!(set.update("other", Contribution::Fault(true)), None);      // not tracked
/// assert_eq!(set.update("nginx-proc", Contribution::Fault(true)),
///            Some(HealthSummary { offset: -50, fault: true }));
/// assert_eq!(set.faulted_by().collect::<Vec<_>>(), ["nginx-proc"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthSet {
    probes: BTreeMap<String, Contribution>,
}

impl HealthSet {
    /// An empty set: offset 0, no fault.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts tracking `probe` at `initial` (usually
    /// [`crate::TrackerConfig::initial_contribution`] or the probe's first event). Tracking a
    /// probe again replaces its contribution. Returns the new summary if it changed.
    pub fn track(
        &mut self,
        probe: impl Into<String>,
        initial: Contribution,
    ) -> Option<HealthSummary> {
        let before = self.summary();
        self.probes.insert(probe.into(), initial);
        self.changed(before)
    }

    /// Stops tracking `probe`. Returns the new summary if it changed.
    pub fn untrack(&mut self, probe: &str) -> Option<HealthSummary> {
        let before = self.summary();
        self.probes.remove(probe);
        self.changed(before)
    }

    /// Whether `probe` is tracked.
    pub fn tracks(&self, probe: &str) -> bool {
        self.probes.contains_key(probe)
    }

    /// Records a tracked probe's new contribution. Returns the new summary if the offset or
    /// the fault flag changed; `None` otherwise, and for probes this set does not track.
    pub fn update(&mut self, probe: &str, contribution: Contribution) -> Option<HealthSummary> {
        let before = self.summary();
        let slot = self.probes.get_mut(probe)?;
        *slot = contribution;
        self.changed(before)
    }

    /// [`HealthSet::update`] from a runner event.
    pub fn apply(&mut self, event: &ProbeEvent) -> Option<HealthSummary> {
        self.update(&event.probe, event.contribution)
    }

    /// The current offset and fault flag.
    pub fn summary(&self) -> HealthSummary {
        HealthSummary {
            offset: self.offset(),
            fault: self.fault(),
        }
    }

    /// Sum of the tracked probes' weights.
    pub fn offset(&self) -> i32 {
        self.probes
            .values()
            .fold(0i32, |sum, c| sum.saturating_add(c.offset()))
    }

    /// Whether any tracked probe holds the consumer in FAULT.
    pub fn fault(&self) -> bool {
        self.probes.values().any(|c| c.is_fault())
    }

    /// Names of the probes holding the consumer in FAULT, in name order (for the transition
    /// reason: "FAULT: probe nginx-proc failing").
    pub fn faulted_by(&self) -> impl Iterator<Item = &str> {
        self.probes
            .iter()
            .filter(|(_, c)| c.is_fault())
            .map(|(name, _)| name.as_str())
    }

    /// Every tracked probe and its contribution, in name order.
    pub fn contributions(&self) -> impl Iterator<Item = (&str, Contribution)> {
        self.probes.iter().map(|(name, c)| (name.as_str(), *c))
    }

    fn changed(&self, before: HealthSummary) -> Option<HealthSummary> {
        let now = self.summary();
        (now != before).then_some(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HealthState, ProbeResult, ProbeTracker, TrackerConfig};
    use std::time::{Duration, Instant};

    #[test]
    fn empty_set_is_neutral() {
        let set = HealthSet::new();
        assert_eq!(
            set.summary(),
            HealthSummary {
                offset: 0,
                fault: false
            }
        );
    }

    #[test]
    fn offsets_add_and_faults_or() {
        let mut set = HealthSet::new();
        assert_eq!(
            set.track("a", Contribution::Weight(-10)).unwrap().offset,
            -10
        );
        assert_eq!(set.track("b", Contribution::Weight(25)).unwrap().offset, 15);
        assert!(set.track("c", Contribution::Fault(false)).is_none());
        assert!(set.track("d", Contribution::Fault(false)).is_none());
        assert!(set.update("c", Contribution::Fault(true)).unwrap().fault);
        // Still faulted by c when d also faults: no change to report.
        assert!(set.update("d", Contribution::Fault(true)).is_none());
        assert!(set.update("c", Contribution::Fault(false)).is_none());
        assert_eq!(set.faulted_by().collect::<Vec<_>>(), ["d"]);
        let s = set.update("d", Contribution::Fault(false)).unwrap();
        assert_eq!(
            s,
            HealthSummary {
                offset: 15,
                fault: false
            }
        );
        // Untracking a weighted probe changes the offset.
        assert_eq!(set.untrack("b").unwrap().offset, -10);
        assert!(set.untrack("b").is_none());
        assert!(!set.tracks("b"));
    }

    #[test]
    fn offsets_saturate() {
        let mut set = HealthSet::new();
        for i in 0..10 {
            set.track(format!("p{i}"), Contribution::Weight(i32::MAX / 4));
        }
        assert_eq!(set.offset(), i32::MAX);
    }

    #[test]
    fn trackers_feed_a_set_through_their_changes() {
        // The runtime's wiring, with a fake clock: trackers' changes go into the set; the
        // set reports exactly when the engine must hear about it.
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let http_cfg = TrackerConfig {
            weight: Some(-50),
            fall: 2,
            initial: HealthState::Healthy,
            ..Default::default()
        };
        let proc_cfg = TrackerConfig {
            initial: HealthState::Healthy,
            ..Default::default()
        };
        let mut http = ProbeTracker::new("http", http_cfg.clone()).unwrap();
        let mut proc = ProbeTracker::new("proc", proc_cfg.clone()).unwrap();
        let mut set = HealthSet::new();
        set.track("http", http_cfg.initial_contribution());
        set.track("proc", proc_cfg.initial_contribution());
        assert_eq!(set.summary(), HealthSummary::default());

        assert!(http.record(at(0), ProbeResult::Timeout).is_none());
        let change = http.record(at(100), ProbeResult::Timeout).unwrap();
        assert_eq!(
            set.update("http", change.contribution),
            Some(HealthSummary {
                offset: -50,
                fault: false
            })
        );
        let change = proc
            .record(at(120), ProbeResult::failure("nginx exited"))
            .unwrap();
        assert_eq!(
            set.update("proc", change.contribution),
            Some(HealthSummary {
                offset: -50,
                fault: true
            })
        );
    }
}
