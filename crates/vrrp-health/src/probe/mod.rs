//! The tokio executors, one module per kind. Each turns one run (or one observed event) into a
//! [`crate::ProbeResult`]; scheduling, timeouts and rise/fall live in [`crate::runner`] and
//! [`crate::tracker`].

pub(crate) mod exec;
pub(crate) mod file;
pub(crate) mod http;
pub(crate) mod interface;
pub(crate) mod process;
pub(crate) mod tcp;
pub(crate) mod users;
