//! Least privilege: once its sockets are open, the runtime keeps only the capabilities the rest
//! of its life needs, and its scripts get none.
//!
//! What needs what, after setup:
//!
//! | work | needs |
//! |---|---|
//! | adding / removing VIPs, VMACs (netlink), the VMAC's `arp_ignore` / `arp_filter` sysctls under `/proc/sys/net` | CAP_NET_ADMIN (the kernel lets a holder of CAP_NET_ADMIN write its namespace's net sysctls as if it were root: no CAP_DAC_OVERRIDE) |
//! | sending adverts and gratuitous ARP on the sockets already open | nothing |
//! | opening raw sockets for an interface a reload adds | CAP_NET_RAW |
//! | starting exec probes and notify scripts as `script_user` when that is not the daemon's own user | CAP_SETUID and CAP_SETGID |
//! | killing such a script's process group when it outlives its timeout (the processes belong to `script_user`) | CAP_KILL |
//!
//! So [`PrivilegePlan::for_config`] keeps CAP_NET_ADMIN and CAP_NET_RAW, plus CAP_SETUID,
//! CAP_SETGID and CAP_KILL ([`Capabilities::SCRIPT_USER_SWITCH`]) if and only if a configured
//! script switches user, and
//! [`PrivilegePlan::apply`] makes that true for the process:
//!
//! 1. every other capability leaves the **bounding set** (when the process holds CAP_SETPCAP,
//!    as root does; a non-root daemon started by systemd gets its bounding set from the
//!    unit's `CapabilityBoundingSet=`), so nothing it executes can regain them, not even a
//!    setuid-root or file-capability program;
//! 2. the **ambient** and **inheritable** sets are emptied: a non-root daemon started with
//!    ambient capabilities would otherwise pass them on to every script;
//! 3. **permitted** and **effective** become exactly the kept set;
//! 4. every thread of the process is checked (capabilities belong to threads; a thread
//!    started before the drop would keep everything), and any thread that kept more is an
//!    error.
//!
//! A script that switches user loses everything at `execve` (its permitted set is recomputed
//! from the empty inheritable and ambient sets). A script configured to run as root gets at
//! most the bounding set, that is the kept capabilities.
//!
//! ```no_run
//! # fn demo(config: &vrrp_config::Config) -> Result<(), vrrp_runtime::privilege::PrivilegeError> {
//! use vrrp_runtime::privilege::{Capabilities, PrivilegePlan};
//!
//! let plan = PrivilegePlan::for_config(config)?;
//! plan.check_available()?; // before touching the network: fail early and clearly
//! // ... open sockets, create VMACs ...
//! let dropped = plan.apply()?;
//! let network = Capabilities::NET_ADMIN.union(Capabilities::NET_RAW);
//! assert_eq!(dropped.kept == network, plan.user_switch.is_none());
//! # Ok(()) }
//! ```

use std::fmt;
use std::path::Path;

use rustix::io::Errno;
use rustix::thread::{
    CapabilitySet, CapabilitySets, capabilities, capability_is_in_bounding_set,
    clear_ambient_capability_set, remove_capability_from_bounding_set, set_capabilities,
};
use vrrp_config::Config;

/// A set of Linux capabilities: bit N is capability number N, as in the `Cap*` lines of
/// `/proc/PID/status` and in `<linux/capability.h>`.
#[derive(Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Capabilities(u64);

/// Capability names by number (`<linux/capability.h>`, up to CAP_CHECKPOINT_RESTORE).
const NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

