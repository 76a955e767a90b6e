//! `vrrpd decode` as an operator runs it: the built binary on frames captured from keepalived
//! 2.2.7 (crates/vrrp-packet/tests/vectors), on broken frames and on bad arguments.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn vrrpd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vrrpd"))
        .args(args)
        .output()
        .expect("run vrrpd")
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn vector(name: &str) -> String {
    let path = repo_root().join(format!("crates/vrrp-packet/tests/vectors/{name}.hex"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_string()
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn check<'a>(obj: &'a Value, name: &str) -> &'a Value {
    obj["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {obj}"))
}

const KEYS: [&str; 19] = [
    "layer",
    "family",
    "src",
    "dst",
    "ttl",
    "version",
    "type",
    "vrid",
    "priority",
    "count",
    "advert_interval_ms",
    "auth_type",
    "auth_data",
    "checksum",
    "checksum_valid",
    "checksum_mode",
    "addresses",
    "checks",
    "valid",
];

#[test]
fn json_of_every_captured_frame() {
    let names = [
        "v2-noauth",
        "v2-pass",
        "v3-ipv4-50ms",
        "v3-ipv6",
        "v3-unicast",
    ];
    let hex: Vec<String> = names.iter().map(|n| vector(n)).collect();
    let mut args = vec!["decode", "--json"];
    args.extend(hex.iter().map(String::as_str));
    let out = vrrpd(&args);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let objs = json_lines(&out);
    assert_eq!(objs.len(), names.len(), "one line per argument");
    for obj in &objs {
        for key in KEYS {
            assert!(obj.get(key).is_some(), "key {key} missing in {obj}");
        }
        assert_eq!(obj["layer"], "ethernet");
        assert_eq!(obj["type"], 1);
        assert_eq!(obj["priority"], 150);
        assert_eq!(obj["ttl"], 255);
        assert_eq!(obj["checksum_valid"], true);
        assert_eq!(obj["valid"], true);
        for c in obj["checks"].as_array().unwrap() {
            assert_eq!(c["ok"], true, "{c}");
            assert!(c["detail"].is_string());
        }
    }

    let v2 = &objs[0];
    assert_eq!(v2["family"], "ipv4");
    assert_eq!(v2["src"], "192.0.2.11");
    assert_eq!(v2["dst"], "224.0.0.18");
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["vrid"], 51);
    assert_eq!(v2["count"], 1);
    assert_eq!(v2["advert_interval_ms"], 1000);
    assert_eq!(v2["auth_type"], 0);
    assert_eq!(v2["auth_data"], "0000000000000000");
    assert_eq!(v2["checksum"], "0x8665");
    assert_eq!(v2["checksum_mode"], "message-only");
    assert_eq!(v2["addresses"], serde_json::json!(["192.0.2.100"]));

    let pass = &objs[1];
    assert_eq!(pass["vrid"], 52);
    assert_eq!(pass["auth_type"], 1);
    assert_eq!(pass["auth_data"], "3132333461626364");
    assert_eq!(pass["auth_password"], "1234abcd");
    assert_eq!(pass["checksum"], "0x99d0");
    assert_eq!(
        pass["addresses"],
        serde_json::json!(["192.0.2.100", "192.0.2.101"])
    );

    let fast = &objs[2];
    assert_eq!(fast["version"], 3);
    assert_eq!(fast["vrid"], 53);
    assert_eq!(fast["count"], 3);
    assert_eq!(fast["advert_interval_ms"], 50);
    assert_eq!(fast["auth_type"], Value::Null);
    assert_eq!(fast["auth_data"], Value::Null);
    assert_eq!(fast["checksum"], "0x4eee");
    assert_eq!(fast["checksum_mode"], "pseudo-header");
    assert_eq!(
        fast["addresses"],
        serde_json::json!(["192.0.2.100", "192.0.2.101", "192.0.2.102"])
    );

    let v6 = &objs[3];
    assert_eq!(v6["family"], "ipv6");
    assert_eq!(v6["src"], "fe80::ff:fe00:11");
    assert_eq!(v6["dst"], "ff02::12");
    assert_eq!(v6["checksum"], "0x0d96");
    assert_eq!(v6["checksum_mode"], "pseudo-header");
    assert_eq!(
        v6["addresses"],
        serde_json::json!(["2001:db8::100", "fe80::54"])
    );
    assert_eq!(check(v6, "source_link_local")["ok"], true);

    let unicast = &objs[4];
    assert_eq!(unicast["dst"], "192.0.2.12");
    assert_eq!(unicast["vrid"], 55);
    assert_eq!(unicast["checksum_mode"], "pseudo-header");
}

