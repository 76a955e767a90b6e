//! The harness's error type.

use std::path::PathBuf;

/// What went wrong while benchmarking.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// Building or using the lab failed.
    #[error(transparent)]
    Lab(#[from] vrrp_lab::LabError),
    /// A file of the harness (results, plots, scripts) could not be written or read.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A daemon config could not be made (a setting the implementation does not have).
    #[error("{implementation} config: {reason}")]
    Config {
        /// keepalived or vrrpd.
        implementation: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Something expected did not happen in time (a VIP that never moved, say).
    #[error("timed out: {0}")]
    Timeout(String),
    /// A trial saw something that makes its numbers meaningless (a missing advert, say).
    #[error("trial invalid: {0}")]
    Invalid(String),
    /// Writing JSON failed.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Drawing a plot failed.
    #[error("plot {path}: {reason}")]
    Plot {
        /// The SVG file.
        path: PathBuf,
        /// What plotters said.
        reason: String,
    },
    /// A request the harness cannot carry out (an unknown measure, say).
    #[error("{0}")]
    Usage(String),
}

/// Result alias of this crate.
pub type Result<T, E = BenchError> = std::result::Result<T, E>;

/// `map_err` helper for file errors.
pub(crate) fn file_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> BenchError + '_ {
    move |source| BenchError::File {
        path: path.to_owned(),
        source,
    }
}
