//! `vrrpd status [--socket PATH] [--json]`: what a running daemon is doing.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::control;

/// Arguments of `vrrpd status`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The daemon's control socket.
    #[arg(long, value_name = "PATH", default_value = "/run/vrrpd/vrrpd.sock")]
    socket: PathBuf,
    /// Print the raw JSON (`{"instances": [...]}`).
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let reply = runtime.block_on(control::request(&args.socket, "status"))?;
    if args.json {
        print!("{reply}");
        return Ok(ExitCode::SUCCESS);
    }
    let status: serde_json::Value =
        serde_json::from_str(&reply).context("vrrpd's reply is not JSON")?;
    print!("{}", render(&status));
    Ok(ExitCode::SUCCESS)
}

/// A readable table of the status JSON.
pub(crate) fn render(status: &serde_json::Value) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let empty = Vec::new();
    let instances = status["instances"].as_array().unwrap_or(&empty);
    for i in instances {
        let s = |k: &str| i[k].as_str().unwrap_or("-").to_owned();
        let n = |k: &str| {
            i[k].as_u64()
                .map(|v| v.to_string())
                .unwrap_or_else(|| "-".into())
        };
        let _ = writeln!(
            out,
            "{} {} vrid {} on {}: {} (priority {} effective {}), master {}",
            s("name"),
            s("family"),
            n("vrid"),
            s("interface"),
            s("state"),
            n("priority"),
            n("effective_priority"),
            i["master"].as_str().unwrap_or("unknown"),
        );
        if let Some(t) = i["last_transition"].as_object() {
            let _ = writeln!(
                out,
                "  last change {} -> {} ({}) at {}",
                t["from"].as_str().unwrap_or("?"),
                t["to"].as_str().unwrap_or("?"),
                t["reason"].as_str().unwrap_or("?"),
                t["at"].as_str().unwrap_or("?"),
            );
        }
        for p in i["probes"].as_array().unwrap_or(&empty) {
            let _ = writeln!(
                out,
                "  probe {} ({}): {}, {} consecutive failures{}",
                p["name"].as_str().unwrap_or("?"),
                p["kind"].as_str().unwrap_or("?"),
                p["state"].as_str().unwrap_or("?"),
                p["consecutive_failures"].as_u64().unwrap_or(0),
                p["last_result"]
                    .as_str()
                    .map(|r| format!(", last: {r}"))
                    .unwrap_or_default(),
            );
        }
        if let Some(c) = i["counters"].as_object() {
            let nonzero: Vec<String> = c
                .iter()
                .filter(|(_, v)| v.as_u64().unwrap_or(0) > 0)
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            if !nonzero.is_empty() {
                let _ = writeln!(out, "  counters: {}", nonzero.join(" "));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_main_facts() {
        let status = serde_json::json!({"instances": [{
            "name": "VI_1", "family": "ipv4", "vrid": 51, "interface": "eth0", "state": "MASTER",
            "priority": 100, "effective_priority": 90, "master": "192.0.2.11",
            "last_transition": {"from": "BACKUP", "to": "MASTER", "reason": "master_down_timer", "at": "2026-11-25T23:00:00.000Z"},
            "probes": [{"name": "nginx", "kind": "process", "state": "unhealthy", "consecutive_failures": 2, "last_result": "timeout"}],
            "counters": {"adverts_sent": 12, "ttl_errors": 0}
        }]});
        let text = render(&status);
        assert!(text.contains(
            "VI_1 ipv4 vrid 51 on eth0: MASTER (priority 100 effective 90), master 192.0.2.11"
        ));
        assert!(text.contains("BACKUP -> MASTER (master_down_timer)"));
        assert!(
            text.contains(
                "probe nginx (process): unhealthy, 2 consecutive failures, last: timeout"
            )
        );
        assert!(text.contains("counters: adverts_sent=12\n"));
    }
}
