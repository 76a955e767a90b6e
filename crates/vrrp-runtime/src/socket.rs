//! Raw VRRP sockets (IP protocol 112) on tokio: the only module of vrrp-runtime with `unsafe`.
//!
//! Like keepalived, each interface and family gets one **receive** socket (bound to the device,
//! joined to 224.0.0.18 / ff02::12, `IP_MULTICAST_ALL` off so it hears only the VRRP group) and
//! each (interface, family, source address) one **send** socket (bound to the source address so
//! adverts leave from the interface's primary address, or its link-local address for IPv6,
//! TTL / hop limit 255, multicast loop off, and a socket filter that drops everything it would
//! otherwise receive).
//!
//! What the receiver hands back is what the engine needs for RFC 9568 §7.1: source,
//! destination, TTL / hop limit and the bare VRRP payload. IPv4 raw sockets deliver the IP
//! header (its TTL byte is read directly); IPv6 raw sockets deliver the payload only, so the
//! hop limit and destination come from `IPV6_HOPLIMIT` / `IPV6_PKTINFO` control messages.
//! Both also carry the kernel's receive time (`SO_TIMESTAMPNS_NEW`): a backup's
//! Master_Down_Timer starts when the advert arrived, not when a sleepy process got round to
//! reading it (docs/performance.md, "Where the time goes").
//!
//! `unsafe` is needed for what neither socket2 nor rustix wraps: enabling
//! `IPV6_RECVPKTINFO` and `SO_TIMESTAMPNS_NEW`, viewing the kernel-filled receive and control
//! buffers as initialised bytes, and registering descriptors with tokio's reactor
//! (`AsyncFd::register`; the safe `AsyncFd::new` is deprecated), which the protocol timer's
//! `timerfd` (timer.rs) uses too. Each block says why it is sound.
#![allow(unsafe_code)]

use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::num::NonZeroU32;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use socket2::{Domain, MaybeUninitSlice, MsgHdrMut, Protocol, SockAddr, SockFilter, Socket, Type};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use vrrp_packet::ip::Ipv4Header;
use vrrp_packet::{AddressFamily, IP_PROTOCOL_VRRP, MULTICAST_V4, MULTICAST_V6};

/// Largest datagram we read: a VRRP message with 255 IPv6 addresses is 4088 bytes; add room
/// for an IPv4 header with options.
pub const RECV_BUFFER_LEN: usize = 4096 + 64;

/// The receive queue asked of the kernel (SO_RCVBUF; the kernel doubles it for bookkeeping).
pub const RECV_QUEUE_BYTES: usize = 2 * 1024 * 1024;

/// Metadata of one received VRRP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// IP source address.
    pub src: IpAddr,
    /// IP destination address (the VRRP group, or ours for unicast).
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// Interface the packet arrived on.
    pub ifindex: u32,
    /// Where the VRRP message starts in the receive buffer.
    pub payload_offset: usize,
    /// Length of the VRRP message.
    pub payload_len: usize,
    /// When the kernel received the packet (wall clock, `SO_TIMESTAMPNS_NEW`); `None` if the
    /// kernel did not say.
    pub kernel_time: Option<SystemTime>,
}

impl Received {
    /// The VRRP message inside `buf` (the buffer given to [`VrrpReceiver::recv`]).
    pub fn payload<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        buf.get(self.payload_offset..self.payload_offset + self.payload_len)
            .unwrap_or(&[])
    }
}

/// Descriptor types that own their descriptor for their whole life, which is what
/// `AsyncFd::register` needs: a raw VRRP socket, and the protocol timer's `timerfd`.
pub(crate) trait OwnsFd: AsRawFd {}
impl OwnsFd for Socket {}
impl OwnsFd for OwnedFd {}

/// Registers a descriptor with the tokio reactor.
pub(crate) fn register<T: OwnsFd>(io: T, interest: Interest) -> io::Result<AsyncFd<T>> {
    // SAFETY: an `OwnsFd` type (`socket2::Socket`, `OwnedFd`) owns its descriptor: it stays
    // open and refers to the same file until the value is dropped, which happens only when
    // the `AsyncFd` is dropped or unwrapped, and `as_raw_fd` always returns that same
    // descriptor.
    unsafe { AsyncFd::register_with_interest(io, interest) }.map_err(|e| e.into_parts().1)
}

