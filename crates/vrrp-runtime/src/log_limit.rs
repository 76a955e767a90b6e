//! Rate limit for logs that outsiders can trigger (discarded adverts): per key (instance and
//! counter), the first few of a window are logged one by one; the rest are only counted and
//! summarised in one line when the window ends. Every discard is still counted in the status
//! counters; only the log lines are limited, so that a flood of forged packets cannot fill the
//! disk or drown the lines that matter.
//!
//! Time is an input (the driver passes `clock::now()`), so the limiter is tested with a fake
//! clock. Memory is bounded by the number of distinct keys, which the caller keeps small (the
//! counter names are a fixed set; the source address is deliberately not part of the key).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Discards logged one by one per key and window.
pub(crate) const DISCARD_LOG_BURST: u32 = 5;
/// The window after which the count of unlogged discards is summarised.
pub(crate) const DISCARD_LOG_WINDOW: Duration = Duration::from_secs(10);

/// One key's current window.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    logged: u32,
    suppressed: u64,
}

/// The limiter. `K` names what is limited (e.g. instance and counter).
#[derive(Debug)]
pub(crate) struct LogLimiter<K: Ord + Clone> {
    burst: u32,
    window: Duration,
    windows: BTreeMap<K, Window>,
}

/// A window that ended with lines left unlogged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Summary<K> {
    /// The key.
    pub(crate) key: K,
    /// Events counted but not logged in the window.
    pub(crate) suppressed: u64,
    /// Events logged one by one in the window.
    pub(crate) logged: u32,
}

impl<K: Ord + Clone> LogLimiter<K> {
    /// `burst` lines per `window` and key.
    pub(crate) fn new(burst: u32, window: Duration) -> Self {
        LogLimiter {
            burst,
            window,
            windows: BTreeMap::new(),
        }
    }

    /// Whether the event `key` at `now` may be logged. Call [`Self::take_ended`] first (the
    /// driver does), or the summary of an ended window is folded into the next one.
    pub(crate) fn admit(&mut self, now: Instant, key: &K) -> bool {
        let window = self.window;
        let w = self.windows.entry(key.clone()).or_insert(Window {
            start: now,
            logged: 0,
            suppressed: 0,
        });
        if now.saturating_duration_since(w.start) >= window && w.suppressed == 0 {
            *w = Window {
                start: now,
                logged: 0,
                suppressed: 0,
            };
        }
        if w.logged < self.burst {
            w.logged += 1;
            true
        } else {
            w.suppressed += 1;
            false
        }
    }

    /// The windows that have ended by `now` with events left unlogged, in key order; they are
    /// closed (the next event of the key starts a new window). Ended windows without
    /// suppressed events are simply forgotten.
    pub(crate) fn take_ended(&mut self, now: Instant) -> Vec<Summary<K>> {
        let window = self.window;
        let ended = |w: &Window| now.saturating_duration_since(w.start) >= window;
        let out: Vec<Summary<K>> = self
            .windows
            .iter()
            .filter(|(_, w)| ended(w) && w.suppressed > 0)
            .map(|(k, w)| Summary {
                key: k.clone(),
                suppressed: w.suppressed,
                logged: w.logged,
            })
            .collect();
        self.windows.retain(|_, w| !ended(w));
        out
    }

    /// Closes the windows of the keys `matches` picks, ended or not (their subject is going
    /// away), and returns those with events left unlogged, in key order.
    pub(crate) fn close(&mut self, mut matches: impl FnMut(&K) -> bool) -> Vec<Summary<K>> {
        let mut out = Vec::new();
        self.windows.retain(|k, w| {
            if !matches(k) {
                return true;
            }
            if w.suppressed > 0 {
                out.push(Summary {
                    key: k.clone(),
                    suppressed: w.suppressed,
                    logged: w.logged,
                });
            }
            false
        });
        out
    }

    /// When the next summary is due: the end of the earliest window with suppressed events.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.windows
            .values()
            .filter(|w| w.suppressed > 0)
            .map(|w| w.start + self.window)
            .min()
    }

    /// The window length.
    pub(crate) fn window(&self) -> Duration {
        self.window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::disallowed_methods)]
    fn t0() -> Instant {
        Instant::now()
    }

    #[test]
    fn first_burst_logged_then_one_summary_per_window() {
        let t = t0();
        let mut l = LogLimiter::new(3, Duration::from_secs(10));
        let admitted: Vec<bool> = (0..100)
            .map(|i| l.admit(t + Duration::from_millis(i), &"ttl"))
            .collect();
        assert_eq!(admitted.iter().filter(|a| **a).count(), 3);
        assert!(admitted[..3].iter().all(|a| *a));
        assert_eq!(l.next_deadline(), Some(t + Duration::from_secs(10)));
        assert!(l.take_ended(t + Duration::from_secs(9)).is_empty());
        assert_eq!(
            l.take_ended(t + Duration::from_secs(10)),
            vec![Summary {
                key: "ttl",
                suppressed: 97,
                logged: 3
            }]
        );
        // Closed: nothing more is due, and the next event starts a fresh window.
        assert_eq!(l.next_deadline(), None);
        assert!(l.take_ended(t + Duration::from_secs(30)).is_empty());
        assert!(l.admit(t + Duration::from_secs(31), &"ttl"));
    }

    #[test]
    fn keys_are_independent() {
        let t = t0();
        let mut l = LogLimiter::new(1, Duration::from_secs(1));
        assert!(l.admit(t, &"a"));
        assert!(!l.admit(t, &"a"));
        assert!(l.admit(t, &"b"));
        let ended = l.take_ended(t + Duration::from_secs(1));
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].key, "a");
    }

    #[test]
    fn a_quiet_window_restarts_without_a_summary() {
        let t = t0();
        let mut l = LogLimiter::new(2, Duration::from_secs(1));
        assert!(l.admit(t, &"k"));
        assert!(l.admit(t, &"k"));
        assert_eq!(
            l.next_deadline(),
            None,
            "nothing suppressed: no summary due"
        );
        // The window ended without suppressed events: the next one is logged again.
        assert!(l.admit(t + Duration::from_secs(2), &"k"));
        assert!(l.take_ended(t + Duration::from_secs(2)).is_empty());
    }

    #[test]
    fn closing_a_key_summarises_its_open_window_and_forgets_it() {
        let t = t0();
        let mut l = LogLimiter::new(1, Duration::from_secs(10));
        for _ in 0..3 {
            l.admit(t, &("gone", "ttl"));
        }
        l.admit(t, &("gone", "auth"));
        l.admit(t, &("stays", "ttl"));
        l.admit(t, &("stays", "ttl"));
        let closed = l.close(|k| k.0 == "gone");
        assert_eq!(
            closed,
            vec![Summary {
                key: ("gone", "ttl"),
                suppressed: 2,
                logged: 1
            }]
        );
        // The other key's window goes on; the closed ones start afresh.
        assert_eq!(l.next_deadline(), Some(t + Duration::from_secs(10)));
        assert!(l.admit(t, &("gone", "ttl")));
        assert!(!l.admit(t, &("stays", "ttl")));
    }

    #[test]
    fn a_late_summary_is_not_lost_when_admit_comes_first() {
        let t = t0();
        let mut l = LogLimiter::new(1, Duration::from_secs(1));
        assert!(l.admit(t, &"k"));
        assert!(!l.admit(t, &"k"));
        // The window has ended, but its summary was not taken yet: the event is counted in it.
        assert!(!l.admit(t + Duration::from_secs(5), &"k"));
        assert_eq!(l.take_ended(t + Duration::from_secs(5))[0].suppressed, 2);
    }
}
