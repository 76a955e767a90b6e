//! Helpers for tests that run real `vrrpd` daemons in a `vrrp-lab` lab.
// Test support: a failed unwrap here is a failed test, not a crash on input.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use vrrp_lab::{ChildGuard, Host, Lab};

/// The built daemon.
pub fn vrrpd() -> &'static str {
    env!("CARGO_BIN_EXE_vrrpd")
}

/// A daemon running in a lab host.
pub struct Daemon<'l> {
    pub host: &'l Host,
    pub child: ChildGuard,
    pub socket: PathBuf,
    pub config: PathBuf,
}

impl<'l> Daemon<'l> {
    /// Writes `toml` to the lab directory and starts `vrrpd run` with it in `host`.
    pub fn start(lab: &Lab, host: &'l Host, toml: &str) -> Daemon<'l> {
        let socket = lab.dir().join(format!("vrrpd-{}.sock", host.number()));
        Self::launch(lab, host, toml, &[], socket)
    }

    /// Starts `vrrpd run` in `host` as the non-root user `uid` (group `uid` too, no
    /// supplementary groups) holding only CAP_NET_ADMIN and CAP_NET_RAW, as ambient
    /// capabilities and as the whole bounding set: what the systemd unit of docs/security.md
    /// does, here with util-linux's setpriv. The config stays root's (mode 0644); the socket
    /// goes in a directory of its own that the user owns (systemd's RuntimeDirectory=).
    pub fn start_unprivileged(lab: &Lab, host: &'l Host, toml: &str, uid: u32) -> Daemon<'l> {
        let dir = lab.dir().join(format!("run-{}", host.number()));
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::chown(&dir, Some(uid), Some(uid)).unwrap();
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        let (reuid, regid) = (format!("--reuid={uid}"), format!("--regid={uid}"));
        let setpriv = [
            "setpriv",
            reuid.as_str(),
            regid.as_str(),
            "--clear-groups",
            "--inh-caps=-all,+net_admin,+net_raw",
            "--ambient-caps=-all,+net_admin,+net_raw",
            "--bounding-set=-all,+net_admin,+net_raw",
        ];
        Self::launch(lab, host, toml, &setpriv, dir.join("vrrpd.sock"))
    }

    fn launch(
        lab: &Lab,
        host: &'l Host,
        toml: &str,
        wrapper: &[&str],
        socket: PathBuf,
    ) -> Daemon<'l> {
        let n = host.number();
        let config = lab.dir().join(format!("vrrpd-{n}.toml"));
        std::fs::write(&config, toml).unwrap();
        let mut argv: Vec<&str> = wrapper.to_vec();
        argv.extend([
            vrrpd(),
            "run",
            "--config",
            config.to_str().unwrap(),
            "--socket",
            socket.to_str().unwrap(),
        ]);
        let child = host.spawn(&argv).unwrap();
        let d = Daemon {
            host,
            child,
            socket,
            config,
        };
        assert!(
            wait_until(Duration::from_secs(5), || d.socket.exists()),
            "vrrpd on host {n} did not start:\n{}",
            d.child.log()
        );
        d
    }

    /// `vrrpd status --json`.
    pub fn status(&self) -> serde_json::Value {
        let out = std::process::Command::new(vrrpd())
            .args([
                "status",
                "--json",
                "--socket",
                self.socket.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "vrrpd status failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The state word of the first instance.
    pub fn state(&self) -> String {
        self.status()["instances"][0]["state"]
            .as_str()
            .unwrap_or("?")
            .to_owned()
    }

    /// A counter of the first instance.
    pub fn counter(&self, name: &str) -> u64 {
        self.status()["instances"][0]["counters"][name]
            .as_u64()
            .unwrap()
    }
}

/// Polls `f` every 5 ms until it is true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The numbers of the hosts that hold `vip`.
pub fn holders(lab: &Lab, vip: IpAddr) -> Vec<usize> {
    lab.hosts()
        .iter()
        .filter(|h| h.has_address(vip).unwrap_or(false))
        .map(|h| h.number())
        .collect()
}

/// A v3 instance config for a lab host.
pub fn instance(vrid: u8, priority: u8, interval: &str, vip: &str, extra: &str) -> String {
    format!(
        r#"
[[instance]]
name = "VI_1"
interface = "eth0"
vrid = {vrid}
priority = {priority}
advert_interval = "{interval}"
virtual_ips = ["{vip}"]
{extra}
"#
    )
}

/// Starts the lab's stand-in for Nginx (`vrrpd lab-backend`, process name `nginx`) on port 80
/// of `host`, answering `GET /` with `label`.
pub fn start_backend(host: &Host, label: &str) -> ChildGuard {
    let child = host
        .spawn(&[
            vrrpd(),
            "lab-backend",
            "--listen",
            "0.0.0.0:80",
            "--name",
            "nginx",
            "--label",
            label,
        ])
        .unwrap();
    let ok = wait_until(Duration::from_secs(5), || {
        host.output(&["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/80"])
            .is_ok_and(|o| o.status.success())
    });
    assert!(
        ok,
        "the backend on host {} did not start:\n{}",
        host.number(),
        child.log()
    );
    child
}
