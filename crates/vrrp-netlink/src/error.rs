//! The crate's error type.

use std::net::IpAddr;
use std::path::PathBuf;

/// What can go wrong with a network action.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetlinkError {
    /// The netlink socket could not be opened (not on Linux, or no permission).
    #[error("cannot open a netlink socket: {0}")]
    Socket(#[source] std::io::Error),
    /// Called outside a tokio runtime (the netlink socket needs one to be driven).
    #[error("vrrp-netlink needs a tokio runtime: call it from inside one")]
    NoRuntime,
    /// The kernel refused a request.
    #[error("{op} failed: {message} (errno {errno})")]
    Kernel {
        /// What we asked for (`add address 192.0.2.100/24 on 2`, say).
        op: String,
        /// The positive errno (EPERM = 1, EEXIST = 17, ENODEV = 19 ...).
        errno: i32,
        /// The kernel's words for it.
        message: String,
    },
    /// The netlink conversation itself failed (unexpected or malformed reply).
    #[error("{op} failed: {message}")]
    Protocol {
        /// What we asked for.
        op: String,
        /// What went wrong.
        message: String,
    },
    /// No link has that index or name.
    #[error("no such link: {0}")]
    NoSuchLink(String),
    /// A link we were asked to remove as a VMAC is not one of ours.
    #[error("link {name} is not a macvlan; refusing to delete it")]
    NotMacvlan {
        /// Its name.
        name: String,
    },
    /// A prefix length longer than the address.
    #[error("prefix length {prefix_len} is too long for {addr}")]
    InvalidPrefix {
        /// The address.
        addr: IpAddr,
        /// The length given.
        prefix_len: u8,
    },
    /// Text that is not `ADDR/LEN`.
    #[error("not an address with prefix length: {0:?}")]
    InvalidNet(String),
    /// Text that is not a MAC address.
    #[error("not a MAC address: {0:?}")]
    InvalidMac(String),
    /// An interface name the kernel cannot take (empty, longer than 15 bytes, or with `/`
    /// or whitespace).
    #[error("invalid interface name: {0:?}")]
    InvalidName(String),
    /// VRID 0 (VRIDs are 1..255).
    #[error("VRID 0 is not valid (1..255)")]
    InvalidVrid,
    /// A sysctl under /proc/sys could not be read or written.
    #[error("sysctl {path}: {source}")]
    Sysctl {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The AF_PACKET socket could not be opened or a frame not sent.
    #[error("{op}: {source}")]
    Packet {
        /// What we were doing.
        op: String,
        /// The error.
        source: std::io::Error,
    },
    /// A frame shorter than an Ethernet header.
    #[error("frame of {0} bytes is shorter than an Ethernet header")]
    ShortFrame(usize),
}

impl NetlinkError {
    /// The kernel's errno when the kernel refused the request.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetlinkError::Kernel { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = NetlinkError> = std::result::Result<T, E>;
