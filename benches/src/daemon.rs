//! The implementations under test behind one interface: write a config from one
//! [`NodeSpec`], start it inside a lab host, stop it gracefully or kill it like a dead host.
//!
//! Both implementations get their config from the same [`NodeSpec`], so "same settings" is
//! a property of the code, not of care: the keepalived side goes through
//! [`vrrp_lab::keepalived`], the vrrpd side through [`crate::vrrpd::render_toml`].

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use vrrp_lab::keepalived::{
    Keepalived, KeepalivedConfig, TrackProcess, TrackRef, VirtualIp, VrrpInstance, VrrpScript,
};
use vrrp_lab::{ChildGuard, Host, SignalMoment};

use crate::error::{BenchError, Result, file_err};

/// How long a freshly started vrrpd must stay up before it counts as started (a config
/// error makes it exit at once).
const VRRPD_SETTLE: Duration = Duration::from_millis(150);

/// keepalived's log line when the kernel's process-event connector cannot be reached (it
/// exists only in the initial network namespace, so `track_process` cannot work in a lab).
pub const KEEPALIVED_NO_PROC_EVENTS: &str = "Failed to set/clear process event listen";

/// A VRRP implementation under test.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Implementation {
    /// keepalived from the distribution (2.2.7 on Debian 12).
    Keepalived,
    /// vrrpd, this workspace's daemon: `BINARY run --config FILE`.
    Vrrpd(PathBuf),
}

impl Implementation {
    /// `keepalived` or `vrrpd`.
    pub fn name(&self) -> &'static str {
        match self {
            Implementation::Keepalived => "keepalived",
            Implementation::Vrrpd(_) => "vrrpd",
        }
    }

    /// Its version string, if it can say.
    pub fn version(&self) -> Option<String> {
        match self {
            Implementation::Keepalived => crate::machine::first_line(&["keepalived", "--version"]),
            Implementation::Vrrpd(bin) => crate::machine::first_line(&[bin.to_str()?, "--version"]),
        }
    }
}

/// Whether `binary` is a vrrpd that has the `run` subcommand.
pub fn vrrpd_has_run(binary: &Path) -> bool {
    std::process::Command::new(binary)
        .args(["run", "--help"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// What a probe checks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProbeKind {
    /// Run a program; exit 0 is healthy (keepalived `vrrp_script`, vrrpd `exec`).
    Exec {
        /// The program (a script path), run without arguments.
        program: PathBuf,
    },
    /// A process with this name exists (keepalived `vrrp_track_process`, vrrpd `process`).
    Process {
        /// `/proc/PID/comm`.
        name: String,
    },
    /// An HTTP GET answers 2xx/3xx (vrrpd `http`; keepalived has no native HTTP check for
    /// VRRP, only scripts).
    Http {
        /// `http://...`.
        url: String,
    },
}

/// A health probe with keepalived's rise/fall/weight arithmetic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSpec {
    /// The probe's name, as instances track it.
    pub name: String,
    /// What it checks.
    pub kind: ProbeKind,
    /// Time between checks (ignored by keepalived's process tracking, which is event
    /// driven).
    pub interval: Duration,
    /// Failures in a row that make it failed.
    pub fall: u32,
    /// Successes in a row that make it healthy.
    pub rise: u32,
    /// Priority change while failed (negative).
    pub weight: i32,
}

/// One VRRP instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceSpec {
    /// Its name.
    pub name: String,
    /// The interface.
    pub interface: String,
    /// Virtual router id.
    pub vrid: u8,
    /// Priority.
    pub priority: u8,
    /// VRRPv3 advertisement interval.
    pub interval: Duration,
    /// The VIPs (one family).
    pub vips: Vec<IpAddr>,
    /// Probes it tracks.
    pub track: Vec<String>,
}

impl InstanceSpec {
    /// The keepalived form (also the source of Skew_Time and Master_Down_Interval).
    fn keepalived(&self) -> VrrpInstance {
        let mut i = VrrpInstance::new(
            self.name.clone(),
            self.interface.clone(),
            self.vrid,
            self.priority,
            self.vips.iter().copied().map(VirtualIp::host).collect(),
        );
        i.advert_interval = self.interval;
        i
    }

    /// Skew_Time (RFC 9568 §6.1) for this instance's priority and interval.
    pub fn skew_time(&self) -> Duration {
        self.keepalived().skew_time()
    }

    /// Master_Down_Interval (RFC 9568 §6.1): `3 × interval + Skew_Time`.
    pub fn master_down_interval(&self) -> Duration {
        self.keepalived().master_down_interval()
    }
}

/// One node's whole config, independent of the implementation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    /// The node's name.
    pub router_id: String,
    /// Its probes.
    pub probes: Vec<ProbeSpec>,
    /// Its instances.
    pub instances: Vec<InstanceSpec>,
}

