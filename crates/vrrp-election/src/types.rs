//! Inputs and outputs of the engine.

use std::net::IpAddr;
use std::sync::Arc;

use vrrp_packet::{DecodeError, MismatchError};

use crate::config::InterfaceId;

/// The state of a virtual router (RFC 9568 §6.4, plus keepalived's FAULT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// Not running: waiting for [`Command::Startup`] (RFC 9568 §6.4.1).
    Initialize,
    /// Watching the master; takes over when it goes silent (RFC 9568 §6.4.2).
    Backup,
    /// Owns the virtual addresses and advertises (RFC 9568 §6.4.3; "Active" in RFC 9568).
    Master,
    /// keepalived extension: a failed probe without weight, or the interface is down. Silent,
    /// no addresses, until the fault clears.
    Fault,
}

impl State {
    /// `"INIT"`, `"BACKUP"`, `"MASTER"` or `"FAULT"` (the words keepalived's notify uses).
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Initialize => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
        }
    }
}

impl core::fmt::Display for State {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a router changed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Reason {
    /// [`Command::Startup`]: Initialize → Backup (RFC 9568 §6.4.1).
    Startup,
    /// Startup (or fault cleared) as the address owner: straight to Master (RFC 9568 §6.4.1).
    AddressOwner,
    /// The Master_Down_Timer fired: the master went silent (RFC 9568 §6.4.2).
    MasterDownTimer,
    /// The Master_Down_Timer fired Skew_Time after the master resigned with priority 0
    /// (RFC 9568 §6.4.2).
    PriorityZeroReceived,
    /// We preempted a lower-priority master: its adverts were discarded (preempt on) and
    /// our Master_Down_Timer fired (RFC 9568 §6.4.2).
    Preempt,
    /// Master → Backup: an advert with a higher priority, or an equal priority from a
    /// higher primary address (RFC 9568 §6.4.3).
    HigherPriority,
    /// [`Command::Shutdown`] (RFC 9568 §6.4.2, §6.4.3).
    Shutdown,
    /// Entered FAULT: probe failure or interface down.
    Fault,
    /// Left FAULT.
    FaultCleared,
    /// Moved by its sync group (another member left MASTER, entered or left FAULT, or the
    /// whole group became master).
    SyncGroup,
}

impl Reason {
    /// A stable snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::Startup => "startup",
            Reason::AddressOwner => "address_owner",
            Reason::MasterDownTimer => "master_down_timer",
            Reason::PriorityZeroReceived => "priority_zero_received",
            Reason::Preempt => "preempt",
            Reason::HigherPriority => "higher_priority",
            Reason::Shutdown => "shutdown",
            Reason::Fault => "fault",
            Reason::FaultCleared => "fault_cleared",
            Reason::SyncGroup => "sync_group",
        }
    }
}

/// An input that is not a packet or a timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// Start the router (RFC 9568 §6.4.1 Startup event).
    Startup,
    /// Stop it: a master removes its addresses and sends a priority-0 advert (RFC 9568
    /// §6.4.3).
    Shutdown,
    /// Set the sum of the tracking weights: the effective priority is base + offset, clamped
    /// to 1..=254; an owner's 255 never changes (keepalived semantics).
    SetPriorityOffset(i16),
    /// A probe without weight failed (`true`) or recovered (`false`): FAULT while failed.
    SetFault(bool),
    /// The interface came up.
    InterfaceUp,
    /// The interface went down: FAULT until it comes back.
    InterfaceDown,
}

/// What the runtime knows about a received packet besides its VRRP payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxMeta {
    /// The interface it arrived on.
    pub interface: InterfaceId,
    /// IP source address.
    pub src: IpAddr,
    /// IP destination address (the multicast group, or our address for unicast).
    pub dst: IpAddr,
    /// IPv4 TTL / IPv6 hop limit.
    pub ttl: u8,
}

/// A VRRP message to send, encoded with its checksum. Send it with IP protocol 112, TTL /
/// hop limit `ttl` (RFC 9568 §5.1.1.3, §5.1.2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The interface to send on.
    pub interface: InterfaceId,
    /// IP source address (the configured primary address).
    pub src: IpAddr,
    /// IP destination: 224.0.0.18, ff02::12, or a unicast peer.
    pub dst: IpAddr,
    /// TTL / hop limit: always 255.
    pub ttl: u8,
    /// The priority written in the advert (0 when resigning).
    pub priority: u8,
    /// The encoded VRRP message.
    pub payload: Vec<u8>,
}

