//! `exec`: run a command; exit 0 is healthy. What `vrrp_script` does in keepalived, minus the
//! ways it goes wrong: no shell unless asked, never as root by default, a clean environment,
//! and a timeout that kills the command's whole process group, so a hung `curl` started by the
//! script dies with it instead of piling up one copy per interval.

use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};

use rustix::process::{Pid, PidfdFlags, Signal, geteuid, kill_process_group, pidfd_open};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use super::users::{self, Credentials};
use crate::error::HealthError;
use crate::spec::ExecProbe;
use crate::tracker::ProbeResult;

/// The only environment variable a probe command gets.
pub(crate) const SAFE_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// A resolved, ready-to-run `exec` probe.
#[derive(Debug, Clone)]
pub(crate) struct ExecCommand {
    program: String,
    args: Vec<String>,
    /// `None` when the daemon already runs as the probe's user.
    switch_to: Option<Credentials>,
}

impl ExecCommand {
    /// Resolves the user and the argv of probe `name`.
    pub(crate) fn prepare(name: &str, probe: &ExecProbe) -> Result<Self, HealthError> {
        let creds = users::resolve(name, &probe.user)?;
        let switch_to = (geteuid().as_raw() != creds.uid).then_some(creds);
        let (program, args) = match probe.argv.split_first() {
            None => {
                return Err(HealthError::InvalidProbe {
                    probe: name.to_owned(),
                    reason: "exec: the command is empty".into(),
                });
            }
            // sh -c COMMAND NAME ARGS...: the arguments become $1.. (and $0 is "sh").
            Some((command, rest)) if probe.shell => {
                let mut args = vec!["-c".to_owned(), command.clone(), "sh".to_owned()];
                args.extend(rest.iter().cloned());
                ("/bin/sh".to_owned(), args)
            }
            Some((program, rest)) => (program.clone(), rest.to_vec()),
        };
        Ok(Self {
            program,
            args,
            switch_to,
        })
    }

    /// Runs the command once. Dropping the future (the caller's timeout) kills the process
    /// group at once.
    pub(crate) async fn run(&self) -> ProbeResult {
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(&self.args)
            .env_clear()
            .env("PATH", SAFE_PATH)
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // A new process group whose id is the child's pid: one kill reaches every process
            // the command starts (unless one makes its own group, as daemons do).
            .process_group(0)
            .kill_on_drop(true);
        if let Some(creds) = self.switch_to {
            // std sets the gid, then drops supplementary groups (setgroups(0) when the parent
            // is root), then sets the uid, in the child before exec.
            command.uid(creds.uid).gid(creds.gid);
        }
        let mut child = match command.spawn() {
            Ok(c) => c,
            Err(e) => return ProbeResult::failure(format!("cannot start {}: {e}", self.program)),
        };
        let leader = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .and_then(Pid::from_raw);
        // Declared after `child`, so dropped before it: on timeout the group is killed while
        // the leader is still unreaped and its pid (the group id) cannot be reused.
        let mut group = GroupKiller(leader);
        let status = match leader.and_then(exit_watch) {
            Some(exited) => {
                // Readable once the leader has exited; it stays a zombie until `wait` below.
                let _ = exited.readable().await;
                // Kill whatever the command left running in its group, then reap the leader.
                group.kill();
                child.wait().await
            }
            None => {
                // No pidfd (kernel older than 5.3): reap first, then clean up the group.
                let status = child.wait().await;
                group.kill();
                status
            }
        };
        match status {
            Ok(status) => exit_result(status),
            Err(e) => ProbeResult::failure(format!("waiting for {}: {e}", self.program)),
        }
    }
}

/// A pidfd for `pid`, registered with tokio: readable when the process exits (pidfd_open(2):
/// "the file descriptor becomes readable when the process terminates").
pub(crate) fn exit_watch(pid: Pid) -> Option<AsyncFd<OwnedFd>> {
    let fd = pidfd_open(pid, PidfdFlags::empty()).ok()?;
    // tokio 1.54 deprecates its safe constructors because an arbitrary `AsRawFd` type could
    // hand out different descriptors over time; the replacement is `unsafe`, which this
    // workspace forbids. An `OwnedFd` owns one open descriptor for its whole life and always
    // returns it, which is exactly the contract the unsafe constructor asks for.
    #[allow(deprecated)]
    AsyncFd::with_interest(fd, Interest::READABLE).ok()
}

