//! `http`: one HTTP/1.1 GET, written by hand on a tokio `TcpStream`. Replaces
//! `curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1/` in check scripts: no fork, no
//! exec, one connection.
//!
//! Reads are bounded: at most [`MAX_HEADER_BYTES`] of status line and headers, never the body;
//! a reply that does not start like HTTP is rejected at its first bytes; a slow reply is cut by
//! the probe's timeout (the caller wraps the whole exchange in it).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::tcp::authority;
use crate::spec::HttpProbe;
use crate::tracker::ProbeResult;

/// The most bytes of status line plus headers read before giving up on a reply.
pub(crate) const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Runs one request.
pub(crate) async fn run(probe: &HttpProbe) -> ProbeResult {
    let target = authority(&probe.host, probe.port);
    let mut stream = match TcpStream::connect((probe.host.as_str(), probe.port)).await {
        Ok(s) => s,
        Err(e) => return ProbeResult::failure(format!("connect to {target}: {e}")),
    };
    let _ = stream.set_nodelay(true);
    if let Err(e) = stream.write_all(request(probe).as_bytes()).await {
        return ProbeResult::failure(format!("send to {target}: {e}"));
    }
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 2048];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(n) => n,
            Err(e) => return ProbeResult::failure(format!("read from {target}: {e}")),
        };
        if n == 0 {
            return ProbeResult::failure(if head.is_empty() {
                "connection closed without a reply".to_owned()
            } else {
                "connection closed before the end of the headers".to_owned()
            });
        }
        let searched_from = head.len().saturating_sub(3);
        head.extend_from_slice(&chunk[..n]);
        if !looks_like_http(&head) {
            return ProbeResult::failure(format!("not an HTTP reply: {}", shown(&head)));
        }
        if let Some(end) = header_end(&head, searched_from) {
            return evaluate(&head[..end], probe);
        }
        if head.len() > MAX_HEADER_BYTES {
            return ProbeResult::failure(format!(
                "reply headers longer than {MAX_HEADER_BYTES} bytes"
            ));
        }
    }
}

/// The request: HTTP/1.1 needs `Host`; `Connection: close` so the server does not hold the
/// connection open for us.
pub(crate) fn request(probe: &HttpProbe) -> String {
    let host = match &probe.host_header {
        Some(h) => h.clone(),
        // RFC 3986 §6.2.3: a port equal to the scheme's default is left out.
        None if probe.port == 80 && probe.host.contains(':') => format!("[{}]", probe.host),
        None if probe.port == 80 => probe.host.clone(),
        None => authority(&probe.host, probe.port),
    };
    format!(
        "GET {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: vrrpd-health-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        probe.path
    )
}

/// Whether the bytes so far can be the start of `HTTP/`.
fn looks_like_http(head: &[u8]) -> bool {
    let prefix = b"HTTP/";
    let n = head.len().min(prefix.len());
    head[..n] == prefix[..n]
}

/// Index of the first byte after the status line and headers (an empty line; bare LF line
/// ends are tolerated), searching from `from`.
fn header_end(head: &[u8], from: usize) -> Option<usize> {
    (from..head.len()).find_map(|i| {
        let rest = &head[i..];
        if rest.starts_with(b"\r\n\r\n") {
            Some(i + 4)
        } else if rest.starts_with(b"\n\n") {
            Some(i + 2)
        } else if rest.starts_with(b"\n\r\n") {
            Some(i + 3)
        } else {
            None
        }
    })
}

fn evaluate(head: &[u8], probe: &HttpProbe) -> ProbeResult {
    let line_end = head.iter().position(|b| *b == b'\n').unwrap_or(head.len());
    match parse_status_line(&head[..line_end]) {
        Ok(code) if probe.expect.contains(code) => ProbeResult::Success,
        Ok(code) => ProbeResult::failure(format!("HTTP status {code}")),
        Err(e) => ProbeResult::failure(e),
    }
}

