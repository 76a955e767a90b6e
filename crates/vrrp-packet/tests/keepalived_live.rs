//! Live interop: runs `tests/vectors/capture.sh` against the installed keepalived (in private
//! network namespaces, documentation addresses only, torn down by the script) and checks that
//! the VRRP messages it sends today are byte for byte the pinned vectors, and that we accept
//! them. Needs root, keepalived, tcpdump and python3: skipped with a message when they are
//! missing, except under CI (env `CI` set), where that is a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

mod common;

use std::path::Path;
use std::process::Command;

use vrrp_packet::{Expectations, inspect};

fn missing_prerequisite() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("not root".to_string());
    }
    for tool in ["/usr/sbin/keepalived", "/usr/bin/tcpdump", "/usr/sbin/ip"] {
        if !Path::new(tool).exists() {
            return Some(format!("{tool} is not installed"));
        }
    }
    if Command::new("python3").arg("--version").output().is_err() {
        return Some("python3 is not installed".to_string());
    }
    None
}

/// The VRRP message inside a captured Ethernet + IPv4/IPv6 frame.
fn message(frame: &[u8]) -> Vec<u8> {
    let r = inspect(frame, None, &Expectations::default());
    assert!(r.is_valid(), "{:?}", r.first_failure());
    r.vrrp.unwrap().as_bytes().to_vec()
}

#[test]
fn keepalived_still_sends_the_pinned_vectors() {
    if let Some(why) = missing_prerequisite() {
        if std::env::var_os("CI").is_some() {
            panic!("live keepalived interop test cannot run under CI: {why}");
        }
        eprintln!("skipping live keepalived interop test: {why}");
        return;
    }
    let out = std::env::temp_dir().join(format!("vrrp-live-vectors-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let scenarios = ["v2-pass", "v3-ipv4-50ms"];
    let status = Command::new("bash")
        .arg(common::vectors_dir().join("capture.sh"))
        .args(scenarios)
        .env("VECTORS_OUT", &out)
        .env("CAPTURE_SECS", "5")
        .status()
        .unwrap();
    assert!(status.success(), "capture.sh failed: {status}");
    for name in scenarios {
        let live = common::hex(&std::fs::read_to_string(out.join(format!("{name}.hex"))).unwrap());
        let pinned = common::vector(name);
        assert_eq!(
            message(&live),
            message(&pinned),
            "{name}: keepalived now sends a different VRRP message"
        );
        // Ethernet and the IP addresses are the lab's; only the IPv4 identification and
        // header checksum may differ between runs.
        assert_eq!(live.len(), pinned.len(), "{name}");
        assert_eq!(live[..18], pinned[..18], "{name}");
        assert_eq!(live[20..24], pinned[20..24], "{name}");
        assert_eq!(live[26..], pinned[26..], "{name}");
    }
    std::fs::remove_dir_all(&out).unwrap();
}
