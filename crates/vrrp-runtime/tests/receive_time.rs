//! The receive sockets hand back the kernel's receive time, not the time the packet was read:
//! a backup's Master_Down_Timer starts from it (RFC 9568 §6.4.2), so a slow wake-up of the
//! daemon after an idle interval no longer delays its takeover. Inside a lab (root).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::IpAddr;
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use vrrp_lab::{Lab, require_root};
use vrrp_packet::{AddressFamily, MULTICAST_V4, MULTICAST_V6};
use vrrp_runtime::socket::{Received, VrrpReceiver, VrrpSender};

/// Sends one packet from host 1 to the VRRP group, lets it sit in host 2's socket queue for
/// 100 ms, then reads it. Returns what was read and the wall-clock times just before the send
/// and just before the read.
fn send_then_read_late(lab: &Lab, family: AddressFamily) -> (Received, SystemTime, SystemTime) {
    let (h1, h2) = (lab.host(1).unwrap(), lab.host(2).unwrap());
    let (index1, index2) = (common::ifindex(h1), common::ifindex(h2));
    let src = match family {
        AddressFamily::Ipv4 => IpAddr::V4(h1.ipv4()),
        AddressFamily::Ipv6 => IpAddr::V6(h1.link_local("eth0").unwrap().unwrap()),
    };
    let dst = match family {
        AddressFamily::Ipv4 => IpAddr::V4(MULTICAST_V4),
        AddressFamily::Ipv6 => IpAddr::V6(MULTICAST_V6),
    };
    let (ready_tx, ready_rx) = mpsc::channel();
    let (sent_tx, sent_rx) = mpsc::channel::<()>();
    let reader = h2
        .spawn_async(move || async move {
            let receiver = VrrpReceiver::open(family, "eth0", index2).unwrap();
            ready_tx.send(()).unwrap();
            sent_rx.recv().unwrap();
            // The packet is in the queue now; read it 100 ms late, as a daemon that was slow
            // to wake up would.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let before_read = SystemTime::now();
            let mut buf = vec![0u8; 4160];
            let received = tokio::time::timeout(Duration::from_secs(2), receiver.recv(&mut buf))
                .await
                .expect("the packet should have arrived")
                .unwrap();
            (received, before_read)
        })
        .unwrap();
    ready_rx.recv().unwrap();
    let before_send = h1
        .block_on(move || async move {
            let sender = VrrpSender::open("eth0", index1, src).unwrap();
            let before_send = SystemTime::now();
            // Not a valid advert: the socket does not look inside.
            sender
                .send(dst, &[0x31, 1, 100, 1, 0, 100, 0, 0])
                .await
                .unwrap();
            before_send
        })
        .unwrap();
    // The bridge needs a moment; the reader sleeps 100 ms after this anyway.
    std::thread::sleep(Duration::from_millis(20));
    sent_tx.send(()).unwrap();
    let (received, before_read) = reader.join().unwrap();
    assert_eq!(received.src, src);
    (received, before_send, before_read)
}

#[test]
fn the_receive_time_is_the_kernels_not_the_readers() {
    if !require_root() {
        return;
    }
    let lab = Lab::new(2).unwrap();
    for family in [AddressFamily::Ipv4, AddressFamily::Ipv6] {
        let (received, before_send, before_read) = send_then_read_late(&lab, family);
        let stamp = received
            .kernel_time
            .unwrap_or_else(|| panic!("{family:?}: no kernel receive time"));
        // Ordering only, no timing: the kernel stamped the packet after it was sent and
        // before the reader (which slept 120 ms in between) asked for it.
        assert!(
            stamp >= before_send,
            "{family:?}: stamped before it was sent"
        );
        assert!(
            stamp < before_read,
            "{family:?}: stamped when read, not when received"
        );
        eprintln!(
            "{family:?}: stamped {:?} after the send, read {:?} after the stamp",
            stamp.duration_since(before_send).unwrap(),
            before_read.duration_since(stamp).unwrap()
        );
    }
}
