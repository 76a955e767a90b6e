//! keepalived statements → native config.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use vrrp_packet::{AddressFamily, ChecksumMode, Version};

use super::syntax::{Node, Pos, Token};
use super::{Import, Note};
use crate::diag::{Diagnostic, Diagnostics, Severity};
use crate::duration::parse_duration;
use crate::types::{
    CommandLine, Config, ExecProbe, FileMode, FileProbe, Global, Instance, InterfaceProbe, Notify,
    Probe, ProbeKind, ProbeState, ProcessMatch, ProcessProbe, SyncGroup, VirtualIp,
    split_command_line,
};
use crate::write::{Comments, to_toml_with_comments};

/// A probe definition from a top-level block, before we know who tracks it.
struct ProbeDef {
    probe: Probe,
    pos: Pos,
    block: &'static str,
    comments: Vec<String>,
    /// `weight ... reverse`: the weight could not be carried.
    reverse: bool,
}

#[derive(Default)]
struct Conv {
    notes: Vec<Note>,
    errors: Vec<Diagnostic>,
    global: Global,
    comments: Comments,
    default_version: Option<Version>,
    garp_interval: Option<Duration>,
    gna_interval: Option<Duration>,
    garp_repeat: Option<u32>,
    garp_refresh: Option<Duration>,
    strict: bool,
    scripts: BTreeMap<String, ProbeDef>,
    track_files: BTreeMap<String, ProbeDef>,
    track_processes: BTreeMap<String, ProbeDef>,
    probes: BTreeMap<String, Probe>,
    instances: Vec<Instance>,
    sync_groups: Vec<SyncGroup>,
}

/// What to say about a directive vrrpd does not have, by keyword.
fn unsupported_reason(kw: &str) -> &'static str {
    match kw {
        "virtual_server"
        | "virtual_server_group"
        | "real_server"
        | "lvs_sync_daemon"
        | "lvs_flush"
        | "lvs_flush_on_stop"
        | "lvs_timeouts"
        | "lvs_id" => "LVS/IPVS load balancing is not part of vrrpd (it moves addresses only)",
        "notification_email"
        | "notification_email_from"
        | "smtp_server"
        | "smtp_helo_name"
        | "smtp_connect_timeout"
        | "smtp_alert"
        | "smtp_alert_vrrp"
        | "smtp_alert_checker" => {
            "vrrpd sends no e-mail: use a notify script, or alert on the Prometheus metrics"
        }
        "static_ipaddress" | "static_routes" | "static_rules" | "virtual_routes"
        | "virtual_rules" => "vrrpd manages virtual addresses only, not routes or rules",
        "virtual_ipaddress_excluded" => {
            "vrrpd has no excluded addresses: every address it moves is in the adverts; add them to virtual_ips (and on the other nodes) if they must move too"
        }
        "garp_master_delay"
        | "vrrp_garp_master_delay"
        | "garp_lower_prio_delay"
        | "vrrp_garp_lower_prio_delay"
        | "garp_lower_prio_repeat"
        | "vrrp_garp_lower_prio_repeat"
        | "garp_master_refresh_repeat"
        | "vrrp_garp_master_refresh_repeat"
        | "vrrp_min_garp"
        | "garp_extra_if"
        | "vrrp_garp_extra_if"
        | "garp_group" => {
            "vrrpd sends one burst of garp_repeat messages on takeover and then every garp_refresh; this refinement has no equivalent"
        }
        "mcast_src_ip" => {
            "vrrpd sends multicast adverts from the interface's primary address (RFC 9568 §5.1.1.1)"
        }
        "mcast_dst_ip" | "vrrp_mcast_group4" | "vrrp_mcast_group6" => {
            "vrrpd uses the standard groups 224.0.0.18 and ff02::12"
        }
        "dont_track_primary" => {
            "vrrpd always puts an instance in FAULT when its interface goes down"
        }
        "track_bfd" | "bfd_instance" => "BFD is not supported by vrrpd",
        "debug" | "vrrp_debug" => "use RUST_LOG / --log-level with vrrpd",
        "notify_deleted"
        | "notify_master_rx_lower_pri"
        | "notify_priority_changes"
        | "notify_fifo"
        | "notify_fifo_script"
        | "vrrp_notify_fifo"
        | "vrrp_notify_fifo_script" => {
            "vrrpd has no such notification; `notify`, `notify_master`, `notify_backup`, `notify_fault` and `notify_stop` are supported, and `vrrpd status` shows transitions"
        }
        "vrrp_skip_check_adv_addr" | "skip_check_adv_addr" => {
            "vrrpd always compares the address list of adverts and logs a mismatch (RFC 9568 §7.1)"
        }
        "lower_prio_no_advert"
        | "vrrp_lower_prio_no_advert"
        | "higher_prio_send_advert"
        | "vrrp_higher_prio_send_advert" => {
            "vrrpd follows RFC 9568 §6.4.3 here (a master answers a lower-priority advert with its own)"
        }
        "down_timer_adverts" | "vrrp_down_timer_adverts" => {
            "vrrpd uses the RFC's Master_Down_Interval (3 adverts + skew)"
        }
        "enable_script_security" => {
            "vrrpd never runs scripts as root: they run as script_user, and `vrrpd check-config` warns about scripts that others can modify"
        }
        "max_auto_priority"
        | "vrrp_no_swap"
        | "vrrp_rt_priority"
        | "vrrp_priority"
        | "checker_priority"
        | "bfd_priority"
        | "vrrp_cpu_affinity"
        | "process_names"
        | "process_name"
        | "vrrp_process_name"
        | "checker_process_name"
        | "vrrp_rlimit_rttime" => {
            "process scheduling is set by the service manager for vrrpd (see packaging/vrrpd.service)"
        }
        "vrrp_iptables" | "vrrp_nftables" | "vrrp_ipsets" | "nftables" | "nftables_counters" => {
            "vrrpd does not install firewall rules: with `accept = false` it simply does not answer on the VIPs"
        }
        "unicast_ttl"
        | "check_unicast_src"
        | "unicast_fault_no_peer"
        | "old_unicast_checksum"
        | "track_src_ip" => {
            "no vrrpd equivalent (unicast adverts are only accepted from the configured peers)"
        }
        "vmac_xmit_base" | "use_vmac_addr" | "use_ipvlan" | "vrrp_garp_extra_if_vmac" => {
            "vrrpd's use_vmac is one macvlan on the instance's interface; this variant has no equivalent"
        }
        "promote_secondaries" => "vrrpd adds and removes only its own addresses",
        "native_ipv6" => "deprecated in keepalived too: the family comes from the addresses",
        "global_tracking" | "sync_group_tracking_weight" => {
            "vrrpd has no group-level weights; the group's tracked probes were added to each member"
        }
        "router_id" => "",
        _ => "unknown to vrrpd",
    }
}

