//! The tokio runtime of vrrp-rs (work in progress).
pub mod announce;
pub mod socket;
