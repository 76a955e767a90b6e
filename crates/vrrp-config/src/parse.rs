//! TOML text → [`Config`], every error collected with its position.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};
use vrrp_packet::{ChecksumMode, Version};

use crate::reader::{Ctx, Span, TableReader, describe};
use crate::types::{
    Config, ExecProbe, FileMode, FileProbe, Global, HttpProbe, Instance, InterfaceProbe, Notify,
    Probe, ProbeKind, ProbeState, ProcessMatch, ProcessProbe, SyncGroup, TcpProbe, VirtualIp,
};

pub(crate) const GLOBAL_KEYS: &[&str] = &[
    "router_id",
    "status_socket",
    "metrics",
    "script_user",
    "notify_timeout",
];

pub(crate) const PROBE_COMMON_KEYS: &[&str] = &[
    "kind", "interval", "timeout", "fall", "rise", "weight", "initial",
];

/// Kind-specific probe keys.
pub(crate) const PROBE_KIND_KEYS: &[(&str, &[&str])] = &[
    ("http", &["url", "expect_status"]),
    ("tcp", &["host", "port"]),
    ("exec", &["command", "shell"]),
    (
        "process",
        &["process", "cmdline", "min_count", "any_namespace"],
    ),
    ("file", &["path", "mode"]),
    ("interface", &["interface"]),
];

pub(crate) const INSTANCE_KEYS: &[&str] = &[
    "name",
    "interface",
    "vrid",
    "priority",
    "version",
    "advert_interval",
    "preempt",
    "preempt_delay",
    "virtual_ips",
    "track",
    "unicast_src",
    "unicast_peers",
    "auth_pass",
    "use_vmac",
    "accept",
    "checksum",
    "ttl_check",
    "garp_repeat",
    "garp_interval",
    "garp_refresh",
    "notify",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
];

pub(crate) const SYNC_GROUP_KEYS: &[&str] = &[
    "name",
    "instances",
    "notify",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
];

/// Result of the structural pass: a config (with placeholders where values were bad), the
/// names of every `[probe.NAME]` table (also the ones that failed to parse) and the context.
pub(crate) struct Parsed {
    pub(crate) config: Config,
    pub(crate) probe_names: BTreeSet<String>,
}

/// Parses the document. Syntax errors end the pass (the tree after one is guesswork).
pub(crate) fn parse_document(text: &str, ctx: &mut Ctx) -> Option<Parsed> {
    let (root, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        let mut seen = BTreeSet::new();
        for e in syntax_errors {
            let span = e.span().unwrap_or(0..0);
            if seen.insert(span.start) {
                ctx.error(span, format!("TOML syntax: {}", e.message().trim_end()));
            }
        }
        return None;
    }
    let root = root.get_ref();
    let mut config = Config {
        global: Global::default(),
        probes: BTreeMap::new(),
        instances: Vec::new(),
        sync_groups: Vec::new(),
    };
    let mut probe_names = BTreeSet::new();
    for (key, value) in root.iter() {
        match key.get_ref().as_ref() {
            "global" => match value.get_ref() {
                DeValue::Table(t) => config.global = parse_global(t, value.span(), ctx),
                other => ctx.error(
                    value.span(),
                    format!(
                        "`global` must be a table ([global]), found {}",
                        describe(other)
                    ),
                ),
            },
            "probe" => match value.get_ref() {
                DeValue::Table(t) => {
                    for (name, probe) in t.iter() {
                        let name_str = name.get_ref().to_string();
                        probe_names.insert(name_str.clone());
                        ctx.positions
                            .insert(format!("probe.{name_str}"), probe.span());
                        match probe.get_ref() {
                            DeValue::Table(pt) => {
                                if let Some(p) = parse_probe(&name_str, pt, probe.span(), ctx) {
                                    config.probes.insert(name_str, p);
                                }
                            }
                            other => {
                                ctx.bad(
                                    &format!("probe.{name_str}"),
                                    probe.span(),
                                    format!(
                                        "`probe.{name_str}` must be a table ([probe.{name_str}]), found {}",
                                        describe(other)
                                    ),
                                );
                            }
                        }
                    }
                }
                other => ctx.error(
                    value.span(),
                    format!(
                        "`probe` must hold one table per probe ([probe.NAME]), found {}",
                        describe(other)
                    ),
                ),
            },
            "instance" => {
                for (i, (t, span)) in array_of_tables("instance", value, ctx)
                    .into_iter()
                    .enumerate()
                {
                    config.instances.push(parse_instance(i, t, span, ctx));
                }
            }
            "sync_group" => {
                for (i, (t, span)) in array_of_tables("sync_group", value, ctx)
                    .into_iter()
                    .enumerate()
                {
                    config.sync_groups.push(parse_sync_group(i, t, span, ctx));
                }
            }
            other => {
                let known = ["global", "probe", "instance", "sync_group"];
                let hint = crate::reader::closest(other, &known)
                    .map(|b| format!(" (did you mean `{b}`?)"))
                    .unwrap_or_else(|| {
                        " (known: [global], [probe.NAME], [[instance]], [[sync_group]])".to_string()
                    });
                ctx.error(key.span(), format!("unknown table or key `{other}`{hint}"));
            }
        }
    }
    Some(Parsed {
        config,
        probe_names,
    })
}

