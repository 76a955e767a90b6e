//! Network-namespace labs on one Linux machine, for vrrp-rs integration tests, benchmarks and
//! `vrrpd demo`.
//!
//! A [`Lab`] is a LAN namespace holding a Linux bridge (`br0`, multicast snooping off) and N
//! host namespaces, each wired to the bridge by a veth pair created directly inside the
//! namespaces (the machine's own namespace is never touched). Host *i* (1-based) has
//! `eth0` with MAC `02:00:00:00:01:1i`, `192.0.2.1i/24` and `2001:db8::1i/64` (DAD off, so
//! every address, link-local included, is usable at once) and `lo` up. Names contain the pid
//! and a counter, so several test binaries can build labs at the same time.
//!
//! In a lab you can:
//! - run commands in a host ([`Host::run`], [`Host::spawn`] → [`ChildGuard`]) and read its
//!   state ([`Host::addresses`], [`Host::has_address`], [`Host::link_mac`],
//!   [`Host::neighbour`]);
//! - run code of the test process inside a host ([`Host::in_ns`], [`Host::block_on`],
//!   [`Host::spawn_async`]): netlink, raw sockets or a whole runtime;
//! - capture with tcpdump ([`Lab::capture`], [`Lab::capture_on`], [`Host::capture`]) and read
//!   the frames with their timestamps ([`Capture::packets`], [`CapturedPacket`]);
//! - add LAN segments, each a bridge of its own with one more interface per host
//!   ([`Lab::add_segment`]);
//! - break the network with nftables ([`Lab::drop_between`], [`Lab::drop_random`]), or
//!   delete a host's `eth0` and plug a new one in ([`Lab::unplug`], [`Lab::replug`]);
//! - watch a host's addresses through rtnetlink, with wall-clock timestamps comparable with
//!   capture times ([`Host::watch_addresses`]);
//! - run keepalived as a peer or baseline ([`keepalived`]);
//! - craft and inject hostile packets from a host ([`inject`]).
//!
//! Everything is torn down when the [`Lab`] is dropped, also when a test panics: processes
//! in its namespaces are killed, the namespaces deleted (taking veths and the bridge with
//! them) and its temporary directory removed. Programs that may be interrupted call
//! [`cleanup_on_signals`] so that Ctrl-C does the same.
//!
//! Labs need root. Tests call [`require_root`] first: it returns `false` (and says why) where
//! labs cannot run, and panics instead when the `CI` environment variable is set, so CI never
//! skips silently.
//!
//! ```no_run
//! use vrrp_lab::{Lab, require_root};
//!
//! # fn main() -> Result<(), vrrp_lab::LabError> {
//! if !require_root() {
//!     return Ok(());
//! }
//! let lab = Lab::new(2)?;
//! let (a, b) = (lab.host(1)?, lab.host(2)?);
//! a.run(&["ping", "-c", "1", "-W", "2", &b.ipv4().to_string()])?;
//! assert!(a.has_address(a.ipv4().into())?);
//! // Code of this process, inside host a's namespace:
//! let names = a.in_ns(|| std::fs::read_dir("/proc/sys/net/ipv4/conf").map(|d| d.count()))?;
//! assert_eq!(names.unwrap(), 4); // all, default, eth0, lo
//! # Ok(())
//! # }
//! ```

mod addrwatch;
mod capture;
mod cmd;
mod error;
pub mod inject;
pub mod keepalived;
mod netns;
mod nft;
pub mod pcap;

use std::collections::BTreeSet;
use std::fs::File;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use rustix::process::{Pid, Signal, kill_process};
use serde_json::Value;

pub use addrwatch::{AddressEvent, AddressWatch};
pub use capture::Capture;
pub use error::{LabError, Result};
pub use netns::NsTask;
pub use nft::{NftRules, Traffic};
pub use pcap::CapturedPacket;

/// The bridge in the LAN namespace.
pub const BRIDGE: &str = "br0";
/// The interface name of every host.
pub const HOST_IFACE: &str = "eth0";
/// The largest number of hosts in one lab (addresses .11 to .99).
pub const MAX_HOSTS: usize = 89;

static LAB_COUNTER: AtomicU32 = AtomicU32::new(0);
static TABLE_COUNTER: AtomicU32 = AtomicU32::new(0);
const NAME_PREFIX: &str = "vrlab";

