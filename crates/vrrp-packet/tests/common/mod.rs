//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// Decodes a hex string (whitespace ignored).
pub(crate) fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(digits.len().is_multiple_of(2), "odd number of hex digits");
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// The directory of the captured keepalived vectors.
pub(crate) fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// One captured frame, by scenario name (`v2-noauth`, ...).
pub(crate) fn vector(name: &str) -> Vec<u8> {
    let path = vectors_dir().join(format!("{name}.hex"));
    hex(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// The names of every captured vector.
pub(crate) const VECTORS: [&str; 5] = [
    "v2-noauth",
    "v2-pass",
    "v3-ipv4-50ms",
    "v3-ipv6",
    "v3-unicast",
];