#[test]
fn ip_packets_and_bare_messages_are_detected() {
    let frame = vector("v2-pass");
    let ip = &frame[28..];
    let message = &frame[28 + 40..];
    let out = vrrpd(&["decode", "--json", ip, message]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let objs = json_lines(&out);
    assert_eq!(objs[0]["layer"], "ip");
    assert_eq!(objs[0]["src"], "192.0.2.11");
    assert_eq!(objs[1]["layer"], "vrrp");
    assert_eq!(objs[1]["family"], "ipv4");
    assert_eq!(objs[1]["src"], Value::Null);
    assert_eq!(objs[1]["ttl"], Value::Null);
    assert_eq!(objs[1]["vrid"], 52);
    // VRRPv2's checksum needs no IP header: still verified.
    assert_eq!(objs[1]["checksum_valid"], true);
    assert_eq!(objs[1]["valid"], true);
}

#[test]
fn a_bare_v3_message_has_an_unverifiable_checksum_but_is_not_invalid() {
    let frame = vector("v3-ipv4-50ms");
    let out = vrrpd(&["decode", "--json", &frame[68..]]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let obj = &json_lines(&out)[0];
    assert_eq!(obj["layer"], "vrrp");
    assert_eq!(obj["checksum_valid"], Value::Null);
    assert_eq!(check(obj, "checksum")["ok"], Value::Null);
    assert_eq!(obj["valid"], true);
}

#[test]
fn a_failed_check_exits_1_and_is_named() {
    // TTL 64 instead of 255 (the IPv4 header checksum then fails too) and a flipped bit in the
    // VRRP checksum.
    let mut frame = vector("v3-ipv4-50ms");
    frame.replace_range(44..46, "40");
    frame.replace_range(80..82, "4f");
    let out = vrrpd(&["decode", "--json", &frame]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let obj = &json_lines(&out)[0];
    assert_eq!(obj["valid"], false);
    assert_eq!(obj["ttl"], 64);
    assert_eq!(check(obj, "ttl")["ok"], false);
    assert!(
        check(obj, "ttl")["detail"].as_str().unwrap().contains("64"),
        "{obj}"
    );
    assert_eq!(check(obj, "ipv4_header_checksum")["ok"], false);
    assert_eq!(check(obj, "checksum")["ok"], false);
    assert_eq!(obj["checksum_valid"], false);
    assert_eq!(obj["checksum"], "0x4fee");
    assert_eq!(check(obj, "vrid")["ok"], true);

    // One bad frame among good ones still exits 1, and every argument is reported.
    let good = vector("v2-noauth");
    let out = vrrpd(&["decode", "--json", &good, &frame]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_lines(&out).len(), 2);

    let out = vrrpd(&["decode", &frame]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("FAIL  ttl"), "{text}");
    assert!(text.contains("result: INVALID"), "{text}");
    assert!(
        text.contains("discards it at ipv4_header_checksum"),
        "{text}"
    );
}

#[test]
fn readable_report() {
    let out = vrrpd(&["decode", &vector("v2-pass")]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "argument 1: Ethernet frame, 58 bytes",
        "02:00:00:00:00:11 > 01:00:5e:00:00:12",
        "192.0.2.11 > 224.0.0.18, ttl 255",
        "version 2, type 1, vrid 52, priority 150, count 2",
        "auth type 1",
        "\"1234abcd\"",
        "checksum 0x99d0 (valid, message-only)",
        "192.0.2.100, 192.0.2.101",
        "ok    checksum",
        "result: valid",
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
}

#[test]
fn bad_arguments_exit_2_and_are_named() {
    let out = vrrpd(&["decode", "21339601000186zz"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr.clone()).unwrap();
    assert!(err.contains("argument 1"), "{err}");
    assert!(err.contains("21339601000186zz"), "{err}");
    assert!(err.contains("not hex"), "{err}");

    let out = vrrpd(&["decode", "--json", &vector("v2-noauth"), "213396"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr.clone()).unwrap();
    assert!(err.contains("argument 2"), "{err}");
    assert!(err.contains("\"213396\""), "{err}");
    assert!(err.contains("too short"), "{err}");
    // The good argument is still decoded.
    assert_eq!(json_lines(&out).len(), 1);

    let out = vrrpd(&["decode", "abc"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("odd number")
    );

    // No argument at all: clap's usage error, also 2.
    let out = vrrpd(&["decode"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn readme_decode_example_decodes_a_real_keepalived_frame() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let line = readme
        .lines()
        .find(|l| l.starts_with("cargo run -q -p vrrpd -- decode "))
        .expect("the README's decode example");
    let hex = line
        .trim_start_matches("cargo run -q -p vrrpd -- decode ")
        .trim();
    // It is one of the captured frames, not a made-up one.
    let captured = [
        "v2-noauth",
        "v2-pass",
        "v3-ipv4-50ms",
        "v3-ipv6",
        "v3-unicast",
    ]
    .iter()
    .any(|n| vector(n) == hex);
    assert!(captured, "README sample is not a captured vector: {hex}");
    let out = vrrpd(&["decode", hex]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("result: valid")
    );
}
