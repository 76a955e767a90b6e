//! What the demo observes, and what it makes of it.
//!
//! Two kinds of records arrive from threads inside the lab's namespaces: the client's
//! requests to the VIP ([`Sample`]: when sent, when done, who answered or why it failed) and
//! the VIP appearing on or disappearing from a host ([`VipChange`], from rtnetlink events).
//! [`measure`] turns the records of one failover scenario into its numbers and timeline; it is
//! pure, so the rules are unit-tested with made-up records.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Why a client request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The SYN was answered with a reset: the host has the VIP but nothing listens on port 80.
    Refused,
    /// No answer within the per-request timeout (the VIP is nowhere, or the client's ARP
    /// entry still points at a host that dropped it).
    Timeout,
    /// Anything else (a reset mid-answer, an HTTP error, an unreachable network ...).
    Other(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Refused => f.write_str("connection refused"),
            Failure::Timeout => f.write_str("timed out"),
            Failure::Other(why) => f.write_str(why),
        }
    }
}

/// What one client request got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// HTTP 200 from the backend with this label (`nginx-01`, `nginx-02`).
    Served(String),
    /// No answer.
    Failed(Failure),
}

/// One client request to the VIP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sample {
    /// When the request was started.
    pub(crate) sent: Instant,
    /// When it ended (answered, refused or timed out).
    pub(crate) done: Instant,
    /// What it got.
    pub(crate) outcome: Outcome,
}

impl Sample {
    fn served_by(&self, label: &str) -> bool {
        matches!(&self.outcome, Outcome::Served(l) if l == label)
    }

    fn failed(&self) -> Option<&Failure> {
        match &self.outcome {
            Outcome::Failed(f) => Some(f),
            Outcome::Served(_) => None,
        }
    }
}

/// The VIP was added to (`present`) or removed from a host's interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VipChange {
    /// When the kernel reported it.
    pub(crate) at: Instant,
    /// The lab host number (1 or 2).
    pub(crate) host: usize,
    /// Added (`true`) or removed.
    pub(crate) present: bool,
}

#[derive(Debug, Default)]
struct Records {
    samples: Vec<Sample>,
    vip: Vec<VipChange>,
}

/// The records of one lab run, shared between the recording threads and the demo.
#[derive(Debug, Clone, Default)]
pub(crate) struct Journal {
    records: Arc<Mutex<Records>>,
}

impl Journal {
    fn with<R>(&self, f: impl FnOnce(&mut Records) -> R) -> R {
        // A panic while holding the lock cannot leave the vectors half-written.
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut records)
    }

    /// Records a finished client request.
    pub(crate) fn push_sample(&self, sample: Sample) {
        self.with(|r| r.samples.push(sample));
    }

    /// Records a VIP change on a host.
    pub(crate) fn push_vip(&self, change: VipChange) {
        self.with(|r| r.vip.push(change));
    }

    /// The client requests sent at or after `since`, in the order they were sent.
    pub(crate) fn samples_since(&self, since: Instant) -> Vec<Sample> {
        let mut samples: Vec<Sample> = self.with(|r| {
            r.samples
                .iter()
                .filter(|s| s.sent >= since)
                .cloned()
                .collect()
        });
        samples.sort_by_key(|s| s.sent);
        samples
    }

    /// The VIP changes at or after `since`, in order.
    pub(crate) fn vip_since(&self, since: Instant) -> Vec<VipChange> {
        let mut changes: Vec<VipChange> =
            self.with(|r| r.vip.iter().filter(|c| c.at >= since).copied().collect());
        changes.sort_by_key(|c| c.at);
        changes
    }

    /// The hosts that hold the VIP now, by the last change seen for each.
    pub(crate) fn holders(&self) -> Vec<usize> {
        self.with(|r| holders_after(&r.vip))
    }
}

/// The hosts holding the VIP after `changes` (in the order they happened), ascending.
fn holders_after(changes: &[VipChange]) -> Vec<usize> {
    let mut holders: Vec<usize> = Vec::new();
    for c in changes {
        holders.retain(|&h| h != c.host);
        if c.present {
            holders.push(c.host);
        }
    }
    holders.sort_unstable();
    holders
}

