//! `vrrpd demo [--json] [--with-keepalived] [--interval D]`: the classic Nginx failover
//! tests, run for real in network namespaces on this machine, measured from a client's view.
//!
//! The lab (crate `vrrp-lab`): host 1 (192.0.2.11) and host 2 (192.0.2.12) on one bridge,
//! each running a stand-in for Nginx (`vrrpd lab-backend`, process name `nginx`, answering
//! `GET /` with its host's name) and the real daemon (`vrrpd run`) with the shipped example
//! configs `examples/nginx-ha/master.toml` and `backup.toml` (compiled in, so the demo runs
//! from any directory), and a client host (192.0.2.13) requesting `http://192.0.2.100/` every
//! 10 ms from a thread of this process. Then, one after another, restoring the initial state
//! before each: the master's Nginx dies, the master's daemon stops (SIGTERM), the master's
//! daemon is killed (SIGKILL). Each is measured: fault → first answer from host 2 through
//! the VIP, failed client requests, client-visible outage.
//!
//! `--with-keepalived` runs the same scenarios with keepalived and the classic guide's setup
//! (a forked check script every 2 s, fall 2, rise 1, weight -10 on priorities 100/80, which
//! cannot move the VIP) and with the smallest fix (weight -30), in two more labs.
//!
//! Exit status: 0 every vrrpd scenario moved the VIP and the client recovered; 1 otherwise,
//! or the lab could not be built; 2 not root, or a bad argument; 130 interrupted (Ctrl-C or
//! SIGTERM: the labs are torn down first).

mod journal;
mod keepalived;
mod observe;
mod report;

use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use vrrp_config::LoadedConfig;
use vrrp_lab::{ChildGuard, Host, Lab};

use journal::{Journal, Measurement, Window, measure, settled, steadily_served};
use observe::{Observers, backend_answers};
use report::{Comparison, Fault, ScenarioReport, SuiteReport};

/// The shipped example configs, compiled in.
const MASTER_TOML: &str = include_str!("../../../../examples/nginx-ha/master.toml");
const BACKUP_TOML: &str = include_str!("../../../../examples/nginx-ha/backup.toml");

/// The examples' virtual IP.
const VIP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 100));
/// The labels the two backends answer with (the examples' router ids).
const LABELS: [&str; 2] = ["nginx-01", "nginx-02"];
/// How long one client request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_millis(200);

const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_INTERRUPTED: u8 = 130;

/// Arguments of `vrrpd demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Print one JSON object (`{"scenarios": [...]}`) instead of the timeline.
    #[arg(long)]
    json: bool,
    /// Also run the scenarios with keepalived (/usr/sbin/keepalived) and the classic
    /// guide's check script, side by side (about a minute more).
    #[arg(long)]
    with_keepalived: bool,
    /// How often the client requests the VIP.
    #[arg(long, value_name = "D", default_value = "10ms", value_parser = vrrp_config::parse_duration)]
    interval: Duration,
    /// Copy the daemons' logs and configs into DIR/<setup>/ before each lab is torn down.
    #[arg(long, value_name = "DIR")]
    keep_logs: Option<PathBuf>,
}

/// Set by SIGINT / SIGTERM; every wait of the demo checks it and unwinds, dropping the labs.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The error that unwinds the demo after a signal.
#[derive(Debug)]
struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

fn check_interrupted() -> anyhow::Result<()> {
    if INTERRUPTED.load(Ordering::Relaxed) {
        return Err(Interrupted.into());
    }
    Ok(())
}

/// Sleeps `d`, waking early (with an error) on a signal.
fn pause(d: Duration) -> anyhow::Result<()> {
    let end = Instant::now() + d;
    loop {
        check_interrupted()?;
        let now = Instant::now();
        if now >= end {
            return Ok(());
        }
        std::thread::sleep((end - now).min(Duration::from_millis(10)));
    }
}

/// Polls `cond` every 10 ms for up to `timeout`; `Ok(false)` if it never held.
fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> anyhow::Result<bool> {
    let end = Instant::now() + timeout;
    loop {
        if cond() {
            return Ok(true);
        }
        if Instant::now() >= end {
            return Ok(false);
        }
        pause(Duration::from_millis(10))?;
    }
}

