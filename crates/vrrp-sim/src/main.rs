//! `vrrp-sim`: the simulator's command line.
//!
//! ```text
//! vrrp-sim soak --routers N --hours H --advert-interval 1s --loss 0.01 --partitions K --seed S --json
//! ```
//! Prints one JSON object (or a text summary) and exits 1 if any invariant was violated,
//! 2 on bad arguments.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("soak") => match vrrp_sim::soak::parse_args(&args[1..]) {
            Ok(a) => {
                let result = vrrp_sim::soak::run(&a);
                if a.json {
                    println!("{}", result.to_json());
                } else {
                    println!("{}", result.to_text());
                }
                if result.report.invariant_violations > 0 {
                    ExitCode::from(1)
                } else {
                    ExitCode::SUCCESS
                }
            }
            Err(e) => {
                eprintln!("vrrp-sim soak: {e}");
                ExitCode::from(2)
            }
        },
        _ => {
            eprintln!(
                "usage: vrrp-sim soak [--routers N] [--hours H] [--advert-interval D] [--loss P] \
                 [--partitions K] [--crashes K] [--shutdowns K] [--probe-changes K] \
                 [--version 2|3] [--seed S] [--threads T] [--json]"
            );
            ExitCode::from(2)
        }
    }
}
