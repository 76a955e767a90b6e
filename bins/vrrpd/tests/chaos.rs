//! Chaos in the lab (issue 9): random loss of adverts against the binomial expectation, a
//! partition and its healing (one master again within one advert interval, and the client's
//! neighbour entry following the survivor), link flaps, SIGKILL-and-restart loops, a VIP removed
//! by hand, the interface renamed, and the interface deleted and created again.
//!
//! Every test builds its own lab and tears it down, also on failure. Adverts are 100 ms (v3).
//! The long one has `long_` in its name (`long_random_loss_...`, about 45 s: skip it with `-- --skip long_`); the rest
//! take 5 to 20 s each.

// Helpers of these tests unwrap: a failure there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use support::{Daemon, IpMonitor, holders, instance, master_down, unix_ms, wait_until};
use vrrp_lab::{Host, Lab, Traffic, format_mac, require_root};

const VIP: &str = "192.0.2.100";
const INTERVAL: Duration = Duration::from_millis(100);

fn vip() -> IpAddr {
    VIP.parse().unwrap()
}

/// Host 1 at priority 200 and host 2 at 100, converged with host 1 master.
fn pair<'l>(lab: &'l Lab, extra: &str) -> (Daemon<'l>, Daemon<'l>) {
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let d1 = Daemon::start(
        lab,
        h1,
        &instance(51, 200, "100ms", &format!("{VIP}/24"), extra),
    );
    let d2 = Daemon::start(
        lab,
        h2,
        &instance(51, 100, "100ms", &format!("{VIP}/24"), extra),
    );
    assert!(
        wait_until(Duration::from_secs(3), || holders(lab, vip()) == vec![1]
            && d2.state() == "BACKUP"),
        "host 1 should be master: holders {:?}\n{}\n{}",
        holders(lab, vip()),
        d1.child.log(),
        d2.child.log()
    );
    (d1, d2)
}

/// The client's neighbour entry for the VIP, if resolved.
fn client_mac(client: &Host) -> Option<[u8; 6]> {
    client.neighbour(vip()).unwrap().and_then(|n| n.mac)
}

#[test]
fn partition_then_heal_leaves_one_master_and_the_client_follows_it() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(3).unwrap();
    let (h1, h2, client) = (
        lab.host(1).unwrap(),
        lab.host(2).unwrap(),
        lab.host(3).unwrap(),
    );
    let (d1, d2) = pair(&lab, "");
    // The client talks to the VIP: its neighbour entry names host 1.
    client.run(&["ping", "-c", "1", "-W", "1", VIP]).unwrap();
    assert_eq!(client_mac(client), Some(h1.mac()));

    // Partition: VRRP between the two routers is cut for 10 s (the client still reaches both).
    let cut = lab.drop_between(h1, h2, Traffic::VRRP).unwrap();
    let cut_at = Instant::now();
    assert!(
        wait_until(Duration::from_secs(2), || d2.state() == "MASTER"),
        "host 2 should take over when it stops hearing host 1"
    );
    // Both masters: expected while they cannot hear each other. Host 2's gratuitous ARP moved
    // the client to it.
    assert_eq!(d1.state(), "MASTER");
    assert_eq!(holders(&lab, vip()), vec![1, 2]);
    assert!(
        wait_until(Duration::from_secs(1), || client_mac(client)
            == Some(h2.mac())),
        "the client should follow host 2's gratuitous ARP: {:?}",
        client.neighbour(vip())
    );
    std::thread::sleep(Duration::from_secs(10).saturating_sub(cut_at.elapsed()));
    assert_eq!(d1.state(), "MASTER");
    assert_eq!(d2.state(), "MASTER");

    // Heal.
    let neigh = IpMonitor::start(client, &["neigh"]);
    let healed_ms = unix_ms();
    cut.remove().unwrap();
    let one_master = wait_until(Duration::from_secs(2), || {
        d2.state() == "BACKUP" && holders(&lab, vip()) == vec![1]
    });
    assert!(
        one_master,
        "one master after healing: host 2 is {}, holders {:?}",
        d2.state(),
        holders(&lab, vip())
    );
    let t = &d2.status()["instances"][0]["last_transition"];
    assert_eq!(t["from"], "MASTER");
    assert_eq!(t["reason"], "higher_priority");
    let one_master_ms = t["at_unix_ms"].as_u64().unwrap();
    let to_one = one_master_ms.saturating_sub(healed_ms);
    assert!(
        to_one <= 100 + 30,
        "one master {to_one} ms after healing (one advert interval is 100 ms)"
    );
    assert_eq!(d1.state(), "MASTER");

    // The client's entry for the VIP names host 1 again, within 50 ms of that.
    let h1_mac = format_mac(&h1.mac());
    let followed = wait_until(Duration::from_secs(2), || {
        neigh
            .events()
            .iter()
            .any(|(_, l)| l.starts_with(VIP) && l.contains(&h1_mac))
    });
    let events = neigh.events();
    assert!(
        followed,
        "the client still points the VIP at host 2: {:?}\nevents: {events:?}\n{}\n{}",
        client.neighbour(vip()),
        d1.child.log(),
        d2.child.log()
    );
    let (at_us, _) = events
        .iter()
        .find(|(_, l)| l.starts_with(VIP) && l.contains(&h1_mac))
        .unwrap();
    let lag_ms = (*at_us / 1000) as i64 - one_master_ms as i64;
    assert!(
        lag_ms <= 50,
        "the client followed {lag_ms} ms after one master was left"
    );
    assert_eq!(client_mac(client), Some(h1.mac()));
    eprintln!(
        "partition healed: one master {to_one} ms after healing; client entry on host 1 {lag_ms} ms after that"
    );
}