fn is_timer_word(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '.')
}

impl Conv {
    fn note(&mut self, node: &Node, reason: impl Into<String>) {
        self.notes.push(Note {
            file: node.pos().file.to_string(),
            line: node.pos().line,
            directive: node.text(),
            reason: reason.into(),
        });
    }

    fn unsupported(&mut self, node: &Node) {
        let why = unsupported_reason(&node.name.text);
        self.note(node, format!("not carried over: {why}"));
    }

    fn error_at(&mut self, pos: &Pos, message: impl Into<String>) {
        self.errors.push(Diagnostic {
            severity: Severity::Error,
            file: pos.file.to_string(),
            line: pos.line,
            column: pos.column,
            message: message.into(),
        });
    }

    /// The first argument, or an error.
    fn arg<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n Token> {
        let a = node.args.first();
        if a.is_none() {
            self.error_at(node.pos(), format!("`{}` needs {what}", node.name.text));
        }
        a
    }

    fn int(&mut self, node: &Node, min: i64, max: i64) -> Option<i64> {
        let t = self.arg(node, &format!("a number {min}..={max}"))?;
        match t.text.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                let (pos, text) = (t.pos.clone(), t.text.clone());
                self.error_at(
                    &pos,
                    format!("`{}` must be {min}..={max}, found {text:?}", node.name.text),
                );
                None
            }
        }
    }

    /// A keepalived TIMER: decimal seconds.
    fn timer(&mut self, node: &Node) -> Option<Duration> {
        let t = self.arg(node, "a time in seconds")?;
        let parsed = is_timer_word(&t.text)
            .then(|| parse_duration(&format!("{}s", t.text)).ok())
            .flatten();
        if parsed.is_none() {
            let (pos, text) = (t.pos.clone(), t.text.clone());
            self.error_at(
                &pos,
                format!(
                    "`{}` must be a time in seconds, found {text:?}",
                    node.name.text
                ),
            );
        }
        parsed
    }

    fn ip(&mut self, tok: &Token, what: &str) -> Option<IpAddr> {
        match tok.text.parse::<IpAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.error_at(
                    &tok.pos,
                    format!("{what} {:?} is not an IP address", tok.text),
                );
                None
            }
        }
    }

    /// A script or notify command: one quoted string is split like a shell would (keepalived
    /// splits it the same way); several words are the argv. For notify commands the words
    /// after the first are keepalived's `username [groupname]`.
    fn command(&mut self, node: &Node, user_args: bool) -> Option<CommandLine> {
        let first = self.arg(node, "a command")?;
        let words: Vec<String> = if user_args || node.args.len() == 1 {
            match split_command_line(&first.text) {
                Ok(w) => w,
                Err(e) => {
                    let pos = first.pos.clone();
                    self.error_at(&pos, format!("`{}`: {e}", node.name.text));
                    return None;
                }
            }
        } else {
            node.args.iter().map(|t| t.text.clone()).collect()
        };
        if user_args && node.args.len() > 1 {
            self.note(
                node,
                format!(
                    "runs as user {:?} in keepalived; vrrpd runs every script as `script_user` (the command was carried over)",
                    node.args[1].text
                ),
            );
        }
        if words.first().is_none_or(String::is_empty) {
            self.error_at(
                node.pos(),
                format!("`{}` has an empty command", node.name.text),
            );
            return None;
        }
        Some(CommandLine { argv: words })
    }

    fn global_defs(&mut self, block: &[Node]) {
        for n in block {
            match n.name.text.as_str() {
                "router_id" => {
                    if let Some(t) = self.arg(n, "a name") {
                        self.global.router_id = Some(t.text.clone());
                    }
                }
                "script_user" => {
                    if let Some(t) = self.arg(n, "a user name") {
                        self.global.script_user = t.text.clone();
                    }
                    if n.args.len() > 1 {
                        self.note(n, "the group is not carried over: scripts run with script_user's own group");
                    }
                }
                "vrrp_version" => {
                    self.default_version = match self.int(n, 2, 3) {
                        Some(2) => Some(Version::V2),
                        Some(_) => Some(Version::V3),
                        None => None,
                    };
                }
                "vrrp_garp_interval" => self.garp_interval = self.timer(n),
                "vrrp_gna_interval" => self.gna_interval = self.timer(n),
                "vrrp_garp_master_repeat" => {
                    self.garp_repeat = self.int(n, 0, 255).and_then(|v| u32::try_from(v).ok());
                }
                "vrrp_garp_master_refresh" => self.garp_refresh = self.timer(n),
                "vrrp_strict" => {
                    self.strict = true;
                    self.note(n, "carried over as `accept = false` on every instance (its other checks are what vrrpd does anyway or have no equivalent)");
                }
                _ => self.unsupported(n),
            }
        }
    }

    fn script_block(&mut self, node: &Node) {
        let Some(name) = self.arg(node, "a name").map(|t| t.text.clone()) else {
            return;
        };
        let mut argv: Option<(Vec<String>, bool)> = None;
        let (mut interval, mut timeout, mut fall, mut rise, mut weight) =
            (Duration::from_secs(1), None, 1, 1, None);
        let mut reverse = false;
        let mut initial = ProbeState::Healthy;
        for n in node.block.as_deref().unwrap_or_default() {
            match n.name.text.as_str() {
                "script" => {
                    let Some(first) = self.arg(n, "a command") else {
                        continue;
                    };
                    let joined = if n.args.len() == 1 {
                        first.text.clone()
                    } else {
                        n.args
                            .iter()
                            .map(|t| t.text.as_str())
                            .collect::<Vec<_>>()
                            .join(" ")
                    };
                    if joined.contains(['|', '&', ';', '<', '>', '(', ')', '$', '`', '*', '?', '~'])
                    {
                        self.note(n, "uses shell syntax: carried over with `shell = true` (vrrpd runs commands without a shell unless asked)");
                        argv = Some((vec!["/bin/sh".into(), "-c".into(), joined], true));
                    } else if let Some(c) = self.command(n, false) {
                        argv = Some((c.argv, false));
                    }
                }
                "interval" => {
                    if let Some(d) = self.timer(n) {
                        interval = d;
                    }
                }
                "timeout" => timeout = self.timer(n),
                "fall" => fall = self.int(n, 1, 1000).unwrap_or(1),
                "rise" => rise = self.int(n, 1, 1000).unwrap_or(1),
                "weight" => {
                    weight = self.int(n, -253, 253);
                    if n.args.get(1).is_some_and(|t| t.text == "reverse") {
                        reverse = true;
                        self.note(n, "`reverse` has no vrrpd equivalent: the weight was dropped, so a failure puts the instance in FAULT; set a weight by hand if you need one");
                    }
                }
                "user" => self.note(
                    n,
                    "vrrpd runs every probe as `script_user` (set in [global])",
                ),
                "init_fail" => initial = ProbeState::Failed,
                _ => self.unsupported(n),
            }
        }
        let Some((argv, shell)) = argv else {
            self.error_at(node.pos(), format!("vrrp_script {name:?} has no `script`"));
            return;
        };
        let suggestion = suggest_native(&name, &argv, weight.filter(|w| *w != 0 && !reverse));
        let probe = Probe {
            kind: ProbeKind::Exec(ExecProbe { argv, shell }),
            interval,
            timeout: timeout.unwrap_or(interval),
            fall: u32::try_from(fall).unwrap_or(1),
            rise: u32::try_from(rise).unwrap_or(1),
            weight: if reverse {
                None
            } else {
                weight
                    .and_then(|w| i32::try_from(w).ok())
                    .filter(|w| *w != 0)
            },
            initial,
        };
        let mut comments = vec![format!(
            "From vrrp_script {name:?} ({}:{}): the same command, interval, fall, rise and weight.",
            node.pos().file,
            node.pos().line
        )];
        comments.extend(suggestion);
        self.scripts.insert(
            name,
            ProbeDef {
                probe,
                pos: node.pos().clone(),
                block: "vrrp_script",
                comments,
                reverse,
            },
        );
    }

    fn track_file_block(&mut self, node: &Node) {
        let Some(name) = self.arg(node, "a name").map(|t| t.text.clone()) else {
            return;
        };
        let mut path = None;
        let mut weight: Option<i64> = Some(1);
        let mut reverse = false;
        for n in node.block.as_deref().unwrap_or_default() {
            match n.name.text.as_str() {
                "file" => path = self.arg(n, "a path").map(|t| PathBuf::from(&t.text)),
                "weight" => {
                    weight = self.int(n, -254, 254);
                    if n.args.get(1).is_some_and(|t| t.text == "reverse") {
                        reverse = true;
                        weight = None;
                        self.note(n, "`reverse` has no vrrpd equivalent: the weight was dropped (a non-zero number now means FAULT)");
                    }
                }
                _ => self.unsupported(n),
            }
        }
        let Some(path) = path else {
            self.error_at(node.pos(), format!("track_file {name:?} has no `file`"));
            return;
        };
        self.track_files.insert(
            name.clone(),
            ProbeDef {
                probe: Probe {
                    kind: ProbeKind::File(FileProbe { path, mode: FileMode::Number }),
                    interval: Duration::from_secs(1),
                    timeout: Duration::from_secs(1),
                    fall: 1,
                    rise: 1,
                    weight: weight.and_then(|w| i32::try_from(w).ok()).filter(|w| *w != 0),
                    initial: ProbeState::Healthy,
                },
                pos: node.pos().clone(),
                block: "track_file",
                comments: vec![format!(
                    "From track_file {name:?} ({}:{}): the number in the file times the weight is added to the priority.",
                    node.pos().file,
                    node.pos().line
                )],
                reverse,
            },
        );
    }

    fn track_process_block(&mut self, node: &Node) {
        let Some(name) = self.arg(node, "a name").map(|t| t.text.clone()) else {
            return;
        };
        let mut process: Option<String> = None;
        let mut weight = None;
        let mut quorum = 1;
        let mut reverse = false;
        for n in node.block.as_deref().unwrap_or_default() {
            match n.name.text.as_str() {
                "process" => process = self.arg(n, "a process name").map(|t| t.text.clone()),
                "weight" => {
                    weight = self.int(n, -254, 254);
                    if n.args.get(1).is_some_and(|t| t.text == "reverse") {
                        reverse = true;
                        weight = None;
                        self.note(n, "`reverse` has no vrrpd equivalent: the weight was dropped (the process missing now means FAULT)");
                    }
                }
                "quorum" => quorum = self.int(n, 1, 65535).unwrap_or(1),
                _ => self.unsupported(n),
            }
        }
        let Some(process) = process else {
            self.error_at(
                node.pos(),
                format!("vrrp_track_process {name:?} has no `process`"),
            );
            return;
        };
        let matcher = if process.len() > 15 {
            ProcessMatch::Cmdline(vec![process])
        } else {
            ProcessMatch::Name(process)
        };
        self.track_processes.insert(
            name.clone(),
            ProbeDef {
                probe: Probe {
                    kind: ProbeKind::Process(ProcessProbe {
                        matcher,
                        min_count: u32::try_from(quorum).unwrap_or(1),
                        // keepalived counts every process it can see.
                        any_namespace: true,
                    }),
                    interval: Duration::from_secs(1),
                    timeout: Duration::from_secs(1),
                    fall: 1,
                    rise: 1,
                    weight: weight
                        .and_then(|w| i32::try_from(w).ok())
                        .filter(|w| *w != 0),
                    initial: ProbeState::Healthy,
                },
                pos: node.pos().clone(),
                block: "vrrp_track_process",
                comments: vec![format!(
                    "From vrrp_track_process {name:?} ({}:{}).",
                    node.pos().file,
                    node.pos().line
                )],
                reverse,
            },
        );
    }

    /// Adds probe `base` (optionally with another weight) to the output and returns the name
    /// the instance tracks.
    fn use_probe(
        &mut self,
        kind: &str,
        base: &str,
        weight_override: Option<i32>,
        entry: &Node,
    ) -> Option<String> {
        let (defs, block) = match kind {
            "track_script" => (&self.scripts, "vrrp_script"),
            "track_file" => (&self.track_files, "track_file"),
            _ => (&self.track_processes, "vrrp_track_process"),
        };
        let Some(def) = defs.get(base) else {
            let known: Vec<&str> = defs.keys().map(String::as_str).collect();
            let msg = format!(
                "`{kind}` names {block} {base:?}, which is not defined{}",
                if known.is_empty() {
                    String::new()
                } else {
                    format!(" (defined: {})", known.join(", "))
                }
            );
            let pos = entry.pos().clone();
            self.error_at(&pos, msg);
            return None;
        };
        let mut probe = def.probe.clone();
        let mut comments = def.comments.clone();
        let reverse = def.reverse;
        let mut name = base.to_string();
        if let Some(w) = weight_override
            && !reverse
            && probe.weight != Some(w).filter(|w| *w != 0)
        {
            probe.weight = Some(w).filter(|w| *w != 0);
            name = format!("{base}_weight_{}", weight_suffix(w));
            comments.push(format!(
                "Its weight here is {w}, as set where it is tracked ({}:{}).",
                entry.pos().file,
                entry.pos().line
            ));
        }
        if !self.probes.contains_key(&name) {
            self.probes.insert(name.clone(), probe);
            self.comments.probes.insert(name.clone(), comments);
        }
        Some(name)
    }

    fn interface_probe(&mut self, entry: &Node) -> Option<String> {
        let ifname = entry.name.text.clone();
        let mut weight = None;
        let mut i = 0;
        while i < entry.args.len() {
            match entry.args[i].text.as_str() {
                "weight" => {
                    weight = entry
                        .args
                        .get(i + 1)
                        .and_then(|t| t.text.parse::<i32>().ok());
                    if weight.is_none_or(|w| !(-253..=253).contains(&w)) {
                        self.error_at(&entry.name.pos, "track_interface weight must be -253..=253");
                        return None;
                    }
                    i += 2;
                }
                "reverse" | "noreverse" | "no_reverse" => {
                    if entry.args[i].text == "reverse" {
                        self.note(entry, "`reverse` has no vrrpd equivalent: the weight was dropped, so the link going down puts the instance in FAULT");
                        weight = None;
                    }
                    i += 1;
                }
                _ => {
                    self.note(entry, format!("option {:?} ignored", entry.args[i].text));
                    i += 1;
                }
            }
        }
        let weight = weight.filter(|w| *w != 0);
        let name = match weight {
            None => format!("link_{ifname}"),
            Some(w) => format!("link_{ifname}_weight_{}", weight_suffix(w)),
        };
        if !self.probes.contains_key(&name) {
            self.probes.insert(
                name.clone(),
                Probe {
                    kind: ProbeKind::Interface(InterfaceProbe {
                        interface: ifname.clone(),
                    }),
                    interval: Duration::from_secs(1),
                    timeout: Duration::from_secs(1),
                    fall: 1,
                    rise: 1,
                    weight,
                    initial: ProbeState::Healthy,
                },
            );
            self.comments.probes.insert(
                name.clone(),
                vec![format!(
                    "From track_interface {ifname} ({}:{}).",
                    entry.pos().file,
                    entry.pos().line
                )],
            );
        }
        Some(name)
    }

    /// `track_script { NAME [weight W] }` and the like: the names to track.
    fn track_entries(&mut self, kind: &str, node: &Node) -> Vec<String> {
        let mut out = Vec::new();
        for entry in node.block.as_deref().unwrap_or_default() {
            if kind == "track_interface" {
                if let Some(n) = self.interface_probe(entry) {
                    out.push(n);
                }
                continue;
            }
            let mut weight = None;
            let mut i = 0;
            while i < entry.args.len() {
                match entry.args[i].text.as_str() {
                    "weight" => {
                        weight = entry
                            .args
                            .get(i + 1)
                            .and_then(|t| t.text.parse::<i32>().ok());
                        if weight.is_none_or(|w| !(-254..=254).contains(&w)) {
                            self.error_at(
                                &entry.name.pos,
                                format!("{kind} weight must be a number -253..=253"),
                            );
                            weight = None;
                        }
                        i += 2;
                    }
                    "reverse" => {
                        self.note(
                            entry,
                            "`reverse` has no vrrpd equivalent: the weight given here was dropped",
                        );
                        weight = None;
                        i += 1;
                    }
                    "noreverse" | "no_reverse" => i += 1,
                    other => {
                        let other = other.to_string();
                        self.note(entry, format!("option {other:?} ignored"));
                        i += 1;
                    }
                }
            }
            if let Some(n) = self.use_probe(kind, &entry.name.text, weight, entry) {
                out.push(n);
            }
        }
        out
    }

    fn notify(&mut self, n: &Node, notify: &mut Notify) -> bool {
        let slot = match n.name.text.as_str() {
            "notify" => &mut notify.any,
            "notify_master" => &mut notify.master,
            "notify_backup" => &mut notify.backup,
            "notify_fault" => &mut notify.fault,
            "notify_stop" => &mut notify.stop,
            _ => return false,
        };
        let cmd = self.command(n, true);
        *slot = cmd;
        true
    }

    fn instance(&mut self, node: &Node) {
        let Some(name) = self.arg(node, "a name").map(|t| t.text.clone()) else {
            return;
        };
        let mut interface: Option<String> = None;
        let mut vrid = None;
        let mut priority: i64 = 100;
        let mut version = None;
        let mut advert_interval = Duration::from_secs(1);
        let mut preempt = true;
        let mut nopreempt_node: Option<&Node> = None;
        let mut preempt_delay: Option<(Duration, &Node)> = None;
        let mut vips: Vec<(VirtualIp, &Node)> = Vec::new();
        let mut track = Vec::new();
        let mut unicast_src = None;
        let mut unicast_peers = Vec::new();
        let mut auth: Option<(String, &Node)> = None;
        let mut use_vmac = false;
        let mut accept: Option<bool> = None;
        let mut garp_repeat = self.garp_repeat;
        let mut garp_refresh = self.garp_refresh;
        let mut notify = Notify::default();
        let mut state_master = false;
        let mut comments = vec![format!(
            "From vrrp_instance {name:?} ({}:{}).",
            node.pos().file,
            node.pos().line
        )];

        for n in node.block.as_deref().unwrap_or_default() {
            if self.notify(n, &mut notify) {
                continue;
            }
            match n.name.text.as_str() {
                "state" => {
                    state_master = n
                        .args
                        .first()
                        .is_some_and(|t| t.text.eq_ignore_ascii_case("MASTER"));
                    self.note(n, "not carried over: in keepalived it is only the initial state; vrrpd starts every router below priority 255 as backup and the highest priority wins within one Master_Down_Interval");
                }
                "interface" => interface = self.arg(n, "an interface").map(|t| t.text.clone()),
                "virtual_router_id" => vrid = self.int(n, 1, 255),
                "priority" => priority = self.int(n, 1, 255).unwrap_or(100),
                "advert_int" => {
                    if let Some(d) = self.timer(n) {
                        advert_interval = d;
                    }
                }
                "nopreempt" | "no_preempt" => {
                    preempt = false;
                    nopreempt_node = Some(n);
                }
                "preempt" => preempt = true,
                "preempt_delay" => {
                    if let Some(d) = self.timer(n) {
                        if d > Duration::from_secs(1000) {
                            let pos = n.pos().clone();
                            self.error_at(&pos, "`preempt_delay` must be 0..=1000 seconds");
                        } else {
                            preempt_delay = Some((d, n));
                        }
                    }
                }
                "version" => {
                    version = match self.int(n, 2, 3) {
                        Some(2) => Some(Version::V2),
                        Some(_) => Some(Version::V3),
                        None => None,
                    }
                }
                "authentication" => {
                    let mut kind = None;
                    for a in n.block.as_deref().unwrap_or_default() {
                        match a.name.text.as_str() {
                            "auth_type" => {
                                kind = a.args.first().map(|t| t.text.to_ascii_uppercase())
                            }
                            "auth_pass" => {
                                if let Some(t) = self.arg(a, "a password") {
                                    auth = Some((t.text.clone(), a));
                                }
                            }
                            _ => self.unsupported(a),
                        }
                    }
                    if kind.as_deref() == Some("AH") {
                        self.note(n, "not carried over: IPsec AH authentication (VRRPv2 auth type 2) is not supported by vrrpd; peers that use it will reject our adverts");
                        auth = None;
                    }
                }
                "virtual_ipaddress" => {
                    for e in n.block.as_deref().unwrap_or_default() {
                        match e.name.text.parse::<VirtualIp>() {
                            Ok(v) => {
                                let mut dropped = Vec::new();
                                let mut i = 0;
                                while i < e.args.len() {
                                    let opt = e.args[i].text.as_str();
                                    let takes_value = matches!(
                                        opt,
                                        "dev"
                                            | "brd"
                                            | "scope"
                                            | "label"
                                            | "peer"
                                            | "preferred_lft"
                                    );
                                    let value = takes_value
                                        .then(|| e.args.get(i + 1).map(|t| t.text.clone()))
                                        .flatten();
                                    if opt == "dev" && value.is_some() && value == interface {
                                        // the instance's own interface: nothing lost
                                    } else if opt == "dev" {
                                        dropped.push(format!("`dev {}` (vrrpd adds virtual IPs to the instance's interface{})", value.clone().unwrap_or_default(), interface.as_ref().map(|i| format!(", {i}")).unwrap_or_default()));
                                    } else {
                                        dropped.push(match &value {
                                            Some(v) => format!("`{opt} {v}`"),
                                            None => format!("`{opt}`"),
                                        });
                                    }
                                    i += if takes_value { 2 } else { 1 };
                                }
                                if !dropped.is_empty() {
                                    self.note(
                                        e,
                                        format!(
                                            "address carried over without {}",
                                            dropped.join(", ")
                                        ),
                                    );
                                }
                                vips.push((v, e));
                            }
                            Err(err) => {
                                let pos = e.pos().clone();
                                self.error_at(&pos, format!("virtual_ipaddress: {err}"));
                            }
                        }
                    }
                }
                "track_script" | "track_file" | "track_process" | "track_interface" => {
                    let kind = n.name.text.clone();
                    let names = self.track_entries(&kind, n);
                    track.extend(names);
                }
                "unicast_src_ip" => {
                    if let Some(t) = self.arg(n, "an address").cloned() {
                        unicast_src = self.ip(&t, "unicast_src_ip");
                    }
                }
                "unicast_peer" => {
                    for e in n.block.as_deref().unwrap_or_default() {
                        if let Some(a) = self.ip(&e.name, "unicast_peer") {
                            unicast_peers.push(a);
                        }
                        if !e.args.is_empty() {
                            self.note(e, "min_ttl / max_ttl not carried over: vrrpd accepts unicast adverts only from the listed peers (ttl_check is off for unicast)");
                        }
                    }
                }
                "use_vmac" => {
                    use_vmac = true;
                    if !n.args.is_empty() {
                        self.note(n, "carried over as `use_vmac = true`; the interface name and MAC are vrrpd's own (vrrp.VRID, 00:00:5e:00:01:VRID)");
                    }
                }
                "accept" => accept = Some(true),
                "no_accept" => accept = Some(false),
                "strict_mode" => {
                    let on = n
                        .args
                        .first()
                        .is_none_or(|t| matches!(t.text.as_str(), "on" | "true" | "yes"));
                    if on && accept.is_none() {
                        accept = Some(false);
                    }
                    self.note(n, "carried over as `accept = false`; its other checks are what vrrpd does anyway or have no equivalent");
                }
                "garp_master_repeat" => {
                    garp_repeat = self.int(n, 0, 255).and_then(|v| u32::try_from(v).ok());
                }
                "garp_master_refresh" => garp_refresh = self.timer(n),
                _ => self.unsupported(n),
            }
        }

        let Some(interface) = interface else {
            self.error_at(
                node.pos(),
                format!("vrrp_instance {name:?} has no `interface`: vrrpd needs one"),
            );
            return;
        };
        let Some(vrid) = vrid else {
            self.error_at(
                node.pos(),
                format!("vrrp_instance {name:?} has no `virtual_router_id`"),
            );
            return;
        };
        if vips.is_empty() {
            self.error_at(node.pos(), format!("vrrp_instance {name:?} has no virtual_ipaddress: vrrpd needs at least one address to move"));
            return;
        }
        let family = if vips[0].0.addr.is_ipv4() {
            AddressFamily::Ipv4
        } else {
            AddressFamily::Ipv6
        };
        let mut virtual_ips = Vec::new();
        for (v, e) in vips {
            if v.addr.is_ipv4() != (family == AddressFamily::Ipv4) {
                self.note(e, "not carried over: every address of a keepalived instance must have the family of the first one (keepalived ignores it too); put it in an instance of its own");
            } else {
                virtual_ips.push(v);
            }
        }
        // keepalived: IPv6 instances always run version 3.
        let mut version = version.or(self.default_version).unwrap_or(Version::V2);
        if family == AddressFamily::Ipv6 && version == Version::V2 {
            version = Version::V3;
            comments.push(
                "VRRPv3: keepalived runs IPv6 instances with version 3 whatever vrrp_version says."
                    .into(),
            );
        }
        let auth_pass = match auth {
            Some((_, n)) if version == Version::V3 => {
                self.note(
                    n,
                    "not carried over: VRRPv3 has no authentication (keepalived ignores it too)",
                );
                None
            }
            Some((pass, n)) if pass.len() > 8 => {
                let mut cut = 8;
                while !pass.is_char_boundary(cut) {
                    cut -= 1;
                }
                let short = pass[..cut].to_string();
                self.note(
                    n,
                    format!(
                        "keepalived uses only the first 8 characters: carried over as {short:?}"
                    ),
                );
                Some(short)
            }
            Some((pass, _)) => Some(pass),
            None => None,
        };
        if !preempt && (state_master || priority == 255) {
            preempt = true;
            if let Some(n) = nopreempt_node {
                self.note(n, if priority == 255 {
                    "not carried over: keepalived ignores nopreempt for an address owner (priority 255), which always takes over"
                } else {
                    "not carried over: keepalived ignores nopreempt when the initial state is MASTER (write `state BACKUP` on every node to keep it)"
                });
            }
        }
        let preempt_delay = match preempt_delay {
            Some((_, n)) if !preempt => {
                self.note(
                    n,
                    "not carried over: preempt_delay has no meaning with nopreempt",
                );
                Duration::ZERO
            }
            Some((d, n)) => {
                if state_master {
                    self.note(n, "carried over; note that keepalived ignores it at startup with `state MASTER`, vrrpd does not");
                }
                d
            }
            None => Duration::ZERO,
        };
        let accept = accept.unwrap_or(!self.strict);
        if accept {
            comments.push("accept = true keeps keepalived's default: the master answers on the virtual IPs even when it is not their owner.".into());
        }
        if state_master {
            comments.push("keepalived's `state MASTER` is gone: the node with the highest priority is master.".into());
        }
        let garp_interval = match family {
            AddressFamily::Ipv4 => self.garp_interval,
            AddressFamily::Ipv6 => self.gna_interval,
        }
        .unwrap_or(Duration::ZERO);
        let mut seen = BTreeSet::new();
        track.retain(|t| seen.insert(t.clone()));
        let is_unicast = !unicast_peers.is_empty();
        self.comments.instances.insert(name.clone(), comments);
        self.instances.push(Instance {
            name,
            interface,
            vrid: u8::try_from(vrid).unwrap_or(1),
            priority: u8::try_from(priority).unwrap_or(100),
            version,
            advert_interval,
            preempt,
            preempt_delay,
            virtual_ips,
            track,
            unicast_src,
            unicast_peers,
            auth_pass,
            use_vmac,
            accept,
            checksum: ChecksumMode::PseudoHeader,
            ttl_check: !is_unicast,
            garp_repeat: garp_repeat.unwrap_or(5),
            garp_interval,
            garp_refresh: garp_refresh.filter(|d| !d.is_zero()),
            notify,
        });
    }

    fn sync_group(&mut self, node: &Node) {
        let Some(name) = self.arg(node, "a name").map(|t| t.text.clone()) else {
            return;
        };
        let mut members = Vec::new();
        let mut notify = Notify::default();
        let mut group_track = Vec::new();
        for n in node.block.as_deref().unwrap_or_default() {
            if self.notify(n, &mut notify) {
                continue;
            }
            match n.name.text.as_str() {
                "group" => {
                    for e in n.block.as_deref().unwrap_or_default() {
                        members.push(e.name.text.clone());
                        members.extend(e.args.iter().map(|t| t.text.clone()));
                    }
                }
                "track_script" | "track_file" | "track_process" | "track_interface" => {
                    let kind = n.name.text.clone();
                    let names = self.track_entries(&kind, n);
                    self.note(
                        n,
                        "vrrpd tracks probes per instance: added to the `track` of every member",
                    );
                    group_track.extend(names);
                }
                _ => self.unsupported(n),
            }
        }
        for inst in &mut self.instances {
            if members.contains(&inst.name) {
                for t in &group_track {
                    if !inst.track.contains(t) {
                        inst.track.push(t.clone());
                    }
                }
            }
        }
        self.comments.sync_groups.insert(
            name.clone(),
            vec![format!(
                "From vrrp_sync_group {name:?} ({}:{}).",
                node.pos().file,
                node.pos().line
            )],
        );
        self.sync_groups.push(SyncGroup {
            name,
            instances: members,
            notify,
        });
    }
}

