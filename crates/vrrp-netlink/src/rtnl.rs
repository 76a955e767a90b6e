//! [`NetlinkOps`] over rtnetlink (the real kernel).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use netlink_packet_route::link::{
    AfSpecInet6, AfSpecUnspec, In6AddrGenMode, LinkAttribute, LinkFlags, LinkInfo as NlLinkInfo,
    LinkMessage, MacVlanMode, State,
};
use rtnetlink::packet_core::NetlinkPayload;
use rtnetlink::{AddressMessageBuilder, Handle, LinkMacVlan, LinkUnspec, MulticastGroup};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::{NetlinkError, Result};
use crate::ops::{EventStream, NetlinkOps, add_one_by_one};
use crate::types::{AddrGenMode, AddressInfo, IpNet, LinkInfo, Mac, NetEvent, OperState};

const EEXIST: i32 = libc::EEXIST;
const ENODEV: i32 = libc::ENODEV;
const EADDRNOTAVAIL: i32 = libc::EADDRNOTAVAIL;

/// [`NetlinkOps`] on a real rtnetlink socket.
///
/// The socket belongs to the network namespace of the thread that called
/// [`RtNetlink::new`], for its whole life. Cloning shares the socket.
#[derive(Debug, Clone)]
pub struct RtNetlink {
    handle: Handle,
    _connection: Arc<AbortOnDrop>,
    direct: Arc<DirectSocket>,
}

/// A second route netlink socket for [`NetlinkOps::add_addresses`], the takeover's path. Its
/// requests are built once, by [`NetlinkOps::prepare_addresses`] (or the first add), and then
/// sent as one batch of bytes; the kernel handles route netlink requests inside `send`, so the
/// acknowledgements are there to read at once. Measured with `perf` on a takeover, the way
/// through rtnetlink (its builders, its connection task, a scheduler hop) cost 0.9 ms of cold
/// code between the advert and the kernel's 50 µs install (docs/performance.md).
#[derive(Debug)]
struct DirectSocket {
    /// The socket and the prepared batches, one lock: a batch and its acknowledgements stay
    /// together when clones are used from several threads.
    inner: std::sync::Mutex<DirectInner>,
}

#[derive(Debug)]
struct DirectInner {
    socket: rtnetlink::sys::Socket,
    /// (link, addresses) → the serialised `RTM_NEWADDR` requests, sequence numbers 0..n.
    prepared: Vec<(u32, Vec<IpNet>, Vec<u8>)>,
}

impl DirectSocket {
    fn open() -> std::io::Result<Self> {
        let mut socket = rtnetlink::sys::Socket::new(rtnetlink::sys::protocols::NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.set_non_blocking(true)?;
        Ok(DirectSocket {
            inner: std::sync::Mutex::new(DirectInner {
                socket,
                prepared: Vec::new(),
            }),
        })
    }
}

impl DirectInner {
    /// The prepared batch for (`index`, `nets`), built now if it is not there yet. At most
    /// 64 batches are kept (one per instance and interface in practice).
    fn batch(&mut self, index: u32, nets: &[IpNet]) -> usize {
        if let Some(i) = self
            .prepared
            .iter()
            .position(|(x, n, _)| *x == index && n.as_slice() == nets)
        {
            return i;
        }
        if self.prepared.len() >= 64 {
            self.prepared.remove(0);
        }
        self.prepared
            .push((index, nets.to_vec(), build_add_batch(index, nets)));
        self.prepared.len() - 1
    }
}

/// Serialised `RTM_NEWADDR` requests for `nets` on link `index`, with sequence numbers 0..n.
fn build_add_batch(index: u32, nets: &[IpNet]) -> Vec<u8> {
    use rtnetlink::packet_core::{
        NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    };
    let mut batch = Vec::with_capacity(nets.len() * 64);
    for (i, net) in nets.iter().enumerate() {
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
        header.sequence_number = i as u32;
        let mut message = NetlinkMessage::new(
            header,
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewAddress(new_address_message(
                index, *net,
            ))),
        );
        message.finalize();
        let start = batch.len();
        batch.resize(start + message.buffer_len(), 0);
        message.serialize(&mut batch[start..]);
    }
    batch
}

/// The address message for `net` on link `index` as rtnetlink builds it (address, local
/// address, and for IPv4 below /31 the subnet's broadcast address): the body of both our
/// `RTM_NEWADDR` batches and `RTM_DELADDR`.
fn address_message(index: u32, net: IpNet) -> AddressMessage {
    match net.addr() {
        IpAddr::V4(a) => AddressMessageBuilder::<Ipv4Addr>::new()
            .index(index)
            .address(a, net.prefix_len())
            .build(),
        IpAddr::V6(a) => AddressMessageBuilder::<Ipv6Addr>::new()
            .index(index)
            .address(a, net.prefix_len())
            .build(),
    }
}