impl Capabilities {
    /// No capability.
    pub const NONE: Capabilities = Capabilities(0);
    /// CAP_KILL (5): kill a timed-out script's process group, which belongs to another user.
    pub const KILL: Capabilities = Capabilities(1 << 5);
    /// CAP_SETGID (6): set the group ids of a script.
    pub const SETGID: Capabilities = Capabilities(1 << 6);
    /// CAP_SETUID (7): set the user id of a script.
    pub const SETUID: Capabilities = Capabilities(1 << 7);
    /// What running scripts as another user takes: CAP_SETUID and CAP_SETGID to start them,
    /// CAP_KILL to kill their process group at the timeout (its processes are that user's).
    pub const SCRIPT_USER_SWITCH: Capabilities =
        Capabilities(Self::SETUID.0 | Self::SETGID.0 | Self::KILL.0);
    /// CAP_SETPCAP (8): needed to shrink the bounding set.
    pub const SETPCAP: Capabilities = Capabilities(1 << 8);
    /// CAP_NET_ADMIN (12): addresses, links, net sysctls.
    pub const NET_ADMIN: Capabilities = Capabilities(1 << 12);
    /// CAP_NET_RAW (13): raw and packet sockets.
    pub const NET_RAW: Capabilities = Capabilities(1 << 13);

    /// The set with these bits.
    pub const fn from_bits(bits: u64) -> Self {
        Capabilities(bits)
    }

    /// Its bits.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Both sets together.
    #[must_use]
    pub const fn union(self, other: Capabilities) -> Capabilities {
        Capabilities(self.0 | other.0)
    }

    /// What `self` has and `other` has not.
    #[must_use]
    pub const fn difference(self, other: Capabilities) -> Capabilities {
        Capabilities(self.0 & !other.0)
    }

    /// Whether every capability of `other` is in `self`.
    pub const fn contains(self, other: Capabilities) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Parses the hexadecimal value of a `CapEff:` (etc.) line of `/proc/PID/status`.
    pub fn from_status_hex(hex: &str) -> Option<Self> {
        u64::from_str_radix(hex.trim(), 16).ok().map(Capabilities)
    }

    fn to_rustix(self) -> CapabilitySet {
        CapabilitySet::from_bits_retain(self.0)
    }
}

impl fmt::Display for Capabilities {
    /// `CAP_NET_ADMIN CAP_NET_RAW`, or `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("none");
        }
        let mut first = true;
        for bit in 0..64 {
            if self.0 & (1 << bit) == 0 {
                continue;
            }
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            match NAMES.get(bit) {
                Some(name) => f.write_str(name)?,
                None => write!(f, "CAP_{bit}")?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Capabilities({self} = {:#x})", self.0)
    }
}

/// The capability sets of one thread, as `/proc/PID/status` (or `/proc/PID/task/TID/status`)
/// shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThreadCapabilities {
    /// `CapEff`.
    pub effective: Capabilities,
    /// `CapPrm`.
    pub permitted: Capabilities,
    /// `CapInh`.
    pub inheritable: Capabilities,
    /// `CapBnd`.
    pub bounding: Capabilities,
    /// `CapAmb`.
    pub ambient: Capabilities,
}

impl ThreadCapabilities {
    /// Parses the `Cap*` lines of a `status` file; `None` if one is missing or malformed.
    pub fn parse_status(text: &str) -> Option<Self> {
        let get = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
                .and_then(Capabilities::from_status_hex)
        };
        Some(ThreadCapabilities {
            effective: get("CapEff")?,
            permitted: get("CapPrm")?,
            inheritable: get("CapInh")?,
            bounding: get("CapBnd")?,
            ambient: get("CapAmb")?,
        })
    }

    /// Reads and parses a `status` file.
    pub fn read(status: &Path) -> Result<Self, PrivilegeError> {
        let text = std::fs::read_to_string(status).map_err(|e| PrivilegeError::Read {
            path: status.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::parse_status(&text).ok_or_else(|| PrivilegeError::Read {
            path: status.display().to_string(),
            reason: "no Cap* lines".into(),
        })
    }
}

/// Why scripts need the daemon to switch user (and so CAP_SETUID, CAP_SETGID and CAP_KILL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSwitch {
    /// `script_user`.
    pub user: String,
    /// Its uid.
    pub uid: u32,
    /// Its primary gid.
    pub gid: u32,
    /// The scripts that run as it: `probe NAME`, `instance NAME notify_master`, ...
    pub scripts: Vec<String>,
}

/// What the daemon keeps once it is set up (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivilegePlan {
    /// The capabilities kept in the permitted, effective and bounding sets.
    pub keep: Capabilities,
    /// Set when scripts run as another user than the daemon's own: then CAP_SETUID, CAP_SETGID and
    /// CAP_KILL are in [`keep`](Self::keep).
    pub user_switch: Option<UserSwitch>,
}

