//! The properties the config fuzz targets check (`fuzz/fuzz_targets/config_parse.rs` and
//! `keepalived_import.rs`), as plain functions, so that the fuzzer and the corpus replay test
//! (`tests/corpus_replay.rs`) run exactly the same code on the same bytes.
//!
//! Each function takes arbitrary bytes, never panics on its own, and returns `Err` with a
//! description when a property does not hold; the fuzz targets turn that `Err` into a crash.
//!
//! ```
//! // The shipped example config passes every property.
//! let text = "[[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 51\n\
//!             virtual_ips = [\"192.0.2.100/24\"]\n";
//! vrrp_config::fuzzing::config_parse(text.as_bytes()).unwrap();
//! // So does a keepalived.conf, and garbage (which is reported, not accepted).
//! vrrp_config::fuzzing::keepalived_import(b"vrrp_instance VI_1 {\n").unwrap();
//! ```

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use crate::keepalived::{MemoryLoader, import};
use crate::{
    Diagnostic, FileStatus, InterfaceAddress, LoadedConfig, StaticHost, check_cluster, to_toml,
};

/// The name the fuzzed native config is parsed under.
const CONFIG_NAME: &str = "fuzz.toml";
/// The name of the main keepalived.conf; included files live next to it.
const KEEPALIVED_MAIN: &str = "/etc/keepalived/keepalived.conf";

/// A host with the lab's addresses on `eth0`, and one world-writable script, so that the
/// host-dependent warnings run too.
fn lab_host() -> StaticHost {
    let eth0 = vec![
        InterfaceAddress {
            addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11)),
            prefix_len: 24,
        },
        InterfaceAddress {
            addr: IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x11)),
            prefix_len: 64,
        },
    ];
    let mut files = BTreeMap::new();
    files.insert(
        PathBuf::from("/etc/vrrpd/check.sh"),
        FileStatus {
            uid: 1000,
            gid: 1000,
            mode: 0o777,
            is_dir: false,
        },
    );
    StaticHost {
        interfaces: Some(BTreeMap::from([("eth0".to_owned(), eth0)])),
        files: Some(files),
    }
}

/// A diagnostic must point into the text it was made for and print as one line.
fn check_diagnostic(d: &Diagnostic, file: &str, text: &str) -> Result<(), String> {
    let lines = text.split('\n').count();
    if d.file != file {
        return Err(format!(
            "diagnostic for file {:?}, expected {file:?}",
            d.file
        ));
    }
    if d.line == 0 || d.line > lines || d.column == 0 {
        return Err(format!(
            "diagnostic at {}:{} outside the text ({lines} lines): {d}",
            d.line, d.column
        ));
    }
    let shown = d.to_string();
    if shown.contains('\n') || d.message.is_empty() {
        return Err(format!("diagnostic is not one non-empty line: {shown:?}"));
    }
    Ok(())
}

/// Warnings (alone, with a host, and as a two-node cluster), then the write-back round trip:
/// the TOML that [`to_toml`] writes must parse again to the same config.
fn check_loaded(loaded: &LoadedConfig) -> Result<(), String> {
    let name = loaded.source.name.clone();
    let text = loaded.source.text.clone();
    for w in loaded
        .warnings(None)
        .iter()
        .chain(&loaded.warnings(Some(&lab_host())))
    {
        check_diagnostic(w, &name, &text)?;
    }
    // A second node: the same file with every priority moved, so the cross-checks compare.
    let mut other = loaded.clone();
    other.source.name = "other.toml".into();
    for inst in &mut other.config.instances {
        if inst.priority < 255 {
            inst.priority = inst.priority.saturating_sub(20).max(1);
        }
    }
    for w in check_cluster(&[loaded.clone(), other]) {
        let _ = w.to_string();
    }
    let written = to_toml(&loaded.config);
    let back = LoadedConfig::parse("written.toml", &written)
        .map_err(|e| format!("the written TOML does not parse:\n{e}\n--- written:\n{written}"))?;
    if back.config != loaded.config {
        return Err(format!(
            "the written TOML reads back differently\n--- written:\n{written}\n--- read: {:?}\n--- original: {:?}",
            back.config, loaded.config
        ));
    }
    Ok(())
}

/// Target `config_parse`: `data` (lossily UTF-8) as a native TOML config. Rejected text must
/// come with at least one diagnostic, each inside the text; accepted text must survive the
/// warnings, the cluster checks and a write/read round trip unchanged.
pub fn config_parse(data: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(data);
    match LoadedConfig::parse(CONFIG_NAME, &text) {
        Err(diagnostics) => {
            if diagnostics.0.is_empty() {
                return Err("rejected without a diagnostic".into());
            }
            for d in &diagnostics.0 {
                check_diagnostic(d, CONFIG_NAME, &text)?;
            }
            Ok(())
        }
        Ok(loaded) => check_loaded(&loaded),
    }
}

/// Splits fuzz input into the main keepalived.conf and included files: NUL bytes separate
/// them, the main file comes first, then `/etc/keepalived/conf.d/0.conf`, `1.conf`, ...
pub fn keepalived_files(data: &[u8]) -> (String, MemoryLoader) {
    let mut parts = data.split(|b| *b == 0);
    let main = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let files = parts
        .enumerate()
        .map(|(i, part)| {
            (
                format!("/etc/keepalived/conf.d/{i}.conf"),
                String::from_utf8_lossy(part).into_owned(),
            )
        })
        .collect();
    (main, MemoryLoader { files })
}

/// Target `keepalived_import`: `data` as a keepalived.conf plus included files (see
/// [`keepalived_files`]). Errors must be located; an import must list notes that point at
/// real lines, and when its TOML validates it must be the config the import returned, and pass
/// [`config_parse`]'s checks.
pub fn keepalived_import(data: &[u8]) -> Result<(), String> {
    let (main, loader) = keepalived_files(data);
    let text_of = |file: &str| -> Option<&str> {
        if file == KEEPALIVED_MAIN {
            Some(main.as_str())
        } else {
            loader.files.get(file).map(String::as_str)
        }
    };
    match import(KEEPALIVED_MAIN, &main, &loader) {
        Err(diagnostics) => {
            if diagnostics.0.is_empty() {
                return Err("rejected without a diagnostic".into());
            }
            for d in &diagnostics.0 {
                let text = text_of(&d.file)
                    .ok_or_else(|| format!("diagnostic names an unknown file: {d}"))?;
                check_diagnostic(d, &d.file, text)?;
            }
            Ok(())
        }
        Ok(imported) => {
            for note in &imported.notes {
                let text = text_of(&note.file)
                    .ok_or_else(|| format!("note names an unknown file: {note}"))?;
                if note.line == 0 || note.line > text.split('\n').count() {
                    return Err(format!("note outside its file: {note}"));
                }
                if note.to_string().contains('\n') {
                    return Err(format!("note is not one line: {note:?}"));
                }
            }
            // The TOML is what the user runs: it must be the config the import describes.
            if let Ok(loaded) = imported.validate("imported.toml") {
                if loaded.config != imported.config {
                    return Err(format!(
                        "the imported TOML is not the imported config\n--- toml:\n{}\n--- toml reads: {:?}\n--- import: {:?}",
                        imported.toml, loaded.config, imported.config
                    ));
                }
                check_loaded(&loaded)?;
            }
            Ok(())
        }
    }
}
