//! Running code of the test process inside a lab namespace.
//!
//! A network namespace belongs to a thread, not to the process: `setns(2)` with
//! `CLONE_NEWNET` moves only the calling thread. So each closure gets a fresh thread that
//! enters the namespace first (through rustix's safe wrapper) and then runs it; sockets it
//! opens (netlink, AF_PACKET, UDP ...) live in that namespace for good, even when used from
//! other threads later. Threads spawned from such a thread (a tokio blocking pool, say) start
//! in the same namespace.

use std::fs::File;
use std::future::Future;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::thread::JoinHandle;

use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

use crate::error::{LabError, Result};

/// Where `ip netns add` keeps its namespace handles.
pub(crate) const NETNS_DIR: &str = "/run/netns";

/// The bind-mounted handle of namespace `name`.
pub(crate) fn netns_path(name: &str) -> PathBuf {
    PathBuf::from(NETNS_DIR).join(name)
}

/// Moves the calling thread into namespace `name`.
pub(crate) fn enter(name: &str) -> Result<()> {
    let path = netns_path(name);
    let file = File::open(&path).map_err(|source| LabError::File { path, source })?;
    move_into_link_name_space(file.as_fd(), Some(LinkNameSpaceType::Network)).map_err(|e| {
        LabError::Setns {
            namespace: name.to_owned(),
            source: e.into(),
        }
    })
}

/// Runs `f` on a new thread inside namespace `name` and returns its result. A panic in `f`
/// is propagated to the caller (so assertions inside work as usual).
pub(crate) fn run_in<F, R>(name: &str, f: F) -> Result<R>
where
    F: FnOnce() -> R + Send,
    R: Send,
{
    std::thread::scope(|scope| {
        let handle = scope.spawn(|| {
            enter(name)?;
            Ok(f())
        });
        match handle.join() {
            Ok(result) => result,
            Err(payload) => std::panic::resume_unwind(payload),
        }
    })
}

/// Runs the future made by `make` to completion on a current-thread tokio runtime (time and
/// IO enabled) on a new thread inside namespace `name`.
pub(crate) fn block_on_in<F, Fut, R>(name: &str, make: F) -> Result<R>
where
    F: FnOnce() -> Fut + Send,
    Fut: Future<Output = R>,
    R: Send,
{
    run_in(name, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(LabError::Runtime)?;
        Ok(runtime.block_on(make()))
    })?
}

/// A future running on its own thread inside a lab namespace (see
/// [`Host::spawn_async`](crate::Host::spawn_async)).
///
/// Dropping it detaches the thread; stop the work through a channel of your own and
/// [`join`](NsTask::join) it to get its result.
#[derive(Debug)]
pub struct NsTask<R> {
    handle: JoinHandle<Result<R>>,
}

impl<R: Send + 'static> NsTask<R> {
    pub(crate) fn spawn<F, Fut>(name: &str, make: F) -> Result<Self>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = R>,
    {
        let name = name.to_owned();
        let handle = std::thread::Builder::new()
            .name(format!("netns-{name}"))
            .spawn(move || {
                enter(&name)?;
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(LabError::Runtime)?;
                Ok(runtime.block_on(make()))
            })
            .map_err(|source| LabError::Spawn {
                command: "thread".into(),
                source,
            })?;
        Ok(Self { handle })
    }

    /// Waits for the future to finish and returns its output; a panic inside is propagated.
    pub fn join(self) -> Result<R> {
        match self.handle.join() {
            Ok(result) => result,
            Err(payload) => std::panic::resume_unwind(payload),
        }
    }

    /// Whether the future has finished.
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }
}
