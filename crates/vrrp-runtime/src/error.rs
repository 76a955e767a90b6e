//! Errors of the runtime.

use std::io;

use vrrp_election::ConfigError as EngineConfigError;
use vrrp_health::HealthError;
use vrrp_netlink::NetlinkError;

/// Why the runtime could not start, apply a request, or go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// An instance names an interface that does not exist.
    #[error("instance {instance}: interface {interface} does not exist")]
    InterfaceNotFound {
        /// The instance.
        instance: String,
        /// The interface.
        interface: String,
    },
    /// The interface has no address to send adverts from.
    #[error(
        "instance {instance}: interface {interface} has no {family} address to send adverts from{hint}"
    )]
    NoSourceAddress {
        /// The instance.
        instance: String,
        /// The interface.
        interface: String,
        /// `IPv4` or `IPv6 link-local`.
        family: &'static str,
        /// Advice.
        hint: &'static str,
    },
    /// The engine refused an instance's parameters.
    #[error("instance {instance}: invalid parameters")]
    Engine {
        /// The instance.
        instance: String,
        /// Why.
        source: EngineConfigError,
    },
    /// A netlink operation failed.
    #[error("{what}")]
    Netlink {
        /// What we were doing.
        what: String,
        /// Why it failed.
        source: NetlinkError,
    },
    /// A socket operation failed.
    #[error("{what}")]
    Io {
        /// What we were doing.
        what: String,
        /// Why it failed.
        source: io::Error,
    },
    /// A probe could not be started.
    #[error("probe {probe} cannot start")]
    Probe {
        /// The probe.
        probe: String,
        /// Why.
        source: HealthError,
    },
    /// A probe kind this runtime cannot run.
    #[error("probe {probe}: kind {kind} is not supported by this runtime")]
    UnsupportedProbe {
        /// The probe.
        probe: String,
        /// Its kind.
        kind: &'static str,
    },
    /// No instance has this name.
    #[error("no instance named {0:?}")]
    UnknownInstance(String),
    /// Privileges could not be planned, were missing, or could not be dropped.
    #[error(transparent)]
    Privilege(#[from] crate::privilege::PrivilegeError),
    /// The runtime has stopped and no longer takes requests.
    #[error("the runtime has stopped")]
    Stopped,
}

impl RuntimeError {
    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> Self {
        RuntimeError::Io {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn netlink(what: impl Into<String>, source: NetlinkError) -> Self {
        RuntimeError::Netlink {
            what: what.into(),
            source,
        }
    }
}
