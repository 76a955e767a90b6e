//! `vrrpd watch --interface IF [--json] [--count N] [--duration D]`: live decode of every
//! VRRP packet on an interface, one line each with every failed receive check named, plus a
//! running view of which router is master per (family, VRID).
//!
//! What an operator runs instead of `tcpdump -i eth0 vrrp` when the backup never takes over.
//! Exit status: 0 on a clean stop (count or duration reached, Ctrl-C, SIGTERM, or the reader of
//! stdout went away), 1 when the capture cannot run (socket errors; capturing needs
//! CAP_NET_RAW), 2 on bad arguments (an interface that does not exist).
//!
//! - [`capture`]: the AF_PACKET socket (the only IO);
//! - [`view`]: the master view, pure;
//! - [`format`]: lines, JSON objects and the view as text, pure;
//! - [`watcher`]: ties them together without IO, for tests with made-up timestamps.

mod capture;
mod format;
#[cfg(test)]
mod test_frames;
mod view;
mod watcher;

use std::io::{self, Write as _};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use tokio::signal::unix::{SignalKind, signal};

use capture::{Capture, MAX_FRAME, OpenError};
use watcher::Watcher;

/// Exit status for a bad argument (an unknown interface); clap uses the same for its own.
const EXIT_BAD_ARGUMENT: u8 = 2;

/// Arguments of `vrrpd watch`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The interface to watch, e.g. eth0.
    #[arg(long, short = 'i', value_name = "IF")]
    interface: String,
    /// One JSON object per line: each packet (`vrrpd decode --json`'s fields plus timestamp
    /// and interface), and {"type":"masters",...} whenever the master view changes.
    #[arg(long)]
    json: bool,
    /// Stop after N packets.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
    /// Stop after this long, e.g. 10s, 500ms, 2m.
    #[arg(long, value_name = "D", value_parser = vrrp_config::parse_duration)]
    duration: Option<Duration>,
    /// Without --json: reprint the master view this often while adverts arrive (0s: only
    /// when it changes).
    #[arg(long, value_name = "D", default_value = "1s", value_parser = vrrp_config::parse_duration)]
    view_every: Duration,
}

/// Runs `vrrpd watch`.
pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(watch(args))
}

/// Why the loop ended.
enum Stop {
    /// Count or duration reached, or a signal: a clean stop.
    Done,
    /// The reader of stdout went away (`| head`): also a clean stop.
    Closed,
}

async fn watch(args: &Args) -> anyhow::Result<ExitCode> {
    let capture = match Capture::open(&args.interface) {
        Ok(capture) => capture,
        Err(e @ OpenError::NoInterface { .. }) => {
            eprintln!("vrrpd watch: {e}");
            return Ok(ExitCode::from(EXIT_BAD_ARGUMENT));
        }
        Err(e) => return Err(e).context(format!("capturing on {}", args.interface)),
    };
    for warning in capture.warnings() {
        eprintln!("vrrpd watch: warning: {warning}");
    }
    let mut interrupt = signal(SignalKind::interrupt()).context("handling SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("handling SIGTERM")?;
    eprintln!(
        "vrrpd watch: listening on {} for VRRP (IPv4 protocol 112, IPv6 next header 112)",
        args.interface
    );

    let start = Instant::now();
    let end = args.duration.map(|d| start + d);
    let mut watcher = Watcher::new(&args.interface, args.json, Some(args.view_every));
    let mut buf = vec![0u8; MAX_FRAME];
    let stdout = io::stdout();
    let stop = loop {
        let now = start.elapsed();
        let wake = [watcher.next_wake(now).map(|t| start + t), end]
            .into_iter()
            .flatten()
            .min();
        let sleep = async {
            match wake {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending().await,
            }
        };
        let text = tokio::select! {
            received = capture.recv(&mut buf) => match received {
                Ok(len) => {
                    let (at, wall) = (start.elapsed(), wall_clock());
                    watcher.packet(at, wall, &buf[..len.min(buf.len())])
                }
                // The interface went down: the socket stays bound and sees it come back.
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NETDOWN.raw_os_error()) => {
                    eprintln!("vrrpd watch: {} is down", args.interface);
                    String::new()
                }
                Err(e) => {
                    return Err(e).context(format!("receiving on {}", args.interface));
                }
            },
            () = sleep => watcher.tick(start.elapsed(), wall_clock()),
            _ = interrupt.recv() => break Stop::Done,
            _ = terminate.recv() => break Stop::Done,
        };
        if !text.is_empty() {
            let mut out = stdout.lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => break Stop::Closed,
                Err(e) => return Err(e).context("writing to stdout"),
            }
        }
        if args.count.is_some_and(|n| watcher.packets() >= n)
            || end.is_some_and(|t| Instant::now() >= t)
        {
            break Stop::Done;
        }
    };
    if matches!(stop, Stop::Done) {
        eprintln!(
            "vrrpd watch: {} packets, {} invalid",
            watcher.packets(),
            watcher.invalid()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Time since the Unix epoch (a clock before 1970 reads as the epoch).
fn wall_clock() -> Duration {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
}