fn raw_socket(family: AddressFamily) -> io::Result<Socket> {
    let domain = match family {
        AddressFamily::Ipv4 => Domain::IPV4,
        AddressFamily::Ipv6 => Domain::IPV6,
    };
    let socket = Socket::new(
        domain,
        Type::RAW,
        Some(Protocol::from(i32::from(IP_PROTOCOL_VRRP))),
    )?;
    socket.set_nonblocking(true)?;
    socket.set_cloexec(true)?;
    Ok(socket)
}

/// Which VRRP packets a [`VrrpReceiver`] hears. Each kind gets its own kernel queue, so that a
/// flood of one kind cannot push the others out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReceiveScope {
    /// Adverts to the VRRP group (224.0.0.18 / ff02::12): the socket is bound to the group
    /// address and joins it.
    Group,
    /// Unicast adverts to this host from anyone (keepalived's unicast mode). Adverts of
    /// configured peers also arrive on their own [`ReceiveScope::From`] sockets.
    Unicast,
    /// Unicast adverts from one peer only: the socket is connected to it, so the kernel
    /// gives it nothing else (raw sockets match the connected address against the source).
    From(IpAddr),
}

/// Receives VRRP packets on one interface for one family.
#[derive(Debug)]
pub struct VrrpReceiver {
    fd: AsyncFd<Socket>,
    family: AddressFamily,
    ifindex: u32,
}

impl VrrpReceiver {
    /// Opens a receive socket for the VRRP group on interface `ifname` (index `ifindex`) and
    /// joins the group there. Needs CAP_NET_RAW.
    pub fn open(family: AddressFamily, ifname: &str, ifindex: u32) -> io::Result<Self> {
        Self::open_scoped(family, ifname, ifindex, ReceiveScope::Group)
    }

    /// Opens a receive socket on interface `ifname` (index `ifindex`) that hears `scope`.
    /// Needs CAP_NET_RAW.
    pub fn open_scoped(
        family: AddressFamily,
        ifname: &str,
        ifindex: u32,
        scope: ReceiveScope,
    ) -> io::Result<Self> {
        let socket = raw_socket(family)?;
        socket.bind_device(Some(ifname.as_bytes()))?;
        match family {
            AddressFamily::Ipv4 => {
                // Hear only the groups this socket joined, not every group joined on the host.
                socket.set_multicast_all_v4(false)?;
                if scope == ReceiveScope::Group {
                    // Bound to the group: unicast packets (a flood at our own address, say)
                    // go to other sockets.
                    socket.bind(&SockAddr::from(SocketAddr::from((MULTICAST_V4, 0))))?;
                    socket.join_multicast_v4_n(
                        &MULTICAST_V4,
                        &socket2::InterfaceIndexOrAddress::Index(ifindex),
                    )?;
                }
            }
            AddressFamily::Ipv6 => {
                socket.set_multicast_all_v6(false)?;
                if scope == ReceiveScope::Group {
                    socket.bind(&SockAddr::from(SocketAddrV6::new(
                        MULTICAST_V6,
                        0,
                        0,
                        ifindex,
                    )))?;
                    socket.join_multicast_v6(&MULTICAST_V6, ifindex)?;
                }
                // RFC 9568 §7.1: the hop limit must be checked; ask for it with each packet.
                socket.set_recv_hoplimit_v6(true)?;
                set_int_option(&socket, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)?;
            }
        }
        // The kernel's receive time with each packet. Optional: without it (a kernel before
        // 5.1) the packet's time is when it is read.
        if let Err(e) = set_int_option(&socket, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS_NEW, 1) {
            tracing::debug!(error = %e, "no kernel receive timestamps");
        }
        if let ReceiveScope::From(peer) = scope {
            let addr = match peer {
                IpAddr::V4(v4) => SockAddr::from(SocketAddr::from((v4, 0))),
                IpAddr::V6(v6) => {
                    let scope_id = if vrrp_packet::ip::is_ipv6_link_local(&v6) {
                        ifindex
                    } else {
                        0
                    };
                    SockAddr::from(SocketAddrV6::new(v6, 0, 0, scope_id))
                }
            };
            socket.connect(&addr)?;
        }
        // A burst of forged packets must not push out the real master's adverts while the
        // loop is busy: a deep queue (about 5000 adverts; 50 ms of a 10^5/s flood). The
        // forced form passes net.core.rmem_max with CAP_NET_ADMIN; without it the kernel's
        // limit applies.
        if rustix::net::sockopt::set_socket_recv_buffer_size_force(&socket, RECV_QUEUE_BYTES)
            .is_err()
        {
            let _ = socket.set_recv_buffer_size(RECV_QUEUE_BYTES);
        }
        Ok(VrrpReceiver {
            fd: register(socket, Interest::READABLE)?,
            family,
            ifindex,
        })
    }

