//! The sans-IO VRRP election engine of vrrp-rs: every rule of RFC 9568 §6 (VRRPv3) and
//! RFC 3768 §6 (VRRPv2), plus the keepalived extensions operators rely on (FAULT,
//! `preempt = false`, `preempt_delay`, tracking weights, sync groups, unicast peers).
//!
//! The engine does no IO and reads no clock (in the style of quinn-proto and str0m):
//!
//! - inputs: [`VirtualRouter::handle_command`], [`VirtualRouter::handle_advert`] /
//!   [`VirtualRouter::handle_packet`] and [`VirtualRouter::handle_timeout`], each with the
//!   current [`Instant`](std::time::Instant);
//! - outputs: one ordered queue, [`VirtualRouter::poll_output`], whose order is the order
//!   the side effects must happen in (becoming master: [`Action::AddAddresses`], the advert,
//!   [`Action::Announce`]; leaving master: [`Action::RemoveAddresses`] before the
//!   priority-0 advert), and one timer, [`VirtualRouter::poll_timeout`]. Calling
//!   `handle_timeout` early does nothing.
//! - [`Node`] holds many routers: it takes raw VRRP payloads, decodes each once with
//!   `vrrp-packet`, demultiplexes by interface, family and VRID, counts and reports every
//!   discard, and runs sync groups. Misbehaving peers are inputs, never errors.
//!
//! Two routers on a perfect wire; the one with the higher priority wins, the other stays
//! backup:
//!
//! ```
//! use std::net::IpAddr;
//! use std::time::{Duration, Instant};
//! use vrrp_election::{Command, InterfaceId, Node, Output, RouterConfig, RxMeta, State};
//!
//! let vip: IpAddr = "192.0.2.100".parse().unwrap();
//! let mut nodes: Vec<Node> = [("192.0.2.11", 200u8), ("192.0.2.12", 100)]
//!     .iter()
//!     .map(|(addr, prio)| {
//!         let mut cfg = RouterConfig::new(51, InterfaceId(1), addr.parse().unwrap(), vec![vip]);
//!         cfg.priority = *prio;
//!         let mut node = Node::new();
//!         node.add_router(cfg).unwrap();
//!         node
//!     })
//!     .collect();
//!
//! let start = Instant::now(); // the caller's clock; the engine never reads one
//! for n in &mut nodes {
//!     n.handle_command_all(start, Command::Startup);
//! }
//! // Drive both nodes for 10 s of virtual time, delivering every advert to the other node.
//! let mut now = start;
//! while now < start + Duration::from_secs(10) {
//!     for i in 0..nodes.len() {
//!         while let Some(out) = nodes[i].poll_output() {
//!             if let Output::Transmit(t) = out.output {
//!                 let meta = RxMeta { interface: InterfaceId(1), src: t.src, dst: t.dst, ttl: t.ttl };
//!                 nodes[1 - i].handle_packet(now, meta, &t.payload);
//!             }
//!         }
//!     }
//!     // Jump to the earliest timer of any node.
//!     now = nodes.iter().filter_map(|n| n.poll_timeout()).min().unwrap();
//!     for n in &mut nodes {
//!         n.handle_timeout(now);
//!     }
//! }
//! let states: Vec<State> = nodes.iter().map(|n| n.routers().next().unwrap().1.state()).collect();
//! assert_eq!(states, [State::Master, State::Backup]);
//! ```

mod config;
mod node;
mod router;
mod stats;
mod types;

pub use config::{ConfigError, InterfaceId, MAX_PREEMPT_DELAY, OWNER_PRIORITY, RouterConfig};
pub use node::{Node, NodeOutput, RouterId};
pub use router::VirtualRouter;
pub use stats::Stats;
pub use types::{Action, Command, DiscardReason, Event, Output, Reason, RxMeta, State, Transmit};

pub use vrrp_packet::{AddressFamily, Auth, ChecksumMode, Interval, Version};
