//! The configuration of vrrp-rs: the native TOML format that `vrrpd` reads, its validation,
//! the warnings `vrrpd check-config` prints, and the keepalived.conf importer.
//!
//! - [`LoadedConfig::parse`] turns TOML text into a typed [`Config`] or returns **every**
//!   error found, each located as `FILE:LINE:COL: message` ([`Diagnostic`]). Unknown keys
//!   are errors; durations are strings such as `"1s"`, `"100ms"` or `"1.5s"`
//!   ([`parse_duration`]).
//! - The typed [`Config`] is what a runtime consumes: durations are [`std::time::Duration`],
//!   addresses are [`std::net::IpAddr`] (VIPs with a prefix length, [`VirtualIp`]), versions
//!   and checksum modes are `vrrp_packet`'s types. No IO in the types.
//! - [`LoadedConfig::warnings`] lists what is valid but will not work as meant (a weight that
//!   hits the priority clamp, a VIP outside every subnet of its interface, an exec probe
//!   script that others can modify, ...). Checks that need the host's state take it as a
//!   [`HostInfo`], so they are testable without the machine.
//! - [`check_cluster`] cross-checks the files of several nodes: same VRID, version, interval,
//!   VIPs and authentication per instance, distinct priorities, and whether each weighted
//!   probe can actually move the VIP given the other nodes' priorities.
//! - [`keepalived::import`] reads keepalived.conf and produces our config and TOML
//!   ([`to_toml`]), listing every directive it could not carry over.
//!
//! - [`fuzzing`] holds the properties the fuzz targets check (`config_parse`,
//!   `keepalived_import`), shared with the corpus replay in `cargo test`.
//!
//! The file reading helpers ([`LoadedConfig::from_file`], [`keepalived::import_file`]) are
//! thin wrappers; everything else works on strings.
//!
//! ```
//! use std::time::Duration;
//! use vrrp_config::{LoadedConfig, check_cluster};
//!
//! let master = LoadedConfig::parse("master.toml", r#"
//!     [probe.nginx]
//!     kind = "process"
//!     process = "nginx"
//!     weight = -10
//!
//!     [[instance]]
//!     name = "VI_1"
//!     interface = "eth0"
//!     vrid = 51
//!     priority = 100
//!     advert_interval = "100ms"
//!     virtual_ips = ["192.0.2.100/24"]
//!     track = ["nginx"]
//! "#).unwrap();
//! let vi = &master.config.instances[0];
//! assert_eq!(vi.advert_interval, Duration::from_millis(100));
//! assert_eq!(vi.virtual_ips[0].to_string(), "192.0.2.100/24");
//!
//! let backup_text = master.source.text.replace("priority = 100", "priority = 80");
//! let backup = LoadedConfig::parse("backup.toml", &backup_text).unwrap();
//!
//! // 100 - 10 = 90 still beats 80: the probe can never move the VIP.
//! let warnings = check_cluster(&[master, backup]);
//! assert!(warnings.iter().any(|w| w.to_string().starts_with("master.toml:5:")
//!     && w.message.contains("weight must be below -20")));
//!
//! // Every error is reported, each with its position.
//! let errors = LoadedConfig::parse("bad.toml", "[[instance]]\nvrid = 300\nprio = 1\n").unwrap_err();
//! let text = errors.to_string();
//! assert!(text.contains("bad.toml:2:8: `vrid` must be 1..=255, found 300"));
//! assert!(text.contains("bad.toml:3:1: unknown key `prio`"));
//! ```
#![forbid(unsafe_code)]

mod cluster;
mod diag;
mod duration;
pub mod fuzzing;
pub mod keepalived;
mod lint;
mod parse;
mod reader;
mod types;
mod validate;
mod write;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

