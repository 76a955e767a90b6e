//! `vrrpd demo`, the README's first command, run as a user runs it (the built binary): its
//! three scenarios pass with plausible numbers, it leaves no namespace or process behind (also
//! after a Ctrl-C), the keepalived comparison shows the classic weight that cannot move the
//! VIP, and without root it says what it needs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use vrrp_lab::require_root;

fn vrrpd() -> &'static str {
    env!("CARGO_BIN_EXE_vrrpd")
}

/// The namespaces `ip netns list` shows whose names start with `prefix`.
fn namespaces(prefix: &str) -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

/// The live descendants of process `root` (lab backends, daemons, keepalived's children).
fn descendants(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parents.push((pid, ppid));
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// Whether process `pid` still exists (and is not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

/// Asserts that nothing of the demo with process id `pid` is left on the machine:
/// namespaces, its lab directories, the processes it started (`children`).
fn assert_nothing_left(pid: u32, children: &[u32]) {
    let prefix = format!("vrlab{pid}-");
    assert_eq!(namespaces(&prefix), Vec::<String>::new(), "namespaces left");
    let dirs: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect();
    assert!(dirs.is_empty(), "lab directories left: {dirs:?}");
    let left: Vec<u32> = children.iter().copied().filter(|&p| alive(p)).collect();
    assert!(left.is_empty(), "processes left: {left:?}");
}

/// Runs `vrrpd demo ARGS` to completion; returns its pid, the processes it started (seen
/// while it ran) and its output.
fn run_demo(args: &[&str]) -> (u32, Vec<u32>, Output) {
    let mut child = Command::new(vrrpd())
        .arg("demo")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Read the pipes on threads so a full pipe never blocks the demo.
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut v = Vec::new();
        out_pipe.read_to_end(&mut v).unwrap();
        v
    });
    let stderr = std::thread::spawn(move || {
        let mut v = Vec::new();
        err_pipe.read_to_end(&mut v).unwrap();
        v
    });
    let mut children = Vec::new();
    let status = loop {
        for p in descendants(pid) {
            if !children.contains(&p) {
                children.push(p);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    };
    (pid, children, output)
}

fn scenario<'a>(scenarios: &'a Value, name: &str) -> &'a Value {
    scenarios
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no scenario {name} in {scenarios}"))
}

