//! `vrrpd`: the vrrp-rs daemon and operator CLI. This file only parses the command line and
//! dispatches; each subcommand lives in its own module.

mod check_config;
mod control;
mod decode;
mod demo;
mod import_keepalived;
mod lab_backend;
mod packet_report;
mod run;
mod status;
mod watch;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// vrrp-rs: a highly available virtual IP with VRRP (v2 and v3, IPv4 and IPv6).
#[derive(Debug, Parser)]
#[command(name = "vrrpd", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands. Each variant's arguments and code live in the module of the same name.
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
    /// Decode an Ethernet frame, IP packet or bare VRRP message given in hex, print every
    /// field and the result of every receive check (exit 0 valid, 1 a check failed, 2 bad
    /// argument).
    Decode(decode::DecodeArgs),
    /// Show failover for real: two Nginx hosts and a client in network namespaces on this
    /// machine, the classic failover tests, measured (needs root; nothing else is touched).
    Demo(demo::Args),
    /// A stand-in for Nginx in labs (vrrpd demo, tests): answers /nginx_health and /.
    #[command(hide = true)]
    LabBackend(lab_backend::Args),
    /// Live decode of the VRRP packets on an interface, each receive check named, and which
    /// router is master per VRID (needs CAP_NET_RAW).
    Watch(watch::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Run(args) => run::run(args),
        Command::Status(args) => status::run(args),
        Command::CheckConfig(args) => check_config::run(args),
        Command::ImportKeepalived(args) => import_keepalived::run(args),
        Command::Decode(args) => decode::run(args),
        Command::Demo(args) => demo::run(args),
        Command::LabBackend(args) => lab_backend::run(args),
        Command::Watch(args) => watch::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vrrpd: {e:#}");
            ExitCode::FAILURE
        }
    }
}
