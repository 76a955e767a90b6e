//! `process`: count processes matched exactly on `/proc/PID/comm` (or on the whole
//! `/proc/PID/cmdline`), and watch each one with a pidfd so its exit is seen at once.
//!
//! Replaces `ps -ef | grep nginx | grep -v grep` and `killall -0 nginx` scripts. The grep form
//! is broken: the check script's own command line (`/bin/sh /etc/keepalived/check_nginx.sh`)
//! contains "nginx", so it always finds at least one "nginx" and the check can never fail.
//! An exact match on the process name does not have that bug.
//!
//! /proc is rescanned every interval to find new processes (a restarted nginx); between scans,
//! each matched process is watched with a pidfd registered with tokio, which becomes readable
//! the moment the process exits: the failure is reported then, not at the next scan.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use rustix::process::Pid;
use tokio::task::{AbortHandle, JoinSet};

use super::exec::exit_watch;
use crate::spec::{ProcessMatch, ProcessProbe};
use crate::tracker::ProbeResult;
use std::ffi::OsString;

/// The kernel keeps this many bytes of a process name (`TASK_COMM_LEN` - 1).
pub(crate) const COMM_LEN: usize = 15;

/// Longest command line read; longer ones cannot match a configured one anyway.
const MAX_CMDLINE: u64 = 64 * 1024;

/// The state of one `process` probe between runs: which pids count, which are watched.
#[derive(Debug)]
pub(crate) struct ProcessWatcher {
    proc_root: PathBuf,
    matcher: ProcessMatch,
    /// Our network namespace, when only processes in it count.
    netns: Option<NetnsId>,
    min_count: usize,
    /// Matching pids found by the last scan and still alive as far as we know.
    counted: BTreeSet<i32>,
    /// A pidfd watcher per counted pid (a pid without one, on kernels before 5.3, is only
    /// rechecked by scans).
    watchers: BTreeMap<i32, AbortHandle>,
    exits: JoinSet<i32>,
}

impl ProcessWatcher {
    pub(crate) fn new(probe: &ProcessProbe) -> Self {
        Self {
            proc_root: PathBuf::from("/proc"),
            matcher: probe.matcher.clone(),
            netns: if probe.any_namespace {
                None
            } else {
                Some(NetnsId::of(Path::new("/proc/self")))
            },
            min_count: probe.min_count,
            counted: BTreeSet::new(),
            watchers: BTreeMap::new(),
            exits: JoinSet::new(),
        }
    }

    fn what(&self) -> String {
        match &self.matcher {
            ProcessMatch::Name(n) => format!("process {n:?}"),
            ProcessMatch::Cmdline(argv) => format!("command line {:?}", argv.join(" ")),
        }
    }

    fn verdict(&self, context: &str) -> ProbeResult {
        let n = self.counted.len();
        if n >= self.min_count {
            ProbeResult::Success
        } else {
            ProbeResult::failure(format!(
                "{context}{n} {} running, {} needed",
                self.what(),
                self.min_count
            ))
        }
    }

    /// Scans /proc, starts watching new matches, stops watching pids that no longer match.
    pub(crate) async fn run(&mut self) -> ProbeResult {
        let root = self.proc_root.clone();
        let matcher = self.matcher.clone();
        let netns = self.netns.clone();
        // /proc/PID/cmdline reads can block on the target's memory map lock: off the runtime.
        let found = match tokio::task::spawn_blocking(move || scan(&root, &matcher, netns.as_ref()))
            .await
        {
            Ok(Ok(pids)) => pids,
            Ok(Err(e)) => return ProbeResult::failure(format!("cannot scan /proc: {e}")),
            Err(e) => return ProbeResult::failure(format!("/proc scan failed: {e}")),
        };
        let gone: Vec<i32> = self.counted.difference(&found).copied().collect();
        for pid in gone {
            self.forget(pid);
        }
        for pid in found {
            if !self.counted.contains(&pid) {
                self.watch(pid);
            }
        }
        self.verdict("")
    }

    /// Opens a pidfd for a newly matched pid and checks, after opening it, that the pid is
    /// still the process we matched (it may have exited and been reused in between).
    fn watch(&mut self, pid: i32) {
        let Some(raw) = Pid::from_raw(pid) else {
            return;
        };
        match exit_watch(raw) {
            Some(exited) => {
                if !matches(&self.proc_root, pid, &self.matcher, self.netns.as_ref()) {
                    return;
                }
                let handle = self.exits.spawn(async move {
                    let _ = exited.readable().await;
                    pid
                });
                self.watchers.insert(pid, handle);
                self.counted.insert(pid);
            }
            // ESRCH: it exited since the scan. Other errors (no pidfd support): count it and
            // rely on the scans.
            None => {
                if matches(&self.proc_root, pid, &self.matcher, self.netns.as_ref()) {
                    self.counted.insert(pid);
                }
            }
        }
    }

    fn forget(&mut self, pid: i32) {
        self.counted.remove(&pid);
        if let Some(handle) = self.watchers.remove(&pid) {
            handle.abort();
        }
    }