fn ms(s: &Value, key: &str) -> u64 {
    s[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is not a number in {s}"))
}

#[test]
fn the_demo_moves_the_vip_in_every_scenario_and_leaves_nothing_behind() {
    if !require_root() {
        return;
    }
    let (pid, children, out) = run_demo(&["--json"]);
    // Two backends and two daemons at least (more: the restarted ones).
    assert!(children.len() >= 4, "{children:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let scenarios = &report["scenarios"];
    let names: Vec<&str> = scenarios
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["backend_dies", "graceful_stop", "daemon_killed"]);
    for s in scenarios.as_array().unwrap() {
        assert_eq!(s["ok"], true, "{s}");
        // The outage the client saw never exceeds the time the VIP took to move by much.
        assert!(
            ms(s, "client_outage_ms") <= ms(s, "vip_moved_ms") + 20,
            "{s}"
        );
    }

    // The example: 100 ms adverts, backup priority 100, so Skew_Time = (256 - 100) / 256 *
    // 100 ms = 61 ms and Master_Down_Interval = 3 * 100 ms + 61 ms = 361 ms (RFC 9568 §6.1).
    let master_down = 361;
    let backend = scenario(scenarios, "backend_dies");
    let graceful = scenario(scenarios, "graceful_stop");
    // A dead Nginx puts the master in FAULT: VIP removed, priority-0 advert, the backup takes
    // over after its Skew_Time. A graceful stop does the same. Both well under a second, and
    // under a Master_Down_Interval (else the priority 0 was not honoured).
    for s in [backend, graceful] {
        let moved = ms(s, "vip_moved_ms");
        assert!(moved < master_down, "{s}");
        // The VIP left host 1 before host 2 could answer: some requests failed, not many.
        let failed = ms(s, "client_failed_requests");
        assert!((1..=40).contains(&failed), "{s}");
        assert_eq!(s["vip_holders_at_end"], serde_json::json!([2]), "{s}");
    }
    // A killed daemon sends nothing: the backup waits out its Master_Down_Interval, counted
    // from the last advert it got (up to one interval before the kill).
    let killed = scenario(scenarios, "daemon_killed");
    let moved = ms(killed, "vip_moved_ms");
    assert!(
        (master_down - 100 - 20..=master_down + 150).contains(&moved),
        "{killed}"
    );
    // Host 1 keeps the VIP (nobody removed it) and its Nginx keeps answering until the
    // backup's gratuitous ARP: (almost) no failed request.
    assert!(ms(killed, "client_failed_requests") <= 3, "{killed}");
    assert_eq!(
        killed["vip_holders_at_end"],
        serde_json::json!([1, 2]),
        "{killed}"
    );
    assert_eq!(report["ok"], true);

    assert_nothing_left(pid, &children);
}

#[test]
fn ctrl_c_tears_the_lab_down() {
    if !require_root() {
        return;
    }
    let logs = std::env::temp_dir().join(format!("vrrpd-demo-logs-{}", std::process::id()));
    let mut child = Command::new(vrrpd())
        .args(["demo", "--interval", "20ms", "--keep-logs"])
        .arg(&logs)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let prefix = format!("vrlab{pid}-");
    // Wait until the lab and its daemons run, then a little into the first scenarios.
    let start = Instant::now();
    while namespaces(&prefix).len() < 4 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the demo built no lab"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let start = Instant::now();
    let mut children: Vec<u32> = Vec::new();
    while children.len() < 4 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the demo started no daemons"
        );
        std::thread::sleep(Duration::from_millis(20));
        for p in descendants(pid) {
            if !children.contains(&p) {
                children.push(p);
            }
        }
    }
    // Into the first scenarios (the lab is ready about half a second after the daemons start).
    std::thread::sleep(Duration::from_millis(1000));
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&child),
        rustix::process::Signal::INT,
    )
    .unwrap();
    let out = child_output_within(&mut child, Duration::from_secs(15));
    assert_eq!(out.status.code(), Some(130), "{:?}", out.status.signal());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("interrupted"), "{stderr}");
    // --keep-logs kept the lab's files, also on the way out after a signal.
    let kept: Vec<String> = std::fs::read_dir(logs.join("vrrpd"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let _ = std::fs::remove_dir_all(&logs);
    assert!(
        kept.iter().any(|f| f == "vrrpd-1.toml") && kept.iter().any(|f| f.ends_with(".log")),
        "{kept:?}"
    );
    assert_nothing_left(pid, &children);
}

/// Waits for `child` (killing it after `timeout`, which fails the test) and collects output.
fn child_output_within(child: &mut std::process::Child, timeout: Duration) -> Output {
    let end = Instant::now() + timeout;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > end {
            let _ = child.kill();
            panic!("the demo did not stop within {timeout:?} of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    Output {
        status: child.wait().unwrap(),
        stdout,
        stderr,
    }
}

#[test]
fn the_keepalived_comparison_shows_the_weight_that_cannot_move_the_vip() {
    if !require_root() {
        return;
    }
    if !Path::new("/usr/sbin/keepalived").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "/usr/sbin/keepalived is missing and CI is set (apt-get install keepalived)"
        );
        eprintln!("skipping: keepalived is not installed");
        return;
    }
    let (pid, children, out) = run_demo(&["--json", "--with-keepalived"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // vrrpd's scenarios decide the exit status; keepalived's failures are the point.
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let comparisons = report["comparisons"].as_array().unwrap_or_else(|| {
        panic!("no comparisons: {report}");
    });
    let setup = |key: &str| {
        &comparisons
            .iter()
            .find(|c| c["setup"] == key)
            .unwrap_or_else(|| panic!("no {key} in {report}"))["scenarios"]
    };
    let article = setup("keepalived_article");
    let dies = scenario(article, "backend_dies");
    assert_eq!(dies["vip_moved_ms"], Value::Null, "{dies}");
    assert_eq!(dies["ok"], false, "{dies}");
    assert_eq!(dies["vip_holders_at_end"], serde_json::json!([1]), "{dies}");
    assert!(
        dies["notes"][0]
            .as_str()
            .unwrap()
            .contains("100 - 10 = 90, which still beats the backup's 80"),
        "{dies}"
    );
    let fixed = scenario(setup("keepalived_weight_30"), "backend_dies");
    assert_eq!(fixed["ok"], true, "{fixed}");
    // Two failed checks 2 s apart (the first up to 2 s after the death), then the backup's
    // Master_Down_Interval of 3 s + skew: seconds, where vrrpd takes milliseconds.
    let keepalived_ms = ms(fixed, "vip_moved_ms");
    assert!((3000..12000).contains(&keepalived_ms), "{fixed}");
    let vrrpd_ms = ms(
        scenario(&report["scenarios"], "backend_dies"),
        "vip_moved_ms",
    );
    assert!(
        vrrpd_ms * 10 < keepalived_ms,
        "{vrrpd_ms} vs {keepalived_ms}"
    );
    for key in ["keepalived_article", "keepalived_weight_30"] {
        for name in ["graceful_stop", "daemon_killed"] {
            let s = scenario(setup(key), name);
            assert_eq!(s["ok"], true, "{key} {s}");
        }
    }
    assert_nothing_left(pid, &children);
}

#[test]
fn without_root_it_says_what_it_needs_and_exits_2() {
    // As root, drop to nobody for this one run, with a copy of the binary nobody can run
    // wherever the build directory is.
    let copy = std::env::temp_dir().join(format!("vrrpd-demo-test-{}", std::process::id()));
    let mut command = if rustix::process::geteuid().is_root() {
        if !Path::new("/usr/bin/setpriv").exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "setpriv (util-linux) is missing and CI is set"
            );
            eprintln!("skipping: setpriv is not installed");
            return;
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(&copy).unwrap();
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
        let exe = copy.join("vrrpd");
        std::fs::copy(vrrpd(), &exe).unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut c = Command::new("/usr/bin/setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&exe);
        c
    } else {
        Command::new(vrrpd())
    };
    let out = command.arg("demo").output().unwrap();
    let _ = std::fs::remove_dir_all(&copy);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("vrrpd demo needs root"), "{stderr}");
    assert!(stderr.contains("network namespaces"), "{stderr}");
    assert!(out.stdout.is_empty());
}

/// The README's Quick start is exactly the demo and the test command, and CI runs that test
/// command.
#[test]
fn readme_quick_start_is_the_demo_then_the_tests_and_ci_runs_the_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Quick start"))
        .expect("a Quick start section");
    let mut commands = Vec::new();
    let mut in_code = false;
    for line in section.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if in_code && !line.trim().is_empty() {
            commands.push(line.trim());
        }
    }
    assert_eq!(
        commands,
        [
            "cargo run --release -p vrrpd -- demo",
            "cargo test --workspace"
        ]
    );
    assert!(section.contains("as root") || section.contains("As root"));
    let ci = std::fs::read_to_string(root.join(".ci/run")).unwrap();
    assert!(
        ci.lines().any(|l| l.trim() == commands[1]),
        ".ci/run does not run `{}`",
        commands[1]
    );
}
