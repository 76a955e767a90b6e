//! keepalived (2.2.7, Debian's package) as a lab peer: the interop partner and the benchmark
//! baseline.
//!
//! [`KeepalivedConfig`] is a small typed form of the keepalived.conf subset vrrp-rs is
//! compared with (VRRP instances, `vrrp_script`, `vrrp_track_process`, notify hooks, unicast,
//! v2 authentication); [`KeepalivedConfig::render`] checks it and writes the file text.
//! [`Keepalived::start`] runs it inside a lab host:
//!
//! ```text
//! ip netns exec <host> env TMPDIR=DIR keepalived -n -l -D -G -P -f DIR/keepalived.conf \
//!     -p DIR/keepalived.pid -r DIR/vrrp.pid -c DIR/checkers.pid -b DIR/bfd.pid
//! ```
//!
//! in the foreground (`-n`), logging to the console (`-l -D`, captured in the process log) and
//! never to syslog (`-G`), VRRP only (`-P`), with every pid file in a directory of its own
//! under the lab's directory, so nothing under /etc or /run is read or written and several
//! keepalived run side by side. `TMPDIR` points keepalived's dump files (the statistics it
//! writes on SIGUSR2, read by [`Keepalived::stats`]) into that directory too, instead of the
//! machine's shared /tmp. keepalived is two processes: the parent, which only watches,
//! and the VRRP child that sends the adverts; [`Keepalived::pids`] names both.
//!
//! Checking that it was happy with its peer: [`Keepalived::stats`] (its per-instance counters:
//! adverts, packet and authentication errors, priority 0) and [`Keepalived::receive_errors`]
//! (the log lines of adverts it discarded, which also covers bad checksums: keepalived logs
//! those but has no counter for them).
//!
//! Stopping it:
//! - [`Keepalived::terminate`] sends SIGTERM to the parent: the graceful stop (the VRRP child
//!   removes its VIPs and sends priority-0 adverts).
//! - [`Keepalived::crash`] models host death: it stops the parent (SIGSTOP, so it cannot respawn
//!   the child or pass a signal on), SIGKILLs the VRRP child, then SIGKILLs the parent. The
//!   returned [`SignalMoment`] is read right before the SIGKILL of the child, the process that
//!   sends the adverts. The same happens when a [`Keepalived`] is dropped.
//!
//! ```no_run
//! use std::time::Duration;
//! use vrrp_lab::keepalived::{Keepalived, KeepalivedConfig, VrrpInstance, VirtualIp, InstanceState};
//! use vrrp_lab::Lab;
//!
//! # fn main() -> Result<(), vrrp_lab::LabError> {
//! let lab = Lab::new(2)?;
//! let vip = VirtualIp::new("192.0.2.100".parse().unwrap(), 32);
//! let mut instance = VrrpInstance::new("VI_1", "eth0", 51, 200, vec![vip]);
//! instance.advert_interval = Duration::from_millis(100);
//! let mut config = KeepalivedConfig::new("h1");
//! config.instances.push(instance);
//! let master = Keepalived::start(lab.host(1)?, &config)?;
//! master.wait_for_state("VI_1", InstanceState::Master, Duration::from_secs(5))?;
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

use crate::error::{LabError, Result};
use crate::{ChildGuard, Host, SignalMoment};

static DAEMON_COUNTER: AtomicU32 = AtomicU32::new(0);
/// How long keepalived may take to fork its VRRP child and write its pid file.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the wait helpers look again.
const POLL: Duration = Duration::from_millis(5);

/// Whether keepalived can be run here (`keepalived --version` works).
///
/// Like [`require_root`](crate::require_root): returns `false` and says why on stderr, or
/// panics when the `CI` environment variable is set (CI installs keepalived, so a test that
/// needs it must fail there, never skip).
#[allow(clippy::panic)] // the documented contract: CI must not skip these tests
pub fn require_keepalived() -> bool {
    let found = std::process::Command::new("keepalived")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var_os("CI").is_some() {
            panic!("this test needs keepalived and CI is set, but it is not installed");
        }
        eprintln!("skipping: this test needs keepalived, which is not installed");
    }
    found
}

/// A virtual address of an instance: `ADDR/LEN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VirtualIp {
    /// The address.
    pub ip: IpAddr,
    /// Its prefix length (32 / 128 for a host address).
    pub prefix_len: u8,
}

impl VirtualIp {
    /// `ip/prefix_len`.
    pub fn new(ip: IpAddr, prefix_len: u8) -> Self {
        Self { ip, prefix_len }
    }

    /// A host address: /32 for IPv4, /128 for IPv6.
    pub fn host(ip: IpAddr) -> Self {
        let prefix_len = if ip.is_ipv4() { 32 } else { 128 };
        Self { ip, prefix_len }
    }
}

impl std::fmt::Display for VirtualIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.ip, self.prefix_len)
    }
}

/// The `state` line of an instance: only the state keepalived starts in (priority decides
/// after that).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum InitialState {
    /// `state BACKUP`: start as a backup and wait Master_Down_Interval, as RFC 9568 §6.4.1
    /// wants for a non-owner.
    #[default]
    Backup,
    /// `state MASTER`: become master at once (a keepalived extension).
    Master,
}

/// A reference to a tracked object (`track_script`, `track_process`, `track_interface`) with
/// an optional per-instance weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackRef {
    /// The script, process or interface name.
    pub name: String,
    /// `weight W` after the name; `None` keeps the tracked object's own weight.
    pub weight: Option<i32>,
}

impl TrackRef {
    /// A reference without a weight of its own.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            weight: None,
        }
    }
}

