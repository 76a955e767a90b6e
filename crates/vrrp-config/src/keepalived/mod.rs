//! Import of keepalived.conf (keepalived 2.x syntax, 1.3 configs included) into the native
//! config.
//!
//! What is carried over: `global_defs` (router_id, script_user, vrrp_version, the gratuitous
//! ARP defaults, vrrp_strict), `vrrp_script` (as `exec` probes with the same interval,
//! timeout, fall, rise and weight, plus a comment suggesting the native probe that replaces
//! the script), `track_file` / `vrrp_track_process` (as `file` / `process` probes),
//! `vrrp_instance` (state is dropped: priority decides; interface, virtual_router_id,
//! priority, advert_int, nopreempt, preempt_delay, authentication, virtual_ipaddress,
//! track_script, track_interface, track_file, track_process, notify*, unicast_src_ip,
//! unicast_peer, use_vmac, accept, version, garp settings), `vrrp_sync_group`, and `include`
//! (glob patterns, relative to the including file). Everything else becomes a [`Note`] that
//! says where it was and why it was not carried over. The mapping table is in
//! `docs/configuration.md`.
//!
//! ```
//! use vrrp_config::keepalived::{MemoryLoader, import};
//!
//! let conf = r#"
//! vrrp_instance VI_1 {
//!     state MASTER
//!     interface eth0
//!     virtual_router_id 51
//!     priority 100
//!     advert_int 1
//!     virtual_ipaddress {
//!         192.0.2.100/24 dev eth0 label eth0:vip
//!     }
//! }
//! "#;
//! let imported = import("keepalived.conf", conf, &MemoryLoader::default()).unwrap();
//! let vi = &imported.config.instances[0];
//! assert_eq!((vi.vrid, vi.priority), (51, 100));
//! assert!(imported.toml.contains("virtual_ips = [\"192.0.2.100/24\"]"));
//! // `state` and the label have no vrrpd equivalent: both are reported with their line.
//! assert!(imported.notes.iter().any(|n| n.line == 3 && n.directive == "state MASTER"));
//! assert!(imported.notes.iter().any(|n| n.line == 9 && n.reason.contains("label")));
//! ```

mod convert;
mod syntax;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Diagnostics, Severity};
use crate::types::Config;
use crate::{ConfigError, LoadedConfig};

/// Where included files come from.
pub trait Loader {
    /// The files that `include PATTERN` in file `from` names, in the order keepalived reads
    /// them (sorted), as (name, text). A relative pattern is relative to the directory of
    /// `from`. An error means the include could not be read at all.
    fn include(&self, pattern: &str, from: &str) -> Result<Vec<(String, String)>, String>;
}

/// Reads included files from the file system, expanding glob patterns.
#[derive(Debug, Clone, Copy, Default)]
pub struct FsLoader;

fn resolve(pattern: &str, from: &str) -> PathBuf {
    let p = Path::new(pattern);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        Path::new(from)
            .parent()
            .map_or_else(|| p.to_path_buf(), |dir| dir.join(p))
    }
}

impl Loader for FsLoader {
    fn include(&self, pattern: &str, from: &str) -> Result<Vec<(String, String)>, String> {
        let full = resolve(pattern, from);
        let full = full.to_string_lossy();
        let paths = glob::glob(&full).map_err(|e| format!("bad pattern {full:?}: {e}"))?;
        let mut names: Vec<PathBuf> = paths
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|p| {
                std::fs::read_to_string(&p)
                    .map(|t| (p.display().to_string(), t))
                    .map_err(|e| format!("{}: {e}", p.display()))
            })
            .collect()
    }
}

/// Included files from memory, by full path (for tests and for embedding).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryLoader {
    /// File texts by path.
    pub files: BTreeMap<String, String>,
}

impl Loader for MemoryLoader {
    fn include(&self, pattern: &str, from: &str) -> Result<Vec<(String, String)>, String> {
        let full = resolve(pattern, from);
        let full = full.to_string_lossy();
        let pat = glob::Pattern::new(&full).map_err(|e| format!("bad pattern {full:?}: {e}"))?;
        let opts = glob::MatchOptions {
            require_literal_separator: true,
            ..glob::MatchOptions::new()
        };
        Ok(self
            .files
            .iter()
            .filter(|(name, _)| pat.matches_with(name, opts))
            .map(|(n, t)| (n.clone(), t.clone()))
            .collect())
    }
}

/// A directive that was not carried over (or was changed on the way), with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// File it is in.
    pub file: String,
    /// Line, from 1.
    pub line: usize,
    /// The directive as written (keyword and arguments).
    pub directive: String,
    /// Why it was not carried over, or what was done instead.
    pub reason: String,
}

/// `FILE:LINE: `directive`: reason`, on one line: control characters (a quoted string that
/// spans lines, say) are printed escaped.
impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::diag::write_one_line(f, &self.file)?;
        write!(f, ":{}: `", self.line)?;
        crate::diag::write_one_line(f, &self.directive)?;
        f.write_str("`: ")?;
        crate::diag::write_one_line(f, &self.reason)
    }
}

/// The result of an import.
#[derive(Debug, Clone)]
pub struct Import {
    /// The converted config.
    pub config: Config,
    /// It as TOML, with comments (header, origin of each instance and probe, native probe
    /// suggestions).
    pub toml: String,
    /// Every directive not carried over, in file order.
    pub notes: Vec<Note>,
}

impl Import {
    /// Parses [`Import::toml`] back and validates it (the config vrrpd would run). Errors
    /// here mean the keepalived config was not valid for vrrpd either (for example VRRPv2
    /// with a fractional advert_int).
    pub fn validate(&self, name: &str) -> Result<LoadedConfig, Diagnostics> {
        LoadedConfig::parse(name, &self.toml)
    }
}

/// Converts keepalived.conf text. `name` is the file name for messages and the base of
/// relative includes. Errors are syntax errors and values keepalived itself would reject.
pub fn import(name: &str, text: &str, loader: &dyn Loader) -> Result<Import, Diagnostics> {
    let mut raw_notes = Vec::new();
    let nodes = syntax::parse(name, text, loader, &mut raw_notes).map_err(|e| {
        Diagnostics(vec![Diagnostic {
            severity: Severity::Error,
            file: e.pos.file.to_string(),
            line: e.pos.line,
            column: e.pos.column,
            message: e.message,
        }])
    })?;
    convert::convert(name, &nodes, raw_notes)
}

/// Reads and converts a keepalived.conf file, following includes on the file system.
pub fn import_file(path: impl AsRef<Path>) -> Result<Import, ConfigError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: name.clone(),
        source,
    })?;
    import(&name, &text, &FsLoader).map_err(ConfigError::Invalid)
}