/// What [`PrivilegePlan::apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    /// Permitted and effective now.
    pub kept: Capabilities,
    /// What was permitted before and is gone now.
    pub dropped: Capabilities,
    /// The bounding set now.
    pub bounding: Capabilities,
    /// Whether the bounding set holds nothing beyond [`kept`](Self::kept). False when the
    /// process had neither CAP_SETPCAP nor an already small bounding set (a non-root daemon
    /// whose unit did not set `CapabilityBoundingSet=`).
    pub bounding_reduced: bool,
}

/// Why privileges could not be planned or dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrivilegeError {
    /// The process does not hold a capability the plan keeps.
    #[error(
        "vrrpd (uid {uid}) lacks {missing}, which it needs{why}; run it as root, or give it these capabilities (systemd: AmbientCapabilities=, see docs/security.md)"
    )]
    Missing {
        /// The effective uid.
        uid: u32,
        /// What is missing.
        missing: Capabilities,
        /// For what, when it is the scripts' user switch.
        why: String,
    },
    /// A reload would need capabilities the daemon dropped at start.
    #[error(
        "the new configuration needs {missing}{why}, which vrrpd dropped when it started; restart vrrpd to apply it"
    )]
    DroppedAtStart {
        /// What the new configuration needs.
        missing: Capabilities,
        /// For what.
        why: String,
    },
    /// `script_user` could not be resolved.
    #[error("script_user: {0}")]
    ScriptUser(String),
    /// A capability system call failed.
    #[error("{what}: {errno}")]
    Syscall {
        /// What was being done.
        what: String,
        /// The error.
        errno: String,
    },
    /// A status file could not be read.
    #[error("{path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A thread kept capabilities after the drop (it was started before it).
    #[error(
        "thread {tid} still holds {kept} after the drop (it was started before it): privileges must be dropped before any other thread starts"
    )]
    ThreadKept {
        /// The thread id.
        tid: String,
        /// What it kept beyond the plan.
        kept: Capabilities,
    },
}

fn syscall(what: &str, errno: Errno) -> PrivilegeError {
    PrivilegeError::Syscall {
        what: what.to_owned(),
        errno: errno.to_string(),
    }
}

/// The scripts of a config, labelled as the logs name them: exec probes, then notify
/// commands of instances and sync groups.
fn scripts(config: &Config) -> Vec<String> {
    let mut out: Vec<String> = config
        .probes
        .iter()
        .filter(|(_, p)| matches!(p.kind, vrrp_config::ProbeKind::Exec(_)))
        .map(|(name, _)| format!("probe {name}"))
        .collect();
    for inst in &config.instances {
        out.extend(
            inst.notify
                .commands()
                .map(|(key, _)| format!("instance {} {key}", inst.name)),
        );
    }
    for group in &config.sync_groups {
        out.extend(
            group
                .notify
                .commands()
                .map(|(key, _)| format!("sync_group {} {key}", group.name)),
        );
    }
    out
}

impl PrivilegePlan {
    /// The plan for `config` in this process: CAP_NET_ADMIN and CAP_NET_RAW; plus CAP_SETUID,
    /// CAP_SETGID and CAP_KILL when the config has exec probes or notify scripts and `script_user` is
    /// not the user the process runs as (scripts are started the same way the runtime starts
    /// them, so the decision is the runner's own).
    pub fn for_config(config: &Config) -> Result<Self, PrivilegeError> {
        let base = Capabilities::NET_ADMIN.union(Capabilities::NET_RAW);
        let scripts = scripts(config);
        if scripts.is_empty() {
            return Ok(PrivilegePlan {
                keep: base,
                user_switch: None,
            });
        }
        let user = &config.global.script_user;
        let probe = vrrp_health::ExecProbe {
            argv: vec!["/bin/true".into()],
            shell: false,
            user: user.clone(),
        };
        let script = vrrp_health::Script::prepare("script_user", &probe)
            .map_err(|e| PrivilegeError::ScriptUser(e.to_string()))?;
        Ok(match script.user_switch() {
            None => PrivilegePlan {
                keep: base,
                user_switch: None,
            },
            Some((uid, gid)) => PrivilegePlan {
                keep: base.union(Capabilities::SCRIPT_USER_SWITCH),
                user_switch: Some(UserSwitch {
                    user: user.clone(),
                    uid,
                    gid,
                    scripts,
                }),
            },
        })
    }

