//! One test per rule of RFC 9568 §6-7 / RFC 3768 §6-7 and each keepalived extension, each
//! asserting the exact ordered outputs. Time is a fake clock: `t0() + offset`.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use vrrp_election::{
    Action, Auth, ChecksumMode, Command, ConfigError, Event, InterfaceId, Interval, Node, Output,
    Reason, RouterConfig, RouterId, State, VirtualRouter,
};
use vrrp_packet::VrrpRepr;

fn drain(r: &mut VirtualRouter) -> Vec<String> {
    std::iter::from_fn(|| r.poll_output())
        .map(|o| describe(&o))
        .collect()
}

fn drain_node(n: &mut Node) -> Vec<String> {
    std::iter::from_fn(|| n.poll_output())
        .map(|o| match o.router {
            Some(RouterId(i)) => format!("r{i}: {}", describe(&o.output)),
            None => format!("node: {}", describe(&o.output)),
        })
        .collect()
}

fn started(cfg: RouterConfig, t: Instant) -> VirtualRouter {
    let mut r = VirtualRouter::new(cfg).unwrap();
    r.handle_command(t, Command::Startup);
    let _ = drain(&mut r);
    r
}

fn rx(r: &mut VirtualRouter, t: Instant, a: &Adv) {
    r.handle_packet(t, a.meta(), &a.bytes());
}

/// A router that has become master (through its Master_Down_Timer).
fn master(cfg: RouterConfig, t: Instant) -> (VirtualRouter, Instant) {
    let mut r = started(cfg, t);
    let fire = r.poll_timeout().unwrap();
    r.handle_timeout(fire);
    assert_eq!(r.state(), State::Master);
    let _ = drain(&mut r);
    (r, fire)
}

// ----- §6.1 parameters ------------------------------------------------------------------

#[test]
fn v3_skew_time_and_master_down_interval() {
    // RFC 9568 §6.1: Skew_Time = ((256 - 100) * 100 cs) / 256 = 60.9375 cs.
    let r = VirtualRouter::new(v3(11, 100)).unwrap();
    assert_eq!(r.skew_time(), Duration::from_micros(609_375));
    assert_eq!(r.master_down_interval(), Duration::from_micros(3_609_375));
    // 10 ms interval (1 cs), priority 254: (2 * 1 cs) / 256.
    let mut c = v3(11, 254);
    c.advert_interval = Interval::from_centis(1);
    let r = VirtualRouter::new(c).unwrap();
    assert_eq!(r.skew_time(), Duration::from_nanos(78_125));
    assert_eq!(r.master_down_interval(), Duration::from_nanos(30_078_125));
}

#[test]
fn v2_skew_time_is_in_seconds_and_ignores_interval() {
    // RFC 3768 §6.1: Skew_Time = (256 - Priority) / 256 s; MDI = 3 × interval + skew.
    let mut c = v2(11, 100);
    c.advert_interval = Interval::from_secs(2);
    let r = VirtualRouter::new(c).unwrap();
    assert_eq!(r.skew_time(), Duration::from_micros(609_375));
    assert_eq!(r.master_down_interval(), Duration::from_micros(6_609_375));
}

#[test]
fn config_is_validated() {
    let bad = |f: &dyn Fn(&mut RouterConfig)| {
        let mut c = v3(11, 100);
        f(&mut c);
        VirtualRouter::new(c).unwrap_err()
    };
    assert_eq!(bad(&|c| c.vrid = 0), ConfigError::VridZero);
    assert_eq!(bad(&|c| c.priority = 0), ConfigError::PriorityZero);
    assert_eq!(
        bad(&|c| c.virtual_addresses.clear()),
        ConfigError::AddressCount(0)
    );
    assert!(matches!(
        bad(&|c| c.virtual_addresses.push(ip("2001:db8::1"))),
        ConfigError::MixedFamilies { .. }
    ));
    assert!(matches!(
        bad(&|c| c.advert_interval = Interval::from_centis(4096)),
        ConfigError::Interval { .. }
    ));
    assert_eq!(
        bad(&|c| c.auth = Auth::simple_password("x")),
        ConfigError::AuthWithV3
    );
    assert!(matches!(
        bad(&|c| {
            c.version = vrrp_election::Version::V2;
            c.advert_interval = Interval::from_centis(50);
        }),
        ConfigError::Interval { .. }
    ));
    let mut c = v6(1, 100);
    c.version = vrrp_election::Version::V2;
    assert_eq!(VirtualRouter::new(c).unwrap_err(), ConfigError::V2Ipv6);
}

// ----- §6.4.1 Initialize ----------------------------------------------------------------

#[test]
fn startup_goes_backup_and_arms_master_down_timer() {
    let t = t0();
    let mut r = VirtualRouter::new(v3(11, 100)).unwrap();
    assert_eq!(r.state(), State::Initialize);
    assert_eq!(r.poll_timeout(), None);
    r.handle_command(t, Command::Startup);
    assert_eq!(drain(&mut r), ["INIT->BACKUP startup"]);
    assert_eq!(r.poll_timeout(), Some(t + Duration::from_micros(3_609_375)));
}

#[test]
fn owner_startup_goes_master_with_ordered_side_effects() {
    // RFC 9568 §6.4.1: priority 255 → advert, announce, Adver_Timer, Master.
    let t = t0();
    let mut r = VirtualRouter::new(v3(11, 255)).unwrap();
    r.handle_command(t, Command::Startup);
    assert_eq!(
        drain(&mut r),
        [
            "add vips accept=true",
            "tx prio 255 to 224.0.0.18",
            "announce",
            "INIT->MASTER address_owner"
        ]
    );
    assert_eq!(r.poll_timeout(), Some(t + ms(1000)));
}

// ----- §6.4.2 Backup --------------------------------------------------------------------

#[test]
fn master_down_timer_makes_master_in_order() {
    let t = t0();
    let mut r = started(v3(11, 100), t);
    let fire = t + Duration::from_micros(3_609_375);
    r.handle_timeout(fire);
    assert_eq!(
        drain(&mut r),
        [
            "add vips accept=false",
            "tx prio 100 to 224.0.0.18",
            "announce",
            "BACKUP->MASTER master_down_timer"
        ]
    );
    assert_eq!(r.poll_timeout(), Some(fire + ms(1000)));
    assert_eq!(r.stats().master_transitions, 1);
    assert_eq!(r.stats().adverts_sent, 1);
}

