//! `vrrpd import-keepalived FILE`: our TOML on stdout; on stderr every directive not carried
//! over, as `FILE:LINE: `directive`: why`.

use std::path::PathBuf;
use std::process::ExitCode;

use vrrp_config::ConfigError;
use vrrp_config::keepalived::import_file;

/// Arguments of `vrrpd import-keepalived`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The keepalived.conf to convert (includes are followed, relative to each file).
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let imported = match import_file(&args.file) {
        Ok(i) => i,
        Err(ConfigError::Invalid(d)) => {
            eprintln!("{d}");
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e.into()),
    };
    for note in &imported.notes {
        eprintln!("{note}");
    }
    println!("{}", imported.toml);
    // What we print must be a config vrrpd runs; say so loudly when keepalived's was not.
    let name = format!("{} (converted)", args.file.display());
    if let Err(d) = imported.validate(&name) {
        eprintln!("{d}");
        eprintln!("vrrpd: the converted config is not valid for vrrpd: fix the values above");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