/// The two clocks read at one instant, right before a signal was sent (see
/// [`ChildGuard::kill_timed`], [`keepalived::Keepalived::crash`]).
///
/// Packet timestamps from a [`Capture`] are `CLOCK_REALTIME` (the kernel stamps frames with
/// the wall clock, and tcpdump writes that), so compare them with [`realtime`]; [`monotonic`]
/// is for intervals measured inside this process.
///
/// [`realtime`]: SignalMoment::realtime
/// [`monotonic`]: SignalMoment::monotonic
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalMoment {
    /// `CLOCK_REALTIME`.
    pub realtime: SystemTime,
    /// `CLOCK_MONOTONIC`.
    pub monotonic: Instant,
}

impl SignalMoment {
    /// Both clocks, now (monotonic read first, then realtime, back to back).
    pub fn now() -> Self {
        let monotonic = Instant::now();
        let realtime = SystemTime::now();
        Self {
            realtime,
            monotonic,
        }
    }
}

/// Namespaces and directories of the labs of this process that are not torn down yet, for
/// [`cleanup_on_signals`].
static LIVE: Mutex<Live> = Mutex::new(Live {
    namespaces: BTreeSet::new(),
    dirs: BTreeSet::new(),
});

struct Live {
    namespaces: BTreeSet<String>,
    dirs: BTreeSet<PathBuf>,
}

/// Tears down every lab of this process when it gets SIGINT, SIGTERM or SIGHUP, then exits
/// with 128 + the signal number.
///
/// A signal ends a process without running destructors, so without this a Ctrl-C would leave
/// namespaces behind, with daemons still running in them. Call it once, early, in programs that
/// build labs (benchmark harnesses, demos); tests need not (their labs are dropped on panic,
/// and a later lab sweeps what a killed test left).
pub fn cleanup_on_signals() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = std::sync::mpsc::channel::<Result<()>>();
    std::thread::Builder::new()
        .name("vrrp-lab-signals".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = tx.send(Err(LabError::Runtime(e)));
                    return;
                }
            };
            runtime.block_on(async move {
                let streams = (
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::terminate()),
                    signal(SignalKind::hangup()),
                );
                let (mut int, mut term, mut hup) = match streams {
                    (Ok(int), Ok(term), Ok(hup)) => (int, term, hup),
                    (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                        let _ = tx.send(Err(LabError::Runtime(e)));
                        return;
                    }
                };
                let _ = tx.send(Ok(()));
                let number = tokio::select! {
                    _ = int.recv() => 2,
                    _ = term.recv() => 15,
                    _ = hup.recv() => 1,
                };
                eprintln!("vrrp-lab: signal {number}: tearing every lab down");
                teardown_live();
                std::process::exit(128 + number);
            });
        })
        .map_err(|source| LabError::Spawn {
            command: "signal thread".into(),
            source,
        })?;
    rx.recv()
        .map_err(|_| LabError::Invalid("signal thread died".into()))?
}

