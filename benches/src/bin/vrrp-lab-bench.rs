//! `vrrp-lab-bench`: keepalived and vrrpd side by side in a network-namespace lab (issue 8).
//! See docs/performance.md for the method and `--help` for the options.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand, ValueEnum};

use vrrp_benches::daemon::{Implementation, vrrpd_has_run};
use vrrp_benches::measures::{Measure, Settings};

/// Lab benchmarks of vrrpd against keepalived (needs root: it builds network namespaces).
#[derive(Debug, Parser)]
#[command(name = "vrrp-lab-bench", version)]
struct Cli {
    /// A few trials of one size of each measure (what CI runs).
    #[arg(long)]
    smoke: bool,
    /// Measures to run (default: all): host-death, takeover, service-death, graceful-stop,
    /// scale, timer, stalls.
    #[arg(long = "measure", value_name = "NAME")]
    measures: Vec<String>,
    /// Trials per timing case (default: 30, smoke: 3).
    #[arg(long)]
    trials: Option<usize>,
    /// Where result directories go.
    #[arg(long, default_value = "benches/results")]
    out: PathBuf,
    /// Implementations to measure (default: keepalived, and vrrpd when its binary has `run`).
    #[arg(long = "implementation", value_enum, value_name = "NAME")]
    implementations: Vec<Which>,
    /// The vrrpd binary (default: `vrrpd` next to this program, i.e. target/release/vrrpd
    /// under `cargo run --release`).
    #[arg(long)]
    vrrpd: Option<PathBuf>,
    /// Seed of the kill moments (default: from the clock; recorded in the results).
    #[arg(long)]
    seed: Option<u64>,
    /// No SVG plots.
    #[arg(long)]
    no_plots: bool,
    /// Only the result file, no progress on stderr.
    #[arg(long, short)]
    quiet: bool,
    #[command(subcommand)]
    helper: Option<Helper>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Which {
    Keepalived,
    Vrrpd,
}

/// Other commands: `plot`, and what the harness runs inside lab hosts.
#[derive(Debug, Subcommand)]
enum Helper {
    /// The lab's HTTP backend: answers every GET with NAME.
    #[command(hide = true)]
    Serve {
        #[arg(long)]
        port: u16,
        #[arg(long)]
        name: String,
    },
    /// Draws the plots and summary.md of a run again from its results.json (into the same
    /// directory).
    Plot {
        /// The run's directory.
        dir: PathBuf,
    },
    /// Keeps THREADS threads busy for SECONDS.
    #[command(hide = true)]
    Spin {
        #[arg(long)]
        threads: usize,
        #[arg(long)]
        seconds: f64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.helper {
        Some(Helper::Serve { port, name }) => {
            return match vrrp_benches::backend::serve(port, &name) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("serve: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        Some(Helper::Plot { dir }) => {
            let drawn = vrrp_benches::report::RunReport::read(&dir.join("results.json")).and_then(
                |report| {
                    let mut files = vrrp_benches::plot::render_all(&report, &dir)?;
                    files.push(report.write_summary(&dir)?);
                    Ok(files)
                },
            );
            return match drawn {
                Ok(files) => {
                    for f in files {
                        println!("{}", f.display());
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("vrrp-lab-bench plot: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        Some(Helper::Spin { threads, seconds }) => {
            vrrp_benches::backend::spin(threads, seconds);
            return ExitCode::SUCCESS;
        }
        None => {}
    }
    match bench(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vrrp-lab-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn bench(cli: &Cli) -> Result<(), vrrp_benches::BenchError> {
    use vrrp_benches::BenchError;
    if !rustix_is_root() {
        return Err(BenchError::Usage(
            "needs root (it builds network namespaces)".into(),
        ));
    }
    vrrp_lab::cleanup_on_signals()?;
    let helper = std::env::current_exe().map_err(|source| BenchError::File {
        path: "current executable".into(),
        source,
    })?;
    let measures = if cli.measures.is_empty() {
        Measure::ALL.to_vec()
    } else {
        cli.measures
            .iter()
            .map(|m| {
                Measure::from_name(m).ok_or_else(|| {
                    BenchError::Usage(format!(
                        "unknown measure {m:?} (one of: {})",
                        Measure::ALL.map(Measure::name).join(", ")
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    let vrrpd = cli
        .vrrpd
        .clone()
        .unwrap_or_else(|| helper.with_file_name("vrrpd"));
    let mut notes = Vec::new();
    let mut implementations = Vec::new();
    let wanted = if cli.implementations.is_empty() {
        vec![Which::Keepalived, Which::Vrrpd]
    } else {
        cli.implementations.clone()
    };
    for which in wanted {
        match which {
            Which::Keepalived => implementations.push(Implementation::Keepalived),
            Which::Vrrpd if vrrpd_has_run(&vrrpd) => {
                implementations.push(Implementation::Vrrpd(vrrpd.clone()));
            }
            Which::Vrrpd => {
                let note = format!(
                    "vrrpd: pending `vrrpd run` ({} has no `run` subcommand yet, or does not exist: build it with `cargo build --release -p vrrpd`)",
                    vrrpd.display()
                );
                if !cli.implementations.is_empty() {
                    return Err(BenchError::Usage(note));
                }
                eprintln!("{note}");
                notes.push(note);
            }
        }
    }
    let seed = cli.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let settings = Settings {
        smoke: cli.smoke,
        trials: cli.trials.unwrap_or(if cli.smoke { 3 } else { 30 }),
        measures,
        implementations,
        helper,
        seed,
        verbose: !cli.quiet,
    };
    let report = vrrp_benches::run(&settings, std::env::args().collect(), notes)?;
    let dir = report.write(&cli.out)?;
    if !cli.no_plots {
        vrrp_benches::plot::render_all(&report, &dir)?;
    }
    eprintln!(
        "wrote {} ({:.0} s)",
        dir.join("results.json").display(),
        report.wall_seconds
    );
    Ok(())
}

fn rustix_is_root() -> bool {
    rustix::process::geteuid().is_root()
}