fn array_of_tables<'t, 'i>(
    key: &str,
    value: &'t Spanned<DeValue<'i>>,
    ctx: &mut Ctx,
) -> Vec<(&'t DeTable<'i>, Span)> {
    let mut out = Vec::new();
    match value.get_ref() {
        DeValue::Array(items) => {
            for item in items.iter() {
                match item.get_ref() {
                    DeValue::Table(t) => out.push((t, item.span())),
                    other => ctx.error(
                        item.span(),
                        format!(
                            "`{key}` must be an array of tables ([[{key}]]), found {} in it",
                            describe(other)
                        ),
                    ),
                }
            }
        }
        DeValue::Table(_) => ctx.error(
            value.span(),
            format!("`{key}` is an array of tables: write [[{key}]], not [{key}]"),
        ),
        other => ctx.error(
            value.span(),
            format!(
                "`{key}` must be an array of tables ([[{key}]]), found {}",
                describe(other)
            ),
        ),
    }
    out
}

fn parse_global(t: &DeTable<'_>, span: Span, ctx: &mut Ctx) -> Global {
    let mut r = TableReader::new(t, span, "global".into(), "[global]".into());
    let mut g = Global::default();
    if let Some((s, sp)) = r.string(ctx, "router_id") {
        if s.is_empty() {
            ctx.bad("global.router_id", sp, "`router_id` is empty");
        }
        g.router_id = Some(s);
    }
    if let Some((s, sp)) = r.string(ctx, "status_socket") {
        if s.is_empty() {
            ctx.bad("global.status_socket", sp, "`status_socket` is empty");
        }
        g.status_socket = PathBuf::from(s);
    }
    if let Some(a) = r.parsed(ctx, "metrics", |s| {
        s.parse::<SocketAddr>().map_err(|_| {
            format!("{s:?} is not ADDRESS:PORT (e.g. \"127.0.0.1:9688\" or \"[::1]:9688\")")
        })
    }) {
        g.metrics = Some(a);
    }
    if let Some((s, sp)) = r.string(ctx, "script_user") {
        if s.is_empty() {
            ctx.bad("global.script_user", sp, "`script_user` is empty");
        }
        g.script_user = s;
    }
    if let Some(d) = r.duration(ctx, "notify_timeout") {
        g.notify_timeout = d;
    }
    r.finish(ctx, GLOBAL_KEYS);
    g
}