#[test]
fn early_timeout_is_a_noop() {
    let t = t0();
    let mut r = started(v3(11, 100), t);
    let deadline = r.poll_timeout().unwrap();
    r.handle_timeout(deadline - Duration::from_nanos(1));
    assert_eq!(drain(&mut r), Vec::<String>::new());
    assert_eq!(r.state(), State::Backup);
    assert_eq!(r.poll_timeout(), Some(deadline));
}

#[test]
fn backup_accepts_higher_and_equal_priority_and_resets_timer() {
    let t = t0();
    let mut r = started(v3(11, 100), t);
    rx(&mut r, t + ms(500), &Adv::v3(12, 200));
    assert_eq!(
        r.poll_timeout(),
        Some(t + ms(500) + r.master_down_interval())
    );
    // RFC 9568 §6.4.2: equal priority is accepted too (no tie-break in Backup).
    rx(&mut r, t + ms(1500), &Adv::v3(12, 100));
    assert_eq!(
        r.poll_timeout(),
        Some(t + ms(1500) + r.master_down_interval())
    );
    assert_eq!(drain(&mut r), Vec::<String>::new());
    assert_eq!(r.current_master(), Some((ip("192.0.2.12"), 100)));
    assert_eq!(r.stats().adverts_received, 2);
}

#[test]
fn v3_backup_learns_master_adver_interval_and_recomputes_skew() {
    // RFC 9568 §6.4.2: Master_Adver_Interval = the advert's interval; Skew_Time and
    // Master_Down_Interval recomputed.
    let t = t0();
    let mut r = started(v3(11, 100), t);
    rx(&mut r, t, &Adv::v3(12, 200).interval(50));
    assert_eq!(r.master_adver_interval(), Interval::from_centis(50));
    // 3 × 500 ms + (156 × 50 cs)/256 = 1.5 s + 304.6875 ms.
    assert_eq!(
        r.master_down_interval(),
        Duration::from_nanos(1_804_687_500)
    );
    assert_eq!(
        r.poll_timeout(),
        Some(t + Duration::from_nanos(1_804_687_500))
    );
}

#[test]
fn v2_backup_discards_interval_mismatch() {
    // RFC 3768 §7.1: an Adver Int different from ours is discarded and counted.
    let t = t0();
    let mut r = started(v2(11, 100), t);
    let deadline = r.poll_timeout();
    rx(&mut r, t + ms(100), &Adv::v2(12, 200).interval(200));
    assert_eq!(drain(&mut r), ["discard interval_errors"]);
    assert_eq!(r.poll_timeout(), deadline);
    assert_eq!(r.stats().interval_errors, 1);
    // The same advert with our interval is accepted, and v2 does not learn intervals.
    rx(&mut r, t + ms(200), &Adv::v2(12, 200));
    assert_eq!(
        r.poll_timeout(),
        Some(t + ms(200) + Duration::from_micros(3_609_375))
    );
}

#[test]
fn backup_preempts_a_lower_priority_master() {
    // RFC 9568 §6.4.2: preempt on, lower priority → discarded, the timer keeps running.
    let t = t0();
    let mut r = started(v3(11, 150), t);
    let deadline = r.poll_timeout().unwrap();
    rx(&mut r, t + ms(100), &Adv::v3(12, 100));
    assert_eq!(r.poll_timeout(), Some(deadline));
    r.handle_timeout(deadline);
    assert_eq!(
        drain(&mut r),
        [
            "add vips accept=false",
            "tx prio 150 to 224.0.0.18",
            "announce",
            "BACKUP->MASTER preempt"
        ]
    );
}

#[test]
fn backup_without_preempt_accepts_a_lower_priority_master() {
    let t = t0();
    let mut c = v3(11, 150);
    c.preempt = false;
    let mut r = started(c, t);
    rx(&mut r, t + ms(100), &Adv::v3(12, 100));
    assert_eq!(
        r.poll_timeout(),
        Some(t + ms(100) + r.master_down_interval())
    );
    assert_eq!(r.current_master(), Some((ip("192.0.2.12"), 100)));
}

#[test]
fn priority_zero_makes_backup_take_over_after_skew_time() {
    // RFC 9568 §6.4.2: priority 0 → Master_Down_Timer = Skew_Time.
    let t = t0();
    let mut r = started(v3(11, 100), t);
    rx(&mut r, t + ms(1000), &Adv::v3(12, 200));
    rx(&mut r, t + ms(1500), &Adv::v3(12, 0));
    let at = t + ms(1500) + Duration::from_micros(609_375);
    assert_eq!(r.poll_timeout(), Some(at));
    assert_eq!(r.stats().priority_zero_received, 1);
    r.handle_timeout(at);
    assert_eq!(
        drain(&mut r),
        [
            "add vips accept=false",
            "tx prio 100 to 224.0.0.18",
            "announce",
            "BACKUP->MASTER priority_zero_received"
        ]
    );
}

#[test]
fn shutdown_in_backup_is_silent() {
    let t = t0();
    let mut r = started(v3(11, 100), t);
    r.handle_command(t + ms(10), Command::Shutdown);
    assert_eq!(drain(&mut r), ["BACKUP->INIT shutdown"]);
    assert_eq!(r.poll_timeout(), None);
    // Not running: adverts are ignored.
    rx(&mut r, t + ms(20), &Adv::v3(12, 200));
    assert_eq!(drain(&mut r), Vec::<String>::new());
}

// ----- §6.4.3 Master --------------------------------------------------------------------

#[test]
fn adver_timer_sends_an_advert_and_rearms() {
    let t = t0();
    let (mut r, at) = master(v3(11, 100), t);
    r.handle_timeout(at + ms(1000));
    assert_eq!(drain(&mut r), ["tx prio 100 to 224.0.0.18"]);
    assert_eq!(r.poll_timeout(), Some(at + ms(2000)));
}

