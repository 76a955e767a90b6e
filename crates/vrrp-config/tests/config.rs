//! The native TOML format: parsing, defaults, every error with its position, round trips.

// Test helpers panic on purpose: a panic is a failed assertion.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::time::Duration;

use proptest::prelude::*;
use vrrp_config::{
    Config, FileMode, LoadedConfig, ProbeKind, ProbeState, ProcessMatch, VirtualIp, to_toml,
};
use vrrp_packet::{ChecksumMode, Version};

fn errors(text: &str) -> Vec<String> {
    match LoadedConfig::parse("t.toml", text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(d) => d.0.iter().map(ToString::to_string).collect(),
    }
}

fn ok(text: &str) -> LoadedConfig {
    match LoadedConfig::parse("t.toml", text) {
        Ok(c) => c,
        Err(d) => panic!("rejected:\n{d}\n---\n{text}"),
    }
}

fn has(errs: &[String], needle: &str) {
    assert!(
        errs.iter().any(|e| e.contains(needle)),
        "no error containing {needle:?} in:\n{}",
        errs.join("\n")
    );
}

const MINIMAL: &str = r#"
[[instance]]
name = "VI_1"
interface = "eth0"
vrid = 51
virtual_ips = ["192.0.2.100/24"]
"#;

const FULL: &str = r#"
[global]
router_id = "nginx-01"
status_socket = "/run/x/vrrpd.sock"
metrics = "127.0.0.1:9688"
script_user = "vrrpd-script"
notify_timeout = "5s"

[probe.web]
kind = "http"
url = "http://127.0.0.1:8080/nginx_health?x=1"
expect_status = [200, "300-302"]
interval = "100ms"
timeout = "80ms"
fall = 2
rise = 3
weight = -50
initial = "failed"

[probe.port]
kind = "tcp"
host = "::1"
port = 443

[probe.script]
kind = "exec"
command = "/usr/local/bin/check 'two words'"

[probe.shell]
kind = "exec"
command = "test -e /run/ok && exit 0"
shell = true

[probe.nginx]
kind = "process"
process = "nginx"
min_count = 2
weight = 20

[probe.full]
kind = "process"
cmdline = ["/usr/bin/python3", "/srv/app.py"]

[probe.prio]
kind = "file"
path = "/run/vrrpd/prio"
weight = 5

[probe.maint]
kind = "file"
path = "/etc/vrrpd/down"
mode = "absent"

[probe.uplink]
kind = "interface"
interface = "eth1"

[[instance]]
name = "VI_1"
interface = "eth0"
vrid = 51
priority = 100
version = 3
advert_interval = "100ms"
preempt = true
preempt_delay = "30s"
virtual_ips = ["192.0.2.100/24", "192.0.2.101"]
track = ["web", "port", "script", "shell", "nginx", "full", "prio", "maint", "uplink"]
unicast_src = "192.0.2.11"
unicast_peers = ["192.0.2.12", "192.0.2.13"]
use_vmac = true
accept = true
checksum = "message-only"
ttl_check = true
garp_repeat = 3
garp_interval = "10ms"
garp_refresh = "60s"
notify = "/etc/vrrpd/notify.sh"
notify_master = ["/etc/vrrpd/up", "a b"]
notify_backup = "/etc/vrrpd/down"
notify_fault = "/etc/vrrpd/down fault"
notify_stop = "/etc/vrrpd/stop"

[[instance]]
name = "VI_6"
interface = "eth0"
vrid = 51
priority = 255
virtual_ips = ["2001:db8::100/64"]

[[instance]]
name = "VI_2"
interface = "eth0"
vrid = 52
priority = 90
version = 2
advert_interval = "2s"
preempt = false
virtual_ips = ["198.51.100.1/24"]
auth_pass = "secret"

[[sync_group]]
name = "G1"
instances = ["VI_1", "VI_2"]
notify = "/etc/vrrpd/group.sh"
"#;

