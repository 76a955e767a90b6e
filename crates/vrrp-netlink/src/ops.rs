//! The trait the runtime programs against, and the event stream it returns.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use crate::error::Result;
use crate::types::{AddrGenMode, AddressInfo, IpNet, LinkInfo, Mac, NetEvent};

/// The network actions a VRRP instance needs, as a small trait of our own.
///
/// [`RtNetlink`](crate::RtNetlink) implements it with rtnetlink in the network namespace it
/// was created in; [`FakeNetlink`](crate::FakeNetlink) keeps everything in memory for tests
/// of the runtime. Every future is `Send`, so the runtime can spawn them.
///
/// Address changes are idempotent: adding an address the link already has, or removing one it
/// does not have, succeeds.
pub trait NetlinkOps: Send + Sync {
    /// The link called `name`, if any.
    fn link_by_name(&self, name: &str) -> impl Future<Output = Result<Option<LinkInfo>>> + Send;

    /// The link with index `index`, if any.
    fn link_by_index(&self, index: u32) -> impl Future<Output = Result<Option<LinkInfo>>> + Send;

    /// Every link.
    fn links(&self) -> impl Future<Output = Result<Vec<LinkInfo>>> + Send;

    /// The addresses (both families) of link `index`.
    fn addresses(&self, index: u32) -> impl Future<Output = Result<Vec<AddressInfo>>> + Send;

    /// Adds `net` to link `index` (IPv6 without duplicate address detection: a VIP must be
    /// usable at once). Succeeds if it is already there.
    fn add_address(&self, index: u32, net: IpNet) -> impl Future<Output = Result<()>> + Send;

    /// Readies [`Self::add_addresses`] for exactly these addresses on link `index` (an
    /// implementation may build its requests now), so that the takeover, when it comes, runs
    /// as little code as possible. Optional; the default does nothing.
    fn prepare_addresses(&self, index: u32, nets: &[IpNet]) {
        let _ = (index, nets);
    }

    /// Adds every address of `nets` to link `index`, as [`Self::add_address`] would, and
    /// returns one result per address in the same order. The takeover's path: an
    /// implementation may send all of them at once.
    fn add_addresses(
        &self,
        index: u32,
        nets: &[IpNet],
    ) -> impl Future<Output = Vec<Result<()>>> + Send {
        add_one_by_one(self, index, nets)
    }

    /// Removes `net` from link `index`. Succeeds if it is not there.
    fn remove_address(&self, index: u32, net: IpNet) -> impl Future<Output = Result<()>> + Send;

    /// Starts watching link and address changes (of both families) in this namespace.
    fn subscribe(&self) -> impl Future<Output = Result<EventStream>> + Send;

    /// Creates a macvlan called `name` on `parent` in bridge mode with MAC `mac`, left down,
    /// and returns it.
    fn create_macvlan(
        &self,
        parent: u32,
        name: &str,
        mac: Mac,
    ) -> impl Future<Output = Result<LinkInfo>> + Send;

    /// Deletes link `index`. Succeeds if it is already gone.
    fn delete_link(&self, index: u32) -> impl Future<Output = Result<()>> + Send;

    /// Sets how the kernel derives link `index`'s IPv6 link-local address. Takes effect the
    /// next time the link goes up.
    fn set_addr_gen_mode(
        &self,
        index: u32,
        mode: AddrGenMode,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Brings link `index` administratively up.
    fn set_link_up(&self, index: u32) -> impl Future<Output = Result<()>> + Send;

    /// Brings link `index` administratively down.
    fn set_link_down(&self, index: u32) -> impl Future<Output = Result<()>> + Send;
}

/// A stream of [`NetEvent`]s. Dropping it stops the watch.
///
/// Use [`recv`](EventStream::recv) or the [`Stream`] impl.
#[derive(Debug)]
pub struct EventStream {
    rx: mpsc::UnboundedReceiver<NetEvent>,
    tasks: Vec<AbortHandle>,
}

impl EventStream {
    /// A stream fed by `rx`, stopping `tasks` when dropped.
    pub(crate) fn new(rx: mpsc::UnboundedReceiver<NetEvent>, tasks: Vec<AbortHandle>) -> Self {
        Self { rx, tasks }
    }

    /// The next event; `None` once the watch has ended (the netlink socket closed, or the
    /// fake dropped).
    pub async fn recv(&mut self) -> Option<NetEvent> {
        self.rx.recv().await
    }

    /// The next event if one is already queued.
    pub fn try_recv(&mut self) -> Option<NetEvent> {
        self.rx.try_recv().ok()
    }
}

impl Stream for EventStream {
    type Item = NetEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<NetEvent>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// [`NetlinkOps::add_addresses`] as a sequence of [`NetlinkOps::add_address`] calls: the
/// default, and [`RtNetlink`](crate::RtNetlink)'s fallback when its batch socket fails.
pub(crate) async fn add_one_by_one<N: NetlinkOps + ?Sized>(
    ops: &N,
    index: u32,
    nets: &[IpNet],
) -> Vec<Result<()>> {
    let mut results = Vec::with_capacity(nets.len());
    for net in nets {
        results.push(ops.add_address(index, *net).await);
    }
    results
}
