//! CPU time and memory of processes, from /proc.

use std::time::{Duration, Instant};

/// CPU time a process used so far: the run time of each of its live threads, in nanoseconds
/// (`/proc/PID/task/TID/schedstat`; the tick-based utime + stime would round a quiet daemon's
/// 20 s down to 0), plus the user + system time of the children it has reaped (so scripts a
/// daemon forks are charged to it; /proc/PID/stat, in clock ticks).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised name (which may contain spaces); cutime is field 16,
    // so index 13 counting from the state (field 3).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let child_ticks: u64 = [13, 14]
        .iter()
        .map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum::<Option<u64>>()?;
    let hz = rustix::param::clock_ticks_per_second().max(1);
    let children = Duration::from_nanos(child_ticks.saturating_mul(1_000_000_000) / hz);
    let mut threads = Duration::ZERO;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let path = task.path().join("schedstat");
        if let Some(ns) = std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        {
            threads += Duration::from_nanos(ns);
        }
    }
    Some(threads + children)
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
        // Burn a little CPU so the reading moves.
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(30) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let after = CpuSample::take(&[me]);
        let share = before.share_until(&after);
        // Busy for most of the interval (the machine may be shared; other test threads of this
        // process may run too).
        let cpus = std::thread::available_parallelism().map_or(1, usize::from) as f64;
        assert!(share > 0.05 && share <= cpus + 0.1, "{share}");
        assert!(rss_bytes(me).unwrap() > 1 << 20);
        assert_eq!(cpu_time(u32::MAX), None);
    }
}
