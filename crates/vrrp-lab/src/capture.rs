//! Packet captures with tcpdump inside a lab namespace.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

use crate::error::{LabError, Result};
use crate::pcap::{CapturedPacket, parse_pcap};

/// How long tcpdump may take to open the interface.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long tcpdump may take to flush and exit after SIGINT.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the pcap file must keep its size before [`Capture::stop`] signals tcpdump.
const SETTLE_QUIET: Duration = Duration::from_millis(30);
/// The longest [`Capture::stop`] waits for the file to stop growing (a busy segment never
/// goes quiet).
const SETTLE_MAX: Duration = Duration::from_millis(300);
/// How often [`Capture::wait_for`] re-reads the file.
const POLL: Duration = Duration::from_millis(5);

/// A running `tcpdump -w` on one interface of one lab namespace.
///
/// tcpdump runs with `--immediate-mode -U`, so every frame reaches the pcap file as soon as
/// it is seen and [`packets`](Capture::packets) can be called while it runs. Dropping the
/// capture kills tcpdump.
#[derive(Debug)]
pub struct Capture {
    child: Option<Child>,
    /// tcpdump's stderr lines after "listening on" (its exit statistics among them).
    stderr: Option<mpsc::Receiver<String>>,
    path: PathBuf,
    what: String,
}

impl Capture {
    /// Starts tcpdump in namespace `namespace` on `interface` with the pcap-filter
    /// expression `filter` (empty: everything), writing to `path`; returns once tcpdump
    /// says it is listening.
    pub(crate) fn start(
        namespace: &str,
        interface: &str,
        filter: &str,
        path: &Path,
    ) -> Result<Self> {
        let path_text = path.to_string_lossy().into_owned();
        let mut argv = vec![
            "ip",
            "netns",
            "exec",
            namespace,
            "tcpdump",
            "-i",
            interface,
            "-w",
            &path_text,
            "-U",
            "--immediate-mode",
            // In immediate mode libpcap's default ring is small: a burst of a few hundred
            // frames (100 VRRP instances advertising together) overflows it, and on a busy
            // machine tcpdump may wait a while for the CPU. 64 MiB, allocated as used.
            "-B",
            "65536",
            "-s",
            "0",
            "-n",
            // Debian's tcpdump drops to its own user before opening the file.
            "-Z",
            "root",
            "--time-stamp-precision=nano",
        ];
        if !filter.is_empty() {
            argv.push(filter);
        }
        let what = crate::cmd::render(&argv);
        let mut child = Command::new(argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| LabError::Spawn {
                command: what.clone(),
                source,
            })?;
        let stderr = child.stderr.take();
        let (tx, rx) = mpsc::channel::<String>();
        // Forward tcpdump's stderr lines; keep draining after "listening on" so that tcpdump
        // never blocks on a full pipe (and its exit statistics do not get it a SIGPIPE).
        std::thread::spawn(move || {
            let Some(stderr) = stderr else { return };
            for line in BufReader::new(stderr).lines().map_while(|l| l.ok()) {
                let _ = tx.send(line);
            }
        });
        let mut capture = Self {
            child: Some(child),
            stderr: None,
            path: path.to_owned(),
            what,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.contains("listening on") => {
                    capture.stderr = Some(rx);
                    return Ok(capture);
                }
                Ok(line) => seen.push(line),
                Err(_) => {
                    capture.kill();
                    return Err(LabError::Timeout(format!(
                        "`{}` did not start listening: {}",
                        capture.what,
                        seen.join(" | ")
                    )));
                }
            }
        }
    }

    /// The pcap file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The frames captured so far.
    pub fn packets(&self) -> Result<Vec<CapturedPacket>> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            // tcpdump creates the file lazily on some versions: nothing captured yet.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(LabError::File {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        if bytes.is_empty() {
            return Ok(Vec::new());
        }
        Ok(parse_pcap(&bytes)?.packets)
    }

    /// Re-reads the capture until a frame satisfies `pred` (returned) or `timeout` passes
    /// (`None`).
    pub fn wait_for(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&CapturedPacket) -> bool,
    ) -> Result<Option<CapturedPacket>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = self.packets()?.into_iter().find(|p| pred(p)) {
                return Ok(Some(found));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(POLL);
        }
    }

    /// Stops tcpdump (SIGINT, so it flushes) and returns every frame it captured.
    pub fn stop(self) -> Result<Vec<CapturedPacket>> {
        self.stop_with_drops().map(|(packets, _)| packets)
    }

    /// [`stop`](Capture::stop), also returning how many frames the kernel dropped before
    /// tcpdump could read them (its "packets dropped by kernel"; 0 when it did not say). A
    /// capture with drops is missing frames that were on the wire.
    pub fn stop_with_drops(mut self) -> Result<(Vec<CapturedPacket>, u64)> {
        // SIGINT makes libpcap leave its loop at once: a frame that was on the wire but
        // still in the kernel's ring is then lost (seen in CI: the last echo reply of a
        // ping missing). tcpdump writes each frame as it reads it, so wait until the file
        // has stopped growing for a few polls first.
        self.settle();
        if let Some(child) = self.child.as_mut() {
            let _ = kill_process(Pid::from_child(child), Signal::INT);
            let deadline = Instant::now() + STOP_TIMEOUT;
            loop {
                match child.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if Instant::now() < deadline => std::thread::sleep(POLL),
                    _ => {
                        self.kill();
                        return Err(LabError::Timeout(format!(
                            "`{}` did not stop on SIGINT",
                            self.what
                        )));
                    }
                }
            }
            self.child = None;
        }
        let mut dropped = 0;
        if let Some(rx) = self.stderr.take() {
            // The forwarding thread ends when tcpdump's stderr closes.
            while let Ok(line) = rx.recv_timeout(STOP_TIMEOUT) {
                if let Some(n) = line.strip_suffix(" packets dropped by kernel") {
                    dropped = n.trim().parse().unwrap_or(0);
                }
            }
        }
        Ok((self.packets()?, dropped))
    }

    /// Waits (at most [`SETTLE_MAX`]) until the pcap file has kept its size for
    /// [`SETTLE_QUIET`].
    fn settle(&self) {
        let size = || std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        let deadline = Instant::now() + SETTLE_MAX;
        let mut last = size();
        let mut quiet_since = Instant::now();
        while Instant::now() < deadline {
            std::thread::sleep(POLL);
            let now = size();
            if now != last {
                last = now;
                quiet_since = Instant::now();
            } else if quiet_since.elapsed() >= SETTLE_QUIET {
                return;
            }
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.kill();
    }
}