#[test]
fn master_yields_to_higher_priority_and_learns_interval() {
    let t = t0();
    let (mut r, at) = master(v3(11, 100), t);
    rx(&mut r, at + ms(10), &Adv::v3(12, 200).interval(200));
    assert_eq!(
        drain(&mut r),
        [
            "remove vips",
            "tx prio 100 to 224.0.0.18",
            "MASTER->BACKUP higher_priority"
        ]
    );
    // RFC 9568 §6.4.3: Master_Adver_Interval = 2 s: MDI = 6 s + (156 × 200 cs)/256.
    assert_eq!(r.master_adver_interval(), Interval::from_centis(200));
    assert_eq!(
        r.poll_timeout(),
        Some(at + ms(10) + Duration::from_micros(7_218_750))
    );
}

#[test]
fn equal_priority_tie_breaks_on_the_higher_primary_address() {
    let t = t0();
    // RFC 9568 §6.4.3: equal priority and a greater sender address → Backup.
    let (mut r, at) = master(v3(11, 100), t);
    rx(&mut r, at, &Adv::v3(12, 100));
    assert_eq!(
        drain(&mut r),
        [
            "remove vips",
            "tx prio 100 to 224.0.0.18",
            "MASTER->BACKUP higher_priority"
        ]
    );
    // ...and a smaller sender address → we stay master and assert ourselves at once.
    let (mut r, at) = master(v3(11, 100), t);
    rx(&mut r, at + ms(5), &Adv::v3(10, 100));
    assert_eq!(drain(&mut r), ["tx prio 100 to 224.0.0.18", "announce"]);
    assert_eq!(r.state(), State::Master);
    assert_eq!(r.poll_timeout(), Some(at + ms(1005)));
}

#[test]
fn ipv6_tie_break_compares_128_bit_addresses() {
    let t = t0();
    let (mut r, at) = master(v6(0x11, 100), t);
    rx(&mut r, at, &Adv::v6(0x10, 100));
    assert_eq!(r.state(), State::Master);
    let _ = drain(&mut r);
    rx(&mut r, at, &Adv::v6(0xff00, 100));
    assert_eq!(r.state(), State::Backup);
}

#[test]
fn master_answers_a_lower_priority_master_at_once() {
    // RFC 9568 §6.4.3: lower priority → discard and send an advert immediately; we also
    // announce again (split-brain heal).
    let t = t0();
    let (mut r, at) = master(v3(11, 150), t);
    rx(&mut r, at + ms(300), &Adv::v3(12, 100));
    assert_eq!(drain(&mut r), ["tx prio 150 to 224.0.0.18", "announce"]);
    assert_eq!(r.poll_timeout(), Some(at + ms(1300)));
}

#[test]
fn a_yielding_master_tells_the_new_master_once_so_it_re_announces() {
    // After a partition heals, two masters hear each other. Whichever hears the other first,
    // the clients must end up with the higher one's MAC: the lower one steps down (RFC 9568
    // §6.4.3) with one last advert at its own priority, and the higher one answers that lower
    // advert with an advert and a fresh announcement (§6.4.3's lower-priority branch).
    // Found by the partition chaos test: without the last advert, half of the heals left the
    // client on the loser's MAC.
    let t = t0();
    let (mut low, at) = master(v3(12, 100), t);
    let (mut high, _) = master(v3(11, 200), t);
    // The lower master hears the higher one first.
    rx(&mut low, at + ms(10), &Adv::v3(11, 200));
    assert_eq!(
        drain(&mut low),
        [
            "remove vips",
            "tx prio 100 to 224.0.0.18",
            "MASTER->BACKUP higher_priority"
        ]
    );
    assert_eq!(low.stats().adverts_sent, 2);
    // The higher master hears that last advert: it asserts itself and announces.
    rx(&mut high, at + ms(11), &Adv::v3(12, 100));
    assert_eq!(drain(&mut high), ["tx prio 200 to 224.0.0.18", "announce"]);
    assert_eq!(high.state(), State::Master);
    // And that answer does not move the new backup again: no ping-pong.
    rx(&mut low, at + ms(12), &Adv::v3(11, 200));
    assert_eq!(drain(&mut low), Vec::<String>::new());
    assert_eq!(low.state(), State::Backup);
}

#[test]
fn master_answers_priority_zero_with_an_advert() {
    // RFC 9568 §6.4.3: priority 0 → send an advert, reset Adver_Timer.
    let t = t0();
    let (mut r, at) = master(v3(11, 100), t);
    rx(&mut r, at + ms(400), &Adv::v3(12, 0));
    assert_eq!(drain(&mut r), ["tx prio 100 to 224.0.0.18"]);
    assert_eq!(r.poll_timeout(), Some(at + ms(1400)));
    assert_eq!(r.state(), State::Master);
}

#[test]
fn master_shutdown_removes_addresses_before_the_priority_zero_advert() {
    let t = t0();
    let (mut r, at) = master(v3(11, 100), t);
    r.handle_command(at + ms(1), Command::Shutdown);
    assert_eq!(
        drain(&mut r),
        [
            "remove vips",
            "tx prio 0 to 224.0.0.18",
            "MASTER->INIT shutdown"
        ]
    );
    assert_eq!(r.poll_timeout(), None);
    assert_eq!(r.stats().priority_zero_sent, 1);
}

#[test]
fn owner_ignores_adverts_for_its_vrid_and_stays_master() {
    // RFC 9568 §7.1: the owner discards adverts for its VRID.
    let t = t0();
    let mut r = started(v3(11, 255), t);
    rx(&mut r, t + ms(1), &Adv::v3(12, 255));
    rx(&mut r, t + ms(2), &Adv::v3(12, 0));
    assert_eq!(
        drain(&mut r),
        ["discard owner_discards", "discard owner_discards"]
    );
    assert_eq!(r.state(), State::Master);
    assert_eq!(r.stats().owner_discards, 2);
}

#[test]
fn accept_mode_is_passed_to_add_addresses() {
    let t = t0();
    let mut c = v3(11, 100);
    c.accept_mode = true;
    let mut r = started(c, t);
    r.handle_timeout(r.poll_timeout().unwrap());
    let first = r.poll_output().unwrap();
    assert!(matches!(
        first,
        Output::Action(Action::AddAddresses { accept: true, .. })
    ));
}