fn parse_probe(name: &str, t: &DeTable<'_>, span: Span, ctx: &mut Ctx) -> Option<Probe> {
    let path = format!("probe.{name}");
    let mut r = TableReader::new(t, span, path.clone(), format!("[probe.{name}]"));
    let kind_name = r.required_string(
        ctx,
        "kind",
        "one of http, tcp, exec, process, file, interface",
    );
    let interval = r.duration(ctx, "interval");
    let timeout = r.duration(ctx, "timeout");
    let fall = r.int(ctx, "fall", 1..=1000);
    let rise = r.int(ctx, "rise", 1..=1000);
    let weight = r.int(ctx, "weight", -253..=253);
    let initial = r.parsed(ctx, "initial", |s| match s {
        "healthy" => Ok(ProbeState::Healthy),
        "failed" => Ok(ProbeState::Failed),
        _ => Err(format!("{s:?} is not \"healthy\" or \"failed\"")),
    });

    let kind_keys = kind_name
        .as_ref()
        .and_then(|(k, _)| PROBE_KIND_KEYS.iter().find(|(n, _)| n == k))
        .map(|(_, keys)| *keys);
    let kind = match kind_name {
        Some((k, kspan)) => {
            let known = PROBE_KIND_KEYS.iter().find(|(n, _)| *n == k);
            match known {
                None => {
                    ctx.bad(
                        &format!("{path}.kind"),
                        kspan,
                        format!("unknown probe kind {k:?} (kinds: http, tcp, exec, process, file, interface)"),
                    );
                    None
                }
                Some((kn, own_keys)) => {
                    // keys of the other kinds get a precise message
                    for (other, keys) in PROBE_KIND_KEYS {
                        if other == kn {
                            continue;
                        }
                        for key in *keys {
                            if own_keys.contains(key) || !r.has(key) {
                                continue;
                            }
                            if let Some(v) = r.take(ctx, key) {
                                ctx.bad(
                                    &format!("{path}.{key}"),
                                    v.span(),
                                    format!(
                                        "`{key}` belongs to {other} probes; a {kn} probe takes: {}",
                                        own_keys.join(", ")
                                    ),
                                );
                            }
                        }
                    }
                    parse_probe_kind(kn, &mut r, ctx)
                }
            }
        }
        None => None,
    };

    let mut allowed: Vec<&str> = PROBE_COMMON_KEYS.to_vec();
    if let Some(keys) = kind_keys {
        allowed.extend_from_slice(keys);
    }
    r.finish(ctx, &allowed);

    let interval = interval.unwrap_or(Duration::from_secs(1));
    Some(Probe {
        kind: kind?,
        interval,
        timeout: timeout.unwrap_or(interval),
        fall: fall.and_then(|n| u32::try_from(n).ok()).unwrap_or(1),
        rise: rise.and_then(|n| u32::try_from(n).ok()).unwrap_or(1),
        weight: weight
            .and_then(|w| i32::try_from(w).ok())
            .filter(|w| *w != 0),
        initial: initial.unwrap_or_default(),
    })
}

fn parse_probe_kind(kind: &str, r: &mut TableReader<'_, '_>, ctx: &mut Ctx) -> Option<ProbeKind> {
    let path = r.path.clone();
    match kind {
        "http" => {
            let (url, span) = r.required_string(ctx, "url", "e.g. \"http://127.0.0.1/health\"")?;
            let expect_status = parse_status_list(r, ctx);
            match parse_http_url(&url) {
                Ok((host, port, p)) => Some(ProbeKind::Http(HttpProbe {
                    url,
                    host,
                    port,
                    path: p,
                    expect_status: expect_status?,
                })),
                Err(e) => {
                    ctx.bad(&format!("{path}.url"), span, format!("`url`: {e}"));
                    None
                }
            }
        }
        "tcp" => {
            let host = r.parsed(ctx, "host", |s| {
                s.parse::<IpAddr>().map_err(|_| {
                    format!(
                        "{s:?} is not an IP address (tcp probes take a literal address, no DNS)"
                    )
                })
            });
            let port = if r.has("port") {
                r.int(ctx, "port", 1..=65535)
            } else {
                r.missing(ctx, "port", "the TCP port to connect to");
                None
            };
            if !ctx.ok(&format!("{path}.host")) {
                return None;
            }
            Some(ProbeKind::Tcp(TcpProbe {
                host: host.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                port: u16::try_from(port?).ok()?,
            }))
        }
        "exec" => {
            let shell = r.bool(ctx, "shell").unwrap_or(false);
            if !r.has("command") {
                r.missing(
                    ctx,
                    "command",
                    "the program to run, e.g. [\"/usr/local/bin/check\", \"arg\"]",
                );
                return None;
            }
            if shell {
                let (cmd, span) = r.string(ctx, "command").or_else(|| {
                    ctx.error(
                        r.span.clone(),
                        "with `shell = true`, `command` must be one string for /bin/sh -c",
                    );
                    None
                })?;
                if cmd.trim().is_empty() {
                    ctx.bad(&format!("{path}.command"), span, "`command` is empty");
                    return None;
                }
                Some(ProbeKind::Exec(ExecProbe {
                    argv: vec!["/bin/sh".into(), "-c".into(), cmd],
                    shell: true,
                }))
            } else {
                let cmd = r.command(ctx, "command")?;
                Some(ProbeKind::Exec(ExecProbe {
                    argv: cmd.argv,
                    shell: false,
                }))
            }
        }
        "process" => {
            let min_count = r.int(ctx, "min_count", 1..=100_000);
            let any_namespace = r.bool(ctx, "any_namespace");
            let matcher = match (r.has("process"), r.has("cmdline")) {
                (true, true) => {
                    if let Some(v) = r.take(ctx, "cmdline") {
                        ctx.bad(
                            &format!("{path}.cmdline"),
                            v.span(),
                            "give either `process` (a name) or `cmdline` (an exact command line), not both",
                        );
                    }
                    let _ = r.take(ctx, "process");
                    None
                }
                (false, false) => {
                    r.missing(
                        ctx,
                        "process",
                        "the process name as in /proc/PID/comm, or `cmdline`",
                    );
                    None
                }
                (true, false) => {
                    let (name, span) = r.string(ctx, "process")?;
                    if name.is_empty() {
                        ctx.bad(&format!("{path}.process"), span, "`process` is empty");
                        None
                    } else if name.len() > 15 {
                        ctx.bad(
                            &format!("{path}.process"),
                            span,
                            format!(
                                "`process` {name:?} is {} bytes, but the kernel keeps only 15 in /proc/PID/comm, so it can never match: use `cmdline` or the first 15 bytes ({:?})",
                                name.len(),
                                truncate_bytes(&name, 15)
                            ),
                        );
                        None
                    } else {
                        Some(ProcessMatch::Name(name))
                    }
                }
                (false, true) => r
                    .command(ctx, "cmdline")
                    .map(|c| ProcessMatch::Cmdline(c.argv)),
            };
            Some(ProbeKind::Process(ProcessProbe {
                matcher: matcher?,
                min_count: min_count.and_then(|n| u32::try_from(n).ok()).unwrap_or(1),
                any_namespace: any_namespace.unwrap_or(false),
            }))
        }
        "file" => {
            let mode = r.parsed(ctx, "mode", |s| match s {
                "number" => Ok(FileMode::Number),
                "exists" => Ok(FileMode::Exists),
                "absent" => Ok(FileMode::Absent),
                _ => Err(format!("{s:?} is not \"number\", \"exists\" or \"absent\"")),
            });
            let (p, span) = r.required_string(ctx, "path", "the file to watch")?;
            if p.is_empty() {
                ctx.bad(&format!("{path}.path"), span, "`path` is empty");
                return None;
            }
            if !ctx.ok(&format!("{path}.mode")) {
                return None;
            }
            Some(ProbeKind::File(FileProbe {
                path: PathBuf::from(p),
                mode: mode.unwrap_or(FileMode::Number),
            }))
        }
        "interface" => {
            let (name, span) =
                r.required_string(ctx, "interface", "the interface whose link is watched")?;
            if let Err(e) = check_interface_name(&name) {
                ctx.bad(
                    &format!("{path}.interface"),
                    span,
                    format!("`interface`: {e}"),
                );
                return None;
            }
            Some(ProbeKind::Interface(InterfaceProbe { interface: name }))
        }
        _ => None,
    }
}