/// A `vrrp_script` block: a command run every `interval`; its exit status is the check result.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VrrpScript {
    /// The script's name (what instances put in `track_script`).
    pub name: String,
    /// The command line, as keepalived's `script "..."` (keepalived splits it into words; no
    /// shell runs unless the command is one).
    pub script: String,
    /// Time between runs: whole seconds, at least 1 (keepalived's default is 1 s; 2.2.7
    /// ignores anything else).
    pub interval: Duration,
    /// A run still going after this counts as failed, whole seconds (`None`: keepalived's
    /// default).
    pub timeout: Option<Duration>,
    /// Consecutive failures that make the script failed.
    pub fall: u32,
    /// Consecutive successes that make it healthy again.
    pub rise: u32,
    /// Priority change while failed (negative) or healthy (positive); 0: failure means FAULT.
    pub weight: i32,
    /// `init_fail`: start as failed.
    pub init_fail: bool,
    /// `user USER`: who the script runs as (`None`: keepalived's `script_user`).
    pub user: Option<String>,
}

impl VrrpScript {
    /// A script with keepalived's defaults: interval 1 s, fall 1, rise 1, no weight.
    pub fn new(name: impl Into<String>, script: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            script: script.into(),
            interval: Duration::from_secs(1),
            timeout: None,
            fall: 1,
            rise: 1,
            weight: 0,
            init_fail: false,
            user: None,
        }
    }
}

/// A `vrrp_track_process` block: keepalived watches the processes named `process` through the
/// kernel's process connector (events, no polling).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrackProcess {
    /// The block's name (what instances put in `track_process`).
    pub name: String,
    /// The process name to match (`/proc/PID/comm`, or the command line with
    /// `full_command`).
    pub process: String,
    /// Match the whole command line instead of the name.
    pub full_command: bool,
    /// Processes needed for the check to pass.
    pub quorum: u32,
    /// Priority change while failed (negative) or healthy (positive); 0: failure means FAULT.
    pub weight: i32,
    /// `delay`: how long the quorum must be lost (or regained) before it counts (`None`:
    /// keepalived's default, immediate).
    pub delay: Option<Duration>,
}

impl TrackProcess {
    /// A block with quorum 1, no weight and no delay.
    pub fn new(name: impl Into<String>, process: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            process: process.into(),
            full_command: false,
            quorum: 1,
            weight: 0,
            delay: None,
        }
    }
}

/// A `vrrp_instance` block.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VrrpInstance {
    /// The instance name (keepalived logs it as `(NAME)`).
    pub name: String,
    /// The interface adverts go out on and VIPs are added to.
    pub interface: String,
    /// Virtual router id, 1..=255.
    pub vrid: u8,
    /// Priority, 1..=255.
    pub priority: u8,
    /// VRRP version, 2 or 3.
    pub version: u8,
    /// Advertisement interval: v3 in 10 ms steps from 10 ms to 40.95 s, v2 whole seconds.
    pub advert_interval: Duration,
    /// The `state` keepalived starts in.
    pub initial_state: InitialState,
    /// The virtual addresses, all of one family.
    pub virtual_ips: Vec<VirtualIp>,
    /// `nopreempt`.
    pub nopreempt: bool,
    /// `preempt_delay`.
    pub preempt_delay: Option<Duration>,
    /// v2 `authentication { auth_type PASS; auth_pass ... }`.
    pub auth_pass: Option<String>,
    /// `unicast_src_ip`.
    pub unicast_src: Option<IpAddr>,
    /// `unicast_peer { ... }`: adverts go to these peers instead of the multicast group.
    pub unicast_peers: Vec<IpAddr>,
    /// `track_script { ... }`.
    pub track_scripts: Vec<TrackRef>,
    /// `track_process { ... }`.
    pub track_processes: Vec<TrackRef>,
    /// `track_interface { ... }`.
    pub track_interfaces: Vec<TrackRef>,
    /// `notify "CMD"`: run as `CMD INSTANCE NAME STATE PRIORITY`.
    pub notify: Option<String>,
    /// `notify_master "CMD ARGS"`.
    pub notify_master: Option<String>,
    /// `notify_backup "CMD ARGS"`.
    pub notify_backup: Option<String>,
    /// `notify_fault "CMD ARGS"`.
    pub notify_fault: Option<String>,
    /// `notify_stop "CMD ARGS"`.
    pub notify_stop: Option<String>,
    /// `garp_master_repeat`: gratuitous ARPs / NAs per burst on becoming master.
    pub garp_master_repeat: Option<u32>,
    /// `garp_master_delay`: seconds until the second burst (0: none).
    pub garp_master_delay: Option<u32>,
    /// `garp_master_refresh`: seconds between refreshes while master (0: off).
    pub garp_master_refresh: Option<u32>,
    /// `use_vmac`: the VIPs go on a macvlan with the virtual MAC.
    pub use_vmac: bool,
    /// Extra lines written verbatim inside the block.
    pub extra: Vec<String>,
}

impl VrrpInstance {
    /// A VRRPv3 instance with a 1 s interval, initial state BACKUP, multicast, preemption on.
    pub fn new(
        name: impl Into<String>,
        interface: impl Into<String>,
        vrid: u8,
        priority: u8,
        virtual_ips: Vec<VirtualIp>,
    ) -> Self {
        Self {
            name: name.into(),
            interface: interface.into(),
            vrid,
            priority,
            version: 3,
            advert_interval: Duration::from_secs(1),
            initial_state: InitialState::Backup,
            virtual_ips,
            nopreempt: false,
            preempt_delay: None,
            auth_pass: None,
            unicast_src: None,
            unicast_peers: Vec::new(),
            track_scripts: Vec::new(),
            track_processes: Vec::new(),
            track_interfaces: Vec::new(),
            notify: None,
            notify_master: None,
            notify_backup: None,
            notify_fault: None,
            notify_stop: None,
            garp_master_repeat: None,
            garp_master_delay: None,
            garp_master_refresh: None,
            use_vmac: false,
            extra: Vec::new(),
        }
    }

