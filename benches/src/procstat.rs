//! CPU time and memory of processes, from /proc.

use std::time::{Duration, Instant};

/// CPU time a process used so far: its own user + system time, plus that of its children it
/// has reaped (so scripts a daemon forks are charged to the daemon), as /proc/PID/stat says.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised name (which may contain spaces); utime is field 14,
    // so index 11 counting from the state (field 3).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = [11, 12, 13, 14]
        .iter()
        .map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum::<Option<u64>>()?;
    let hz = rustix::param::clock_ticks_per_second();
    Some(Duration::from_nanos(
        ticks.saturating_mul(1_000_000_000) / hz.max(1),
    ))
}

/// Resident set size in bytes (VmRSS of /proc/PID/status).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| kib * 1024)
}

/// A CPU-time reading of a set of processes.
#[derive(Debug, Clone)]
pub struct CpuSample {
    at: Instant,
    per_pid: Vec<(u32, Duration)>,
}

impl CpuSample {
    /// Reads the CPU time of every pid in `pids` (those gone are skipped).
    pub fn take(pids: &[u32]) -> Self {
        Self {
            at: Instant::now(),
            per_pid: pids
                .iter()
                .filter_map(|&p| Some((p, cpu_time(p)?)))
                .collect(),
        }
    }

    /// CPU used between `self` and `later` as a share of one core (1.0 = one core busy),
    /// over the processes present in both.
    pub fn share_until(&self, later: &CpuSample) -> f64 {
        let wall = later.at.saturating_duration_since(self.at).as_secs_f64();
        if wall <= 0.0 {
            return 0.0;
        }
        let used: f64 = later
            .per_pid
            .iter()
            .filter_map(|(pid, t)| {
                let before = self.per_pid.iter().find(|(p, _)| p == pid)?.1;
                Some(t.saturating_sub(before).as_secs_f64())
            })
            .sum();
        used / wall
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        let me = std::process::id();
        let before = CpuSample::take(&[me]);
        // Burn a little CPU so the reading moves (clock ticks are 10 ms).
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(60) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let after = CpuSample::take(&[me]);
        let share = before.share_until(&after);
        assert!(share > 0.0 && share <= 2.5, "{share}");
        assert!(rss_bytes(me).unwrap() > 1 << 20);
        assert_eq!(cpu_time(u32::MAX), None);
    }
}