// ----- §7.1 receive checks --------------------------------------------------------------

#[test]
fn ttl_other_than_255_is_discarded_unless_disabled() {
    let t = t0();
    let mut r = started(v3(11, 100), t);
    let deadline = r.poll_timeout();
    let mut a = Adv::v3(12, 200);
    a.ttl = 64;
    rx(&mut r, t + ms(1), &a);
    assert_eq!(drain(&mut r), ["discard ttl_errors"]);
    assert_eq!(r.poll_timeout(), deadline);
    let mut c = v3(11, 100);
    c.check_ttl = false;
    let mut r = started(c, t);
    rx(&mut r, t + ms(1), &a);
    assert_eq!(drain(&mut r), Vec::<String>::new());
    assert_eq!(r.current_master(), Some((ip("192.0.2.12"), 200)));
}

#[test]
fn ipv6_advert_to_the_group_from_a_global_source_is_discarded() {
    // RFC 9568 §5.1.2.1: the source of an IPv6 advert is the sender's link-local address.
    // Found by the hostile-packet lab test: a forged advert from 2001:db8::13 with priority
    // 250 used to make the master step down.
    let t = t0();
    let (mut m, at) = master(v6(0x11, 200), t);
    let mut a = Adv::v6(0x13, 250);
    a.src = ip("2001:db8::13");
    rx(&mut m, at + ms(1), &a);
    assert_eq!(drain(&mut m), ["discard source_errors"]);
    assert_eq!(m.state(), State::Master);
    assert_eq!(m.stats().source_errors, 1);
    // A backup's Master_Down_Timer is not reset by it.
    let mut b = started(v6(0x12, 100), t);
    let deadline = b.poll_timeout();
    rx(&mut b, t + ms(50), &a);
    assert_eq!(drain(&mut b), ["discard source_errors"]);
    assert_eq!(b.poll_timeout(), deadline);
    assert_eq!(b.current_master(), None);
    // Unicast adverts may come from a global address.
    let mut c = v6(0x12, 100);
    c.unicast_peers = vec![ip("2001:db8::13")];
    let mut u = started(c, t);
    a.dst = ip("fe80::12");
    rx(&mut u, t + ms(50), &a);
    assert_eq!(drain(&mut u), Vec::<String>::new());
    assert_eq!(u.current_master(), Some((ip("2001:db8::13"), 250)));
}

#[test]
fn version_mismatch_is_discarded() {
    let t = t0();
    let mut r = started(v3(11, 100), t);
    rx(&mut r, t, &Adv::v2(12, 200));
    assert_eq!(drain(&mut r), ["discard version_errors"]);
}

#[test]
fn v2_auth_must_match() {
    let t = t0();
    let mut c = v2(11, 100);
    c.auth = Auth::simple_password("secret");
    let mut r = started(c, t);
    let mut a = Adv::v2(12, 200);
    rx(&mut r, t, &a);
    a.auth = Auth::simple_password("wrong");
    rx(&mut r, t, &a);
    a.auth = Auth::simple_password("secret");
    rx(&mut r, t, &a);
    assert_eq!(
        drain(&mut r),
        ["discard auth_errors", "discard auth_errors"]
    );
    assert_eq!(r.stats().auth_errors, 2);
    assert_eq!(r.current_master(), Some((ip("192.0.2.12"), 200)));
}

#[test]
fn v2_address_list_mismatch_is_discarded_unless_from_the_owner() {
    // RFC 3768 §7.1.
    let t = t0();
    let mut r = started(v2(11, 100), t);
    let mut a = Adv::v2(12, 200);
    a.addresses = vec![ip("192.0.2.101")];
    rx(&mut r, t, &a);
    assert_eq!(drain(&mut r), ["discard address_list_errors"]);
    assert_eq!(r.current_master(), None);
    a.priority = 255;
    rx(&mut r, t, &a);
    assert_eq!(drain(&mut r), ["address list mismatch"]);
    assert_eq!(r.current_master(), Some((ip("192.0.2.12"), 255)));
}

#[test]
fn v3_address_list_mismatch_is_logged_not_discarded_by_default() {
    // RFC 9568 §7.1: log, and continue.
    let t = t0();
    let mut r = started(v3(11, 100), t);
    let mut a = Adv::v3(12, 200);
    a.addresses = vec![ip("192.0.2.100"), ip("192.0.2.101")];
    rx(&mut r, t, &a);
    assert_eq!(drain(&mut r), ["address list mismatch"]);
    assert_eq!(r.current_master(), Some((ip("192.0.2.12"), 200)));
    assert_eq!(r.stats().address_list_errors, 1);
    let mut c = v3(11, 100);
    c.discard_address_mismatch = true;
    let mut r = started(c, t);
    rx(&mut r, t, &a);
    assert_eq!(drain(&mut r), ["discard address_list_errors"]);
    assert_eq!(r.current_master(), None);
}

#[test]
fn address_list_order_does_not_matter() {
    let t = t0();
    let mut c = v3(11, 100);
    c.virtual_addresses = vec![ip("192.0.2.100"), ip("192.0.2.101")];
    let mut r = started(c, t);
    let mut a = Adv::v3(12, 200);
    a.addresses = vec![ip("192.0.2.101"), ip("192.0.2.100")];
    rx(&mut r, t, &a);
    assert_eq!(drain(&mut r), Vec::<String>::new());
}

#[test]
fn bad_checksum_is_discarded_and_both_v3_ipv4_forms_are_accepted() {
    let t = t0();
    let mut r = started(v3(11, 100), t);
    let a = Adv::v3(12, 200);
    let mut bytes = a.bytes();
    bytes[6] ^= 0xff;
    r.handle_packet(t, a.meta(), &bytes);
    assert_eq!(drain(&mut r), ["discard checksum_errors"]);
    let mut b = a.clone();
    b.mode = ChecksumMode::MessageOnly;
    rx(&mut r, t, &a);
    rx(&mut r, t, &b);
    assert_eq!(r.stats().checksum_pseudo_header, 1);
    assert_eq!(r.stats().checksum_message_only, 1);
}