    /// Whether the VIPs are IPv6 (keepalived then runs VRRP over IPv6).
    pub fn is_ipv6(&self) -> bool {
        self.virtual_ips.first().is_some_and(|v| v.ip.is_ipv6())
    }

    /// Skew_Time of this instance (RFC 9568 §6.1 for v3: `((256 - Priority) ×
    /// Master_Adver_Interval) / 256`, with its own interval; RFC 3768 §6.1 for v2:
    /// `(256 - Priority) / 256` s).
    pub fn skew_time(&self) -> Duration {
        let weight = 256 - u32::from(self.priority);
        if self.version == 2 {
            Duration::from_secs(1) * weight / 256
        } else {
            self.advert_interval * weight / 256
        }
    }

    /// Master_Down_Interval: `3 × interval + Skew_Time` (RFC 9568 §6.1, RFC 3768 §6.1).
    pub fn master_down_interval(&self) -> Duration {
        self.advert_interval * 3 + self.skew_time()
    }

    fn check(&self) -> Result<()> {
        let bad = |why: String| Err(LabError::Invalid(format!("instance {}: {why}", self.name)));
        if self.vrid == 0 {
            return bad("vrid 0 (1..=255)".into());
        }
        if self.priority == 0 {
            return bad("priority 0 (1..=255)".into());
        }
        let centis = self.advert_interval.as_millis();
        match self.version {
            3 => {
                // RFC 9568 §5.2.7: Max Adver Int is 12 bits of centiseconds.
                if !self.advert_interval.as_nanos().is_multiple_of(10_000_000)
                    || !(10..=40_950).contains(&centis)
                {
                    return bad(format!(
                        "v3 advert interval {:?} is not 10 ms..40.95 s in 10 ms steps",
                        self.advert_interval
                    ));
                }
                if self.auth_pass.is_some() {
                    return bad("authentication needs version 2".into());
                }
            }
            2 => {
                // RFC 3768 §5.3.7: Adver Int is 8 bits of seconds.
                let secs = self.advert_interval.as_secs();
                if self.advert_interval.subsec_nanos() != 0 || !(1..=255).contains(&secs) {
                    return bad(format!(
                        "v2 advert interval {:?} is not 1..=255 whole seconds",
                        self.advert_interval
                    ));
                }
                if self.is_ipv6() {
                    return bad("VRRPv2 carries IPv4 only".into());
                }
            }
            v => return bad(format!("version {v} (2 or 3)")),
        }
        let Some(first) = self.virtual_ips.first() else {
            return bad("no virtual IP".into());
        };
        if self
            .virtual_ips
            .iter()
            .any(|v| v.ip.is_ipv4() != first.ip.is_ipv4())
        {
            return bad("virtual IPs of two families".into());
        }
        Ok(())
    }

    fn render_into(&self, out: &mut String) {
        let _ = writeln!(out, "vrrp_instance {} {{", self.name);
        let state = match self.initial_state {
            InitialState::Backup => "BACKUP",
            InitialState::Master => "MASTER",
        };
        let _ = writeln!(out, "    state {state}");
        let _ = writeln!(out, "    interface {}", self.interface);
        let _ = writeln!(out, "    virtual_router_id {}", self.vrid);
        let _ = writeln!(out, "    priority {}", self.priority);
        let _ = writeln!(out, "    version {}", self.version);
        let _ = writeln!(out, "    advert_int {}", seconds(self.advert_interval));
        if self.nopreempt {
            out.push_str("    nopreempt\n");
        }
        if let Some(delay) = self.preempt_delay {
            let _ = writeln!(out, "    preempt_delay {}", seconds(delay));
        }
        if let Some(pass) = &self.auth_pass {
            let _ = writeln!(
                out,
                "    authentication {{\n        auth_type PASS\n        auth_pass {pass}\n    }}"
            );
        }
        if let Some(src) = self.unicast_src {
            let _ = writeln!(out, "    unicast_src_ip {src}");
        }
        if !self.unicast_peers.is_empty() {
            out.push_str("    unicast_peer {\n");
            for peer in &self.unicast_peers {
                let _ = writeln!(out, "        {peer}");
            }
            out.push_str("    }\n");
        }
        if self.use_vmac {
            out.push_str("    use_vmac\n");
        }
        for (key, value) in [
            ("garp_master_repeat", self.garp_master_repeat),
            ("garp_master_delay", self.garp_master_delay),
            ("garp_master_refresh", self.garp_master_refresh),
        ] {
            if let Some(value) = value {
                let _ = writeln!(out, "    {key} {value}");
            }
        }
        out.push_str("    virtual_ipaddress {\n");
        for vip in &self.virtual_ips {
            let _ = writeln!(out, "        {vip}");
        }
        out.push_str("    }\n");
        for (block, refs) in [
            ("track_script", &self.track_scripts),
            ("track_process", &self.track_processes),
            ("track_interface", &self.track_interfaces),
        ] {
            if refs.is_empty() {
                continue;
            }
            let _ = writeln!(out, "    {block} {{");
            for r in refs {
                match r.weight {
                    Some(w) => {
                        let _ = writeln!(out, "        {} weight {w}", r.name);
                    }
                    None => {
                        let _ = writeln!(out, "        {}", r.name);
                    }
                }
            }
            out.push_str("    }\n");
        }
        for (key, value) in [
            ("notify", &self.notify),
            ("notify_master", &self.notify_master),
            ("notify_backup", &self.notify_backup),
            ("notify_fault", &self.notify_fault),
            ("notify_stop", &self.notify_stop),
        ] {
            if let Some(command) = value {
                let _ = writeln!(out, "    {key} {}", quote(command));
            }
        }
        for line in &self.extra {
            let _ = writeln!(out, "    {line}");
        }
        out.push_str("}\n");
    }
}