#[test]
fn every_key_is_read_into_typed_values() {
    let loaded = ok(FULL);
    let c = &loaded.config;
    assert_eq!(c.global.router_id.as_deref(), Some("nginx-01"));
    assert_eq!(c.global.status_socket.to_str(), Some("/run/x/vrrpd.sock"));
    assert_eq!(c.global.metrics.unwrap().port(), 9688);
    assert_eq!(c.global.script_user, "vrrpd-script");
    assert_eq!(c.global.notify_timeout, Duration::from_secs(5));

    let web = &c.probes["web"];
    let ProbeKind::Http(h) = &web.kind else {
        panic!()
    };
    assert_eq!(
        (h.host.as_str(), h.port, h.path.as_str()),
        ("127.0.0.1", 8080, "/nginx_health?x=1")
    );
    assert!(h.accepts(200) && h.accepts(301) && !h.accepts(204) && !h.accepts(303));
    assert_eq!(
        (web.interval, web.timeout),
        (Duration::from_millis(100), Duration::from_millis(80))
    );
    assert_eq!((web.fall, web.rise, web.weight), (2, 3, Some(-50)));
    assert_eq!(web.initial, ProbeState::Failed);

    let ProbeKind::Tcp(t) = &c.probes["port"].kind else {
        panic!()
    };
    assert_eq!(t.socket_addr().to_string(), "[::1]:443");
    let ProbeKind::Exec(e) = &c.probes["script"].kind else {
        panic!()
    };
    assert_eq!(e.argv, ["/usr/local/bin/check", "two words"]);
    assert!(!e.shell);
    let ProbeKind::Exec(e) = &c.probes["shell"].kind else {
        panic!()
    };
    assert_eq!(e.argv, ["/bin/sh", "-c", "test -e /run/ok && exit 0"]);
    let ProbeKind::Process(p) = &c.probes["nginx"].kind else {
        panic!()
    };
    assert_eq!(
        (p.matcher.clone(), p.min_count),
        (ProcessMatch::Name("nginx".into()), 2)
    );
    let ProbeKind::Process(p) = &c.probes["full"].kind else {
        panic!()
    };
    assert_eq!(
        p.matcher,
        ProcessMatch::Cmdline(vec!["/usr/bin/python3".into(), "/srv/app.py".into()])
    );
    let ProbeKind::File(f) = &c.probes["prio"].kind else {
        panic!()
    };
    assert_eq!(f.mode, FileMode::Number);
    let ProbeKind::File(f) = &c.probes["maint"].kind else {
        panic!()
    };
    assert_eq!(f.mode, FileMode::Absent);
    assert!(matches!(&c.probes["uplink"].kind, ProbeKind::Interface(i) if i.interface == "eth1"));
    // defaults of a probe
    let port = &c.probes["port"];
    assert_eq!(
        (
            port.interval,
            port.timeout,
            port.fall,
            port.rise,
            port.weight
        ),
        (Duration::from_secs(1), Duration::from_secs(1), 1, 1, None)
    );

    let vi = c.instance("VI_1").unwrap();
    assert_eq!((vi.vrid, vi.priority, vi.version), (51, 100, Version::V3));
    assert_eq!(vi.advert_interval, Duration::from_millis(100));
    assert_eq!(vi.advert_interval_wire().as_centis(), 10);
    assert_eq!(vi.preempt_delay, Duration::from_secs(30));
    assert_eq!(
        vi.virtual_ips[1],
        VirtualIp {
            addr: "192.0.2.101".parse().unwrap(),
            prefix_len: 32
        }
    );
    assert_eq!(vi.track.len(), 9);
    assert_eq!(vi.unicast_src, Some("192.0.2.11".parse().unwrap()));
    assert_eq!(vi.unicast_peers.len(), 2);
    assert!(vi.use_vmac && vi.accept && vi.ttl_check);
    assert_eq!(vi.effective_checksum(), ChecksumMode::MessageOnly);
    assert_eq!(
        (vi.garp_repeat, vi.garp_interval, vi.garp_refresh),
        (3, Duration::from_millis(10), Some(Duration::from_secs(60)))
    );
    assert_eq!(
        vi.notify.any.as_ref().unwrap().argv,
        ["/etc/vrrpd/notify.sh"]
    );
    assert_eq!(
        vi.notify.master.as_ref().unwrap().argv,
        ["/etc/vrrpd/up", "a b"]
    );
    assert_eq!(
        vi.notify.fault.as_ref().unwrap().argv,
        ["/etc/vrrpd/down", "fault"]
    );
    assert_eq!(vi.notify.commands().count(), 5);

    let v6 = c.instance("VI_6").unwrap();
    assert_eq!(v6.family(), vrrp_packet::AddressFamily::Ipv6);
    assert!(v6.is_owner());
    assert_eq!(v6.effective_checksum(), ChecksumMode::PseudoHeader);

    let v2 = c.instance("VI_2").unwrap();
    assert_eq!(v2.version, Version::V2);
    assert_eq!(v2.auth_pass.as_deref(), Some("secret"));
    assert_eq!(v2.effective_checksum(), ChecksumMode::MessageOnly);
    assert_eq!(c.sync_group_of("VI_2").unwrap().name, "G1");
    assert_eq!(
        c.sync_groups[0].notify.any.as_ref().unwrap().program(),
        "/etc/vrrpd/group.sh"
    );
}

