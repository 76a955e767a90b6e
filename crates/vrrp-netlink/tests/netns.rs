//! vrrp-netlink against the real kernel, inside vrrp-lab namespaces (need root; they fail
//! instead of skipping when `CI` is set).

// Helpers outside #[test] fns unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use serde_json::Value;
use vrrp_lab::{CapturedPacket, HOST_IFACE, Host, Lab, require_root};
use vrrp_netlink::{
    AddrGenMode, Announcer, EventStream, Family, IpNet, Ipv6Forwarding, Mac, NeighborAdvert,
    NetEvent, NetlinkError, NetlinkOps, RtNetlink, VmacConfig, create_vmac, eui64_link_local,
    gratuitous_arp, ipv6_forwarding, prevent_arp_flux, read_sysctl, remove_vmac, unsolicited_na,
    vmac_address,
};

const VIP4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const EVENT_TIMEOUT: Duration = Duration::from_secs(5);

fn vip6() -> Ipv6Addr {
    "2001:db8::100".parse().unwrap()
}

/// Polls `f` every 10 ms until it holds or `timeout` passes.
fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

async fn eth0(nl: &RtNetlink) -> u32 {
    nl.link_by_name(HOST_IFACE)
        .await
        .unwrap()
        .expect("eth0")
        .index
}