/// A whole keepalived.conf: `global_defs`, scripts, tracked processes and instances.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeepalivedConfig {
    /// `router_id` in `global_defs`.
    pub router_id: String,
    /// `script_user`: who runs scripts and notify commands. Defaults to root, which keepalived
    /// would otherwise warn about (the lab runs as root anyway).
    pub script_user: String,
    /// Extra lines written verbatim inside `global_defs`.
    pub global_extra: Vec<String>,
    /// `vrrp_script` blocks.
    pub scripts: Vec<VrrpScript>,
    /// `vrrp_track_process` blocks.
    pub track_processes: Vec<TrackProcess>,
    /// `vrrp_instance` blocks.
    pub instances: Vec<VrrpInstance>,
}

impl KeepalivedConfig {
    /// An empty config (add instances) for a node named `router_id`.
    pub fn new(router_id: impl Into<String>) -> Self {
        Self {
            router_id: router_id.into(),
            script_user: "root".into(),
            global_extra: Vec::new(),
            scripts: Vec::new(),
            track_processes: Vec::new(),
            instances: Vec::new(),
        }
    }

    /// The instance named `name`.
    pub fn instance(&self, name: &str) -> Option<&VrrpInstance> {
        self.instances.iter().find(|i| i.name == name)
    }

    /// Checks the config (ranges keepalived would reject or silently change, references to
    /// undefined scripts) and writes the keepalived.conf text.
    pub fn render(&self) -> Result<String> {
        if self.instances.is_empty() {
            return Err(LabError::Invalid(
                "keepalived config without instances".into(),
            ));
        }
        for script in &self.scripts {
            // keepalived 2.2.7 reads both as whole seconds and ignores anything else.
            let whole = |d: Duration| d.subsec_nanos() == 0 && d.as_secs() >= 1;
            if !whole(script.interval) || !script.timeout.is_none_or(whole) {
                return Err(LabError::Invalid(format!(
                    "vrrp_script {}: keepalived takes interval and timeout in whole seconds (at least 1)",
                    script.name
                )));
            }
        }
        for instance in &self.instances {
            instance.check()?;
            for r in &instance.track_scripts {
                if !self.scripts.iter().any(|s| s.name == r.name) {
                    return Err(LabError::Invalid(format!(
                        "instance {} tracks undefined script {}",
                        instance.name, r.name
                    )));
                }
            }
            for r in &instance.track_processes {
                if !self.track_processes.iter().any(|p| p.name == r.name) {
                    return Err(LabError::Invalid(format!(
                        "instance {} tracks undefined process block {}",
                        instance.name, r.name
                    )));
                }
            }
        }
        let mut out = String::new();
        out.push_str("# written by vrrp-lab\n");
        out.push_str("global_defs {\n");
        let _ = writeln!(out, "    router_id {}", self.router_id);
        let _ = writeln!(out, "    script_user {}", self.script_user);
        for line in &self.global_extra {
            let _ = writeln!(out, "    {line}");
        }
        out.push_str("}\n");
        for script in &self.scripts {
            let _ = writeln!(out, "vrrp_script {} {{", script.name);
            let _ = writeln!(out, "    script {}", quote(&script.script));
            let _ = writeln!(out, "    interval {}", seconds(script.interval));
            if let Some(timeout) = script.timeout {
                let _ = writeln!(out, "    timeout {}", seconds(timeout));
            }
            let _ = writeln!(out, "    fall {}", script.fall);
            let _ = writeln!(out, "    rise {}", script.rise);
            if script.weight != 0 {
                let _ = writeln!(out, "    weight {}", script.weight);
            }
            if script.init_fail {
                out.push_str("    init_fail\n");
            }
            if let Some(user) = &script.user {
                let _ = writeln!(out, "    user {user}");
            }
            out.push_str("}\n");
        }
        for process in &self.track_processes {
            let _ = writeln!(out, "vrrp_track_process {} {{", process.name);
            let _ = writeln!(out, "    process {}", quote(&process.process));
            if process.full_command {
                out.push_str("    full_command\n");
            }
            let _ = writeln!(out, "    quorum {}", process.quorum);
            if process.weight != 0 {
                let _ = writeln!(out, "    weight {}", process.weight);
            }
            if let Some(delay) = process.delay {
                let _ = writeln!(out, "    delay {}", seconds(delay));
            }
            out.push_str("}\n");
        }
        for instance in &self.instances {
            instance.render_into(&mut out);
        }
        Ok(out)
    }
}

/// What keepalived logged as an instance's state (`(NAME) Entering X STATE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InstanceState {
    /// BACKUP.
    Backup,
    /// MASTER.
    Master,
    /// FAULT.
    Fault,
}

/// A keepalived running inside a lab host. Dropping it kills it the way
/// [`crash`](Keepalived::crash) does.
#[derive(Debug)]
pub struct Keepalived {
    child: Option<ChildGuard>,
    dir: PathBuf,
    config_path: PathBuf,
    vrrp_pid_file: PathBuf,
    vrrp_pid: u32,
    instances: Vec<String>,
    /// The log as it was when [`Keepalived::crash`] reaped the process.
    crash_log: String,
}