/// Catches SIGINT and SIGTERM on a thread of their own for the rest of the process, so that
/// a Ctrl-C unwinds the demo (and drops its labs) instead of killing it.
fn catch_signals() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("demo-signals".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    return;
                }
            };
            runtime.block_on(async {
                let (mut int, mut term) = match (
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::terminate()),
                ) {
                    (Ok(i), Ok(t)) => (i, t),
                    (Err(e), _) | (_, Err(e)) => {
                        let _ = tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = tx.send(Ok(()));
                loop {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                    INTERRUPTED.store(true, Ordering::Relaxed);
                }
            });
        })
        .context("starting the signal thread")?;
    match rx.recv_timeout(Duration::from_secs(5)) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => bail!("handling SIGINT/SIGTERM: {e}"),
        Err(_) => bail!("the signal thread did not start"),
    }
}

/// Runs `vrrpd demo`.
pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    if !rustix::process::geteuid().is_root() {
        eprintln!(
            "vrrpd demo needs root: it builds network namespaces, veth pairs and a bridge \
             (CAP_SYS_ADMIN, CAP_NET_ADMIN) and runs vrrpd in them (CAP_NET_RAW). Nothing \
             outside those namespaces is touched. Run it as root, e.g. \
             `sudo {} demo`.",
            std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "vrrpd".into())
        );
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    if !(Duration::from_millis(1)..=Duration::from_secs(1)).contains(&args.interval) {
        eprintln!("vrrpd demo: --interval must be between 1ms and 1s");
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    if let Err(e) = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map_err(|e| e.to_string())
        .and_then(|o| {
            o.status
                .success()
                .then_some(())
                .ok_or_else(|| String::from_utf8_lossy(&o.stderr).trim().to_owned())
        })
    {
        eprintln!(
            "vrrpd demo needs iproute2's `ip` with network namespace support (`ip netns`): {e}"
        );
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    catch_signals()?;
    match demo(args) {
        Ok(code) => Ok(code),
        Err(e) if e.downcast_ref::<Interrupted>().is_some() => {
            eprintln!("vrrpd demo: interrupted; the lab has been torn down");
            Ok(ExitCode::from(EXIT_INTERRUPTED))
        }
        Err(e) => Err(e),
    }
}

/// Options shared by every suite.
#[derive(Debug, Clone, Copy)]
struct Options<'a> {
    /// The client's request period.
    period: Duration,
    /// Where to copy each lab's logs (`--keep-logs`).
    keep_logs: Option<&'a Path>,
    /// Requests in a row that make "served steadily" (about 100 ms worth).
    settle: usize,
}

fn demo(args: &Args) -> anyhow::Result<ExitCode> {
    let settle_ms = 100u128.max(args.interval.as_millis() * 5);
    let opts = Options {
        period: args.interval,
        keep_logs: args.keep_logs.as_deref(),
        settle: usize::try_from(settle_ms / args.interval.as_millis().max(1))
            .unwrap_or(10)
            .max(5),
    };
    let exe = std::env::current_exe().context("finding this program (for vrrpd run)")?;
    let json = args.json;
    // Human output streams to stdout as scenarios finish; with --json, stdout gets only the
    // object and a line of progress goes to stderr.
    let say = |text: &str| {
        if json {
            eprintln!("vrrpd demo: {}", text.trim());
        } else {
            print!("{text}");
            let _ = std::io::stdout().flush();
        }
    };

    let vrrpd_suite = Suite::vrrpd()?;
    if !json {
        say(&report::header(&vrrpd_suite.report_shell()));
    } else {
        say("running the vrrpd scenarios");
    }
    let vrrpd = vrrpd_suite.run(&exe, opts, &|number, s| {
        if json {
            say(&format!(
                "{}: {}",
                s.fault.name(),
                if s.ok() { "ok" } else { "FAILED" }
            ));
        } else {
            say(&report::scenario(number, "vrrpd", s));
        }
    })?;

    let comparison = if args.with_keepalived {
        compare_with_keepalived(&exe, opts, &say)?
    } else {
        Comparison::NotAsked
    };

    if json {
        println!("{}", report::to_json(&vrrpd, &comparison));
    } else {
        let mut suites = vec![&vrrpd];
        match &comparison {
            Comparison::NotAsked => {}
            Comparison::Skipped(why) => println!("\nkeepalived comparison skipped: {why}"),
            Comparison::Ran(reports) => {
                for r in reports {
                    println!();
                    print!("{}", report::header(r));
                    for (i, s) in r.scenarios.iter().enumerate() {
                        print!("{}", report::scenario(i + 1, "keepalived", s));
                    }
                }
                suites.extend(reports.iter());
            }
        }
        print!("{}", report::summary(&suites));
        println!(
            "\n{}",
            if vrrpd.ok() {
                "vrrpd: every scenario moved the VIP and the client recovered. The labs are gone."
            } else {
                "vrrpd: NOT every scenario moved the VIP and recovered (see above). The labs are gone."
            }
        );
    }
    Ok(if vrrpd.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    })
}

