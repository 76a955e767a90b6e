//! `exec` probes: exit codes, user switch to `nobody`, clean environment, no shell unless
//! asked, and a timeout that kills the whole process group. Needs root (to switch users);
//! skipped otherwise unless CI is set. No sockets are opened, so no namespace is needed.

// Test code: a panic is a failed assertion, in helpers as in tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;
use std::time::Duration;

use support::{PATIENCE, TempDir, next_event, require_root};
use vrrp_health::{
    ExecProbe, HealthState, ProbeEvent, ProbeKind, ProbeResult, ProbeRunner, ProbeSpec,
};

fn spec(probe: ExecProbe, timeout: Duration) -> ProbeSpec {
    let mut spec = ProbeSpec::new("exec", ProbeKind::Exec(probe));
    spec.timeout = timeout;
    spec.interval = Duration::from_secs(30);
    spec
}

async fn first_verdict(spec: ProbeSpec) -> ProbeEvent {
    let (mut runner, mut events) = ProbeRunner::new();
    runner.spawn(spec).unwrap();
    assert_eq!(
        next_event(&mut events, PATIENCE).await.state,
        HealthState::Unknown
    );
    next_event(&mut events, PATIENCE).await
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Whether `pid` is gone, or dead and waiting to be reaped by someone else (our test process
/// is not its parent once its parent is killed).
fn is_gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next());
            matches!(state, Some('Z' | 'X'))
        }
    }
}

fn read_pid(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let pid = text.trim().to_owned();
    assert!(pid.parse::<u32>().is_ok(), "{pid:?}");
    pid
}

