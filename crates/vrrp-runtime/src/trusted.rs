//! Files the daemon trusts: its configuration file and its status socket.
//!
//! The configuration decides which commands run (exec probes, notify scripts) and as whom
//! (`script_user`), so whoever can change the file can run commands through the daemon. The
//! status socket answers `vrrpd status` and `vrrpd reload`; a socket someone else placed at
//! its path would answer in the daemon's name. So both are refused, with the fix in the
//! message, when a user other than root or the daemon's own user could change them:
//!
//! - the file itself is world-writable, or owned by another user;
//! - its directory is world-writable (even with the sticky bit: put the file in a directory
//!   of its own), or owned by another user;
//! - a directory further up is world-writable without the sticky bit (`/tmp` is fine there),
//!   or owned by another user.
//!
//! An existing path for the status socket must be a socket owned by root or the daemon's
//! user (a stale one is replaced; anything else is left alone and refused).
//!
//! ```no_run
//! # fn demo() -> Result<(), vrrp_runtime::trusted::UntrustedPath> {
//! use std::path::Path;
//! let text = vrrp_runtime::trusted::read_config(Path::new("/etc/vrrpd/vrrpd.toml"))?;
//! vrrp_runtime::trusted::check_socket_path(Path::new("/run/vrrpd/vrrpd.sock"))?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

const WORLD_WRITABLE: u32 = 0o002;
const STICKY: u32 = 0o1000;

/// Why a path is not trusted, with the command that fixes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UntrustedPath {
    /// The file, or a directory on its path, is writable by every user.
    #[error(
        "refusing {path}: {subject} is world-writable, so any local user could {risk}; fix: chmod o-w {culprit}"
    )]
    WorldWritable {
        /// The file vrrpd was asked to use.
        path: PathBuf,
        /// What is world-writable (the file itself or one of its directories).
        culprit: PathBuf,
        /// `it` or `its directory DIR`.
        subject: String,
        /// What an attacker could do.
        risk: &'static str,
    },
    /// The file, or a directory on its path, belongs to a user other than root and the
    /// daemon's user.
    #[error(
        "refusing {path}: {subject} belongs to uid {owner}, neither root nor vrrpd's own user (uid {daemon}), so that user could {risk}; fix: chown root {culprit} (or move the file)"
    )]
    ForeignOwner {
        /// The file vrrpd was asked to use.
        path: PathBuf,
        /// What is foreign-owned.
        culprit: PathBuf,
        /// `it` or `its directory DIR`.
        subject: String,
        /// Its owner.
        owner: u32,
        /// The daemon's effective uid.
        daemon: u32,
        /// What that user could do.
        risk: &'static str,
    },
    /// Something that is not a socket is where the status socket should go.
    #[error(
        "refusing {path}: it exists and is not a socket (a {kind}); remove it or give vrrpd another --socket"
    )]
    NotASocket {
        /// The path.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// The path could not be examined or read.
    #[error("{path}: {reason}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// The config or the socket, for the wording of the risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Config,
    Socket,
}

impl Kind {
    fn file_risk(self) -> &'static str {
        match self {
            Kind::Config => "change the commands vrrpd runs",
            Kind::Socket => "answer `vrrpd status` and `vrrpd reload` in vrrpd's name",
        }
    }

    fn dir_risk(self) -> &'static str {
        match self {
            Kind::Config => "replace the configuration and so the commands vrrpd runs",
            Kind::Socket => "replace the socket and answer in vrrpd's name",
        }
    }
}

/// Owner and mode of a path, as the checks see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Owner {
    uid: u32,
    mode: u32,
}

impl From<&std::fs::Metadata> for Owner {
    fn from(m: &std::fs::Metadata) -> Self {
        Owner {
            uid: m.uid(),
            mode: m.mode(),
        }
    }
}

fn daemon_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