    /// The family this socket receives.
    pub fn family(&self) -> AddressFamily {
        self.family
    }

    /// The interface index this socket is bound to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Waits for the next packet and returns its metadata; the VRRP message is
    /// [`Received::payload`] of `buf`. Packets too malformed to carry addresses (a broken IPv4
    /// header) are returned as errors of kind `InvalidData` so the caller can count them and
    /// go on.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| self.recv_now(fd.get_ref(), buf)) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }

    /// One non-blocking receive.
    fn recv_now(&self, socket: &Socket, buf: &mut [u8]) -> io::Result<Received> {
        let mut control = [MaybeUninit::<u8>::new(0); CONTROL_LEN];
        let mut addr = SockAddr::from(SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)));
        // SAFETY: `[u8]` and `[MaybeUninit<u8>]` have the same layout, and the kernel only ever
        // writes initialised bytes into the buffer; nothing uninitialised is written through
        // this view.
        let uninit: &mut [MaybeUninit<u8>] =
            unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
        let mut bufs = [MaybeUninitSlice::new(uninit)];
        let (n, control_len) = {
            let mut msg = MsgHdrMut::new()
                .with_addr(&mut addr)
                .with_buffers(&mut bufs)
                .with_control(&mut control);
            let n = socket.recvmsg(&mut msg, 0)?;
            (n, msg.control_len())
        };
        // SAFETY: `control` was fully initialised (to zero) when it was created, and the kernel
        // writes only initialised bytes; `control_len` is at most its length.
        let control: &[u8] = unsafe {
            std::slice::from_raw_parts(
                control.as_ptr().cast::<u8>(),
                control_len.min(control.len()),
            )
        };
        let cmsgs = parse_cmsgs(control);
        let n = n.min(buf.len());
        match self.family {
            AddressFamily::Ipv4 => {
                let bytes = buf.get(..n).unwrap_or(&[]);
                let header = Ipv4Header::new_checked(bytes)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                Ok(Received {
                    src: IpAddr::V4(header.src()),
                    dst: IpAddr::V4(header.dst()),
                    ttl: header.ttl(),
                    ifindex: self.ifindex,
                    payload_offset: header.header_len(),
                    payload_len: header.payload().len(),
                    kernel_time: cmsgs.kernel_time,
                })
            }
            AddressFamily::Ipv6 => {
                let src = addr
                    .as_socket_ipv6()
                    .map(|a| *a.ip())
                    .unwrap_or(Ipv6Addr::UNSPECIFIED);
                Ok(Received {
                    src: IpAddr::V6(src),
                    dst: IpAddr::V6(cmsgs.dst.unwrap_or(MULTICAST_V6)),
                    // Without the control message the hop limit is unknown; 0 fails the
                    // check safely.
                    ttl: cmsgs.hop_limit.unwrap_or(0),
                    ifindex: cmsgs.ifindex.unwrap_or(self.ifindex),
                    payload_offset: 0,
                    payload_len: n,
                    kernel_time: cmsgs.kernel_time,
                })
            }
        }
    }
}

/// Room for the control messages we ask for: hop limit (20 bytes with its header), packet
/// info (36) and the timestamp (32), each aligned to 8 bytes.
const CONTROL_LEN: usize = 128;

