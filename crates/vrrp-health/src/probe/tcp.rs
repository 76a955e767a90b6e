//! `tcp`: a connect, nothing sent. Replaces `</dev/tcp/127.0.0.1/80` and `nc -z` scripts.

use tokio::net::TcpStream;

use crate::spec::TcpProbe;
use crate::tracker::ProbeResult;

/// Connects once; the caller bounds it with the probe's timeout.
pub(crate) async fn run(probe: &TcpProbe) -> ProbeResult {
    match TcpStream::connect((probe.host.as_str(), probe.port)).await {
        // Dropping the stream closes it at once; nothing is sent.
        Ok(_stream) => ProbeResult::Success,
        Err(e) => ProbeResult::failure(format!(
            "connect to {}: {e}",
            authority(&probe.host, probe.port)
        )),
    }
}

/// `host:port`, with an IPv6 address in brackets.
pub(crate) fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
