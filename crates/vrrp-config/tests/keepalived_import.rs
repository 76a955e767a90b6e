//! keepalived.conf import: the article's master and backup configs, and the directives around
//! them.

// Test helpers panic on purpose: a panic is a failed assertion.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use proptest::prelude::*;
use vrrp_config::keepalived::{Import, MemoryLoader, import, import_file};
use vrrp_config::{LoadedConfig, ProbeKind, ProbeState, ProcessMatch, check_cluster};
use vrrp_packet::Version;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keepalived")
        .join(name)
}

fn imp(text: &str) -> Import {
    import(
        "/etc/keepalived/keepalived.conf",
        text,
        &MemoryLoader::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn notes(i: &Import) -> Vec<String> {
    i.notes.iter().map(ToString::to_string).collect()
}

fn has_note(i: &Import, needle: &str) {
    assert!(
        i.notes.iter().any(|n| n.to_string().contains(needle)),
        "no note containing {needle:?} in:\n{}",
        notes(i).join("\n")
    );
}

#[test]
fn the_article_pair_converts_without_edits_and_elects_the_same_way() {
    let master = import_file(fixture("nginx-master.conf")).unwrap();
    let backup = import_file(fixture("nginx-backup.conf")).unwrap();

    // only `state` is not carried over; everything that decides the election is
    for (i, file) in [
        (&master, "nginx-master.conf"),
        (&backup, "nginx-backup.conf"),
    ] {
        assert_eq!(i.notes.len(), 1, "{:#?}", notes(i));
        assert!(i.notes[0].file.ends_with(file));
        assert_eq!(i.notes[0].line, 23);
        assert!(i.notes[0].directive.starts_with("state "));
    }

    let m = master
        .validate("master.toml")
        .unwrap_or_else(|e| panic!("{e}\n{}", master.toml));
    let b = backup
        .validate("backup.toml")
        .unwrap_or_else(|e| panic!("{e}\n{}", backup.toml));
    for (loaded, priority) in [(&m, 100), (&b, 80)] {
        let c = &loaded.config;
        let vi = c.instance("VI_1").unwrap();
        assert_eq!(vi.interface, "eth0");
        assert_eq!(vi.vrid, 51);
        assert_eq!(vi.priority, priority);
        assert!(vi.preempt, "keepalived preempts by default");
        assert_eq!(vi.preempt_delay, Duration::ZERO);
        // keepalived's default vrrp_version is 2, and PASS auth only exists in v2
        assert_eq!(vi.version, Version::V2);
        assert_eq!(vi.advert_interval, Duration::from_secs(1));
        assert_eq!(vi.virtual_ips.len(), 1);
        assert_eq!(vi.virtual_ips[0].to_string(), "192.0.2.100/24");
        assert_eq!(vi.auth_pass.as_deref(), Some("1234abcd"));
        assert!(vi.accept, "keepalived's default accept mode");
        assert_eq!(vi.garp_interval, Duration::from_secs(1));
        assert_eq!(vi.track, ["check_nginx"]);
        assert_eq!(c.global.router_id.as_deref(), Some("nginx_ha"));
        assert_eq!(
            vi.notify.master.as_ref().unwrap().argv,
            ["/etc/keepalived/notify.sh", "master"]
        );
        assert_eq!(
            vi.notify.fault.as_ref().unwrap().argv,
            ["/etc/keepalived/notify.sh", "fault"]
        );
        let probe = &c.probes["check_nginx"];
        let ProbeKind::Exec(e) = &probe.kind else {
            panic!()
        };
        assert_eq!(e.argv, ["/etc/keepalived/check_nginx.sh"]);
        assert_eq!(
            (probe.interval, probe.fall, probe.rise, probe.weight),
            (Duration::from_secs(2), 2, 1, Some(-10))
        );
        // each node alone is clean
        let w = loaded.warnings(None);
        assert!(w.is_empty(), "{w:#?}");
    }
    // the comment suggests the native probes that replace the script
    assert!(
        master
            .toml
            .contains("#   kind = \"process\"\n#   process = \"nginx\""),
        "{}",
        master.toml
    );
    assert!(master.toml.contains("#   kind = \"http\""));

    // together, the weight that cannot move the VIP is found
    let w = check_cluster(&[m, b]);
    assert!(
        w.iter().any(|d| d.file == "master.toml"
            && d.message
                .contains("probe \"check_nginx\" (weight -10) cannot move instance \"VI_1\"")
            && d.message
                .contains("from 100 to 90, still above backup.toml's 80")
            && d.message.contains("weight must be below -20")),
        "{w:#?}"
    );
}

const RICH: &str = r#"
global_defs {
    router_id lb-1
    script_user keepalived_script
    enable_script_security
    vrrp_version 3
    vrrp_garp_master_repeat 2
    notification_email { ops@example.com }
}
include conf.d/*.conf
vrrp_script chk_haproxy {
    script "killall -0 haproxy"
    interval 0.5
    timeout 1
    weight 20
    init_fail
    user nobody
}
vrrp_script chk_port {
    script "</dev/tcp/127.0.0.1/443"
    interval 1
}
vrrp_script unused { script /bin/true }
vrrp_instance VI_1 {
    state MASTER
    nopreempt
    interface eth1
    virtual_router_id 7
    priority 150
    advert_int 0.1
    unicast_src_ip 192.0.2.11
    unicast_peer {
        192.0.2.12
        192.0.2.13 min_ttl 250
    }
    virtual_ipaddress {
        192.0.2.50/24 dev eth1 label eth1:vip
        192.0.2.51 dev eth2
        2001:db8::50/64
    }
    virtual_ipaddress_excluded {
        192.0.2.99
    }
    track_script {
        chk_haproxy weight 30
        chk_port
    }
    track_interface {
        eth2 weight -20
        eth3
    }
    authentication {
        auth_type PASS
        auth_pass toolongpassword
    }
    notify "/usr/local/bin/notify.sh" root
    smtp_alert
}
vrrp_instance VI_6 {
    interface eth1
    virtual_router_id 7
    priority 150
    virtual_ipaddress {
        2001:db8::60/64
    }
}
vrrp_sync_group G1 {
    group {
        VI_1
        VI_6
    }
    notify_master "/usr/local/bin/group.sh master"
}
virtual_server 192.0.2.50 80 {
    delay_loop 6
}
"#;

fn rich() -> Import {
    let mut loader = MemoryLoader::default();
    loader.files.insert(
        "/etc/keepalived/conf.d/extra.conf".into(),
        "track_file prio_file {\n    file /run/prio\n    weight 2\n}\nvrrp_track_process nginx_proc {\n    process nginx\n    quorum 2\n    weight -30\n}\n".into(),
    );
    import("/etc/keepalived/keepalived.conf", RICH, &loader).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_richer_config_maps_every_supported_directive() {
    let i = rich();
    let c = &i.config;
    assert_eq!(c.global.router_id.as_deref(), Some("lb-1"));
    assert_eq!(c.global.script_user, "keepalived_script");

    let vi = c.instance("VI_1").unwrap();
    assert_eq!(
        (vi.interface.as_str(), vi.vrid, vi.priority),
        ("eth1", 7, 150)
    );
    assert_eq!(vi.version, Version::V3, "vrrp_version 3 in global_defs");
    assert_eq!(vi.advert_interval, Duration::from_millis(100));
    assert!(vi.preempt, "nopreempt is ignored with state MASTER");
    has_note(
        &i,
        "keepalived ignores nopreempt when the initial state is MASTER",
    );
    assert_eq!(vi.unicast_src, Some("192.0.2.11".parse().unwrap()));
    assert_eq!(vi.unicast_peers.len(), 2);
    assert!(!vi.ttl_check);
    let vips: Vec<String> = vi.virtual_ips.iter().map(ToString::to_string).collect();
    assert_eq!(vips, ["192.0.2.50/24", "192.0.2.51/32"]);
    has_note(
        &i,
        "keepalived.conf:37: `192.0.2.50/24 dev eth1 label eth1:vip`: address carried over without `label eth1:vip`",
    );
    has_note(
        &i,
        "`dev eth2` (vrrpd adds virtual IPs to the instance's interface, eth1)",
    );
    has_note(
        &i,
        ":39: `2001:db8::50/64`: not carried over: every address of a keepalived instance must have the family",
    );
    has_note(&i, "`virtual_ipaddress_excluded { ... }`: not carried over");
    has_note(
        &i,
        "`192.0.2.13 min_ttl 250`: min_ttl / max_ttl not carried over",
    );
    assert_eq!(vi.auth_pass, None);
    has_note(&i, "VRRPv3 has no authentication");
    assert_eq!(vi.garp_repeat, 2);
    assert_eq!(
        vi.notify.any.as_ref().unwrap().argv,
        ["/usr/local/bin/notify.sh"]
    );
    has_note(&i, "runs as user \"root\" in keepalived");
    has_note(&i, "`smtp_alert`: not carried over: vrrpd sends no e-mail");

    // track_script with a weight of its own becomes a probe of its own
    assert!(
        vi.track.contains(&"chk_haproxy_weight_30".to_string()),
        "{:?}",
        vi.track
    );
    let hap = &c.probes["chk_haproxy_weight_30"];
    assert_eq!(hap.weight, Some(30));
    assert_eq!(
        (hap.interval, hap.timeout, hap.initial),
        (
            Duration::from_millis(500),
            Duration::from_secs(1),
            ProbeState::Failed
        )
    );
    let ProbeKind::Exec(e) = &hap.kind else {
        panic!()
    };
    assert_eq!(e.argv, ["killall", "-0", "haproxy"]);
    assert!(i.toml.contains("#   process = \"haproxy\""), "{}", i.toml);
    // shell syntax is kept working through sh -c, and the tcp probe is suggested
    let ProbeKind::Exec(e) = &c.probes["chk_port"].kind else {
        panic!()
    };
    assert!(e.shell);
    assert!(
        i.toml
            .contains("#   kind = \"tcp\"\n#   host = \"127.0.0.1\"\n#   port = 443"),
        "{}",
        i.toml
    );
    // interfaces become interface probes
    assert_eq!(c.probes["link_eth2_weight_minus_20"].weight, Some(-20));
    assert!(
        matches!(&c.probes["link_eth3"].kind, ProbeKind::Interface(p) if p.interface == "eth3")
    );
    assert_eq!(c.probes["link_eth3"].weight, None);
    // unused scripts are reported, not converted
    assert!(!c.probes.contains_key("unused"));
    has_note(
        &i,
        "`vrrp_script unused`: not carried over: no instance tracks it",
    );
    // included definitions are known (and reported when unused)
    has_note(
        &i,
        "conf.d/extra.conf:1: `track_file prio_file`: not carried over: no instance tracks it",
    );

    let v6 = c.instance("VI_6").unwrap();
    assert_eq!(v6.version, Version::V3);
    assert_eq!(c.sync_groups[0].instances, ["VI_1", "VI_6"]);
    assert_eq!(
        c.sync_groups[0].notify.master.as_ref().unwrap().argv,
        ["/usr/local/bin/group.sh", "master"]
    );
    has_note(
        &i,
        "`virtual_server 192.0.2.50 80 { ... }`: not carried over: LVS/IPVS",
    );
    has_note(&i, "`notification_email { ... }`: not carried over");

    // the result is a valid vrrpd config
    let loaded = i
        .validate("rich.toml")
        .unwrap_or_else(|e| panic!("{e}\n{}", i.toml));
    assert_eq!(loaded.config, i.config);
}

#[test]
fn included_track_definitions_are_used() {
    let mut loader = MemoryLoader::default();
    loader.files.insert(
        "/etc/keepalived/conf.d/extra.conf".into(),
        "track_file prio_file {\n    file /run/prio\n    weight 2\n}\nvrrp_track_process nginx_proc {\n    process nginx\n    quorum 2\n    weight -30\n}\n".into(),
    );
    let text = "include conf.d/extra.conf\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1/24\n }\n track_file {\n  prio_file\n }\n track_process {\n  nginx_proc\n }\n}\n";
    let i = import("/etc/keepalived/keepalived.conf", text, &loader).unwrap();
    let c = &i.config;
    let ProbeKind::Process(p) = &c.probes["nginx_proc"].kind else {
        panic!()
    };
    assert_eq!(
        (p.matcher.clone(), p.min_count),
        (ProcessMatch::Name("nginx".into()), 2)
    );
    assert_eq!(c.probes["nginx_proc"].weight, Some(-30));
    assert!(matches!(&c.probes["prio_file"].kind, ProbeKind::File(_)));
    assert_eq!(c.instances[0].track, ["prio_file", "nginx_proc"]);
    i.validate("x.toml").unwrap();
}

#[test]
fn keepalived_rules_that_change_values() {
    // nopreempt on a BACKUP is kept; preempt_delay with it is dropped
    let i = imp(
        "vrrp_instance V {\n state BACKUP\n nopreempt\n preempt_delay 30\n interface eth0\n virtual_router_id 9\n priority 90\n virtual_ipaddress {\n  192.0.2.9/24\n }\n}\n",
    );
    let vi = &i.config.instances[0];
    assert!(!vi.preempt);
    assert_eq!(vi.preempt_delay, Duration::ZERO);
    has_note(&i, "preempt_delay has no meaning with nopreempt");
    i.validate("x.toml").unwrap();

    // v2 password longer than 8: keepalived uses 8
    let i = imp(
        "vrrp_instance V {\n interface eth0\n virtual_router_id 9\n authentication {\n  auth_type PASS\n  auth_pass 123456789\n }\n virtual_ipaddress {\n  192.0.2.9/24\n }\n}\n",
    );
    assert_eq!(i.config.instances[0].auth_pass.as_deref(), Some("12345678"));
    has_note(&i, "carried over as \"12345678\"");

    // IPv6 instances are VRRPv3 in keepalived whatever the default
    let i = imp(
        "vrrp_instance V {\n interface eth0\n virtual_router_id 9\n virtual_ipaddress {\n  2001:db8::9/64\n }\n}\n",
    );
    assert_eq!(i.config.instances[0].version, Version::V3);

    // vrrp_strict turns accept off
    let i = imp(
        "global_defs {\n vrrp_strict\n}\nvrrp_instance V {\n interface eth0\n virtual_router_id 9\n virtual_ipaddress {\n  192.0.2.9/24\n }\n}\n",
    );
    assert!(!i.config.instances[0].accept);

    // owner: nopreempt ignored
    let i = imp(
        "vrrp_instance V {\n state BACKUP\n nopreempt\n interface eth0\n virtual_router_id 9\n priority 255\n virtual_ipaddress {\n  192.0.2.9/24\n }\n}\n",
    );
    assert!(i.config.instances[0].preempt);
    has_note(&i, "keepalived ignores nopreempt for an address owner");
}

#[test]
fn errors_have_file_line_and_column() {
    let e = import(
        "k.conf",
        "vrrp_instance V {\n interface eth0\n",
        &MemoryLoader::default(),
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "k.conf:1:17: this `{` is never closed");
    let e = import(
        "k.conf",
        "vrrp_instance V {\n interface eth0\n virtual_router_id 300\n priority high\n virtual_ipaddress {\n  192.0.2.9/24\n }\n track_script {\n  nothere\n }\n}\n",
        &MemoryLoader::default(),
    )
    .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("k.conf:3:20: `virtual_router_id` must be 1..=255, found \"300\""),
        "{text}"
    );
    assert!(
        text.contains("k.conf:4:11: `priority` must be 1..=255, found \"high\""),
        "{text}"
    );
    assert!(
        text.contains(
            "k.conf:9:3: `track_script` names vrrp_script \"nothere\", which is not defined"
        ),
        "{text}"
    );
    let e = import(
        "k.conf",
        "vrrp_instance V {\n virtual_router_id 3\n}\n",
        &MemoryLoader::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("has no `interface`"));
}

#[test]
fn missing_includes_are_reported_not_fatal() {
    let i = imp(
        "include /nowhere/*.conf\nvrrp_instance V {\n interface eth0\n virtual_router_id 9\n virtual_ipaddress {\n  192.0.2.9/24\n }\n}\n",
    );
    has_note(
        &i,
        "keepalived.conf:1: `include /nowhere/*.conf`: no file matches this pattern",
    );
}

#[test]
fn includes_on_disk_are_relative_to_the_including_file() {
    let dir = std::env::temp_dir().join(format!("vrrp-config-import-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("conf.d")).unwrap();
    std::fs::write(dir.join("keepalived.conf"), "include conf.d/*.conf\n").unwrap();
    std::fs::write(
        dir.join("conf.d/vi1.conf"),
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1/24\n }\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("conf.d/vi2.conf"),
        "vrrp_instance VI_2 {\n interface eth0\n virtual_router_id 2\n virtual_ipaddress {\n  192.0.2.2/24\n }\n}\n",
    )
    .unwrap();
    let i = import_file(dir.join("keepalived.conf"));
    let _ = std::fs::remove_dir_all(&dir);
    let i = i.unwrap();
    let names: Vec<&str> = i.config.instances.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["VI_1", "VI_2"]);
}

#[test]
fn the_converted_toml_parses_to_the_same_config() {
    for f in ["nginx-master.conf", "nginx-backup.conf"] {
        let i = import_file(fixture(f)).unwrap();
        assert_eq!(LoadedConfig::parse("x", &i.toml).unwrap().config, i.config);
    }
}

proptest! {
    #[test]
    fn random_text_never_panics(s in "\\PC{0,300}") {
        let _ = import("fuzz.conf", &s, &MemoryLoader::default());
    }

    #[test]
    fn random_keepalived_shapes_never_panic(
        words in prop::collection::vec(prop::sample::select(vec![
            "vrrp_instance", "V", "{", "}", "\n", "interface", "eth0", "virtual_router_id", "1", "300",
            "priority", "virtual_ipaddress", "192.0.2.1/24", "2001:db8::1", "track_script", "chk",
            "vrrp_script", "script", "\"/bin/x a\"", "weight", "-10", "reverse", "nopreempt", "state",
            "MASTER", "authentication", "auth_pass", "include", "x.conf", "vrrp_sync_group", "group",
            "notify", "'", "#", "dev", "advert_int", "0.5", "unicast_peer",
        ]), 0..80),
    ) {
        let text = words.join(" ");
        if let Ok(i) = import("fuzz.conf", &text, &MemoryLoader::default()) {
            // whatever converts must be TOML we can read back (valid or not)
            let _ = LoadedConfig::parse("fuzz.toml", &i.toml);
        }
    }
}

#[test]
fn notes_and_warnings_print_on_one_line_whatever_the_config_quotes() {
    // Found by the keepalived_import fuzz target: a quoted string that spans lines made a
    // note (what `vrrpd import-keepalived` prints on stderr) run over several lines, and a
    // script path with a newline did the same to a check-config warning.
    let i = imp(
        "vrrp_instance V {\n interface eth0\n virtual_router_id 9\n frobnicate \"a\nfake.conf:1: `x`: y\"\n virtual_ipaddress {\n  192.0.2.9/24\n }\n}\n",
    );
    let note = i
        .notes
        .iter()
        .find(|n| n.directive.starts_with("frobnicate"))
        .unwrap_or_else(|| panic!("{:#?}", notes(&i)));
    assert!(
        note.directive.contains('\n'),
        "the directive keeps its text"
    );
    let shown = note.to_string();
    assert!(!shown.contains('\n'), "{shown}");
    assert!(
        shown.contains("`frobnicate a\\nfake.conf:1: `x`: y`"),
        "{shown}"
    );
}