/// Sets an `int` socket option that neither socket2 nor rustix wraps (`IPV6_RECVPKTINFO`,
/// RFC 3542 §6.1; `SO_TIMESTAMPNS_NEW`).
fn set_int_option(
    socket: &Socket,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: the fd is a valid open socket owned by `socket` for the duration of the call; the
    // option value points to a live c_int and its exact size is passed.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// What the control messages told us.
#[derive(Debug, Default, PartialEq, Eq)]
struct Cmsgs {
    hop_limit: Option<u8>,
    dst: Option<Ipv6Addr>,
    ifindex: Option<u32>,
    kernel_time: Option<SystemTime>,
}

/// Parses the control buffer byte by byte (no pointer casts): `struct cmsghdr { size_t len;
/// int level; int type; }` followed by data, each message aligned to `size_t`.
fn parse_cmsgs(control: &[u8]) -> Cmsgs {
    const ALIGN: usize = std::mem::size_of::<usize>();
    const HDR: usize = ALIGN + 8; // len + level + type, already a multiple of ALIGN on Linux
    let mut out = Cmsgs::default();
    let mut off = 0;
    while off + HDR <= control.len() {
        let Some(len_bytes) = control.get(off..off + ALIGN) else {
            break;
        };
        let mut len_arr = [0u8; ALIGN];
        len_arr.copy_from_slice(len_bytes);
        let len = usize::from_ne_bytes(len_arr);
        if len < HDR || off + len > control.len() {
            break;
        }
        let level = i32::from_ne_bytes(array(&control[off + ALIGN..off + ALIGN + 4]));
        let kind = i32::from_ne_bytes(array(&control[off + ALIGN + 4..off + ALIGN + 8]));
        let data = &control[off + HDR..off + len];
        if level == libc::IPPROTO_IPV6 {
            if kind == libc::IPV6_HOPLIMIT && data.len() >= 4 {
                let v = i32::from_ne_bytes(array(&data[..4]));
                out.hop_limit = u8::try_from(v).ok();
            } else if kind == libc::IPV6_PKTINFO && data.len() >= 20 {
                // struct in6_pktinfo { struct in6_addr addr; unsigned int ifindex; }
                let mut a = [0u8; 16];
                a.copy_from_slice(&data[..16]);
                out.dst = Some(Ipv6Addr::from(a));
                out.ifindex = Some(u32::from_ne_bytes(array(&data[16..20])));
            }
        } else if level == libc::SOL_SOCKET && kind == libc::SO_TIMESTAMPNS_NEW && data.len() >= 16
        {
            // struct __kernel_timespec { s64 tv_sec; s64 tv_nsec; } on every architecture.
            let sec = i64::from_ne_bytes(array(&data[..8]));
            let nsec = i64::from_ne_bytes(array(&data[8..16]));
            if let (Ok(sec), Ok(nsec)) = (u64::try_from(sec), u32::try_from(nsec))
                && nsec < 1_000_000_000
            {
                out.kernel_time = UNIX_EPOCH.checked_add(Duration::new(sec, nsec));
            }
        }
        off += len.div_ceil(ALIGN) * ALIGN;
    }
    out
}

/// The first `N` bytes of `b` as an array (zero-padded if `b` is shorter: never panics).
fn array<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    for (d, s) in a.iter_mut().zip(b) {
        *d = *s;
    }
    a
}

/// Sends VRRP packets from one source address on one interface.
#[derive(Debug)]
pub struct VrrpSender {
    fd: AsyncFd<Socket>,
    family: AddressFamily,
    src: IpAddr,
    ifindex: u32,
}

impl VrrpSender {
    /// Opens a send socket on `ifname` / `ifindex` whose packets leave from `src` (the
    /// interface's primary IPv4 address, or its IPv6 link-local address: RFC 9568 §5.1.1.1,
    /// §5.1.2.1) with TTL / hop limit 255 (§5.1.1.3, §5.1.2.2).
    pub fn open(ifname: &str, ifindex: u32, src: IpAddr) -> io::Result<Self> {
        let family = AddressFamily::of(&src);
        let socket = raw_socket(family)?;
        socket.bind_device(Some(ifname.as_bytes()))?;
        // This socket only sends: drop everything the kernel would queue on it.
        socket.attach_filter(&[SockFilter::new(0x06, 0, 0, 0)])?;
        match src {
            IpAddr::V4(v4) => {
                socket.bind(&SockAddr::from(SocketAddr::from((v4, 0))))?;
                // By index, not by address: with a VMAC the source address belongs to the
                // parent interface while the packets leave from the macvlan.
                rustix::net::sockopt::set_ip_multicast_if_with_ifindex(
                    &socket,
                    &MULTICAST_V4,
                    &v4,
                    ifindex,
                )?;
                socket.set_multicast_ttl_v4(255)?;
                socket.set_ttl_v4(255)?;
                socket.set_multicast_loop_v4(false)?;
            }
            IpAddr::V6(v6) => {
                let scope = if vrrp_packet::ip::is_ipv6_link_local(&v6) {
                    ifindex
                } else {
                    0
                };
                socket.bind(&SockAddr::from(SocketAddrV6::new(v6, 0, 0, scope)))?;
                socket.set_multicast_if_v6(ifindex)?;
                socket.set_multicast_hops_v6(255)?;
                socket.set_unicast_hops_v6(255)?;
                socket.set_multicast_loop_v6(false)?;
            }
        }
        Ok(VrrpSender {
            fd: register(socket, Interest::WRITABLE)?,
            family,
            src,
            ifindex,
        })
    }

    /// The source address packets leave from.
    pub fn src(&self) -> IpAddr {
        self.src
    }