    /// Waits until a watched process exits and leaves fewer than the minimum running; never
    /// returns while nothing is watched.
    pub(crate) async fn next_exit(&mut self) -> ProbeResult {
        loop {
            match self.exits.join_next().await {
                None => std::future::pending::<()>().await,
                Some(Ok(pid)) => {
                    // A scan may already have dropped this pid (its exit was seen by both).
                    if self.watchers.remove(&pid).is_none() {
                        continue;
                    }
                    self.counted.remove(&pid);
                    if self.counted.len() < self.min_count {
                        return self.verdict(&format!("pid {pid} exited; "));
                    }
                }
                // A watcher aborted by `forget`.
                Some(Err(_)) => {}
            }
        }
    }
}

/// Pids of the live (not zombie) processes under `root` that match.
pub(crate) fn scan(
    root: &Path,
    matcher: &ProcessMatch,
    netns: Option<&NetnsId>,
) -> std::io::Result<BTreeSet<i32>> {
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(root)? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if matches(root, pid, matcher, netns) {
            found.insert(pid);
        }
    }
    Ok(found)
}

/// A process's network namespace, as far as we may learn it.
///
/// The `ns/net` link (`net:[4026531840]`) names it, but reading another process's link needs
/// ptrace read access: a daemon that dropped its capabilities (vrrpd keeps only CAP_NET_ADMIN
/// and CAP_NET_RAW) is refused for a root process with more capabilities, or another user's.
/// The entries under `/proc/PID/net/` are readable by anyone and belong to the process's
/// network namespace: each namespace has its own `dev` entry with its own inode number, so
/// two processes whose `net/dev` inodes are equal share a namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct NetnsId {
    link: Option<OsString>,
    dev_inode: Option<u64>,
}

impl NetnsId {
    /// What can be read of the namespace of the process whose /proc directory is `dir`.
    pub(crate) fn of(dir: &Path) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            link: std::fs::read_link(dir.join("ns/net"))
                .ok()
                .map(|p| p.into_os_string()),
            dev_inode: std::fs::metadata(dir.join("net/dev")).ok().map(|m| m.ino()),
        }
    }

    /// Whether both name the same namespace: by the links when both were readable, else by
    /// the `net/dev` inodes; `None` when neither can tell.
    pub(crate) fn same_as(&self, other: &NetnsId) -> Option<bool> {
        match (&self.link, &other.link, self.dev_inode, other.dev_inode) {
            (Some(a), Some(b), _, _) => Some(a == b),
            (_, _, Some(a), Some(b)) => Some(a == b),
            _ => None,
        }
    }
}

/// Whether `pid` is alive and matches (and, when `netns` is given, lives in that network
/// namespace). A process that vanished meanwhile does not match.
pub(crate) fn matches(
    root: &Path,
    pid: i32,
    matcher: &ProcessMatch,
    netns: Option<&NetnsId>,
) -> bool {
    let dir = root.join(pid.to_string());
    if let Some(ours) = netns {
        // Unknowable (its /proc entry is hidden from us): count it, as keepalived would.
        if ours.same_as(&NetnsId::of(&dir)) == Some(false) {
            return false;
        }
    }
    let hit = match matcher {
        ProcessMatch::Name(name) => {
            std::fs::read(dir.join("comm")).is_ok_and(|comm| comm_matches(&comm, name))
        }
        ProcessMatch::Cmdline(argv) => {
            read_cmdline(&dir).is_some_and(|c| cmdline_matches(&c, argv))
        }
    };
    // keepalived's track_process also skips zombies: a killed process that its parent has not
    // reaped yet is not running.
    hit && std::fs::read(dir.join("stat")).is_ok_and(|stat| !is_dead(&stat))
}

/// `comm` is the name plus a newline; the kernel truncates names to [`COMM_LEN`] bytes.
pub(crate) fn comm_matches(comm: &[u8], name: &str) -> bool {
    let comm = comm.strip_suffix(b"\n").unwrap_or(comm);
    let wanted = name.as_bytes();
    comm == &wanted[..wanted.len().min(COMM_LEN)]
}

fn read_cmdline(dir: &Path) -> Option<Vec<u8>> {
    let file = std::fs::File::open(dir.join("cmdline")).ok()?;
    let mut buf = Vec::new();
    file.take(MAX_CMDLINE).read_to_end(&mut buf).ok()?;
    Some(buf)
}

/// `cmdline` is the arguments, each followed by a NUL.
pub(crate) fn cmdline_matches(cmdline: &[u8], argv: &[String]) -> bool {
    let body = cmdline.strip_suffix(b"\0").unwrap_or(cmdline);
    if body.is_empty() {
        return false; // kernel threads and zombies have no command line
    }
    body.split(|b| *b == 0)
        .eq(argv.iter().map(String::as_bytes))
}

