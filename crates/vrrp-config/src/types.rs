//! The typed configuration: what a runtime consumes once a file has been parsed and
//! validated. No IO here; every value is already checked against the rules in
//! `docs/configuration.md`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use vrrp_packet::{AddressFamily, ChecksumMode, Interval, Version};

/// A whole vrrpd configuration (one node).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    /// Daemon-wide settings (`[global]`).
    pub global: Global,
    /// Health probes by name (`[probe.NAME]`).
    pub probes: BTreeMap<String, Probe>,
    /// Virtual routers (`[[instance]]`), in file order.
    pub instances: Vec<Instance>,
    /// Groups of instances that change state together (`[[sync_group]]`), in file order.
    pub sync_groups: Vec<SyncGroup>,
}

impl Config {
    /// The instance with this name.
    pub fn instance(&self, name: &str) -> Option<&Instance> {
        self.instances.iter().find(|i| i.name == name)
    }

    /// The sync group that `instance` belongs to, if any.
    pub fn sync_group_of(&self, instance: &str) -> Option<&SyncGroup> {
        self.sync_groups
            .iter()
            .find(|g| g.instances.iter().any(|m| m == instance))
    }
}

/// Default path of the status socket.
pub const DEFAULT_STATUS_SOCKET: &str = "/run/vrrpd/vrrpd.sock";
/// Default user that exec probes and notify scripts run as.
pub const DEFAULT_SCRIPT_USER: &str = "nobody";

/// Daemon-wide settings, the `[global]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Global {
    /// A name for this node in logs and status output (`router_id`); default: the host name.
    pub router_id: Option<String>,
    /// Unix socket that `vrrpd status` and `vrrpd reload` talk to (`status_socket`).
    pub status_socket: PathBuf,
    /// Address of the Prometheus `/metrics` endpoint (`metrics`); `None` = off.
    pub metrics: Option<SocketAddr>,
    /// User that exec probes and notify scripts run as (`script_user`).
    pub script_user: String,
    /// How long a notify script may run before it is killed (`notify_timeout`).
    pub notify_timeout: Duration,
}

impl Default for Global {
    fn default() -> Self {
        Global {
            router_id: None,
            status_socket: PathBuf::from(DEFAULT_STATUS_SOCKET),
            metrics: None,
            script_user: DEFAULT_SCRIPT_USER.to_string(),
            notify_timeout: Duration::from_secs(10),
        }
    }
}

/// A health probe, `[probe.NAME]`.
///
/// Its result enters the instances that `track` it: with a [`weight`](Probe::weight), as a
/// priority offset; without one, a failure puts them in FAULT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// What is checked, and how.
    pub kind: ProbeKind,
    /// Time between two checks (`interval`, default 1 s).
    pub interval: Duration,
    /// Time one check may take before it counts as failed (`timeout`, default: the interval).
    pub timeout: Duration,
    /// Consecutive failures that make a healthy probe failed (`fall`, default 1).
    pub fall: u32,
    /// Consecutive successes that make a failed probe healthy (`rise`, default 1).
    pub rise: u32,
    /// Priority offset (`weight`, -253..=253). Negative: subtracted while the probe is failed.
    /// Positive: added while it is healthy. `None` (or 0 in the file): failure means FAULT.
    /// For a [`FileProbe`] in [`FileMode::Number`] mode it multiplies the number in the file.
    pub weight: Option<i32>,
    /// State before the first result (`initial`, default healthy).
    pub initial: ProbeState,
}

impl Probe {
    /// The kind's name as written in the file (`http`, `tcp`, ...).
    pub fn kind_name(&self) -> &'static str {
        self.kind.name()
    }
}

/// The state a probe starts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ProbeState {
    /// Counted as passing until a check says otherwise (keepalived's default).
    #[default]
    Healthy,
    /// Counted as failing until `rise` checks pass (keepalived's `init_fail`).
    Failed,
}