/// Whether the client's last `count` finished requests (by send time) were all served by
/// `label`, and none of them is older than `since`.
pub(crate) fn steadily_served(samples: &[Sample], label: &str, count: usize) -> bool {
    samples.len() >= count
        && samples[samples.len() - count..]
            .iter()
            .all(|s| s.served_by(label))
}

/// When a scenario's observation window may end: the new holder's backend has answered, the
/// client's last `settle` requests were all served by it, and every request sent before its
/// first answer has had time to finish (`request_timeout`), so no late failure is missed.
pub(crate) fn settled(
    samples: &[Sample],
    new_label: &str,
    settle: usize,
    request_timeout: Duration,
    now: Instant,
) -> bool {
    let Some(first) = samples.iter().find(|s| s.served_by(new_label)) else {
        return false;
    };
    now >= first.done + request_timeout + Duration::from_millis(20)
        && steadily_served(samples, new_label, settle)
}

/// One line of a scenario's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Moment {
    /// Time since the fault was injected.
    pub(crate) after: Duration,
    /// What happened.
    pub(crate) what: String,
}

/// The numbers and the timeline of one failover scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Measurement {
    /// Fault → the first answer from the new holder's backend (through the VIP).
    pub(crate) vip_moved: Option<Duration>,
    /// Requests sent after the fault that failed.
    pub(crate) failed_requests: usize,
    /// Requests sent after the fault in the window.
    pub(crate) requests: usize,
    /// From the first failed request to the first one that succeeded after the last failure
    /// (to the end of the window if none did).
    pub(crate) outage: Duration,
    /// The client was served again, steadily, by the new holder when the window ended.
    pub(crate) recovered: bool,
    /// The hosts that held the VIP when the window ended.
    pub(crate) holders_at_end: Vec<usize>,
    /// What happened, in order.
    pub(crate) timeline: Vec<Moment>,
}

/// The inputs of [`measure`] besides the records.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window<'a> {
    /// When the fault was injected.
    pub(crate) fault: Instant,
    /// When observation ended.
    pub(crate) end: Instant,
    /// The label of the backend that should answer after the failover.
    pub(crate) new_label: &'a str,
    /// Hosts holding the VIP when the fault was injected.
    pub(crate) holders_before: &'a [usize],
    /// How many requests in a row make "served steadily".
    pub(crate) settle: usize,
}

