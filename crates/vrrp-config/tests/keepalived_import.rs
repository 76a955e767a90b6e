//! keepalived.conf import: the article's master and backup configs, and the directives around them.

use std::path::PathBuf;
use std::time::Duration;

use vrrp_config::keepalived::{MemoryLoader, import, import_file};
use vrrp_config::{LoadedConfig, ProbeKind, check_cluster};
use vrrp_packet::Version;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keepalived")
        .join(name)
}

#[test]
fn print_master() {
    let imp = import_file(fixture("nginx-master.conf")).unwrap();
    println!("{}", imp.toml);
    for n in &imp.notes {
        eprintln!("{n}");
    }
}