/// The kinds of probe.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProbeKind {
    /// `kind = "http"`: an HTTP/1.1 GET.
    Http(HttpProbe),
    /// `kind = "tcp"`: a TCP connect.
    Tcp(TcpProbe),
    /// `kind = "exec"`: a command that exits 0 when healthy.
    Exec(ExecProbe),
    /// `kind = "process"`: running processes.
    Process(ProcessProbe),
    /// `kind = "file"`: a file's content or presence.
    File(FileProbe),
    /// `kind = "interface"`: a link's state.
    Interface(InterfaceProbe),
}

impl ProbeKind {
    /// The kind's name as written in the file.
    pub fn name(&self) -> &'static str {
        match self {
            ProbeKind::Http(_) => "http",
            ProbeKind::Tcp(_) => "tcp",
            ProbeKind::Exec(_) => "exec",
            ProbeKind::Process(_) => "process",
            ProbeKind::File(_) => "file",
            ProbeKind::Interface(_) => "interface",
        }
    }
}

/// An HTTP GET probe. Healthy when the status code is in `expect_status` within the timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpProbe {
    /// The URL as written (`url`), `http://` only.
    pub url: String,
    /// Host part of the URL: an IP literal (brackets removed) or a name, also sent as `Host`.
    pub host: String,
    /// Port (default 80).
    pub port: u16,
    /// Path and query, at least `/`.
    pub path: String,
    /// Status codes that count as healthy (`expect_status`, default `200-399`).
    pub expect_status: Vec<RangeInclusive<u16>>,
}

impl HttpProbe {
    /// Whether `status` counts as healthy.
    pub fn accepts(&self, status: u16) -> bool {
        self.expect_status.iter().any(|r| r.contains(&status))
    }
}

/// A TCP connect probe: healthy when the connection is established within the timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpProbe {
    /// Address to connect to (`host`, an IP literal; default 127.0.0.1).
    pub host: IpAddr,
    /// Port (`port`, required).
    pub port: u16,
}

impl TcpProbe {
    /// The socket address to connect to.
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }
}

/// A command probe: healthy when the command exits 0 within the timeout. It runs as
/// `script_user`, in its own process group, killed as a group on timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecProbe {
    /// The exact argv to execute. With `shell = true` it is `["/bin/sh", "-c", COMMAND]`.
    pub argv: Vec<String>,
    /// Whether the command was given to a shell (`shell`, default false).
    pub shell: bool,
}

/// A process probe: healthy while at least `min_count` matching processes run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessProbe {
    /// How processes are matched.
    pub matcher: ProcessMatch,
    /// Minimum number of matching processes (`min_count`, default 1).
    pub min_count: u32,
    /// Count matching processes in every network namespace (`any_namespace`, default false:
    /// only those in the daemon's own, the only ones that can answer on its VIP).
    pub any_namespace: bool,
}

/// How a process probe recognises its processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessMatch {
    /// `process = "nginx"`: `/proc/PID/comm` equals this name exactly (at most 15 bytes,
    /// the kernel's limit).
    Name(String),
    /// `cmdline = [...]` (or a string split on spaces): `/proc/PID/cmdline` equals this argv
    /// exactly.
    Cmdline(Vec<String>),
}

/// A file probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProbe {
    /// The file (`path`).
    pub path: PathBuf,
    /// What is read from it (`mode`, default `number`).
    pub mode: FileMode,
}

/// What a file probe reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileMode {
    /// The file holds an integer; it is multiplied by the weight and added to the priority
    /// (keepalived's `track_file`). Without a weight, a non-zero number means FAULT.
    Number,
    /// Healthy while the file exists.
    Exists,
    /// Healthy while the file does not exist (a maintenance switch).
    Absent,
}

impl FileMode {
    /// The name written in the file.
    pub fn name(self) -> &'static str {
        match self {
            FileMode::Number => "number",
            FileMode::Exists => "exists",
            FileMode::Absent => "absent",
        }
    }
}

/// An interface probe: failed while the link is down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceProbe {
    /// Interface name (`interface`).
    pub interface: String,
}

