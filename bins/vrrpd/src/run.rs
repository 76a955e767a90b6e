//! `vrrpd run --config FILE [--socket PATH]`: the daemon, in the foreground.
//!
//! Logs state changes with their reasons through tracing on stderr (`RUST_LOG` filters, default
//! `info`). SIGTERM / SIGINT: graceful handover (VIPs removed, priority-0 advert) and exit 0.
//! SIGHUP (or `vrrpd reload`): re-read the configuration file; an invalid one changes nothing
//! and its errors are logged as `FILE:LINE:COL: message` (and returned to `vrrpd reload`);
//! otherwise [`RuntimeHandle::reload`] applies it, leaving unchanged instances alone.
//! `[global] metrics`: Prometheus metrics ([`crate::metrics`]). Under systemd: `Type=notify`
//! readiness, status, reload and stop notifications and the watchdog ([`crate::systemd`]).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use vrrp_config::{Global, LoadedConfig};
use vrrp_runtime::{RuntimeHandle, StartOptions};

use crate::control::{self, ControlRequest};
use crate::metrics::MetricsServer;
use crate::systemd;

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
    runtime.block_on(daemon(
        loaded,
        socket,
        args.config.clone(),
        args.socket.is_some(),
    ))
}

async fn daemon(
    loaded: LoadedConfig,
    socket: PathBuf,
    config_path: PathBuf,
    socket_from_cli: bool,
) -> anyhow::Result<ExitCode> {
    // Handlers first: a SIGHUP (reload) or SIGTERM arriving while we start must not kill us
    // with the default action; they are acted on once the start is done.
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    // The socket's path is checked before the network is touched; it is bound once the
    // runtime is up, so that its appearing means the daemon answers.
    control::check(&socket).await?;
    // The metrics port first: a port in use fails the start before any network change.
    let metrics_listener = match loaded.config.global.metrics {
        Some(addr) => Some(MetricsServer::bind(addr).await?),
        None => None,
    };
    let netlink = vrrp_netlink::RtNetlink::new().context("opening rtnetlink")?;
    // Once running, only CAP_NET_ADMIN and CAP_NET_RAW are kept (plus CAP_SETUID and
    // CAP_SETGID when scripts switch user): the runtime logs what it kept.
    let mut options = StartOptions::dropping_privileges();
    if let Some(period) = systemd::watchdog_period() {
        tracing::info!(
            period_ms = period.as_millis() as u64,
            "systemd watchdog: pinged from the event loop"
        );
        options = options.heartbeat(period, systemd::pet_watchdog);
    }
    let global = loaded.config.global.clone();
    let handle = vrrp_runtime::start_with(loaded.config, netlink, options)
        .await
        .context("starting")?;
    let metrics = match metrics_listener {
        Some(listener) => Some(MetricsServer::serve(listener, handle.clone())?),
        None => None,
    };
    let (control_tx, mut control_rx) = mpsc::channel(4);
    let _control = match control::serve(&socket, handle.clone(), control_tx).await {
        Ok(c) => Some(c),
        Err(e) => {
            handle.shutdown().await;
            return Err(e);
        }
    };
    let mut running = Running {
        config_path,
        global,
        metrics,
        socket_from_cli,
    };
    let mut changes = handle.subscribe();
    tracing::info!(config = %running.config_path.display(), socket = %socket.display(), "vrrpd running");
    // Every instance has been started: the service is up.
    systemd::ready(&current_status_line(&handle).await);
    loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM: handing over"); break; }
            _ = int.recv() => { tracing::info!("SIGINT: handing over"); break; }
            _ = hup.recv() => {
                tracing::info!(config = %running.config_path.display(), "SIGHUP: reloading");
                let _ = reload(&mut running, &handle).await;
            }
            Some(request) = control_rx.recv() => match request {
                ControlRequest::Reload(reply) => {
                    tracing::info!(config = %running.config_path.display(), "reload requested");
                    let _ = reply.send(reload(&mut running, &handle).await);
                }
            },
            Ok(_) = changes.recv() => systemd::status(&current_status_line(&handle).await),
            () = handle.stopped() => {
                tracing::error!("the runtime stopped on its own");
                return Ok(ExitCode::from(1));
            }
        }
    }
    systemd::stopping();
    handle.shutdown().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// What the daemon keeps between reloads besides the runtime.
struct Running {
    config_path: PathBuf,
    /// The `[global]` table in force.
    global: Global,
    metrics: Option<MetricsServer>,
    /// Whether `--socket` was given (then `status_socket` in the file does not matter).
    socket_from_cli: bool,
}

/// Re-reads the configuration file and moves the runtime to it. `Ok` with a summary when the
/// new configuration is in force; `Err` with the reasons when it was refused (nothing
/// changed) or part of it could not start.
async fn reload(running: &mut Running, handle: &RuntimeHandle) -> Result<String, String> {
    systemd::reloading();
    let result = reload_config(running, handle).await;
    match &result {
        Ok(message) => tracing::info!("{message}"),
        Err(message) => {
            for line in message.lines() {
                tracing::error!("{line}");
            }
        }
    }
    systemd::ready(&current_status_line(handle).await);
    result
}

async fn reload_config(running: &mut Running, handle: &RuntimeHandle) -> Result<String, String> {
    let refused = |why: String| format!("reload refused, nothing changed:\n{why}");
    // The same trust rules as at start: a file others can change is refused.
    let text = vrrp_runtime::trusted::read_config(&running.config_path)
        .map_err(|e| refused(e.to_string()))?;
    let loaded = LoadedConfig::parse(&running.config_path.display().to_string(), &text)
        .map_err(|e| refused(e.to_string()))?;
    for w in loaded.warnings(None) {
        tracing::warn!("{w}");
    }
    let new_global = loaded.config.global.clone();
    // A new metrics address is bound before anything changes, so a port in use refuses the
    // whole reload.
    let metrics_moves = new_global.metrics != running.global.metrics;
    let listener = match new_global.metrics.filter(|_| metrics_moves) {
        Some(addr) => Some(
            MetricsServer::bind(addr)
                .await
                .map_err(|e| refused(format!("{e:#}")))?,
        ),
        None => None,
    };
    let report = handle
        .reload(loaded.config)
        .await
        .map_err(|e| refused(format!("{:#}", anyhow::Error::new(e))))?;
    if metrics_moves {
        running.metrics = None;
        if let Some(listener) = listener {
            match MetricsServer::serve(listener, handle.clone()) {
                Ok(server) => running.metrics = Some(server),
                Err(e) => tracing::error!("{e:#}"),
            }
        }
    }
    if new_global.status_socket != running.global.status_socket && !running.socket_from_cli {
        tracing::warn!(
            socket = %new_global.status_socket.display(),
            "status_socket changed: it takes effect at the next start"
        );
    }
    running.global = new_global;
    if report.failed.is_empty() {
        Ok(format!("reloaded: {report}"))
    } else {
        Err(format!("reloaded, with failures: {report}"))
    }
}

async fn current_status_line(handle: &RuntimeHandle) -> String {
    match handle.status().await {
        Ok(status) => systemd::status_line(&status),
        Err(e) => e.to_string(),
    }
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
