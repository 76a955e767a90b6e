//! The sans-IO core: one [`ProbeTracker`] per probe turns a stream of [`ProbeResult`]s into a
//! health state (rise/fall) and a [`Contribution`] to the instances that track the probe.
//!
//! Nothing here reads a clock, sleeps or does IO: every method that needs the time takes `now`.
//! The semantics follow keepalived's `vrrp_script`, `track_file` and `vrrp_track_process`, so
//! that imported configurations behave as they did; each rule cites where keepalived does it.

use std::time::{Duration, Instant};

use crate::error::HealthError;

/// keepalived's limit for a tracker's effect on priority: a `vrrp_script` weight is
/// `-253..=253` and a `track_file` result below -253 means FAULT (keepalived.conf(5),
/// "Track files"; `process_update_vrrp_track_file_status` in keepalived/trackers/track_file.c).
pub const MAX_OFFSET: i32 = 253;

/// The outcome of one probe run, or an event a probe observed (a watched process exited).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProbeResult {
    /// The check passed.
    Success,
    /// The check failed; `reason` says why, for `vrrpd status` and the logs.
    Failure {
        /// Human-readable cause, e.g. `HTTP status 503` or `exit status 1`.
        reason: String,
    },
    /// The check did not finish within its timeout. Counts as a failure.
    Timeout,
    /// A number read by a `file` probe (keepalived's `track_file`): multiplied by the weight,
    /// or, without a weight, 0 means healthy and anything else failing.
    Value(i64),
}

impl ProbeResult {
    /// A [`ProbeResult::Failure`] with the given reason.
    pub fn failure(reason: impl Into<String>) -> Self {
        Self::Failure {
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for ProbeResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Success => f.write_str("success"),
            Self::Failure { reason } => write!(f, "failure: {reason}"),
            Self::Timeout => f.write_str("timeout"),
            Self::Value(v) => write!(f, "value {v}"),
        }
    }
}

/// Where a probe stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HealthState {
    /// No result yet. The first result decides, in either direction, as keepalived does for a
    /// script that has not run yet ("one success is enough", `vrrp_init_script` in
    /// keepalived/vrrp/vrrp_scheduler.c).
    #[default]
    Unknown,
    /// Passing: `fall` consecutive failures are needed to leave this state.
    Healthy,
    /// Failing: `rise` consecutive successes are needed to leave this state.
    Unhealthy,
}

impl HealthState {
    /// The lowercase name used in status output: `unknown`, `healthy`, `unhealthy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Healthy => "healthy",
            Self::Unhealthy => "unhealthy",
        }
    }
}

impl std::fmt::Display for HealthState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a probe currently does to the instances that track it.
///
/// A weighted probe moves the priority; an unweighted probe (no weight, or weight 0) holds the
/// instance in FAULT while it fails. keepalived.conf(5), `vrrp_script`: "A positive weight means
/// that `<rise>` successes will add `<weight>` to the priority [...] a negative weight will be
/// subtracted from the initial priority in case of `<fall>` failures"; a 0 weight makes a failure
/// put the instance in FAULT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Contribution {
    /// Add this many points to the instance's priority (negative lowers it). The engine adds
    /// the sum of all tracked probes to the base priority and clamps the result to 1..=254.
    Weight(i32),
    /// `true`: hold the instance in FAULT. `false`: this probe does not hold it there.
    Fault(bool),
}

impl Contribution {
    /// The priority offset part: the weight, or 0 for a fault contribution.
    pub fn offset(self) -> i32 {
        match self {
            Self::Weight(w) => w,
            Self::Fault(_) => 0,
        }
    }

    /// Whether this contribution holds the instance in FAULT.
    pub fn is_fault(self) -> bool {
        matches!(self, Self::Fault(true))
    }
}

/// How results turn into a [`Contribution`] while weighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scoring {
    /// Pass/fail probes (everything but a `file` probe reading a number): a positive weight is
    /// added while healthy, a negative weight while unhealthy.
    #[default]
    PassFail,
    /// keepalived's `track_file`: while healthy, the last number read times the weight
    /// (clamped to ±253); a product below -253, or a probe that became unhealthy because the
    /// file could not be read, means FAULT.
    ValueTimesWeight,
}

