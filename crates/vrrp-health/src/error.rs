//! Errors of vrrp-health: all about configuration or the caller's use of the API. Probe
//! failures are not errors; they are [`crate::ProbeResult`]s.

/// Why a probe could not be built, spawned or addressed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HealthError {
    /// A parameter of the probe is invalid; `reason` says which and why.
    #[error("probe {probe}: {reason}")]
    InvalidProbe {
        /// The probe's name.
        probe: String,
        /// What is wrong.
        reason: String,
    },
    /// An `http` probe URL could not be used.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A status-code list such as `200-399,404` could not be parsed.
    #[error("invalid status codes {spec:?}: {reason}")]
    InvalidStatusCodes {
        /// The list as given.
        spec: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The user an `exec` probe should run as is not in the password database.
    #[error("probe {probe}: user {user:?} not found in {database}")]
    UnknownUser {
        /// The probe's name.
        probe: String,
        /// The user name.
        user: String,
        /// Where it was looked up (`/etc/passwd`).
        database: String,
    },
    /// The password database could not be read.
    #[error("probe {probe}: cannot read {database}: {reason}")]
    UserDatabase {
        /// The probe's name.
        probe: String,
        /// The file.
        database: String,
        /// The IO error.
        reason: String,
    },
    /// A probe of that name is already running in this runner.
    #[error("probe {0} is already running")]
    DuplicateProbe(String),
    /// No probe of that name runs in this runner.
    #[error("no probe named {0}")]
    UnknownProbe(String),
    /// [`crate::ProbeRunner::spawn`] was called outside a tokio runtime.
    #[error("probes need a tokio runtime with IO and time enabled")]
    NoRuntime,
}