/// A side effect on the host's network configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Add the virtual addresses to the interface (becoming master).
    AddAddresses {
        /// The interface.
        interface: InterfaceId,
        /// The virtual addresses.
        addresses: Arc<[IpAddr]>,
        /// Accept packets sent to them (owner or Accept_Mode, RFC 9568 §6.4.3); otherwise the
        /// runtime drops them (they are answered for ARP/ND only).
        accept: bool,
    },
    /// Remove the virtual addresses (leaving master). Always before the priority-0 advert.
    RemoveAddresses {
        /// The interface.
        interface: InterfaceId,
        /// The virtual addresses.
        addresses: Arc<[IpAddr]>,
    },
    /// Announce the addresses: gratuitous ARP (IPv4) or unsolicited NA with Override set
    /// (IPv6), RFC 9568 §6.4.1-6.4.2. Repeats (garp_master_repeat, ...) are the runtime's.
    Announce {
        /// The interface.
        interface: InterfaceId,
        /// The virtual addresses.
        addresses: Arc<[IpAddr]>,
    },
}

/// Why a received advert was discarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiscardReason {
    /// Malformed: the codec refused it (version, type, length, count, interval, checksum...).
    Decode(DecodeError),
    /// Well formed but not for us: version, VRID, v2 interval or v2 auth (RFC 9568 §7.1,
    /// RFC 3768 §7.1).
    Mismatch(MismatchError),
    /// TTL / hop limit is not 255 (RFC 9568 §7.1).
    Ttl(u8),
    /// The address list differs from ours (RFC 3768 §7.1 for v2; v3 only with
    /// `discard_address_mismatch`).
    AddressList,
    /// Unicast mode: the source is not a configured peer.
    UnicastSource,
    /// We are the address owner: adverts for our VRID are ignored (RFC 9568 §7.1).
    AddressOwner,
    /// Our own advert, looped back.
    OwnAdvert,
    /// The source address is not of the router's family.
    Family,
}

impl DiscardReason {
    /// The counter this discard increments (a field name of [`Stats`](crate::Stats)).
    pub const fn counter(&self) -> &'static str {
        match self {
            DiscardReason::Decode(e) => e.counter(),
            DiscardReason::Mismatch(e) => e.counter(),
            DiscardReason::Ttl(_) => "ttl_errors",
            DiscardReason::AddressList => "address_list_errors",
            DiscardReason::UnicastSource => "unicast_source_errors",
            DiscardReason::AddressOwner => "owner_discards",
            DiscardReason::OwnAdvert => "own_adverts",
            DiscardReason::Family => "family_errors",
        }
    }
}

impl core::fmt::Display for DiscardReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DiscardReason::Decode(e) => write!(f, "{e}"),
            DiscardReason::Mismatch(e) => write!(f, "{e}"),
            DiscardReason::Ttl(t) => write!(f, "TTL/hop limit {t} is not 255"),
            DiscardReason::AddressList => f.write_str("address list differs from ours"),
            DiscardReason::UnicastSource => f.write_str("source is not a unicast peer"),
            DiscardReason::AddressOwner => f.write_str("we are the address owner"),
            DiscardReason::OwnAdvert => f.write_str("our own advert"),
            DiscardReason::Family => f.write_str("wrong address family"),
        }
    }
}

/// Something the operator (logs, notify scripts, status) wants to know.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The state changed. Emitted after the actions of the transition.
    StateChanged {
        /// The old state.
        from: State,
        /// The new state.
        to: State,
        /// Why.
        reason: Reason,
    },
    /// A received advert was discarded (and counted).
    Discarded {
        /// The IP source of the advert.
        src: IpAddr,
        /// Why.
        reason: DiscardReason,
    },
    /// VRRPv3: an advert's address list differs from ours; logged, not discarded
    /// (RFC 9568 §7.1), and counted in `address_list_errors`.
    AddressListMismatch {
        /// The IP source of the advert.
        src: IpAddr,
    },
    /// The effective priority changed (tracking weights).
    PriorityChanged {
        /// Before.
        from: u8,
        /// After.
        to: u8,
    },
}

/// One output of the engine, in the order its side effects must happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send a VRRP message.
    Transmit(Transmit),
    /// Change the host's addresses or announce them.
    Action(Action),
    /// Tell the operator.
    Event(Event),
}