/// The rise/fall/weight parameters of one probe, with keepalived's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerConfig {
    /// Time between the starts of two runs. Default 1 s (keepalived's `interval`).
    pub interval: Duration,
    /// A run that takes longer counts as [`ProbeResult::Timeout`]. Default 1 s (keepalived:
    /// "default = interval").
    pub timeout: Duration,
    /// Consecutive failures that turn a healthy probe unhealthy. Default 1.
    pub fall: u32,
    /// Consecutive successes that turn an unhealthy probe healthy. Default 1.
    pub rise: u32,
    /// Priority weight; `None` or `Some(0)` means a failure puts the instance in FAULT.
    /// Range -253..=253, or -254..=254 with [`Scoring::ValueTimesWeight`] (keepalived's
    /// `track_file` range, so a negative value read from the file can be used).
    pub weight: Option<i32>,
    /// The state before the first result. Default [`HealthState::Unknown`];
    /// [`HealthState::Unhealthy`] is keepalived's `init_fail`.
    pub initial: HealthState,
    /// How results score while weighted.
    pub scoring: Scoring,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            fall: 1,
            rise: 1,
            weight: None,
            initial: HealthState::Unknown,
            scoring: Scoring::PassFail,
        }
    }
}

impl TrackerConfig {
    /// Checks the values; `probe` names the probe in the error.
    pub fn validate(&self, probe: &str) -> Result<(), HealthError> {
        let invalid = |reason: String| HealthError::InvalidProbe {
            probe: probe.to_owned(),
            reason,
        };
        if self.interval.is_zero() {
            return Err(invalid("interval must be greater than 0".into()));
        }
        if self.timeout.is_zero() {
            return Err(invalid("timeout must be greater than 0".into()));
        }
        if self.fall == 0 {
            return Err(invalid("fall must be at least 1".into()));
        }
        if self.rise == 0 {
            return Err(invalid("rise must be at least 1".into()));
        }
        let limit = match self.scoring {
            Scoring::PassFail => MAX_OFFSET,
            Scoring::ValueTimesWeight => MAX_OFFSET + 1,
        };
        match self.weight {
            Some(w) if !(-limit..=limit).contains(&w) => {
                return Err(invalid(format!("weight {w} is outside -{limit}..={limit}")));
            }
            _ => {}
        }
        Ok(())
    }

    /// The weight that counts: `None` for no weight and for weight 0 (keepalived: "0 is the
    /// default behaviour which means that a failure implies a FAULT state").
    pub fn effective_weight(&self) -> Option<i32> {
        self.weight.filter(|w| *w != 0)
    }

    /// The contribution before any result, so a consumer can start from it.
    pub fn initial_contribution(&self) -> Contribution {
        contribution(self.initial, self.effective_weight(), self.scoring, None)
    }
}

/// What changed in a tracker after a result: its state, its contribution, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackerChange {
    /// State before the result.
    pub from: HealthState,
    /// State after the result.
    pub to: HealthState,
    /// Contribution before the result.
    pub previous: Contribution,
    /// Contribution after the result.
    pub contribution: Contribution,
    /// When the result was recorded.
    pub at: Instant,
}

impl TrackerChange {
    /// Whether the health state changed (as opposed to only the contribution, which happens
    /// when a `file` probe reads a new number).
    pub fn is_transition(&self) -> bool {
        self.from != self.to
    }
}

/// What `vrrpd status` shows for one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProbeStatus {
    /// Probe name.
    pub name: String,
    /// Current state.
    pub state: HealthState,
    /// `state == Healthy`.
    pub healthy: bool,
    /// Current contribution to the instances tracking it.
    pub contribution: Contribution,
    /// The weight in force (`None`: failure means FAULT).
    pub weight: Option<i32>,
    /// The last result, if any.
    pub last_result: Option<ProbeResult>,
    /// When the last result was recorded.
    pub last_result_at: Option<Instant>,
    /// Consecutive failures (including timeouts) up to the last result.
    pub consecutive_failures: u32,
    /// Consecutive successes up to the last result.
    pub consecutive_successes: u32,
    /// When the state last changed; `None` while it never did.
    pub last_change: Option<Instant>,
    /// The last number accepted from a `file` probe.
    pub value: Option<i64>,
}

