//! `vrrpd lab-backend` (hidden): a stand-in for Nginx in labs (`vrrpd demo`, the netns tests).
//!
//! A tiny HTTP/1.1 server that answers `GET /nginx_health` with 200 and `GET /` with 200 and
//! the host's label, so a client can tell which host served it. It renames its process (the
//! `comm` that `process` probes match) to `--name`, `nginx` by default, so the shipped example
//! config's probes work on it unchanged. Not a web server for anything else.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Arguments of `vrrpd lab-backend`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0:80")]
    listen: SocketAddr,
    /// Process name to take (what `process` probes see in /proc/PID/comm).
    #[arg(long, default_value = "nginx")]
    name: String,
    /// Text that `GET /` answers with (e.g. the host's name).
    #[arg(long, default_value = "lab backend")]
    label: String,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let name =
        std::ffi::CString::new(args.name.as_bytes()).context("--name contains a NUL byte")?;
    // The main thread's name is the process's comm.
    rustix::thread::set_name(&name).context("renaming the process")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(serve(args.listen, args.label.clone()))
}

async fn serve(listen: SocketAddr, label: String) -> anyhow::Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    loop {
        let (mut stream, _) = listener.accept().await.context("accepting")?;
        let label = label.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            let Ok(Ok(n)) =
                tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await
            else {
                return;
            };
            let request = String::from_utf8_lossy(&buf[..n]);
            let path = request.split_whitespace().nth(1).unwrap_or("");
            let (status, body) = match path {
                "/nginx_health" => ("200 OK", "ok\n".to_owned()),
                "/" => ("200 OK", format!("{label}\n")),
                _ => ("404 Not Found", "not found\n".to_owned()),
            };
            let reply = format!(
                "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}