async fn next_event(
    events: &mut EventStream,
    what: &str,
    mut pred: impl FnMut(&NetEvent) -> bool,
) -> NetEvent {
    tokio::time::timeout(EVENT_TIMEOUT, async {
        loop {
            let event = events.recv().await.expect("event stream ended");
            if pred(&event) {
                return event;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no event: {what}"))
}

fn ip_json(host: &Host, args: &[&str]) -> Value {
    let mut argv = vec!["ip"];
    argv.extend_from_slice(args);
    serde_json::from_str(&host.run(&argv).unwrap()).unwrap()
}

#[test]
fn links_are_found_by_name_and_index() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(1).unwrap();
    let a = lab.host(1).unwrap();
    let (by_name, by_index, missing, all, bad_name) = a
        .block_on(|| async {
            let nl = RtNetlink::new().unwrap();
            let by_name = nl.link_by_name(HOST_IFACE).await.unwrap().unwrap();
            let by_index = nl.link_by_index(by_name.index).await.unwrap().unwrap();
            let missing = (
                nl.link_by_name("nope0").await.unwrap(),
                nl.link_by_index(999_999).await.unwrap(),
            );
            let all = nl.links().await.unwrap();
            let bad_name = nl.link_by_name("a/b").await;
            (by_name, by_index, missing, all, bad_name)
        })
        .unwrap();
    assert_eq!(by_name, by_index);
    assert_eq!(by_name.name, HOST_IFACE);
    assert_eq!(by_name.mac, Some(Mac(a.mac())));
    assert!(by_name.up && by_name.is_running(), "{by_name:?}");
    assert_eq!(by_name.mtu, 1500);
    assert_eq!(by_name.kind.as_deref(), Some("veth"));
    assert_eq!(missing, (None, None));
    let mut names: Vec<_> = all.iter().map(|l| l.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["eth0", "lo"]);
    assert!(matches!(bad_name, Err(NetlinkError::InvalidName(_))));
}

#[test]
fn addresses_are_added_and_removed_idempotently_and_visible_to_ip() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(1).unwrap();
    let a = lab.host(1).unwrap();
    let v4: IpNet = IpNet::new(VIP4.into(), 24).unwrap();
    let v6: IpNet = IpNet::new(vip6().into(), 64).unwrap();
    let (index, listed) = a
        .block_on(|| async {
            let nl = RtNetlink::new().unwrap();
            let index = eth0(&nl).await;
            for net in [v4, v6, v4, v6] {
                nl.add_address(index, net).await.unwrap();
            }
            (index, nl.addresses(index).await.unwrap())
        })
        .unwrap();
    // Our own listing and `ip -j addr` agree; IPv6 usable at once (no DAD).
    assert!(listed.iter().any(|x| x.net == v4 && x.index == index));
    let ours6 = listed.iter().find(|x| x.net == v6).expect("v6 VIP listed");
    assert!(!ours6.tentative && !ours6.dad_failed, "{ours6:?}");
    // 192.0.2.100/24 comes after 192.0.2.11/24: a secondary.
    assert!(listed.iter().find(|x| x.net == v4).unwrap().secondary);
    let shown = a.addresses(HOST_IFACE).unwrap();
    assert_eq!(
        shown
            .iter()
            .filter(|x| x.ip == IpAddr::from(VIP4) && x.prefix_len == 24)
            .count(),
        1
    );
    assert_eq!(
        shown
            .iter()
            .filter(|x| x.ip == IpAddr::from(vip6()) && x.prefix_len == 64)
            .count(),
        1
    );
    // Our VIPs are usable at once; the link-local the kernel gave the fresh veth may still
    // be in its own DAD (a busy machine caught it so): not ours to check.
    assert!(
        shown
            .iter()
            .filter(|x| x.ip == IpAddr::from(VIP4) || x.ip == IpAddr::from(vip6()))
            .all(|x| !x.tentative),
        "{shown:?}"
    );
    // Removing twice is fine; so is removing what was never there.
    a.block_on(|| async move {
        let nl = RtNetlink::new().unwrap();
        for net in [v4, v6, v4, v6, "198.51.100.7/24".parse().unwrap()] {
            nl.remove_address(index, net).await.unwrap();
        }
        // A link that does not exist is an error, not "already gone".
        let err = nl.add_address(999_999, v4).await.unwrap_err();
        assert_eq!(err.errno(), Some(libc::ENODEV), "{err}");
    })
    .unwrap();
    assert!(!a.has_address(VIP4.into()).unwrap());
    assert!(!a.has_address(vip6().into()).unwrap());
    assert!(
        a.has_address(a.ipv4().into()).unwrap(),
        "the host's own address is untouched"
    );
}

#[test]
fn a_prepared_batch_adds_every_address_once_idempotently_and_reports_each_failure() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(1).unwrap();
    let a = lab.host(1).unwrap();
    let nets: Vec<IpNet> = vec![
        IpNet::new(VIP4.into(), 24).unwrap(),
        "192.0.2.101/24".parse().unwrap(),
        IpNet::new(vip6().into(), 64).unwrap(),
    ];
    let (index, first, again, missing) = a
        .block_on(|| {
            let nets = nets.clone();
            async move {
                let nl = RtNetlink::new().unwrap();
                let index = eth0(&nl).await;
                nl.prepare_addresses(index, &nets);
                let first = nl.add_addresses(index, &nets).await;
                // Again: every address is there already, which is success.
                let again = nl.add_addresses(index, &nets).await;
                // Not prepared, and a link that does not exist: one error per address.
                let missing = nl.add_addresses(999_999, &nets[..2]).await;
                (index, first, again, missing)
            }
        })
        .unwrap();
    assert!(first.iter().all(Result::is_ok), "{first:?}");
    assert!(again.iter().all(Result::is_ok), "{again:?}");
    assert_eq!(missing.len(), 2);
    for result in &missing {
        let err = result.as_ref().unwrap_err();
        assert_eq!(err.errno(), Some(libc::ENODEV), "{err}");
    }
    let shown = a.addresses(HOST_IFACE).unwrap();
    for net in &nets {
        assert_eq!(
            shown
                .iter()
                .filter(|x| x.ip == net.addr() && x.prefix_len == net.prefix_len())
                .count(),
            1,
            "{net} once on link {index}: {shown:?}"
        );
    }
    assert!(shown.iter().all(|x| !x.tentative), "{shown:?}");
}

#[test]
fn link_and_address_events_are_observed() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(1).unwrap();
    let a = lab.host(1).unwrap();
    a.block_on(|| async {
        let nl = RtNetlink::new().unwrap();
        let index = eth0(&nl).await;
        let mut events = nl.subscribe().await.unwrap();
        // A change made by someone else (ip), seen through the kernel's notifications.
        let status = std::process::Command::new("ip")
            .args(["link", "set", HOST_IFACE, "down"])
            .status()
            .unwrap();
        assert!(status.success());
        let down = next_event(
            &mut events,
            "eth0 down",
            |e| matches!(e, NetEvent::Link(l) if l.index == index && !l.up),
        )
        .await;
        let NetEvent::Link(down) = down else {
            unreachable!()
        };
        assert!(!down.is_running());
        nl.set_link_up(index).await.unwrap();
        next_event(
            &mut events,
            "eth0 up",
            |e| matches!(e, NetEvent::Link(l) if l.index == index && l.up),
        )
        .await;
        let vip = IpNet::new(VIP4.into(), 24).unwrap();
        nl.add_address(index, vip).await.unwrap();
        next_event(
            &mut events,
            "address added",
            |e| matches!(e, NetEvent::AddressAdded(x) if x.net == vip && x.index == index),
        )
        .await;
        nl.remove_address(index, vip).await.unwrap();
        next_event(
            &mut events,
            "address removed",
            |e| matches!(e, NetEvent::AddressRemoved(x) if x.net == vip),
        )
        .await;
        nl.set_link_down(index).await.unwrap();
        next_event(
            &mut events,
            "eth0 down again",
            |e| matches!(e, NetEvent::Link(l) if l.index == index && !l.up),
        )
        .await;
    })
    .unwrap();
}

