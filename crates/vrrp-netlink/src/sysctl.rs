//! Interface sysctls (`/proc/sys/net/...`) and the ARP settings a VMAC needs.
//!
//! `/proc/sys/net` shows the network namespace of the *calling thread* when a file is
//! opened, and an open file keeps referring to that namespace. So the ARP guard keeps the
//! parent's files open and restores through them, whichever thread drops it.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use crate::error::{NetlinkError, Result};
use crate::rtnl::validate_name;

const PROC_SYS: &str = "/proc/sys";

fn sysctl_err(path: &Path) -> impl FnOnce(std::io::Error) -> NetlinkError + '_ {
    move |source| NetlinkError::Sysctl {
        path: path.to_owned(),
        source,
    }
}

/// Reads `/proc/sys/<key>` (e.g. `net/ipv4/conf/eth0/arp_ignore`), trimmed, in the calling
/// thread's network namespace.
pub fn read_sysctl(key: &str) -> Result<String> {
    let path = Path::new(PROC_SYS).join(key);
    std::fs::read_to_string(&path)
        .map(|s| s.trim().to_owned())
        .map_err(sysctl_err(&path))
}

/// Writes `/proc/sys/<key>` in the calling thread's network namespace.
pub fn write_sysctl(key: &str, value: &str) -> Result<()> {
    let path = Path::new(PROC_SYS).join(key);
    std::fs::write(&path, value).map_err(sysctl_err(&path))
}

/// Whether IPv6 forwarding is on for interface `ifname` (`net/ipv6/conf/<if>/forwarding`):
/// keepalived sets the Router flag of its unsolicited NAs from it. One reading of an
/// [`Ipv6Forwarding`] opened for the purpose.
pub fn ipv6_forwarding(ifname: &str) -> Result<bool> {
    Ipv6Forwarding::open(ifname)?.read()
}

/// An interface's `net/ipv6/conf/<if>/forwarding`, opened once and read afresh at every
/// [`read`](Self::read): one `pread` instead of a path walk through `/proc` (on the takeover's
/// path, before its first unsolicited NA). The file stays in the network namespace it was
/// opened in; once the interface is gone, reads fail.
#[derive(Debug)]
pub struct Ipv6Forwarding {
    file: File,
    path: PathBuf,
}

impl Ipv6Forwarding {
    /// Opens the file for interface `ifname` in the calling thread's network namespace.
    pub fn open(ifname: &str) -> Result<Self> {
        validate_name(ifname)?;
        let path = Path::new(PROC_SYS).join(format!("net/ipv6/conf/{ifname}/forwarding"));
        let file = File::open(&path).map_err(sysctl_err(&path))?;
        Ok(Self { file, path })
    }

    /// Whether forwarding is on now (the kernel writes the value anew for every read).
    pub fn read(&self) -> Result<bool> {
        Ok(read_at_start(&self.file, &self.path)? != "0")
    }
}

fn read_at_start(file: &File, path: &Path) -> Result<String> {
    let mut buf = [0u8; 64];
    let n = file.read_at(&mut buf, 0).map_err(sysctl_err(path))?;
    Ok(String::from_utf8_lossy(&buf[..n]).trim().to_owned())
}

fn write_at_start(file: &File, path: &Path, value: &str) -> Result<()> {
    file.write_at(value.as_bytes(), 0)
        .map(drop)
        .map_err(sysctl_err(path))
}

/// A parent-interface sysctl we changed, shared by every guard on that interface.
struct Changed {
    file: File,
    path: PathBuf,
    original: String,
    users: usize,
}

/// Key: (network namespace inode, sysctl path).
type Registry = BTreeMap<(u64, PathBuf), Changed>;

fn registry() -> MutexGuard<'static, Registry> {
    static REGISTRY: Mutex<Registry> = Mutex::new(BTreeMap::new());
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn current_netns() -> Result<u64> {
    let path = Path::new("/proc/thread-self/ns/net");
    std::fs::metadata(path)
        .map(|m| m.ino())
        .map_err(sysctl_err(path))
}

/// Keeps the parent interface's ARP settings changed for a VMAC; restores them when the last
/// guard for that interface (in that namespace) goes.
#[derive(Debug)]
#[must_use = "the parent's ARP settings are restored when this guard is dropped"]
pub struct ArpFluxGuard {
    keys: Vec<(u64, PathBuf)>,
}

/// Sets the sysctls that stop ARP flux with a VMAC, as keepalived does:
///
/// - on the parent: `arp_ignore = 1` (answer only for addresses on the interface the
///   request came in on: the VIP lives on the VMAC, so the parent stays silent for it),
///   `arp_filter = 1`, and `arp_announce = 2` (the parent's own ARP requests carry its own
///   address, never the VIP: a request "who has X, tell VIP" from the parent's MAC would
///   repoint the asker's entry for the VIP away from the VMAC); all restored by the guard;
/// - on the VMAC: `arp_ignore = 1`, `accept_local = 1` (hear the other routers' adverts from
///   the same MAC) and `rp_filter = 0` (receive while it has no address); not restored, the
///   VMAC is deleted on exit.
///
/// Runs in the calling thread's network namespace. Several guards on one parent share one
/// saved copy of the original values (restored when the last one goes).
pub fn prevent_arp_flux(parent: &str, vmac: &str) -> Result<ArpFluxGuard> {
    validate_name(parent)?;
    validate_name(vmac)?;
    for (knob, value) in [
        ("arp_ignore", "1"),
        ("accept_local", "1"),
        ("rp_filter", "0"),
    ] {
        write_sysctl(&format!("net/ipv4/conf/{vmac}/{knob}"), value)?;
    }
    let netns = current_netns()?;
    let mut guard = ArpFluxGuard { keys: Vec::new() };
    for (knob, value) in [
        ("arp_ignore", "1"),
        ("arp_filter", "1"),
        ("arp_announce", "2"),
    ] {
        let path = Path::new(PROC_SYS).join(format!("net/ipv4/conf/{parent}/{knob}"));
        let key = (netns, path.clone());
        let mut registry = registry();
        if let Some(changed) = registry.get_mut(&key) {
            changed.users += 1;
        } else {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(sysctl_err(&path))?;
            let original = read_at_start(&file, &path)?;
            if original != value {
                write_at_start(&file, &path, value)?;
            }
            registry.insert(
                key.clone(),
                Changed {
                    file,
                    path,
                    original,
                    users: 1,
                },
            );
        }
        // Dropping `guard` on an error below releases what was taken so far.
        guard.keys.push(key);
    }
    Ok(guard)
}

impl ArpFluxGuard {
    /// Restores now (if this is the last guard on the interface) and reports errors.
    pub fn restore(mut self) -> Result<()> {
        self.release()
    }

    fn release(&mut self) -> Result<()> {
        let mut first_error = None;
        let mut registry = registry();
        for key in self.keys.drain(..).rev() {
            let Some(changed) = registry.get_mut(&key) else {
                continue;
            };
            changed.users -= 1;
            if changed.users == 0
                && let Some(changed) = registry.remove(&key)
                && let Err(e) = write_at_start(&changed.file, &changed.path, &changed.original)
            {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

impl Drop for ArpFluxGuard {
    fn drop(&mut self) {
        if let Err(e) = self.release() {
            tracing::warn!(error = %e, "cannot restore the parent interface's ARP settings");
        }
    }
}