/// Runs the two keepalived setups, each in its own lab, at the same time (each takes tens
/// of seconds: keepalived's checks and adverts run on whole seconds).
fn compare_with_keepalived(
    exe: &Path,
    opts: Options<'_>,
    say: &(dyn Fn(&str) + Sync),
) -> anyhow::Result<Comparison> {
    if !Path::new(keepalived::KEEPALIVED).exists() {
        let why = format!(
            "{} is not installed (Debian: apt-get install keepalived)",
            keepalived::KEEPALIVED
        );
        say(&format!("\nkeepalived comparison skipped: {why}\n"));
        return Ok(Comparison::Skipped(why));
    }
    say(
        "\nNow the same with keepalived and the classic check script (interval 2, fall 2, \
         rise 1), in two more labs at once; this takes about a minute.\n",
    );
    let setups = [keepalived::ARTICLE, keepalived::WEIGHT_30];
    let results: Vec<anyhow::Result<SuiteReport>> = std::thread::scope(|scope| {
        let handles: Vec<_> = setups
            .iter()
            .map(|setup| {
                scope.spawn(move || {
                    Suite::keepalived(*setup).run(exe, opts, &|_, s| {
                        say(&format!(
                            "  {}: {}: {}\n",
                            setup.key,
                            s.fault.title(),
                            s.measurement
                                .as_ref()
                                .and_then(|m| m.vip_moved)
                                .map_or_else(
                                    || "the VIP did not move".to_owned(),
                                    |d| format!("VIP moved in {}", report::duration(d))
                                )
                        ));
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("a keepalived lab thread panicked")))
            })
            .collect()
    });
    let mut reports = Vec::new();
    for r in results {
        match r {
            Ok(report) => reports.push(report),
            Err(e) if e.downcast_ref::<Interrupted>().is_some() => return Err(e),
            Err(e) => {
                let why = format!("the keepalived lab failed: {e:#}");
                say(&format!("\n{why}\n"));
                return Ok(Comparison::Skipped(why));
            }
        }
    }
    Ok(Comparison::Ran(reports))
}

/// Which daemon a suite runs on the two hosts.
#[derive(Debug, Clone, Copy)]
enum Daemon {
    Vrrpd,
    Keepalived(keepalived::Setup),
}

impl Daemon {
    fn name(self) -> &'static str {
        match self {
            Daemon::Vrrpd => "vrrpd",
            Daemon::Keepalived(_) => "keepalived",
        }
    }
}

/// One setup through every scenario, in a lab of its own.
#[derive(Debug)]
struct Suite {
    daemon: Daemon,
    key: &'static str,
    title: String,
    description: Vec<String>,
    /// How long after a fault the VIP may take to move before the scenario fails.
    window: Duration,
    /// How long restoring the initial state may take.
    restore_timeout: Duration,
}

impl Suite {
    fn vrrpd() -> anyhow::Result<Self> {
        let master = example_instance("master.toml", MASTER_TOML)?;
        let backup = example_instance("backup.toml", BACKUP_TOML)?;
        Ok(Self {
            daemon: Daemon::Vrrpd,
            key: "vrrpd",
            title: format!(
                "vrrpd demo: two Nginx hosts behind the virtual IP {VIP}, in network namespaces"
            ),
            description: vec![
                format!(
                    "host 1  nginx-01  192.0.2.11  vrrpd run --config examples/nginx-ha/master.toml (priority {}, adverts every {})",
                    master.0,
                    report::duration(master.1)
                ),
                format!(
                    "host 2  nginx-02  192.0.2.12  vrrpd run --config examples/nginx-ha/backup.toml (priority {}, adverts every {})",
                    backup.0,
                    report::duration(backup.1)
                ),
                format!(
                    "client            192.0.2.13  GET http://{VIP}/ over and over, {} timeout per request",
                    report::duration(REQUEST_TIMEOUT)
                ),
                "each host's \"nginx\" is a stand-in (vrrpd lab-backend) answering GET / with its host's name".into(),
            ],
            window: Duration::from_secs(5),
            restore_timeout: Duration::from_secs(10),
        })
    }

    fn keepalived(setup: keepalived::Setup) -> Self {
        let mut description = vec![
            format!(
                "host 1  keepalived, state MASTER, priority {}; host 2  state BACKUP, priority {}; VRRPv2, advert_int 1, PASS auth",
                setup.master_priority, setup.backup_priority
            ),
            format!(
                "vrrp_script: ps + curl check forked every 2 s, fall 2, rise 1, weight {}",
                setup.weight
            ),
        ];
        if let Some(note) = setup.weight_note() {
            description.push(format!("beware: {note}"));
        }
        Self {
            daemon: Daemon::Keepalived(setup),
            key: setup.key,
            title: setup.title.to_owned(),
            description,
            // Check failure: up to (fall + 1) script intervals; then Master_Down_Interval
            // (3 s + skew) on the backup; plus margin.
            window: Duration::from_secs(12),
            restore_timeout: Duration::from_secs(20),
        }
    }

    /// The report's heading before any scenario ran.
    fn report_shell(&self) -> SuiteReport {
        SuiteReport {
            key: self.key,
            title: self.title.clone(),
            description: self.description.clone(),
            scenarios: Vec::new(),
        }
    }

    /// Builds the lab, runs every scenario (calling `each` after each one), tears it down.
    fn run(
        &self,
        exe: &Path,
        opts: Options<'_>,
        each: &dyn Fn(usize, &ScenarioReport),
    ) -> anyhow::Result<SuiteReport> {
        check_interrupted()?;
        // Declared first, dropped last: everything below lives in it.
        let lab = Lab::new(3).context("building the lab (network namespaces)")?;
        let result = self.run_in(&lab, exe, opts, each);
        if let Some(dir) = opts.keep_logs {
            let dir = dir.join(self.key);
            if let Err(e) = copy_files(lab.dir(), &dir) {
                eprintln!(
                    "vrrpd demo: cannot keep the logs in {}: {e:#}",
                    dir.display()
                );
            }
        }
        result
    }

    fn run_in(
        &self,
        lab: &Lab,
        exe: &Path,
        opts: Options<'_>,
        each: &dyn Fn(usize, &ScenarioReport),
    ) -> anyhow::Result<SuiteReport> {
        let journal = Journal::default();
        let (h1, h2, client) = (lab.host(1)?, lab.host(2)?, lab.host(3)?);
        let _observers = Observers::start(
            &[h1, h2],
            client,
            VIP,
            opts.period,
            REQUEST_TIMEOUT,
            &journal,
        )?;
        let mut bench = Bench {
            lab,
            suite: self,
            exe,
            opts,
            journal,
            nodes: [Node::new(h1), Node::new(h2)],
        };
        let mut report = self.report_shell();
        let mut previous = None;
        for (i, fault) in Fault::ALL.into_iter().enumerate() {
            let restore = bench.restore(previous);
            previous = Some(fault);
            let scenario = match restore {
                Ok(took) => bench.scenario(fault, took)?,
                Err(e) => {
                    if e.downcast_ref::<Interrupted>().is_some() {
                        return Err(e);
                    }
                    ScenarioReport {
                        fault,
                        restore: Err(format!("{e:#}")),
                        measurement: None,
                        notes: bench.logs(),
                    }
                }
            };
            each(i + 1, &scenario);
            let stop = scenario.restore.is_err();
            report.scenarios.push(scenario);
            if stop {
                break;
            }
        }
        Ok(report)
    }
}

/// Copies the regular files of `from` (logs, configs, pid files) into `to`.
fn copy_files(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// The priority and advert interval of an example config's first instance.
fn example_instance(name: &str, text: &str) -> anyhow::Result<(u8, Duration)> {
    let loaded = LoadedConfig::parse(name, text).map_err(|e| anyhow!("{e}"))?;
    let instance = loaded
        .config
        .instances
        .first()
        .with_context(|| format!("{name} has no instance"))?;
    Ok((instance.priority, instance.advert_interval))
}

/// A running daemon on a lab host.
struct Running {
    child: ChildGuard,
    /// keepalived's VRRP child (it forks one).
    vrrp_pid: Option<PathBuf>,
    /// vrrpd's control socket.
    socket: Option<PathBuf>,
}

/// One of the two server hosts and what runs on it.
struct Node<'l> {
    host: &'l Host,
    backend: Option<ChildGuard>,
    daemon: Option<Running>,
}

impl<'l> Node<'l> {
    fn new(host: &'l Host) -> Self {
        Self {
            host,
            backend: None,
            daemon: None,
        }
    }

    fn backend_running(&mut self) -> bool {
        self.backend
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    fn daemon_running(&mut self) -> bool {
        self.daemon
            .as_mut()
            .is_some_and(|d| matches!(d.child.try_wait(), Ok(None)))
    }
}

/// A lab with its two server hosts, the daemon under test and the records.
struct Bench<'l> {
    lab: &'l Lab,
    suite: &'l Suite,
    exe: &'l Path,
    opts: Options<'l>,
    journal: Journal,
    nodes: [Node<'l>; 2],
}

impl Bench<'_> {
    fn path(p: &Path) -> String {
        p.to_string_lossy().into_owned()
    }

    fn start_backend(&mut self, i: usize) -> anyhow::Result<()> {
        let exe = Self::path(self.exe);
        let node = &mut self.nodes[i];
        node.backend = None; // reap a dead one first
        let child = node.host.spawn(&[
            &exe,
            "lab-backend",
            "--listen",
            "0.0.0.0:80",
            "--name",
            "nginx",
            "--label",
            LABELS[i],
        ])?;
        let host = node.host;
        let up = wait_for(Duration::from_secs(5), || {
            backend_answers(host).unwrap_or(false)
        })?;
        if !up {
            bail!(
                "the backend on host {} did not start:\n{}",
                host.number(),
                child.log()
            );
        }
        node.backend = Some(child);
        Ok(())
    }

    fn start_daemon(&mut self, i: usize) -> anyhow::Result<()> {
        let dir = self.lab.dir().to_owned();
        let exe = Self::path(self.exe);
        let node = &mut self.nodes[i];
        node.daemon = None; // reap (or kill) the old one first
        let n = node.host.number();
        let running = match self.suite.daemon {
            Daemon::Vrrpd => {
                let config = dir.join(format!("vrrpd-{n}.toml"));
                let socket = dir.join(format!("vrrpd-{n}.sock"));
                std::fs::write(&config, if i == 0 { MASTER_TOML } else { BACKUP_TOML })
                    .with_context(|| format!("writing {}", config.display()))?;
                let _ = std::fs::remove_file(&socket);
                let child = node.host.spawn(&[
                    &exe,
                    "run",
                    "--config",
                    &Self::path(&config),
                    "--socket",
                    &Self::path(&socket),
                ])?;
                Running {
                    child,
                    vrrp_pid: None,
                    socket: Some(socket),
                }
            }
            Daemon::Keepalived(setup) => {
                let script = dir.join("check_nginx.sh");
                if !script.exists() {
                    std::fs::write(&script, keepalived::CHECK_SCRIPT)
                        .with_context(|| format!("writing {}", script.display()))?;
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
                        .with_context(|| format!("making {} executable", script.display()))?;
                }
                let files = keepalived::Files::new(&dir, n);
                std::fs::write(
                    &files.config,
                    keepalived::config(&setup, i == 0, LABELS[i], &script),
                )
                .with_context(|| format!("writing {}", files.config.display()))?;
                let _ = std::fs::remove_file(&files.pid);
                let _ = std::fs::remove_file(&files.vrrp_pid);
                let argv = files.argv(&format!("h{n}"));
                let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
                let child = node.host.spawn(&argv)?;
                Running {
                    child,
                    vrrp_pid: Some(files.vrrp_pid),
                    socket: None,
                }
            }
        };
        // Started: vrrpd's control socket, or keepalived's VRRP child's pid file, exists.
        let ready_file = running
            .socket
            .clone()
            .or_else(|| running.vrrp_pid.clone())
            .unwrap_or_default();
        let mut running = running;
        let started = wait_for(Duration::from_secs(5), || {
            ready_file.exists() && matches!(running.child.try_wait(), Ok(None))
        })?;
        if !started {
            bail!(
                "{} on host {n} did not start:\n{}",
                self.suite.daemon.name(),
                running.child.log()
            );
        }
        node.daemon = Some(running);
        Ok(())
    }

    /// Brings back the initial state (both backends and daemons running, host 1 holding the
    /// VIP, the client served by host 1) and says how long that took.
    fn restore(&mut self, previous: Option<Fault>) -> anyhow::Result<Duration> {
        let start = Instant::now();
        if matches!(previous, Some(Fault::GracefulStop | Fault::DaemonKilled)) {
            // Let a stopping daemon finish its handover (keepalived takes a while) before a
            // new one starts; one that hangs is killed when its guard is dropped.
            if let Some(daemon) = self.nodes[0].daemon.as_mut() {
                daemon.child.wait_timeout(Duration::from_secs(5))?;
            }
            self.nodes[0].daemon = None;
        }
        let mut backend_restarted = false;
        for i in 0..2 {
            if !self.nodes[i].backend_running() {
                self.start_backend(i)?;
                backend_restarted = true;
            }
        }
        for i in 0..2 {
            if !self.nodes[i].daemon_running() {
                self.start_daemon(i)?;
            }
        }
        let journal = self.journal.clone();
        let settle = self.opts.settle;
        let back = wait_for(self.suite.restore_timeout, || {
            journal.holders() == [1]
                && steadily_served(&journal.samples_since(start), LABELS[0], settle)
        })?;
        if !back {
            bail!(
                "after {}, VIP holders {:?} (want host 1 only) and the client is not served \
                 steadily by {}",
                report::duration(self.suite.restore_timeout),
                self.journal.holders(),
                LABELS[0]
            );
        }
        match self.suite.daemon {
            Daemon::Vrrpd => {
                // Both daemons must see healthy probes and the right roles.
                let healthy = wait_for(Duration::from_secs(5), || {
                    self.vrrpd_states()
                        .is_ok_and(|s| s == [("MASTER", true), ("BACKUP", true)])
                })?;
                if !healthy {
                    bail!(
                        "the daemons do not report MASTER and BACKUP with healthy probes: {}",
                        self.vrrpd_summary()
                    );
                }
            }
            Daemon::Keepalived(_) => {
                // keepalived's check only notices a restarted Nginx at its next run (rise 1):
                // give it one interval so the next scenario starts from full priority.
                if backend_restarted {
                    pause(Duration::from_millis(2500))?;
                }
            }
        }
        Ok(start.elapsed())
    }

    /// (state, all probes healthy) of each host's vrrpd.
    fn vrrpd_states(&self) -> anyhow::Result<Vec<(&'static str, bool)>> {
        let mut out = Vec::new();
        for node in &self.nodes {
            let status = vrrpd_status(node)?;
            let instance = &status["instances"][0];
            let state = match instance["state"].as_str() {
                Some("MASTER") => "MASTER",
                Some("BACKUP") => "BACKUP",
                Some("FAULT") => "FAULT",
                _ => "other",
            };
            let healthy = instance["probes"]
                .as_array()
                .is_some_and(|p| p.iter().all(|p| p["healthy"] == true));
            out.push((state, healthy));
        }
        Ok(out)
    }

    /// One line per running vrrpd: `host 1: FAULT (last change: fault)`.
    fn vrrpd_summary(&self) -> String {
        let mut parts = Vec::new();
        for node in &self.nodes {
            let n = node.host.number();
            match vrrpd_status(node) {
                Ok(status) => {
                    let i = &status["instances"][0];
                    parts.push(format!(
                        "host {n} {} (priority {}, last change: {})",
                        i["state"].as_str().unwrap_or("?"),
                        i["effective_priority"],
                        i["last_transition"]["reason"].as_str().unwrap_or("none"),
                    ));
                }
                Err(_) => parts.push(format!("host {n} not running")),
            }
        }
        parts.join("; ")
    }

    /// Injects `fault` on host 1, watches until host 2 serves the client steadily (or the
    /// window closes), and measures.
    fn scenario(&mut self, fault: Fault, restored: Duration) -> anyhow::Result<ScenarioReport> {
        let holders_before = self.journal.holders();
        let at = self.inject(fault)?;
        let window_end = at + self.suite.window;
        loop {
            pause(Duration::from_millis(10))?;
            let now = Instant::now();
            let samples = self.journal.samples_since(at);
            if now >= window_end
                || settled(&samples, LABELS[1], self.opts.settle, REQUEST_TIMEOUT, now)
            {
                break;
            }
        }
        let end = Instant::now();
        let m = measure(
            &self.journal.samples_since(at),
            &self.journal.vip_since(at),
            Window {
                fault: at,
                end,
                new_label: LABELS[1],
                holders_before: &holders_before,
                settle: self.opts.settle,
            },
        );
        let notes = self.notes(fault, &m);
        Ok(ScenarioReport {
            fault,
            restore: Ok(restored),
            measurement: Some(m),
            notes,
        })
    }

    /// Does `fault` to host 1; returns the moment just before.
    fn inject(&mut self, fault: Fault) -> anyhow::Result<Instant> {
        let node = &mut self.nodes[0];
        let at = Instant::now();
        match fault {
            Fault::BackendDies => node
                .backend
                .as_ref()
                .context("host 1 has no backend")?
                .kill()?,
            Fault::GracefulStop => node
                .daemon
                .as_ref()
                .context("host 1 has no daemon")?
                .child
                .terminate()?,
            Fault::DaemonKilled => {
                let daemon = node.daemon.as_ref().context("host 1 has no daemon")?;
                // keepalived: the VRRP child first (it holds the state), then the parent; it
                // runs with --dont-respawn, so nothing comes back.
                if let Some(pid) = daemon
                    .vrrp_pid
                    .as_ref()
                    .and_then(|f| std::fs::read_to_string(f).ok())
                    .and_then(|t| t.trim().parse::<i32>().ok())
                    .and_then(rustix::process::Pid::from_raw)
                {
                    rustix::process::kill_process(pid, rustix::process::Signal::KILL)
                        .context("killing keepalived's VRRP process")?;
                }
                daemon.child.kill()?;
            }
        }
        Ok(at)
    }

    /// Explanations for the numbers of one scenario.
    fn notes(&self, fault: Fault, m: &Measurement) -> Vec<String> {
        let mut notes = Vec::new();
        if let Daemon::Keepalived(setup) = self.suite.daemon
            && fault == Fault::BackendDies
            && m.vip_moved.is_none()
            && let Some(note) = setup.weight_note()
        {
            notes.push(note);
        }
        if m.holders_at_end.contains(&1) && m.holders_at_end.contains(&2) {
            notes.push(format!(
                "host 1 still has the VIP: a killed daemon cannot remove it. Host 2's \
                 gratuitous ARP moved the client; restarting {} on host 1 cleans it up",
                self.suite.daemon.name()
            ));
        }
        if fault == Fault::DaemonKilled
            && m.failed_requests == 0
            && let Some(moved) = m.vip_moved
        {
            notes.push(format!(
                "the client saw no failure only because host 1's Nginx kept answering on \
                     the VIP the killed daemon left behind; had the whole host died, clients \
                     would have seen about {} of outage: the backup's Master_Down_Interval, \
                     counted from the master's last advert",
                report::duration(moved)
            ));
        }
        if let Daemon::Vrrpd = self.suite.daemon {
            notes.push(format!("vrrpd status: {}", self.vrrpd_summary()));
        }
        notes
    }

    /// The tails of the daemons' logs, for a failed restore.
    fn logs(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter_map(|node| {
                let log = node.daemon.as_ref()?.child.log();
                let tail: Vec<&str> = log.lines().rev().take(8).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                Some(format!(
                    "host {} {} log:\n      {}",
                    node.host.number(),
                    self.suite.daemon.name(),
                    tail.join("\n      ")
                ))
            })
            .collect()
    }
}

/// `vrrpd status --json` of a node's daemon, over its control socket.
fn vrrpd_status(node: &Node<'_>) -> anyhow::Result<serde_json::Value> {
    let socket = node
        .daemon
        .as_ref()
        .and_then(|d| d.socket.clone())
        .context("no vrrpd running")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting a tokio runtime")?;
    let reply = runtime.block_on(crate::control::request(&socket, "status"))?;
    serde_json::from_str(&reply).context("vrrpd's status is not JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_examples_parse_and_the_master_outranks_the_backup() {
        let (master, interval) = example_instance("master.toml", MASTER_TOML).unwrap();
        let (backup, backup_interval) = example_instance("backup.toml", BACKUP_TOML).unwrap();
        assert!(master > backup);
        assert_eq!(interval, backup_interval);
        assert!(MASTER_TOML.contains("192.0.2.100/24"));
        assert!(BACKUP_TOML.contains("192.0.2.100/24"));
    }
}