fn truncate_bytes(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Linux interface names: 1..=15 bytes, no `/`, no whitespace, not `.` or `..`.
pub(crate) fn check_interface_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if name.len() > 15 {
        return Err(format!(
            "{name:?} is longer than 15 bytes, the kernel's limit"
        ));
    }
    if name == "."
        || name == ".."
        || name.contains(['/', ':'])
        || name.chars().any(char::is_whitespace)
    {
        return Err(format!("{name:?} is not a valid interface name"));
    }
    Ok(())
}

fn parse_status_list(
    r: &mut TableReader<'_, '_>,
    ctx: &mut Ctx,
) -> Option<Vec<RangeInclusive<u16>>> {
    let default = vec![200..=399];
    let Some(v) = r.take(ctx, "expect_status") else {
        return Some(default);
    };
    let key_path = r.key_path("expect_status");
    let one = |item: &Spanned<DeValue<'_>>, ctx: &mut Ctx| -> Option<RangeInclusive<u16>> {
        let bad = |ctx: &mut Ctx, msg: String| {
            ctx.bad(&key_path, item.span(), msg);
            None
        };
        match item.get_ref() {
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n @ 100..=599) => u16::try_from(n).ok().map(|n| n..=n),
                _ => bad(
                    ctx,
                    format!(
                        "`expect_status`: {} is not an HTTP status code (100..=599)",
                        i.as_str()
                    ),
                ),
            },
            DeValue::String(s) => {
                let parse = |x: &str| {
                    x.trim()
                        .parse::<u16>()
                        .ok()
                        .filter(|n| (100..=599).contains(n))
                };
                let range = match s.split_once('-') {
                    Some((a, b)) => parse(a).zip(parse(b)),
                    None => parse(s).map(|n| (n, n)),
                };
                match range {
                    Some((a, b)) if a <= b => Some(a..=b),
                    _ => bad(
                        ctx,
                        format!(
                            "`expect_status`: {s:?} is not a status code or a range like \"200-399\""
                        ),
                    ),
                }
            }
            other => bad(
                ctx,
                format!(
                    "`expect_status` takes status codes and ranges like \"200-399\", found {}",
                    describe(other)
                ),
            ),
        }
    };
    match v.get_ref() {
        DeValue::Array(items) => {
            let mut out = Vec::new();
            let mut ok = true;
            for item in items.iter() {
                match one(item, ctx) {
                    Some(r) => out.push(r),
                    None => ok = false,
                }
            }
            if ok && out.is_empty() {
                ctx.bad(
                    &key_path,
                    v.span(),
                    "`expect_status` is empty: no response could ever be healthy",
                );
                return None;
            }
            ok.then_some(out)
        }
        _ => one(v, ctx).map(|r| vec![r]),
    }
}

