//! `vrrpd check-config`: exit codes, error and warning lines, cluster checks, host checks.

mod common;

use common::{Scratch, fixture, s, stderr, stdout, vrrpd};

fn node(priority: u8, weight: i32) -> String {
    format!(
        r#"[global]
router_id = "node-{priority}"

[probe.nginx]
kind = "process"
process = "nginx"
weight = {weight}

[[instance]]
name = "VI_1"
interface = "eth0"
vrid = 51
priority = {priority}
advert_interval = "100ms"
virtual_ips = ["192.0.2.100/24"]
track = ["nginx"]
"#
    )
}

#[test]
fn a_valid_file_exits_0_with_nothing_on_stderr() {
    let dir = Scratch::new();
    let f = dir.write("n.toml", &node(100, -50));
    let o = vrrpd(&["check-config", "--strict", "--no-host-checks", s(&f)]);
    assert_eq!(stderr(&o), "");
    assert_eq!(stdout(&o), "1 file checked: 0 errors, 0 warnings\n");
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn every_error_is_printed_as_file_line_col_and_exits_1() {
    let dir = Scratch::new();
    let f = dir.write(
        "bad.toml",
        "[[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 0\nversion = 2\nadvert_interval = \"100ms\"\nvirtual_ips = [\"2001:db8::1\"]\ntrack = [\"nope\"]\nauth_pas = \"x\"\n",
    );
    let o = vrrpd(&["check-config", "--no-host-checks", s(&f)]);
    assert_eq!(o.status.code(), Some(1));
    let name = s(&f);
    let expected = [
        format!("{name}:4:8: `vrid` must be 1..=255, found 0"),
        format!(
            "{name}:5:11: VRRPv2 (RFC 3768) carries IPv4 addresses only: use version = 3 for IPv6 virtual_ips"
        ),
        format!(
            "{name}:6:19: VRRPv2 advertises the interval in whole seconds (1s..=255s), so 100ms cannot be sent: use version = 3 for sub-second intervals"
        ),
        format!(
            "{name}:8:10: `track` names probe \"nope\", which is not defined (no [probe.NAME] is defined)"
        ),
        format!(
            "{name}:9:1: unknown key `auth_pas` in [[instance]] \"VI_1\" (did you mean `auth_pass`?)"
        ),
    ];
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines,
        expected.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(stdout(&o), "1 file checked: 5 errors, 0 warnings\n");
}

#[test]
fn warnings_exit_0_unless_strict() {
    let dir = Scratch::new();
    let f = dir.write("n.toml", &node(250, 10));
    let o = vrrpd(&["check-config", "--no-host-checks", s(&f)]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains(": warning: instance \"VI_1\": priority 250 plus the positive weights is 260, clamped to 254"), "{}", stderr(&o));
    let o = vrrpd(&["check-config", "--strict", "--no-host-checks", s(&f)]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn the_cluster_pair_100_80_minus_10_is_caught() {
    let dir = Scratch::new();
    let m = dir.write("master.toml", &node(100, -10));
    let b = dir.write("backup.toml", &node(80, -10));
    let o = vrrpd(&["check-config", s(&m), s(&b)]);
    assert_eq!(o.status.code(), Some(0));
    let err = stderr(&o);
    let expected = format!(
        "{}:7:10: warning: probe \"nginx\" (weight -10) cannot move instance \"VI_1\" away from {m}: when it fails here, the priority drops from 100 to 90, still above {b}'s 80, so {b} never takes over. Fix: weight must be below -20 (e.g. -21), or raise {b}'s priority to 91..=99 (lowering it makes things worse), or remove the weight so that a failure puts the instance in FAULT",
        s(&m),
        m = s(&m),
        b = s(&b)
    );
    assert_eq!(
        err.lines().collect::<Vec<_>>(),
        [expected.as_str()],
        "{err}"
    );
    assert_eq!(
        vrrpd(&["check-config", "--strict", s(&m), s(&b)])
            .status
            .code(),
        Some(1)
    );

    // with a weight that crosses the backup, the pair is clean
    let m = dir.write("master.toml", &node(100, -30));
    let b = dir.write("backup.toml", &node(80, -30));
    let o = vrrpd(&["check-config", "--strict", s(&m), s(&b)]);
    assert_eq!((o.status.code(), stderr(&o)), (Some(0), String::new()));
}

#[test]
fn host_checks_use_the_given_interfaces() {
    let dir = Scratch::new();
    let host = fixture("host-eth0.json");
    let good = dir.write("good.toml", &node(100, -50));
    let o = vrrpd(&[
        "check-config",
        "--strict",
        "--host-addresses",
        s(&host),
        s(&good),
    ]);
    assert_eq!((o.status.code(), stderr(&o)), (Some(0), String::new()));

    let outside = dir.write(
        "outside.toml",
        &node(100, -50).replace("192.0.2.100/24", "198.51.100.100/24"),
    );
    let o = vrrpd(&["check-config", "--host-addresses", s(&host), s(&outside)]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stderr(&o),
        format!(
            "{}:15:16: warning: virtual IP 198.51.100.100 is outside every subnet of eth0 (192.0.2.11/24): clients on that link cannot reach it directly\n",
            s(&outside)
        )
    );
    let missing = dir.write(
        "missing.toml",
        &node(100, -50).replace("\"eth0\"", "\"eth7\""),
    );
    let o = vrrpd(&["check-config", "--host-addresses", s(&host), s(&missing)]);
    assert!(
        stderr(&o).contains("interface \"eth7\" does not exist on this host"),
        "{}",
        stderr(&o)
    );

    // a world-writable exec probe script on this machine
    let script = dir.write("check.sh", "#!/bin/sh\nexit 0\n");
    let mut perms = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o777);
    std::fs::set_permissions(&script, perms).unwrap();
    let cfg = node(100, -50).replace("track = [\"nginx\"]", "track = [\"nginx\", \"script\"]")
        + &format!(
            "\n[probe.script]\nkind = \"exec\"\ncommand = [\"{}\"]\n",
            s(&script)
        );
    let f = dir.write("script.toml", &cfg);
    let o = vrrpd(&["check-config", "--host-addresses", s(&host), s(&f)]);
    assert!(
        stderr(&o).contains(&format!(
            "warning: script {} is writable by every user",
            s(&script)
        )),
        "{}",
        stderr(&o)
    );
}

#[test]
fn unreadable_files_and_bad_arguments() {
    let o = vrrpd(&["check-config", "/nonexistent/vrrpd.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("/nonexistent/vrrpd.toml: cannot read:"),
        "{}",
        stderr(&o)
    );
    let o = vrrpd(&["check-config"]);
    assert_eq!(o.status.code(), Some(2), "clap usage error");
    let dir = Scratch::new();
    let a = dir.write("a.toml", &node(100, -50));
    let o = vrrpd(&["check-config", "--host-addresses", s(&a), s(&a), s(&a)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("single FILE"));
}

#[test]
fn errors_in_one_file_do_not_hide_the_others() {
    let dir = Scratch::new();
    let a = dir.write("a.toml", "[[instance]]\nvrid = 1\n");
    let b = dir.write("b.toml", "[global]\nfoo = 1\n");
    let o = vrrpd(&["check-config", s(&a), s(&b)]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("{}:1:1: [[instance]] #1 has no `name`", s(&a))),
        "{err}"
    );
    assert!(
        err.contains(&format!("{}:2:1: unknown key `foo` in [global]", s(&b))),
        "{err}"
    );
}
