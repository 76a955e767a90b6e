//! `http` and `tcp` probes against tiny servers started by each test, inside a private network
//! namespace (192.0.2.1 on a veth pair there). Needs root; skipped otherwise unless CI is set.

// Test code: a panic is a failed assertion, in helpers as in tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use support::{LAB_ADDR, NetNs, PATIENCE, SILENT_ADDR, next_event, require_root};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use vrrp_health::{
    HealthState, HttpProbe, ProbeEvent, ProbeKind, ProbeResult, ProbeRunner, ProbeSpec,
    StatusCodes, TcpProbe,
};

/// How the test server answers.
#[derive(Clone)]
enum Reply {
    /// A complete response with this status.
    Status(u16),
    /// Wait, then answer 200.
    After(Duration),
    /// Not HTTP at all.
    Raw(&'static [u8]),
    /// A 200 status line followed by endless headers.
    EndlessHeaders,
    /// Close without answering.
    Close,
}

/// Serves `reply` on 192.0.2.1 (inside the namespace); returns the port and a channel of the
/// requests it read.
async fn serve(reply: Reply) -> (u16, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind((LAB_ADDR, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(answer(stream, reply.clone(), tx.clone()));
        }
    });
    (port, rx)
}

async fn answer(mut stream: TcpStream, reply: Reply, requests: mpsc::UnboundedSender<String>) {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 8192 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let _ = requests.send(String::from_utf8_lossy(&request).into_owned());
    let _ = match reply {
        Reply::Status(code) => {
            let body = "ok\n";
            let head = format!(
                "HTTP/1.1 {code} Whatever\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(head.as_bytes()).await
        }
        Reply::After(delay) => {
            tokio::time::sleep(delay).await;
            stream.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await
        }
        Reply::Raw(bytes) => stream.write_all(bytes).await,
        Reply::EndlessHeaders => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n").await;
            let line = b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
            // Up to 4 MiB: far beyond the probe's limit; stops when the probe hangs up.
            for _ in 0..(4 << 20) / line.len() {
                if stream.write_all(line).await.is_err() {
                    break;
                }
            }
            Ok(())
        }
        Reply::Close => Ok(()),
    };
}

fn http_spec(port: u16, timeout: Duration) -> ProbeSpec {
    let mut spec = ProbeSpec::new(
        "web",
        ProbeKind::Http(
            HttpProbe::from_url(&format!("http://{LAB_ADDR}:{port}/nginx_health")).unwrap(),
        ),
    );
    spec.timeout = timeout;
    spec.interval = Duration::from_secs(10);
    spec
}

/// Spawns `spec`, skips the initial event, returns the event of its first run.
async fn first_verdict(spec: ProbeSpec) -> ProbeEvent {
    let (mut runner, mut events) = ProbeRunner::new();
    runner.spawn(spec).unwrap();
    let initial = next_event(&mut events, PATIENCE).await;
    assert_eq!(initial.state, HealthState::Unknown);
    assert_eq!(initial.result, None);
    next_event(&mut events, PATIENCE).await
}