#[test]
fn defaults_of_a_minimal_instance() {
    let c = ok(MINIMAL).config;
    let vi = &c.instances[0];
    assert_eq!(vi.priority, 100);
    assert_eq!(vi.version, Version::V3);
    assert_eq!(vi.advert_interval, Duration::from_secs(1));
    assert!(vi.preempt && !vi.accept && !vi.use_vmac && vi.ttl_check);
    assert_eq!(vi.preempt_delay, Duration::ZERO);
    assert_eq!(vi.checksum, ChecksumMode::PseudoHeader);
    assert_eq!(
        (vi.garp_repeat, vi.garp_interval, vi.garp_refresh),
        (5, Duration::ZERO, None)
    );
    assert_eq!(
        c.global.status_socket.to_str(),
        Some("/run/vrrpd/vrrpd.sock")
    );
    assert_eq!(c.global.script_user, "nobody");
    assert_eq!(c.global.metrics, None);
    // unicast peers turn the TTL check off by default, as keepalived
    let c = ok(&format!("{MINIMAL}unicast_peers = [\"192.0.2.12\"]\n")).config;
    assert!(!c.instances[0].ttl_check);
}

#[test]
fn all_errors_are_reported_with_file_line_and_column() {
    let text = "\
[global]
router_idd = \"x\"

[[instance]]
name = \"VI_1\"
interface = \"eth0\"
vrid = 256
priority = 0
advert_interval = 1
virtual_ips = [\"192.0.2.100/33\"]
prempt = true
";
    let errs = errors(text);
    assert_eq!(
        errs,
        vec![
            "t.toml:2:1: unknown key `router_idd` in [global] (did you mean `router_id`?)",
            "t.toml:7:8: `vrid` must be 1..=255, found 256",
            "t.toml:8:12: `priority` must be 1..=255, found 0",
            "t.toml:9:19: `advert_interval` is a duration: write it as a string with a unit, e.g. \"1s\" or \"1ms\"",
            "t.toml:10:16: `virtual_ips`: prefix length \"33\" is not 0..=32",
            "t.toml:11:1: unknown key `prempt` in [[instance]] \"VI_1\" (did you mean `preempt`?)",
        ]
    );
}

#[test]
fn syntax_errors_have_positions() {
    let errs = errors("[[instance]]\nname = \"VI_1\nvrid = 1\n");
    assert!(
        errs[0].starts_with("t.toml:2:13: TOML syntax: invalid basic string"),
        "{errs:?}"
    );
    let errs = errors("a = 1\na = 2\n");
    assert!(
        errs[0].starts_with("t.toml:2:1: TOML syntax: duplicate key"),
        "{errs:?}"
    );
}

#[test]
fn missing_required_keys_point_at_the_table() {
    let errs = errors("\n[[instance]]\npriority = 10\n");
    has(&errs, "t.toml:2:1: [[instance]] #1 has no `name`");
    has(&errs, "t.toml:2:1: [[instance]] #1 has no `interface`");
    has(&errs, "t.toml:2:1: [[instance]] #1 has no `vrid`");
    has(&errs, "t.toml:2:1: [[instance]] #1 has no `virtual_ips`");
    let errs = errors("[instance]\nname = \"x\"\n");
    has(&errs, "write [[instance]], not [instance]");
    let errs = errors("[instances]\n");
    has(
        &errs,
        "unknown table or key `instances` (did you mean `instance`?)",
    );
}

#[test]
fn protocol_limits() {
    let with = |extra: &str| format!("{MINIMAL}{extra}\n");
    has(
        &errors(&with("version = 2\nadvert_interval = \"1.5s\"")),
        "whole seconds",
    );
    has(
        &errors(&with("version = 2\nadvert_interval = \"256s\"")),
        "whole seconds",
    );
    has(
        &errors(&with("advert_interval = \"5ms\"")),
        "from 10ms to 40.95s",
    );
    has(&errors(&with("advert_interval = \"15ms\"")), "centiseconds");
    has(
        &errors(&with("advert_interval = \"41s\"")),
        "from 10ms to 40.95s",
    );
    ok(&with("advert_interval = \"40.95s\""));
    ok(&with("advert_interval = \"10ms\""));
    ok(&with("version = 2\nadvert_interval = \"255s\""));
    has(&errors(&with("version = 4")), "`version` must be 2..=3");

    let v6 = MINIMAL.replace("192.0.2.100/24", "2001:db8::100/64");
    has(
        &errors(&format!("{v6}version = 2\n")),
        "VRRPv2 (RFC 3768) carries IPv4 addresses only",
    );
    has(
        &errors(&with("auth_pass = \"x\"")),
        "`auth_pass` is VRRPv2 only",
    );
    has(
        &errors(&with("version = 2\nauth_pass = \"123456789\"")),
        "keepalived would use only \"12345678\"",
    );
    ok(&with("version = 2\nauth_pass = \"12345678\""));
    has(
        &errors(&with("preempt = false\npreempt_delay = \"10s\"")),
        "no meaning with `preempt = false`",
    );
    has(&errors(&with("preempt_delay = \"1001s\"")), "at most 1000s");
    ok(&with("preempt_delay = \"1000s\""));
}

#[test]
fn addresses() {
    let vips = |list: &str| MINIMAL.replace("[\"192.0.2.100/24\"]", list);
    has(
        &errors(&vips("[\"192.0.2.100/24\", \"2001:db8::1\"]")),
        "one instance is one family",
    );
    has(&errors(&vips("[]")), "`virtual_ips` is empty");
    has(
        &errors(&vips("[\"192.0.2.1\", \"192.0.2.1/24\"]")),
        "listed twice",
    );
    has(&errors(&vips("[\"224.0.0.18\"]")), "cannot be a virtual IP");
    has(&errors(&vips("[\"192.0.2\"]")), "is not an IP address");
    has(
        &errors(&vips("[1]")),
        "must be an array of strings, found the integer 1",
    );
    let many: Vec<String> = (0..256).map(|i| format!("\"2001:db8::{i:x}\"")).collect();
    has(
        &errors(&vips(&format!("[{}]", many.join(",")))),
        "at most 255",
    );

    has(
        &errors(&format!(
            "{MINIMAL}unicast_src = \"2001:db8::1\"\nunicast_peers = [\"192.0.2.12\"]\n"
        )),
        "`unicast_src` 2001:db8::1 is IPv6 but the virtual_ips are IPv4",
    );
    has(
        &errors(&format!("{MINIMAL}unicast_peers = [\"2001:db8::2\"]\n")),
        "unicast peer 2001:db8::2 is IPv6",
    );
    has(
        &errors(&format!(
            "{MINIMAL}unicast_peers = [\"192.0.2.12\", \"192.0.2.12\"]\n"
        )),
        "listed twice",
    );
    has(
        &errors(&format!(
            "{MINIMAL}unicast_src = \"192.0.2.11\"\nunicast_peers = [\"192.0.2.11\"]\n"
        )),
        "own `unicast_src`",
    );
}

#[test]
fn names_vrids_tracks_and_groups() {
    let two = format!("{MINIMAL}{}", MINIMAL.replace("vrid = 51", "vrid = 52"));
    has(&errors(&two), "instance name \"VI_1\" is used twice");
    let same_vrid = format!("{MINIMAL}{}", MINIMAL.replace("VI_1", "VI_2"));
    has(
        &errors(&same_vrid),
        "vrid 51 is already used for IPv4 on eth0 by instance \"VI_1\"",
    );
    // the same VRID in the other family, or on another interface, is another router
    let v6 = MINIMAL
        .replace("VI_1", "VI_6")
        .replace("192.0.2.100/24", "2001:db8::100/64");
    ok(&format!("{MINIMAL}{v6}"));
    ok(&format!(
        "{MINIMAL}{}",
        MINIMAL.replace("VI_1", "VI_2").replace("eth0", "eth1")
    ));

    let errs = errors(&format!(
        "[probe.nginx]\nkind = \"process\"\nprocess = \"nginx\"\n{MINIMAL}track = [\"ngin\", \"nginx\", \"nginx\"]\n"
    ));
    has(
        &errs,
        "`track` names probe \"ngin\", which is not defined (did you mean \"nginx\"?)",
    );
    has(&errs, "probe \"nginx\" is tracked twice");

    let g = format!(
        "{MINIMAL}{}[[sync_group]]\nname = \"G\"\ninstances = [\"VI_1\", \"VI_3\"]\n[[sync_group]]\nname = \"G\"\ninstances = [\"VI_1\"]\n",
        MINIMAL
            .replace("VI_1", "VI_2")
            .replace("vrid = 51", "vrid = 52")
    );
    let errs = errors(&g);
    has(&errs, "sync group member \"VI_3\" is not an instance");
    has(&errs, "sync group name \"G\" is used twice");
    has(&errs, "instance \"VI_1\" is already in sync group \"G\"");
}

#[test]
fn probe_keys_depend_on_the_kind() {
    let probe = |body: &str| format!("[probe.p]\n{body}\n{MINIMAL}track = [\"p\"]\n");
    has(
        &errors(&probe("kind = \"tcp\"\nport = 80\nurl = \"http://x/\"")),
        "`url` belongs to http probes; a tcp probe takes: host, port",
    );
    has(
        &errors(&probe("kind = \"smtp\"")),
        "unknown probe kind \"smtp\"",
    );
    has(&errors(&probe("port = 80")), "has no `kind`");
    has(
        &errors(&probe("kind = \"http\"\nurl = \"https://127.0.0.1/\"")),
        "only http:// URLs",
    );
    has(
        &errors(&probe("kind = \"http\"\nurl = \"http://127.0.0.1:0/\"")),
        "is not a port",
    );
    has(
        &errors(&probe(
            "kind = \"http\"\nurl = \"http://127.0.0.1/\"\nexpect_status = [\"399-200\"]",
        )),
        "not a status code or a range",
    );
    has(
        &errors(&probe("kind = \"tcp\"\nhost = \"localhost\"\nport = 80")),
        "no DNS",
    );
    has(&errors(&probe("kind = \"tcp\"")), "has no `port`");
    has(
        &errors(&probe("kind = \"exec\"\ncommand = \"\"")),
        "`command` is empty",
    );
    has(
        &errors(&probe("kind = \"exec\"\ncommand = \"'open\"")),
        "unterminated",
    );
    has(
        &errors(&probe(
            "kind = \"process\"\nprocess = \"a-very-long-process-name\"",
        )),
        "only 15 in /proc/PID/comm",
    );
    has(
        &errors(&probe(
            "kind = \"process\"\nprocess = \"a\"\ncmdline = \"a\"",
        )),
        "not both",
    );
    has(
        &errors(&probe("kind = \"file\"\npath = \"/x\"\nmode = \"present\"")),
        "is not \"number\", \"exists\" or \"absent\"",
    );
    has(
        &errors(&probe("kind = \"interface\"\ninterface = \"a/b\"")),
        "not a valid interface name",
    );
    has(
        &errors(&probe("kind = \"process\"\nprocess = \"a\"\nweight = 254")),
        "`weight` must be -253..=253",
    );
    has(
        &errors(&probe(
            "kind = \"process\"\nprocess = \"a\"\ninterval = \"1ms\"",
        )),
        "at least 10ms",
    );
    has(
        &errors(&probe(
            "kind = \"process\"\nprocess = \"a\"\ntimeout = \"0s\"",
        )),
        "more than 0s",
    );
    has(
        &errors(&probe(
            "kind = \"process\"\nprocess = \"a\"\ninitial = \"up\"",
        )),
        "not \"healthy\" or \"failed\"",
    );
    // weight 0 means "no weight": failure is FAULT
    let c = ok(&probe("kind = \"process\"\nprocess = \"a\"\nweight = 0")).config;
    assert_eq!(c.probes["p"].weight, None);
}

#[test]
fn the_written_toml_reads_back_the_same() {
    let c = ok(FULL).config;
    let text = to_toml(&c);
    let back = Config::from_toml_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(back, c);
}

fn arb_instance(i: usize) -> impl Strategy<Value = String> {
    (
        1u8..=255,
        1u8..=255,
        prop::bool::ANY,
        1u16..=4095,
        prop::bool::ANY,
        0u64..=1000,
        prop::collection::btree_set(1u8..=254, 1..5),
        prop::option::of(0u32..=255),
    )
        .prop_map(move |(vrid, prio, v2, centis, preempt, delay, hosts, garp)| {
            let (version, interval) = if v2 {
                (2, format!("{}s", u32::from(centis % 255) + 1))
            } else {
                (3, format!("{}ms", u32::from(centis) * 10))
            };
            let delay = if preempt { delay } else { 0 };
            let vips: Vec<String> = hosts.iter().map(|h| format!("\"198.51.100.{h}/24\"")).collect();
            let garp = garp.map(|g| format!("garp_repeat = {g}\n")).unwrap_or_default();
            format!(
                "[[instance]]\nname = \"I{i}\"\ninterface = \"eth{i}\"\nvrid = {vrid}\npriority = {prio}\nversion = {version}\nadvert_interval = \"{interval}\"\npreempt = {preempt}\npreempt_delay = \"{delay}s\"\nvirtual_ips = [{}]\n{garp}",
                vips.join(", ")
            )
        })
}

proptest! {
    #[test]
    fn generated_configs_round_trip(a in arb_instance(0), b in arb_instance(1)) {
        let text = format!("{a}\n{b}");
        let c = Config::from_toml_str(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let back = Config::from_toml_str(&to_toml(&c)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, c);
    }

    #[test]
    fn random_text_never_panics(s in "\\PC{0,200}") {
        let _ = LoadedConfig::parse("fuzz.toml", &s);
    }

    #[test]
    fn random_instances_never_panic(
        key in prop::sample::select(vec!["vrid", "priority", "version", "advert_interval", "preempt_delay", "virtual_ips", "track", "unicast_peers", "auth_pass", "garp_repeat", "checksum", "notify"]),
        value in prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            "\\PC{0,12}".prop_map(|s| format!("{s:?}")),
            Just("[]".to_string()),
            Just("[1, \"a\"]".to_string()),
            Just("{ a = 1 }".to_string()),
            Just("1.5".to_string()),
            Just("true".to_string()),
        ],
    ) {
        let text = format!("{MINIMAL}{key} = {value}\n").replace("vrid = 51\n", if key == "vrid" { "" } else { "vrid = 51\n" });
        let _ = LoadedConfig::parse("fuzz.toml", &text);
    }
}

#[test]
fn addresses_in_messages_are_std_types() {
    // the typed config is plain std: IpAddr and Duration
    let c = ok(MINIMAL).config;
    let a: IpAddr = c.instances[0].virtual_ips[0].addr;
    assert_eq!(a.to_string(), "192.0.2.100");
}

#[test]
fn process_probes_count_only_our_namespace_unless_any_namespace() {
    let text = |extra: &str| {
        format!(
            "[probe.p]\nkind = \"process\"\nprocess = \"nginx\"\n{extra}\n\n[[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 1\nvirtual_ips = [\"192.0.2.100/24\"]\ntrack = [\"p\"]\n"
        )
    };
    let any = |cfg: &vrrp_config::LoadedConfig| match &cfg.config.probes["p"].kind {
        vrrp_config::ProbeKind::Process(p) => p.any_namespace,
        other => panic!("{other:?}"),
    };
    let default = vrrp_config::LoadedConfig::parse("a.toml", &text("")).unwrap();
    assert!(!any(&default));
    let set = vrrp_config::LoadedConfig::parse("b.toml", &text("any_namespace = true")).unwrap();
    assert!(any(&set));
    // Written back and read again, the setting survives.
    let again =
        vrrp_config::LoadedConfig::parse("c.toml", &vrrp_config::to_toml(&set.config)).unwrap();
    assert!(any(&again));
    let bad = vrrp_config::LoadedConfig::parse("d.toml", &text("any_namespace = 1")).unwrap_err();
    assert!(bad.to_string().contains("d.toml:4:"), "{bad}");
}

#[test]
fn instance_new_has_the_defaults_of_a_file_that_leaves_everything_out() {
    let parsed = ok(
        "[[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 51\nvirtual_ips = [\"192.0.2.100/24\"]\n",
    );
    let built =
        vrrp_config::Instance::new("VI_1", "eth0", 51, vec!["192.0.2.100/24".parse().unwrap()]);
    assert_eq!(parsed.config.instances[0], built);
}