fn weight_suffix(w: i32) -> String {
    if w < 0 {
        format!("minus_{}", -i64::from(w))
    } else {
        format!("{w}")
    }
}

/// Comment lines suggesting native probes for what a script checks.
fn suggest_native(name: &str, argv: &[String], weight: Option<i64>) -> Vec<String> {
    let weight_line = weight.map(|w| format!("#   weight = {w}"));
    let program = argv.first().map(String::as_str).unwrap_or_default();
    let base = program.rsplit('/').next().unwrap_or(program);
    let joined = argv.join(" ");
    let mut blocks: Vec<Vec<String>> = Vec::new();

    let process = |proc_name: &str| {
        let mut b = vec![
            format!(
                "#   [probe.{}]",
                crate::write::key(&format!("{proc_name}_running"))
            ),
            "#   kind = \"process\"".to_string(),
            format!("#   process = {}", crate::write::string(proc_name)),
        ];
        b.extend(weight_line.clone());
        b
    };
    let http = |proc_name: &str, url: &str| {
        let mut b = vec![
            format!(
                "#   [probe.{}]",
                crate::write::key(&format!("{proc_name}_http"))
            ),
            "#   kind = \"http\"".to_string(),
            format!("#   url = {}", crate::write::string(url)),
            "#   interval = \"100ms\"".to_string(),
            "#   timeout = \"80ms\"".to_string(),
            "#   fall = 2".to_string(),
            "#   rise = 2".to_string(),
        ];
        b.extend(weight_line.clone());
        b
    };

    // `killall -0 nginx`, `pidof nginx`, `pgrep -x nginx`
    let proc_target = match base {
        "killall" | "pkill" | "pidof" | "pgrep" => argv[1..]
            .iter()
            .rev()
            .find(|a| !a.starts_with('-'))
            .cloned(),
        _ => None,
    };
    if let Some(p) = &proc_target {
        blocks.push(process(p));
    }
    // bash's </dev/tcp/HOST/PORT
    if let Some(rest) = joined.split("/dev/tcp/").nth(1) {
        let mut parts = rest.split(['/', ' ', '"', '\'', ';', '&', '|']);
        if let (Some(host), Some(port)) = (parts.next(), parts.next())
            && host.parse::<IpAddr>().is_ok()
            && port.parse::<u16>().is_ok()
        {
            let mut b = vec![
                format!("#   [probe.{}]", crate::write::key(&format!("tcp_{port}"))),
                "#   kind = \"tcp\"".to_string(),
                format!("#   host = {}", crate::write::string(host)),
                format!("#   port = {port}"),
            ];
            b.extend(weight_line.clone());
            blocks.push(b);
        }
    }
    // curl / wget of a URL
    if matches!(base, "curl" | "wget")
        && let Some(url) = argv.iter().find(|a| a.starts_with("http://"))
    {
        blocks.push(http("service", url));
    }
    // a script named after a well-known service
    if blocks.is_empty() {
        let lower = format!("{name} {base}").to_ascii_lowercase();
        let services = [
            ("nginx", true),
            ("haproxy", true),
            ("apache2", true),
            ("httpd", true),
            ("envoy", true),
            ("traefik", true),
            ("caddy", true),
            ("varnishd", true),
            ("mysqld", false),
            ("mariadbd", false),
            ("postgres", false),
            ("redis-server", false),
            ("named", false),
            ("squid", true),
        ];
        let found = services.iter().find(|(s, _)| {
            lower.contains(s)
                || (*s == "redis-server" && lower.contains("redis"))
                || (*s == "mysqld" && lower.contains("mysql"))
        });
        if let Some((service, web)) = found {
            blocks.push(process(service));
            if *web {
                blocks.push(http(service, "http://127.0.0.1/"));
                blocks.push(vec![
                    "(point the http probe at a cheap health location, e.g. /nginx_health)".into(),
                ]);
            }
        }
    }

    let mut out = Vec::new();
    if blocks.is_empty() {
        out.push("Consider a native probe (process, http, tcp, file) if the script checks something they can see: they need no fork per check and react faster.".to_string());
        return out;
    }
    out.push(
        "Suggested native replacement: no shell and no fork per check; a process probe sees the"
            .to_string(),
    );
    out.push(format!(
        "process exit at once. Add these and track them instead of {name:?}:"
    ));
    for b in blocks {
        out.extend(
            b.into_iter()
                .map(|l| l.trim_start_matches("# ").to_string()),
        );
    }
    if weight.is_some() {
        out.push("Run `vrrpd check-config` on every node's file together: it says whether the weight can move the VIP.".to_string());
    }
    out
}