/// Kills every process in, and deletes, every namespace of a live lab of this process.
fn teardown_live() {
    let (namespaces, dirs) = match LIVE.lock() {
        Ok(mut live) => (
            std::mem::take(&mut live.namespaces),
            std::mem::take(&mut live.dirs),
        ),
        Err(_) => return,
    };
    let namespaces: Vec<String> = namespaces.into_iter().collect();
    kill_namespace_processes(&namespaces);
    for ns in namespaces.iter().rev() {
        let _ = cmd::run(&["ip", "netns", "del", ns]);
    }
    for dir in dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// SIGKILLs every process inside `namespaces` except this one.
fn kill_namespace_processes(namespaces: &[String]) {
    let me = std::process::id();
    let mut killed = Vec::new();
    for ns in namespaces.iter().rev() {
        if let Ok(out) = cmd::run(&["ip", "netns", "pids", ns]) {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let Some(pid) = pid.parse::<i32>().ok().filter(|&p| p as u32 != me) else {
                    continue;
                };
                if let Some(pid) = Pid::from_raw(pid)
                    && kill_process(pid, Signal::KILL).is_ok()
                {
                    killed.push(pid);
                }
            }
        }
    }
    // SIGKILL lands asynchronously (later on a loaded machine): wait until every killed
    // process has died, so that nothing of the lab runs once it is dropped.
    let deadline = Instant::now() + Duration::from_secs(5);
    while killed.iter().any(|p| running(*p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Whether this process can build labs: root, and `ip netns` works.
///
/// Returns `false` and prints the reason on stderr when it cannot, so a test can return
/// early. When the environment variable `CI` is set it panics instead: in CI a test that
/// needs root must fail, never skip.
#[allow(clippy::panic)] // the documented contract: CI must not skip these tests
pub fn require_root() -> bool {
    static VERDICT: OnceLock<Option<String>> = OnceLock::new();
    let reason = VERDICT.get_or_init(|| {
        if !rustix::process::geteuid().is_root() {
            return Some("not running as root".to_owned());
        }
        if let Err(e) = cmd::run(&["ip", "netns", "list"]) {
            return Some(format!("`ip netns` does not work: {e}"));
        }
        None
    });
    match reason {
        None => true,
        Some(reason) if std::env::var_os("CI").is_some() => {
            panic!("this test needs network namespaces and CI is set, but {reason}")
        }
        Some(reason) => {
            eprintln!("skipping: this test needs network namespaces, but {reason}");
            false
        }
    }
}

/// A LAN namespace with a bridge, and hosts attached to it. See the [crate docs](crate).
#[derive(Debug)]
pub struct Lab {
    prefix: String,
    lan: String,
    hosts: Vec<Host>,
    /// Every namespace created so far, in creation order (torn down in reverse).
    namespaces: Vec<String>,
    dir: PathBuf,
    /// Extra segments added so far ([`Lab::add_segment`]).
    segments: AtomicUsize,
}

/// An extra LAN segment of a [`Lab`] ([`Lab::add_segment`]): a bridge of its own in the LAN
/// namespace and one more interface in every host, a separate broadcast domain (VRIDs and
/// addresses may repeat across segments, as on separate VLANs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    index: usize,
    bridge: String,
    interface: String,
}

impl Segment {
    /// 1 for the first extra segment (the lab's own LAN is 0).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The segment's bridge in the LAN namespace (`br1`, ...): capture it with
    /// [`Lab::capture_on`].
    pub fn bridge(&self) -> &str {
        &self.bridge
    }

    /// Every host's interface on this segment (`eth1`, ...), up, with only its IPv6
    /// link-local address (add others with [`Host::run`]).
    pub fn interface(&self) -> &str {
        &self.interface
    }
}

impl Lab {
    /// Builds a lab with `hosts` hosts (1 to [`MAX_HOSTS`]).
    pub fn new(hosts: usize) -> Result<Self> {
        if !(1..=MAX_HOSTS).contains(&hosts) {
            return Err(LabError::Invalid(format!(
                "{hosts} hosts (1 to {MAX_HOSTS})"
            )));
        }
        sweep_stale_namespaces();
        let prefix = format!(
            "{NAME_PREFIX}{}-{}",
            std::process::id(),
            LAB_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let dir = std::env::temp_dir().join(&prefix);
        std::fs::create_dir_all(&dir).map_err(|source| LabError::File {
            path: dir.clone(),
            source,
        })?;
        if let Ok(mut live) = LIVE.lock() {
            live.dirs.insert(dir.clone());
        }
        // From here on, Drop cleans up whatever was built if a step fails.
        let mut lab = Self {
            lan: format!("{prefix}-lan"),
            prefix,
            hosts: Vec::new(),
            namespaces: Vec::new(),
            dir,
            segments: AtomicUsize::new(0),
        };
        lab.build(hosts)?;
        Ok(lab)
    }

    fn build(&mut self, hosts: usize) -> Result<()> {
        let lan = self.lan.clone();
        self.add_namespace(&lan)?;
        // The LAN namespace only bridges: no IPv6 on its ports keeps captures quiet.
        write_sysctls(
            &lan,
            &[
                ("net/ipv6/conf/all/disable_ipv6", "1"),
                ("net/ipv6/conf/default/disable_ipv6", "1"),
            ],
        )?;
        // A switch forwards frames without reading them. With br_netfilter loaded (Docker
        // does), a Linux bridge would validate IPv4 headers and drop malformed ones before
        // they reach a host, hiding what the hosts' own kernels do with them: turn that off
        // in the LAN namespace. The knobs exist only when br_netfilter is loaded.
        let knobs = [
            "net/bridge/bridge-nf-call-iptables",
            "net/bridge/bridge-nf-call-ip6tables",
            "net/bridge/bridge-nf-call-arptables",
        ];
        let present: Vec<(&str, &str)> = netns::run_in(&lan, || {
            knobs
                .iter()
                .filter(|k| Path::new("/proc/sys").join(k).exists())
                .map(|k| (*k, "0"))
                .collect()
        })?;
        write_sysctls(&lan, &present)?;
        for number in 1..=hosts {
            let host = Host::new(&self.prefix, number, &self.dir);
            self.add_namespace(&host.namespace)?;
            // DAD off before eth0 exists, so its link-local and global addresses are usable at
            // once (no 1-2 s of "tentative").
            write_sysctls(
                &host.namespace,
                &[
                    ("net/ipv6/conf/all/accept_dad", "0"),
                    ("net/ipv6/conf/default/accept_dad", "0"),
                ],
            )?;
            self.hosts.push(host);
        }
        let mut lan_batch = format!(
            "link set lo up\nlink add {BRIDGE} type bridge mcast_snooping 0 stp_state 0\nlink set {BRIDGE} up\n"
        );
        for host in &self.hosts {
            lan_batch.push_str(&host.port_batch());
        }
        ip_batch(&lan, &lan_batch)?;
        for host in &self.hosts {
            ip_batch(
                &host.namespace,
                &format!("link set lo up\n{}", host.eth0_batch()),
            )?;
        }
        Ok(())
    }

    /// Deletes host `host`'s `eth0` (and with it the veth peer on the bridge), as a driver
    /// unload or `ip link del` would. [`replug`](Self::replug) puts a new one in.
    pub fn unplug(&self, host: &Host) -> Result<()> {
        ip_batch(&host.namespace, &format!("link del {HOST_IFACE}\n"))
    }

    /// Creates a new `eth0` for `host` (a new interface index) with the same MAC and addresses
    /// as before, attached to the bridge and up: the interface "comes back".
    pub fn replug(&self, host: &Host) -> Result<()> {
        ip_batch(&self.lan, &host.port_batch())?;
        ip_batch(&host.namespace, &host.eth0_batch())
    }

    fn add_namespace(&mut self, name: &str) -> Result<()> {
        cmd::run(&["ip", "netns", "add", name])?;
        self.namespaces.push(name.to_owned());
        if let Ok(mut live) = LIVE.lock() {
            live.namespaces.insert(name.to_owned());
        }
        Ok(())
    }

    /// Host number `number` (1-based, as in its addresses: host 1 is .11).
    pub fn host(&self, number: usize) -> Result<&Host> {
        number
            .checked_sub(1)
            .and_then(|i| self.hosts.get(i))
            .ok_or_else(|| {
                LabError::Invalid(format!("no host {number} in a lab of {}", self.hosts.len()))
            })
    }

    /// All hosts, host 1 first.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// The LAN namespace's name (it holds the bridge [`BRIDGE`]).
    pub fn lan_namespace(&self) -> &str {
        &self.lan
    }

    /// The unique prefix of every name in this lab.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The lab's temporary directory (captures, logs); removed on drop.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every namespace of this lab (LAN first).
    pub fn namespaces(&self) -> &[String] {
        &self.namespaces
    }

    /// Starts tcpdump on the bridge with a pcap-filter expression (`""` for everything).
    pub fn capture(&self, filter: &str) -> Result<Capture> {
        self.capture_on(BRIDGE, filter)
    }

    /// Starts tcpdump on interface `dev` of the LAN namespace (a [`Segment`]'s bridge, or a
    /// host's bridge port).
    pub fn capture_on(&self, dev: &str, filter: &str) -> Result<Capture> {
        let path = unique_file(&self.dir, dev, "pcap");
        Capture::start(&self.lan, dev, filter, &path)
    }

    /// Adds a LAN segment: bridge `brK` (multicast snooping off) in the LAN namespace and
    /// interface `ethK` in every host, K = 1, 2, ... in the order of the calls. Veths are
    /// created inside the namespaces, as for the main LAN.
    pub fn add_segment(&self) -> Result<Segment> {
        let index = self.segments.fetch_add(1, Ordering::Relaxed) + 1;
        let segment = Segment {
            index,
            bridge: format!("br{index}"),
            interface: format!("eth{index}"),
        };
        let mut batch = format!(
            "link add {br} type bridge mcast_snooping 0 stp_state 0\nlink set {br} up\n",
            br = segment.bridge
        );
        for host in &self.hosts {
            batch.push_str(&format!(
                "link add {port} type veth peer name {dev} netns {ns}\nlink set {port} master {br} up\n",
                port = format!("{}s{index}", host.port),
                dev = segment.interface,
                ns = host.namespace,
                br = segment.bridge,
            ));
        }
        ip_batch(&self.lan, &batch)?;
        for host in &self.hosts {
            ip_batch(
                &host.namespace,
                &format!("link set {} up\n", segment.interface),
            )?;
        }
        Ok(segment)
    }

    /// Drops `traffic` between hosts `a` and `b`, both ways, until the guard is dropped.
    pub fn drop_between(&self, a: &Host, b: &Host, traffic: Traffic) -> Result<NftRules> {
        let mut rules = NftRules::between(&a.port, &b.port, traffic);
        rules.extend(NftRules::between(&b.port, &a.port, traffic));
        NftRules::install(&self.lan, &self.table_name(), &rules)
    }

    /// Drops `traffic` from host `from` to host `to` only, until the guard is dropped.
    pub fn drop_one_way(&self, from: &Host, to: &Host, traffic: Traffic) -> Result<NftRules> {
        NftRules::install(
            &self.lan,
            &self.table_name(),
            &NftRules::between(&from.port, &to.port, traffic),
        )
    }

    /// Drops a random `percent`% of the frames a host sends into the bridge and, separately,
    /// of the frames the bridge sends to it (nftables `numgen random`), until the guard is
    /// dropped.
    pub fn drop_random(&self, host: &Host, percent: u8) -> Result<NftRules> {
        NftRules::install(
            &self.lan,
            &self.table_name(),
            &NftRules::random_loss(&host.port, percent),
        )
    }

    fn table_name(&self) -> String {
        format!("vrlab{}", TABLE_COUNTER.fetch_add(1, Ordering::Relaxed))
    }

    fn teardown(&mut self) {
        // Kill whatever still runs inside (daemons started by the test, their children).
        kill_namespace_processes(&self.namespaces);
        for ns in self.namespaces.drain(..).rev() {
            if let Err(e) = cmd::run(&["ip", "netns", "del", &ns]) {
                eprintln!("vrrp-lab: cannot delete namespace {ns}: {e}");
            }
            if let Ok(mut live) = LIVE.lock() {
                live.namespaces.remove(&ns);
            }
        }
        if let Err(e) = std::fs::remove_dir_all(&self.dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            eprintln!("vrrp-lab: cannot remove {}: {e}", self.dir.display());
        }
        if let Ok(mut live) = LIVE.lock() {
            live.dirs.remove(&self.dir);
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// One host of a [`Lab`]: a namespace with `eth0` on the LAN bridge.
#[derive(Debug)]
pub struct Host {
    number: usize,
    namespace: String,
    port: String,
    mac: [u8; 6],
    ipv4: Ipv4Addr,
    ipv6: Ipv6Addr,
    dir: PathBuf,
}

/// One address of an interface, as `ip -j addr` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceAddress {
    /// The address.
    pub ip: IpAddr,
    /// Its prefix length.
    pub prefix_len: u8,
    /// Still doing duplicate address detection (IPv6).
    pub tentative: bool,
    /// Duplicate address detection failed (IPv6).
    pub dad_failed: bool,
}

/// A neighbour-table entry, as `ip -j neigh` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbour {
    /// The interface.
    pub dev: String,
    /// Its link-layer address, if resolved.
    pub mac: Option<[u8; 6]>,
    /// The NUD states (`REACHABLE`, `STALE`, `FAILED` ...).
    pub states: Vec<String>,
    /// Whether the neighbour is flagged as a router (IPv6).
    pub router: bool,
}

impl Host {
    fn new(prefix: &str, number: usize, dir: &Path) -> Self {
        let n = 10 + number;
        // Written so that the decimal host number reads the same in every address.
        let mac = [
            0x02,
            0,
            0,
            0,
            0x01,
            u8::from_str_radix(&format!("{n:02}"), 16).unwrap_or(0),
        ];
        let ipv6 = format!("2001:db8::{n}")
            .parse()
            .unwrap_or(Ipv6Addr::UNSPECIFIED);
        Self {
            number,
            namespace: format!("{prefix}-h{number}"),
            port: format!("h{number}"),
            mac,
            ipv4: Ipv4Addr::new(192, 0, 2, n as u8),
            ipv6,
            dir: dir.to_owned(),
        }
    }

    /// `ip -batch` lines (LAN namespace) that create this host's veth pair, both ends in
    /// their namespaces (never in the machine's own), and put the port on the bridge.
    fn port_batch(&self) -> String {
        format!(
            "link add {port} type veth peer name {HOST_IFACE} netns {ns}\nlink set {port} master {BRIDGE} up\n",
            port = self.port,
            ns = self.namespace,
        )
    }

    /// `ip -batch` lines (host namespace) that configure and raise `eth0`.
    fn eth0_batch(&self) -> String {
        format!(
            "link set {HOST_IFACE} address {mac}\naddr add {v4}/24 dev {HOST_IFACE}\naddr add {v6}/64 dev {HOST_IFACE} nodad\nlink set {HOST_IFACE} up\n",
            mac = format_mac(&self.mac),
            v4 = self.ipv4,
            v6 = self.ipv6,
        )
    }

    /// The host number (1-based).
    pub fn number(&self) -> usize {
        self.number
    }

    /// The namespace name (`ip netns exec <this>`).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The host's bridge port in the LAN namespace.
    pub fn bridge_port(&self) -> &str {
        &self.port
    }

    /// `eth0`'s MAC address.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// `eth0`'s IPv4 address (192.0.2.1N, /24).
    pub fn ipv4(&self) -> Ipv4Addr {
        self.ipv4
    }

    /// `eth0`'s global IPv6 address (2001:db8::1N, /64).
    pub fn ipv6(&self) -> Ipv6Addr {
        self.ipv6
    }

    /// A `Command` that runs `argv` inside this host (`ip netns exec`); set it up further
    /// as you like.
    pub fn command(&self, argv: &[&str]) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.namespace]).args(argv);
        command
    }

    /// Runs `argv` inside this host to completion; its stdout, or an error with its stderr
    /// when it fails.
    pub fn run(&self, argv: &[&str]) -> Result<String> {
        let out = cmd::run(&self.full_argv(argv))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs `argv` inside this host to completion, whatever its exit status.
    pub fn output(&self, argv: &[&str]) -> Result<Output> {
        cmd::output_with_stdin(&self.full_argv(argv), None)
    }

    fn full_argv<'a>(&'a self, argv: &[&'a str]) -> Vec<&'a str> {
        let mut full = vec!["ip", "netns", "exec", self.namespace.as_str()];
        full.extend_from_slice(argv);
        full
    }

    /// Starts `argv` inside this host in the background, stdout and stderr going to a log
    /// file ([`ChildGuard::log`]). The guard kills it when dropped; the lab kills it anyway.
    pub fn spawn(&self, argv: &[&str]) -> Result<ChildGuard> {
        let what = cmd::render(&self.full_argv(argv));
        let log = unique_file(&self.dir, &format!("h{}", self.number), "log");
        let file_err = |source| LabError::File {
            path: log.clone(),
            source,
        };
        let out = File::create(&log).map_err(file_err)?;
        let err = out.try_clone().map_err(file_err)?;
        let child = self
            .command(argv)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|source| LabError::Spawn {
                command: what.clone(),
                source,
            })?;
        Ok(ChildGuard {
            child,
            command: what,
            log,
        })
    }

    /// The addresses of interface `dev`.
    pub fn addresses(&self, dev: &str) -> Result<Vec<InterfaceAddress>> {
        let json = self.ip_json(&["-j", "addr", "show", "dev", dev])?;
        Ok(parse_addresses(&json))
    }

    /// The addresses of every interface of this host.
    pub fn all_addresses(&self) -> Result<Vec<InterfaceAddress>> {
        let json = self.ip_json(&["-j", "addr", "show"])?;
        Ok(parse_addresses(&json))
    }

    /// Whether any interface of this host has address `ip`.
    pub fn has_address(&self, ip: IpAddr) -> Result<bool> {
        Ok(self.all_addresses()?.iter().any(|a| a.ip == ip))
    }

    /// The first IPv6 link-local address of `dev`, if it has one.
    pub fn link_local(&self, dev: &str) -> Result<Option<Ipv6Addr>> {
        Ok(self.addresses(dev)?.into_iter().find_map(|a| match a.ip {
            IpAddr::V6(v6) if v6.is_unicast_link_local() => Some(v6),
            _ => None,
        }))
    }

    /// The MAC address of interface `dev`.
    pub fn link_mac(&self, dev: &str) -> Result<[u8; 6]> {
        let argv = ["-j", "link", "show", "dev", dev];
        let json = self.ip_json(&argv)?;
        json.get(0)
            .and_then(|link| link.get("address"))
            .and_then(Value::as_str)
            .and_then(parse_mac)
            .ok_or_else(|| LabError::Parse {
                command: format!("ip {}", argv.join(" ")),
                reason: "no MAC".into(),
            })
    }

    /// The neighbour-table entry for `ip`, if there is one.
    pub fn neighbour(&self, ip: IpAddr) -> Result<Option<Neighbour>> {
        let ip_text = ip.to_string();
        let json = self.ip_json(&["-j", "neigh", "show", "to", &ip_text])?;
        let Some(entry) = json.as_array().and_then(|a| {
            a.iter()
                .find(|e| e.get("dst").and_then(Value::as_str) == Some(&ip_text))
        }) else {
            return Ok(None);
        };
        let states = entry
            .get("state")
            .and_then(Value::as_array)
            .map(|s| {
                s.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Some(Neighbour {
            dev: entry
                .get("dev")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            mac: entry
                .get("lladdr")
                .and_then(Value::as_str)
                .and_then(parse_mac),
            states,
            router: entry.get("router").is_some(),
        }))
    }

    fn ip_json(&self, args: &[&str]) -> Result<Value> {
        let mut argv = vec!["ip"];
        argv.extend_from_slice(args);
        let text = self.run(&argv)?;
        if text.trim().is_empty() {
            return Ok(Value::Array(Vec::new()));
        }
        serde_json::from_str(&text).map_err(|e| LabError::Parse {
            command: argv.join(" "),
            reason: e.to_string(),
        })
    }

    /// Runs `f` on a fresh thread inside this host's network namespace and returns its
    /// result (a panic in `f` propagates). Sockets opened there stay in the namespace.
    pub fn in_ns<F, R>(&self, f: F) -> Result<R>
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        netns::run_in(&self.namespace, f)
    }

    /// Runs the future made by `make` to completion inside this host, on a current-thread
    /// tokio runtime with IO and time enabled.
    pub fn block_on<F, Fut, R>(&self, make: F) -> Result<R>
    where
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = R>,
        R: Send,
    {
        netns::block_on_in(&self.namespace, make)
    }

    /// Starts the future made by `make` on its own thread and tokio runtime inside this host
    /// and returns at once; [`NsTask::join`] waits for its output.
    pub fn spawn_async<F, Fut, R>(&self, make: F) -> Result<NsTask<R>>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = R>,
        R: Send + 'static,
    {
        NsTask::spawn(&self.namespace, make)
    }

    /// Starts an rtnetlink watcher of this host's addresses: every address added or removed
    /// from now on, stamped with the wall clock (see [`AddressWatch`]).
    pub fn watch_addresses(&self) -> Result<AddressWatch> {
        AddressWatch::start(&self.namespace)
    }

    /// Waits until address `ip` is on some interface of this host (`present`) or on none
    /// (`!present`), polling `ip -j addr` every 10 ms; `false` after `timeout`.
    pub fn wait_for_address(&self, ip: IpAddr, present: bool, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.has_address(ip)? == present {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Starts tcpdump on this host's interface `dev` with a pcap-filter expression.
    pub fn capture(&self, dev: &str, filter: &str) -> Result<Capture> {
        let path = unique_file(&self.dir, &format!("h{}-{dev}", self.number), "pcap");
        Capture::start(&self.namespace, dev, filter, &path)
    }
}

/// A process started with [`Host::spawn`]; killed (SIGKILL) and reaped when dropped.
#[derive(Debug)]
pub struct ChildGuard {
    child: std::process::Child,
    command: String,
    log: PathBuf,
}

impl ChildGuard {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The command line it runs.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// Sends SIGTERM (a graceful stop).
    pub fn terminate(&self) -> Result<()> {
        self.signal(Signal::TERM)
    }

    /// Sends SIGINT.
    pub fn interrupt(&self) -> Result<()> {
        self.signal(Signal::INT)
    }

    /// Sends SIGKILL (a crash) without waiting.
    pub fn kill(&self) -> Result<()> {
        self.signal(Signal::KILL)
    }

    /// Sends SIGKILL and returns the moment right before it.
    pub fn kill_timed(&self) -> Result<SignalMoment> {
        let moment = SignalMoment::now();
        self.signal(Signal::KILL)?;
        Ok(moment)
    }

    /// Sends SIGTERM and returns the moment right before it.
    pub fn terminate_timed(&self) -> Result<SignalMoment> {
        let moment = SignalMoment::now();
        self.signal(Signal::TERM)?;
        Ok(moment)
    }

    fn signal(&self, signal: Signal) -> Result<()> {
        kill_process(Pid::from_child(&self.child), signal).map_err(|e| LabError::Spawn {
            command: format!("kill {}", self.command),
            source: e.into(),
        })
    }

    /// Its exit status if it has exited.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        self.child.try_wait().map_err(|source| LabError::Spawn {
            command: self.command.clone(),
            source,
        })
    }

    /// Waits up to `timeout` for it to exit.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Everything it wrote on stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether process `pid` exists and is not a zombie (dead, waiting to be reaped).
fn running(pid: Pid) -> bool {
    std::fs::read_to_string(format!("/proc/{}/stat", pid.as_raw_nonzero())).is_ok_and(|stat| {
        // pid (comm) state ...: comm may hold spaces and parentheses.
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// Formats a MAC as `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(mac: &[u8; 6]) -> String {
    let [a, b, c, d, e, f] = mac;
    format!("{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}")
}

fn parse_addresses(json: &Value) -> Vec<InterfaceAddress> {
    let mut out = Vec::new();
    for link in json.as_array().into_iter().flatten() {
        for info in link
            .get("addr_info")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(ip) = info
                .get("local")
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok())
            else {
                continue;
            };
            let prefix_len = info.get("prefixlen").and_then(Value::as_u64).unwrap_or(0) as u8;
            let flag = |name: &str| info.get(name).and_then(Value::as_bool).unwrap_or(false);
            out.push(InterfaceAddress {
                ip,
                prefix_len,
                tentative: flag("tentative"),
                dad_failed: flag("dadfailed"),
            });
        }
    }
    out
}

/// Runs `ip -n NS -batch -` with `commands`.
fn ip_batch(namespace: &str, commands: &str) -> Result<()> {
    cmd::run_with_stdin(&["ip", "-n", namespace, "-batch", "-"], Some(commands)).map(drop)
}

/// Writes `/proc/sys/<path>` = value for each pair, from a thread inside `namespace`.
fn write_sysctls(namespace: &str, pairs: &[(&str, &str)]) -> Result<()> {
    netns::run_in(namespace, || {
        for (path, value) in pairs {
            let path = Path::new("/proc/sys").join(path);
            std::fs::write(&path, value).map_err(|source| LabError::File { path, source })?;
        }
        Ok(())
    })?
}

fn unique_file(dir: &Path, stem: &str, ext: &str) -> PathBuf {
    static FILE_COUNTER: AtomicU32 = AtomicU32::new(0);
    dir.join(format!(
        "{stem}-{}.{ext}",
        FILE_COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Deletes lab namespaces left behind by test processes that no longer exist (killed before
/// their `Drop` ran). Only names this crate makes (`vrlab<pid>-...`) with a dead pid are
/// touched; processes are not.
fn sweep_stale_namespaces() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let Ok(entries) = std::fs::read_dir(netns::NETNS_DIR) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = name
                .strip_prefix(NAME_PREFIX)
                .and_then(|rest| rest.split('-').next())
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = cmd::run(&["ip", "netns", "del", &name]);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_parse_and_format() {
        assert_eq!(
            parse_mac("02:00:5e:00:01:ff"),
            Some([2, 0, 0x5e, 0, 1, 0xff])
        );
        assert_eq!(parse_mac("02:00:5e:00:01"), None);
        assert_eq!(parse_mac("02:00:5e:00:01:ff:00"), None);
        assert_eq!(parse_mac("zz:00:5e:00:01:ff"), None);
        assert_eq!(format_mac(&[2, 0, 0x5e, 0, 1, 0xff]), "02:00:5e:00:01:ff");
    }

    #[test]
    fn host_addresses_follow_the_number() {
        let h = Host::new("p", 2, Path::new("/tmp"));
        assert_eq!(h.ipv4(), Ipv4Addr::new(192, 0, 2, 12));
        assert_eq!(h.ipv6(), "2001:db8::12".parse::<Ipv6Addr>().unwrap());
        assert_eq!(h.mac(), [2, 0, 0, 0, 1, 0x12]);
        assert_eq!(h.namespace(), "p-h2");
        assert_eq!(h.bridge_port(), "h2");
    }

    #[test]
    fn ip_json_addresses_parse() {
        let json: Value = serde_json::from_str(
            r#"[{"ifindex":2,"ifname":"eth0","addr_info":[
                {"family":"inet","local":"192.0.2.11","prefixlen":24},
                {"family":"inet6","local":"2001:db8::11","prefixlen":64,"tentative":true},
                {"family":"inet6","local":"fe80::1","prefixlen":64,"dadfailed":true}]}]"#,
        )
        .unwrap();
        let addrs = parse_addresses(&json);
        assert_eq!(addrs.len(), 3);
        assert_eq!(addrs[0].ip, "192.0.2.11".parse::<IpAddr>().unwrap());
        assert_eq!(addrs[0].prefix_len, 24);
        assert!(!addrs[0].tentative);
        assert!(addrs[1].tentative);
        assert!(addrs[2].dad_failed);
    }
}