    fn switch_reason(&self) -> String {
        match &self.user_switch {
            Some(s) => format!(
                " to run {} as script_user {:?} (uid {})",
                s.scripts.join(", "),
                s.user,
                s.uid
            ),
            None => String::new(),
        }
    }

    /// Checks that this process holds (permitted) every capability the plan keeps. Call it
    /// before setting anything up, so that a missing one fails at once and names the fix.
    pub fn check_available(&self) -> Result<(), PrivilegeError> {
        let now = capabilities(None).map_err(|e| syscall("capget", e))?;
        let permitted = Capabilities(now.permitted.bits());
        let missing = self.keep.difference(permitted);
        if missing.is_empty() {
            return Ok(());
        }
        let why = if missing
            .difference(Capabilities::SCRIPT_USER_SWITCH)
            .is_empty()
        {
            format!(
                "{} (or set script_user to vrrpd's own user)",
                self.switch_reason()
            )
        } else {
            String::new()
        };
        Err(PrivilegeError::Missing {
            uid: rustix::process::geteuid().as_raw(),
            missing,
            why,
        })
    }

    /// Whether a daemon that applied `self` can run a configuration whose plan is `new` (a
    /// reload): every capability `new` keeps must still be held. A reload that adds the
    /// first script needing a user switch cannot: the daemon must be restarted.
    pub fn covers(&self, new: &PrivilegePlan) -> Result<(), PrivilegeError> {
        let missing = new.keep.difference(self.keep);
        if missing.is_empty() {
            Ok(())
        } else {
            Err(PrivilegeError::DroppedAtStart {
                missing,
                why: new.switch_reason(),
            })
        }
    }

    /// Drops every capability not in the plan, from every set (see the module documentation),
    /// and checks every thread of the process afterwards.
    pub fn apply(&self) -> Result<Dropped, PrivilegeError> {
        self.check_available()?;
        let before = capabilities(None).map_err(|e| syscall("capget", e))?;
        let effective = Capabilities(before.effective.bits());

        // 1. The bounding set: needs CAP_SETPCAP, so before it goes from the effective set.
        let mut bounding = Capabilities::NONE;
        let mut last_error = None;
        for bit in 0..64u32 {
            let cap = Capabilities(1 << bit);
            match capability_is_in_bounding_set(cap.to_rustix()) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(_) => break, // EINVAL: past the kernel's last capability
            }
            if self.keep.contains(cap) || !effective.contains(Capabilities::SETPCAP) {
                bounding = bounding.union(cap);
                continue;
            }
            if let Err(e) = remove_capability_from_bounding_set(cap.to_rustix()) {
                bounding = bounding.union(cap);
                last_error = Some(e);
            }
        }
        if let Some(e) = last_error {
            return Err(syscall("prctl(PR_CAPBSET_DROP)", e));
        }

        // 2. Ambient (EINVAL: a kernel before 4.3 has none), then 3. the other three sets.
        match clear_ambient_capability_set() {
            Ok(()) | Err(Errno::INVAL) => {}
            Err(e) => return Err(syscall("prctl(PR_CAP_AMBIENT_CLEAR_ALL)", e)),
        }
        set_capabilities(
            None,
            CapabilitySets {
                effective: self.keep.to_rustix(),
                permitted: self.keep.to_rustix(),
                inheritable: CapabilitySet::empty(),
            },
        )
        .map_err(|e| syscall("capset", e))?;