#[test]
fn own_looped_back_advert_is_ignored() {
    let t = t0();
    let (mut r, at) = master(v3(11, 100), t);
    rx(&mut r, at, &Adv::v3(11, 100));
    assert_eq!(drain(&mut r), ["discard own_adverts"]);
}

#[test]
fn sent_adverts_use_the_configured_checksum_form() {
    let t = t0();
    for mode in [ChecksumMode::PseudoHeader, ChecksumMode::MessageOnly] {
        let mut c = v3(11, 255);
        c.checksum_mode = mode;
        let mut r = VirtualRouter::new(c).unwrap();
        r.handle_command(t, Command::Startup);
        let tx = std::iter::from_fn(|| r.poll_output())
            .find_map(|o| match o {
                Output::Transmit(t) => Some(t),
                _ => None,
            })
            .unwrap();
        let (_, got) = VrrpRepr::decode(&tx.payload, tx.src, tx.dst).unwrap();
        assert_eq!(got, mode);
    }
}

// ----- keepalived extensions --------------------------------------------------------------

#[test]
fn priority_offset_is_clamped_and_owner_is_untouched() {
    let t = t0();
    let mut r = started(v3(11, 100), t);
    r.handle_command(t, Command::SetPriorityOffset(-50));
    assert_eq!(r.priority(), 50);
    r.handle_command(t, Command::SetPriorityOffset(-500));
    assert_eq!(r.priority(), 1);
    r.handle_command(t, Command::SetPriorityOffset(500));
    assert_eq!(r.priority(), 254);
    assert_eq!(
        drain(&mut r),
        ["priority 100->50", "priority 50->1", "priority 1->254"]
    );
    // Skew_Time follows the effective priority.
    assert_eq!(
        r.skew_time(),
        Duration::from_nanos(2 * 10_000_000 * 100 / 256)
    );
    let mut o = started(v3(12, 255), t);
    o.handle_command(t, Command::SetPriorityOffset(-100));
    assert_eq!(o.priority(), 255);
    assert_eq!(drain(&mut o), Vec::<String>::new());
}

#[test]
fn lowered_master_priority_lets_the_backup_preempt() {
    // The classic Nginx pair: master 100 with weight -50 drops to 50 < backup 80.
    let t = t0();
    let mut b = started(v3(12, 80), t);
    rx(&mut b, t + ms(100), &Adv::v3(11, 100));
    rx(&mut b, t + ms(1100), &Adv::v3(11, 50));
    rx(&mut b, t + ms(2100), &Adv::v3(11, 50));
    // Takeover one Master_Down_Interval after the last accepted advert (at 100 ms).
    let at = t + ms(100) + b.master_down_interval();
    assert_eq!(b.poll_timeout(), Some(at));
    b.handle_timeout(at);
    assert_eq!(b.state(), State::Master);
    assert!(drain(&mut b).contains(&"BACKUP->MASTER preempt".to_string()));
}

#[test]
fn master_fault_removes_addresses_then_sends_one_priority_zero() {
    let t = t0();
    let (mut r, at) = master(v3(11, 100), t);
    r.handle_command(at + ms(1), Command::SetFault(true));
    assert_eq!(
        drain(&mut r),
        [
            "remove vips",
            "tx prio 0 to 224.0.0.18",
            "MASTER->FAULT fault"
        ]
    );
    assert_eq!(r.poll_timeout(), None);
    // Silent in FAULT: adverts are not processed.
    rx(&mut r, at + ms(2), &Adv::v3(12, 200));
    assert_eq!(drain(&mut r), Vec::<String>::new());
    r.handle_command(at + ms(3), Command::SetFault(false));
    assert_eq!(drain(&mut r), ["FAULT->BACKUP fault_cleared"]);
    assert_eq!(
        r.poll_timeout(),
        Some(at + ms(3) + r.master_down_interval())
    );
}

#[test]
fn interface_down_faults_without_sending() {
    let t = t0();
    let (mut r, at) = master(v3(11, 100), t);
    r.handle_command(at, Command::InterfaceDown);
    assert_eq!(drain(&mut r), ["remove vips", "MASTER->FAULT fault"]);
    // A probe fault too: both must clear.
    r.handle_command(at, Command::SetFault(true));
    r.handle_command(at, Command::InterfaceUp);
    assert_eq!(r.state(), State::Fault);
    r.handle_command(at, Command::SetFault(false));
    assert_eq!(drain(&mut r), ["FAULT->BACKUP fault_cleared"]);
}

#[test]
fn backup_fault_and_startup_while_faulted() {
    let t = t0();
    let mut r = started(v3(11, 100), t);
    r.handle_command(t, Command::SetFault(true));
    assert_eq!(drain(&mut r), ["BACKUP->FAULT fault"]);
    r.handle_command(t, Command::Shutdown);
    assert_eq!(drain(&mut r), ["FAULT->INIT shutdown"]);
    r.handle_command(t, Command::Startup);
    assert_eq!(drain(&mut r), ["INIT->FAULT fault"]);
    // The owner leaving FAULT goes straight to MASTER.
    let mut o = VirtualRouter::new(v3(12, 255)).unwrap();
    o.handle_command(t, Command::InterfaceDown);
    o.handle_command(t, Command::Startup);
    o.handle_command(t, Command::InterfaceUp);
    assert_eq!(
        drain(&mut o),
        [
            "INIT->FAULT fault",
            "add vips accept=true",
            "tx prio 255 to 224.0.0.18",
            "announce",
            "FAULT->MASTER address_owner"
        ]
    );
}

#[test]
fn preempt_delay_holds_off_preemption_then_preempts() {
    let t = t0();
    let mut c = v3(11, 150);
    c.preempt_delay = ms(5000);
    let mut r = started(c, t);
    // Within the delay the lower-priority master is accepted like a higher one.
    for s in 1..=4 {
        rx(&mut r, t + ms(1000 * s), &Adv::v3(12, 100));
        assert_eq!(
            r.poll_timeout(),
            Some(t + ms(1000 * s) + r.master_down_interval())
        );
    }
    // From startup + 5 s on, its adverts are discarded and we take over one MDI after the
    // last accepted one.
    rx(&mut r, t + ms(5000), &Adv::v3(12, 100));
    rx(&mut r, t + ms(6000), &Adv::v3(12, 100));
    let at = t + ms(4000) + r.master_down_interval();
    assert_eq!(r.poll_timeout(), Some(at));
    r.handle_timeout(at);
    assert_eq!(r.state(), State::Master);
}