/// Whether `host`'s `eth0`-side capture saw a gratuitous ARP for the VIP from `mac`.
fn is_garp_for_vip(frame: &[u8], mac: [u8; 6]) -> bool {
    frame.len() >= 42
        && frame[12..14] == [0x08, 0x06]
        && frame[20..22] == [0, 1]
        && frame[22..28] == mac
        && frame[28..32] == [192, 0, 2, 100]
        && frame[38..42] == [192, 0, 2, 100]
}

#[test]
fn a_vip_removed_by_hand_from_the_master_is_put_back_and_announced() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let h1 = lab.host(1).unwrap();
    let (d1, d2) = pair(&lab, "");
    let before = d1.last_transition_ms();
    let arps = lab.capture("arp").unwrap();
    let removed = Instant::now();
    h1.run(&["ip", "addr", "del", &format!("{VIP}/24"), "dev", "eth0"])
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(2), || h1.has_address(vip()).unwrap()),
        "the VIP should be put back\n{}",
        d1.child.log()
    );
    let back = removed.elapsed();
    let garp = arps
        .wait_for(Duration::from_secs(1), |p| {
            is_garp_for_vip(&p.data, h1.mac())
        })
        .unwrap();
    assert!(
        garp.is_some(),
        "no gratuitous ARP for the VIP after it was put back"
    );
    // No election happened: the same master, no new transition on either side.
    assert_eq!(d1.state(), "MASTER");
    assert_eq!(d2.state(), "BACKUP");
    assert_eq!(d1.last_transition_ms(), before);
    assert_eq!(holders(&lab, vip()), vec![1]);
    assert!(
        d1.child
            .log()
            .contains("VIP removed from under us while master")
    );
    eprintln!("VIP removed by hand: back after {back:?} (including the polling), gARP sent");
}

