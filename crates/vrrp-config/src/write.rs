//! [`Config`] → TOML text in the native format (what `vrrpd import-keepalived` prints).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use vrrp_packet::{ChecksumMode, Version};

use crate::duration::format_duration;
use crate::types::{
    CommandLine, Config, FileMode, Global, Notify, ProbeKind, ProbeState, ProcessMatch,
};

/// Comment lines to put into generated TOML (without the leading `# `).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comments {
    /// At the top of the file.
    pub header: Vec<String>,
    /// Before `[probe.NAME]`, by probe name.
    pub probes: BTreeMap<String, Vec<String>>,
    /// Before the `[[instance]]` with this name.
    pub instances: BTreeMap<String, Vec<String>>,
    /// Before the `[[sync_group]]` with this name.
    pub sync_groups: BTreeMap<String, Vec<String>>,
}

/// Writes `config` as TOML that [`crate::LoadedConfig::parse`] reads back to an equal
/// [`Config`]. Election parameters are always written, other keys only when they differ
/// from their default.
pub fn to_toml(config: &Config) -> String {
    to_toml_with_comments(config, &Comments::default())
}

/// [`to_toml`] with comments.
pub fn to_toml_with_comments(config: &Config, comments: &Comments) -> String {
    let mut out = String::new();
    comment(&mut out, &comments.header);
    if !comments.header.is_empty() {
        out.push('\n');
    }
    write_global(&mut out, &config.global);

    for (name, probe) in &config.probes {
        comment(
            &mut out,
            comments.probes.get(name).map_or(&[][..], Vec::as_slice),
        );
        let _ = writeln!(out, "[probe.{}]", key(name));
        kv(&mut out, "kind", &string(probe.kind.name()));
        match &probe.kind {
            ProbeKind::Http(h) => {
                kv(&mut out, "url", &string(&h.url));
                if h.expect_status != [200..=399] {
                    let items: Vec<String> = h
                        .expect_status
                        .iter()
                        .map(|r| {
                            if r.start() == r.end() {
                                r.start().to_string()
                            } else {
                                string(&format!("{}-{}", r.start(), r.end()))
                            }
                        })
                        .collect();
                    kv(
                        &mut out,
                        "expect_status",
                        &format!("[{}]", items.join(", ")),
                    );
                }
            }
            ProbeKind::Tcp(t) => {
                kv(&mut out, "host", &string(&t.host.to_string()));
                kv(&mut out, "port", &t.port.to_string());
            }
            ProbeKind::Exec(e) => {
                if e.shell {
                    kv(
                        &mut out,
                        "command",
                        &string(e.argv.get(2).map_or("", String::as_str)),
                    );
                    kv(&mut out, "shell", "true");
                } else {
                    kv(&mut out, "command", &string_array(&e.argv));
                }
            }
            ProbeKind::Process(p) => {
                match &p.matcher {
                    ProcessMatch::Name(n) => kv(&mut out, "process", &string(n)),
                    ProcessMatch::Cmdline(argv) => kv(&mut out, "cmdline", &string_array(argv)),
                }
                if p.any_namespace {
                    kv(&mut out, "any_namespace", "true");
                }
                if p.min_count != 1 {
                    kv(&mut out, "min_count", &p.min_count.to_string());
                }
            }
            ProbeKind::File(f) => {
                kv(&mut out, "path", &string(&f.path.to_string_lossy()));
                if f.mode != FileMode::Number {
                    kv(&mut out, "mode", &string(f.mode.name()));
                }
            }
            ProbeKind::Interface(i) => kv(&mut out, "interface", &string(&i.interface)),
        }
        kv(&mut out, "interval", &duration(probe.interval));
        if probe.timeout != probe.interval {
            kv(&mut out, "timeout", &duration(probe.timeout));
        }
        kv(&mut out, "fall", &probe.fall.to_string());
        kv(&mut out, "rise", &probe.rise.to_string());
        if let Some(w) = probe.weight {
            kv(&mut out, "weight", &w.to_string());
        }
        if probe.initial == ProbeState::Failed {
            kv(&mut out, "initial", &string("failed"));
        }
        out.push('\n');
    }

    for inst in &config.instances {
        comment(
            &mut out,
            comments
                .instances
                .get(&inst.name)
                .map_or(&[][..], Vec::as_slice),
        );
        out.push_str("[[instance]]\n");
        kv(&mut out, "name", &string(&inst.name));
        kv(&mut out, "interface", &string(&inst.interface));
        kv(&mut out, "vrid", &inst.vrid.to_string());
        kv(&mut out, "priority", &inst.priority.to_string());
        kv(
            &mut out,
            "version",
            match inst.version {
                Version::V2 => "2",
                Version::V3 => "3",
            },
        );
        kv(&mut out, "advert_interval", &duration(inst.advert_interval));
        kv(&mut out, "preempt", &inst.preempt.to_string());
        if !inst.preempt_delay.is_zero() {
            kv(&mut out, "preempt_delay", &duration(inst.preempt_delay));
        }
        let vips: Vec<String> = inst.virtual_ips.iter().map(ToString::to_string).collect();
        kv(&mut out, "virtual_ips", &string_array(&vips));
        if !inst.track.is_empty() {
            kv(&mut out, "track", &string_array(&inst.track));
        }
        if let Some(src) = inst.unicast_src {
            kv(&mut out, "unicast_src", &string(&src.to_string()));
        }
        if !inst.unicast_peers.is_empty() {
            let peers: Vec<String> = inst.unicast_peers.iter().map(ToString::to_string).collect();
            kv(&mut out, "unicast_peers", &string_array(&peers));
        }
        if let Some(pass) = &inst.auth_pass {
            kv(&mut out, "auth_pass", &string(pass));
        }
        if inst.use_vmac {
            kv(&mut out, "use_vmac", "true");
        }
        if inst.accept {
            kv(&mut out, "accept", "true");
        }
        if inst.checksum != ChecksumMode::default() {
            kv(&mut out, "checksum", &string("message-only"));
        }
        if inst.ttl_check != inst.unicast_peers.is_empty() {
            kv(&mut out, "ttl_check", &inst.ttl_check.to_string());
        }
        if inst.garp_repeat != 5 {
            kv(&mut out, "garp_repeat", &inst.garp_repeat.to_string());
        }
        if !inst.garp_interval.is_zero() {
            kv(&mut out, "garp_interval", &duration(inst.garp_interval));
        }
        if let Some(r) = inst.garp_refresh {
            kv(&mut out, "garp_refresh", &duration(r));
        }
        write_notify(&mut out, &inst.notify);
        out.push('\n');
    }

    for group in &config.sync_groups {
        comment(
            &mut out,
            comments
                .sync_groups
                .get(&group.name)
                .map_or(&[][..], Vec::as_slice),
        );
        out.push_str("[[sync_group]]\n");
        kv(&mut out, "name", &string(&group.name));
        kv(&mut out, "instances", &string_array(&group.instances));
        write_notify(&mut out, &group.notify);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn write_global(out: &mut String, g: &Global) {
    let d = Global::default();
    let mut body = String::new();
    if let Some(id) = &g.router_id {
        kv(&mut body, "router_id", &string(id));
    }
    if g.status_socket != d.status_socket {
        kv(
            &mut body,
            "status_socket",
            &string(&g.status_socket.to_string_lossy()),
        );
    }
    if let Some(m) = g.metrics {
        kv(&mut body, "metrics", &string(&m.to_string()));
    }
    if g.script_user != d.script_user {
        kv(&mut body, "script_user", &string(&g.script_user));
    }
    if g.notify_timeout != d.notify_timeout {
        kv(&mut body, "notify_timeout", &duration(g.notify_timeout));
    }
    if !body.is_empty() {
        out.push_str("[global]\n");
        out.push_str(&body);
        out.push('\n');
    }
}

fn write_notify(out: &mut String, n: &Notify) {
    for (key, cmd) in n.commands() {
        kv(out, key, &command(cmd));
    }
}

fn comment(out: &mut String, lines: &[String]) {
    for line in lines {
        for l in line.lines() {
            if l.is_empty() {
                out.push_str("#\n");
            } else {
                let _ = writeln!(out, "# {l}");
            }
        }
    }
}

fn kv(out: &mut String, key: &str, value: &str) {
    let _ = writeln!(out, "{key} = {value}");
}

fn duration(d: Duration) -> String {
    string(&format_duration(d))
}

/// A command line as one string when it splits back to the same argv, else as an array.
fn command(cmd: &CommandLine) -> String {
    let line = cmd.to_string();
    if crate::types::split_command_line(&line).is_ok_and(|a| a == cmd.argv) {
        string(&line)
    } else {
        string_array(&cmd.argv)
    }
}

fn string_array(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| string(s)).collect();
    format!("[{}]", items.join(", "))
}

/// A TOML basic string.
pub(crate) fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A table key: bare when TOML allows it, else quoted.
pub(crate) fn key(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        s.to_string()
    } else {
        string(s)
    }
}