#[test]
fn unicast_sends_to_each_peer_and_drops_strangers() {
    let t = t0();
    let mut c = v3(11, 255);
    c.unicast_peers = vec![ip("192.0.2.12"), ip("192.0.2.13")];
    let mut r = VirtualRouter::new(c).unwrap();
    r.handle_command(t, Command::Startup);
    assert_eq!(
        drain(&mut r),
        [
            "add vips accept=true",
            "tx prio 255 to 192.0.2.12",
            "tx prio 255 to 192.0.2.13",
            "announce",
            "INIT->MASTER address_owner"
        ]
    );
    assert_eq!(r.stats().adverts_sent, 1);
    let mut c = v3(11, 100);
    c.unicast_peers = vec![ip("192.0.2.12")];
    let mut r = started(c, t);
    let mut a = Adv::v3(13, 200);
    a.dst = ip("192.0.2.11");
    rx(&mut r, t, &a);
    assert_eq!(drain(&mut r), ["discard unicast_source_errors"]);
    let mut a = Adv::v3(12, 200);
    a.dst = ip("192.0.2.11");
    rx(&mut r, t, &a);
    assert_eq!(drain(&mut r), Vec::<String>::new());
    assert_eq!(r.current_master(), Some((ip("192.0.2.12"), 200)));
}

// ----- Node -------------------------------------------------------------------------------

#[test]
fn node_demultiplexes_by_interface_family_and_vrid() {
    let t = t0();
    let mut n = Node::new();
    let a = n.add_router(v3(11, 100)).unwrap();
    let mut c = v3(11, 100);
    c.vrid = 52;
    let b = n.add_router(c).unwrap();
    let mut c = v3(11, 100);
    c.interface = InterfaceId(2);
    let c_id = n.add_router(c).unwrap();
    let d = n.add_router(v6(0x11, 100)).unwrap();
    assert!(matches!(
        n.add_router(v3(12, 50)),
        Err(ConfigError::Duplicate { vrid: 51, .. })
    ));
    n.handle_command_all(t, Command::Startup);
    let _ = drain_node(&mut n);
    let adv = Adv::v3(12, 200);
    n.handle_packet(t + ms(1), adv.meta(), &adv.bytes());
    let adv6 = Adv::v6(0x12, 200);
    n.handle_packet(t + ms(1), adv6.meta(), &adv6.bytes());
    for (id, accepted) in [(a, true), (b, false), (c_id, false), (d, true)] {
        let r = n.router(id).unwrap();
        assert_eq!(r.current_master().is_some(), accepted, "{id:?}");
    }
    // A VRID configured nowhere: counted on the node.
    let mut other = Adv::v3(12, 200);
    other.vrid = 99;
    n.handle_packet(t, other.meta(), &other.bytes());
    assert_eq!(drain_node(&mut n), ["node: discard vrid_errors"]);
    assert_eq!(n.stats().vrid_errors, 1);
}

#[test]
fn node_attributes_decode_errors_to_the_named_router() {
    let t = t0();
    let mut n = Node::new();
    n.add_router(v3(11, 100)).unwrap();
    n.handle_command_all(t, Command::Startup);
    let _ = drain_node(&mut n);
    let a = Adv::v3(12, 200);
    let mut bytes = a.bytes();
    bytes[6] ^= 1;
    n.handle_packet(t, a.meta(), &bytes);
    n.handle_packet(t, a.meta(), &[0x31]);
    n.handle_packet(t, a.meta(), &bytes[..9]);
    assert_eq!(
        drain_node(&mut n),
        [
            "r0: discard checksum_errors",
            "node: discard packet_length_errors",
            "r0: discard packet_length_errors"
        ]
    );
    assert_eq!(n.router(RouterId(0)).unwrap().stats().checksum_errors, 1);
    assert_eq!(n.stats().packet_length_errors, 1);
}

#[test]
fn node_timeout_fires_due_routers_only() {
    let t = t0();
    let mut n = Node::new();
    n.add_router(v3(11, 100)).unwrap();
    let mut c = v3(11, 200);
    c.vrid = 52;
    n.add_router(c).unwrap();
    n.handle_command_all(t, Command::Startup);
    let _ = drain_node(&mut n);
    // Priority 200 has the shorter Master_Down_Interval.
    let first = n.poll_timeout().unwrap();
    assert_eq!(
        first,
        t + n.router(RouterId(1)).unwrap().master_down_interval()
    );
    n.handle_timeout(first - Duration::from_nanos(1));
    assert!(n.poll_output().is_none());
    n.handle_timeout(first);
    let out = drain_node(&mut n);
    assert!(out.iter().all(|l| l.starts_with("r1: ")), "{out:?}");
    assert_eq!(out.last().unwrap(), "r1: BACKUP->MASTER master_down_timer");
}

fn group_node(t: Instant) -> (Node, RouterId, RouterId) {
    let mut n = Node::new();
    let a = n.add_router(v3(11, 100)).unwrap();
    let mut c = v3(11, 100);
    c.vrid = 52;
    c.virtual_addresses = vec![ip("192.0.2.200")];
    let b = n.add_router(c).unwrap();
    n.add_sync_group(&[a, b]).unwrap();
    n.handle_command_all(t, Command::Startup);
    let _ = drain_node(&mut n);
    (n, a, b)
}

