//! Linux network actions for VRRP: the things a master does to its host.
//!
//! - [`NetlinkOps`]: a small trait of our own for what a VRRP instance needs from the kernel:
//!   links by name or index, addresses (idempotent add and remove), link and address
//!   events, macvlans, IPv6 addr_gen_mode, link up/down. [`RtNetlink`] implements it with
//!   rtnetlink (no rtnetlink type appears in our API); [`FakeNetlink`] implements it in
//!   memory, with a log of calls and injected failures, for tests of the runtime.
//! - Virtual router MAC ([`create_vmac`], [`remove_vmac`], [`vmac_address`]): a macvlan with
//!   00-00-5E-00-01-{VRID} / 00-00-5E-00-02-{VRID}, its addr_gen_mode set after creation and
//!   before it comes up; [`prevent_arp_flux`] sets the parent's `arp_ignore`/`arp_filter`
//!   and restores them.
//! - Announcements: [`gratuitous_arp`] and [`unsolicited_na`] build the frames keepalived
//!   sends (with `pnet_packet`), [`Announcer`] sends one per call on an AF_PACKET socket;
//!   [`link_bind_address`] is the address to bind a capturing AF_PACKET socket with.
//!
//! Everything happens in the network namespace of the thread that opened the socket (or,
//! for sysctls, that called the function).
//!
//! ```
//! use vrrp_netlink::{FakeNetlink, Family, IpNet, Mac, NetlinkOps, VmacConfig, create_vmac};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let nl = FakeNetlink::new(); // or RtNetlink::new()? on Linux
//! let eth0 = nl.add_link("eth0", Mac([2, 0, 0, 0, 1, 0x11]));
//! let vip: IpNet = "192.0.2.100/24".parse()?;
//! nl.add_address(eth0, vip).await?;
//! nl.add_address(eth0, vip).await?; // already there: fine
//!
//! let vmac = create_vmac(&nl, &VmacConfig::new(eth0, 51, Family::V4)).await?;
//! assert_eq!(vmac.mac.to_string(), "00:00:5e:00:01:33");
//! assert!(vmac.link.up);
//!
//! let frame = vrrp_netlink::gratuitous_arp(vmac.mac, "192.0.2.100".parse()?);
//! assert_eq!(&frame[..6], &[0xff; 6]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod error;
mod fake;
mod frames;
mod ops;
mod packet_socket;
mod rtnl;
mod sysctl;
mod types;
mod vmac;

pub use error::{NetlinkError, Result};
pub use fake::{FakeNetlink, Op};
pub use frames::{
    ALL_NODES, ALL_NODES_MAC, ETHERTYPE_ARP, ETHERTYPE_IPV6, GARP_LEN, NA_LEN, ND_HOP_LIMIT,
    NeighborAdvert, PreparedAnnouncement, gratuitous_arp, unsolicited_na,
};
pub use ops::{EventStream, NetlinkOps};
pub use packet_socket::{Announcer, link_bind_address};
pub use rtnl::RtNetlink;
pub use sysctl::{
    ArpFluxGuard, Ipv6Forwarding, ipv6_forwarding, prevent_arp_flux, read_sysctl, write_sysctl,
};
pub use types::{
    AddrGenMode, AddressInfo, Family, IpNet, LinkInfo, Mac, NetEvent, OperState, eui64_link_local,
};
pub use vmac::{Vmac, VmacConfig, create_vmac, remove_vmac, vmac_address};
