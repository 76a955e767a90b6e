//! The lab's service: a tiny HTTP server each host runs behind the VIP, the client that asks
//! the VIP every 10 ms, and the CPU burner for the busy-machine timer runs.
//!
//! The server and the burner run as subcommands of the harness binary (`serve`, `spin`),
//! started inside lab hosts. The server is started through a symlink named after the host
//! (`web1`, `web2`): the kernel takes a process's name from the path it was executed by, and
//! the lab's hosts share one process table, so each host's health checks must look for a name
//! of their own.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// Serves `GET` on `port` (all addresses, both families) forever, answering `200 OK` with
/// body `name`. One connection at a time: the clients are a health check and the 10 ms
/// client.
pub fn serve(port: u16, name: &str) -> std::io::Result<()> {
    let listener = TcpListener::bind(SocketAddr::from(([0u8; 16], port)))
        .or_else(|_| TcpListener::bind(SocketAddr::from(([0u8; 4], port))))?;
    let response = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{name}",
        name.len()
    );
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut buf = [0u8; 2048];
        let mut seen = 0;
        // Read the request head (up to the blank line); the body, if any, is ignored.
        while seen < buf.len() {
            match stream.read(&mut buf[seen..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    seen += n;
                    if buf[..seen].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
        let _ = stream.write_all(response.as_bytes());
    }
    Ok(())
}

/// Keeps `threads` threads spinning for `seconds`.
pub fn spin(threads: usize, seconds: f64) {
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let workers: Vec<_> = (0..threads.max(1))
        .map(|_| {
            std::thread::spawn(move || {
                let mut x = 1u64;
                while Instant::now() < until {
                    for _ in 0..10_000 {
                        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    }
                    std::hint::black_box(x);
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
}

/// One request of the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// When it started (wall clock).
    pub started: SystemTime,
    /// When it ended (wall clock).
    pub ended: SystemTime,
    /// The body of a `200 OK` (the answering host's name), or why it failed.
    pub outcome: Result<String, String>,
}

/// One GET of `http://ip:port/` with `timeout` for connect and read.
pub fn get(ip: IpAddr, port: u16, timeout: Duration) -> Result<String, String> {
    let mut stream = TcpStream::connect_timeout(&SocketAddr::new(ip, port), timeout)
        .map_err(|e| format!("connect: {}", e.kind()))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(format!("GET / HTTP/1.0\r\nHost: {ip}\r\n\r\n").as_bytes())
        .map_err(|e| format!("send: {}", e.kind()))?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .map_err(|e| format!("read: {}", e.kind()))?;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| "no HTTP head".to_owned())?;
    if head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200") {
        Ok(body.to_owned())
    } else {
        Err(head.lines().next().unwrap_or_default().to_owned())
    }
}

/// Requests `http://ip:port/` every `period` (a request that takes longer delays the next
/// one; missed slots are skipped, not made up) until `stop` is set; each with `timeout`.
/// Each request is appended to `log` as it ends. Runs on the calling thread: call it inside
/// the client host's namespace.
pub fn client_loop(
    ip: IpAddr,
    port: u16,
    period: Duration,
    timeout: Duration,
    stop: &AtomicBool,
    log: &Mutex<Vec<Request>>,
) {
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let started = SystemTime::now();
        let outcome = get(ip, port, timeout);
        let request = Request {
            started,
            ended: SystemTime::now(),
            outcome,
        };
        if let Ok(mut log) = log.lock() {
            log.push(request);
        }
        next += period;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_answers_its_name_and_the_client_reads_it() {
        // Port 0 is not possible with `serve`; use a listener of our own the same way.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        std::thread::spawn(move || serve(port, "h9"));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let body = loop {
            match get(ip, port, Duration::from_millis(500)) {
                Ok(body) => break body,
                Err(e) if Instant::now() > deadline => panic!("{e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        };
        assert_eq!(body, "h9");
        let stop = AtomicBool::new(false);
        let log = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            s.spawn(|| {
                let (period, timeout) = (Duration::from_millis(10), Duration::from_millis(200));
                client_loop(ip, port, period, timeout, &stop, &log);
            });
            std::thread::sleep(Duration::from_millis(100));
            stop.store(true, Ordering::Relaxed);
        });
        let requests = log.into_inner().unwrap();
        assert!((5..=12).contains(&requests.len()), "{}", requests.len());
        assert!(requests.iter().all(|r| r.outcome.as_deref() == Ok("h9")));
        // Nothing listening: refused at once.
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let dead = closed.local_addr().unwrap().port();
        drop(closed);
        assert!(get(ip, dead, Duration::from_millis(200)).is_err());
    }
}
