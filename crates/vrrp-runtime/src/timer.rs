//! The protocol timer: the engine's deadlines on a Linux `timerfd`.
//!
//! tokio's timers have a resolution of one millisecond and round every deadline up to the
//! next tick (and `epoll_wait` takes its timeout in milliseconds), so a Master_Down_Interval
//! served by `tokio::time::sleep_until` fires on average about a millisecond late: measured
//! 1.2 ms median and 1.9 ms p99 overshoot on host death (`docs/performance.md`), where
//! keepalived, which computes its `select` timeout in microseconds, overshoots 0.1 ms. A
//! `timerfd` is a kernel high-resolution timer whose expiry makes the descriptor readable,
//! so it plugs into the same reactor and wakes the event loop within microseconds of the
//! deadline.
//!
//! Only the engine's deadlines (advert and Master_Down timers) use it; the slower
//! deadlines of the loop (gARP repeats, log summaries, the heartbeat) stay on tokio's
//! timers, which also keeps them under tokio's paused clock in tests. If a `timerfd`
//! cannot be created (a seccomp filter, say) the protocol timer falls back to tokio's.

use std::io;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::time::{
    Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create,
    timerfd_settime,
};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::clock;
use crate::socket::register;

/// A one-shot timer for the engine's next deadline.
#[derive(Debug)]
pub(crate) struct ProtocolTimer {
    /// `None`: tokio's timer is used instead.
    fd: Option<AsyncFd<OwnedFd>>,
    /// The deadline the `timerfd` is armed for (re-arming costs a system call).
    armed: Option<Instant>,
}

impl ProtocolTimer {
    /// A `timerfd` on `CLOCK_MONOTONIC` (the clock of [`Instant`]), or tokio's timer if
    /// the kernel refuses one. Must be called inside a tokio runtime.
    pub(crate) fn new() -> Self {
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )
        .map_err(io::Error::from)
        .and_then(|fd| register(fd, Interest::READABLE));
        match fd {
            Ok(fd) => ProtocolTimer {
                fd: Some(fd),
                armed: None,
            },
            Err(error) => {
                tracing::warn!(%error, "no timerfd: protocol timers fall back to tokio's 1 ms timer");
                Self::coarse()
            }
        }
    }

    /// A timer on tokio's clock only.
    pub(crate) fn coarse() -> Self {
        ProtocolTimer {
            fd: None,
            armed: None,
        }
    }

    /// Whether deadlines are served by a `timerfd`.
    pub(crate) fn is_precise(&self) -> bool {
        self.fd.is_some()
    }

    /// Resolves at `deadline` (at once if it has passed), after giving the runtime's other
    /// tasks one turn.
    ///
    /// That turn is for the receive tasks: when the process wakes late (a loaded machine),
    /// the timer and an advert that arrived before the deadline become ready together, and
    /// the advert must reach the loop first, or a backup takes over from a live master.
    ///
    /// Cancel-safe: dropped before the deadline, the timer stays armed, and a later call
    /// with the same deadline waits for that same expiry (or returns at once if it came).
    pub(crate) async fn wait_until(&mut self, deadline: Instant) {
        if self.fd.is_none() {
            tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)).await;
        } else if let Err(error) = self.wait_precise(deadline).await {
            tracing::warn!(%error, "timerfd failed: protocol timers fall back to tokio's 1 ms timer");
            self.fd = None;
            self.armed = None;
            tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)).await;
        }
        // tokio defers a yielding task until after its next look at the reactor, so tasks
        // whose sockets became readable in the same wake-up run before we return.
        tokio::task::yield_now().await;
    }

    async fn wait_precise(&mut self, deadline: Instant) -> io::Result<()> {
        let Some(fd) = self.fd.as_ref() else {
            return Ok(());
        };
        loop {
            let now = clock::now();
            if deadline <= now {
                self.armed = None;
                return Ok(());
            }
            if self.armed != Some(deadline) {
                // A relative expiry: the microseconds between reading the clock and the
                // system call are the only error, far below the 1 ms target.
                timerfd_settime(
                    fd.get_ref(),
                    TimerfdTimerFlags::empty(),
                    &Itimerspec {
                        it_interval: ZERO,
                        it_value: timespec(first_stage(deadline - now)),
                    },
                )?;
                // Re-arming resets the expiry count: a stale expiry cannot end this wait
                // (and the clock is checked again after every expiry anyway).
                self.armed = Some(deadline);
            }
            loop {
                let mut guard = fd.readable().await?;
                let mut expirations = [0u8; 8];
                match rustix::io::read(fd.get_ref(), &mut expirations) {
                    Ok(_) => break,
                    Err(rustix::io::Errno::AGAIN) => guard.clear_ready(),
                    Err(e) => return Err(e.into()),
                }
            }
            // The first stage ended (or the deadline came): re-arm for what is left.
            self.armed = None;
        }
    }
}