/// Creates the VMAC of `family` on eth0 in `host` and returns (vmac index, its link-local).
fn make_vmac(host: &Host, family: Family) -> (u32, Option<Ipv6Addr>) {
    host.block_on(|| async move {
        let nl = RtNetlink::new().unwrap();
        let parent = eth0(&nl).await;
        let vmac = create_vmac(&nl, &VmacConfig::new(parent, 51, family))
            .await
            .unwrap();
        assert!(vmac.link.up, "{vmac:?}");
        assert_eq!(vmac.link.parent, Some(parent));
        (vmac.link.index, vmac.link_local)
    })
    .unwrap()
}

#[test]
fn vmac_has_the_virtual_router_mac_and_a_link_local_of_its_own() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (a, b) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    // First the failure this guards against: a macvlan with the shared MAC brought up with
    // the default addr_gen_mode gets the same EUI-64 link-local on both routers.
    let shared = vmac_address(52, Family::V6).unwrap();
    for host in [a, b] {
        host.block_on(|| async move {
            let nl = RtNetlink::new().unwrap();
            let parent = eth0(&nl).await;
            let link = nl.create_macvlan(parent, "naive", shared).await.unwrap();
            assert!(!link.up, "created down");
            nl.set_link_up(link.index).await.unwrap();
        })
        .unwrap();
        let eui = eui64_link_local(shared);
        assert!(eventually(Duration::from_secs(2), || host
            .link_local("naive")
            .unwrap()
            == Some(eui)));
    }

    let (index_a, ll_a) = make_vmac(a, Family::V6);
    let (_, ll_b) = make_vmac(b, Family::V6);
    let name = "vrrp6.51";
    for (host, ll) in [(a, ll_a), (b, ll_b)] {
        let json = ip_json(host, &["-d", "-j", "link", "show", name]);
        let link = &json[0];
        assert_eq!(link["address"], "00:00:5e:00:02:33", "{link}");
        assert_eq!(link["linkinfo"]["info_kind"], "macvlan");
        assert_eq!(link["linkinfo"]["info_data"]["mode"], "bridge");
        assert_eq!(link["inet6_addr_gen_mode"], "none");
        assert_eq!(link["link"], HOST_IFACE);
        // Its only address is the parent's link-local, not one derived from the shared MAC.
        let parent_ll = host.link_local(HOST_IFACE).unwrap().unwrap();
        assert_eq!(ll, Some(parent_ll));
        let addrs = host.addresses(name).unwrap();
        assert_eq!(addrs.len(), 1, "{addrs:?}");
        assert_eq!(addrs[0].ip, IpAddr::from(parent_ll));
    }
    assert_ne!(
        ll_a, ll_b,
        "each router's VMAC has its own link-local address"
    );

    // An IPv4 VMAC gets no IPv6 address at all.
    let (index4, ll4) = make_vmac(a, Family::V4);
    assert_eq!(ll4, None);
    assert_eq!(a.link_mac("vrrp4.51").unwrap(), [0, 0, 0x5e, 0, 1, 51]);
    assert!(a.addresses("vrrp4.51").unwrap().is_empty());

    // Removed on exit; twice is fine; a real interface is never removed.
    a.block_on(|| async move {
        let nl = RtNetlink::new().unwrap();
        remove_vmac(&nl, index_a).await.unwrap();
        remove_vmac(&nl, index_a).await.unwrap();
        remove_vmac(&nl, index4).await.unwrap();
        let parent = eth0(&nl).await;
        assert!(matches!(
            remove_vmac(&nl, parent).await,
            Err(NetlinkError::NotMacvlan { .. })
        ));
        nl.set_addr_gen_mode(parent, AddrGenMode::Eui64)
            .await
            .unwrap();
    })
    .unwrap();
    assert!(
        !a.output(&["ip", "link", "show", name])
            .unwrap()
            .status
            .success()
    );
    assert!(
        !a.output(&["ip", "link", "show", "vrrp4.51"])
            .unwrap()
            .status
            .success()
    );
    assert!(
        b.output(&["ip", "link", "show", name])
            .unwrap()
            .status
            .success()
    );
}