/// Rise/fall/weight logic of one probe, driven by results and a caller-supplied clock.
///
/// ```
/// use std::time::{Duration, Instant};
/// use vrrp_health::{Contribution, HealthState, ProbeResult, ProbeTracker, TrackerConfig};
///
/// let config = TrackerConfig { fall: 2, weight: Some(-50), initial: HealthState::Healthy, ..Default::default() };
/// let mut tracker = ProbeTracker::new("nginx", config).unwrap();
/// let t0 = Instant::now(); // any instant: the tracker never reads the clock itself
/// assert!(tracker.record(t0, ProbeResult::failure("HTTP status 502")).is_none()); // 1 of 2
/// let change = tracker.record(t0 + Duration::from_millis(100), ProbeResult::Timeout).unwrap();
/// assert_eq!(change.to, HealthState::Unhealthy);
/// assert_eq!(tracker.contribution(), Contribution::Weight(-50));
/// ```
#[derive(Debug, Clone)]
pub struct ProbeTracker {
    name: String,
    config: TrackerConfig,
    weight: Option<i32>,
    state: HealthState,
    consecutive_failures: u32,
    consecutive_successes: u32,
    value: Option<i64>,
    last_result: Option<ProbeResult>,
    last_result_at: Option<Instant>,
    last_change: Option<Instant>,
    running_since: Option<Instant>,
    next_run: Option<Instant>,
}

impl ProbeTracker {
    /// A tracker in its configured initial state; fails if the configuration is invalid.
    pub fn new(name: impl Into<String>, config: TrackerConfig) -> Result<Self, HealthError> {
        let name = name.into();
        config.validate(&name)?;
        Ok(Self {
            weight: config.effective_weight(),
            state: config.initial,
            name,
            config,
            consecutive_failures: 0,
            consecutive_successes: 0,
            value: None,
            last_result: None,
            last_result_at: None,
            last_change: None,
            running_since: None,
            next_run: None,
        })
    }

    /// The probe's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &TrackerConfig {
        &self.config
    }

    /// Current state.
    pub fn state(&self) -> HealthState {
        self.state
    }

    /// `state() == Healthy`.
    pub fn is_healthy(&self) -> bool {
        self.state == HealthState::Healthy
    }

    /// What the probe currently does to the instances tracking it.
    pub fn contribution(&self) -> Contribution {
        contribution(self.state, self.weight, self.config.scoring, self.value)
    }

    /// When the next run should start; `None` means now (nothing ran yet). While a run is in
    /// flight this is the earliest start of the following one.
    pub fn next_run_at(&self) -> Option<Instant> {
        self.next_run
    }

    /// Whether a run started with [`ProbeTracker::start_run`] has not finished yet.
    pub fn is_running(&self) -> bool {
        self.running_since.is_some()
    }

    /// Marks the start of a run and returns its deadline (`now + timeout`). The next run is
    /// due one interval after this start, but never before this one finishes.
    pub fn start_run(&mut self, now: Instant) -> Instant {
        self.running_since = Some(now);
        self.next_run = Some(now + self.config.interval);
        now + self.config.timeout
    }

    /// Records the result of the run in flight. A result that arrives after the run's deadline
    /// counts as [`ProbeResult::Timeout`], whatever it says: a check that answers "healthy" in
    /// 5 s when the timeout is 1 s is not healthy.
    pub fn finish_run(&mut self, now: Instant, result: ProbeResult) -> Option<TrackerChange> {
        let result = match self.running_since.take() {
            Some(started) if now > started + self.config.timeout => ProbeResult::Timeout,
            _ => result,
        };
        // A run slower than the interval delays the next start instead of overlapping it.
        if self.next_run.is_none_or(|next| next < now) {
            self.next_run = Some(now);
        }
        self.record(now, result)
    }

    /// Records a result that did not come from a scheduled run (a watched process exited, a
    /// link event), or from an executor that schedules itself. Returns what changed, if
    /// anything.
    pub fn record(&mut self, now: Instant, result: ProbeResult) -> Option<TrackerChange> {
        let from = self.state;
        let previous = self.contribution();
        let passed = self.passes(&result);
        if passed {
            self.consecutive_successes = self.consecutive_successes.saturating_add(1);
            self.consecutive_failures = 0;
            if let ProbeResult::Value(v) = result {
                self.value = Some(v);
            }
        } else {
            self.consecutive_failures = self.consecutive_failures.saturating_add(1);
            self.consecutive_successes = 0;
        }
        self.state = match self.state {
            // keepalived/vrrp/vrrp_scheduler.c: a script in its initial state starts at
            // `rise - 1` ("one success is enough"), and its first failure is reported at once.
            HealthState::Unknown if passed => HealthState::Healthy,
            HealthState::Unknown => HealthState::Unhealthy,
            HealthState::Healthy if !passed && self.consecutive_failures >= self.config.fall => {
                HealthState::Unhealthy
            }
            HealthState::Unhealthy if passed && self.consecutive_successes >= self.config.rise => {
                HealthState::Healthy
            }
            unchanged => unchanged,
        };
        self.last_result = Some(result);
        self.last_result_at = Some(now);
        if self.state != from {
            self.last_change = Some(now);
        }
        let contribution = self.contribution();
        (self.state != from || contribution != previous).then_some(TrackerChange {
            from,
            to: self.state,
            previous,
            contribution,
            at: now,
        })
    }

    /// Whether a result counts as a success for rise/fall.
    fn passes(&self, result: &ProbeResult) -> bool {
        match result {
            ProbeResult::Success => true,
            ProbeResult::Failure { .. } | ProbeResult::Timeout => false,
            // keepalived.conf(5), "Track files": "If the weight configured against the
            // track_file is 0, a non-zero value in the file will be treated as a failure
            // status [...] For VRRP instances, if the result is less than -253 anything
            // monitoring the script will transition to the fault state".
            ProbeResult::Value(v) => match self.weight {
                None => *v == 0,
                Some(w) => product(*v, w) >= -i64::from(MAX_OFFSET),
            },
        }
    }

    /// What `vrrpd status` shows for this probe.
    pub fn status(&self) -> ProbeStatus {
        ProbeStatus {
            name: self.name.clone(),
            state: self.state,
            healthy: self.is_healthy(),
            contribution: self.contribution(),
            weight: self.weight,
            last_result: self.last_result.clone(),
            last_result_at: self.last_result_at,
            consecutive_failures: self.consecutive_failures,
            consecutive_successes: self.consecutive_successes,
            last_change: self.last_change,
            value: self.value,
        }
    }
}