fn io_error(path: &Path, e: impl fmt::Display) -> UntrustedPath {
    UntrustedPath::Io {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

/// The checks on one path component. `level` 0 is the file, 1 its directory, 2 and more the
/// directories above.
fn check_one(
    path: &Path,
    culprit: &Path,
    level: usize,
    owner: Owner,
    daemon: u32,
    kind: Kind,
) -> Result<(), UntrustedPath> {
    let subject = match level {
        0 => "it".to_owned(),
        _ => format!("its directory {}", culprit.display()),
    };
    let risk = if level == 0 {
        kind.file_risk()
    } else {
        kind.dir_risk()
    };
    let world_writable = owner.mode & WORLD_WRITABLE != 0;
    // Above the file's own directory, the sticky bit (/tmp) stops others from renaming what
    // is not theirs.
    let sticky_protects = level >= 2 && owner.mode & STICKY != 0;
    if world_writable && !sticky_protects {
        return Err(UntrustedPath::WorldWritable {
            path: path.to_owned(),
            culprit: culprit.to_owned(),
            subject,
            risk,
        });
    }
    if owner.uid != 0 && owner.uid != daemon {
        return Err(UntrustedPath::ForeignOwner {
            path: path.to_owned(),
            culprit: culprit.to_owned(),
            subject,
            owner: owner.uid,
            daemon,
            risk,
        });
    }
    Ok(())
}

/// Checks every directory from `dir` (the file's own, level 1) up to `/`.
fn check_directories(
    path: &Path,
    dir: &Path,
    daemon: u32,
    kind: Kind,
) -> Result<(), UntrustedPath> {
    let dir = dir.canonicalize().map_err(|e| io_error(dir, e))?;
    for (i, ancestor) in dir.ancestors().enumerate() {
        let meta = std::fs::metadata(ancestor).map_err(|e| io_error(ancestor, e))?;
        check_one(path, ancestor, i + 1, Owner::from(&meta), daemon, kind)?;
    }
    Ok(())
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Reads the configuration file at `path` if only root or the daemon's user can change it
/// (see the module documentation). The checks are made on the opened file, then on its
/// directories (symlinks resolved), so the text returned is the text that was checked.
pub fn read_config(path: &Path) -> Result<String, UntrustedPath> {
    let daemon = daemon_uid();
    let mut file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
    let meta = file.metadata().map_err(|e| io_error(path, e))?;
    if !meta.is_file() {
        return Err(io_error(path, "not a regular file"));
    }
    check_one(path, path, 0, Owner::from(&meta), daemon, Kind::Config)?;
    let real = path.canonicalize().map_err(|e| io_error(path, e))?;
    check_directories(path, parent_of(&real), daemon, Kind::Config)?;
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|e| io_error(path, e))?;
    Ok(text)
}

/// Checks the path the status socket will be bound at: its directory chain (as for the
/// config), and whatever is already there. Returns whether a socket exists there (stale, or a
/// running daemon's: the caller tells which by connecting). A missing directory is fine here
/// (the caller creates it, mode 0700); its existing ancestors are checked.
pub fn check_socket_path(path: &Path) -> Result<bool, UntrustedPath> {
    let daemon = daemon_uid();
    let mut dir = parent_of(path);
    while !dir.exists() {
        match dir.parent() {
            Some(up) if !up.as_os_str().is_empty() => dir = up,
            _ => {
                dir = Path::new(".");
                break;
            }
        }
    }
    check_directories(path, dir, daemon, Kind::Socket)?;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io_error(path, e)),
    };
    // Its owner first: a stranger's file is never touched, whatever it is.
    let owner = Owner::from(&meta);
    if owner.uid != 0 && owner.uid != daemon {
        return Err(UntrustedPath::ForeignOwner {
            path: path.to_owned(),
            culprit: path.to_owned(),
            subject: "it".into(),
            owner: owner.uid,
            daemon,
            risk: Kind::Socket.file_risk(),
        });
    }
    let kind = meta.file_type();
    if !kind.is_socket() {
        let what = if kind.is_symlink() {
            "symbolic link"
        } else if kind.is_dir() {
            "directory"
        } else if kind.is_file() {
            "regular file"
        } else {
            "special file"
        };
        return Err(UntrustedPath::NotASocket {
            path: path.to_owned(),
            kind: what,
        });
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: u32 = 0;

    fn owner(uid: u32, mode: u32) -> Owner {
        Owner { uid, mode }
    }

    fn check(level: usize, o: Owner) -> Result<(), UntrustedPath> {
        let file = Path::new("/etc/vrrpd/vrrpd.toml");
        check_one(
            file,
            if level == 0 {
                file
            } else {
                Path::new("/etc/vrrpd")
            },
            level,
            o,
            ME,
            Kind::Config,
        )
    }

    #[test]
    fn the_rules_per_level() {
        // The file: root's or ours, not world-writable; group-writable is the admin's call.
        check(0, owner(0, 0o100_640)).unwrap();
        check(0, owner(0, 0o100_664)).unwrap();
        assert!(matches!(
            check(0, owner(0, 0o100_646)),
            Err(UntrustedPath::WorldWritable { .. })
        ));
        assert!(matches!(
            check(0, owner(1000, 0o100_600)),
            Err(UntrustedPath::ForeignOwner { owner: 1000, .. })
        ));
        // Its directory: not even a sticky world-writable one.
        check(1, owner(0, 0o40_755)).unwrap();
        assert!(check(1, owner(0, 0o41_777)).is_err());
        assert!(check(1, owner(1000, 0o40_755)).is_err());
        // Further up: /tmp (sticky) is fine, a plain world-writable directory is not.
        check(2, owner(0, 0o41_777)).unwrap();
        assert!(check(2, owner(0, 0o40_777)).is_err());
        assert!(check(3, owner(1000, 0o40_755)).is_err());
    }

    #[test]
    fn messages_name_the_file_the_culprit_and_the_fix() {
        let e = check(1, owner(0, 0o40_777)).unwrap_err().to_string();
        assert_eq!(
            e,
            "refusing /etc/vrrpd/vrrpd.toml: its directory /etc/vrrpd is world-writable, so any local user could replace the configuration and so the commands vrrpd runs; fix: chmod o-w /etc/vrrpd"
        );
        let e = check_one(
            Path::new("/run/vrrpd/vrrpd.sock"),
            Path::new("/run/vrrpd/vrrpd.sock"),
            0,
            owner(1000, 0o140_777),
            ME,
            Kind::Socket,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("refusing /run/vrrpd/vrrpd.sock: it is world-writable"),
            "{e}"
        );
        assert!(e.ends_with("fix: chmod o-w /run/vrrpd/vrrpd.sock"), "{e}");
        let e = check(0, owner(1000, 0o100_600)).unwrap_err().to_string();
        assert!(
            e.contains("belongs to uid 1000, neither root nor vrrpd's own user (uid 0)"),
            "{e}"
        );
        assert!(
            e.starts_with("refusing /etc/vrrpd/vrrpd.toml: it belongs to uid 1000"),
            "{e}"
        );
        assert!(
            e.ends_with("fix: chown root /etc/vrrpd/vrrpd.toml (or move the file)"),
            "{e}"
        );
    }
}