/// The ARP replies seen on the bridge for `VIP4` after `client` resolves it afresh.
fn arp_replies_for_vip(lab: &Lab, client: &Host) -> Vec<CapturedPacket> {
    client
        .run(&["ip", "neigh", "flush", "dev", HOST_IFACE])
        .unwrap();
    let capture = lab.capture("arp").unwrap();
    let _ = client
        .output(&["ping", "-n", "-c", "1", "-W", "1", &VIP4.to_string()])
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let frames = capture.stop().unwrap();
    frames
        .into_iter()
        .filter(|p| {
            let arp = p.eth_payload();
            p.ethertype() == Some(0x0806)
                && arp.len() >= 28
                && arp[7] == 2
                && arp[14..18] == VIP4.octets()
        })
        .collect()
}

#[test]
fn with_a_vmac_only_the_vmac_answers_arp_for_the_vip() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (a, b) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let (vmac_index, _) = make_vmac(a, Family::V4);
    a.block_on(|| async move {
        let nl = RtNetlink::new().unwrap();
        nl.add_address(vmac_index, IpNet::new(VIP4.into(), 24).unwrap())
            .await
            .unwrap();
    })
    .unwrap();
    let vmac = [0, 0, 0x5e, 0, 1, 51];
    // Kernel defaults: ARP flux, the parent answers too (this is what the guard fixes).
    let replies = arp_replies_for_vip(&lab, b);
    let senders: Vec<_> = replies.iter().map(|p| p.eth_src().unwrap()).collect();
    assert!(
        senders.contains(&vmac) && senders.contains(&a.mac()),
        "{senders:02x?}"
    );

    let original = a
        .in_ns(|| read_sysctl("net/ipv4/conf/eth0/arp_ignore").unwrap())
        .unwrap();
    assert_eq!(original, "0");
    let (first, second) = a
        .in_ns(|| {
            (
                prevent_arp_flux(HOST_IFACE, "vrrp4.51").unwrap(),
                prevent_arp_flux(HOST_IFACE, "vrrp4.51").unwrap(),
            )
        })
        .unwrap();
    let replies = arp_replies_for_vip(&lab, b);
    let senders: Vec<_> = replies.iter().map(|p| p.eth_src().unwrap()).collect();
    assert_eq!(senders, [vmac], "exactly one ARP reply, from the VMAC");
    assert_eq!(
        &replies[0].eth_payload()[8..14],
        &vmac,
        "sender hardware address = VMAC"
    );
    let neighbour = b.neighbour(VIP4.into()).unwrap().unwrap();
    assert_eq!(neighbour.mac, Some(vmac));

    // Restored when the last guard goes, even when dropped on a thread outside the namespace.
    let read = |knob: &'static str| {
        a.in_ns(move || read_sysctl(&format!("net/ipv4/conf/eth0/{knob}")).unwrap())
            .unwrap()
    };
    drop(first);
    assert_eq!(
        (read("arp_ignore"), read("arp_filter")),
        ("1".into(), "1".into())
    );
    second.restore().unwrap();
    assert_eq!(
        (read("arp_ignore"), read("arp_filter")),
        ("0".into(), "0".into())
    );
}

