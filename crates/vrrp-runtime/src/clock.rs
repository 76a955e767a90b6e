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
    fn formats_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        // 2000-02-29 12:34:56.789 UTC (a leap day).
        assert_eq!(rfc3339(951_827_696_789), "2000-02-29T12:34:56.789Z");
        assert_eq!(rfc3339(1_795_000_000_000), "2026-11-18T11:06:40.000Z");
    }
}