#[test]
fn exec_exit_codes_decide() {
    if !require_root("exec_exit_codes_decide") {
        return;
    }
    runtime().block_on(async {
        let ok = first_verdict(spec(ExecProbe::new(["/bin/true"]), Duration::from_secs(5))).await;
        assert!(ok.healthy);
        assert_eq!(ok.result, Some(ProbeResult::Success));

        let three = first_verdict(spec(ExecProbe::shell("exit 3"), Duration::from_secs(5))).await;
        assert!(!three.healthy);
        assert_eq!(three.result, Some(ProbeResult::failure("exit status 3")));

        let missing = first_verdict(spec(
            ExecProbe::new(["/no/such/check_nginx.sh"]),
            Duration::from_secs(5),
        ))
        .await;
        match missing.result {
            Some(ProbeResult::Failure { reason }) => {
                assert!(
                    reason.starts_with("cannot start /no/such/check_nginx.sh"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn exec_without_shell_passes_arguments_verbatim() {
    if !require_root("exec_without_shell_passes_arguments_verbatim") {
        return;
    }
    let dir = TempDir::new("exarg");
    // A file name a shell would split and expand.
    let tricky = dir.path().join("a b;$(false)*");
    std::fs::write(&tricky, "").unwrap();
    let tricky = tricky.to_str().unwrap().to_owned();
    runtime().block_on(async {
        let direct = ExecProbe::new(["/usr/bin/test", "-f", &tricky]);
        assert!(
            first_verdict(spec(direct, Duration::from_secs(5)))
                .await
                .healthy
        );
        // With the shell, the arguments after the command line are $1, $2...
        let mut quoted = ExecProbe::shell("test -f \"$1\"");
        quoted.argv.push(tricky.clone());
        assert!(
            first_verdict(spec(quoted, Duration::from_secs(5)))
                .await
                .healthy
        );
        // Control: the unquoted shell form word-splits the name and fails.
        let mut unquoted = ExecProbe::shell("test -f $1");
        unquoted.argv.push(tricky.clone());
        assert!(
            !first_verdict(spec(unquoted, Duration::from_secs(5)))
                .await
                .healthy
        );
    });
}

#[test]
fn exec_runs_as_nobody_without_supplementary_groups() {
    if !require_root("exec_runs_as_nobody_without_supplementary_groups") {
        return;
    }
    let dir = TempDir::new("exid");
    let out = dir.path().join("id.txt");
    let command = format!("id -u > {0}; id -g >> {0}; id -G >> {0}", out.display());
    runtime().block_on(async {
        let event = first_verdict(spec(ExecProbe::shell(&command), Duration::from_secs(5))).await;
        assert!(event.healthy, "{event:?}");
    });
    let ids = std::fs::read_to_string(&out).unwrap();
    assert_eq!(ids, "65534\n65534\n65534\n", "uid, gid, groups");

    // Control: the same check as root (the daemon's own user: no switch) sees uid 0.
    runtime().block_on(async {
        let mut as_root = ExecProbe::shell("[ \"$(id -u)\" = 65534 ]");
        as_root.user = "root".into();
        assert!(
            !first_verdict(spec(as_root, Duration::from_secs(5)))
                .await
                .healthy
        );
        let as_nobody = ExecProbe::shell("[ \"$(id -u)\" = 65534 ]");
        assert!(
            first_verdict(spec(as_nobody, Duration::from_secs(5)))
                .await
                .healthy
        );
    });
}

#[test]
fn exec_environment_is_clean() {
    if !require_root("exec_environment_is_clean") {
        return;
    }
    // The test process has cargo's variables; the probe must not see them.
    assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some());
    let dir = TempDir::new("exenv");
    let out = dir.path().join("env.txt");
    runtime().block_on(async {
        let probe = ExecProbe::new([
            "/bin/sh",
            "-c",
            "/usr/bin/env > \"$0\"; pwd >> \"$0\"",
            out.to_str().unwrap(),
        ]);
        assert!(
            first_verdict(spec(probe, Duration::from_secs(5)))
                .await
                .healthy
        );
    });
    let env = std::fs::read_to_string(&out).unwrap();
    let mut lines: Vec<&str> = env.lines().collect();
    assert_eq!(lines.pop(), Some("/"), "working directory");
    let names: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.split_once('='))
        .map(|(k, _)| k)
        .collect();
    assert!(
        lines.contains(&"PATH=/usr/sbin:/usr/bin:/sbin:/bin"),
        "{env}"
    );
    // /bin/sh itself may export PWD; nothing else may be there.
    for name in &names {
        assert!(
            ["PATH", "PWD"].contains(name),
            "unexpected variable {name} in:\n{env}"
        );
    }
}

#[test]
fn exec_timeout_kills_the_whole_process_group() {
    if !require_root("exec_timeout_kills_the_whole_process_group") {
        return;
    }
    let dir = TempDir::new("exkill");
    let script = dir.script(
        "check_nginx.sh",
        &format!(
            "echo $$ > {d}/script.pid\nsleep 600 &\necho $! > {d}/child.pid\nwait",
            d = dir.path().display()
        ),
    );
    runtime().block_on(async {
        let event = first_verdict(spec(
            ExecProbe::new([script.to_str().unwrap()]),
            // Long enough for the script to write both pid files even on a loaded machine.
            Duration::from_millis(1500),
        ))
        .await;
        assert_eq!(event.result, Some(ProbeResult::Timeout));
    });
    let script_pid = read_pid(&dir.path().join("script.pid"));
    let child_pid = read_pid(&dir.path().join("child.pid"));
    // SIGKILL was sent to the group before the timeout was reported; allow the kernel a
    // moment to finish the exits (bounded; this is not a timing assertion).
    for _ in 0..200 {
        if is_gone(&script_pid) && is_gone(&child_pid) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!(
        "still running after the timeout: script {script_pid} gone={}, child sleep {child_pid} gone={}",
        is_gone(&script_pid),
        is_gone(&child_pid)
    );
}

#[test]
fn exec_leftovers_of_a_finished_command_are_killed() {
    if !require_root("exec_leftovers_of_a_finished_command_are_killed") {
        return;
    }
    let dir = TempDir::new("exleft");
    let command = format!(
        "sleep 600 & echo $! > {}/child.pid; exit 0",
        dir.path().display()
    );
    runtime().block_on(async {
        let event = first_verdict(spec(ExecProbe::shell(&command), Duration::from_secs(5))).await;
        assert!(event.healthy);
    });
    let child_pid = read_pid(&dir.path().join("child.pid"));
    for _ in 0..200 {
        if is_gone(&child_pid) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("background sleep {child_pid} outlived its probe run");
}