pub(crate) fn convert(
    name: &str,
    nodes: &[Node],
    raw_notes: Vec<(Pos, String, String)>,
) -> Result<Import, Diagnostics> {
    let mut c = Conv::default();
    for (pos, directive, reason) in raw_notes {
        c.notes.push(Note {
            file: pos.file.to_string(),
            line: pos.line,
            directive,
            reason,
        });
    }
    // definitions first: keepalived allows them after their use
    for n in nodes {
        match n.name.text.as_str() {
            "global_defs" => c.global_defs(n.block.as_deref().unwrap_or_default()),
            "vrrp_script" => c.script_block(n),
            "track_file" | "vrrp_track_file" => c.track_file_block(n),
            "vrrp_track_process" => c.track_process_block(n),
            "vrrp_instance" | "vrrp_sync_group" => {}
            kw if kw.starts_with('@') || kw.starts_with('$') => c.note(
                n,
                "not carried over: conditional configuration and $VARIABLES are not expanded; rewrite the resolved values",
            ),
            _ => c.unsupported(n),
        }
    }
    for n in nodes {
        if n.name.text == "vrrp_instance" {
            c.instance(n);
        }
    }
    for n in nodes {
        if n.name.text == "vrrp_sync_group" {
            c.sync_group(n);
        }
    }
    // definitions nobody tracks: keepalived never runs them either
    let defs: Vec<(String, Pos, &'static str)> = c
        .scripts
        .iter()
        .chain(c.track_files.iter())
        .chain(c.track_processes.iter())
        .map(|(k, d)| (k.clone(), d.pos.clone(), d.block))
        .collect();
    for (def, pos, block) in defs {
        let used = c.probes.contains_key(&def)
            || c.probes
                .keys()
                .any(|k| k.starts_with(&format!("{def}_weight_")));
        if !used {
            c.notes.push(Note {
                file: pos.file.to_string(),
                line: pos.line,
                directive: format!("{block} {def}"),
                reason: "not carried over: no instance tracks it, so keepalived never runs it"
                    .into(),
            });
        }
    }
    if !c.errors.is_empty() {
        c.errors.sort();
        return Err(Diagnostics(c.errors));
    }
    c.notes
        .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));

    let config = Config {
        global: c.global,
        probes: c.probes,
        instances: c.instances,
        sync_groups: c.sync_groups,
    };
    c.comments.header = vec![
        format!("vrrpd configuration converted from {name} by `vrrpd import-keepalived`."),
        "Directives that were not carried over were listed on stderr with their line.".into(),
        "Check it with `vrrpd check-config`; give every node's file at once to cross-check them."
            .into(),
    ];
    let runs_scripts = config
        .probes
        .values()
        .any(|p| matches!(p.kind, ProbeKind::Exec(_)))
        || config
            .instances
            .iter()
            .any(|i| i.notify.commands().next().is_some())
        || config
            .sync_groups
            .iter()
            .any(|g| g.notify.commands().next().is_some());
    if runs_scripts && config.global.script_user == crate::types::DEFAULT_SCRIPT_USER {
        c.comments.header.push(
            "keepalived ran these scripts as root (or keepalived_script); vrrpd runs them as script_user, \"nobody\" by default: set [global] script_user if they need more.".into(),
        );
    }
    let toml = to_toml_with_comments(&config, &c.comments);
    Ok(Import {
        config,
        toml,
        notes: c.notes,
    })
}