#[test]
fn a_gratuitous_arp_is_seen_on_the_bridge_and_updates_the_neighbour_table() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (a, b) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    // b has a stale entry for the VIP (the old master's MAC); Linux only updates existing
    // entries from gratuitous ARP (arp_accept = 0).
    b.run(&[
        "ip",
        "neigh",
        "replace",
        &VIP4.to_string(),
        "lladdr",
        "02:00:00:00:09:99",
        "dev",
        HOST_IFACE,
        "nud",
        "stale",
    ])
    .unwrap();
    let capture = lab.capture("arp").unwrap();
    let mac = Mac(a.mac());
    let ifindex = a
        .block_on(|| async { eth0(&RtNetlink::new().unwrap()).await })
        .unwrap();
    a.in_ns(|| {
        Announcer::new(ifindex)
            .unwrap()
            .send_garp(mac, VIP4)
            .unwrap()
    })
    .unwrap();
    let frame = capture
        .wait_for(Duration::from_secs(5), |p| {
            p.ethertype() == Some(0x0806) && p.eth_src() == Some(a.mac())
        })
        .unwrap()
        .expect("gratuitous ARP on the bridge");
    assert_eq!(frame.data, gratuitous_arp(mac, VIP4), "exact bytes");
    let arp = frame.eth_payload();
    assert_eq!(frame.eth_dst(), Some([0xff; 6]));
    assert_eq!(&arp[6..8], &[0, 1], "request");
    assert_eq!(&arp[8..14], &a.mac(), "sender hardware");
    assert_eq!(&arp[14..18], &VIP4.octets(), "sender IP");
    assert_eq!(&arp[18..24], &[0xff; 6], "target hardware");
    assert_eq!(&arp[24..28], &VIP4.octets(), "target IP");
    assert!(
        eventually(Duration::from_secs(2), || b
            .neighbour(VIP4.into())
            .unwrap()
            .and_then(|n| n.mac)
            == Some(a.mac())),
        "{:?}",
        b.neighbour(VIP4.into())
    );

    // With a VMAC as the sender hardware address, clients learn the VMAC.
    let vmac = vmac_address(51, Family::V4).unwrap();
    a.in_ns(|| {
        Announcer::new(ifindex)
            .unwrap()
            .send_garp(vmac, VIP4)
            .unwrap()
    })
    .unwrap();
    assert!(eventually(Duration::from_secs(2), || {
        b.neighbour(VIP4.into()).unwrap().and_then(|n| n.mac) == Some(vmac.0)
    }));
    let frames = capture.stop().unwrap();
    assert!(frames.iter().any(|p| p.data == gratuitous_arp(vmac, VIP4)));
    // A frame too short to be Ethernet is refused before it reaches the socket.
    a.in_ns(|| {
        let err = Announcer::new(ifindex)
            .unwrap()
            .send_frame(&[0; 10])
            .unwrap_err();
        assert!(matches!(err, NetlinkError::ShortFrame(10)));
    })
    .unwrap();
}