#[test]
fn sync_group_becomes_master_together() {
    let t = t0();
    let (mut n, a, b) = group_node(t);
    // r1 keeps hearing a master; r0's timer fires but it waits for r1.
    let mut adv = Adv::v3(12, 200);
    adv.vrid = 52;
    adv.addresses = vec![ip("192.0.2.200")];
    n.handle_packet(t + ms(3000), adv.meta(), &adv.bytes());
    let fire = n.poll_timeout().unwrap();
    n.handle_timeout(fire);
    assert_eq!(drain_node(&mut n), Vec::<String>::new());
    assert_eq!(n.router(a).unwrap().state(), State::Backup);
    // Once r1's master goes silent too, both take over together.
    let fire = n.poll_timeout().unwrap();
    n.handle_timeout(fire);
    let out = drain_node(&mut n);
    assert!(
        out.contains(&"r0: BACKUP->MASTER master_down_timer".to_string()),
        "{out:?}"
    );
    assert!(
        out.contains(&"r1: BACKUP->MASTER master_down_timer".to_string()),
        "{out:?}"
    );
    assert_eq!(n.router(b).unwrap().state(), State::Master);
}

#[test]
fn sync_group_member_leaving_master_takes_the_group_along() {
    let t = t0();
    let (mut n, a, b) = group_node(t);
    let fire = n.poll_timeout().unwrap();
    n.handle_timeout(fire);
    let _ = drain_node(&mut n);
    assert_eq!(n.router(a).unwrap().state(), State::Master);
    assert_eq!(n.router(b).unwrap().state(), State::Master);
    let adv = Adv::v3(12, 200);
    n.handle_packet(fire + ms(10), adv.meta(), &adv.bytes());
    assert_eq!(
        drain_node(&mut n),
        [
            "r0: remove vips",
            "r0: tx prio 100 to 224.0.0.18",
            "r0: MASTER->BACKUP higher_priority",
            "r1: remove vips",
            "r1: MASTER->BACKUP sync_group"
        ]
    );
}

#[test]
fn sync_group_fault_takes_every_member_to_fault_and_back() {
    let t = t0();
    let (mut n, a, b) = group_node(t);
    let fire = n.poll_timeout().unwrap();
    n.handle_timeout(fire);
    let _ = drain_node(&mut n);
    n.handle_command(fire, b, Command::SetFault(true));
    assert_eq!(
        drain_node(&mut n),
        [
            "r1: remove vips",
            "r1: tx prio 0 to 224.0.0.18",
            "r1: MASTER->FAULT fault",
            "r0: remove vips",
            "r0: tx prio 0 to 224.0.0.18",
            "r0: MASTER->FAULT sync_group"
        ]
    );
    n.handle_command(fire, b, Command::SetFault(false));
    assert_eq!(
        drain_node(&mut n),
        [
            "r1: FAULT->BACKUP fault_cleared",
            "r0: FAULT->BACKUP sync_group"
        ]
    );
    assert_eq!(n.router(a).unwrap().state(), State::Backup);
}

#[test]
fn state_changed_event_reports_from_to_and_reason() {
    let t = t0();
    let mut r = VirtualRouter::new(v3(11, 100)).unwrap();
    r.handle_command(t, Command::Startup);
    assert_eq!(
        r.poll_output(),
        Some(Output::Event(Event::StateChanged {
            from: State::Initialize,
            to: State::Backup,
            reason: Reason::Startup
        }))
    );
}

#[test]
fn sync_group_member_faulted_before_startup_holds_the_group_in_fault() {
    let t = t0();
    let mut n = Node::new();
    let a = n.add_router(v3(11, 100)).unwrap();
    let mut c = v3(11, 100);
    c.vrid = 52;
    let b = n.add_router(c).unwrap();
    n.add_sync_group(&[a, b]).unwrap();
    n.handle_command(t, b, Command::SetFault(true));
    n.handle_command_all(t, Command::Startup);
    assert_eq!(
        drain_node(&mut n),
        ["r0: INIT->FAULT sync_group", "r1: INIT->FAULT fault"]
    );
    assert_eq!(n.poll_timeout(), None);
    n.handle_command(t + ms(5), b, Command::SetFault(false));
    assert_eq!(
        drain_node(&mut n),
        [
            "r1: FAULT->BACKUP fault_cleared",
            "r0: FAULT->BACKUP sync_group"
        ]
    );
    assert!(matches!(
        n.add_sync_group(&[a]),
        Err(ConfigError::AlreadyGrouped(0))
    ));
    assert!(matches!(
        n.add_sync_group(&[RouterId(9)]),
        Err(ConfigError::UnknownRouter(9))
    ));
}

// ----- Node: removing routers (reload) ----------------------------------------------------

/// Two ungrouped routers (VRID 51 and 52), both master.
fn two_masters(t: Instant) -> (Node, RouterId, RouterId, Instant) {
    let mut n = Node::new();
    let a = n.add_router(v3(11, 100)).unwrap();
    let mut c = v3(11, 100);
    c.vrid = 52;
    c.virtual_addresses = vec![ip("192.0.2.200")];
    let b = n.add_router(c).unwrap();
    n.handle_command_all(t, Command::Startup);
    let fire = n.poll_timeout().unwrap();
    n.handle_timeout(fire);
    let _ = drain_node(&mut n);
    assert_eq!(n.router(a).unwrap().state(), State::Master);
    assert_eq!(n.router(b).unwrap().state(), State::Master);
    (n, a, b, fire)
}

#[test]
fn removing_a_master_hands_over_and_leaves_the_others_alone() {
    let t = t0();
    let (mut n, a, b, fire) = two_masters(t);
    let b_timer = n.router(b).unwrap().poll_timeout();
    // RFC 9568 §6.4.3: the removed master removes its VIPs, then sends priority 0.
    let removed = n.remove_router(fire + ms(10), a).unwrap();
    assert_eq!(removed.state(), State::Initialize);
    assert_eq!(removed.stats().priority_zero_sent, 1);
    assert_eq!(
        drain_node(&mut n),
        [
            "r0: remove vips",
            "r0: tx prio 0 to 224.0.0.18",
            "r0: MASTER->INIT shutdown"
        ]
    );
    // The other keeps its id, state and timer; the removed one is gone.
    assert!(n.router(a).is_none());
    assert_eq!(n.router(b).unwrap().state(), State::Master);
    assert_eq!(n.router(b).unwrap().poll_timeout(), b_timer);
    assert_eq!(n.poll_timeout(), b_timer);
    assert_eq!(n.routers().map(|(id, _)| id).collect::<Vec<_>>(), [b]);
    // Its VRID is no longer demultiplexed: a peer's advert for it is an unknown VRID.
    let adv = Adv::v3(12, 100);
    n.handle_packet(fire + ms(20), adv.meta(), &adv.bytes());
    assert_eq!(drain_node(&mut n), ["node: discard vrid_errors"]);
    assert_eq!(n.stats().vrid_errors, 1);
    // Removing it again is an error; the next router added takes the free id.
    assert!(matches!(
        n.remove_router(fire, a),
        Err(ConfigError::UnknownRouter(0))
    ));
    assert_eq!(n.add_router(v3(11, 150)).unwrap(), a);
    assert_eq!(n.router(a).unwrap().state(), State::Initialize);
    assert_eq!(n.router(a).unwrap().priority(), 150);
    let mut c = v3(11, 100);
    c.vrid = 53;
    assert_eq!(n.add_router(c).unwrap(), RouterId(2));
}