fn exit_result(status: ExitStatus) -> ProbeResult {
    match (status.code(), status.signal()) {
        (Some(0), _) => ProbeResult::Success,
        (Some(code), _) => ProbeResult::failure(format!("exit status {code}")),
        (None, Some(signal)) => ProbeResult::failure(format!("killed by signal {signal}")),
        (None, None) => ProbeResult::failure(format!("ended with {status}")),
    }
}

/// Kills a process group with SIGKILL, once: when told to, or when dropped.
struct GroupKiller(Option<Pid>);

impl GroupKiller {
    fn kill(&mut self) {
        if let Some(pgid) = self.0.take() {
            // ESRCH (nothing left in the group) is the normal case after a clean exit.
            let _ = kill_process_group(pgid, Signal::KILL);
        }
    }
}

impl Drop for GroupKiller {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_and_argv_forms() {
        let mut probe = ExecProbe::new(["/usr/bin/test", "-f", "/etc/x"]);
        probe.user = "root".into();
        let c = ExecCommand::prepare("p", &probe).unwrap();
        assert_eq!(c.program, "/usr/bin/test");
        assert_eq!(c.args, ["-f", "/etc/x"]);

        let mut probe = ExecProbe::shell("test -f \"$1\"");
        probe.argv.push("/etc/x".into());
        probe.user = "root".into();
        let c = ExecCommand::prepare("p", &probe).unwrap();
        assert_eq!(c.program, "/bin/sh");
        assert_eq!(c.args, ["-c", "test -f \"$1\"", "sh", "/etc/x"]);
    }

    #[test]
    fn unknown_user_is_an_error_at_prepare_time() {
        let mut probe = ExecProbe::new(["/bin/true"]);
        probe.user = "no-such-user-vrrp-health".into();
        let err = ExecCommand::prepare("web", &probe).unwrap_err();
        assert!(matches!(err, HealthError::UnknownUser { .. }), "{err}");
    }

    #[test]
    fn a_script_says_whether_it_switches_user() {
        let mut probe = ExecProbe::new(["/bin/true"]);
        probe.user = "nobody".into();
        let nobody = Script::prepare("n", &probe).unwrap();
        let me = geteuid().as_raw();
        let expect = (me != 65534).then_some((65534, 65534));
        assert_eq!(nobody.user_switch(), expect);
    }

    #[test]
    fn exit_statuses() {
        assert_eq!(exit_result(ExitStatus::from_raw(0)), ProbeResult::Success);
        assert_eq!(
            exit_result(ExitStatus::from_raw(3 << 8)),
            ProbeResult::failure("exit status 3")
        );
        assert_eq!(
            exit_result(ExitStatus::from_raw(9)),
            ProbeResult::failure("killed by signal 9")
        );
    }
}

/// A command run exactly the way `exec` probes run (as an unprivileged user, in its own process
/// group, with a clean environment, the whole group killed on timeout): what the runtime uses
/// for notify scripts, so both follow one set of rules.
#[derive(Debug, Clone)]
pub struct Script {
    command: ExecCommand,
    label: String,
}

impl Script {
    /// Resolves the user and argv (`probe.argv`, `probe.shell`, `probe.user`) of a script named
    /// `label` (used in error messages).
    pub fn prepare(label: &str, probe: &ExecProbe) -> Result<Self, HealthError> {
        Ok(Script {
            command: ExecCommand::prepare(label, probe)?,
            label: label.to_owned(),
        })
    }

    /// The label given to [`Script::prepare`].
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The uid and gid the script switches to before it starts, or `None` when it runs as
    /// the daemon's own user. A switch needs CAP_SETUID and CAP_SETGID in the daemon.
    pub fn user_switch(&self) -> Option<(u32, u32)> {
        self.command.switch_to.map(|c| (c.uid, c.gid))
    }

    /// Runs the script once, with `extra_args` appended to its argv, and waits at most
    /// `timeout` (then the whole process group is killed and the result is
    /// [`ProbeResult::Timeout`]).
    pub async fn run(&self, extra_args: &[String], timeout: std::time::Duration) -> ProbeResult {
        let mut command = self.command.clone();
        command.args.extend(extra_args.iter().cloned());
        match tokio::time::timeout(timeout, command.run()).await {
            Ok(result) => result,
            Err(_) => ProbeResult::Timeout,
        }
    }
}