/// Measures one scenario from the requests sent in the window (in send order) and the VIP
/// changes in it (in order).
pub(crate) fn measure(samples: &[Sample], vip: &[VipChange], w: Window<'_>) -> Measurement {
    let after = |t: Instant| t.saturating_duration_since(w.fault);
    let in_window: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.sent >= w.fault && s.sent <= w.end)
        .collect();
    let vip: Vec<&VipChange> = vip
        .iter()
        .filter(|c| c.at >= w.fault && c.at <= w.end)
        .collect();
    let mut timeline = Vec::new();

    let first_new = in_window.iter().find(|s| s.served_by(w.new_label));
    let vip_moved = first_new.map(|s| after(s.done));

    let failures: Vec<&&Sample> = in_window.iter().filter(|s| s.failed().is_some()).collect();
    let (outage, recovered_at) = match (failures.first(), failures.last()) {
        (Some(first), Some(last)) => {
            let back = in_window
                .iter()
                .find(|s| s.sent > last.sent && s.failed().is_none());
            let until = back.map_or(w.end, |s| s.sent);
            (until.saturating_duration_since(first.sent), back)
        }
        _ => (Duration::ZERO, None),
    };

    // VIP changes first: at equal times they are the cause of what the client sees.
    for c in &vip {
        timeline.push(Moment {
            after: after(c.at),
            what: format!(
                "host {} {} the VIP",
                c.host,
                if c.present { "added" } else { "removed" }
            ),
        });
    }
    if let Some(first) = failures.first() {
        let why = first.failed().map(ToString::to_string).unwrap_or_default();
        timeline.push(Moment {
            after: after(first.sent),
            what: format!("client: first failed request ({why})"),
        });
        // Name each other kind of failure once, where it first shows.
        let mut named = vec![why];
        for s in &failures {
            let why = s.failed().map(ToString::to_string).unwrap_or_default();
            if !named.contains(&why) {
                timeline.push(Moment {
                    after: after(s.sent),
                    what: format!("client: requests now fail with {why}"),
                });
                named.push(why);
            }
        }
    }
    let label = |s: &Sample| match &s.outcome {
        Outcome::Served(label) => label.clone(),
        Outcome::Failed(_) => "?".to_owned(),
    };
    match (first_new, recovered_at) {
        (Some(new), Some(back)) if new.sent == back.sent => timeline.push(Moment {
            after: after(back.done),
            what: format!(
                "client: served by {} through the VIP, after {} failed requests",
                w.new_label,
                failures.len()
            ),
        }),
        (new, back) => {
            if let Some(s) = back {
                timeline.push(Moment {
                    after: after(s.done),
                    what: format!(
                        "client: served again ({}), after {} failed requests",
                        label(s),
                        failures.len()
                    ),
                });
            }
            if let Some(s) = new {
                timeline.push(Moment {
                    after: after(s.done),
                    what: format!("client: first answer from {} through the VIP", w.new_label),
                });
            }
        }
    }
    timeline.sort_by_key(|m| m.after);

    // Who holds the VIP at the end: the holders before, changed by the window's events.
    let mut changes: Vec<VipChange> = w
        .holders_before
        .iter()
        .map(|&host| VipChange {
            at: w.fault,
            host,
            present: true,
        })
        .collect();
    changes.extend(vip.iter().map(|c| **c));
    let holders_at_end = holders_after(&changes);

    let in_window_owned: Vec<Sample> = in_window.iter().map(|s| (*s).clone()).collect();
    let recovered = first_new.is_some() && steadily_served(&in_window_owned, w.new_label, w.settle);
    Measurement {
        vip_moved,
        failed_requests: failures.len(),
        requests: in_window.len(),
        outage,
        recovered,
        holders_at_end,
        timeline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Requests every 10 ms from t0+0 to t0+`until` ms; `who(sent_ms)` decides the outcome.
    fn client(t0: Instant, until: u64, who: impl Fn(u64) -> Outcome) -> Vec<Sample> {
        (0..=until / 10)
            .map(|i| {
                let at = i * 10;
                let outcome = who(at);
                let took = if outcome == Outcome::Failed(Failure::Timeout) {
                    200
                } else {
                    1
                };
                Sample {
                    sent: t0 + ms(at),
                    done: t0 + ms(at + took),
                    outcome,
                }
            })
            .collect()
    }

    fn served(label: &str) -> Outcome {
        Outcome::Served(label.to_owned())
    }

    #[test]
    fn a_backend_death_counts_refusals_and_timeouts_until_the_backup_answers() {
        let t0 = Instant::now();
        let fault = t0 + ms(100);
        // Host 1's backend dies at 100: refused until its VIP goes at 150, then timeouts until
        // host 2's gratuitous ARP at 215.
        let samples = client(t0, 1000, |at| match at {
            0..100 => served("nginx-01"),
            100..150 => Outcome::Failed(Failure::Refused),
            150..220 => Outcome::Failed(Failure::Timeout),
            _ => served("nginx-02"),
        });
        let vip = [
            VipChange {
                at: t0 + ms(150),
                host: 1,
                present: false,
            },
            VipChange {
                at: t0 + ms(214),
                host: 2,
                present: true,
            },
        ];
        let m = measure(
            &samples,
            &vip,
            Window {
                fault,
                end: t0 + ms(1000),
                new_label: "nginx-02",
                holders_before: &[1],
                settle: 10,
            },
        );
        assert_eq!(m.vip_moved, Some(ms(121)), "{m:?}");
        assert_eq!(m.failed_requests, 12); // 100..=210
        assert_eq!(m.requests, 91);
        assert_eq!(m.outage, ms(120)); // first failure sent at 100, first success sent at 220
        assert!(m.recovered);
        assert_eq!(m.holders_at_end, vec![2]);
        let whats: Vec<&str> = m.timeline.iter().map(|t| t.what.as_str()).collect();
        assert_eq!(
            whats,
            [
                "client: first failed request (connection refused)",
                "host 1 removed the VIP",
                "client: requests now fail with timed out",
                "host 2 added the VIP",
                "client: served by nginx-02 through the VIP, after 12 failed requests",
            ]
        );
        assert_eq!(m.timeline[0].after, Duration::ZERO);
        assert_eq!(m.timeline[3].after, ms(114));
    }

    #[test]
    fn a_crash_that_leaves_the_vip_behind_shows_no_failures_and_two_holders() {
        let t0 = Instant::now();
        let samples = client(t0, 800, |at| {
            if at < 365 {
                served("nginx-01")
            } else {
                served("nginx-02")
            }
        });
        let vip = [VipChange {
            at: t0 + ms(361),
            host: 2,
            present: true,
        }];
        let m = measure(
            &samples,
            &vip,
            Window {
                fault: t0,
                end: t0 + ms(800),
                new_label: "nginx-02",
                holders_before: &[1],
                settle: 10,
            },
        );
        assert_eq!(m.vip_moved, Some(ms(371)));
        assert_eq!(m.failed_requests, 0);
        assert_eq!(m.outage, Duration::ZERO);
        assert!(m.recovered);
        assert_eq!(m.holders_at_end, vec![1, 2]);
    }

    #[test]
    fn a_vip_that_never_moves_is_not_recovered_and_the_outage_lasts_to_the_end() {
        let t0 = Instant::now();
        let samples = client(t0, 5000, |at| {
            if at < 50 {
                served("nginx-01")
            } else {
                Outcome::Failed(Failure::Refused)
            }
        });
        let m = measure(
            &samples,
            &[],
            Window {
                fault: t0 + ms(50),
                end: t0 + ms(5000),
                new_label: "nginx-02",
                holders_before: &[1],
                settle: 10,
            },
        );
        assert_eq!(m.vip_moved, None);
        assert!(!m.recovered);
        assert_eq!(m.failed_requests, 496);
        assert_eq!(m.outage, ms(4950));
        assert_eq!(m.holders_at_end, vec![1]);
    }

    #[test]
    fn failures_after_the_move_mean_not_recovered() {
        let t0 = Instant::now();
        let samples = client(t0, 500, |at| match at {
            0..100 => served("nginx-02"),
            _ => Outcome::Failed(Failure::Timeout),
        });
        let m = measure(
            &samples,
            &[],
            Window {
                fault: t0,
                end: t0 + ms(500),
                new_label: "nginx-02",
                holders_before: &[1],
                settle: 10,
            },
        );
        assert_eq!(m.vip_moved, Some(ms(1)));
        assert!(!m.recovered);
    }

    #[test]
    fn settling_waits_for_late_failures_and_a_steady_run() {
        let t0 = Instant::now();
        let samples = client(t0, 300, |at| {
            if at < 100 {
                Outcome::Failed(Failure::Timeout)
            } else {
                served("nginx-02")
            }
        });
        let timeout = ms(200);
        // The first answer was done at 101; requests sent before it may run until 301.
        assert!(!settled(&samples, "nginx-02", 10, timeout, t0 + ms(250)));
        assert!(settled(&samples, "nginx-02", 10, timeout, t0 + ms(330)));
        assert!(!settled(&samples, "nginx-01", 10, timeout, t0 + ms(330)));
        assert!(!settled(
            &samples[..12],
            "nginx-02",
            10,
            timeout,
            t0 + ms(330)
        ));
    }

    #[test]
    fn holders_follow_the_last_change_of_each_host() {
        let t0 = Instant::now();
        let c = |at, host, present| VipChange {
            at: t0 + ms(at),
            host,
            present,
        };
        assert_eq!(holders_after(&[]), Vec::<usize>::new());
        assert_eq!(
            holders_after(&[c(0, 1, true), c(1, 2, true), c(2, 1, false)]),
            vec![2]
        );
        assert_eq!(
            holders_after(&[c(0, 2, true), c(1, 1, true), c(2, 1, true)]),
            vec![1, 2]
        );
        let j = Journal::default();
        j.push_vip(c(0, 1, true));
        j.push_vip(c(5, 1, false));
        assert_eq!(j.holders(), Vec::<usize>::new());
        assert_eq!(j.vip_since(t0 + ms(1)).len(), 1);
    }
}