#[test]
fn ten_link_flaps_on_the_master_each_move_the_vip_and_bring_it_back() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let h1 = lab.host(1).unwrap();
    let (d1, d2) = pair(&lab, "");
    let mut away = Vec::new();
    let mut back = Vec::new();
    for flap in 0..10 {
        let down = Instant::now();
        h1.run(&["ip", "link", "set", "eth0", "down"]).unwrap();
        assert!(
            wait_until(Duration::from_secs(2), || holders(&lab, vip()) == vec![2]),
            "flap {flap}: host 2 should take over; holders {:?}\n{}",
            holders(&lab, vip()),
            d1.child.log()
        );
        away.push(down.elapsed());
        assert_eq!(d1.state(), "FAULT");
        let up = Instant::now();
        h1.run(&["ip", "link", "set", "eth0", "up"]).unwrap();
        // Host 1 comes back as backup and preempts after its Master_Down_Interval.
        assert!(
            wait_until(Duration::from_secs(3), || holders(&lab, vip()) == vec![1]
                && d2.state() == "BACKUP"),
            "flap {flap}: host 1 should take the VIP back; holders {:?}\n{}",
            holders(&lab, vip()),
            d1.child.log()
        );
        back.push(up.elapsed());
    }
    let c1 = d1.status()["instances"][0]["counters"].clone();
    let c2 = d2.status()["instances"][0]["counters"].clone();
    // Host 1: master at start and after each flap; host 2: master once per flap.
    assert_eq!(c1["master_transitions"], 11);
    assert_eq!(c2["master_transitions"], 10);
    let worst_away = away.iter().max().unwrap();
    let worst_back = back.iter().max().unwrap();
    // Host 2 takes over one Master_Down_Interval after host 1's last advert (the link is
    // down: no priority-0 advert can leave). Polling adds a few ms.
    assert!(
        *worst_away <= master_down(100, INTERVAL) + Duration::from_millis(200),
        "takeover took {worst_away:?}"
    );
    eprintln!(
        "10 flaps: VIP on host 2 after at most {worst_away:?} (bound {:?}), back on host 1 after at most {worst_back:?}",
        master_down(100, INTERVAL)
    );
}

#[test]
fn sigkill_and_restart_five_times_keeps_one_master() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let h1 = lab.host(1).unwrap();
    let (mut d1, d2) = pair(&lab, "");
    let config = instance(51, 200, "100ms", &format!("{VIP}/24"), "");
    let mut takeovers = Vec::new();
    let mut returns = Vec::new();
    for round in 0..5 {
        d1.child.kill().unwrap();
        let killed = Instant::now();
        assert!(
            wait_until(Duration::from_secs(2), || d2.state() == "MASTER"),
            "round {round}: host 2 should take over"
        );
        takeovers.push(killed.elapsed());
        // A killed daemon leaves its VIP behind: the restart must remove it before anything.
        assert!(h1.has_address(vip()).unwrap());
        drop(d1);
        let restarted = Instant::now();
        d1 = Daemon::start(&lab, h1, &config);
        assert!(
            wait_until(Duration::from_secs(3), || holders(&lab, vip()) == vec![1]
                && d2.state() == "BACKUP"),
            "round {round}: host 1 should be the only holder again; holders {:?}\n{}",
            holders(&lab, vip()),
            d1.child.log()
        );
        returns.push(restarted.elapsed());
    }
    // The stale VIP never answered while the restarted daemon was a backup.
    assert!(
        d1.child
            .log()
            .contains("removed a VIP left on the interface")
    );
    let worst = takeovers.iter().max().unwrap();
    assert!(
        *worst <= master_down(100, INTERVAL) + Duration::from_millis(150),
        "a takeover took {worst:?}"
    );
    assert_eq!(
        d2.status()["instances"][0]["counters"]["master_transitions"],
        5
    );
    eprintln!(
        "5 SIGKILLs: host 2 master after at most {worst:?} (bound {:?}); host 1 back after at most {:?}",
        master_down(100, INTERVAL),
        returns.iter().max().unwrap()
    );
}