impl Keepalived {
    /// Writes `config` to a directory of its own under the lab's directory and starts
    /// keepalived in `host`; returns once the VRRP child is running (its pid file names a
    /// live process), or an error with keepalived's log if it exits first.
    pub fn start(host: &Host, config: &KeepalivedConfig) -> Result<Self> {
        let text = config.render()?;
        let dir = host.dir.join(format!(
            "keepalived-h{}-{}",
            host.number(),
            DAEMON_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).map_err(|source| LabError::File {
            path: dir.clone(),
            source,
        })?;
        let config_path = dir.join("keepalived.conf");
        std::fs::write(&config_path, text).map_err(|source| LabError::File {
            path: config_path.clone(),
            source,
        })?;
        let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
        let (conf, pid, vrrp, checkers, bfd) = (
            path("keepalived.conf"),
            path("keepalived.pid"),
            path("vrrp.pid"),
            path("checkers.pid"),
            path("bfd.pid"),
        );
        let tmpdir = format!("TMPDIR={}", dir.to_string_lossy());
        let child = host.spawn(&[
            "env",
            &tmpdir,
            "keepalived",
            "-n",
            "-l",
            "-D",
            "-G",
            "-P",
            "-f",
            &conf,
            "-p",
            &pid,
            "-r",
            &vrrp,
            "-c",
            &checkers,
            "-b",
            &bfd,
        ])?;
        let mut daemon = Self {
            child: Some(child),
            vrrp_pid_file: PathBuf::from(vrrp),
            dir,
            config_path,
            vrrp_pid: 0,
            instances: config.instances.iter().map(|i| i.name.clone()).collect(),
            crash_log: String::new(),
        };
        daemon.vrrp_pid = daemon.wait_for_vrrp_child()?;
        Ok(daemon)
    }

    fn wait_for_vrrp_child(&mut self) -> Result<u32> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(pid) = read_pid(&self.vrrp_pid_file)
                && process_alive(pid)
            {
                return Ok(pid);
            }
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                return Err(LabError::Invalid(format!(
                    "keepalived exited ({status}) before its VRRP child started: {}",
                    child.log()
                )));
            }
            if Instant::now() >= deadline {
                return Err(LabError::Timeout(format!(
                    "keepalived wrote no VRRP pid file in {START_TIMEOUT:?}: {}",
                    self.log()
                )));
            }
            std::thread::sleep(POLL);
        }
    }

    /// The parent process's pid.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(ChildGuard::pid)
    }

    /// The VRRP child's pid (the process that sends adverts).
    pub fn vrrp_pid(&self) -> u32 {
        self.vrrp_pid
    }

    /// Every process of this keepalived that is still alive: the parent and the VRRP child.
    /// (Scripts and notify commands it forks are short-lived and not listed.)
    pub fn pids(&self) -> Vec<u32> {
        self.pid()
            .into_iter()
            .chain(std::iter::once(self.vrrp_pid))
            .filter(|&p| process_alive(p))
            .collect()
    }

    /// The directory holding its config and pid files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The keepalived.conf it runs.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Everything it logged so far (after [`crash`](Keepalived::crash): everything it
    /// logged before it died).
    pub fn log(&self) -> String {
        self.child
            .as_ref()
            .map_or_else(|| self.crash_log.clone(), ChildGuard::log)
    }

    /// The state keepalived last logged for `instance`, if any.
    pub fn state(&self, instance: &str) -> Option<InstanceState> {
        last_state(&self.log(), instance)
    }

    /// Waits until keepalived logs that `instance` entered `state` (or is in it already).
    pub fn wait_for_state(
        &self,
        instance: &str,
        state: InstanceState,
        timeout: Duration,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.state(instance) == Some(state) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(LabError::Timeout(format!(
                    "keepalived instance {instance} not {state:?} after {timeout:?}: {}",
                    self.log()
                )));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Asks the VRRP child for its counters (SIGUSR2: keepalived writes `keepalived.stats` in
    /// its `TMPDIR`, this daemon's directory) and returns them per instance, once every
    /// instance of the config is in the file.
    pub fn stats(&self) -> Result<BTreeMap<String, InstanceStats>> {
        let path = self.dir.join("keepalived.stats");
        // A fresh file for this request: never an older dump.
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(LabError::File { path, source: e });
            }
            _ => {}
        }
        signal_pid(self.vrrp_pid, Signal::USR2)?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            // keepalived writes the file in pieces: parse it once every instance's block is
            // complete (its last counter, `Priority Zero: Sent`, is there).
            if let Ok(text) = std::fs::read_to_string(&path) {
                let stats = parse_stats(&text);
                let complete = self.instances.iter().all(|name| {
                    stats
                        .get(name)
                        .is_some_and(|s| s.get("priority_zero.sent").is_some())
                });
                if complete {
                    return Ok(stats);
                }
            }
            if Instant::now() >= deadline {
                return Err(LabError::Timeout(format!(
                    "keepalived wrote no complete {} within {START_TIMEOUT:?} of SIGUSR2: {}",
                    path.display(),
                    self.log()
                )));
            }
            std::thread::sleep(POLL);
        }
    }

    /// The lines of its log where it discarded a received advert (bad checksum, TTL,
    /// version, type, length, address list, interval, authentication, unicast vs multicast)
    /// or switched to another checksum form to accept a peer's. Empty when every advert it
    /// received passed its checks. keepalived counts some of these in [`stats`] too, but bad
    /// checksums only here.
    ///
    /// [`stats`]: Keepalived::stats
    pub fn receive_errors(&self) -> Vec<String> {
        receive_error_lines(&self.log())
    }

    /// Sends SIGHUP: keepalived re-reads its config file (rewrite [`config_path`] first).
    ///
    /// [`config_path`]: Keepalived::config_path
    pub fn reload(&self) -> Result<SignalMoment> {
        self.signal_parent(Signal::HUP)
    }

    /// Sends SIGTERM to the parent: the graceful stop (VIPs removed, priority-0 adverts).
    /// Returns the moment right before the signal.
    pub fn terminate(&self) -> Result<SignalMoment> {
        self.signal_parent(Signal::TERM)
    }

    fn signal_parent(&self, signal: Signal) -> Result<SignalMoment> {
        let pid = self
            .pid()
            .ok_or_else(|| LabError::Invalid("keepalived already stopped".into()))?;
        signal_pid(pid, signal)
    }

    /// [`terminate`](Keepalived::terminate), then waits up to `timeout` for it to exit.
    pub fn stop(&mut self, timeout: Duration) -> Result<ExitStatus> {
        self.terminate()?;
        match self.wait_exit(timeout)? {
            Some(status) => Ok(status),
            None => Err(LabError::Timeout(format!(
                "keepalived did not exit within {timeout:?} of SIGTERM: {}",
                self.log()
            ))),
        }
    }

    /// Host death: SIGSTOP the parent, SIGKILL the VRRP child, SIGKILL the parent, reap it.
    /// Returns the moment right before the child's SIGKILL. Nothing is removed: the VIPs stay
    /// on the interface, as on a host that lost power.
    pub fn crash(&mut self) -> Result<SignalMoment> {
        if let Some(pid) = self.pid() {
            // Stopped, the parent can neither respawn the child nor forward a signal to it.
            signal_pid(pid, Signal::STOP)?;
        }
        let moment = signal_pid(self.vrrp_pid, Signal::KILL);
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            // Reaps it (and SIGKILLs again, harmlessly).
            drop(child.wait_timeout(Duration::from_secs(5)));
            self.crash_log = child.log();
        }
        // SIGKILL is delivered asynchronously: return once the child is really gone (reaped,
        // or a zombie waiting for init), so that nothing of it runs after this returns.
        let deadline = Instant::now() + Duration::from_secs(5);
        while process_alive(self.vrrp_pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        moment
    }

    /// Waits up to `timeout` for the parent to exit; its status, or `None` if still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        match self.child.as_mut() {
            Some(child) => child.wait_timeout(timeout),
            None => Ok(None),
        }
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.crash();
        }
    }
}

