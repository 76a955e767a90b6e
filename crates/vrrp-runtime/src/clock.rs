//! The one place the runtime reads the clock.
//!
//! The engine takes time as an input; everything the runtime gives it comes from [`now`].
//! Wall-clock times (for status and logs) are derived from the monotonic clock and one
//! wall-clock reading taken at start, so a wall-clock step never disturbs the protocol.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The current monotonic time. The only clock read of the runtime's protocol path.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Turns the kernel's receive stamps (wall clock) into monotonic instants, for the engine.
///
/// A stamp's age is the wall clock now minus the stamp; the packet arrived that long before the
/// monotonic now. A wall-clock step between the two readings would make the age wrong, so a
/// stamp is used only while the wall clock keeps pace with the monotonic one (their offset
/// moved by less than [`ArrivalClock::MAX_OFFSET_MOVE`] since the previous packet; NTP slews by
/// at most 0.5 ms per second) and is not older than [`ArrivalClock::MAX_AGE`]; otherwise the
/// packet's time is now, as without stamps. One per receive task.
#[derive(Debug)]
pub(crate) struct ArrivalClock {
    base: Instant,
    /// Wall clock minus monotonic clock (since `base`) at the previous packet, in ns.
    last_offset_ns: Option<i128>,
}

impl ArrivalClock {
    /// Largest accepted move of the wall clock against the monotonic clock between packets.
    pub(crate) const MAX_OFFSET_MOVE: Duration = Duration::from_millis(2);
    /// Oldest stamp used: older means a stalled loop or a clock step; either way, now.
    pub(crate) const MAX_AGE: Duration = Duration::from_secs(1);

    pub(crate) fn new() -> Self {
        ArrivalClock {
            base: now(),
            last_offset_ns: None,
        }
    }

    /// When a packet stamped `kernel_time` arrived, on the monotonic clock.
    pub(crate) fn arrival(&mut self, kernel_time: Option<SystemTime>) -> Instant {
        self.arrival_reading(kernel_time, SystemTime::now, now)
    }

    /// [`Self::arrival`] with the clocks to read. The wall clock is read first: if the
    /// thread loses its CPU between the two readings (the project's VM does that for tens of
    /// µs, sometimes ms), the stamp looks younger than it is and the packet is dated late by
    /// the stall, never early. Early would start a backup's Master_Down_Timer before the
    /// advert arrived, and the takeover would come before the RFC's bound (a host-death run
    /// showed one 71 µs early with the opposite order).
    fn arrival_reading(
        &mut self,
        kernel_time: Option<SystemTime>,
        read_wall: impl FnOnce() -> SystemTime,
        read_mono: impl FnOnce() -> Instant,
    ) -> Instant {
        let wall = read_wall();
        let mono = read_mono();
        self.arrival_at(mono, wall, kernel_time)
    }

    /// [`Self::arrival`] with the two clock readings given (for tests).
    pub(crate) fn arrival_at(
        &mut self,
        mono: Instant,
        wall: SystemTime,
        kernel_time: Option<SystemTime>,
    ) -> Instant {
        let wall_ns = match wall.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_nanos() as i128,
            Err(_) => return mono,
        };
        let offset = wall_ns - mono.saturating_duration_since(self.base).as_nanos() as i128;
        let steady = self
            .last_offset_ns
            .is_none_or(|last| (offset - last).unsigned_abs() <= Self::MAX_OFFSET_MOVE.as_nanos());
        self.last_offset_ns = Some(offset);
        let Some(stamp) = kernel_time else {
            return mono;
        };
        match wall.duration_since(stamp) {
            Ok(age) if steady && age <= Self::MAX_AGE => mono.checked_sub(age).unwrap_or(mono),
            _ => mono,
        }
    }
}

/// Converts monotonic instants to wall-clock times.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WallClock {
    mono: Instant,
    wall: SystemTime,
}

impl WallClock {
    /// Takes the reference pair.
    pub(crate) fn start() -> Self {
        WallClock {
            mono: now(),
            wall: SystemTime::now(),
        }
    }