fn reason(event: &ProbeEvent) -> String {
    match &event.result {
        Some(ProbeResult::Failure { reason }) => reason.clone(),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn http_good_status_codes_are_healthy_and_the_request_is_http_1_1() {
    if !require_root("http_good_status_codes_are_healthy_and_the_request_is_http_1_1") {
        return;
    }
    NetNs::with_lab_address().block_on(async {
        for code in [200, 204, 301, 399] {
            let (port, mut requests) = serve(Reply::Status(code)).await;
            let event = first_verdict(http_spec(port, Duration::from_secs(2))).await;
            assert!(event.healthy, "{code}: {event:?}");
            assert_eq!(event.result, Some(ProbeResult::Success));
            let request = requests.recv().await.unwrap();
            assert!(
                request.starts_with("GET /nginx_health HTTP/1.1\r\n"),
                "{request:?}"
            );
            assert!(
                request.contains(&format!("\r\nHost: {LAB_ADDR}:{port}\r\n")),
                "{request:?}"
            );
            assert!(request.contains("\r\nConnection: close\r\n"), "{request:?}");
        }
    });
}

#[test]
fn http_500_and_404_fail_unless_configured() {
    if !require_root("http_500_and_404_fail_unless_configured") {
        return;
    }
    NetNs::with_lab_address().block_on(async {
        for code in [500, 503, 404, 199] {
            let (port, _) = serve(Reply::Status(code)).await;
            let event = first_verdict(http_spec(port, Duration::from_secs(2))).await;
            assert!(!event.healthy);
            assert_eq!(reason(&event), format!("HTTP status {code}"));
        }
        // With expect = 500, a 500 is what healthy looks like.
        let (port, _) = serve(Reply::Status(500)).await;
        let mut spec = http_spec(port, Duration::from_secs(2));
        if let ProbeKind::Http(h) = &mut spec.kind {
            h.expect = StatusCodes::parse("500").unwrap();
        }
        assert!(first_verdict(spec).await.healthy);
    });
}

#[test]
fn http_slower_than_the_timeout_is_a_timeout() {
    if !require_root("http_slower_than_the_timeout_is_a_timeout") {
        return;
    }
    NetNs::with_lab_address().block_on(async {
        let (port, _) = serve(Reply::After(Duration::from_secs(5))).await;
        let event = first_verdict(http_spec(port, Duration::from_millis(200))).await;
        assert!(!event.healthy);
        assert_eq!(event.result, Some(ProbeResult::Timeout));
    });
}

#[test]
fn http_connection_refused_fails() {
    if !require_root("http_connection_refused_fails") {
        return;
    }
    NetNs::with_lab_address().block_on(async {
        // Bind and drop to get a port nobody listens on.
        let port = TcpListener::bind((LAB_ADDR, 0))
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let event = first_verdict(http_spec(port, Duration::from_secs(2))).await;
        let reason = reason(&event);
        assert!(
            reason.starts_with(&format!("connect to {LAB_ADDR}:{port}:"))
                && reason.contains("refused"),
            "{reason}"
        );
    });
}

#[test]
fn http_garbage_replies_fail_without_waiting_for_the_timeout() {
    if !require_root("http_garbage_replies_fail_without_waiting_for_the_timeout") {
        return;
    }
    NetNs::with_lab_address().block_on(async {
        let cases: [(Reply, &str); 4] = [
            (
                Reply::Raw(b"SSH-2.0-OpenSSH_9.2p1\r\n"),
                "not an HTTP reply",
            ),
            (
                Reply::Raw(b"HTTP/1.1 2xx OK\r\n\r\n"),
                "malformed status line",
            ),
            (
                Reply::Raw(b"HTTP/1.1 200 OK\r\nServer: half"),
                "connection closed before the end of the headers",
            ),
            (Reply::Close, "connection closed without a reply"),
        ];
        for (reply, expected) in cases {
            let (port, _) = serve(reply).await;
            // A long timeout: the failure must come from reading the reply, not from the clock.
            let event = first_verdict(http_spec(port, Duration::from_secs(30))).await;
            let reason = reason(&event);
            assert!(reason.starts_with(expected), "{reason:?} vs {expected:?}");
        }
    });
}

#[test]
fn http_huge_headers_are_cut_off() {
    if !require_root("http_huge_headers_are_cut_off") {
        return;
    }
    NetNs::with_lab_address().block_on(async {
        let (port, _) = serve(Reply::EndlessHeaders).await;
        let event = first_verdict(http_spec(port, Duration::from_secs(30))).await;
        assert_eq!(reason(&event), "reply headers longer than 16384 bytes");
    });
}

#[test]
fn tcp_connect_refused_and_unanswered() {
    if !require_root("tcp_connect_refused_and_unanswered") {
        return;
    }
    NetNs::with_lab_address().block_on(async {
        let listener = TcpListener::bind((LAB_ADDR, 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tcp = |host: &str, port: u16, timeout: Duration| {
            let mut spec = ProbeSpec::new("tcp", ProbeKind::Tcp(TcpProbe::new(host, port)));
            spec.timeout = timeout;
            spec
        };

        let event = first_verdict(tcp(LAB_ADDR, port, Duration::from_secs(2))).await;
        assert!(event.healthy, "{event:?}");
        // The probe connected: the listener has a connection waiting.
        let accepted = tokio::time::timeout(PATIENCE, listener.accept()).await;
        assert!(matches!(accepted, Ok(Ok(_))));

        drop(listener);
        let event = first_verdict(tcp(LAB_ADDR, port, Duration::from_secs(2))).await;
        assert!(reason(&event).contains("refused"), "{event:?}");

        // Nobody answers ARP for 192.0.2.2: the connect hangs until the timeout.
        let event = first_verdict(tcp(SILENT_ADDR, 80, Duration::from_millis(300))).await;
        assert_eq!(event.result, Some(ProbeResult::Timeout));
    });
}