fn product(value: i64, weight: i32) -> i64 {
    value.saturating_mul(i64::from(weight))
}

/// The contribution of a probe in `state`; keepalived semantics, see [`Contribution`].
fn contribution(
    state: HealthState,
    weight: Option<i32>,
    scoring: Scoring,
    value: Option<i64>,
) -> Contribution {
    let Some(w) = weight else {
        // Unweighted: FAULT while failing. Before the first result the instance is held too:
        // keepalived keeps an instance in INIT until each unweighted script has reported
        // (`num_script_init` in keepalived/vrrp/vrrp_track.c).
        return Contribution::Fault(state != HealthState::Healthy);
    };
    match (state, scoring) {
        // keepalived/vrrp/vrrp_track.c, process_script_update_priority: in the initial state
        // the priority is adjusted only once a result says which way.
        (HealthState::Unknown, _) => Contribution::Weight(0),
        (HealthState::Healthy, Scoring::PassFail) => Contribution::Weight(w.max(0)),
        (HealthState::Unhealthy, Scoring::PassFail) => Contribution::Weight(w.min(0)),
        // keepalived/trackers/track_file.c, update_track_file_status: value × weight, clamped.
        (HealthState::Healthy, Scoring::ValueTimesWeight) => {
            let p = product(value.unwrap_or(0), w);
            let clamped = p.clamp(-i64::from(MAX_OFFSET), i64::from(MAX_OFFSET));
            Contribution::Weight(i32::try_from(clamped).unwrap_or(0))
        }
        (HealthState::Unhealthy, Scoring::ValueTimesWeight) => Contribution::Fault(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A fake clock: a fixed origin plus offsets; no test here sleeps or reads time again.
    struct Clock(Instant);
    impl Clock {
        fn new() -> Self {
            Self(Instant::now())
        }
        fn at(&self, millis: u64) -> Instant {
            self.0 + ms(millis)
        }
    }

    fn tracker(config: TrackerConfig) -> ProbeTracker {
        ProbeTracker::new("p", config).unwrap()
    }

    fn fail() -> ProbeResult {
        ProbeResult::failure("boom")
    }

    #[test]
    fn fall_needs_consecutive_failures() {
        let c = Clock::new();
        let mut t = tracker(TrackerConfig {
            fall: 3,
            initial: HealthState::Healthy,
            ..Default::default()
        });
        assert!(t.record(c.at(0), fail()).is_none());
        assert!(t.record(c.at(1), ProbeResult::Timeout).is_none());
        // A success in between resets the count.
        assert!(t.record(c.at(2), ProbeResult::Success).is_none());
        assert!(t.record(c.at(3), fail()).is_none());
        assert!(t.record(c.at(4), fail()).is_none());
        assert_eq!(t.status().consecutive_failures, 2);
        let change = t.record(c.at(5), fail()).unwrap();
        assert_eq!(
            (change.from, change.to, change.at),
            (HealthState::Healthy, HealthState::Unhealthy, c.at(5))
        );
        assert!(change.is_transition());
        assert_eq!(t.status().last_change, Some(c.at(5)));
        // Further failures change nothing.
        assert!(t.record(c.at(6), fail()).is_none());
        assert_eq!(t.status().consecutive_failures, 4);
    }

    #[test]
    fn rise_needs_consecutive_successes() {
        let c = Clock::new();
        let mut t = tracker(TrackerConfig {
            rise: 2,
            initial: HealthState::Unhealthy,
            ..Default::default()
        });
        assert!(t.record(c.at(0), ProbeResult::Success).is_none());
        assert!(t.record(c.at(1), fail()).is_none());
        assert!(t.record(c.at(2), ProbeResult::Success).is_none());
        assert_eq!(t.status().consecutive_successes, 1);
        let change = t.record(c.at(3), ProbeResult::Success).unwrap();
        assert_eq!(change.to, HealthState::Healthy);
        assert!(t.is_healthy());
    }

    #[test]
    fn unknown_is_decided_by_the_first_result_either_way() {
        let c = Clock::new();
        let config = TrackerConfig {
            fall: 3,
            rise: 3,
            ..Default::default()
        };
        let mut up = tracker(config.clone());
        assert_eq!(up.state(), HealthState::Unknown);
        let change = up.record(c.at(0), ProbeResult::Success).unwrap();
        assert_eq!(
            (change.from, change.to),
            (HealthState::Unknown, HealthState::Healthy)
        );
        let mut down = tracker(config);
        let change = down.record(c.at(0), ProbeResult::Timeout).unwrap();
        assert_eq!(change.to, HealthState::Unhealthy);
        // From there, rise applies as usual.
        assert!(down.record(c.at(1), ProbeResult::Success).is_none());
        assert!(down.record(c.at(2), ProbeResult::Success).is_none());
        assert!(down.record(c.at(3), ProbeResult::Success).is_some());
    }

    #[test]
    fn initial_states_and_their_contributions() {
        let weighted = |initial, weight| TrackerConfig {
            initial,
            weight,
            ..Default::default()
        };
        use Contribution::*;
        use HealthState::*;
        let cases = [
            (Unknown, None, Fault(true)),
            (Healthy, None, Fault(false)),
            (Unhealthy, None, Fault(true)),
            (Unknown, Some(-20), Weight(0)),
            (Healthy, Some(-20), Weight(0)),
            (Unhealthy, Some(-20), Weight(-20)),
            (Unknown, Some(15), Weight(0)),
            (Healthy, Some(15), Weight(15)),
            (Unhealthy, Some(15), Weight(0)),
            // weight 0 is "no weight".
            (Unhealthy, Some(0), Fault(true)),
            (Healthy, Some(0), Fault(false)),
        ];
        for (initial, weight, expected) in cases {
            let config = weighted(initial, weight);
            assert_eq!(
                config.initial_contribution(),
                expected,
                "{initial} {weight:?}"
            );
            assert_eq!(
                tracker(config).contribution(),
                expected,
                "{initial} {weight:?}"
            );
        }
    }

    #[test]
    fn negative_weight_applies_while_failing_positive_while_passing() {
        let c = Clock::new();
        let mut neg = tracker(TrackerConfig {
            weight: Some(-50),
            ..Default::default()
        });
        let change = neg.record(c.at(0), ProbeResult::Success).unwrap();
        assert_eq!(change.contribution, Contribution::Weight(0));
        let change = neg.record(c.at(1), fail()).unwrap();
        assert_eq!(
            (change.previous, change.contribution),
            (Contribution::Weight(0), Contribution::Weight(-50))
        );

        let mut pos = tracker(TrackerConfig {
            weight: Some(30),
            ..Default::default()
        });
        assert_eq!(
            pos.record(c.at(0), ProbeResult::Success)
                .unwrap()
                .contribution,
            Contribution::Weight(30)
        );
        assert_eq!(
            pos.record(c.at(1), ProbeResult::Timeout)
                .unwrap()
                .contribution,
            Contribution::Weight(0)
        );
    }

    #[test]
    fn unweighted_failure_is_fault() {
        let c = Clock::new();
        let mut t = tracker(TrackerConfig {
            fall: 2,
            rise: 2,
            initial: HealthState::Healthy,
            ..Default::default()
        });
        assert_eq!(t.contribution(), Contribution::Fault(false));
        t.record(c.at(0), fail());
        assert_eq!(t.contribution(), Contribution::Fault(false));
        let change = t.record(c.at(1), fail()).unwrap();
        assert_eq!(change.contribution, Contribution::Fault(true));
        assert!(change.contribution.is_fault());
        t.record(c.at(2), ProbeResult::Success);
        let change = t.record(c.at(3), ProbeResult::Success).unwrap();
        assert_eq!(change.contribution, Contribution::Fault(false));
    }

    fn file_tracker(weight: Option<i32>) -> ProbeTracker {
        tracker(TrackerConfig {
            weight,
            scoring: Scoring::ValueTimesWeight,
            ..Default::default()
        })
    }

    #[test]
    fn file_value_times_weight() {
        let c = Clock::new();
        let mut t = file_tracker(Some(-10));
        assert_eq!(t.contribution(), Contribution::Weight(0));
        let change = t.record(c.at(0), ProbeResult::Value(0)).unwrap();
        assert_eq!(change.to, HealthState::Healthy);
        assert_eq!(change.contribution, Contribution::Weight(0));
        // A new number changes the contribution without a state transition.
        let change = t.record(c.at(1), ProbeResult::Value(3)).unwrap();
        assert!(!change.is_transition());
        assert_eq!(change.contribution, Contribution::Weight(-30));
        assert!(t.record(c.at(2), ProbeResult::Value(3)).is_none());
        // A negative number with a negative weight raises the priority; clamped to +253.
        let change = t.record(c.at(3), ProbeResult::Value(-100)).unwrap();
        assert_eq!(change.contribution, Contribution::Weight(253));
        // Exactly -253 is still a priority offset...
        let mut edge = file_tracker(Some(-1));
        edge.record(c.at(0), ProbeResult::Value(253));
        assert_eq!(edge.contribution(), Contribution::Weight(-253));
        // ...below -253 is FAULT (keepalived track_file).
        let change = edge.record(c.at(1), ProbeResult::Value(254)).unwrap();
        assert_eq!(change.to, HealthState::Unhealthy);
        assert_eq!(change.contribution, Contribution::Fault(true));
        assert_eq!(
            edge.status().value,
            Some(253),
            "the faulting value is not accepted"
        );
        // Recovery returns to value × weight.
        let change = edge.record(c.at(2), ProbeResult::Value(1)).unwrap();
        assert_eq!(change.contribution, Contribution::Weight(-1));
    }

    #[test]
    fn file_value_without_weight_nonzero_is_failure() {
        let c = Clock::new();
        let mut t = file_tracker(None);
        t.record(c.at(0), ProbeResult::Value(0));
        assert_eq!(t.contribution(), Contribution::Fault(false));
        let change = t.record(c.at(1), ProbeResult::Value(7)).unwrap();
        assert_eq!(change.contribution, Contribution::Fault(true));
        let change = t.record(c.at(2), ProbeResult::Value(0)).unwrap();
        assert_eq!(change.contribution, Contribution::Fault(false));
    }

    #[test]
    fn file_value_huge_numbers_saturate_instead_of_overflowing() {
        let c = Clock::new();
        let mut t = file_tracker(Some(254));
        t.record(c.at(0), ProbeResult::Value(i64::MAX));
        assert_eq!(t.contribution(), Contribution::Weight(253));
        t.record(c.at(1), ProbeResult::Value(i64::MIN));
        assert_eq!(t.contribution(), Contribution::Fault(true));
    }

    #[test]
    fn file_garbage_is_a_failure_that_faults_after_fall() {
        // The executor turns unreadable content into a Failure (see file.rs); here: the
        // tracker side. fall = 2: one garbage read keeps the last good value.
        let c = Clock::new();
        let mut t = tracker(TrackerConfig {
            weight: Some(-10),
            fall: 2,
            scoring: Scoring::ValueTimesWeight,
            ..Default::default()
        });
        t.record(c.at(0), ProbeResult::Value(2));
        assert_eq!(t.contribution(), Contribution::Weight(-20));
        assert!(
            t.record(c.at(1), ProbeResult::failure("not a number: \"banana\""))
                .is_none()
        );
        assert_eq!(t.contribution(), Contribution::Weight(-20));
        let change = t
            .record(c.at(2), ProbeResult::failure("not a number: \"banana\""))
            .unwrap();
        assert_eq!(change.contribution, Contribution::Fault(true));
        assert_eq!(
            t.status().last_result,
            Some(ProbeResult::failure("not a number: \"banana\""))
        );
    }

    #[test]
    fn schedule_runs_one_interval_apart_and_late_results_are_timeouts() {
        let c = Clock::new();
        let mut t = tracker(TrackerConfig {
            interval: ms(100),
            timeout: ms(80),
            ..Default::default()
        });
        assert_eq!(t.next_run_at(), None, "due at once");
        let deadline = t.start_run(c.at(0));
        assert_eq!(deadline, c.at(80));
        assert!(t.is_running());
        assert_eq!(t.next_run_at(), Some(c.at(100)));
        t.finish_run(c.at(30), ProbeResult::Success);
        assert!(!t.is_running());
        assert_eq!(t.next_run_at(), Some(c.at(100)));
        assert!(t.is_healthy());

        // The run at 100 answers "success" at 190: after its deadline, so a timeout.
        t.start_run(c.at(100));
        let change = t.finish_run(c.at(190), ProbeResult::Success).unwrap();
        assert_eq!(change.to, HealthState::Unhealthy);
        assert_eq!(t.status().last_result, Some(ProbeResult::Timeout));
        assert_eq!(t.next_run_at(), Some(c.at(200)));

        // A run slower than the interval (timeout > interval) does not overlap the next one.
        let mut slow = tracker(TrackerConfig {
            interval: ms(100),
            timeout: ms(500),
            ..Default::default()
        });
        slow.start_run(c.at(0));
        slow.finish_run(c.at(300), ProbeResult::Success);
        assert_eq!(slow.next_run_at(), Some(c.at(300)));
    }

    #[test]
    fn status_reports_what_vrrpd_status_needs() {
        let c = Clock::new();
        let mut t = ProbeTracker::new(
            "nginx",
            TrackerConfig {
                weight: Some(-50),
                fall: 2,
                initial: HealthState::Healthy,
                ..Default::default()
            },
        )
        .unwrap();
        t.record(c.at(10), ProbeResult::failure("HTTP status 502"));
        let s = t.status();
        assert_eq!(s.name, "nginx");
        assert!(s.healthy);
        assert_eq!(s.consecutive_failures, 1);
        assert_eq!(s.consecutive_successes, 0);
        assert_eq!(s.last_result, Some(ProbeResult::failure("HTTP status 502")));
        assert_eq!(s.last_result_at, Some(c.at(10)));
        assert_eq!(s.last_change, None);
        assert_eq!(s.weight, Some(-50));
        t.record(c.at(20), ProbeResult::Timeout);
        let s = t.status();
        assert!(!s.healthy);
        assert_eq!(s.state, HealthState::Unhealthy);
        assert_eq!(s.last_change, Some(c.at(20)));
        assert_eq!(s.contribution, Contribution::Weight(-50));
    }

    #[test]
    fn invalid_configs_are_rejected_with_the_probe_name() {
        let bad = [
            TrackerConfig {
                fall: 0,
                ..Default::default()
            },
            TrackerConfig {
                rise: 0,
                ..Default::default()
            },
            TrackerConfig {
                interval: Duration::ZERO,
                ..Default::default()
            },
            TrackerConfig {
                timeout: Duration::ZERO,
                ..Default::default()
            },
            TrackerConfig {
                weight: Some(254),
                ..Default::default()
            },
            TrackerConfig {
                weight: Some(-255),
                scoring: Scoring::ValueTimesWeight,
                ..Default::default()
            },
        ];
        for config in bad {
            let err = ProbeTracker::new("web", config.clone()).unwrap_err();
            assert!(err.to_string().contains("web"), "{err}");
        }
        // 254 is fine for a file probe (keepalived's track_file range).
        ProbeTracker::new(
            "f",
            TrackerConfig {
                weight: Some(-254),
                scoring: Scoring::ValueTimesWeight,
                ..Default::default()
            },
        )
        .unwrap();
    }
}