pub use cluster::check_cluster;
pub use diag::{Diagnostic, Diagnostics, Severity, SourceFile};
pub use duration::{format_duration, parse_duration};
pub use lint::{FileStatus, HostInfo, InterfaceAddress, StaticHost};
pub use types::{
    CommandLine, Config, DEFAULT_SCRIPT_USER, DEFAULT_STATUS_SOCKET, ExecProbe, FileMode,
    FileProbe, Global, HttpProbe, Instance, InterfaceProbe, Notify, Probe, ProbeKind, ProbeState,
    ProcessMatch, ProcessProbe, SyncGroup, TcpProbe, VirtualIp, same_subnet, split_command_line,
};
pub use validate::{MAX_AUTH_PASS_LEN, MAX_PREEMPT_DELAY, MIN_PROBE_INTERVAL};
pub use write::{Comments, to_toml, to_toml_with_comments};

/// What can go wrong when loading a config.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The text is not a valid config: every error, one per line as `FILE:LINE:COL: message`.
    #[error("{0}")]
    Invalid(Diagnostics),
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The path as given.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// A parsed and validated config together with its source, so that later checks
/// (warnings, cluster checks) can point at lines.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The file name and text it was parsed from.
    pub source: SourceFile,
    /// The typed config.
    pub config: Config,
    positions: BTreeMap<String, Range<usize>>,
}

impl LoadedConfig {
    /// Parses and validates `text`; `file` is the name diagnostics print. Returns every error
    /// found, sorted by position.
    pub fn parse(file: &str, text: &str) -> Result<LoadedConfig, Diagnostics> {
        let source = SourceFile::new(file, text);
        let mut ctx = reader::Ctx::default();
        let parsed = parse::parse_document(text, &mut ctx);
        if let Some(parsed) = &parsed {
            validate::validate(parsed, &mut ctx);
        }
        match parsed {
            Some(parsed) if ctx.errors.is_empty() => Ok(LoadedConfig {
                source,
                config: parsed.config,
                positions: ctx.positions,
            }),
            _ => {
                let mut out: Vec<Diagnostic> = ctx
                    .errors
                    .iter()
                    .map(|(span, msg)| source.diagnostic(Severity::Error, span, msg.clone()))
                    .collect();
                out.sort();
                out.dedup();
                Err(Diagnostics(out))
            }
        }
    }

    /// Reads and parses a file (the path as given is the name in diagnostics).
    pub fn from_file(path: impl AsRef<Path>) -> Result<LoadedConfig, ConfigError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: name.clone(),
            source,
        })?;
        LoadedConfig::parse(&name, &text).map_err(ConfigError::Invalid)
    }

    /// The byte span of a value, by key path: `global.router_id`, `probe.NAME.weight`,
    /// `instance[0].priority`, `instance[0].virtual_ips[1]`, `sync_group[0].instances`; a
    /// table's own path (`instance[0]`, `probe.NAME`) gives its header.
    pub fn span_of(&self, path: &str) -> Option<Range<usize>> {
        self.positions.get(path).cloned()
    }

    /// Whether the file set this key explicitly (rather than leaving the default).
    pub fn is_set(&self, path: &str) -> bool {
        self.positions.contains_key(path)
    }

    /// A diagnostic at the value of the first path in `paths` that the file has, else at
    /// 1:1.
    pub fn diagnostic_at(
        &self,
        severity: Severity,
        paths: &[&str],
        message: impl Into<String>,
    ) -> Diagnostic {
        let span = paths.iter().find_map(|p| self.span_of(p)).unwrap_or(0..0);
        self.source.diagnostic(severity, &span, message)
    }

    /// Warnings about this node alone. With `host`, also the checks against the machine the
    /// config is for (interfaces, addresses, script files); see [`HostInfo`].
    pub fn warnings(&self, host: Option<&dyn HostInfo>) -> Vec<Diagnostic> {
        let mut out = lint::node_warnings(self);
        if let Some(host) = host {
            out.extend(lint::host_warnings(self, host));
        }
        out.sort();
        out.dedup();
        out
    }
}

impl Config {
    /// Parses and validates TOML text (diagnostics name the file `<config>`).
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        LoadedConfig::parse("<config>", text)
            .map(|l| l.config)
            .map_err(ConfigError::Invalid)
    }
}