/// Two instances on `eth0`, IPv4 and IPv6, for the interface tests.
fn dual_config(priority: u8) -> String {
    format!(
        r#"
[[instance]]
name = "v4"
interface = "eth0"
vrid = 51
priority = {priority}
advert_interval = "100ms"
virtual_ips = ["{VIP}/24"]

[[instance]]
name = "v6"
interface = "eth0"
vrid = 52
priority = {priority}
advert_interval = "100ms"
virtual_ips = ["2001:db8::100/64"]
"#
    )
}

fn vip6() -> IpAddr {
    "2001:db8::100".parse().unwrap()
}

fn dual_pair(lab: &Lab) -> (Daemon<'_>, Daemon<'_>) {
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let d1 = Daemon::start(lab, h1, &dual_config(200));
    let d2 = Daemon::start(lab, h2, &dual_config(100));
    assert!(
        wait_until(Duration::from_secs(3), || holders(lab, vip()) == vec![1]
            && holders(lab, vip6()) == vec![1]),
        "host 1 should hold both VIPs\n{}",
        d1.child.log()
    );
    (d1, d2)
}

fn both_states(d: &Daemon<'_>) -> (String, String) {
    let s = d.status();
    (
        s["instances"][0]["state"].as_str().unwrap().to_owned(),
        s["instances"][1]["state"].as_str().unwrap().to_owned(),
    )
}

fn ifindex(host: &Host, dev: &str) -> Option<u64> {
    let out = host.run(&["ip", "-j", "link", "show", "dev", dev]).ok()?;
    let v: serde_json::Value = serde_json::from_str(&out).ok()?;
    v[0]["ifindex"].as_u64()
}

#[test]
fn the_interface_deleted_and_created_again_is_picked_up() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let h1 = lab.host(1).unwrap();
    let (d1, d2) = dual_pair(&lab);
    let old_index = ifindex(h1, "eth0").unwrap();
    lab.unplug(h1).unwrap();
    assert!(
        wait_until(Duration::from_secs(2), || both_states(&d1)
            == ("FAULT".into(), "FAULT".into())),
        "host 1 should be in FAULT without its interface: {:?}\n{}",
        both_states(&d1),
        d1.child.log()
    );
    assert!(wait_until(Duration::from_secs(2), || both_states(&d2)
        == ("MASTER".into(), "MASTER".into())));
    // A new eth0 (new index), same MAC and addresses: host 1 binds to it and preempts.
    let replugged = Instant::now();
    lab.replug(h1).unwrap();
    assert_ne!(ifindex(h1, "eth0"), Some(old_index));
    assert!(
        wait_until(Duration::from_secs(3), || holders(&lab, vip()) == vec![1]
            && holders(&lab, vip6()) == vec![1]
            && both_states(&d2) == ("BACKUP".into(), "BACKUP".into())),
        "host 1 should take both VIPs back on the new interface: holders {:?} {:?}\n{}",
        holders(&lab, vip()),
        holders(&lab, vip6()),
        d1.child.log()
    );
    let took = replugged.elapsed();
    assert_eq!(both_states(&d1), ("MASTER".into(), "MASTER".into()));
    let log = d1.child.log();
    assert!(log.contains("interface deleted"), "{log}");
    assert_eq!(log.matches("bound to the interface").count(), 2, "{log}");
    eprintln!(
        "interface deleted and re-created: both instances master again {took:?} after the new eth0 appeared"
    );
}