/// One instance's counters from keepalived's SIGUSR2 dump (see [`Keepalived::stats`]).
///
/// Keys are keepalived's own labels in snake case, `section.label` inside a section:
/// `advertisements.received`, `advertisements.sent`, `became_master`, `released_master`,
/// `packet_errors.length`, `packet_errors.ttl`, `packet_errors.invalid_type`,
/// `packet_errors.advertisement_interval`, `packet_errors.address_list`,
/// `authentication_errors.invalid_type`, `authentication_errors.type_mismatch`,
/// `authentication_errors.failure`, `priority_zero.received`, `priority_zero.sent`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstanceStats {
    /// Every counter of the instance.
    pub counters: BTreeMap<String, u64>,
}

impl InstanceStats {
    /// The counter `key`, if keepalived wrote it.
    pub fn get(&self, key: &str) -> Option<u64> {
        self.counters.get(key).copied()
    }

    /// The non-zero counters of the error sections (`packet_errors.*`,
    /// `authentication_errors.*`): adverts keepalived discarded.
    pub fn errors(&self) -> Vec<(String, u64)> {
        self.counters
            .iter()
            .filter(|(key, value)| {
                **value != 0
                    && (key.starts_with("packet_errors.")
                        || key.starts_with("authentication_errors."))
            })
            .map(|(key, value)| (key.clone(), *value))
            .collect()
    }
}

/// Parses keepalived's `keepalived.stats` (written on SIGUSR2): per instance name, its
/// counters. Lines it does not understand are skipped.
pub fn parse_stats(text: &str) -> BTreeMap<String, InstanceStats> {
    let mut out: BTreeMap<String, InstanceStats> = BTreeMap::new();
    let mut instance: Option<String> = None;
    let mut section: Option<String> = None;
    let snake = |label: &str| label.trim().to_ascii_lowercase().replace(' ', "_");
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("VRRP Instance:") {
            let name = name.trim().to_owned();
            out.entry(name.clone()).or_default();
            instance = Some(name);
            section = None;
            continue;
        }
        let Some(name) = instance.as_ref() else {
            continue;
        };
        let indent = line.len() - line.trim_start().len();
        let Some((label, value)) = line.trim().split_once(':') else {
            continue;
        };
        let value = value.trim();
        if value.is_empty() {
            // `  Packet Errors:` opens a section.
            section = Some(snake(label));
            continue;
        }
        let Ok(value) = value.parse::<u64>() else {
            continue;
        };
        let key = match (&section, indent > 2) {
            (Some(section), true) => format!("{section}.{}", snake(label)),
            _ => {
                section = None;
                snake(label)
            }
        };
        if let Some(stats) = out.get_mut(name) {
            stats.counters.insert(key, value);
        }
    }
    out
}

/// What keepalived 2.2.7 logs when it discards a received advert (vrrp.c's receive checks;
/// the texts are in its binary), or when it switches to the old unicast checksum to accept a
/// peer's adverts.
const RECEIVE_ERROR_MARKS: &[&str] = &[
    "Invalid VRRPv3 checksum",
    "Invalid VRRPv2 checksum",
    "invalid TTL/HL",
    "wrong version",
    "auth, expecting",
    "received an invalid passwd",
    "Invalid auth type",
    "Received AH header",
    "IPSEC-AH",
    "advertisement interval mismatch",
    "Invalid packet type",
    "unexpected ip number count",
    "ip_tot_len mismatch",
    "vrrp packet too ",
    "VRRP packet too short",
    "VRRP packet with AH too short",
    "icast packet but received",
    "VIPs but received",
    "not present in MASTER advert",
    "received from remote host with our IP address",
    "Setting unicast VRRPv3 checksum to old version",
];