/// Splits `http://HOST[:PORT][/PATH]` into host, port and path.
pub(crate) fn parse_http_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = if let Some(rest) = url.strip_prefix("http://") {
        rest
    } else if url.starts_with("https://") {
        return Err(
            "only http:// URLs are supported (probe the local plain-HTTP health endpoint)".into(),
        );
    } else {
        return Err(format!("{url:?} is not an http:// URL"));
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].to_string()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_string()),
    };
    if authority.contains('@') {
        return Err("user names and passwords in the URL are not supported".into());
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("{url:?}: unterminated [ in the host"))?;
        if h.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("{h:?} is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("{url:?}: expected :PORT after ]"))?,
            ),
        };
        (h.to_string(), port)
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ".-_:".contains(c))
    {
        return Err(format!("{host:?} is not a host name or IP address"));
    }
    let port = match port {
        None => 80,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("{p:?} is not a port (1..=65535)"))?,
    };
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the path contains spaces or control characters".into());
    }
    Ok((host, port, path))
}

fn parse_notify(r: &mut TableReader<'_, '_>, ctx: &mut Ctx) -> Notify {
    Notify {
        any: r.command(ctx, "notify"),
        master: r.command(ctx, "notify_master"),
        backup: r.command(ctx, "notify_backup"),
        fault: r.command(ctx, "notify_fault"),
        stop: r.command(ctx, "notify_stop"),
    }
}

fn parse_ip(s: &str) -> Result<IpAddr, String> {
    s.parse::<IpAddr>()
        .map_err(|_| format!("{s:?} is not an IP address"))
}