#[test]
fn the_interface_renamed_away_and_back_is_followed_by_name() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let h1 = lab.host(1).unwrap();
    let (d1, d2) = dual_pair(&lab);
    let rename = |from: &str, to: &str| {
        h1.run(&["ip", "link", "set", from, "down"]).unwrap();
        h1.run(&["ip", "link", "set", from, "name", to]).unwrap();
        h1.run(&["ip", "link", "set", to, "up"]).unwrap();
    };
    rename("eth0", "lan9");
    assert!(
        wait_until(Duration::from_secs(2), || both_states(&d2)
            == ("MASTER".into(), "MASTER".into())),
        "host 2 should take over"
    );
    // The configured name is gone, so host 1 stays in FAULT even though the link is up again
    // (as it would refuse to start without it); its VIPs are not on the renamed link.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(both_states(&d1), ("FAULT".into(), "FAULT".into()));
    assert_eq!(holders(&lab, vip()), vec![2]);
    assert_eq!(holders(&lab, vip6()), vec![2]);
    rename("lan9", "eth0");
    assert!(
        wait_until(Duration::from_secs(3), || holders(&lab, vip()) == vec![1]
            && holders(&lab, vip6()) == vec![1]
            && both_states(&d2) == ("BACKUP".into(), "BACKUP".into())),
        "host 1 should be back under its name: holders {:?} {:?}\n{}",
        holders(&lab, vip()),
        holders(&lab, vip6()),
        d1.child.log()
    );
    assert!(d1.child.log().contains("interface renamed"));
}

// ----- random loss --------------------------------------------------------------------------

/// P(X ≤ k) for X ~ Poisson(λ).
fn poisson_cdf(lambda: f64, k: u64) -> f64 {
    let mut term = (-lambda).exp();
    let mut sum = term;
    for i in 1..=k {
        term *= lambda / i as f64;
        sum += term;
    }
    sum.min(1.0)
}

/// The smallest `hi` with P(X > hi) < `tail` and the largest `lo` with P(X < lo) < `tail`.
fn poisson_bounds(lambda: f64, tail: f64) -> (u64, u64) {
    let mut hi = 0;
    while 1.0 - poisson_cdf(lambda, hi) >= tail {
        hi += 1;
    }
    let mut lo = 0;
    while lo < hi && poisson_cdf(lambda, lo) < tail {
        lo += 1;
    }
    (lo, hi)
}

/// What one loss level measured.
#[derive(Debug)]
struct LossRun {
    percent: u8,
    /// Adverts host 1 sent in the window.
    sent: u64,
    /// Of those, seen arriving at host 2.
    arrived: u64,
    /// Gaps between arrivals longer than the backup's Master_Down_Interval whose timer would
    /// have fired in the window: the takeovers the capture predicts.
    predicted: u64,
    /// Predicted takeovers during a counter read: counted or not.
    uncertain: u64,
    /// Host 2's master transitions in the window.
    observed: u64,
    /// The arrival gap furthest from the interval (the largest jitter): ms after the
    /// window's start, and the gap itself in ms.
    worst_gap: (f64, f64),
    /// Host 1's log lines about adverts it could not send (a lost advert the capture cannot
    /// tell from a late one).
    send_failures: Vec<String>,
}

impl LossRun {
    /// The largest |gap − interval| between arrivals (that of `worst_gap`).
    fn max_jitter(&self) -> Duration {
        Duration::from_secs_f64((self.worst_gap.1 - INTERVAL.as_secs_f64() * 1000.0).abs() / 1000.0)
    }
}