/// Waits longer than this are served in two stages.
const TWO_STAGES_ABOVE: Duration = Duration::from_millis(20);
/// The most the first stage of a long wait ends before its deadline.
const FIRST_STAGE_LEAD: Duration = Duration::from_millis(10);

/// How long to sleep first when `wait` is left before a deadline.
///
/// Measured on the project's VM (`docs/performance.md`): a timer that sleeps about a second
/// fires 0.6-3.9 ms late (the idle CPU's wake-up: keepalived's Master_Down timer is as late
/// there), one that sleeps 10 ms about 0.05 ms late. So a long wait first sleeps until a
/// tenth of it (at most 10 ms) is left, then sleeps the short rest: one extra wake-up per
/// long wait, and the deadline is met with a short sleep's accuracy.
fn first_stage(wait: Duration) -> Duration {
    if wait > TWO_STAGES_ABOVE {
        wait - (wait / 10).min(FIRST_STAGE_LEAD)
    } else {
        wait
    }
}

const ZERO: Timespec = Timespec {
    tv_sec: 0,
    tv_nsec: 0,
};

/// `d` as a `Timespec`, at least 1 ns (an all-zero value would disarm the timer).
fn timespec(d: Duration) -> Timespec {
    let d = d.max(Duration::from_nanos(1));
    Timespec {
        tv_sec: d.as_secs().try_into().unwrap_or(i64::MAX),
        tv_nsec: d.subsec_nanos().into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_timerfd_fires_at_its_deadline_and_survives_cancellation() {
        let mut timer = ProtocolTimer::new();
        assert!(timer.is_precise());
        // Cancelled before its deadline: a later wait for the same deadline still ends
        // there, not earlier.
        let deadline = clock::now() + Duration::from_millis(30);
        tokio::select! {
            () = timer.wait_until(deadline) => panic!("fired 30 ms early"),
            () = tokio::time::sleep(Duration::from_millis(5)) => {}
        }
        timer.wait_until(deadline).await;
        assert!(clock::now() >= deadline);
        // Re-armed for an earlier deadline after a later one.
        let later = clock::now() + Duration::from_secs(60);
        tokio::select! {
            () = timer.wait_until(later) => panic!("fired a minute early"),
            () = tokio::time::sleep(Duration::from_millis(2)) => {}
        }
        let sooner = clock::now() + Duration::from_millis(10);
        timer.wait_until(sooner).await;
        assert!(clock::now() >= sooner);
        // A deadline in the past returns at once.
        timer
            .wait_until(clock::now() - Duration::from_millis(1))
            .await;
        // A long wait (two stages) ends at its deadline, not at the first stage's end.
        let long = clock::now() + Duration::from_millis(60);
        timer.wait_until(long).await;
        assert!(clock::now() >= long);
    }

    #[test]
    fn long_waits_sleep_in_two_stages() {
        let ms = Duration::from_millis;
        assert_eq!(first_stage(ms(5)), ms(5));
        assert_eq!(first_stage(ms(20)), ms(20));
        assert_eq!(first_stage(ms(100)), ms(90));
        assert_eq!(first_stage(ms(1000)), ms(990));
        assert_eq!(
            first_stage(Duration::from_secs(3600)),
            Duration::from_secs(3600) - ms(10)
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_coarse_timer_waits_too() {
        let mut timer = ProtocolTimer::coarse();
        assert!(!timer.is_precise());
        let deadline = clock::now() + Duration::from_millis(5);
        timer.wait_until(deadline).await;
        assert!(clock::now() >= deadline);
    }
}