        // 4. Every thread.
        let bounding_reduced = self.keep.contains(bounding);
        verify_threads(self.keep, bounding_reduced)?;
        Ok(Dropped {
            kept: self.keep,
            dropped: Capabilities(before.permitted.bits()).difference(self.keep),
            bounding,
            bounding_reduced,
        })
    }
}

/// Checks `/proc/self/task/*/status`: no thread holds more than `keep` (nor anything
/// inheritable or ambient, nor, when it was reduced, a larger bounding set).
fn verify_threads(keep: Capabilities, bounding_reduced: bool) -> Result<(), PrivilegeError> {
    let tasks = Path::new("/proc/self/task");
    let entries = std::fs::read_dir(tasks).map_err(|e| PrivilegeError::Read {
        path: tasks.display().to_string(),
        reason: e.to_string(),
    })?;
    for entry in entries.flatten() {
        let caps = match ThreadCapabilities::read(&entry.path().join("status")) {
            Ok(c) => c,
            // The thread ended meanwhile.
            Err(_) if !entry.path().exists() => continue,
            Err(e) => return Err(e),
        };
        let mut kept = caps
            .effective
            .union(caps.permitted)
            .difference(keep)
            .union(caps.inheritable)
            .union(caps.ambient);
        if bounding_reduced {
            kept = kept.union(caps.bounding.difference(keep));
        }
        if !kept.is_empty() {
            return Err(PrivilegeError::ThreadKept {
                tid: entry.file_name().to_string_lossy().into_owned(),
                kept,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_bits() {
        let net = Capabilities::NET_ADMIN.union(Capabilities::NET_RAW);
        assert_eq!(net.bits(), 0x3000);
        assert_eq!(net.to_string(), "CAP_NET_ADMIN CAP_NET_RAW");
        assert_eq!(Capabilities::NONE.to_string(), "none");
        assert_eq!(
            Capabilities::from_bits(1 << 40).to_string(),
            "CAP_CHECKPOINT_RESTORE"
        );
        assert_eq!(Capabilities::from_bits(1 << 45).to_string(), "CAP_45");
        assert!(net.contains(Capabilities::NET_RAW));
        assert!(!Capabilities::NET_RAW.contains(net));
        assert_eq!(
            net.difference(Capabilities::NET_RAW),
            Capabilities::NET_ADMIN
        );
        // The names follow <linux/capability.h>, checked against rustix's constants.
        for (bits, name) in [
            (CapabilitySet::SETGID, "CAP_SETGID"),
            (CapabilitySet::SETUID, "CAP_SETUID"),
            (CapabilitySet::SETPCAP, "CAP_SETPCAP"),
            (CapabilitySet::NET_ADMIN, "CAP_NET_ADMIN"),
            (CapabilitySet::NET_RAW, "CAP_NET_RAW"),
            (CapabilitySet::SYS_ADMIN, "CAP_SYS_ADMIN"),
            (CapabilitySet::DAC_OVERRIDE, "CAP_DAC_OVERRIDE"),
            (CapabilitySet::CHECKPOINT_RESTORE, "CAP_CHECKPOINT_RESTORE"),
        ] {
            assert_eq!(Capabilities(bits.bits()).to_string(), name);
        }
    }

    #[test]
    fn status_lines_parse() {
        let text = "Name:\tvrrpd\nCapInh:\t0000000000000000\nCapPrm:\t00000000000030c0\n\
                    CapEff:\t00000000000030c0\nCapBnd:\t00000000000030c0\nCapAmb:\t0000000000000000\n";
        let caps = ThreadCapabilities::parse_status(text).unwrap();
        assert_eq!(caps.effective.bits(), 0x30c0);
        assert_eq!(
            caps.permitted.to_string(),
            "CAP_SETGID CAP_SETUID CAP_NET_ADMIN CAP_NET_RAW"
        );
        assert!(caps.ambient.is_empty() && caps.inheritable.is_empty());
        assert_eq!(ThreadCapabilities::parse_status("CapEff:\tzz\n"), None);
        // This very process has all five lines.
        ThreadCapabilities::read(Path::new("/proc/self/status")).unwrap();
    }

    fn config(text: &str) -> Config {
        Config::from_toml_str(text).unwrap()
    }

    const INSTANCE: &str = "[[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 1\nvirtual_ips = [\"192.0.2.1/24\"]\n";

    #[test]
    fn without_scripts_only_the_network_capabilities_are_kept() {
        let plan = PrivilegePlan::for_config(&config(INSTANCE)).unwrap();
        assert_eq!(plan.keep.to_string(), "CAP_NET_ADMIN CAP_NET_RAW");
        assert_eq!(plan.user_switch, None);
    }

    #[test]
    fn scripts_as_another_user_keep_setuid_and_setgid() {
        let me = rustix::process::geteuid().as_raw();
        let text = format!(
            "[probe.chk]\nkind = \"exec\"\ncommand = [\"/bin/true\"]\n\n{INSTANCE}track = [\"chk\"]\nnotify_master = \"/bin/true\"\n"
        );
        let plan = PrivilegePlan::for_config(&config(&text)).unwrap();
        if me == 65534 {
            assert_eq!(plan.user_switch, None, "already nobody: no switch");
            return;
        }
        assert_eq!(
            plan.keep.to_string(),
            "CAP_KILL CAP_SETGID CAP_SETUID CAP_NET_ADMIN CAP_NET_RAW"
        );
        let switch = plan.user_switch.clone().unwrap();
        assert_eq!((switch.user.as_str(), switch.uid), ("nobody", 65534));
        assert_eq!(switch.scripts, ["probe chk", "instance VI_1 notify_master"]);

        // The same scripts as the daemon's own user: no switch, nothing more kept.
        let own = std::fs::read_to_string("/etc/passwd")
            .unwrap()
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.get(2) == Some(&me.to_string().as_str())).then(|| f[0].to_owned())
            });
        if let Some(own) = own {
            let text = format!("[global]\nscript_user = \"{own}\"\n\n{text}");
            let same = PrivilegePlan::for_config(&config(&text)).unwrap();
            assert_eq!(same.keep.to_string(), "CAP_NET_ADMIN CAP_NET_RAW");
            // A daemon that dropped to `same` cannot reload into `plan`.
            let err = same.covers(&plan).unwrap_err();
            assert!(
                err.to_string().contains("CAP_KILL CAP_SETGID CAP_SETUID")
                    && err.to_string().contains("restart vrrpd"),
                "{err}"
            );
            plan.covers(&same).unwrap();
        }
    }

    #[test]
    fn an_unknown_script_user_is_an_error() {
        let text = format!(
            "[global]\nscript_user = \"no-such-user-vrrp\"\n\n{INSTANCE}notify = \"/bin/true\"\n"
        );
        let err = PrivilegePlan::for_config(&config(&text)).unwrap_err();
        assert!(err.to_string().contains("no-such-user-vrrp"), "{err}");
        // Without scripts the user does not matter.
        let text = format!("[global]\nscript_user = \"no-such-user-vrrp\"\n\n{INSTANCE}");
        PrivilegePlan::for_config(&config(&text)).unwrap();
    }

    #[test]
    fn a_capability_the_process_lacks_is_refused_before_anything_happens() {
        // Bit 63 is no capability: no process holds it.
        let plan = PrivilegePlan {
            keep: Capabilities::from_bits(1 << 63).union(Capabilities::NET_RAW),
            user_switch: None,
        };
        match plan.check_available() {
            Err(PrivilegeError::Missing { missing, why, .. }) => {
                assert_eq!(missing, Capabilities::from_bits(1 << 63));
                assert_eq!(why, "");
            }
            other => panic!("{other:?}"),
        }
        let err = PrivilegeError::Missing {
            uid: 1000,
            missing: Capabilities::SCRIPT_USER_SWITCH,
            why: " to run probe chk as script_user \"nobody\" (uid 65534) (or set script_user to vrrpd's own user)".into(),
        };
        let text = err.to_string();
        assert!(
            text.contains("lacks CAP_KILL CAP_SETGID CAP_SETUID, which it needs to run probe chk"),
            "{text}"
        );
        assert!(text.contains("AmbientCapabilities="), "{text}");
    }
}