    /// Milliseconds since the Unix epoch at `at`.
    pub(crate) fn unix_ms(&self, at: Instant) -> u64 {
        let wall = match at.checked_duration_since(self.mono) {
            Some(after) => self.wall + after,
            None => self.wall - self.mono.duration_since(at),
        };
        wall.duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_millis() as u64
    }
}

/// Formats Unix milliseconds as RFC 3339 UTC (`2026-11-25T23:06:48.123Z`).
pub(crate) fn rfc3339(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let ms = unix_ms % 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kernel_stamp_dates_the_packet_back_by_its_age() {
        let mut clock = ArrivalClock::new();
        let mono = clock.base + Duration::from_secs(10);
        let wall = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let stamp = wall - Duration::from_micros(2500);
        assert_eq!(
            clock.arrival_at(mono, wall, Some(stamp)),
            mono - Duration::from_micros(2500)
        );
        // No stamp, a stamp from the future, one older than MAX_AGE: now.
        let (mono, wall) = (mono + Duration::from_secs(1), wall + Duration::from_secs(1));
        assert_eq!(clock.arrival_at(mono, wall, None), mono);
        assert_eq!(
            clock.arrival_at(mono, wall, Some(wall + Duration::from_millis(1))),
            mono
        );
        assert_eq!(
            clock.arrival_at(mono, wall, Some(wall - Duration::from_millis(1001))),
            mono
        );
        // NTP's slew (500 ppm) between packets is fine.
        let (mono, wall) = (
            mono + Duration::from_secs(1),
            wall + Duration::from_secs(1) + Duration::from_micros(500),
        );
        assert_eq!(
            clock.arrival_at(mono, wall, Some(wall - Duration::from_millis(3))),
            mono - Duration::from_millis(3)
        );
    }

    #[test]
    fn a_stall_between_the_clock_readings_dates_the_packet_late_never_early() {
        let mut clock = ArrivalClock::new();
        // A fake time: the true time in µs since `base`, and the wall clock at a fixed
        // offset from it. Each reading takes the time, then the thread stalls 700 µs.
        let true_us = std::cell::Cell::new(50_000u64);
        let epoch = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let read = || {
            let t = true_us.get();
            true_us.set(t + 700);
            Duration::from_micros(t)
        };
        let mono_zero = Instant::now();
        let arrived = Duration::from_micros(47_000);
        let got = clock.arrival_reading(
            Some(epoch + arrived),
            || epoch + read(),
            || mono_zero + read(),
        );
        // The packet arrived at 47 ms; the second reading saw the stall. Read the other way
        // round, the packet would be dated 700 µs before it arrived.
        let arrived_mono = mono_zero + arrived;
        assert!(
            got >= arrived_mono,
            "dated early: {got:?} < {arrived_mono:?}"
        );
        assert_eq!(got, arrived_mono + Duration::from_micros(700));
    }

    #[test]
    fn a_wall_clock_step_between_packets_makes_the_stamp_untrusted() {
        let mut clock = ArrivalClock::new();
        let mono = clock.base + Duration::from_secs(1);
        let wall = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let _ = clock.arrival_at(mono, wall, None);
        // The wall clock jumped 300 ms ahead: a stamp taken before the jump would look
        // 300 ms old and start the backup's timer that much early.
        let (mono, wall) = (
            mono + Duration::from_millis(100),
            wall + Duration::from_millis(400),
        );
        assert_eq!(
            clock.arrival_at(mono, wall, Some(wall - Duration::from_millis(301))),
            mono
        );
        // From the next packet on the new offset is the reference again.
        let (mono, wall) = (
            mono + Duration::from_millis(100),
            wall + Duration::from_millis(100),
        );
        assert_eq!(
            clock.arrival_at(mono, wall, Some(wall - Duration::from_millis(1))),
            mono - Duration::from_millis(1)
        );
    }

    #[test]
    fn formats_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        // 2000-02-29 12:34:56.789 UTC (a leap day).
        assert_eq!(rfc3339(951_827_696_789), "2000-02-29T12:34:56.789Z");
        assert_eq!(rfc3339(1_795_000_000_000), "2026-11-18T11:06:40.000Z");
    }
}
