//! systemd `Type=notify` (sd_notify(3), through the `sd-notify` crate): `READY=1` once every
//! instance is started, `STATUS=` lines that say what the instances are doing,
//! `RELOADING=1` / `READY=1` around a reload, `STOPPING=1` on shutdown, and `WATCHDOG=1` at half
//! of `WATCHDOG_USEC`, sent by the runtime's event loop itself (a
//! [`vrrp_runtime::StartOptions::heartbeat`]), so a stuck loop stops petting the watchdog and
//! systemd restarts the daemon.
//!
//! Without `NOTIFY_SOCKET` (not started by systemd) every call does nothing. Scripts never see
//! these variables: exec probes and notify scripts run with a clean environment.

use std::time::Duration;

use sd_notify::NotifyState;
use vrrp_runtime::Status;

/// Sends `states` to the service manager, if there is one. Failures are logged: the daemon
/// works without systemd.
pub(crate) fn notify(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "sd_notify failed");
    }
}

/// `READY=1` with a status line.
pub(crate) fn ready(status: &str) {
    notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// `RELOADING=1` with the monotonic time (what `Type=notify-reload` wants; harmless with
/// `Type=notify`).
pub(crate) fn reloading() {
    let mut states = vec![NotifyState::Reloading, NotifyState::Status("reloading")];
    if let Ok(now) = NotifyState::monotonic_usec_now() {
        states.push(now);
    }
    notify(&states);
}

/// `STOPPING=1`.
pub(crate) fn stopping() {
    notify(&[
        NotifyState::Stopping,
        NotifyState::Status("stopping: handing over"),
    ]);
}

/// A new `STATUS=` line.
pub(crate) fn status(line: &str) {
    notify(&[NotifyState::Status(line)]);
}

/// How often to send `WATCHDOG=1`: half of `WATCHDOG_USEC`, when systemd set one for us.
pub(crate) fn watchdog_period() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|timeout| timeout / 2)
}

/// One `WATCHDOG=1` (called from the runtime's event loop).
pub(crate) fn pet_watchdog() {
    notify(&[NotifyState::Watchdog]);
}

/// The status line: `2 instances: VI_1 MASTER, VI_2 BACKUP` (at most 8 named, then a count).
pub(crate) fn status_line(status: &Status) -> String {
    let n = status.instances.len();
    let mut line = format!("{n} instance{}", if n == 1 { "" } else { "s" });
    let named: Vec<String> = status
        .instances
        .iter()
        .take(8)
        .map(|i| format!("{} {}", i.name, i.state))
        .collect();
    if !named.is_empty() {
        line.push_str(": ");
        line.push_str(&named.join(", "));
    }
    if n > 8 {
        let masters = status
            .instances
            .iter()
            .filter(|i| i.state == "MASTER")
            .count();
        line.push_str(&format!(", ... ({masters} MASTER in all)"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_name_the_states() {
        let mut status = crate::metrics::tests::status();
        assert_eq!(status_line(&status), "1 instance: VI_1 MASTER");
        let mut second = status.instances[0].clone();
        second.name = "VI_2".into();
        second.state = "BACKUP";
        status.instances.push(second.clone());
        assert_eq!(
            status_line(&status),
            "2 instances: VI_1 MASTER, VI_2 BACKUP"
        );
        for i in 3..=10 {
            second.name = format!("VI_{i}");
            status.instances.push(second.clone());
        }
        assert_eq!(
            status_line(&status),
            "10 instances: VI_1 MASTER, VI_2 BACKUP, VI_3 BACKUP, VI_4 BACKUP, VI_5 BACKUP, \
             VI_6 BACKUP, VI_7 BACKUP, VI_8 BACKUP, ... (1 MASTER in all)"
        );
        status.instances.clear();
        assert_eq!(status_line(&status), "0 instances");
    }
}
