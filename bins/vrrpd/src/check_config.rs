//! `vrrpd check-config [--strict] FILE...`: errors as `FILE:LINE:COL: message` (exit 1),
//! warnings on stderr (exit 0 unless `--strict`).
//!
//! One file is the local node: besides the config itself it is checked against this machine
//! (interfaces and their addresses from `ip -j addr`, the owner and mode of every script),
//! unless `--no-host-checks`. `--host-addresses FILE` takes the interfaces from a saved
//! `ip -j addr` output instead (to check another machine's config). Several files are the
//! nodes of one cluster: they are cross-checked, and not compared with this machine.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use vrrp_config::{
    Diagnostic, FileStatus, HostInfo, InterfaceAddress, LoadedConfig, check_cluster,
};

/// Arguments of `vrrpd check-config`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    strict: bool,
    /// Do not compare a single file with this machine's interfaces and script files.
    #[arg(long)]
    no_host_checks: bool,
    /// Take the host's interfaces from this `ip -j addr` output instead of running it
    /// (single file only).
    #[arg(long, value_name = "FILE")]
    host_addresses: Option<PathBuf>,
    /// Config files; several files are the nodes of one cluster.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

/// This machine, as the host checks see it.
struct LocalHost {
    interfaces: Option<BTreeMap<String, Vec<InterfaceAddress>>>,
}

impl HostInfo for LocalHost {
    fn interface_addresses(&self, name: &str) -> Option<Vec<InterfaceAddress>> {
        self.interfaces.as_ref()?.get(name).cloned()
    }

    fn file_status(&self, path: &Path) -> Option<FileStatus> {
        let m = std::fs::metadata(path).ok()?;
        Some(FileStatus {
            uid: m.uid(),
            gid: m.gid(),
            mode: m.mode() & 0o7777,
            is_dir: m.is_dir(),
        })
    }

    fn knows_interfaces(&self) -> bool {
        self.interfaces.is_some()
    }
}

/// Parses `ip -j addr` output: interface name → addresses with prefix lengths.
pub(crate) fn parse_ip_json(text: &str) -> anyhow::Result<BTreeMap<String, Vec<InterfaceAddress>>> {
    let value: serde_json::Value = serde_json::from_str(text).context("not JSON")?;
    let links = value
        .as_array()
        .context("expected a JSON array of interfaces")?;
    let mut out = BTreeMap::new();
    for link in links {
        let Some(name) = link.get("ifname").and_then(|n| n.as_str()) else {
            continue;
        };
        let mut addrs = Vec::new();
        for a in link
            .get("addr_info")
            .and_then(|a| a.as_array())
            .into_iter()
            .flatten()
        {
            let addr = a
                .get("local")
                .and_then(|l| l.as_str())
                .and_then(|l| l.parse().ok());
            let len = a
                .get("prefixlen")
                .and_then(|p| p.as_u64())
                .and_then(|p| u8::try_from(p).ok());
            if let (Some(addr), Some(prefix_len)) = (addr, len) {
                addrs.push(InterfaceAddress { addr, prefix_len });
            }
        }
        out.insert(name.to_string(), addrs);
    }
    Ok(out)
}

fn local_interfaces() -> anyhow::Result<BTreeMap<String, Vec<InterfaceAddress>>> {
    let out = std::process::Command::new("ip")
        .args(["-j", "addr", "show"])
        .output()
        .context("cannot run `ip -j addr show`")?;
    if !out.status.success() {
        bail!(
            "`ip -j addr show` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    parse_ip_json(&String::from_utf8_lossy(&out.stdout))
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    if args.host_addresses.is_some() && args.files.len() > 1 {
        bail!("--host-addresses describes one machine: give it with a single FILE");
    }
    let mut errors: Vec<String> = Vec::new();
    let mut loaded = Vec::new();
    for file in &args.files {
        match LoadedConfig::from_file(file) {
            Ok(c) => loaded.push(c),
            Err(vrrp_config::ConfigError::Invalid(d)) => {
                errors.extend(d.0.iter().map(ToString::to_string));
            }
            Err(e) => errors.push(e.to_string()),
        }
    }

    let host = if args.files.len() == 1 && !args.no_host_checks {
        let interfaces = match &args.host_addresses {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("{}: cannot read", path.display()))?;
                Some(
                    parse_ip_json(&text)
                        .with_context(|| format!("{}: not `ip -j addr` output", path.display()))?,
                )
            }
            None => match local_interfaces() {
                Ok(i) => Some(i),
                Err(e) => {
                    eprintln!("vrrpd: interface checks skipped: {e:#}");
                    None
                }
            },
        };
        Some(LocalHost { interfaces })
    } else {
        None
    };

    let mut warnings: Vec<Diagnostic> = Vec::new();
    for c in &loaded {
        warnings.extend(c.warnings(host.as_ref().map(|h| h as &dyn HostInfo)));
    }
    warnings.extend(check_cluster(&loaded));

    for e in &errors {
        eprintln!("{e}");
    }
    for w in &warnings {
        eprintln!("{w}");
    }
    let files = args.files.len();
    println!(
        "{} {} checked: {} {}, {} {}",
        files,
        if files == 1 { "file" } else { "files" },
        errors.len(),
        if errors.len() == 1 { "error" } else { "errors" },
        warnings.len(),
        if warnings.len() == 1 {
            "warning"
        } else {
            "warnings"
        },
    );
    let fail = !errors.is_empty() || (args.strict && !warnings.is_empty());
    Ok(if fail {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ip_json() {
        let text = r#"[{"ifindex":1,"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]},
            {"ifindex":2,"ifname":"eth0","addr_info":[{"family":"inet","local":"192.0.2.11","prefixlen":24},
            {"family":"inet6","local":"fe80::1","prefixlen":64}]},{"ifindex":3,"ifname":"eth1"}]"#;
        let m = parse_ip_json(text).unwrap();
        assert_eq!(m["eth0"].len(), 2);
        assert_eq!(m["eth0"][0].addr.to_string(), "192.0.2.11");
        assert_eq!(m["eth0"][0].prefix_len, 24);
        assert!(m["eth1"].is_empty());
        assert!(parse_ip_json("{}").is_err());
    }
}