/// The lines of `log` that report a discarded advert (see [`Keepalived::receive_errors`]).
fn receive_error_lines(log: &str) -> Vec<String> {
    log.lines()
        .filter(|line| RECEIVE_ERROR_MARKS.iter().any(|mark| line.contains(mark)))
        .map(str::to_owned)
        .collect()
}

/// Sends `signal` to `pid`, reading the clocks right before.
fn signal_pid(pid: u32, signal: Signal) -> Result<SignalMoment> {
    let target = i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| LabError::Invalid(format!("pid {pid}")))?;
    let moment = SignalMoment::now();
    kill_process(target, signal).map_err(|e| LabError::Spawn {
        command: format!("kill -{signal:?} {pid}"),
        source: e.into(),
    })?;
    Ok(moment)
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Alive and not a zombie.
fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // The state follows the parenthesised name, which may contain spaces.
            let rest = &stat[stat.rfind(')')? + 1..];
            rest.split_whitespace().next().map(|s| s != "Z" && s != "X")
        })
        .unwrap_or(false)
}

/// The state in the last `(NAME) Entering X STATE` line of `log`.
fn last_state(log: &str, instance: &str) -> Option<InstanceState> {
    let tag = format!("({instance}) Entering ");
    log.lines().rev().find_map(|line| {
        let rest = &line[line.find(&tag)? + tag.len()..];
        match rest.split_whitespace().next()? {
            "MASTER" => Some(InstanceState::Master),
            "BACKUP" => Some(InstanceState::Backup),
            "FAULT" => Some(InstanceState::Fault),
            _ => None,
        }
    })
}

