//! The control socket: a Unix stream socket (mode 0600) on which `vrrpd status` and
//! `vrrpd reload` talk to a running daemon, one request line and one JSON reply line per
//! connection.
//!
//! Requests (parsed by [`vrrp_runtime::control::parse_request`], which the `control_request`
//! fuzz target exercises): `status` → the [`vrrp_runtime::Status`] JSON; `reload` →
//! `{"ok": bool, "message": "..."}`. Anything else → `{"ok": false, "message": "unknown
//! request ..."}`. The socket's path is checked first ([`vrrp_runtime::trusted`]).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use vrrp_runtime::RuntimeHandle;
use vrrp_runtime::control::{self as protocol, MAX_REQUEST_LEN};

/// What the daemon's main loop must do for a request it cannot answer by itself.
#[derive(Debug)]
pub(crate) enum ControlRequest {
    /// Re-read the configuration; reply with the outcome.
    Reload(tokio::sync::oneshot::Sender<Result<String, String>>),
}

/// The listening socket; removes its file when dropped.
pub(crate) struct ControlSocket {
    path: PathBuf,
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Checks the socket's path before anything is set up: its directories and an existing file
/// there must be root's or vrrpd's own user's, and no other daemon may be answering on it.
pub(crate) async fn check(path: &Path) -> anyhow::Result<()> {
    let exists = vrrp_runtime::trusted::check_socket_path(path)?;
    if exists && UnixStream::connect(path).await.is_ok() {
        bail!(
            "{} is in use by another running vrrpd; give this one its own --socket",
            path.display()
        );
    }
    Ok(())
}

/// Binds the control socket at `path` (mode 0600 from the start) and serves it on a task. The
/// directory is created (mode 0700) if missing; a stale socket (no daemon answering) is
/// replaced, a live one is an error: two daemons must not share it. The path is checked
/// again as in [`check`].
pub(crate) async fn serve(
    path: &Path,
    handle: RuntimeHandle,
    requests: mpsc::Sender<ControlRequest>,
) -> anyhow::Result<ControlSocket> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("setting the mode of {}", dir.display()))?;
    }
    check(path).await?;
    if path.exists() {
        std::fs::remove_file(path).with_context(|| format!("removing stale {}", path.display()))?;
    }
    // The socket is created with mode 0600: no window in which others could connect.
    let old = rustix::process::umask(rustix::fs::Mode::from_bits_truncate(0o177));
    let bound = UnixListener::bind(path);
    rustix::process::umask(old);
    let listener = bound.with_context(|| format!("binding {}", path.display()))?;
    let socket = ControlSocket {
        path: path.to_owned(),
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("setting the mode of {}", path.display()))?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let handle = handle.clone();
            let requests = requests.clone();
            tokio::spawn(async move {
                // A client that never sends a line must not hold a task forever.
                let _ =
                    tokio::time::timeout(Duration::from_secs(5), answer(stream, handle, requests))
                        .await;
            });
        }
    });
    Ok(socket)
}

async fn answer(
    stream: UnixStream,
    handle: RuntimeHandle,
    requests: mpsc::Sender<ControlRequest>,
) -> anyhow::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = Vec::new();
    BufReader::new(read.take(MAX_REQUEST_LEN as u64))
        .read_until(b'\n', &mut line)
        .await?;
    let reply = match protocol::parse_request(&line) {
        Ok(protocol::ControlRequest::Status) => serde_json::to_string(&handle.status().await?)?,
        Ok(protocol::ControlRequest::Reload) => {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let outcome = match requests.send(ControlRequest::Reload(tx)).await {
                Ok(()) => rx
                    .await
                    .unwrap_or_else(|_| Err("the daemon is stopping".into())),
                Err(_) => Err("the daemon is stopping".into()),
            };
            match outcome {
                Ok(message) => serde_json::json!({"ok": true, "message": message}).to_string(),
                Err(message) => serde_json::json!({"ok": false, "message": message}).to_string(),
            }
        }
        // Requests added to the protocol later are refused until this daemon knows them.
        Ok(other) => {
            serde_json::json!({"ok": false, "message": format!("request {other} is not served here")})
                .to_string()
        }
        Err(e) => serde_json::json!({"ok": false, "message": e.to_string()}).to_string(),
    };
    write.write_all(reply.as_bytes()).await?;
    write.write_all(b"\n").await?;
    write.shutdown().await?;
    Ok(())
}

/// Sends one request to the daemon at `path` and returns its reply line.
pub(crate) async fn request(path: &Path, what: &str) -> anyhow::Result<String> {
    let mut stream = UnixStream::connect(path).await.with_context(|| {
        format!(
            "cannot reach vrrpd at {} (is it running? is this the socket it was given with --socket?)",
            path.display()
        )
    })?;
    stream.write_all(format!("{what}\n").as_bytes()).await?;
    let mut reply = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut reply))
        .await
        .context("vrrpd did not answer within 10 s")??;
    Ok(reply)
}
