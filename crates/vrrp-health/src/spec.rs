//! Plain configuration structs for the probes: what [`crate::ProbeRunner::spawn`] takes.
//!
//! These are this crate's own types, independent of the TOML config crate; the runtime maps the
//! parsed configuration onto them. Every struct has a constructor with the defaults and public
//! fields, so a caller can write `HttpProbe { path: "/health".into(), ..HttpProbe::new("127.0.0.1", 80) }`.

use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::HealthError;
use crate::tracker::{HealthState, Scoring, TrackerConfig};

/// One probe: a name, what to check, and the rise/fall/weight parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSpec {
    /// Unique name; instances track probes by it and `vrrpd status` shows it.
    pub name: String,
    /// What to check.
    pub kind: ProbeKind,
    /// Time between runs (default 1 s). `process` probes rescan /proc at this interval and see
    /// exits of the processes they watch at once; `file` and `interface` probes read at it.
    pub interval: Duration,
    /// A run that takes longer fails as a timeout (default 1 s).
    pub timeout: Duration,
    /// Consecutive failures to become unhealthy (default 1).
    pub fall: u32,
    /// Consecutive successes to become healthy again (default 1).
    pub rise: u32,
    /// Priority weight; `None` (or 0): a failing probe puts the instance in FAULT.
    pub weight: Option<i32>,
    /// State before the first result (default [`HealthState::Unknown`]).
    pub initial: HealthState,
}

impl ProbeSpec {
    /// A probe with keepalived's defaults: interval 1 s, timeout 1 s, fall 1, rise 1, no
    /// weight, initial state unknown.
    pub fn new(name: impl Into<String>, kind: ProbeKind) -> Self {
        let defaults = TrackerConfig::default();
        Self {
            name: name.into(),
            kind,
            interval: defaults.interval,
            timeout: defaults.timeout,
            fall: defaults.fall,
            rise: defaults.rise,
            weight: defaults.weight,
            initial: defaults.initial,
        }
    }

    /// The sans-IO parameters of this probe.
    pub fn tracker_config(&self) -> TrackerConfig {
        let scoring = match &self.kind {
            ProbeKind::File(FileProbe {
                check: FileCheck::Value,
                ..
            }) => Scoring::ValueTimesWeight,
            _ => Scoring::PassFail,
        };
        TrackerConfig {
            interval: self.interval,
            timeout: self.timeout,
            fall: self.fall,
            rise: self.rise,
            weight: self.weight,
            initial: self.initial,
            scoring,
        }
    }

    /// Checks everything that can be checked without touching the system.
    pub fn validate(&self) -> Result<(), HealthError> {
        let invalid = |reason: &str| HealthError::InvalidProbe {
            probe: self.name.clone(),
            reason: reason.to_owned(),
        };
        if self.name.is_empty() {
            return Err(invalid("the name is empty"));
        }
        self.tracker_config().validate(&self.name)?;
        match &self.kind {
            ProbeKind::Http(h) => {
                if h.host.is_empty() {
                    return Err(invalid("http: host is empty"));
                }
                if !h.path.starts_with('/') {
                    return Err(invalid("http: path must start with '/'"));
                }
                if h.path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
                    return Err(invalid("http: path contains spaces or control characters"));
                }
                if h.expect.is_empty() {
                    return Err(invalid("http: no status codes to accept"));
                }
            }
            ProbeKind::Tcp(t) => {
                if t.host.is_empty() {
                    return Err(invalid("tcp: host is empty"));
                }
            }
            ProbeKind::Exec(e) => {
                if e.argv.first().is_none_or(|a| a.is_empty()) {
                    return Err(invalid("exec: the command is empty"));
                }
                if e.argv.iter().any(|a| a.contains('\0')) {
                    return Err(invalid("exec: an argument contains a NUL byte"));
                }
                if e.user.is_empty() {
                    return Err(invalid("exec: user is empty"));
                }
            }
            ProbeKind::Process(p) => {
                match &p.matcher {
                    ProcessMatch::Name(n) => {
                        if n.is_empty() || n.contains('/') || n.contains('\n') {
                            return Err(invalid(
                                "process: the name must be non-empty, without '/' or newline",
                            ));
                        }
                    }
                    ProcessMatch::Cmdline(argv) => {
                        if argv.is_empty() || argv.iter().any(|a| a.contains('\0')) {
                            return Err(invalid(
                                "process: the command line must have at least one argument and no NUL bytes",
                            ));
                        }
                    }
                }
                if p.min_count == 0 {
                    return Err(invalid("process: min_count must be at least 1"));
                }
            }
            ProbeKind::File(f) => {
                if f.path.as_os_str().is_empty() {
                    return Err(invalid("file: path is empty"));
                }
            }
            ProbeKind::Interface(i) => {
                if i.interface.is_empty() || i.interface.contains('/') || i.interface.len() > 15 {
                    return Err(invalid(
                        "interface: the name must be 1 to 15 characters, without '/'",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// What a probe checks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProbeKind {
    /// HTTP/1.1 GET; healthy on an accepted status code within the timeout.
    Http(HttpProbe),
    /// TCP connect within the timeout.
    Tcp(TcpProbe),
    /// Run a command; exit 0 is healthy.
    Exec(ExecProbe),
    /// Count running processes by name or command line; exits seen at once via pidfd.
    Process(ProcessProbe),
    /// A number in a file times the weight, or the presence/absence of a file.
    File(FileProbe),
    /// Link state of a network interface.
    Interface(InterfaceProbe),
}

impl ProbeKind {
    /// The kind's name as in the config: `http`, `tcp`, `exec`, `process`, `file`, `interface`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Http(_) => "http",
            Self::Tcp(_) => "tcp",
            Self::Exec(_) => "exec",
            Self::Process(_) => "process",
            Self::File(_) => "file",
            Self::Interface(_) => "interface",
        }
    }
}

/// `http`: `GET path` on `host:port`, written by hand as HTTP/1.1 with `Connection: close`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpProbe {
    /// Host name or address to connect to; also the `Host` header unless `host_header` is set.
    pub host: String,
    /// TCP port (default 80).
    pub port: u16,
    /// Request target, starting with `/` (default `/`).
    pub path: String,
    /// Override for the `Host` header (for name-based virtual hosts on 127.0.0.1).
    pub host_header: Option<String>,
    /// Status codes that mean healthy (default 200-399).
    pub expect: StatusCodes,
}

impl HttpProbe {
    /// `GET /` on `host:port`, accepting 200-399.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
            path: "/".into(),
            host_header: None,
            expect: StatusCodes::default(),
        }
    }