impl NodeSpec {
    /// The keepalived.conf model: `vrrp_script` for exec probes, `vrrp_track_process` for
    /// process probes; HTTP probes have no keepalived equivalent (an error).
    pub fn to_keepalived(&self) -> Result<KeepalivedConfig> {
        let mut config = KeepalivedConfig::new(self.router_id.clone());
        for probe in &self.probes {
            match &probe.kind {
                ProbeKind::Exec { program } => {
                    let mut s = VrrpScript::new(probe.name.clone(), program.display().to_string());
                    s.interval = probe.interval;
                    s.fall = probe.fall;
                    s.rise = probe.rise;
                    s.weight = probe.weight;
                    config.scripts.push(s);
                }
                ProbeKind::Process { name } => {
                    let mut t = TrackProcess::new(probe.name.clone(), name.clone());
                    t.weight = probe.weight;
                    config.track_processes.push(t);
                }
                ProbeKind::Http { .. } => {
                    return Err(BenchError::Config {
                        implementation: "keepalived",
                        reason: format!(
                            "probe {}: keepalived has no HTTP check for VRRP (only scripts)",
                            probe.name
                        ),
                    });
                }
            }
        }
        for spec in &self.instances {
            let mut i = spec.keepalived();
            for name in &spec.track {
                let probe = self
                    .probes
                    .iter()
                    .find(|p| &p.name == name)
                    .ok_or_else(|| BenchError::Config {
                        implementation: "keepalived",
                        reason: format!("instance {} tracks unknown probe {name}", spec.name),
                    })?;
                match probe.kind {
                    ProbeKind::Exec { .. } => i.track_scripts.push(TrackRef::new(name.clone())),
                    ProbeKind::Process { .. } => {
                        i.track_processes.push(TrackRef::new(name.clone()));
                    }
                    ProbeKind::Http { .. } => {}
                }
            }
            config.instances.push(i);
        }
        Ok(config)
    }
}

/// A running daemon of either implementation.
#[derive(Debug)]
pub struct Daemon {
    inner: Inner,
    started: SignalMoment,
}

#[derive(Debug)]
enum Inner {
    Keepalived(Keepalived),
    Vrrpd(Option<ChildGuard>),
}

impl Daemon {
    /// Writes `spec` in `implementation`'s format (vrrpd's file goes to `dir`) and starts it
    /// in `host`.
    pub fn start(
        implementation: &Implementation,
        host: &Host,
        spec: &NodeSpec,
        dir: &Path,
    ) -> Result<Self> {
        match implementation {
            Implementation::Keepalived => {
                let config = spec.to_keepalived()?;
                let started = SignalMoment::now();
                let k = Keepalived::start(host, &config)?;
                Ok(Self {
                    inner: Inner::Keepalived(k),
                    started,
                })
            }
            Implementation::Vrrpd(binary) => {
                let socket = dir.join(format!("vrrpd-{}.sock", spec.router_id));
                let text = crate::vrrpd::render_toml(spec, &socket)?;
                Self::start_vrrpd(binary, host, &text, &spec.router_id, dir)
            }
        }
    }

    /// Starts `BINARY run --config FILE --socket SOCK` in `host`, with `config` (vrrpd's TOML,
    /// as it is) written to `dir/vrrpd-NAME.toml` and the control socket at
    /// `dir/vrrpd-NAME.sock`, so that no two daemons share /run/vrrpd.
    pub fn start_vrrpd(
        binary: &Path,
        host: &Host,
        config: &str,
        name: &str,
        dir: &Path,
    ) -> Result<Self> {
        let path = dir.join(format!("vrrpd-{name}.toml"));
        std::fs::write(&path, config).map_err(file_err(&path))?;
        let socket = dir.join(format!("vrrpd-{name}.sock"));
        let binary = binary.to_string_lossy().into_owned();
        let config = path.to_string_lossy().into_owned();
        let socket = socket.to_string_lossy().into_owned();
        let started = SignalMoment::now();
        let mut child = host.spawn(&[&binary, "run", "--config", &config, "--socket", &socket])?;
        let deadline = Instant::now() + VRRPD_SETTLE;
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait()? {
                return Err(BenchError::Invalid(format!(
                    "vrrpd exited at start ({status}): {}",
                    child.log()
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(Self {
            inner: Inner::Vrrpd(Some(child)),
            started,
        })
    }

    /// When [`start`](Daemon::start) was called.
    pub fn started(&self) -> SignalMoment {
        self.started
    }

    /// Its live processes (keepalived: parent and VRRP child).
    pub fn pids(&self) -> Vec<u32> {
        match &self.inner {
            Inner::Keepalived(k) => k.pids(),
            Inner::Vrrpd(child) => child.iter().map(ChildGuard::pid).collect(),
        }
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        match &self.inner {
            Inner::Keepalived(k) => k.log(),
            Inner::Vrrpd(child) => child.as_ref().map(ChildGuard::log).unwrap_or_default(),
        }
    }

    /// Host death: every process SIGKILLed (keepalived: see
    /// [`Keepalived::crash`]); the moment right before the advert sender's SIGKILL.
    pub fn crash(&mut self) -> Result<SignalMoment> {
        match &mut self.inner {
            Inner::Keepalived(k) => Ok(k.crash()?),
            Inner::Vrrpd(child) => {
                let c = child
                    .take()
                    .ok_or_else(|| BenchError::Invalid("vrrpd already stopped".into()))?;
                let moment = c.kill_timed()?;
                drop(c); // reaps it
                Ok(moment)
            }
        }
    }

    /// SIGTERM: the graceful stop; the moment right before it.
    pub fn terminate(&self) -> Result<SignalMoment> {
        match &self.inner {
            Inner::Keepalived(k) => Ok(k.terminate()?),
            Inner::Vrrpd(child) => Ok(child
                .as_ref()
                .ok_or_else(|| BenchError::Invalid("vrrpd already stopped".into()))?
                .terminate_timed()?),
        }
    }

    /// Waits up to `timeout` for it to exit after [`terminate`](Daemon::terminate).
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        match &mut self.inner {
            Inner::Keepalived(k) => Ok(k.wait_exit(timeout)?),
            Inner::Vrrpd(Some(child)) => Ok(child.wait_timeout(timeout)?),
            Inner::Vrrpd(None) => Ok(None),
        }
    }
}