/// The `RTM_NEWADDR` body for `net` on link `index`: [`address_message`], and for IPv6 no
/// duplicate address detection (as [`NetlinkOps::add_address`] asks for).
fn new_address_message(index: u32, net: IpNet) -> AddressMessage {
    let mut message = address_message(index, net);
    if net.addr().is_ipv6() {
        message
            .attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
    message
}

/// Reads the acknowledgements of a batch of `count` requests (sequence numbers 0..count) from
/// `socket`, by hand: `struct nlmsghdr` (len u32, type u16, flags u16, seq u32, pid u32), and
/// for `NLMSG_ERROR` the error (i32, 0 for an acknowledgement) right after it. `Err` when the
/// socket fails or stays silent for a second.
fn read_acks(socket: &rtnetlink::sys::Socket, count: usize) -> std::io::Result<Vec<Option<i32>>> {
    const NLMSG_ERROR: u16 = 2;
    let mut errors: Vec<Option<i32>> = vec![None; count];
    let mut seen = 0;
    // On the stack: a fresh heap buffer cost the takeover three page faults (one ack,
    // 36 bytes, or an error quoting its request, is far below a page per `recv`).
    let mut buf = [0u8; 4096];
    let mut waited = std::time::Duration::ZERO;
    while seen < count {
        let n = match socket.recv(&mut &mut buf[..], 0) {
            Ok(n) => n.min(buf.len()),
            // The kernel answers inside `send`; waiting is for a kernel that ever does not.
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if waited >= std::time::Duration::from_secs(1) {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "no acknowledgement from the kernel",
                    ));
                }
                let step = std::time::Duration::from_micros(200);
                std::thread::sleep(step);
                waited += step;
                continue;
            }
            Err(e) => return Err(e),
        };
        let mut offset = 0;
        while let Some(header) = buf
            .get(offset..(offset + 20).min(n))
            .filter(|h| h.len() == 20)
        {
            let len = u32::from_ne_bytes([header[0], header[1], header[2], header[3]]) as usize;
            let kind = u16::from_ne_bytes([header[4], header[5]]);
            let seq = u32::from_ne_bytes([header[8], header[9], header[10], header[11]]) as usize;
            if len < 16 {
                break;
            }
            if kind == NLMSG_ERROR
                && let Some(slot) = errors.get_mut(seq)
                && slot.is_none()
            {
                *slot = Some(i32::from_ne_bytes([
                    header[16], header[17], header[18], header[19],
                ]));
                seen += 1;
            }
            offset += len.div_ceil(4) * 4;
        }
    }
    Ok(errors)
}

/// Aborts the task driving the netlink socket when the last [`RtNetlink`] clone goes.
#[derive(Debug)]
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl RtNetlink {
    /// Opens a route netlink socket in the current thread's network namespace and spawns
    /// the task that drives it. Must be called inside a tokio runtime.
    pub fn new() -> Result<Self> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| NetlinkError::NoRuntime)?;
        let (connection, handle, _unsolicited) =
            rtnetlink::new_connection().map_err(NetlinkError::Socket)?;
        let direct = DirectSocket::open().map_err(NetlinkError::Socket)?;
        let task = runtime.spawn(connection);
        Ok(Self {
            handle,
            _connection: Arc::new(AbortOnDrop(task)),
            direct: Arc::new(direct),
        })
    }

    async fn first_link(
        &self,
        request: rtnetlink::LinkGetRequest,
        what: String,
    ) -> Result<Option<LinkInfo>> {
        let mut stream = request.execute();
        match stream.try_next().await {
            Ok(Some(msg)) => Ok(Some(link_from_message(&msg))),
            Ok(None) => Ok(None),
            Err(e) if errno_of(&e) == Some(ENODEV) => Ok(None),
            Err(e) => Err(map_err(what, e)),
        }
    }
}

impl RtNetlink {
    /// Sends the prepared batch for (`index`, `nets`) and returns each request's error number
    /// (0: done). Synchronous: the kernel does the work inside `send`.
    fn add_addresses_direct(
        &self,
        index: u32,
        nets: &[IpNet],
    ) -> std::io::Result<Vec<Option<i32>>> {
        if nets.is_empty() {
            return Ok(Vec::new());
        }
        let mut inner = self
            .direct
            .inner
            .lock()
            .map_err(|_| std::io::Error::other("direct netlink socket poisoned"))?;
        let slot = inner.batch(index, nets);
        let DirectInner { socket, prepared } = &mut *inner;
        // Anything left from an exchange that failed half-way would be read as our answers.
        let mut stale = [0u8; 512];
        while socket.recv(&mut &mut stale[..], 0).is_ok() {}
        socket.send(&prepared[slot].2, 0)?;
        read_acks(socket, nets.len())
    }
}