    /// The family of this socket.
    pub fn family(&self) -> AddressFamily {
        self.family
    }

    /// Sends one VRRP message (already checksummed for `src` → `dst`) to `dst`.
    pub async fn send(&self, dst: IpAddr, payload: &[u8]) -> io::Result<()> {
        let addr = match dst {
            IpAddr::V4(v4) => SockAddr::from(SocketAddr::from((v4, 0))),
            IpAddr::V6(v6) => {
                let scope = if v6.is_multicast() || vrrp_packet::ip::is_ipv6_link_local(&v6) {
                    self.ifindex
                } else {
                    0
                };
                SockAddr::from(SocketAddrV6::new(v6, 0, 0, scope))
            }
        };
        loop {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|fd| fd.get_ref().send_to(payload, &addr)) {
                Ok(result) => return result.map(|_| ()),
                Err(_would_block) => continue,
            }
        }
    }
}

/// The interface index of `ifname`, if it exists.
pub fn ifindex_of(ifname: &str) -> Option<NonZeroU32> {
    let path = format!("/sys/class/net/{ifname}/ifindex");
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// True for an IPv4 destination that is the VRRP group.
pub fn is_vrrp_group(dst: &IpAddr) -> bool {
    match dst {
        IpAddr::V4(v4) => *v4 == MULTICAST_V4,
        IpAddr::V6(v6) => *v6 == MULTICAST_V6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmsg(level: i32, kind: i32, data: &[u8]) -> Vec<u8> {
        const ALIGN: usize = std::mem::size_of::<usize>();
        let len = ALIGN + 8 + data.len();
        let mut v = Vec::new();
        v.extend_from_slice(&len.to_ne_bytes());
        v.extend_from_slice(&level.to_ne_bytes());
        v.extend_from_slice(&kind.to_ne_bytes());
        v.extend_from_slice(data);
        while v.len() % ALIGN != 0 {
            v.push(0);
        }
        v
    }

    #[test]
    fn parses_hop_limit_and_pktinfo() {
        let mut control = cmsg(
            libc::IPPROTO_IPV6,
            libc::IPV6_HOPLIMIT,
            &255i32.to_ne_bytes(),
        );
        let mut info = MULTICAST_V6.octets().to_vec();
        info.extend_from_slice(&7u32.to_ne_bytes());
        control.extend(cmsg(libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, &info));
        let parsed = parse_cmsgs(&control);
        assert_eq!(
            parsed,
            Cmsgs {
                hop_limit: Some(255),
                dst: Some(MULTICAST_V6),
                ifindex: Some(7),
                kernel_time: None,
            }
        );
    }

    #[test]
    fn parses_the_kernel_receive_time() {
        let mut stamp = 1_795_000_000i64.to_ne_bytes().to_vec();
        stamp.extend_from_slice(&123_456_789i64.to_ne_bytes());
        let mut control = cmsg(libc::SOL_SOCKET, libc::SO_TIMESTAMPNS_NEW, &stamp);
        control.extend(cmsg(
            libc::IPPROTO_IPV6,
            libc::IPV6_HOPLIMIT,
            &255i32.to_ne_bytes(),
        ));
        let parsed = parse_cmsgs(&control);
        assert_eq!(
            parsed.kernel_time,
            Some(UNIX_EPOCH + Duration::new(1_795_000_000, 123_456_789))
        );
        assert_eq!(parsed.hop_limit, Some(255));
        // Nonsense from the kernel (negative seconds, nanoseconds ≥ 10⁹) is no time at all.
        for (sec, nsec) in [(-1i64, 0i64), (1, 1_000_000_000), (1, -1)] {
            let mut stamp = sec.to_ne_bytes().to_vec();
            stamp.extend_from_slice(&nsec.to_ne_bytes());
            let control = cmsg(libc::SOL_SOCKET, libc::SO_TIMESTAMPNS_NEW, &stamp);
            assert_eq!(parse_cmsgs(&control).kernel_time, None, "{sec} {nsec}");
        }
    }

    #[test]
    fn garbage_control_buffers_do_not_panic() {
        for len in 0..64 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let _ = parse_cmsgs(&junk);
        }
        // A header claiming more bytes than present stops the walk.
        let mut c = cmsg(
            libc::IPPROTO_IPV6,
            libc::IPV6_HOPLIMIT,
            &64i32.to_ne_bytes(),
        );
        c[0] = 200;
        assert_eq!(parse_cmsgs(&c), Cmsgs::default());
    }
}