/// Parses `HTTP/1.x SP 3DIGIT [SP reason]` and returns the status code. RFC 9112 §4:
/// `status-line = HTTP-version SP status-code SP [ reason-phrase ]`; a missing final SP is
/// tolerated.
pub(crate) fn parse_status_line(line: &[u8]) -> Result<u16, String> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let bad = || format!("malformed status line: {}", shown(line));
    let rest = line.strip_prefix(b"HTTP/1.").ok_or_else(bad)?;
    let (minor, rest) = rest.split_first().ok_or_else(bad)?;
    if !minor.is_ascii_digit() {
        return Err(bad());
    }
    let rest = rest.strip_prefix(b" ").ok_or_else(bad)?;
    let (digits, tail) = rest.split_at_checked(3).ok_or_else(bad)?;
    if !digits.iter().all(u8::is_ascii_digit) || !(tail.is_empty() || tail.starts_with(b" ")) {
        return Err(bad());
    }
    let code = digits
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    if !(100..=599).contains(&code) {
        return Err(bad());
    }
    Ok(code)
}

/// At most 40 bytes of a reply, printable.
fn shown(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(40)];
    format!("{:?}", String::from_utf8_lossy(cut))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::StatusCodes;

    #[test]
    fn status_lines() {
        assert_eq!(parse_status_line(b"HTTP/1.1 200 OK\r"), Ok(200));
        assert_eq!(
            parse_status_line(b"HTTP/1.0 503 Service Unavailable"),
            Ok(503)
        );
        assert_eq!(parse_status_line(b"HTTP/1.1 204"), Ok(204));
        assert_eq!(parse_status_line(b"HTTP/1.1 301 "), Ok(301));
        for bad in [
            &b""[..],
            b"HTTP/1.1",
            b"HTTP/1.1 20 OK",
            b"HTTP/1.1 2000 OK",
            b"HTTP/1.1 abc OK",
            b"HTTP/2 200 OK",
            b"HTTP/1.x 200 OK",
            b"HTTP/1.1  200 OK",
            b"HTTP/1.1 099 X",
            b"HTTP/1.1 600 X",
            b"SSH-2.0-OpenSSH_9.2",
            b"\xff\xfe\x00",
        ] {
            assert!(parse_status_line(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn header_ends() {
        assert_eq!(
            header_end(b"HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody", 0),
            Some(25)
        );
        assert_eq!(header_end(b"HTTP/1.1 200 OK\n\nbody", 0), Some(17));
        assert_eq!(header_end(b"HTTP/1.1 200 OK\r\nA: b\r\n", 0), None);
    }

    #[test]
    fn prefix_check() {
        assert!(looks_like_http(b"HT"));
        assert!(looks_like_http(b"HTTP/1.1 200"));
        assert!(!looks_like_http(b"SSH-2.0"));
        assert!(!looks_like_http(b"<html>"));
    }

    #[test]
    fn requests() {
        let p = HttpProbe::from_url("http://127.0.0.1/nginx_health").unwrap();
        assert_eq!(
            request(&p),
            "GET /nginx_health HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: vrrpd-health-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        let p = HttpProbe::from_url("http://[2001:db8::1]:8080/").unwrap();
        assert!(request(&p).contains("\r\nHost: [2001:db8::1]:8080\r\n"));
        let p = HttpProbe::from_url("http://[2001:db8::1]/").unwrap();
        assert!(request(&p).contains("\r\nHost: [2001:db8::1]\r\n"));
        let p = HttpProbe {
            host_header: Some("www.example.test".into()),
            ..HttpProbe::new("127.0.0.1", 8080)
        };
        assert!(request(&p).contains("\r\nHost: www.example.test\r\n"));
    }

    #[test]
    fn codes_decide() {
        let mut p = HttpProbe::new("h", 80);
        assert_eq!(
            evaluate(b"HTTP/1.1 200 OK\r\n\r\n", &p),
            ProbeResult::Success
        );
        assert_eq!(
            evaluate(b"HTTP/1.1 500 Oops\r\n\r\n", &p),
            ProbeResult::failure("HTTP status 500")
        );
        p.expect = StatusCodes::parse("500").unwrap();
        assert_eq!(
            evaluate(b"HTTP/1.1 500 Oops\r\n\r\n", &p),
            ProbeResult::Success
        );
    }
}
