//! `vrrpd import-keepalived`: the article's keepalived pair converts with zero edits to
//! configs that pass `check-config` and elect the same way.

mod common;

use std::time::Duration;

use common::{Scratch, keepalived_fixture, s, stderr, stdout, vrrpd};
use vrrp_config::LoadedConfig;

/// The election parameters keepalived uses for the fixtures (read from them by hand:
/// keepalived's default version is 2 and it preempts by default).
struct Keepalived {
    vrid: u8,
    priority: u8,
    preempt: bool,
    version: u8,
    advert_interval: Duration,
    vips: &'static [&'static str],
    auth_pass: &'static str,
}

const MASTER: Keepalived = Keepalived {
    vrid: 51,
    priority: 100,
    preempt: true,
    version: 2,
    advert_interval: Duration::from_secs(1),
    vips: &["192.0.2.100/24"],
    auth_pass: "1234abcd",
};
const BACKUP: Keepalived = Keepalived {
    priority: 80,
    ..MASTER
};

#[test]
fn the_article_pair_converts_passes_check_config_and_elects_the_same_way() {
    let dir = Scratch::new();
    let mut converted = Vec::new();
    for (file, expected) in [("nginx-master.conf", MASTER), ("nginx-backup.conf", BACKUP)] {
        let input = keepalived_fixture(file);
        let o = vrrpd(&["import-keepalived", s(&input)]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        // stderr: every directive not carried over, with FILE:LINE and why; here only `state`
        let err = stderr(&o);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "{err}");
        assert!(
            lines[0].starts_with(&format!("{}:23: `state ", s(&input))),
            "{err}"
        );
        assert!(lines[0].contains("only the initial state"), "{err}");

        let toml = stdout(&o);
        let out = dir.write(&file.replace(".conf", ".toml"), &toml);
        let loaded =
            LoadedConfig::parse("converted", &toml).unwrap_or_else(|e| panic!("{e}\n{toml}"));
        let vi = &loaded.config.instances[0];
        assert_eq!(vi.vrid, expected.vrid);
        assert_eq!(vi.priority, expected.priority);
        assert_eq!(vi.preempt, expected.preempt);
        assert_eq!(vi.version.number(), expected.version);
        assert_eq!(vi.advert_interval, expected.advert_interval);
        let vips: Vec<String> = vi.virtual_ips.iter().map(ToString::to_string).collect();
        assert_eq!(vips, expected.vips);
        assert_eq!(vi.auth_pass.as_deref(), Some(expected.auth_pass));

        // each converted file passes check-config on its own, even with --strict
        let o = vrrpd(&["check-config", "--strict", "--no-host-checks", s(&out)]);
        assert_eq!(
            (o.status.code(), stderr(&o)),
            (Some(0), String::new()),
            "{}",
            s(&out)
        );
        converted.push(out);
    }

    // together: valid (exit 0), but the weight that cannot move the VIP is reported
    let (m, b) = (s(&converted[0]), s(&converted[1]));
    let o = vrrpd(&["check-config", m, b]);
    assert_eq!(o.status.code(), Some(0));
    let err = stderr(&o);
    assert!(err.contains(&format!("{m}:")), "{err}");
    assert!(
        err.contains("warning: probe \"check_nginx\" (weight -10) cannot move instance \"VI_1\""),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "the priority drops from 100 to 90, still above {b}'s 80"
        )),
        "{err}"
    );
    assert!(err.contains("weight must be below -20"), "{err}");
    assert_eq!(
        vrrpd(&["check-config", "--strict", m, b]).status.code(),
        Some(1)
    );
}

#[test]
fn syntax_errors_exit_1_with_positions() {
    let dir = Scratch::new();
    let f = dir.write("k.conf", "vrrp_instance VI_1 {\n    interface eth0\n");
    let o = vrrpd(&["import-keepalived", s(&f)]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        format!("{}:1:20: this `{{` is never closed\n", s(&f))
    );
    assert_eq!(stdout(&o), "");
}

#[test]
fn a_config_keepalived_accepts_but_vrrpd_cannot_run_is_flagged() {
    let dir = Scratch::new();
    // VRRPv2 cannot carry a 0.5 s interval
    let f = dir.write(
        "k.conf",
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 5\n advert_int 0.5\n virtual_ipaddress {\n  192.0.2.5/24\n }\n}\n",
    );
    let o = vrrpd(&["import-keepalived", s(&f)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("advert_interval = \"500ms\""));
    assert!(
        stderr(&o).contains("VRRPv2 advertises the interval in whole seconds"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_missing_file_is_an_error() {
    let o = vrrpd(&["import-keepalived", "/nonexistent/keepalived.conf"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("/nonexistent/keepalived.conf: cannot read"),
        "{}",
        stderr(&o)
    );
}