/// A duration in keepalived's decimal seconds: `1`, `0.1`, `0.01`, `2.5`.
fn seconds(d: Duration) -> String {
    let micros = d.as_micros();
    let (whole, frac) = (micros / 1_000_000, micros % 1_000_000);
    if frac == 0 {
        return whole.to_string();
    }
    let frac = format!("{frac:06}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// A keepalived string: double-quoted, inner quotes and backslashes escaped.
fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vip(text: &str) -> VirtualIp {
        VirtualIp::host(text.parse().unwrap())
    }

    #[test]
    fn seconds_are_written_as_keepalived_reads_them() {
        assert_eq!(seconds(Duration::from_secs(1)), "1");
        assert_eq!(seconds(Duration::from_millis(100)), "0.1");
        assert_eq!(seconds(Duration::from_millis(10)), "0.01");
        assert_eq!(seconds(Duration::from_millis(2500)), "2.5");
        assert_eq!(seconds(Duration::from_millis(40_950)), "40.95");
    }

    #[test]
    fn a_full_config_renders_every_block() {
        let mut config = KeepalivedConfig::new("h1");
        let mut script = VrrpScript::new("chk", "/lab/check.sh");
        script.interval = Duration::from_secs(2);
        script.fall = 2;
        script.weight = -10;
        config.scripts.push(script);
        let mut process = TrackProcess::new("web", "web1");
        process.weight = -10;
        config.track_processes.push(process);
        let mut i = VrrpInstance::new("VI_1", "eth0", 51, 100, vec![vip("192.0.2.100")]);
        i.advert_interval = Duration::from_millis(100);
        i.track_scripts.push(TrackRef::new("chk"));
        i.track_processes.push(TrackRef {
            name: "web".into(),
            weight: Some(-20),
        });
        i.unicast_src = Some("192.0.2.11".parse().unwrap());
        i.unicast_peers.push("192.0.2.12".parse().unwrap());
        i.nopreempt = true;
        i.notify = Some("/lab/notify.sh".into());
        i.notify_master = Some("/lab/notify.sh \"master\"".into());
        config.instances.push(i);
        let text = config.render().unwrap();
        for line in [
            "router_id h1",
            "script_user root",
            "vrrp_script chk {",
            "script \"/lab/check.sh\"",
            "interval 2",
            "fall 2",
            "weight -10",
            "vrrp_track_process web {",
            "process \"web1\"",
            "quorum 1",
            "vrrp_instance VI_1 {",
            "state BACKUP",
            "virtual_router_id 51",
            "priority 100",
            "version 3",
            "advert_int 0.1",
            "nopreempt",
            "unicast_src_ip 192.0.2.11",
            "192.0.2.12",
            "192.0.2.100/32",
            "track_script {",
            "chk",
            "web weight -20",
            "notify \"/lab/notify.sh\"",
            "notify_master \"/lab/notify.sh \\\"master\\\"\"",
        ] {
            assert!(
                text.lines().any(|l| l.trim() == line),
                "{line:?} missing in\n{text}"
            );
        }
        // Braces balance.
        assert_eq!(text.matches('{').count(), text.matches('}').count());
    }

    #[test]
    fn bad_instances_are_refused() {
        let ok = VrrpInstance::new("VI_1", "eth0", 51, 100, vec![vip("192.0.2.100")]);
        type Change = Box<dyn Fn(&mut VrrpInstance)>;
        let cases: Vec<(&str, Change)> = vec![
            ("vrid 0", Box::new(|i| i.vrid = 0)),
            ("priority 0", Box::new(|i| i.priority = 0)),
            ("version 4", Box::new(|i| i.version = 4)),
            (
                "15 ms",
                Box::new(|i| i.advert_interval = Duration::from_millis(15)),
            ),
            (
                "41 s",
                Box::new(|i| i.advert_interval = Duration::from_secs(41)),
            ),
            (
                "v2 below 1 s",
                Box::new(|i| {
                    i.version = 2;
                    i.advert_interval = Duration::from_millis(500);
                }),
            ),
            ("v3 auth", Box::new(|i| i.auth_pass = Some("secret".into()))),
            (
                "v2 ipv6",
                Box::new(|i| {
                    i.version = 2;
                    i.virtual_ips = vec![vip("2001:db8::100")];
                }),
            ),
            (
                "two families",
                Box::new(|i| i.virtual_ips.push(vip("2001:db8::100"))),
            ),
            ("no vip", Box::new(|i| i.virtual_ips.clear())),
            (
                "undefined script",
                Box::new(|i| i.track_scripts.push(TrackRef::new("nope"))),
            ),
        ];
        for (what, change) in cases {
            let mut instance = ok.clone();
            change(&mut instance);
            let mut config = KeepalivedConfig::new("h1");
            config.instances.push(instance);
            assert!(config.render().is_err(), "{what} accepted");
        }
        let mut config = KeepalivedConfig::new("h1");
        config.instances.push(ok);
        assert!(config.render().is_ok());
        assert!(KeepalivedConfig::new("h1").render().is_err(), "no instance");
        let mut fast = config.clone();
        let mut script = VrrpScript::new("chk", "/bin/true");
        script.interval = Duration::from_millis(100);
        fast.scripts.push(script);
        assert!(fast.render().is_err(), "sub-second script interval");
    }

    #[test]
    fn timers_follow_the_rfc() {
        let mut i = VrrpInstance::new("VI_1", "eth0", 51, 100, vec![vip("192.0.2.100")]);
        i.advert_interval = Duration::from_millis(100);
        // (256 - 100) × 100 ms / 256 = 60.9375 ms
        assert_eq!(
            i.skew_time(),
            Duration::from_micros(60_937) + Duration::from_nanos(500)
        );
        assert_eq!(
            i.master_down_interval(),
            Duration::from_millis(300) + i.skew_time()
        );
        i.version = 2;
        i.advert_interval = Duration::from_secs(1);
        assert_eq!(
            i.skew_time(),
            Duration::from_millis(609) + Duration::from_micros(375)
        );
    }

    /// keepalived 2.2.7's SIGUSR2 dump, as written in a lab (two instances; values changed
    /// so that every counter is distinct).
    const STATS: &str = "VRRP Instance: VI_1
  Advertisements:
    Received: 7
    Sent: 11
  Became master: 1
  Released master: 2
  Packet Errors:
    Length: 3
    TTL: 0
    Invalid Type: 0
    Advertisement Interval: 4
    Address List: 0
  Authentication Errors:
    Invalid Type: 0
    Type Mismatch: 0
    Failure: 5
  Priority Zero:
    Received: 6
    Sent: 0
VRRP Instance: VI_2
  Advertisements:
    Received: 0
    Sent: 1
  Became master: 0
  Released master: 0
  Packet Errors:
    Length: 0
    TTL: 0
    Invalid Type: 0
    Advertisement Interval: 0
    Address List: 0
  Authentication Errors:
    Invalid Type: 0
    Type Mismatch: 0
    Failure: 0
  Priority Zero:
    Received: 0
    Sent: 0
";

    #[test]
    fn stats_dumps_are_parsed_per_instance_and_section() {
        let stats = parse_stats(STATS);
        assert_eq!(stats.len(), 2);
        let one = &stats["VI_1"];
        assert_eq!(one.counters.len(), 14, "{one:?}");
        assert_eq!(one.get("advertisements.received"), Some(7));
        assert_eq!(one.get("advertisements.sent"), Some(11));
        assert_eq!(one.get("became_master"), Some(1));
        assert_eq!(one.get("released_master"), Some(2));
        assert_eq!(one.get("priority_zero.received"), Some(6));
        assert_eq!(one.get("priority_zero.sent"), Some(0));
        // The two `Invalid Type` labels stay apart.
        assert_eq!(one.get("packet_errors.invalid_type"), Some(0));
        assert_eq!(one.get("authentication_errors.invalid_type"), Some(0));
        assert_eq!(
            one.errors(),
            vec![
                ("authentication_errors.failure".to_owned(), 5),
                ("packet_errors.advertisement_interval".to_owned(), 4),
                ("packet_errors.length".to_owned(), 3),
            ]
        );
        assert_eq!(stats["VI_2"].get("advertisements.sent"), Some(1));
        assert!(stats["VI_2"].errors().is_empty());
        // A dump cut short has no `priority_zero.sent` yet.
        let cut = &STATS[..STATS.find("  Priority Zero:").unwrap()];
        assert_eq!(parse_stats(cut)["VI_1"].get("priority_zero.sent"), None);
    }

    #[test]
    fn discarded_adverts_are_found_in_the_log() {
        let log = "Thu: (VI_1) Entering BACKUP STATE (init)\n\
                   Thu: (VI_1) Invalid VRRPv3 checksum\n\
                   Thu: (VI_1) received lower priority (100) advert from 192.0.2.12 - discarding\n\
                   Thu: (VI_1) received an invalid passwd!\n\
                   Thu: (VI_1) ip address associated with VRID 51 not present in MASTER advert: 192.0.2.101\n\
                   Thu: (VI_1) Entering MASTER STATE\n";
        assert_eq!(
            receive_error_lines(log),
            vec![
                "Thu: (VI_1) Invalid VRRPv3 checksum".to_owned(),
                "Thu: (VI_1) received an invalid passwd!".to_owned(),
                "Thu: (VI_1) ip address associated with VRID 51 not present in MASTER advert: \
                 192.0.2.101"
                    .to_owned(),
            ]
        );
    }

    #[test]
    fn the_last_logged_state_wins() {
        let log = "Wed: (VI_1) Entering BACKUP STATE (init)\n\
                   Wed: (VI_2) Entering FAULT STATE\n\
                   Wed: (VI_1) Entering MASTER STATE\n";
        assert_eq!(last_state(log, "VI_1"), Some(InstanceState::Master));
        assert_eq!(last_state(log, "VI_2"), Some(InstanceState::Fault));
        assert_eq!(last_state(log, "VI_3"), None);
    }
}