fn loss_run(percent: u8, window: Duration) -> LossRun {
    let lab = Lab::new(2).unwrap();
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let (d1, d2) = pair(&lab, "");
    let arrivals = h2
        .capture("eth0", &format!("ip proto 112 and src host {}", h1.ipv4()))
        .unwrap();
    // The advert loss: a random `percent` of the frames host 1 sends (and receives) are
    // dropped on its bridge port.
    let _loss = (percent > 0).then(|| lab.drop_random(h1, percent).unwrap());
    std::thread::sleep(Duration::from_millis(300));
    let counter =
        |d: &Daemon<'_>, c: &str| d.status()["instances"][0]["counters"][c].as_u64().unwrap();
    // Each counter read (two `vrrpd status` calls) is bracketed by clock reads: a takeover
    // inside a bracket may fall on either side of the read, which the check allows for.
    let start_before = unix_ms() as f64;
    let (sent0, trans0) = (
        counter(&d1, "adverts_sent"),
        counter(&d2, "master_transitions"),
    );
    let start_after = unix_ms() as f64;
    std::thread::sleep(window);
    let end_before = unix_ms() as f64;
    let (sent1, trans1) = (
        counter(&d1, "adverts_sent"),
        counter(&d2, "master_transitions"),
    );
    let end_after = unix_ms() as f64;
    std::thread::sleep(Duration::from_millis(300));
    let (frames, capture_drops) = arrivals.stop_with_drops().unwrap();
    assert_eq!(
        capture_drops, 0,
        "{percent} %: tcpdump lost frames: the gaps would predict takeovers that did not happen"
    );
    let times: Vec<f64> = frames
        .iter()
        .map(|p| {
            p.timestamp
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64()
                * 1000.0
        })
        .collect();
    let mdi = master_down(100, INTERVAL).as_secs_f64() * 1000.0;
    let (start, end) = (start_before, end_before);
    let in_window = |t: f64| t >= start && t < end;
    let arrived = times.iter().filter(|t| in_window(**t)).count() as u64;
    // When the backup's Master_Down_Timer fired, for each gap longer than the interval.
    let takeovers: Vec<f64> = times
        .windows(2)
        .filter(|w| w[1] - w[0] > mdi)
        .map(|w| w[0] + mdi)
        .collect();
    let predicted = takeovers
        .iter()
        .filter(|t| **t >= start_after && **t < end_before)
        .count() as u64;
    let uncertain = takeovers
        .iter()
        .filter(|t| {
            (**t >= start_before && **t < start_after) || (**t >= end_before && **t < end_after)
        })
        .count() as u64;
    let interval_ms = INTERVAL.as_secs_f64() * 1000.0;
    let worst_gap = times
        .windows(2)
        .filter(|w| in_window(w[0]))
        .map(|w| (w[0] - start, w[1] - w[0]))
        .fold((0.0, interval_ms), |worst, gap| {
            if (gap.1 - interval_ms).abs() > (worst.1 - interval_ms).abs() {
                gap
            } else {
                worst
            }
        });
    let send_failures = d1
        .child
        .log()
        .lines()
        .filter(|l| l.contains("not sent"))
        .map(str::to_owned)
        .collect();
    LossRun {
        percent,
        sent: sent1 - sent0,
        arrived,
        predicted,
        uncertain,
        observed: trans1 - trans0,
        worst_gap,
        send_failures,
    }
}