    /// Parses `http://HOST[:PORT][/PATH]` (HOST may be a name, an IPv4 address or a bracketed
    /// IPv6 address). `https` and user information are refused: this probe speaks plain HTTP
    /// to a local service.
    pub fn from_url(url: &str) -> Result<Self, HealthError> {
        let err = |reason| HealthError::InvalidUrl {
            url: url.to_owned(),
            reason,
        };
        let rest = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) if scheme.eq_ignore_ascii_case("https") => {
                return Err(err(
                    "https is not supported; probe the local plain-HTTP port",
                ));
            }
            _ => return Err(err("must start with http://")),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let path = path.split('#').next().unwrap_or("/");
        if authority.contains('@') {
            return Err(err("user information is not supported"));
        }
        let (host, port) = if let Some(after) = authority.strip_prefix('[') {
            let (host, tail) = after
                .split_once(']')
                .ok_or(err("unterminated [ in IPv6 address"))?;
            let port = match tail {
                "" => None,
                t => Some(t.strip_prefix(':').ok_or(err("garbage after ]"))?),
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(err("no host"));
        }
        let port = match port {
            None => 80,
            Some(p) => p.parse::<u16>().map_err(|_| err("invalid port"))?,
        };
        if port == 0 {
            return Err(err("port 0"));
        }
        if path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err(err("path contains spaces or control characters"));
        }
        Ok(Self {
            host: host.to_owned(),
            port,
            path: path.to_owned(),
            host_header: None,
            expect: StatusCodes::default(),
        })
    }
}

/// A set of HTTP status codes, as ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCodes(Vec<RangeInclusive<u16>>);

impl Default for StatusCodes {
    /// 200-399: success and redirects, as keepalived's `HTTP_GET` without `status_code`.
    fn default() -> Self {
        Self(vec![200..=399])
    }
}

impl StatusCodes {
    /// A set from explicit ranges.
    pub fn from_ranges(ranges: impl IntoIterator<Item = RangeInclusive<u16>>) -> Self {
        Self(ranges.into_iter().collect())
    }

    /// Parses `200-299,301,404`: comma-separated codes and inclusive ranges, each 100-599.
    pub fn parse(spec: &str) -> Result<Self, HealthError> {
        let err = |reason| HealthError::InvalidStatusCodes {
            spec: spec.to_owned(),
            reason,
        };
        let code = |s: &str| -> Result<u16, HealthError> {
            let c: u16 = s.trim().parse().map_err(|_| err("not a number"))?;
            if (100..=599).contains(&c) {
                Ok(c)
            } else {
                Err(err("status codes are 100-599"))
            }
        };
        let mut ranges = Vec::new();
        for part in spec.split(',') {
            let range = match part.split_once('-') {
                Some((lo, hi)) => code(lo)?..=code(hi)?,
                None => {
                    let c = code(part)?;
                    c..=c
                }
            };
            if range.is_empty() {
                return Err(err("a range ends before it starts"));
            }
            ranges.push(range);
        }
        Ok(Self(ranges))
    }