#[test]
fn an_unsolicited_na_is_seen_on_the_bridge_and_updates_the_neighbour_table() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (a, b) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let vip = vip6();
    b.run(&[
        "ip",
        "-6",
        "neigh",
        "replace",
        &vip.to_string(),
        "lladdr",
        "02:00:00:00:09:99",
        "dev",
        HOST_IFACE,
        "nud",
        "stale",
    ])
    .unwrap();
    let capture = lab.capture("icmp6 and ip6[40] == 136").unwrap();
    let mac = Mac(a.mac());
    let ifindex = a
        .block_on(|| async { eth0(&RtNetlink::new().unwrap()).await })
        .unwrap();
    a.in_ns(|| {
        Announcer::new(ifindex)
            .unwrap()
            .send_unsolicited_na(mac, vip, true)
            .unwrap()
    })
    .unwrap();
    let frame = capture
        .wait_for(Duration::from_secs(5), |p| {
            p.ethertype() == Some(0x86dd) && p.eth_src() == Some(a.mac())
        })
        .unwrap()
        .expect("neighbour advertisement on the bridge");
    assert_eq!(
        frame.data,
        unsolicited_na(&NeighborAdvert::unsolicited(mac, vip, true)),
        "exact bytes"
    );
    assert_eq!(frame.eth_dst(), Some([0x33, 0x33, 0, 0, 0, 1]));
    let ip = frame.eth_payload();
    assert_eq!(ip[7], 255, "hop limit");
    assert_eq!(&ip[8..24], &vip.octets(), "from the VIP");
    assert_eq!(
        &ip[24..40],
        &"ff02::1".parse::<Ipv6Addr>().unwrap().octets()
    );
    assert_eq!(ip[40], 136);
    assert_eq!(ip[44], 0b1010_0000, "R and O set, S clear");
    // The kernel checks hop limit and checksum before it touches the cache: the update proves
    // both; R makes b flag the entry as a router.
    assert!(
        eventually(Duration::from_secs(2), || {
            b.neighbour(vip.into())
                .unwrap()
                .is_some_and(|n| n.mac == Some(a.mac()) && n.router)
        }),
        "{:?}",
        b.neighbour(vip.into())
    );
    // And with the VMAC, R clear: the entry follows and loses the router flag.
    let vmac = vmac_address(51, Family::V6).unwrap();
    a.in_ns(|| {
        Announcer::new(ifindex)
            .unwrap()
            .send_unsolicited_na(vmac, vip, false)
            .unwrap()
    })
    .unwrap();
    assert!(
        eventually(Duration::from_secs(2), || {
            b.neighbour(vip.into())
                .unwrap()
                .is_some_and(|n| n.mac == Some(vmac.0) && !n.router)
        }),
        "{:?}",
        b.neighbour(vip.into())
    );
}

#[test]
fn ipv6_forwarding_is_read_per_interface_inside_the_namespace() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (a, b) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    a.run(&["sysctl", "-qw", "net.ipv6.conf.eth0.forwarding=1"])
        .unwrap();
    assert!(a.in_ns(|| ipv6_forwarding(HOST_IFACE).unwrap()).unwrap());
    assert!(!b.in_ns(|| ipv6_forwarding(HOST_IFACE).unwrap()).unwrap());
    assert!(a.in_ns(|| ipv6_forwarding("../x")).unwrap().is_err());
}

#[test]
fn an_open_forwarding_file_follows_changes_and_stays_in_its_namespace() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let (a, b) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let reader = a
        .in_ns(|| Ipv6Forwarding::open(HOST_IFACE))
        .unwrap()
        .unwrap();
    assert!(!reader.read().unwrap());
    a.run(&["sysctl", "-qw", "net.ipv6.conf.eth0.forwarding=1"])
        .unwrap();
    // The same open file, read from this thread (outside the lab): host 1's value.
    assert!(reader.read().unwrap());
    b.run(&["sysctl", "-qw", "net.ipv6.conf.eth0.forwarding=0"])
        .unwrap();
    assert!(reader.read().unwrap());
    a.run(&["sysctl", "-qw", "net.ipv6.conf.eth0.forwarding=0"])
        .unwrap();
    assert!(!reader.read().unwrap());
    assert!(a.in_ns(|| Ipv6Forwarding::open("../x")).unwrap().is_err());
    a.run(&["ip", "link", "del", "eth0"]).unwrap();
    assert!(reader.read().is_err(), "the interface is gone");
}
