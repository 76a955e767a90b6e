//! The lab's error type.

use std::path::PathBuf;

/// What went wrong while building, using or tearing down a lab.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabError {
    /// A command could not be started at all (missing binary, say).
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// Why it did not start.
        source: std::io::Error,
    },
    /// A command ran and exited unsuccessfully.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status, as text.
        status: String,
        /// What it wrote on stderr.
        stderr: String,
    },
    /// A command's output could not be understood.
    #[error("cannot parse the output of `{command}`: {reason}")]
    Parse {
        /// The command line.
        command: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A file of the lab (capture, log, netns handle) could not be read or written.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Entering a network namespace failed.
    #[error("cannot enter network namespace {namespace}: {source}")]
    Setns {
        /// The namespace name (under /run/netns).
        namespace: String,
        /// The error from setns(2).
        source: std::io::Error,
    },
    /// A pcap file is malformed.
    #[error("bad pcap file: {0}")]
    Pcap(String),
    /// Something did not happen in time (a capture that never started, say).
    #[error("timed out: {0}")]
    Timeout(String),
    /// A tokio runtime could not be built inside a namespace.
    #[error("cannot build a tokio runtime: {0}")]
    Runtime(std::io::Error),
    /// A request that makes no sense for this lab (host index out of range, say).
    #[error("invalid lab request: {0}")]
    Invalid(String),
}

/// Result alias of this crate.
pub type Result<T, E = LabError> = std::result::Result<T, E>;
