//! `vrrpd`: the vrrp-rs daemon and operator CLI.

mod check_config;
mod control;
mod import_keepalived;
mod run;
mod status;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// vrrpd keeps a virtual IP on exactly one healthy host (VRRP v2/v3).
#[derive(Debug, Parser)]
#[command(name = "vrrpd", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon in the foreground.
    Run(run::Args),
    /// Show what a running daemon is doing.
    Status(status::Args),
    /// Check config files: one file checks that node, several are one cluster.
    CheckConfig(check_config::Args),
    /// Convert a keepalived.conf to vrrpd's TOML (stdout); what is not carried over goes to stderr.
    ImportKeepalived(import_keepalived::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Status(args) => status::run(&args),
        Command::CheckConfig(args) => check_config::run(&args),
        Command::ImportKeepalived(args) => import_keepalived::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vrrpd: {e:#}");
            ExitCode::FAILURE
        }
    }
}