/// A virtual router on one interface for one address family, `[[instance]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Unique name (`name`), used in logs, status, notify arguments and sync groups.
    pub name: String,
    /// Interface the adverts are sent on and the VIPs are added to (`interface`).
    pub interface: String,
    /// Virtual router identifier (`vrid`, 1..=255).
    pub vrid: u8,
    /// Base priority (`priority`, 1..=255, default 100; 255 = address owner).
    pub priority: u8,
    /// VRRP version (`version`, 3 by default).
    pub version: Version,
    /// Advertisement interval (`advert_interval`, default 1 s): whole seconds up to 255 s for
    /// v2, 10 ms steps from 10 ms to 40.95 s for v3.
    pub advert_interval: Duration,
    /// Whether a higher-priority backup takes over from a lower-priority master
    /// (`preempt`, default true).
    pub preempt: bool,
    /// Delay before preempting (`preempt_delay`, 0..=1000 s, default 0).
    pub preempt_delay: Duration,
    /// The virtual addresses (`virtual_ips`), all of one family, at most 255.
    pub virtual_ips: Vec<VirtualIp>,
    /// Names of the probes this instance tracks (`track`).
    pub track: Vec<String>,
    /// Source address for unicast adverts (`unicast_src`); default: the interface's address.
    pub unicast_src: Option<IpAddr>,
    /// Unicast peers (`unicast_peers`); empty = multicast.
    pub unicast_peers: Vec<IpAddr>,
    /// VRRPv2 simple password (`auth_pass`, at most 8 bytes).
    pub auth_pass: Option<String>,
    /// Whether to use the virtual MAC on a macvlan (`use_vmac`, default false).
    pub use_vmac: bool,
    /// Accept_Mode: whether a non-owner master accepts packets to the VIPs (`accept`,
    /// default false as in RFC 9568 §6.1; keepalived's default is on).
    pub accept: bool,
    /// VRRPv3-over-IPv4 checksum form to send (`checksum`, default pseudo-header).
    pub checksum: ChecksumMode,
    /// Whether received adverts must have TTL / hop limit 255 (`ttl_check`; default true
    /// with multicast, false with unicast peers, as keepalived).
    pub ttl_check: bool,
    /// Gratuitous ARPs / unsolicited NAs sent on becoming master (`garp_repeat`, default 5).
    pub garp_repeat: u32,
    /// Gap between the messages of one burst (`garp_interval`, default 0).
    pub garp_interval: Duration,
    /// Periodic re-announcement while master (`garp_refresh`); `None` = off (default).
    pub garp_refresh: Option<Duration>,
    /// Scripts run on state changes.
    pub notify: Notify,
}

impl Instance {
    /// An instance with every optional key at the default a TOML file gets when it leaves
    /// the key out (priority 100, VRRPv3, 1 s adverts, preempt on, no probes, multicast, no
    /// VMAC, accept off, the pseudo-header checksum, TTL checked, 5 announcements at once, no
    /// notify). For embedders that build a configuration in code:
    ///
    /// ```
    /// use std::time::Duration;
    /// let vi = vrrp_config::Instance {
    ///     priority: 150,
    ///     advert_interval: Duration::from_millis(100),
    ///     ..vrrp_config::Instance::new("VI_1", "eth0", 51, vec!["192.0.2.100/24".parse().unwrap()])
    /// };
    /// assert!(vi.preempt);
    /// ```
    ///
    /// Such an instance is not validated the way a parsed file is; the runtime's engine still
    /// refuses impossible values (VRID 0, an interval the version cannot carry, mixed
    /// families).
    pub fn new(
        name: impl Into<String>,
        interface: impl Into<String>,
        vrid: u8,
        virtual_ips: Vec<VirtualIp>,
    ) -> Self {
        Instance {
            name: name.into(),
            interface: interface.into(),
            vrid,
            priority: 100,
            version: Version::V3,
            advert_interval: Duration::from_secs(1),
            preempt: true,
            preempt_delay: Duration::ZERO,
            virtual_ips,
            track: Vec::new(),
            unicast_src: None,
            unicast_peers: Vec::new(),
            auth_pass: None,
            use_vmac: false,
            accept: false,
            checksum: ChecksumMode::PseudoHeader,
            ttl_check: true,
            garp_repeat: 5,
            garp_interval: Duration::ZERO,
            garp_refresh: None,
            notify: Notify::default(),
        }
    }

