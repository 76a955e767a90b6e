//! `vrrpd reload [--socket PATH]`: asks a running daemon to re-read its configuration file
//! (the same as `kill -HUP`), and says what happened. Exit 0 when the new configuration is
//! in force; 1 when it was refused (nothing changed; the errors are printed as
//! `FILE:LINE:COL: message`) or some of it could not be started.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::control;

/// Arguments of `vrrpd reload`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The daemon's control socket.
    #[arg(long, value_name = "PATH", default_value = vrrp_config::DEFAULT_STATUS_SOCKET)]
    socket: PathBuf,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let reply = runtime.block_on(control::request(&args.socket, "reload"))?;
    let reply: serde_json::Value =
        serde_json::from_str(&reply).context("vrrpd's reply is not JSON")?;
    let message = reply["message"].as_str().unwrap_or("(no message)");
    if reply["ok"].as_bool() == Some(true) {
        println!("{message}");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("{message}");
        Ok(ExitCode::from(1))
    }
}
