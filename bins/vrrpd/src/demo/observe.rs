//! The demo's eyes, each a thread inside a lab namespace: the client that requests the VIP
//! every few milliseconds, and one watcher per server host that records the VIP appearing and
//! disappearing (rtnetlink address events, so the times are the kernel's, not a poll's).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vrrp_lab::{Host, NsTask};
use vrrp_netlink::{NetEvent, NetlinkOps, RtNetlink};

use super::journal::{Failure, Journal, Outcome, Sample, VipChange};

/// The threads observing one lab; stopped and joined when dropped (before the lab goes).
pub(crate) struct Observers {
    stop: Arc<AtomicBool>,
    tasks: Vec<NsTask<()>>,
}

impl Observers {
    /// Starts a VIP watcher in each of `servers` and the client in `client`; returns once
    /// every watcher is subscribed (so no change is missed) and the client runs.
    pub(crate) fn start(
        servers: &[&Host],
        client: &Host,
        vip: IpAddr,
        period: Duration,
        request_timeout: Duration,
        journal: &Journal,
    ) -> anyhow::Result<Self> {
        let mut observers = Self {
            stop: Arc::new(AtomicBool::new(false)),
            tasks: Vec::new(),
        };
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        for host in servers {
            let (stop, journal, ready) =
                (observers.stop.clone(), journal.clone(), ready_tx.clone());
            let number = host.number();
            observers
                .tasks
                .push(host.spawn_async(move || watch_vip(number, vip, stop, journal, ready))?);
        }
        drop(ready_tx);
        for _ in servers {
            match ready_rx.recv_timeout(Duration::from_secs(5)) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(anyhow!("watching the VIP: {e}")),
                Err(_) => return Err(anyhow!("the VIP watchers did not start")),
            }
        }
        let (stop, journal) = (observers.stop.clone(), journal.clone());
        let target = SocketAddr::new(vip, 80);
        observers.tasks.push(
            client
                .spawn_async(move || run_client(target, period, request_timeout, stop, journal))?,
        );
        Ok(observers)
    }
}

impl Drop for Observers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.tasks.iter().any(|t| !t.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        for task in self.tasks.drain(..) {
            // Joining a thread that panicked re-raises its panic: not while already unwinding.
            if task.is_finished() && !std::thread::panicking() {
                let _ = task.join();
            }
        }
    }
}

/// Records every add and removal of `vip` in this namespace until `stop`.
async fn watch_vip(
    host: usize,
    vip: IpAddr,
    stop: Arc<AtomicBool>,
    journal: Journal,
    ready: mpsc::Sender<Result<(), String>>,
) {
    let subscribed = async {
        let netlink = RtNetlink::new()?;
        netlink.subscribe().await
    }
    .await;
    let mut events = match subscribed {
        Ok(events) => {
            let _ = ready.send(Ok(()));
            events
        }
        Err(e) => {
            let _ = ready.send(Err(format!("host {host}: {e}")));
            return;
        }
    };
    while !stop.load(Ordering::Relaxed) {
        let event = tokio::select! {
            event = events.recv() => event,
            () = tokio::time::sleep(Duration::from_millis(20)) => continue,
        };
        let (info, present) = match event {
            Some(NetEvent::AddressAdded(info)) => (info, true),
            Some(NetEvent::AddressRemoved(info)) => (info, false),
            Some(_) => continue,
            None => return,
        };
        if info.net.addr() == vip {
            journal.push_vip(VipChange {
                at: Instant::now(),
                host,
                present,
            });
        }
    }
}

/// Starts a request to `target` every `period` (each on its own task, so a hanging one does
/// not delay the next) until `stop`.
async fn run_client(
    target: SocketAddr,
    period: Duration,
    request_timeout: Duration,
    stop: Arc<AtomicBool>,
    journal: Journal,
) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut running = tokio::task::JoinSet::new();
    while !stop.load(Ordering::Relaxed) {
        ticks.tick().await;
        let journal = journal.clone();
        running.spawn(async move {
            let sent = Instant::now();
            let outcome = match tokio::time::timeout(request_timeout, get(target)).await {
                Ok(Ok(label)) => Outcome::Served(label),
                Ok(Err(failure)) => Outcome::Failed(failure),
                Err(_) => Outcome::Failed(Failure::Timeout),
            };
            journal.push_sample(Sample {
                sent,
                done: Instant::now(),
                outcome,
            });
        });
        // Reap the finished ones as we go.
        while running.try_join_next().is_some() {}
    }
    running.abort_all();
}

/// `GET /` over HTTP/1.1; the backend's label, or why not.
async fn get(target: SocketAddr) -> Result<String, Failure> {
    let other = |what: &str, e: std::io::Error| Failure::Other(format!("{what}: {e}"));
    let mut stream = match tokio::net::TcpStream::connect(target).await {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return Err(Failure::Refused);
        }
        Err(e) => return Err(other("connect", e)),
    };
    let request = format!(
        "GET / HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n\r\n",
        target.ip()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| other("send", e))?;
    let mut reply = Vec::new();
    stream
        .read_to_end(&mut reply)
        .await
        .map_err(|e| other("receive", e))?;
    parse_reply(&reply)
}

/// The body of a `200` reply, trimmed; other replies are failures.
fn parse_reply(reply: &[u8]) -> Result<String, Failure> {
    let text = String::from_utf8_lossy(reply);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| Failure::Other("incomplete HTTP reply".into()))?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(Failure::Other(format!("HTTP status `{status}`")));
    }
    Ok(body.trim().to_owned())
}

/// Checks that `host` answers HTTP on port 80 (the backend has started).
pub(crate) fn backend_answers(host: &Host) -> anyhow::Result<bool> {
    let target = SocketAddr::new(IpAddr::from([127, 0, 0, 1]), 80);
    host.block_on(move || async move {
        matches!(
            tokio::time::timeout(Duration::from_millis(500), get(target)).await,
            Ok(Ok(_))
        )
    })
    .context("probing the backend")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_parse_into_labels_or_failures() {
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nnginx-02\n";
        assert_eq!(parse_reply(ok), Ok("nginx-02".to_owned()));
        let missing = b"HTTP/1.1 404 Not Found\r\n\r\nnot found\n";
        assert_eq!(
            parse_reply(missing),
            Err(Failure::Other(
                "HTTP status `HTTP/1.1 404 Not Found`".into()
            ))
        );
        assert!(matches!(
            parse_reply(b"HTTP/1.1 200 OK\r\n"),
            Err(Failure::Other(_))
        ));
    }
}
