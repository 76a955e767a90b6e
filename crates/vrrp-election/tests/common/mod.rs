//! Helpers shared by the engine's integration tests.
#![allow(dead_code, unreachable_pub, missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::IpAddr;
use std::time::{Duration, Instant};

use vrrp_election::{
    Action, Auth, ChecksumMode, Event, InterfaceId, Interval, Output, RouterConfig, RxMeta, Version,
};
use vrrp_packet::{AddressList, ChecksumContext, VrrpRepr};

pub const IF1: InterfaceId = InterfaceId(1);

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A fixed origin for the fake clock. Tests never sleep; time only moves by addition.
#[allow(clippy::disallowed_methods)]
pub fn t0() -> Instant {
    Instant::now()
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// VRRPv3 IPv4 config: VRID 51, primary 192.0.2.<host>, VIP 192.0.2.100.
pub fn v3(host: u8, priority: u8) -> RouterConfig {
    let mut c = RouterConfig::new(
        51,
        IF1,
        ip(&format!("192.0.2.{host}")),
        vec![ip("192.0.2.100")],
    );
    c.priority = priority;
    c
}

pub fn v2(host: u8, priority: u8) -> RouterConfig {
    let mut c = v3(host, priority);
    c.version = Version::V2;
    c
}

pub fn v6(host: u16, priority: u8) -> RouterConfig {
    let mut c = RouterConfig::new(
        51,
        IF1,
        ip(&format!("fe80::{host:x}")),
        vec![ip("2001:db8::100")],
    );
    c.priority = priority;
    c
}

/// A peer's advert, as the runtime would hand it over.
#[derive(Clone, Debug)]
pub struct Adv {
    pub version: Version,
    pub vrid: u8,
    pub priority: u8,
    pub interval_cs: u16,
    pub auth: Auth,
    pub addresses: Vec<IpAddr>,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    pub mode: ChecksumMode,
}

impl Adv {
    /// A v3 advert for VRID 51 / 192.0.2.100 from 192.0.2.<host>.
    pub fn v3(host: u8, priority: u8) -> Adv {
        Adv {
            version: Version::V3,
            vrid: 51,
            priority,
            interval_cs: 100,
            auth: Auth::None,
            addresses: vec![ip("192.0.2.100")],
            src: ip(&format!("192.0.2.{host}")),
            dst: ip("224.0.0.18"),
            ttl: 255,
            mode: ChecksumMode::PseudoHeader,
        }
    }

    pub fn v2(host: u8, priority: u8) -> Adv {
        Adv {
            version: Version::V2,
            ..Adv::v3(host, priority)
        }
    }

    pub fn v6(host: u16, priority: u8) -> Adv {
        Adv {
            addresses: vec![ip("2001:db8::100")],
            src: ip(&format!("fe80::{host:x}")),
            dst: ip("ff02::12"),
            ..Adv::v3(1, priority)
        }
    }

    pub fn interval(mut self, cs: u16) -> Adv {
        self.interval_cs = cs;
        self
    }

    pub fn meta(&self) -> RxMeta {
        RxMeta {
            interface: IF1,
            src: self.src,
            dst: self.dst,
            ttl: self.ttl,
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        let v4: Vec<_> = self
            .addresses
            .iter()
            .filter_map(|a| match a {
                IpAddr::V4(a) => Some(*a),
                IpAddr::V6(_) => None,
            })
            .collect();
        let v6: Vec<_> = self
            .addresses
            .iter()
            .filter_map(|a| match a {
                IpAddr::V6(a) => Some(*a),
                IpAddr::V4(_) => None,
            })
            .collect();
        let addresses = if v6.is_empty() {
            AddressList::ipv4(&v4)
        } else {
            AddressList::ipv6(&v6)
        };
        let repr = VrrpRepr {
            version: self.version,
            vrid: self.vrid,
            priority: self.priority,
            advert_interval: Interval::from_centis(self.interval_cs),
            auth: self.auth,
            addresses,
        };
        let mut buf = vec![0u8; repr.buffer_len()];
        let n = repr
            .emit(
                &mut buf,
                &ChecksumContext {
                    src: self.src,
                    dst: self.dst,
                    mode: self.mode,
                },
            )
            .unwrap();
        buf.truncate(n);
        buf
    }
}

/// One output as a short line, so that tests compare whole ordered sequences.
pub fn describe(o: &Output) -> String {
    match o {
        Output::Transmit(t) => {
            let (repr, _) = VrrpRepr::decode(&t.payload, t.src, t.dst).unwrap();
            assert_eq!(repr.priority, t.priority);
            assert_eq!(t.ttl, 255);
            format!("tx prio {} to {}", repr.priority, t.dst)
        }
        Output::Action(Action::AddAddresses { accept, .. }) => {
            format!("add vips accept={accept}")
        }
        Output::Action(Action::RemoveAddresses { .. }) => "remove vips".into(),
        Output::Action(Action::Announce { .. }) => "announce".into(),
        Output::Action(a) => format!("{a:?}"),
        Output::Event(Event::StateChanged { from, to, reason }) => {
            format!("{from}->{to} {}", reason.as_str())
        }
        Output::Event(Event::Discarded { reason, .. }) => {
            format!("discard {}", reason.counter())
        }
        Output::Event(Event::AddressListMismatch { .. }) => "address list mismatch".into(),
        Output::Event(Event::PriorityChanged { from, to }) => format!("priority {from}->{to}"),
        Output::Event(e) => format!("{e:?}"),
    }
}