    /// Whether `code` is in the set.
    pub fn contains(&self, code: u16) -> bool {
        self.0.iter().any(|r| r.contains(&code))
    }

    /// Whether the set accepts nothing.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|r| r.is_empty())
    }
}

/// `tcp`: connect to `host:port` within the timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpProbe {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl TcpProbe {
    /// Connect to `host:port`.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
        }
    }
}

/// `exec`: run a command; exit status 0 is healthy.
///
/// The command runs as `user` (default `nobody`), in its own process group, with an empty
/// environment except `PATH=/usr/sbin:/usr/bin:/sbin:/bin`, working directory `/`, standard
/// input, output and error on `/dev/null`. On timeout the whole process group is killed
/// (SIGKILL), so children the command started die too; leftovers of a command that exited are
/// killed the same way, so no probe process outlives its run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecProbe {
    /// Program and arguments, run without a shell. With `shell = true`, `argv[0]` is a shell
    /// command line run by `/bin/sh -c`, and the other elements become `$1`, `$2`...
    pub argv: Vec<String>,
    /// Run `argv[0]` through `/bin/sh -c` (default false).
    pub shell: bool,
    /// User to run as (default `nobody`); looked up in `/etc/passwd`, with that user's primary
    /// group and no supplementary groups. When the daemon already runs as that user, no switch
    /// is made.
    pub user: String,
}

impl ExecProbe {
    /// Run `argv` without a shell as `nobody`.
    pub fn new<S: Into<String>>(argv: impl IntoIterator<Item = S>) -> Self {
        Self {
            argv: argv.into_iter().map(Into::into).collect(),
            shell: false,
            user: "nobody".into(),
        }
    }

    /// Run a shell command line with `/bin/sh -c` as `nobody`.
    pub fn shell(command: impl Into<String>) -> Self {
        Self {
            argv: vec![command.into()],
            shell: true,
            user: "nobody".into(),
        }
    }
}

/// How a `process` probe recognises its processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessMatch {
    /// The process name, compared exactly with `/proc/PID/comm` (like `pgrep -x`). The kernel
    /// keeps the first 15 bytes of a name, so a longer name is compared on those. A script
    /// called `check_nginx.sh` is not `nginx`.
    Name(String),
    /// The exact command line, compared argument by argument with `/proc/PID/cmdline`.
    Cmdline(Vec<String>),
}

/// `process`: at least `min_count` running (non-zombie) processes match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessProbe {
    /// What to match.
    pub matcher: ProcessMatch,
    /// Minimum number of matching processes (default 1).
    pub min_count: usize,
    /// Count processes in every network namespace (default false: only those in the
    /// daemon's own). A service in another network namespace cannot answer on the VIP the
    /// daemon adds to its own interfaces, so by default it does not count; and on one machine
    /// running several namespaces (containers, or the lab of `vrrpd demo`) each daemon sees
    /// only its own host's service. A process whose namespace cannot be read (another user's,
    /// when the daemon is not root) counts, as it would without this check.
    pub any_namespace: bool,
}

impl ProcessProbe {
    /// At least one process named `name`, in the daemon's network namespace.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            matcher: ProcessMatch::Name(name.into()),
            min_count: 1,
            any_namespace: false,
        }
    }
}

/// What a `file` probe looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FileCheck {
    /// keepalived's `track_file`: the file holds a decimal integer, which times the weight is
    /// the priority offset (without a weight: 0 healthy, anything else failing). A missing or
    /// empty file reads as 0, as in keepalived; content that is not a number is a failure.
    #[default]
    Value,
    /// Healthy while the file exists.
    Exists,
    /// Healthy while the file does not exist (a maintenance switch: `touch` it to fail).
    Absent,
}

/// `file`: read a number from a file, or check whether it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProbe {
    /// The file.
    pub path: PathBuf,
    /// What to check (default [`FileCheck::Value`]).
    pub check: FileCheck,
}

impl FileProbe {
    /// A probe of `path` with the given check.
    pub fn new(path: impl Into<PathBuf>, check: FileCheck) -> Self {
        Self {
            path: path.into(),
            check,
        }
    }
}

