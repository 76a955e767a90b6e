//! When to send gratuitous ARPs / unsolicited NAs: the first frame of each burst goes out at
//! once (in the same turn as the advert that made us master), the rest of the burst
//! `garp_interval` apart, and, if configured, a refresh burst every `garp_refresh` while
//! master. Pure scheduling: the driver sends the frames and reads the clock.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How one instance announces its addresses (keepalived's `garp_master_repeat`,
/// `garp_interval`, `garp_master_refresh`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnouncePolicy {
    /// Frames per burst (at least 1).
    pub repeat: u32,
    /// Gap between frames of a burst.
    pub interval: Duration,
    /// A new burst this often while master; `None` = off (the default).
    pub refresh: Option<Duration>,
}

impl Default for AnnouncePolicy {
    fn default() -> Self {
        AnnouncePolicy {
            repeat: 5,
            interval: Duration::from_millis(10),
            refresh: None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    /// Frames still to send in the current burst.
    remaining: u32,
    next: Instant,
    policy: AnnouncePolicy,
}

/// Announcement schedule of every instance, keyed by the caller's instance key.
#[derive(Debug, Default)]
pub struct AnnounceSchedule<K: Ord + Copy> {
    pending: BTreeMap<K, Pending>,
}

impl<K: Ord + Copy> AnnounceSchedule<K> {
    /// An empty schedule.
    pub fn new() -> Self {
        AnnounceSchedule {
            pending: BTreeMap::new(),
        }
    }

    /// Starts a burst for `key` now: the caller sends the first frame right away; the rest
    /// come from [`due`](Self::due). Replaces any burst in progress.
    pub fn start(&mut self, key: K, now: Instant, policy: AnnouncePolicy) {
        let repeat = policy.repeat.max(1);
        if repeat > 1 {
            self.pending.insert(
                key,
                Pending {
                    remaining: repeat - 1,
                    next: now + policy.interval,
                    policy,
                },
            );
        } else if let Some(refresh) = policy.refresh {
            self.pending.insert(
                key,
                Pending {
                    remaining: 0,
                    next: now + refresh,
                    policy,
                },
            );
        } else {
            self.pending.remove(&key);
        }
    }

    /// Stops announcing for `key` (it left master).
    pub fn stop(&mut self, key: K) {
        self.pending.remove(&key);
    }

    /// The earliest time a frame is due.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.next).min()
    }

    /// The keys whose next frame is due at `now`, each once, in key order; advances their
    /// schedule.
    pub fn due(&mut self, now: Instant) -> Vec<K> {
        let mut out = Vec::new();
        let mut finished = Vec::new();
        for (key, p) in self.pending.iter_mut() {
            if p.next > now {
                continue;
            }
            out.push(*key);
            if p.remaining > 0 {
                p.remaining -= 1;
            }
            if p.remaining > 0 {
                p.next += p.policy.interval;
            } else if let Some(refresh) = p.policy.refresh {
                // The refresh burst: same size as the first.
                p.remaining = p.policy.repeat.max(1);
                p.next = now + refresh;
            } else {
                finished.push(*key);
            }
        }
        for key in finished {
            self.pending.remove(&key);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(repeat: u32, interval_ms: u64, refresh_ms: Option<u64>) -> AnnouncePolicy {
        AnnouncePolicy {
            repeat,
            interval: Duration::from_millis(interval_ms),
            refresh: refresh_ms.map(Duration::from_millis),
        }
    }

    /// Drives the schedule for `span` and returns the offsets (ms) at which frames went out,
    /// counting the first one the caller sends at `start`.
    fn run(s: &mut AnnounceSchedule<u8>, t0: Instant, span_ms: u64) -> Vec<u64> {
        let mut sent = vec![0];
        while let Some(at) = s.next_deadline() {
            if at > t0 + Duration::from_millis(span_ms) {
                break;
            }
            for _ in s.due(at) {
                sent.push((at - t0).as_millis() as u64);
            }
        }
        sent
    }

    #[test]
    fn burst_of_five_ten_ms_apart_then_silence() {
        let t0 = Instant::now();
        let mut s = AnnounceSchedule::new();
        s.start(1u8, t0, policy(5, 10, None));
        assert_eq!(run(&mut s, t0, 10_000), vec![0, 10, 20, 30, 40]);
        assert_eq!(s.next_deadline(), None);
    }

    #[test]
    fn refresh_repeats_the_burst() {
        let t0 = Instant::now();
        let mut s = AnnounceSchedule::new();
        s.start(1u8, t0, policy(2, 10, Some(1000)));
        assert_eq!(run(&mut s, t0, 2100), vec![0, 10, 1010, 1020, 2020, 2030]);
    }

    #[test]
    fn single_frame_without_refresh_schedules_nothing() {
        let t0 = Instant::now();
        let mut s = AnnounceSchedule::new();
        s.start(1u8, t0, policy(1, 10, None));
        assert_eq!(s.next_deadline(), None);
    }

    #[test]
    fn stop_cancels_the_rest() {
        let t0 = Instant::now();
        let mut s = AnnounceSchedule::new();
        s.start(1u8, t0, policy(5, 10, None));
        s.start(2u8, t0, policy(3, 20, None));
        assert_eq!(s.due(t0 + Duration::from_millis(10)), vec![1]);
        s.stop(1);
        assert_eq!(s.due(t0 + Duration::from_millis(20)), vec![2]);
        assert_eq!(s.due(t0 + Duration::from_millis(40)), vec![2]);
        assert_eq!(s.next_deadline(), None);
    }
}