impl NetlinkOps for RtNetlink {
    async fn link_by_name(&self, name: &str) -> Result<Option<LinkInfo>> {
        validate_name(name)?;
        let request = self.handle.link().get().match_name(name.to_owned());
        self.first_link(request, format!("get link {name}")).await
    }

    async fn link_by_index(&self, index: u32) -> Result<Option<LinkInfo>> {
        let request = self.handle.link().get().match_index(index);
        self.first_link(request, format!("get link {index}")).await
    }

    async fn links(&self) -> Result<Vec<LinkInfo>> {
        let messages: Vec<LinkMessage> = self
            .handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|e| map_err("list links".into(), e))?;
        Ok(messages.iter().map(link_from_message).collect())
    }

    async fn addresses(&self, index: u32) -> Result<Vec<AddressInfo>> {
        let messages: Vec<AddressMessage> = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .execute()
            .try_collect()
            .await
            .map_err(|e| map_err(format!("list addresses of link {index}"), e))?;
        // The filter is applied in user space by rtnetlink on some paths: filter again.
        Ok(messages
            .iter()
            .filter_map(address_from_message)
            .filter(|a| a.index == index)
            .collect())
    }

    async fn add_address(&self, index: u32, net: IpNet) -> Result<()> {
        let mut request = self
            .handle
            .address()
            .add(index, net.addr(), net.prefix_len());
        if net.addr().is_ipv6() {
            // A VIP must answer at once and must not be marked "dadfailed" because the old
            // master still held it for a moment: no duplicate address detection (keepalived
            // adds its IPv6 VIPs the same way).
            request
                .message_mut()
                .attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        match request.execute().await {
            Ok(()) => Ok(()),
            // Idempotent: the address is already there.
            Err(e) if errno_of(&e) == Some(EEXIST) => Ok(()),
            Err(e) => Err(map_err(format!("add address {net} on link {index}"), e)),
        }
    }

    fn prepare_addresses(&self, index: u32, nets: &[IpNet]) {
        if let Ok(mut inner) = self.direct.inner.lock() {
            inner.batch(index, nets);
        }
    }

    async fn add_addresses(&self, index: u32, nets: &[IpNet]) -> Vec<Result<()>> {
        match self.add_addresses_direct(index, nets) {
            Ok(errors) => nets
                .iter()
                .zip(errors)
                .map(|(net, error)| match error.map(i32::abs) {
                    // Idempotent: EEXIST means the address is already there. `None`: no
                    // acknowledgement for this one (cannot happen), counted as done.
                    Some(0) | Some(EEXIST) | None => Ok(()),
                    Some(errno) => Err(NetlinkError::Kernel {
                        op: format!("add address {net} on link {index}"),
                        errno,
                        message: std::io::Error::from_raw_os_error(errno).to_string(),
                    }),
                })
                .collect(),
            // The socket itself failed (not one address): the ordinary path, one by one.
            Err(e) => {
                tracing::debug!(error = %e, "direct netlink add failed; adding one by one");
                add_one_by_one(self, index, nets).await
            }
        }
    }

    async fn remove_address(&self, index: u32, net: IpNet) -> Result<()> {
        let message = address_message(index, net);
        match self.handle.address().del(message).execute().await {
            Ok(()) => Ok(()),
            // Idempotent: the address is already gone.
            Err(e) if errno_of(&e) == Some(EADDRNOTAVAIL) => Ok(()),
            Err(e) => Err(map_err(
                format!("remove address {net} from link {index}"),
                e,
            )),
        }
    }

    async fn subscribe(&self) -> Result<EventStream> {
        let groups = [
            MulticastGroup::Link,
            MulticastGroup::Ipv4Ifaddr,
            MulticastGroup::Ipv6Ifaddr,
        ];
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| NetlinkError::NoRuntime)?;
        let (connection, _handle, mut messages) =
            rtnetlink::new_multicast_connection(&groups).map_err(NetlinkError::Socket)?;
        let driver = runtime.spawn(connection);
        let (tx, rx) = mpsc::unbounded_channel();
        let mapper = runtime.spawn(async move {
            while let Some((message, _from)) = messages.next().await {
                let NetlinkPayload::InnerMessage(inner) = message.payload else {
                    continue;
                };
                let event = match inner {
                    RouteNetlinkMessage::NewLink(m) => Some(NetEvent::Link(link_from_message(&m))),
                    RouteNetlinkMessage::DelLink(m) => {
                        let link = link_from_message(&m);
                        Some(NetEvent::LinkRemoved {
                            index: link.index,
                            name: link.name,
                        })
                    }
                    RouteNetlinkMessage::NewAddress(m) => {
                        address_from_message(&m).map(NetEvent::AddressAdded)
                    }
                    RouteNetlinkMessage::DelAddress(m) => {
                        address_from_message(&m).map(NetEvent::AddressRemoved)
                    }
                    _ => None,
                };
                if let Some(event) = event
                    && tx.send(event).is_err()
                {
                    break; // the EventStream is gone
                }
            }
        });
        Ok(EventStream::new(
            rx,
            vec![driver.abort_handle(), mapper.abort_handle()],
        ))
    }

    async fn create_macvlan(&self, parent: u32, name: &str, mac: Mac) -> Result<LinkInfo> {
        validate_name(name)?;
        let message = LinkMacVlan::new(name, parent, MacVlanMode::Bridge)
            .address(mac.0.to_vec())
            .build();
        self.handle
            .link()
            .add(message)
            .execute()
            .await
            .map_err(|e| map_err(format!("create macvlan {name} ({mac}) on link {parent}"), e))?;
        self.link_by_name(name)
            .await?
            .ok_or_else(|| NetlinkError::NoSuchLink(name.to_owned()))
    }

    async fn delete_link(&self, index: u32) -> Result<()> {
        match self.handle.link().del(index).execute().await {
            Ok(()) => Ok(()),
            // Idempotent: already gone.
            Err(e) if errno_of(&e) == Some(ENODEV) => Ok(()),
            Err(e) => Err(map_err(format!("delete link {index}"), e)),
        }
    }

    async fn set_addr_gen_mode(&self, index: u32, mode: AddrGenMode) -> Result<()> {
        let nl_mode = match mode {
            AddrGenMode::Eui64 => In6AddrGenMode::Eui64,
            AddrGenMode::None => In6AddrGenMode::None,
            AddrGenMode::StablePrivacy => In6AddrGenMode::StablePrivacy,
            AddrGenMode::Random => In6AddrGenMode::Random,
        };
        let message = LinkUnspec::new_with_index(index)
            .append_extra_attribute(LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(
                vec![AfSpecInet6::AddrGenMode(nl_mode)],
            )]))
            .build();
        self.handle
            .link()
            .set(message)
            .execute()
            .await
            .map_err(|e| map_err(format!("set addr_gen_mode {mode:?} on link {index}"), e))
    }

    async fn set_link_up(&self, index: u32) -> Result<()> {
        let message = LinkUnspec::new_with_index(index).up().build();
        self.handle
            .link()
            .set(message)
            .execute()
            .await
            .map_err(|e| map_err(format!("set link {index} up"), e))
    }

    async fn set_link_down(&self, index: u32) -> Result<()> {
        let message = LinkUnspec::new_with_index(index).down().build();
        self.handle
            .link()
            .set(message)
            .execute()
            .await
            .map_err(|e| map_err(format!("set link {index} down"), e))
    }
}