/// `interface`: healthy while the link is administratively up and has carrier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceProbe {
    /// Interface name.
    pub interface: String,
    /// Where the interfaces' sysfs directories are (default `/sys/class/net`). Only worth
    /// changing when the daemon's network namespace is not the one sysfs was mounted in.
    pub sysfs_net: PathBuf,
}

impl InterfaceProbe {
    /// A probe of `interface` through `/sys/class/net`.
    pub fn new(interface: impl Into<String>) -> Self {
        Self {
            interface: interface.into(),
            sysfs_net: PathBuf::from("/sys/class/net"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let h = HttpProbe::from_url("http://127.0.0.1/nginx_health").unwrap();
        assert_eq!(
            (h.host.as_str(), h.port, h.path.as_str()),
            ("127.0.0.1", 80, "/nginx_health")
        );
        let h = HttpProbe::from_url("HTTP://example.test:8080").unwrap();
        assert_eq!(
            (h.host.as_str(), h.port, h.path.as_str()),
            ("example.test", 8080, "/")
        );
        let h = HttpProbe::from_url("http://[2001:db8::1]:81/a?b=c#frag").unwrap();
        assert_eq!(
            (h.host.as_str(), h.port, h.path.as_str()),
            ("2001:db8::1", 81, "/a?b=c")
        );
        let h = HttpProbe::from_url("http://[::1]/x").unwrap();
        assert_eq!((h.host.as_str(), h.port), ("::1", 80));
        for bad in [
            "https://127.0.0.1/",
            "ftp://x/",
            "127.0.0.1/health",
            "http://:80/",
            "http://host:99999/",
            "http://host:0/",
            "http://host:x/",
            "http://user:pw@host/",
            "http://[::1/",
            "http://[::1]x/",
            "http://host/a b",
        ] {
            assert!(HttpProbe::from_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn status_codes() {
        let d = StatusCodes::default();
        assert!(d.contains(200) && d.contains(302) && d.contains(399));
        assert!(!d.contains(199) && !d.contains(400) && !d.contains(500));
        let s = StatusCodes::parse("200-204, 301,404").unwrap();
        assert!(s.contains(204) && s.contains(301) && s.contains(404));
        assert!(!s.contains(205) && !s.contains(302));
        for bad in ["", "abc", "200-", "300-200", "99", "600", "200,,300"] {
            assert!(StatusCodes::parse(bad).is_err(), "{bad:?}");
        }
        assert!(StatusCodes::from_ranges([]).is_empty());
    }

    #[test]
    fn validation_names_the_probe() {
        let ok = ProbeSpec::new("web", ProbeKind::Http(HttpProbe::new("127.0.0.1", 80)));
        ok.validate().unwrap();
        let cases = [
            ProbeKind::Http(HttpProbe {
                path: "no-slash".into(),
                ..HttpProbe::new("h", 80)
            }),
            ProbeKind::Http(HttpProbe {
                expect: StatusCodes::from_ranges([]),
                ..HttpProbe::new("h", 80)
            }),
            ProbeKind::Tcp(TcpProbe::new("", 80)),
            ProbeKind::Exec(ExecProbe::new(Vec::<String>::new())),
            ProbeKind::Exec(ExecProbe {
                user: String::new(),
                ..ExecProbe::new(["/bin/true"])
            }),
            ProbeKind::Process(ProcessProbe::named("")),
            ProbeKind::Process(ProcessProbe::named("/usr/sbin/nginx")),
            ProbeKind::Process(ProcessProbe {
                min_count: 0,
                ..ProcessProbe::named("nginx")
            }),
            ProbeKind::Process(ProcessProbe {
                matcher: ProcessMatch::Cmdline(vec![]),
                ..ProcessProbe::named("")
            }),
            ProbeKind::File(FileProbe::new("", FileCheck::Exists)),
            ProbeKind::Interface(InterfaceProbe::new("a-very-long-interface-name")),
        ];
        for kind in cases {
            let err = ProbeSpec::new("web", kind.clone()).validate().unwrap_err();
            assert!(
                err.to_string().starts_with("probe web: "),
                "{kind:?}: {err}"
            );
        }
        let mut weighted = ok.clone();
        weighted.weight = Some(300);
        assert!(weighted.validate().is_err());
    }

    #[test]
    fn file_value_probes_score_value_times_weight() {
        let value = ProbeSpec::new(
            "f",
            ProbeKind::File(FileProbe::new("/run/x", FileCheck::Value)),
        );
        assert_eq!(value.tracker_config().scoring, Scoring::ValueTimesWeight);
        let exists = ProbeSpec::new(
            "f",
            ProbeKind::File(FileProbe::new("/run/x", FileCheck::Exists)),
        );
        assert_eq!(exists.tracker_config().scoring, Scoring::PassFail);
    }
}