#[test]
fn removing_a_backup_is_silent() {
    let t = t0();
    let mut n = Node::new();
    let a = n.add_router(v3(11, 100)).unwrap();
    n.handle_command_all(t, Command::Startup);
    let _ = drain_node(&mut n);
    // RFC 9568 §6.4.2: Shutdown in Backup cancels the Master_Down_Timer, sends nothing.
    n.remove_router(t + ms(10), a).unwrap();
    assert_eq!(drain_node(&mut n), ["r0: BACKUP->INIT shutdown"]);
    assert_eq!(n.poll_timeout(), None);
    assert_eq!(n.routers().count(), 0);
}

#[test]
fn stopping_one_sync_group_member_does_not_move_the_others() {
    let t = t0();
    let (mut n, a, b) = group_node(t);
    let fire = n.poll_timeout().unwrap();
    n.handle_timeout(fire);
    let _ = drain_node(&mut n);
    n.handle_command(fire + ms(10), a, Command::Shutdown);
    assert_eq!(
        drain_node(&mut n),
        [
            "r0: remove vips",
            "r0: tx prio 0 to 224.0.0.18",
            "r0: MASTER->INIT shutdown"
        ]
    );
    assert_eq!(n.router(b).unwrap().state(), State::Master);
    // Stopping the whole node: every master sends its own priority-0 advert.
    n.handle_command_all(fire + ms(20), Command::Shutdown);
    assert_eq!(
        drain_node(&mut n),
        [
            "r1: remove vips",
            "r1: tx prio 0 to 224.0.0.18",
            "r1: MASTER->INIT shutdown"
        ]
    );
}

#[test]
fn removing_the_faulted_sync_group_member_lets_the_others_recover() {
    let t = t0();
    let (mut n, a, b) = group_node(t);
    n.handle_command(t + ms(10), b, Command::SetFault(true));
    let _ = drain_node(&mut n);
    assert_eq!(n.router(a).unwrap().state(), State::Fault);
    n.remove_router(t + ms(20), b).unwrap();
    assert_eq!(
        drain_node(&mut n),
        ["r1: FAULT->INIT shutdown", "r0: FAULT->BACKUP sync_group"]
    );
    // The group's slot is reusable, and its remaining member can be regrouped only once.
    assert!(matches!(
        n.add_sync_group(&[a]),
        Err(ConfigError::AlreadyGrouped(0))
    ));
    assert!(matches!(
        n.add_sync_group(&[b]),
        Err(ConfigError::UnknownRouter(1))
    ));
}

#[test]
fn removing_the_member_a_held_backup_waited_for_releases_it() {
    let t = t0();
    let (mut n, a, b) = group_node(t);
    // r1 keeps hearing a master; r0's Master_Down_Timer fires but it waits for r1.
    let mut adv = Adv::v3(12, 200);
    adv.vrid = 52;
    adv.addresses = vec![ip("192.0.2.200")];
    n.handle_packet(t + ms(3000), adv.meta(), &adv.bytes());
    let fire = n.poll_timeout().unwrap();
    n.handle_timeout(fire);
    assert_eq!(drain_node(&mut n), Vec::<String>::new());
    assert_eq!(n.router(a).unwrap().state(), State::Backup);
    n.remove_router(fire + ms(1), b).unwrap();
    assert_eq!(
        drain_node(&mut n),
        [
            "r1: BACKUP->INIT shutdown",
            "r0: add vips accept=false",
            "r0: tx prio 100 to 224.0.0.18",
            "r0: announce",
            "r0: BACKUP->MASTER master_down_timer"
        ]
    );
}

// ----- takeover rehearsal (for the runtime's warm-up) ------------------------------------

/// The adverts a backup would send if it took over now, exactly as the takeover then sends
/// them, and asking changes nothing.
#[test]
fn takeover_adverts_are_the_takeover_s_adverts_and_change_nothing() {
    for cfg in [v3(11, 100), v6(11, 100), {
        let mut c = v3(11, 100);
        c.unicast_peers = vec![ip("192.0.2.12"), ip("192.0.2.13")];
        c
    }] {
        let t = t0();
        let mut r = started(cfg, t);
        // An effective priority other than the base one: the rehearsal must use it too.
        r.handle_command(t, Command::SetPriorityOffset(-20));
        let _ = drain(&mut r);
        let timer = r.poll_timeout();
        let rehearsed = r.takeover_adverts();
        assert_eq!(r.state(), State::Backup);
        assert_eq!(r.poll_timeout(), timer, "the timer is untouched");
        assert!(r.poll_output().is_none(), "nothing is queued");
        assert_eq!(r.stats().adverts_sent, 0, "nothing counted as sent");

        let fire = timer.unwrap();
        r.handle_timeout(fire);
        assert_eq!(r.state(), State::Master);
        let sent: Vec<_> = std::iter::from_fn(|| r.poll_output())
            .filter_map(|o| match o {
                Output::Transmit(tx) => Some(tx),
                _ => None,
            })
            .collect();
        assert!(!sent.is_empty());
        assert_eq!(rehearsed, sent);
        assert!(sent.iter().all(|tx| tx.priority == 80));
    }
}
