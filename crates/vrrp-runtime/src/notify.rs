//! Notify scripts: run on state changes, one at a time per instance (or sync group) in
//! transition order, each with a timeout, never on the protocol's path.
//!
//! `notify = "PATH"` is called as keepalived calls it, `PATH INSTANCE|GROUP NAME STATE
//! PRIORITY` (STATE one of MASTER, BACKUP, FAULT, STOP; PRIORITY 0 for a group), so existing
//! scripts keep working; `notify_master`, `notify_backup`, `notify_fault` and `notify_stop`
//! are command lines run as given. Scripts run as `script_user` in their own process group
//! with a clean environment, through [`vrrp_health::Script`], the same runner `exec` probes use.

use std::time::Duration;

use tokio::sync::mpsc;
use vrrp_config::{CommandLine, Notify};
use vrrp_health::{ExecProbe, ProbeResult, Script};

/// The state words notify scripts get (keepalived's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyState {
    /// Became master.
    Master,
    /// Became backup.
    Backup,
    /// Entered FAULT.
    Fault,
    /// Stopped (shutdown).
    Stop,
}

impl NotifyState {
    /// `MASTER`, `BACKUP`, `FAULT` or `STOP`.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyState::Master => "MASTER",
            NotifyState::Backup => "BACKUP",
            NotifyState::Fault => "FAULT",
            NotifyState::Stop => "STOP",
        }
    }
}

/// Whether a notify target is an instance or a sync group (keepalived's first argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// `INSTANCE`.
    Instance,
    /// `GROUP`.
    Group,
}

/// The notify scripts of one instance or group, with a worker that runs them in order.
#[derive(Debug)]
pub(crate) struct Notifier {
    tx: mpsc::UnboundedSender<Vec<(Script, Vec<String>)>>,
    subject: Subject,
    name: String,
    any: Option<Script>,
    master: Option<Script>,
    backup: Option<Script>,
    fault: Option<Script>,
    stop: Option<Script>,
}

impl Notifier {
    /// Prepares the scripts of `notify` (resolving `user`) and starts the worker. Returns
    /// `None` when there is nothing to run. A script that cannot be prepared (unknown user) is
    /// logged and skipped: notify is advisory and must not stop the daemon.
    pub(crate) fn start(
        subject: Subject,
        name: &str,
        notify: &Notify,
        user: &str,
        timeout: Duration,
    ) -> Option<Self> {
        let prep = |which: &str, cmd: &Option<CommandLine>| -> Option<Script> {
            let cmd = cmd.as_ref()?;
            let label = format!("{name} {which}");
            let probe = ExecProbe {
                argv: cmd.argv.clone(),
                shell: false,
                user: user.to_owned(),
            };
            match Script::prepare(&label, &probe) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::error!(notify = %label, error = %e, "notify script cannot run");
                    None
                }
            }
        };
        let any = prep("notify", &notify.any);
        let master = prep("notify_master", &notify.master);
        let backup = prep("notify_backup", &notify.backup);
        let fault = prep("notify_fault", &notify.fault);
        let stop = prep("notify_stop", &notify.stop);
        if any.is_none()
            && master.is_none()
            && backup.is_none()
            && fault.is_none()
            && stop.is_none()
        {
            return None;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(worker(rx, timeout));
        Some(Notifier {
            tx,
            subject,
            name: name.to_owned(),
            any,
            master,
            backup,
            fault,
            stop,
        })
    }

    /// Queues the scripts for a transition to `state`: the state-specific one, then the
    /// generic `notify` (keepalived's order). Returns at once.
    pub(crate) fn notify(&self, state: NotifyState, priority: u8) {
        let mut batch = Vec::new();
        let specific = match state {
            NotifyState::Master => &self.master,
            NotifyState::Backup => &self.backup,
            NotifyState::Fault => &self.fault,
            NotifyState::Stop => &self.stop,
        };
        if let Some(s) = specific {
            batch.push((s.clone(), Vec::new()));
        }
        if let Some(s) = &self.any {
            let subject = match self.subject {
                Subject::Instance => "INSTANCE",
                Subject::Group => "GROUP",
            };
            let priority = match self.subject {
                Subject::Instance => priority,
                Subject::Group => 0,
            };
            batch.push((
                s.clone(),
                vec![
                    subject.to_owned(),
                    self.name.clone(),
                    state.as_str().to_owned(),
                    priority.to_string(),
                ],
            ));
        }
        if !batch.is_empty() {
            // The worker only stops when the notifier is dropped.
            let _ = self.tx.send(batch);
        }
    }
}

async fn worker(mut rx: mpsc::UnboundedReceiver<Vec<(Script, Vec<String>)>>, timeout: Duration) {
    while let Some(batch) = rx.recv().await {
        for (script, args) in batch {
            let result = script.run(&args, timeout).await;
            match result {
                ProbeResult::Success => {
                    tracing::debug!(notify = script.label(), ?args, "notify script done")
                }
                ProbeResult::Timeout => tracing::warn!(
                    notify = script.label(),
                    ?args,
                    timeout_ms = timeout.as_millis() as u64,
                    "notify script timed out and was killed"
                ),
                other => {
                    tracing::warn!(notify = script.label(), ?args, result = ?other, "notify script failed")
                }
            }
        }
    }
}
