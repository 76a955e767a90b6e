//! `vrrpd run --config FILE [--socket PATH]`: the daemon, in the foreground.
//!
//! Logs state changes with their reasons through tracing on stderr (`RUST_LOG` filters, default
//! `info`). SIGTERM / SIGINT: graceful handover (VIPs removed, priority-0 advert) and exit 0.
//! SIGHUP (or `vrrpd reload`): re-read the configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use vrrp_config::LoadedConfig;

use crate::control::{self, ControlRequest};

/// Arguments of `vrrpd run`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The configuration file (TOML, see docs/configuration.md).
    #[arg(long, short, value_name = "FILE")]
    config: PathBuf,
    /// The control socket for `vrrpd status` / `vrrpd reload` (default: `[global]
    /// status_socket`, /run/vrrpd/vrrpd.sock).
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    init_logging();
    // Only a file that no one but root and vrrpd's own user can change (it decides which
    // commands run): docs/security.md.
    let text = match vrrp_runtime::trusted::read_config(&args.config) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("vrrpd: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let loaded = match LoadedConfig::parse(&args.config.display().to_string(), &text) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(1));
        }
    };
    for w in loaded.warnings(None) {
        tracing::warn!("{w}");
    }
    let socket = args
        .socket
        .clone()
        .unwrap_or_else(|| loaded.config.global.status_socket.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(daemon(loaded, socket, args.config.clone()))
}

async fn daemon(
    loaded: LoadedConfig,
    socket: PathBuf,
    config_path: PathBuf,
) -> anyhow::Result<ExitCode> {
    // The socket's path is checked before the network is touched; it is bound once the
    // runtime is up, so that its appearing means the daemon answers.
    control::check(&socket).await?;
    let netlink = vrrp_netlink::RtNetlink::new().context("opening rtnetlink")?;
    // Once the sockets are open, only CAP_NET_ADMIN and CAP_NET_RAW are kept (plus CAP_SETUID
    // and CAP_SETGID when scripts switch user): the runtime logs what it kept.
    let handle = vrrp_runtime::start_with(
        loaded.config,
        netlink,
        vrrp_runtime::StartOptions::dropping_privileges(),
    )
    .await
    .context("starting")?;
    let (control_tx, mut control_rx) = mpsc::channel(4);
    let _control = match control::serve(&socket, handle.clone(), control_tx).await {
        Ok(c) => Some(c),
        Err(e) => {
            handle.shutdown().await;
            return Err(e);
        }
    };
    tracing::info!(config = %config_path.display(), socket = %socket.display(), "vrrpd running");
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM: handing over"); break; }
            _ = int.recv() => { tracing::info!("SIGINT: handing over"); break; }
            _ = hup.recv() => {
                tracing::warn!("SIGHUP: reload is not implemented yet; nothing changed");
            }
            Some(request) = control_rx.recv() => match request {
                ControlRequest::Reload(reply) => {
                    let _ = reply.send(Err("reload is not implemented yet; nothing changed".into()));
                }
            },
            () = handle.stopped() => {
                tracing::error!("the runtime stopped on its own");
                return Ok(ExitCode::from(1));
            }
        }
    }
    handle.shutdown().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
