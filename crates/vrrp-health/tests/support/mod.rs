//! Small test helpers: a private network namespace with a Drop guard, a thread that runs a
//! tokio runtime inside it, temp directories, and waiting for probe events.
//!
//! Deliberately small so it can be swapped for the shared `vrrp-lab` crate later.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::File;
use std::future::Future;
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};
use vrrp_health::{ProbeEvent, ProbeEvents};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name unique to this process and call: `vh<tag><pid>x<n>`.
pub(crate) fn unique(tag: &str) -> String {
    format!(
        "vh{tag}{}x{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether a root-only test can run. Not root: skip with a message, unless `CI` is set, in
/// which case the test fails.
pub(crate) fn require_root(test: &str) -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test} needs root (network namespaces, switching users) and CI is set: failing instead of skipping"
    );
    eprintln!("SKIPPED {test}: needs root (network namespaces, switching users)");
    false
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace of our own, deleted on drop (also when the test panics).
pub(crate) struct NetNs {
    name: String,
}

/// The address the lab namespace gives itself, from TEST-NET-1.
pub(crate) const LAB_ADDR: &str = "192.0.2.1";
/// An address on the lab subnet that nobody answers: connects to it hang.
pub(crate) const SILENT_ADDR: &str = "192.0.2.2";

impl NetNs {
    /// An empty namespace with `lo` up.
    pub(crate) fn new() -> Self {
        let ns = Self { name: unique("ns") };
        run("ip", &["netns", "add", &ns.name]);
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// A namespace with `lo` up and a veth pair `vha`/`vhb` (both ends inside it, so the
    /// host's namespace is never touched), `vha` holding 192.0.2.1/24.
    pub(crate) fn with_lab_address() -> Self {
        let ns = Self::new();
        ns.ip(&["link", "add", "vha", "type", "veth", "peer", "name", "vhb"]);
        ns.ip(&["addr", "add", &format!("{LAB_ADDR}/24"), "dev", "vha"]);
        ns.ip(&["link", "set", "vha", "up"]);
        ns.ip(&["link", "set", "vhb", "up"]);
        ns
    }

    /// Runs `ip -n NS ARGS...`, asserting success.
    pub(crate) fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        run("ip", &all);
    }

    /// Runs `f` on a new thread that has moved into this namespace; propagates its panic.
    pub(crate) fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/run/netns/{}", self.name);
        std::thread::scope(|scope| {
            let thread = scope.spawn(move || {
                let file = File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
                move_into_link_name_space(file.as_fd(), Some(LinkNameSpaceType::Network))
                    .unwrap_or_else(|e| panic!("setns {path}: {e}"));
                f()
            });
            match thread.join() {
                Ok(v) => v,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    /// Runs `future` on a current-thread tokio runtime inside this namespace.
    pub(crate) fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        self.run(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(future)
        })
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// sysfs mounted by a thread inside a network namespace shows that namespace's interfaces
/// (sysfs binds the mounting task's namespace), unlike the host's /sys. Unmounted on drop.
pub(crate) struct NamespaceSysfs {
    dir: TempDir,
}

impl NamespaceSysfs {
    /// Must be called on a thread inside the namespace (see [`NetNs::run`]).
    pub(crate) fn mount_here() -> Self {
        let dir = TempDir::new("sysfs");
        rustix::mount::mount(
            "sysfs",
            dir.path(),
            "sysfs",
            rustix::mount::MountFlags::RDONLY
                | rustix::mount::MountFlags::NOSUID
                | rustix::mount::MountFlags::NODEV
                | rustix::mount::MountFlags::NOEXEC,
            None,
        )
        .unwrap_or_else(|e| panic!("mount sysfs on {}: {e}", dir.path().display()));
        Self { dir }
    }

    /// `<mount>/class/net`.
    pub(crate) fn class_net(&self) -> PathBuf {
        self.dir.path().join("class/net")
    }
}

impl Drop for NamespaceSysfs {
    fn drop(&mut self) {
        let _ = rustix::mount::unmount(self.dir.path(), rustix::mount::UnmountFlags::DETACH);
    }
}

/// A directory under the system temp dir, world-writable (probe commands run as `nobody`
/// write into it), removed on drop.
pub(crate) struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub(crate) fn new(tag: &str) -> Self {
        let path = std::env::temp_dir().join(unique(tag));
        std::fs::create_dir(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
        Self { path }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Writes an executable shell script and returns its path.
    pub(crate) fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.path.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The next event, or a panic after `limit` (a hang guard, not a timing assertion).
pub(crate) async fn next_event(events: &mut ProbeEvents, limit: Duration) -> ProbeEvent {
    tokio::time::timeout(limit, events.recv())
        .await
        .unwrap_or_else(|_| panic!("no probe event within {limit:?}"))
        .expect("runner dropped")
}

/// Generous bound for "eventually" in these tests.
pub(crate) const PATIENCE: Duration = Duration::from_secs(20);
