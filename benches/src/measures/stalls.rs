//! The machine's own stalls: how long the CPU leaves a thread that has work to do, right
//! after the thread wakes from an idle sleep (the daemons' pattern: a backup sleeps until
//! its Master_Down timer, then has about 0.1 ms of work to do before its advert and
//! gratuitous ARP leave).
//!
//! No daemon and no network: the harness's own thread sleeps (1 s, 100 ms, 10 ms, or not at
//! all), then reads the monotonic clock in a tight loop for [`WINDOW`] and records every gap
//! between two consecutive reads above [`GAP`]. A read costs tens of nanoseconds, so a gap
//! of 100 µs is 100 µs in which the thread did not run: an interrupt, the guest's scheduler,
//! or the hypervisor running something else on this virtual CPU (it shows up as none of
//! these inside the guest). Those microseconds land on any code that runs then, the
//! daemons' included; `docs/performance.md` compares them with the host-death and takeover
//! tails.

use std::time::{Duration, Instant};

use crate::error::Result;
use crate::measures::Settings;
use crate::report::CaseResult;

/// How long each look at the machine lasts: about the takeover's path, advert to gARP,
/// with room for a slow moment.
pub const WINDOW: Duration = Duration::from_millis(2);
/// Gaps between clock reads longer than this count as a stall (a read takes ~30 ns; a
/// timer interrupt a few µs).
pub const GAP: Duration = Duration::from_micros(10);

/// What one window saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// The longest gap between two clock reads, in µs.
    pub longest_us: f64,
    /// The sum of the gaps longer than [`GAP`], in µs.
    pub stalled_us: f64,
    /// How many gaps were longer than [`GAP`].
    pub stalls: usize,
}

/// Spins for `window`, reading the clock, and reports its gaps. Never sleeps.
pub fn look(window: Duration) -> Window {
    look_with(window, Instant::now)
}

/// [`look`] with the clock as a parameter (tests give it one that jumps).
fn look_with(window: Duration, mut clock: impl FnMut() -> Instant) -> Window {
    let start = clock();
    let mut previous = start;
    let mut result = Window {
        longest_us: 0.0,
        stalled_us: 0.0,
        stalls: 0,
    };
    loop {
        let now = clock();
        let gap = now.saturating_duration_since(previous);
        previous = now;
        let gap_us = gap.as_secs_f64() * 1e6;
        if gap_us > result.longest_us {
            result.longest_us = gap_us;
        }
        if gap > GAP {
            result.stalled_us += gap_us;
            result.stalls += 1;
        }
        if now.saturating_duration_since(start) >= window {
            return result;
        }
    }
}

/// The measure: `settings.trials` windows after each idle length, and as many back to back
/// on a busy thread.
pub fn stalls(settings: &Settings) -> Result<Vec<CaseResult>> {
    let idles: &[u64] = if settings.smoke {
        &[100]
    } else {
        &[1000, 100, 10]
    };
    let mut cases: Vec<(String, Option<Duration>)> = idles
        .iter()
        .map(|&ms| {
            (
                format!("after {ms} ms idle"),
                Some(Duration::from_millis(ms)),
            )
        })
        .collect();
    cases.push(("busy (no sleep)".into(), None));
    let mut out = Vec::new();
    for (case, idle) in cases {
        settings.say(format!("stalls {case}:"));
        let windows: Vec<Window> = (0..settings.trials)
            .map(|_| {
                match idle {
                    Some(idle) => std::thread::sleep(idle),
                    // Busy: keep the CPU running between windows too.
                    None => {
                        look(WINDOW);
                    }
                }
                look(WINDOW)
            })
            .collect();
        let mut r = CaseResult::new("stalls", &case, "machine");
        r.set("window_us", WINDOW.as_secs_f64() * 1e6);
        r.set("gap_threshold_us", GAP.as_secs_f64() * 1e6);
        r.set("idle_ms", idle.map_or(0.0, |d| d.as_secs_f64() * 1e3));
        r.set("trials", settings.trials);
        r.metric(
            "longest_gap_us",
            "µs",
            "the longest gap between two clock reads in a 2 ms spin right after the wake-up",
            windows.iter().map(|w| w.longest_us).collect(),
        );
        r.metric(
            "stalled_us",
            "µs",
            "the sum of the gaps above 10 µs in that window: time the thread did not run",
            windows.iter().map(|w| w.stalled_us).collect(),
        );
        r.metric(
            "stalls",
            "count",
            "gaps above 10 µs in that window",
            windows.iter().map(|w| w.stalls as f64).collect(),
        );
        let longest = r.get("longest_gap_us").and_then(|m| m.summary);
        settings.say(format!(
            "  longest gap median {:.1} µs, max {:.1} µs",
            longest.map_or(f64::NAN, |s| s.median),
            longest.map_or(f64::NAN, |s| s.max),
        ));
        out.push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_counts_the_gaps_of_its_clock_and_ends_after_its_length() {
        let base = Instant::now();
        // 1 µs per read, one jump of 150 µs and one of 12 µs; reads past 2 ms end it.
        let mut t = 0u64;
        let mut reads = 0;
        let clock = || {
            reads += 1;
            t += match reads {
                500 => 150,
                900 => 12,
                _ => 1,
            };
            base + Duration::from_micros(t)
        };
        let w = look_with(WINDOW, clock);
        assert_eq!(w.longest_us.round(), 150.0);
        assert_eq!(w.stalls, 2, "150 and 12 µs are above the 10 µs threshold");
        assert_eq!(w.stalled_us.round(), 162.0);
        // 2000 µs of clock: 160 in the two jumps, the rest one read per µs (+ the start).
        assert_eq!(reads, 2000 - 162 + 2 + 1);
    }

    #[test]
    fn the_real_clock_window_is_consistent() {
        let w = look(Duration::from_millis(1));
        assert!(w.stalled_us == 0.0 || w.stalls > 0);
        assert!(w.longest_us >= w.stalled_us / w.stalls.max(1) as f64 - 1e-9);
    }
}