    /// The address family of the virtual router (that of its VIPs).
    pub fn family(&self) -> AddressFamily {
        match self.virtual_ips.first().map(|v| v.addr) {
            Some(IpAddr::V6(_)) => AddressFamily::Ipv6,
            _ => AddressFamily::Ipv4,
        }
    }

    /// Whether this router is the address owner (priority 255).
    pub fn is_owner(&self) -> bool {
        self.priority == 255
    }

    /// The advertisement interval in the wire's unit (validation guarantees it is exact
    /// and in range).
    pub fn advert_interval_wire(&self) -> Interval {
        let centis = self.advert_interval.as_millis() / 10;
        Interval::from_centis(u16::try_from(centis).unwrap_or(u16::MAX))
    }

    /// The checksum form to send: [`Instance::checksum`] for v3 over IPv4, else the only form
    /// the version and family allow.
    pub fn effective_checksum(&self) -> ChecksumMode {
        match (self.version, self.family()) {
            (Version::V2, _) => ChecksumMode::MessageOnly,
            (Version::V3, AddressFamily::Ipv6) => ChecksumMode::PseudoHeader,
            (Version::V3, AddressFamily::Ipv4) => self.checksum,
        }
    }

    /// Whether adverts are unicast to [`Instance::unicast_peers`].
    pub fn is_unicast(&self) -> bool {
        !self.unicast_peers.is_empty()
    }
}

/// A virtual IP address with its prefix length, `"192.0.2.100/24"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VirtualIp {
    /// The address.
    pub addr: IpAddr,
    /// Prefix length (default 32 for IPv4, 128 for IPv6).
    pub prefix_len: u8,
}

impl VirtualIp {
    /// Whether `other` is inside this address's subnet.
    pub fn subnet_contains(&self, other: IpAddr) -> bool {
        same_subnet(self.addr, other, self.prefix_len)
    }
}

/// Whether `a` and `b` are in the same subnet of `prefix_len` bits (false across families).
pub fn same_subnet(a: IpAddr, b: IpAddr, prefix_len: u8) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let len = u32::from(prefix_len.min(32));
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            (u32::from(a) & mask) == (u32::from(b) & mask)
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let len = u32::from(prefix_len.min(128));
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            (u128::from(a) & mask) == (u128::from(b) & mask)
        }
        _ => false,
    }
}

impl fmt::Display for VirtualIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

impl FromStr for VirtualIp {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{addr:?} is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix_len = match len {
            None => max,
            Some(l) => match l.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => return Err(format!("prefix length {l:?} is not 0..={max}")),
            },
        };
        Ok(VirtualIp { addr, prefix_len })
    }
}

/// A command line: the program and its arguments, already split.
///
/// In the file it is either an array of strings (taken as is) or a string split on spaces,
/// with `'...'` and `"..."` quoting and `\` escapes, as a shell would (but no shell runs).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommandLine {
    /// argv; never empty.
    pub argv: Vec<String>,
}

impl CommandLine {
    /// The program (argv\[0\]).
    pub fn program(&self) -> &str {
        self.argv.first().map_or("", String::as_str)
    }
}

impl fmt::Display for CommandLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, arg) in self.argv.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            if !arg.is_empty()
                && arg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c))
            {
                f.write_str(arg)?;
            } else {
                write!(f, "'{}'", arg.replace('\'', r"'\''"))?;
            }
        }
        Ok(())
    }
}