fn parse_instance(index: usize, t: &DeTable<'_>, span: Span, ctx: &mut Ctx) -> Instance {
    let path = format!("instance[{index}]");
    let name_hint = t
        .iter()
        .find(|(k, _)| k.get_ref() == "name")
        .and_then(|(_, v)| v.get_ref().as_str().map(str::to_string));
    let label = match &name_hint {
        Some(n) => format!("[[instance]] {n:?}"),
        None => format!("[[instance]] #{}", index + 1),
    };
    ctx.positions.insert(path.clone(), span.clone());
    let mut r = TableReader::new(t, span, path.clone(), label);
    let p = |k: &str| format!("{path}.{k}");

    let name = r.required_string(ctx, "name", "a unique name such as \"VI_1\"");
    if let Some((n, sp)) = &name
        && n.is_empty()
    {
        ctx.bad(&p("name"), sp.clone(), "`name` is empty");
    }
    let interface = r.required_string(ctx, "interface", "the interface, e.g. \"eth0\"");
    if let Some((n, sp)) = &interface
        && let Err(e) = check_interface_name(n)
    {
        ctx.bad(&p("interface"), sp.clone(), format!("`interface`: {e}"));
    }
    let vrid = if r.has("vrid") {
        r.int(ctx, "vrid", 1..=255)
    } else {
        r.missing(
            ctx,
            "vrid",
            "the virtual router id, 1..=255, the same on every node",
        );
        None
    };
    let priority = r.int(ctx, "priority", 1..=255);
    let version = r.int(ctx, "version", 2..=3);
    let advert_interval = r.duration(ctx, "advert_interval");
    let preempt = r.bool(ctx, "preempt");
    let preempt_delay = r.duration(ctx, "preempt_delay");

    let mut virtual_ips = Vec::new();
    if !r.has("virtual_ips") {
        r.missing(
            ctx,
            "virtual_ips",
            "the addresses to move, e.g. [\"192.0.2.100/24\"]",
        );
    } else if let Some(list) = r.string_list(ctx, "virtual_ips") {
        for (s, sp) in list {
            match s.parse::<VirtualIp>() {
                Ok(v) => virtual_ips.push(v),
                Err(e) => ctx.bad(&p("virtual_ips"), sp, format!("`virtual_ips`: {e}")),
            }
        }
    }
    let track = r
        .string_list(ctx, "track")
        .map(|l| l.into_iter().map(|(s, _)| s).collect())
        .unwrap_or_default();
    let unicast_src = r.parsed(ctx, "unicast_src", parse_ip);
    let mut unicast_peers = Vec::new();
    if let Some(list) = r.string_list(ctx, "unicast_peers") {
        for (s, sp) in list {
            match parse_ip(&s) {
                Ok(a) => unicast_peers.push(a),
                Err(e) => ctx.bad(&p("unicast_peers"), sp, format!("`unicast_peers`: {e}")),
            }
        }
    }
    let auth_pass = r.string(ctx, "auth_pass").map(|(s, _)| s);
    let use_vmac = r.bool(ctx, "use_vmac");
    let accept = r.bool(ctx, "accept");
    let checksum = r.parsed(ctx, "checksum", |s| match s {
        "pseudo-header" => Ok(ChecksumMode::PseudoHeader),
        "message-only" => Ok(ChecksumMode::MessageOnly),
        _ => Err(format!(
            "{s:?} is not \"pseudo-header\" or \"message-only\""
        )),
    });
    let ttl_check = r.bool(ctx, "ttl_check");
    let garp_repeat = r.int(ctx, "garp_repeat", 0..=255);
    let garp_interval = r.duration(ctx, "garp_interval");
    let garp_refresh = r.duration(ctx, "garp_refresh");
    let notify = parse_notify(&mut r, ctx);
    r.finish(ctx, INSTANCE_KEYS);

    Instance {
        name: name.map(|(n, _)| n).unwrap_or_default(),
        interface: interface.map(|(n, _)| n).unwrap_or_default(),
        vrid: vrid.and_then(|v| u8::try_from(v).ok()).unwrap_or(1),
        priority: priority.and_then(|v| u8::try_from(v).ok()).unwrap_or(100),
        version: match version {
            Some(2) => Version::V2,
            _ => Version::V3,
        },
        advert_interval: advert_interval.unwrap_or(Duration::from_secs(1)),
        preempt: preempt.unwrap_or(true),
        preempt_delay: preempt_delay.unwrap_or(Duration::ZERO),
        ttl_check: ttl_check.unwrap_or(unicast_peers.is_empty()),
        virtual_ips,
        track,
        unicast_src,
        unicast_peers,
        auth_pass,
        use_vmac: use_vmac.unwrap_or(false),
        accept: accept.unwrap_or(false),
        checksum: checksum.unwrap_or_default(),
        garp_repeat: garp_repeat.and_then(|v| u32::try_from(v).ok()).unwrap_or(5),
        garp_interval: garp_interval.unwrap_or(Duration::ZERO),
        garp_refresh: garp_refresh.filter(|d| !d.is_zero()),
        notify,
    }
}

fn parse_sync_group(index: usize, t: &DeTable<'_>, span: Span, ctx: &mut Ctx) -> SyncGroup {
    let path = format!("sync_group[{index}]");
    let name_hint = t
        .iter()
        .find(|(k, _)| k.get_ref() == "name")
        .and_then(|(_, v)| v.get_ref().as_str().map(str::to_string));
    let label = match &name_hint {
        Some(n) => format!("[[sync_group]] {n:?}"),
        None => format!("[[sync_group]] #{}", index + 1),
    };
    ctx.positions.insert(path.clone(), span.clone());
    let mut r = TableReader::new(t, span, path.clone(), label);
    let name = r.required_string(ctx, "name", "a unique name such as \"G1\"");
    if let Some((n, sp)) = &name
        && n.is_empty()
    {
        ctx.bad(&format!("{path}.name"), sp.clone(), "`name` is empty");
    }
    let instances = if r.has("instances") {
        r.string_list(ctx, "instances")
            .map(|l| l.into_iter().map(|(s, _)| s).collect())
            .unwrap_or_default()
    } else {
        r.missing(ctx, "instances", "the names of the member instances");
        Vec::new()
    };
    let notify = parse_notify(&mut r, ctx);
    r.finish(ctx, SYNC_GROUP_KEYS);
    SyncGroup {
        name: name.map(|(n, _)| n).unwrap_or_default(),
        instances,
        notify,
    }
}
