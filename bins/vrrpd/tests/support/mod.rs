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
        Self::start_env(lab, host, toml, &[])
    }

    /// [`Daemon::start`] with extra environment variables (`NAME=value`), e.g. systemd's
    /// `NOTIFY_SOCKET`.
    pub fn start_env(lab: &Lab, host: &'l Host, toml: &str, env: &[&str]) -> Daemon<'l> {
        let mut prefix = vec!["env"];
        prefix.extend_from_slice(env);
        Self::start_wrapped(lab, host, toml, &prefix)
    }

    /// [`Daemon::start`] under a wrapper command (`prefix` then vrrpd's argv), e.g. `setpriv`
    /// with a capability bounding set.
    pub fn start_wrapped(lab: &Lab, host: &'l Host, toml: &str, prefix: &[&str]) -> Daemon<'l> {
        let socket = lab.dir().join(format!("vrrpd-{}.sock", host.number()));
        Self::launch(lab, host, toml, prefix, socket)
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
        // A daemon killed before on this host left its socket file: the wait below must see
        // the new daemon's.
        let _ = std::fs::remove_file(&socket);
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

    /// The status of the instance named `name` (`null` if it has none).
    pub fn instance(&self, name: &str) -> serde_json::Value {
        self.status()["instances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    }

    /// Replaces the daemon's configuration file (a reload then reads it).
    pub fn rewrite(&self, toml: &str) {
        std::fs::write(&self.config, toml).unwrap();
    }

    /// `vrrpd reload --socket ...`: its exit status, stdout and stderr.
    pub fn reload(&self) -> std::process::Output {
        std::process::Command::new(vrrpd())
            .args(["reload", "--socket", self.socket.to_str().unwrap()])
            .output()
            .unwrap()
    }

    /// Sends SIGHUP to the daemon.
    pub fn hup(&self) {
        let ok = std::process::Command::new("kill")
            .args(["-HUP", &self.child.pid().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -HUP failed");
    }

    /// The state word of the first instance.
    pub fn state(&self) -> String {
        self.status()["instances"][0]["state"]
            .as_str()
            .unwrap_or("?")
            .to_owned()
    }

    /// The time of the first instance's last transition, ms since the Unix epoch.
    pub fn last_transition_ms(&self) -> Option<u64> {
        self.status()["instances"][0]["last_transition"]["at_unix_ms"].as_u64()
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

/// Master_Down_Interval of a v3 backup: 3 × interval + Skew_Time (RFC 9568 §6.1).
pub fn master_down(priority: u8, interval: Duration) -> Duration {
    3 * interval + skew(priority, interval)
}

/// Skew_Time of a v3 backup: (256 − priority) × interval / 256 (RFC 9568 §6.1).
pub fn skew(priority: u8, interval: Duration) -> Duration {
    interval * (256 - u32::from(priority)) / 256
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

/// Now, in ms since the Unix epoch (the clock of status timestamps).
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// `ip -ts monitor OBJECTS...` running in a host, with every line's timestamp.
pub struct IpMonitor {
    child: ChildGuard,
}

impl IpMonitor {
    /// Starts `ip -ts monitor` for `objects` (`neigh`, `address`, `link` ...) in `host`.
    pub fn start(host: &Host, objects: &[&str]) -> IpMonitor {
        let mut argv = vec!["env", "TZ=UTC", "ip", "-ts", "monitor"];
        argv.extend_from_slice(objects);
        let child = host.spawn(&argv).unwrap();
        // `ip monitor` prints nothing when it is ready: give it a moment to subscribe.
        std::thread::sleep(Duration::from_millis(100));
        IpMonitor { child }
    }

    /// Every event so far: (time in µs since the Unix epoch, the rest of the line).
    pub fn events(&self) -> Vec<(u64, String)> {
        self.child
            .log()
            .lines()
            .filter_map(|l| {
                let rest = l.strip_prefix('[')?;
                let (ts, line) = rest.split_once("] ")?;
                Some((parse_utc_us(ts)?, line.to_owned()))
            })
            .collect()
    }
}

/// `2026-01-02T03:04:05.678901` (UTC) → µs since the Unix epoch.
pub fn parse_utc_us(ts: &str) -> Option<u64> {
    let (date, time) = ts.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|x| x.parse::<i64>().ok());
    let (hh, mm, ss) = (t.next()??, t.next()??, t.next()??);
    let micros: i64 = format!("{frac:0<6}")[..6].parse().ok()?;
    // Days from the civil date (H. Hinnant's algorithm).
    let yy = if m <= 2 { y - 1 } else { y };
    let era = if yy >= 0 { yy } else { yy - 399 } / 400;
    let yoe = yy - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    u64::try_from(secs * 1_000_000 + micros).ok()
}

impl Daemon<'_> {
    /// `vrrpd status` (the readable form).
    pub fn status_text(&self) -> String {
        let out = std::process::Command::new(vrrpd())
            .args(["status", "--socket", self.socket.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "vrrpd status failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

/// One of the shipped example configs (examples/nginx-ha/NAME).
pub fn example(name: &str) -> String {
    let path = format!(
        "{}/../../examples/nginx-ha/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap()
}

/// Debian's keepalived.
pub const KEEPALIVED: &str = "/usr/sbin/keepalived";

/// Whether keepalived is installed; under CI its absence fails the test.
pub fn keepalived_installed() -> bool {
    if std::path::Path::new(KEEPALIVED).exists() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{KEEPALIVED} is missing and CI is set (apt-get install keepalived)"
    );
    eprintln!("skipping: {KEEPALIVED} is not installed");
    false
}

/// Starts keepalived (VRRP only, foreground, logging to its lab log) in `host` with the
/// configuration `conf`.
pub fn start_keepalived(lab: &Lab, host: &Host, conf: &str) -> ChildGuard {
    let name = format!("keepalived-h{}", host.number());
    let path = |ext: &str| lab.dir().join(format!("{name}.{ext}"));
    std::fs::write(path("conf"), conf).unwrap();
    let s = |p: PathBuf| p.to_string_lossy().into_owned();
    let (conf, pid, vrrp_pid) = (s(path("conf")), s(path("pid")), s(path("vrrp.pid")));
    let _ = std::fs::remove_file(&pid);
    let _ = std::fs::remove_file(&vrrp_pid);
    let child = host
        .spawn(&[
            KEEPALIVED, "-P", "-n", "-l", "-D", "-G", "-f", &conf, "-p", &pid, "-r", &vrrp_pid,
            "-i", &name,
        ])
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || std::path::Path::new(&vrrp_pid)
            .exists()),
        "keepalived on host {} did not start:\n{}",
        host.number(),
        child.log()
    );
    child
}

/// What one client request got: the backend's label, or why not.
pub type Answer = Result<String, String>;

/// A client in a lab host that requests `http://IP/` every 20 ms (200 ms timeout each) until
/// stopped, recording every answer.
pub struct HttpClient {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: vrrp_lab::NsTask<Vec<(Instant, Answer)>>,
}

impl HttpClient {
    pub fn start(host: &Host, ip: IpAddr) -> HttpClient {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = host
            .spawn_async(move || async move {
                let mut answers = Vec::new();
                while !flag.load(Ordering::Relaxed) {
                    let sent = Instant::now();
                    let answer =
                        tokio::time::timeout(Duration::from_millis(200), get_root(ip)).await;
                    answers.push((sent, answer.unwrap_or_else(|_| Err("timed out".into()))));
                    tokio::time::sleep_until((sent + Duration::from_millis(20)).into()).await;
                }
                answers
            })
            .unwrap();
        HttpClient { stop, task }
    }

    /// Stops it and returns every answer, in order.
    pub fn stop(self) -> Vec<(Instant, Answer)> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.task.join().unwrap()
    }
}

async fn get_root(ip: IpAddr) -> Answer {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect((ip, 80))
        .await
        .map_err(|e| e.to_string())?;
    s.write_all(b"GET / HTTP/1.1\r\nhost: vip\r\nconnection: close\r\n\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let mut reply = String::new();
    s.read_to_string(&mut reply)
        .await
        .map_err(|e| e.to_string())?;
    match reply.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.1 200") => Ok(body.trim().to_owned()),
        _ => Err(format!("bad reply {reply:?}")),
    }
}

/// `GET path` on `addr` from inside `host` (a bare HTTP/1.1 client): the status code and the
/// body.
pub fn http_get(host: &Host, addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    let addr = addr.to_owned();
    let path = path.to_owned();
    host.block_on(move || async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(&addr).await?;
        stream
            .write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
            .await?;
        let mut reply = String::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut reply))
            .await
            .map_err(|_| std::io::Error::other("no answer within 5 s"))??;
        let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
        let code = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        Ok((code, body.to_owned()))
    })
    .unwrap()
}

/// The value of the first sample of metric `name` whose labels include every `labels` pair
/// (each written `key="value"`).
pub fn metric(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| {
            l.split(['{', ' ']).next() == Some(name) && labels.iter().all(|lb| l.contains(lb))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// The IPv4 source address of a captured frame carrying VRRP (protocol 112), if it is one.
pub fn vrrp_source(frame: &[u8]) -> Option<std::net::Ipv4Addr> {
    (frame.len() >= 34 && frame[12..14] == [0x08, 0x00] && frame[23] == 112)
        .then(|| std::net::Ipv4Addr::new(frame[26], frame[27], frame[28], frame[29]))
}

/// The VRID and priority of a captured IPv4 VRRP frame.
pub fn vrrp_vrid_priority(frame: &[u8]) -> Option<(u8, u8)> {
    vrrp_source(frame)?;
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    let vrrp = frame.get(14 + ihl..)?;
    Some((*vrrp.get(1)?, *vrrp.get(2)?))
}

/// The largest gap between consecutive frames of `frames` (by capture timestamp).
pub fn largest_gap(frames: &[&vrrp_lab::CapturedPacket]) -> Duration {
    frames
        .windows(2)
        .map(|w| {
            w[1].timestamp
                .duration_since(w[0].timestamp)
                .unwrap_or_default()
        })
        .max()
        .unwrap_or_default()
}