/// Splits a command line as a POSIX shell splits words: blanks separate, `'...'` is literal,
/// `"..."` allows `\"`, `\\`, `\$` and `` \` `` escapes, `\` outside quotes escapes the next
/// character. No expansion of any kind.
///
/// ```
/// use vrrp_config::split_command_line;
///
/// assert_eq!(
///     split_command_line(r#"/etc/vrrpd/notify.sh "two words" it\'s"#).unwrap(),
///     vec!["/etc/vrrpd/notify.sh", "two words", "it's"],
/// );
/// ```
pub fn split_command_line(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unterminated ' quote".to_string()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("unterminated \" quote".to_string()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unterminated \" quote".to_string()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err("trailing backslash".to_string()),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Scripts run on state changes (of an instance or of a sync group).
///
/// `notify` is run as `COMMAND... INSTANCE|GROUP NAME MASTER|BACKUP|FAULT|STOP PRIORITY`
/// (keepalived's argument order); the others are run as given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Notify {
    /// Run on every transition, with four arguments appended (`notify`).
    pub any: Option<CommandLine>,
    /// Run on becoming master (`notify_master`).
    pub master: Option<CommandLine>,
    /// Run on becoming backup (`notify_backup`).
    pub backup: Option<CommandLine>,
    /// Run on entering FAULT (`notify_fault`).
    pub fault: Option<CommandLine>,
    /// Run when the instance stops (`notify_stop`).
    pub stop: Option<CommandLine>,
}

impl Notify {
    /// Every configured command with its key name.
    pub fn commands(&self) -> impl Iterator<Item = (&'static str, &CommandLine)> {
        [
            ("notify", &self.any),
            ("notify_master", &self.master),
            ("notify_backup", &self.backup),
            ("notify_fault", &self.fault),
            ("notify_stop", &self.stop),
        ]
        .into_iter()
        .filter_map(|(k, c)| c.as_ref().map(|c| (k, c)))
    }
}

/// Instances that change state together, `[[sync_group]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroup {
    /// Unique name (`name`).
    pub name: String,
    /// Member instance names (`instances`); each instance is in at most one group.
    pub instances: Vec<String>,
    /// Scripts run on the group's transitions (`notify` gets `GROUP NAME STATE 0`).
    pub notify: Notify,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_ip_parses_with_and_without_prefix() {
        let v: VirtualIp = "192.0.2.100/24".parse().unwrap();
        assert_eq!(v.prefix_len, 24);
        assert_eq!(v.to_string(), "192.0.2.100/24");
        let v: VirtualIp = "2001:db8::1".parse().unwrap();
        assert_eq!(v.prefix_len, 128);
        assert!("192.0.2.1/33".parse::<VirtualIp>().is_err());
        assert!("192.0.2/24".parse::<VirtualIp>().is_err());
        assert!("2001:db8::1/129".parse::<VirtualIp>().is_err());
    }

    #[test]
    fn subnets() {
        let a: IpAddr = "192.0.2.11".parse().unwrap();
        let b: IpAddr = "192.0.2.100".parse().unwrap();
        let c: IpAddr = "198.51.100.1".parse().unwrap();
        assert!(same_subnet(a, b, 24));
        assert!(!same_subnet(a, c, 24));
        assert!(same_subnet(a, c, 0));
        assert!(!same_subnet(a, "2001:db8::1".parse().unwrap(), 0));
        assert!(same_subnet(
            "2001:db8::1".parse().unwrap(),
            "2001:db8::ffff".parse().unwrap(),
            64
        ));
    }

    #[test]
    fn command_lines_split_like_a_shell() {
        assert_eq!(
            split_command_line("a  b\t'c d' \"e \\\" f\" g\\ h").unwrap(),
            vec!["a", "b", "c d", "e \" f", "g h"]
        );
        assert_eq!(split_command_line("''").unwrap(), vec![""]);
        assert!(split_command_line("'open").is_err());
        assert!(split_command_line("\"open").is_err());
        assert!(split_command_line("x\\").is_err());
        let c = CommandLine {
            argv: vec!["/bin/x".into(), "it's".into(), "a b".into()],
        };
        assert_eq!(split_command_line(&c.to_string()).unwrap(), c.argv);
    }
}