/// [long: about 45 s] Random loss of 0, 1, 10 and 30 % of host 1's frames (nftables
/// `numgen random` on its bridge port), four labs side by side for 40 s each.
///
/// A backup (priority 100, 100 ms adverts) takes over when its Master_Down_Interval
/// (3 × 100 ms + 61 ms = 361 ms) passes without an advert: exactly when 3 consecutive adverts
/// are lost (the 4th comes at 400 ms). Per advert that starts a window the probability is
/// p³, so over N adverts the expected number of takeovers is λ = N (1 − p) p³.
///
/// Asserted: every takeover is one the capture on host 2 predicts (each gap between arrivals
/// longer than 361 ms, no other); the count is within the Poisson(λ) bounds with a 10⁻³ tail
/// each side; the measured loss is within 5 standard deviations of p; none at 0 % and 1 %,
/// and host 1 never failed to send.
///
/// The adverts' jitter at 0 % is reported, not asserted: it measures the machine as much as
/// the daemon (on CI's loaded 2-core machine a debug-build daemon once sent an advert 100 ms
/// late, a 200 ms gap that is still far from Master_Down_Interval and moved nothing). Timer
/// punctuality is measured where it belongs, in the timer benchmark (docs/performance.md).
/// What the model needs from it holds whenever no gap reaches Master_Down_Interval without
/// loss, and that is what the takeover counts check: at 0 % a late advert that did reach it
/// would be a predicted takeover and fail the 0..=0 bound.
#[test]
fn long_random_loss_of_adverts_matches_the_binomial_expectation() {
    if !require_root() {
        return;
    }
    let window = Duration::from_secs(40);
    let runs: Vec<LossRun> = std::thread::scope(|s| {
        let handles: Vec<_> = [0u8, 1, 10, 30]
            .into_iter()
            .map(|p| s.spawn(move || loss_run(p, window)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for r in &runs {
        let p = f64::from(r.percent) / 100.0;
        let n = r.sent as f64;
        let lambda = n * (1.0 - p) * p.powi(3);
        let (lo, hi) = poisson_bounds(lambda, 1e-3);
        let lost = r.sent.saturating_sub(r.arrived) as f64;
        let sd = (n * p * (1.0 - p)).sqrt().max(1.0);
        report.push(format!(
            "{:>2} %: {} sent, {} lost ({:.1} %), takeovers observed {} / predicted by the capture {} / binomial λ = {:.3} (bounds {lo}..={hi}){}",
            r.percent,
            r.sent,
            lost,
            100.0 * lost / n.max(1.0),
            r.observed,
            r.predicted,
            lambda,
            if r.percent == 0 {
                format!(
                    ", max jitter {:?} (a gap of {:.2} ms, {:.0} ms into the window)",
                    r.max_jitter(), r.worst_gap.1, r.worst_gap.0
                )
            } else {
                String::new()
            }
        ));
        if r.observed < r.predicted || r.observed > r.predicted + r.uncertain {
            failures.push(format!(
                "{} %: {} takeovers but the capture predicts {} (+ {} during a counter read)",
                r.percent, r.observed, r.predicted, r.uncertain
            ));
        }
        if r.observed < lo || r.observed > hi {
            failures.push(format!(
                "{} %: {} takeovers is outside {lo}..={hi} for λ = {lambda:.3}",
                r.percent, r.observed
            ));
        }
        if (lost - n * p).abs() > 5.0 * sd + 2.0 {
            failures.push(format!(
                "{} %: {lost} of {} lost, expected {:.1} ± {:.1}",
                r.percent,
                r.sent,
                n * p,
                5.0 * sd
            ));
        }
        if r.sent < 350 {
            failures.push(format!(
                "{} %: only {} adverts sent in 40 s",
                r.percent, r.sent
            ));
        }
    }
    let zero = runs.iter().find(|r| r.percent == 0).unwrap();
    if zero.observed != 0 || zero.predicted != 0 {
        failures.push(format!("0 %: {zero:?}"));
    }
    for r in &runs {
        if !r.send_failures.is_empty() {
            failures.push(format!(
                "{} %: host 1 failed to send adverts:\n{}",
                r.percent,
                r.send_failures.join("\n")
            ));
        }
    }
    eprintln!("{}", report.join("\n"));
    assert!(
        failures.is_empty(),
        "{}\n{}",
        failures.join("\n"),
        report.join("\n")
    );
}

#[test]
fn a_daemon_started_with_its_link_down_runs_once_the_link_comes_up() {
    // Found while reworking interface handling: an instance whose link was down at start was
    // also put in the embedder's FAULT and never left it.
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let d2 = Daemon::start(
        &lab,
        h2,
        &instance(51, 100, "100ms", &format!("{VIP}/24"), ""),
    );
    h1.run(&["ip", "link", "set", "eth0", "down"]).unwrap();
    let d1 = Daemon::start(
        &lab,
        h1,
        &instance(51, 200, "100ms", &format!("{VIP}/24"), ""),
    );
    assert!(wait_until(Duration::from_secs(2), || d1.state() == "FAULT"));
    assert!(wait_until(Duration::from_secs(2), || d2.state() == "MASTER"));
    h1.run(&["ip", "link", "set", "eth0", "up"]).unwrap();
    assert!(
        wait_until(Duration::from_secs(3), || holders(&lab, vip()) == vec![1]
            && d2.state() == "BACKUP"),
        "host 1 should run (and preempt) once its link is up: {}\n{}",
        d1.state(),
        d1.child.log()
    );
}