/// Interface names as the kernel accepts them (dev_valid_name): 1..=15 bytes, not `.` or
/// `..`, no `/`, `:` or whitespace.
pub(crate) fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() < 16
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace());
    if ok {
        Ok(())
    } else {
        Err(NetlinkError::InvalidName(name.to_owned()))
    }
}

fn errno_of(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => Some(m.raw_code().abs()),
        _ => None,
    }
}

fn map_err(op: String, e: rtnetlink::Error) -> NetlinkError {
    match e {
        rtnetlink::Error::NetlinkError(m) => NetlinkError::Kernel {
            op,
            errno: m.raw_code().abs(),
            message: m.to_io().to_string(),
        },
        other => NetlinkError::Protocol {
            op,
            message: other.to_string(),
        },
    }
}

fn link_from_message(m: &LinkMessage) -> LinkInfo {
    let mut link = LinkInfo {
        index: m.header.index,
        name: String::new(),
        mac: None,
        up: m.header.flags.contains(LinkFlags::Up),
        lower_up: m.header.flags.contains(LinkFlags::LowerUp),
        oper: OperState::Unknown,
        mtu: 0,
        parent: None,
        kind: None,
    };
    for attribute in &m.attributes {
        match attribute {
            LinkAttribute::IfName(name) => link.name = name.clone(),
            LinkAttribute::Address(bytes) => {
                link.mac = <[u8; 6]>::try_from(bytes.as_slice()).ok().map(Mac);
            }
            LinkAttribute::Mtu(mtu) => link.mtu = *mtu,
            LinkAttribute::Link(parent) => link.parent = Some(*parent),
            LinkAttribute::OperState(state) => link.oper = oper_from(*state),
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    if let NlLinkInfo::Kind(kind) = info {
                        link.kind = Some(kind.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    link
}

fn oper_from(state: State) -> OperState {
    match state {
        State::Unknown => OperState::Unknown,
        State::NotPresent => OperState::NotPresent,
        State::Down => OperState::Down,
        State::LowerLayerDown => OperState::LowerLayerDown,
        State::Testing => OperState::Testing,
        State::Dormant => OperState::Dormant,
        State::Up => OperState::Up,
        State::Other(v) => OperState::Other(v),
        _ => OperState::Other(u8::MAX),
    }
}

fn address_from_message(m: &AddressMessage) -> Option<AddressInfo> {
    let mut local = None;
    let mut address = None;
    let mut flags = None;
    for attribute in &m.attributes {
        match attribute {
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Address(ip) => address = Some(*ip),
            AddressAttribute::Flags(f) => flags = Some(*f),
            _ => {}
        }
    }
    // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point
    // links and the same as IFA_LOCAL otherwise (IPv6 often sends only IFA_ADDRESS).
    let ip = local.or(address)?;
    let net = IpNet::new(ip, m.header.prefix_len).ok()?;
    // Without IFA_FLAGS, the header's 8 bits are the low byte of the same flag set.
    let flags =
        flags.unwrap_or_else(|| AddressFlags::from_bits_retain(u32::from(m.header.flags.bits())));
    Some(AddressInfo {
        index: m.header.index,
        net,
        tentative: flags.contains(AddressFlags::Tentative),
        dad_failed: flags.contains(AddressFlags::Dadfailed),
        secondary: flags.contains(AddressFlags::Secondary),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_a_tokio_runtime_is_an_error_not_a_panic() {
        assert!(matches!(RtNetlink::new(), Err(NetlinkError::NoRuntime)));
    }

    #[test]
    fn interface_names_are_checked_like_the_kernel() {
        for good in ["eth0", "vrrp.51", "a", "abcdefghijklmno"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "abcdefghijklmnop", "a/b", "a b", "a:b"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn link_messages_map_to_link_info() {
        let mut m = LinkMessage::default();
        m.header.index = 7;
        m.header.flags = LinkFlags::Up | LinkFlags::LowerUp;
        m.attributes = vec![
            LinkAttribute::IfName("vrrp4.51".into()),
            LinkAttribute::Address(vec![0, 0, 0x5e, 0, 1, 51]),
            LinkAttribute::Mtu(1500),
            LinkAttribute::Link(2),
            LinkAttribute::OperState(State::Up),
            LinkAttribute::LinkInfo(vec![NlLinkInfo::Kind(
                netlink_packet_route::link::InfoKind::MacVlan,
            )]),
        ];
        let link = link_from_message(&m);
        assert_eq!(link.index, 7);
        assert_eq!(link.name, "vrrp4.51");
        assert_eq!(link.mac, Some(Mac([0, 0, 0x5e, 0, 1, 51])));
        assert!(link.up && link.lower_up && link.is_running());
        assert_eq!(link.oper, OperState::Up);
        assert_eq!(link.mtu, 1500);
        assert_eq!(link.parent, Some(2));
        assert_eq!(link.kind.as_deref(), Some("macvlan"));
    }

    #[test]
    fn address_messages_map_to_address_info() {
        let mut m = AddressMessage::default();
        m.header.index = 3;
        m.header.prefix_len = 64;
        m.attributes = vec![
            AddressAttribute::Address("2001:db8::100".parse().unwrap()),
            AddressAttribute::Flags(AddressFlags::Nodad | AddressFlags::Tentative),
        ];
        let a = address_from_message(&m).unwrap();
        assert_eq!(a.index, 3);
        assert_eq!(a.net, "2001:db8::100/64".parse().unwrap());
        assert!(a.tentative && !a.dad_failed && !a.secondary);
        // IFA_LOCAL wins over IFA_ADDRESS (the peer on point-to-point links).
        m.attributes = vec![
            AddressAttribute::Address("192.0.2.1".parse().unwrap()),
            AddressAttribute::Local("192.0.2.100".parse().unwrap()),
        ];
        m.header.prefix_len = 24;
        assert_eq!(
            address_from_message(&m).unwrap().net,
            "192.0.2.100/24".parse().unwrap()
        );
        m.attributes.clear();
        assert_eq!(address_from_message(&m), None);
    }
}
