//! `process` probes against `sleep` copies renamed through symlinks (the kernel names a process
//! after the file it executed, so `/tmp/x/nginx -> /bin/sleep` runs as `nginx`). No root or
//! network needed.

// Test code: a panic is a failed assertion, in helpers as in tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use support::{PATIENCE, TempDir, next_event};
use vrrp_health::{
    HealthState, ProbeEvent, ProbeKind, ProbeResult, ProbeRunner, ProbeSpec, ProcessMatch,
    ProcessProbe,
};

/// Kills and reaps its process on drop, so a failing test leaves nothing behind.
struct Running(Child);

impl Running {
    fn pid(&self) -> u32 {
        self.0.id()
    }
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

fn sleep_binary() -> PathBuf {
    ["/usr/bin/sleep", "/bin/sleep"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("sleep(1)")
}

/// Starts `sleep 1000` under the name `name` (a symlink in `dir`).
fn start_named(dir: &Path, name: &str) -> Running {
    let link = dir.join(name);
    if !link.exists() {
        std::os::unix::fs::symlink(sleep_binary(), &link).unwrap();
    }
    let child = Command::new(&link).arg("1000").spawn().unwrap();
    let running = Running(child);
    // Wait until the exec happened: the kernel shows the new name, then the new arguments.
    let comm_path = format!("/proc/{}/comm", running.pid());
    let cmdline_path = format!("/proc/{}/cmdline", running.pid());
    let wanted = &name.as_bytes()[..name.len().min(15)];
    for _ in 0..500 {
        if std::fs::read(&comm_path).is_ok_and(|c| c.strip_suffix(b"\n") == Some(wanted))
            && std::fs::read(&cmdline_path).is_ok_and(|c| c.ends_with(b"1000\0"))
        {
            return running;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("{name} did not start");
}

fn spec(probe: ProcessProbe, interval: Duration) -> ProbeSpec {
    let mut spec = ProbeSpec::new("proc", ProbeKind::Process(probe));
    spec.interval = interval;
    spec.timeout = Duration::from_secs(5);
    spec
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A name no real process has: other test suites may be running a real nginx.
fn unique_name(base: &str) -> String {
    format!("{base}{}", std::process::id() % 100_000)
}

fn failure_reason(event: &ProbeEvent) -> &str {
    match &event.result {
        Some(ProbeResult::Failure { reason }) => reason,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn a_script_named_check_nginx_sh_is_not_nginx() {
    let dir = TempDir::new("proc");
    let name = unique_name("ngx"); // stands for "nginx"
    let decoy_name = format!("check_{name}.sh"); // stands for "check_nginx.sh"
    let decoy = start_named(dir.path(), &decoy_name);

    // What `ps -ef | grep nginx` sees: the decoy's command line contains the name...
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", decoy.pid())).unwrap();
    assert!(String::from_utf8_lossy(&cmdline).contains(&name));

    runtime().block_on(async {
        let (mut runner, mut events) = ProbeRunner::new();
        runner
            .spawn(spec(
                ProcessProbe::named(name.clone()),
                Duration::from_millis(200),
            ))
            .unwrap();
        assert_eq!(
            next_event(&mut events, PATIENCE).await.state,
            HealthState::Unknown
        );
        // ...but it does not count as the process.
        let event = next_event(&mut events, PATIENCE).await;
        assert!(!event.healthy);
        assert!(
            failure_reason(&event).starts_with(&format!("0 process {name:?} running, 1 needed")),
            "{event:?}"
        );

        // Control: once the real one runs, the probe sees it at its next scan.
        let _real = start_named(dir.path(), &name);
        let event = next_event(&mut events, PATIENCE).await;
        assert!(event.healthy, "{event:?}");
    });
}

#[test]
fn a_watched_process_exit_is_reported_at_once_not_at_the_next_scan() {
    const INTERVAL: Duration = Duration::from_secs(10);
    let dir = TempDir::new("proc");
    let name = unique_name("vhpx");
    let mut target = start_named(dir.path(), &name);
    let pid = target.pid();

    runtime().block_on(async {
        let (mut runner, mut events) = ProbeRunner::new();
        let scan_started = Instant::now();
        runner
            .spawn(spec(ProcessProbe::named(name.clone()), INTERVAL))
            .unwrap();
        next_event(&mut events, PATIENCE).await; // initial
        let up = next_event(&mut events, PATIENCE).await;
        assert!(up.healthy, "{up:?}");
        // The first scan started at spawn; the next one is due INTERVAL after it.
        let next_scan = scan_started + INTERVAL;

        let killed_at = Instant::now();
        target.kill();
        let down = next_event(&mut events, PATIENCE).await;
        assert!(!down.healthy);
        assert_eq!(
            failure_reason(&down),
            format!("pid {pid} exited; 0 process {name:?} running, 1 needed")
        );
        assert!(
            down.at < next_scan,
            "reported at {:?} after spawn, the next scan was due at {INTERVAL:?}",
            down.at - scan_started
        );
        eprintln!(
            "process exit to probe failure event: {:?}",
            down.at.saturating_duration_since(killed_at)
        );
    });
}

#[test]
fn a_minimum_count_is_enforced() {
    let dir = TempDir::new("proc");
    let name = unique_name("vhpm");
    let _one = start_named(dir.path(), &name);
    runtime().block_on(async {
        let (mut runner, mut events) = ProbeRunner::new();
        let probe = ProcessProbe {
            min_count: 2,
            ..ProcessProbe::named(name.clone())
        };
        runner
            .spawn(spec(probe, Duration::from_millis(200)))
            .unwrap();
        next_event(&mut events, PATIENCE).await; // initial
        let event = next_event(&mut events, PATIENCE).await;
        assert!(
            failure_reason(&event).starts_with(&format!("1 process {name:?} running, 2 needed"))
        );
        let _two = start_named(dir.path(), &name);
        assert!(next_event(&mut events, PATIENCE).await.healthy);
        let status = runner.status("proc").unwrap();
        assert_eq!(status.last_result, Some(ProbeResult::Success));
    });
}

#[test]
fn an_exact_command_line_can_be_required() {
    let dir = TempDir::new("proc");
    let name = unique_name("vhpc");
    let target = start_named(dir.path(), &name);
    let argv0 = dir.path().join(&name).to_str().unwrap().to_owned();
    assert_eq!(
        std::fs::read(format!("/proc/{}/cmdline", target.pid())).unwrap(),
        format!("{argv0}\x001000\x00").into_bytes()
    );
    runtime().block_on(async {
        for (argv, healthy) in [
            (vec![argv0.clone(), "1000".to_owned()], true),
            (vec![argv0.clone()], false),
            (vec![argv0.clone(), "100".to_owned()], false),
        ] {
            let (mut runner, mut events) = ProbeRunner::new();
            let probe = ProcessProbe {
                matcher: ProcessMatch::Cmdline(argv.clone()),
                ..ProcessProbe::named("")
            };
            runner.spawn(spec(probe, Duration::from_secs(10))).unwrap();
            next_event(&mut events, PATIENCE).await; // initial
            let event = next_event(&mut events, PATIENCE).await;
            assert_eq!(event.healthy, healthy, "{argv:?}: {event:?}");
        }
    });
}

/// Starts `sleep 1000` under `name` inside a fresh network namespace (`ip netns exec`).
fn start_named_in_netns(dir: &Path, name: &str, netns: &str) -> Running {
    let link = dir.join(name);
    if !link.exists() {
        std::os::unix::fs::symlink(sleep_binary(), &link).unwrap();
    }
    let child = Command::new("ip")
        .args(["netns", "exec", netns])
        .arg(&link)
        .arg("1000")
        .spawn()
        .unwrap();
    let running = Running(child);
    let comm_path = format!("/proc/{}/comm", running.pid());
    for _ in 0..500 {
        if std::fs::read(&comm_path).is_ok_and(|c| c.strip_suffix(b"\n") == Some(name.as_bytes())) {
            return running;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("{name} did not start in {netns}");
}

/// Deletes a network namespace on drop.
struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.0])
            .status();
    }
}

#[test]
fn only_processes_in_our_network_namespace_count_unless_asked() {
    if !support::require_root("only_processes_in_our_network_namespace_count_unless_asked") {
        return;
    }
    let ns = Netns(format!("vhproc{}", std::process::id()));
    assert!(
        Command::new("ip")
            .args(["netns", "add", &ns.0])
            .status()
            .unwrap()
            .success()
    );
    let dir = TempDir::new("procns");
    let name = unique_name("vhns");
    // The same name runs in another namespace only: as on a lab machine where every host's
    // Nginx shares one PID namespace.
    let _elsewhere = start_named_in_netns(dir.path(), &name, &ns.0);

    runtime().block_on(async {
        let (mut runner, mut events) = ProbeRunner::new();
        runner
            .spawn(spec(
                ProcessProbe::named(name.clone()),
                Duration::from_millis(200),
            ))
            .unwrap();
        next_event(&mut events, PATIENCE).await; // initial
        let event = next_event(&mut events, PATIENCE).await;
        assert!(
            !event.healthy,
            "a process in another namespace must not count: {event:?}"
        );

        let mut any = spec(
            ProcessProbe {
                any_namespace: true,
                ..ProcessProbe::named(name.clone())
            },
            Duration::from_millis(200),
        );
        any.name = "any".into();
        runner.spawn(any).unwrap();
        loop {
            let event = next_event(&mut events, PATIENCE).await;
            if event.probe == "any" && event.result.is_some() {
                assert!(event.healthy, "any_namespace counts it: {event:?}");
                break;
            }
        }
    });
}
