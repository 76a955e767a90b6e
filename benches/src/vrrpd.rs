//! vrrpd's side of a [`NodeSpec`]: the TOML of docs/configuration.md.
//!
//! The text is checked with vrrp-config's own parser before it is used, so a harness change
//! that writes something vrrpd would refuse fails here, with vrrpd's message, and not as a
//! daemon that exits at start.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use vrrp_config::{LoadedConfig, format_duration};

use crate::daemon::{NodeSpec, ProbeKind};
use crate::error::{BenchError, Result};

/// A TOML basic string (JSON's escaping is a subset of TOML's).
fn toml_str(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

fn duration(d: Duration) -> String {
    toml_str(&format_duration(d))
}

/// Renders `spec` as a vrrpd config with its status socket at `socket` (so two daemons on
/// one machine do not share /run/vrrpd) and checks it with vrrp-config.
///
/// Every instance gets `accept = true`: the benchmarks serve HTTP on the VIP, which needs
/// Accept_Mode (RFC 9568 §6.1), and keepalived accepts by default, so this keeps the two
/// configs equal.
pub fn render_toml(spec: &NodeSpec, socket: &Path) -> Result<String> {
    let mut out = String::new();
    let _ = writeln!(out, "# written by vrrp-lab-bench\n[global]");
    let _ = writeln!(out, "router_id = {}", toml_str(&spec.router_id));
    let _ = writeln!(
        out,
        "status_socket = {}",
        toml_str(&socket.to_string_lossy())
    );
    for probe in &spec.probes {
        let _ = writeln!(out, "\n[probe.{}]", probe.name);
        match &probe.kind {
            ProbeKind::Exec { program } => {
                let _ = writeln!(out, "kind = \"exec\"");
                let _ = writeln!(out, "command = [{}]", toml_str(&program.to_string_lossy()));
            }
            ProbeKind::Process { name } => {
                let _ = writeln!(out, "kind = \"process\"");
                let _ = writeln!(out, "process = {}", toml_str(name));
            }
            ProbeKind::Http { url } => {
                let _ = writeln!(out, "kind = \"http\"");
                let _ = writeln!(out, "url = {}", toml_str(url));
            }
        }
        let _ = writeln!(out, "interval = {}", duration(probe.interval));
        // As docs/configuration.md's example: the timeout a little below the interval.
        let _ = writeln!(out, "timeout = {}", duration(probe.interval * 4 / 5));
        let _ = writeln!(out, "fall = {}", probe.fall);
        let _ = writeln!(out, "rise = {}", probe.rise);
        if probe.weight != 0 {
            let _ = writeln!(out, "weight = {}", probe.weight);
        }
    }
    for i in &spec.instances {
        let _ = writeln!(out, "\n[[instance]]");
        let _ = writeln!(out, "name = {}", toml_str(&i.name));
        let _ = writeln!(out, "interface = {}", toml_str(&i.interface));
        let _ = writeln!(out, "vrid = {}", i.vrid);
        let _ = writeln!(out, "priority = {}", i.priority);
        let _ = writeln!(out, "version = 3");
        let _ = writeln!(out, "advert_interval = {}", duration(i.interval));
        let _ = writeln!(out, "accept = true");
        let vips: Vec<String> = i
            .vips
            .iter()
            .map(|ip| {
                let len = if ip.is_ipv4() { 32 } else { 128 };
                toml_str(&format!("{ip}/{len}"))
            })
            .collect();
        let _ = writeln!(out, "virtual_ips = [{}]", vips.join(", "));
        if !i.track.is_empty() {
            let track: Vec<String> = i.track.iter().map(|t| toml_str(t)).collect();
            let _ = writeln!(out, "track = [{}]", track.join(", "));
        }
    }
    LoadedConfig::parse("vrrpd.toml", &out).map_err(|d| BenchError::Config {
        implementation: "vrrpd",
        reason: format!("vrrp-config refuses the generated file: {d}\n{out}"),
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::{InstanceSpec, ProbeSpec};
    use std::path::PathBuf;

    fn spec() -> NodeSpec {
        NodeSpec {
            router_id: "h1".into(),
            probes: vec![
                ProbeSpec {
                    name: "web".into(),
                    kind: ProbeKind::Process {
                        name: "web1".into(),
                    },
                    interval: Duration::from_millis(100),
                    fall: 2,
                    rise: 2,
                    weight: -10,
                },
                ProbeSpec {
                    name: "web_http".into(),
                    kind: ProbeKind::Http {
                        url: "http://127.0.0.1:80/".into(),
                    },
                    interval: Duration::from_millis(100),
                    fall: 2,
                    rise: 2,
                    weight: -10,
                },
                ProbeSpec {
                    name: "classic".into(),
                    kind: ProbeKind::Exec {
                        program: PathBuf::from("/tmp/lab/check-h1.sh"),
                    },
                    interval: Duration::from_secs(2),
                    fall: 2,
                    rise: 1,
                    weight: -10,
                },
            ],
            instances: vec![
                InstanceSpec {
                    name: "VI_1".into(),
                    interface: "eth0".into(),
                    vrid: 51,
                    priority: 100,
                    interval: Duration::from_millis(100),
                    vips: vec!["192.0.2.100".parse().unwrap()],
                    track: vec!["web".into(), "web_http".into(), "classic".into()],
                },
                InstanceSpec {
                    name: "VI_6".into(),
                    interface: "eth0".into(),
                    vrid: 51,
                    priority: 100,
                    interval: Duration::from_millis(10),
                    vips: vec!["2001:db8::100".parse().unwrap()],
                    track: vec![],
                },
            ],
        }
    }

    #[test]
    fn the_generated_toml_is_a_valid_vrrpd_config_with_the_same_settings() {
        let text = render_toml(&spec(), Path::new("/tmp/lab/vrrpd-h1.sock")).unwrap();
        let loaded = LoadedConfig::parse("t.toml", &text).unwrap();
        let c = &loaded.config;
        assert_eq!(c.instances.len(), 2);
        let i = &c.instances[0];
        assert_eq!((i.vrid, i.priority), (51, 100));
        assert_eq!(i.advert_interval, Duration::from_millis(100));
        assert!(i.accept);
        assert_eq!(i.track.len(), 3);
        assert_eq!(c.instances[1].advert_interval, Duration::from_millis(10));
        assert_eq!(c.probes.len(), 3);
        assert!(
            text.contains("status_socket = \"/tmp/lab/vrrpd-h1.sock\""),
            "{text}"
        );
        assert!(text.contains("kind = \"process\""));
        assert!(text.contains("timeout = \"80ms\""));
    }

    #[test]
    fn keepalived_gets_the_same_settings_where_it_has_them() {
        let mut s = spec();
        s.probes
            .retain(|p| !matches!(p.kind, ProbeKind::Http { .. }));
        s.instances[0].track.retain(|t| t != "web_http");
        let text = s.to_keepalived().unwrap().render().unwrap();
        for line in [
            "advert_int 0.1",
            "advert_int 0.01",
            "priority 100",
            "virtual_router_id 51",
            "vrrp_track_process web {",
            "vrrp_script classic {",
            "interval 2",
            "weight -10",
        ] {
            assert!(text.lines().any(|l| l.trim() == line), "{line}\n{text}");
        }
        // keepalived has no HTTP check: refused, not silently dropped.
        assert!(spec().to_keepalived().is_err());
    }
}