/// The state letter after the command name in `/proc/PID/stat` (the name may contain spaces
/// and parentheses, so look after the last `)`): `Z` zombie, `X` dead.
pub(crate) fn is_dead(stat: &[u8]) -> bool {
    let Some(close) = stat.iter().rposition(|b| *b == b')') else {
        return true;
    };
    matches!(
        stat[close + 1..].iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'Z' | b'X') | None
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_exactly() {
        assert!(comm_matches(b"nginx\n", "nginx"));
        assert!(!comm_matches(b"check_nginx.sh\n", "nginx"));
        assert!(!comm_matches(b"nginx-worker\n", "nginx"));
        assert!(!comm_matches(b"ngin\n", "nginx"));
        assert!(!comm_matches(b"\n", "nginx"));
        // The kernel keeps 15 bytes of a name.
        assert!(comm_matches(
            b"a-very-long-pro\n",
            "a-very-long-process-name"
        ));
    }

    #[test]
    fn command_lines_match_argument_by_argument() {
        let argv: Vec<String> = ["nginx: master process", "-g", "daemon off;"]
            .map(String::from)
            .to_vec();
        assert!(cmdline_matches(
            b"nginx: master process\0-g\0daemon off;\0",
            &argv
        ));
        assert!(!cmdline_matches(b"nginx: master process\0-g\0", &argv));
        assert!(!cmdline_matches(
            b"nginx: master process\0-g\0daemon off;\0extra\0",
            &argv
        ));
        assert!(!cmdline_matches(b"", &argv));
        let single = vec!["/usr/sbin/haproxy".to_owned()];
        assert!(cmdline_matches(b"/usr/sbin/haproxy\0", &single));
        assert!(!cmdline_matches(b"/bin/sh\0/usr/sbin/haproxy\0", &single));
    }

    #[test]
    fn zombies_do_not_count() {
        assert!(!is_dead(b"123 (nginx) S 1 123 123 0 -1"));
        assert!(!is_dead(b"123 (a) b) c) R 1 2 3"));
        assert!(is_dead(b"123 (nginx) Z 1 123 123 0 -1"));
        assert!(is_dead(b"123 (nginx) X 1"));
        assert!(is_dead(b"garbage"));
        assert!(is_dead(b"123 (nginx)"));
    }

    #[test]
    fn a_process_named_check_nginx_sh_is_not_nginx() {
        // The classic `ps -ef | grep nginx` bug, with the literal names: run `sleep` under
        // the name check_nginx.sh and look for "nginx".
        let dir = std::env::temp_dir().join(format!("vh-comm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let link = dir.join("check_nginx.sh");
        let _ = std::fs::remove_file(&link);
        let sleep = ["/usr/bin/sleep", "/bin/sleep"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap();
        std::os::unix::fs::symlink(sleep, &link).unwrap();
        let mut child = std::process::Command::new(&link)
            .arg("1000")
            .spawn()
            .unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        // Until the exec has happened: the name changes first, the argument area is set up
        // a moment later.
        let (comm, cmdline) = loop {
            let comm = std::fs::read(format!("/proc/{pid}/comm")).unwrap();
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
            if comm == b"check_nginx.sh\n" && cmdline.ends_with(b"1000\0") {
                break (comm, cmdline);
            }
            std::thread::yield_now();
        };
        assert!(comm_matches(&comm, "check_nginx.sh"));
        let grep_would_match = String::from_utf8_lossy(&cmdline).contains("nginx");
        let nginx = scan(
            Path::new("/proc"),
            &ProcessMatch::Name("nginx".into()),
            None,
        )
        .unwrap();
        let itself = scan(
            Path::new("/proc"),
            &ProcessMatch::Name("check_nginx.sh".into()),
            None,
        )
        .unwrap();
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(grep_would_match);
        assert!(!nginx.contains(&pid), "check_nginx.sh counted as nginx");
        assert!(itself.contains(&pid), "control: found under its own name");
    }

    #[test]
    fn the_namespace_is_recognised_by_link_or_by_net_dev_inode() {
        let me = NetnsId::of(Path::new("/proc/self"));
        let by_pid = NetnsId::of(&Path::new("/proc").join(std::process::id().to_string()));
        assert!(me.link.is_some() && me.dev_inode.is_some(), "{me:?}");
        assert_eq!(me.same_as(&by_pid), Some(true));
        // Without the link (what a process without ptrace access sees), the inode decides.
        let inode_only = NetnsId {
            link: None,
            ..by_pid.clone()
        };
        assert_eq!(me.same_as(&inode_only), Some(true));
        let elsewhere = NetnsId {
            link: None,
            dev_inode: me.dev_inode.map(|i| i + 1),
        };
        assert_eq!(me.same_as(&elsewhere), Some(false));
        assert_eq!(me.same_as(&NetnsId::default()), None);
    }

    #[test]
    fn scan_finds_this_test_process_by_its_own_name() {
        let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
        let me = i32::try_from(std::process::id()).unwrap();
        let found = scan(
            Path::new("/proc"),
            &ProcessMatch::Name(comm.trim_end().to_owned()),
            None,
        )
        .unwrap();
        assert!(found.contains(&me), "{found:?} lacks {me}");
        let nobody = scan(
            Path::new("/proc"),
            &ProcessMatch::Name("no-such-proc-x".into()),
            None,
        )
        .unwrap();
        assert!(nobody.is_empty());
    }
}
