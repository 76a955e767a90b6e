//! Measure 6: timer accuracy. A master alone (h1, one IPv4 instance); its inter-advert gaps
//! from a capture on the bridge, minus the interval. Once idle, once with every core of the
//! machine kept busy by spinning threads in another namespace (h3) at the same scheduling
//! priority as the daemon.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use vrrp_lab::Lab;

use crate::daemon::{Daemon, InstanceSpec, NodeSpec};
use crate::error::{BenchError, Result};
use crate::frames;
use crate::measures::{
    Settings, Trial, dur_ms, interleaved, label, ms, remove_vips, stop_capture, wait_vips,
};
use crate::report::CaseResult;

const FILTER: &str = "ip proto 112";

fn spec(interval: Duration) -> NodeSpec {
    NodeSpec {
        router_id: "h1".into(),
        probes: Vec::new(),
        instances: vec![InstanceSpec {
            name: "VI_1".into(),
            interface: vrrp_lab::HOST_IFACE.into(),
            vrid: 51,
            priority: 200,
            interval,
            vips: vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100))],
            track: Vec::new(),
        }],
    }
}

fn gaps(
    lab: &Lab,
    settings: &Settings,
    implementation: &crate::daemon::Implementation,
    interval: Duration,
    window: Duration,
    busy: bool,
) -> Result<Vec<f64>> {
    let (h1, h3) = (lab.host(1)?, lab.host(3)?);
    let node = spec(interval);
    let vips = node.instances[0].vips.clone();
    remove_vips(h1, vrrp_lab::HOST_IFACE, &vips)?;
    let mut daemon = Daemon::start(implementation, h1, &node, lab.dir())?;
    wait_vips(
        h1,
        &vips,
        true,
        node.instances[0].master_down_interval() + Duration::from_secs(5),
    )?;
    // Past the start-up announcements.
    std::thread::sleep(interval * 2 + Duration::from_millis(200));
    let spinner = if busy {
        let helper = settings.helper.to_string_lossy().into_owned();
        let threads = std::thread::available_parallelism().map_or(2, usize::from);
        let seconds = format!("{:.1}", window.as_secs_f64() + 2.0);
        let child = h3.spawn(&[
            &helper,
            "spin",
            "--threads",
            &threads.to_string(),
            "--seconds",
            &seconds,
        ])?;
        std::thread::sleep(Duration::from_millis(300));
        Some(child)
    } else {
        None
    };
    let capture = lab.capture(FILTER)?;
    std::thread::sleep(window);
    let packets = stop_capture(capture)?;
    drop(spinner);
    daemon.crash()?;
    let src = IpAddr::V4(h1.ipv4());
    let times: Vec<_> = frames::adverts(&packets)
        .into_iter()
        .filter(|a| a.src == src && a.priority > 0)
        .map(|a| a.at)
        .collect();
    if times.len() < 3 {
        return Err(BenchError::Invalid(format!(
            "{} adverts in {window:?}",
            times.len()
        )));
    }
    Ok(times
        .windows(2)
        .map(|w| ms(w[1], w[0]) - dur_ms(interval))
        .collect())
}

/// Runs measure 6.
pub fn timer(settings: &Settings) -> Result<Vec<CaseResult>> {
    let intervals: &[(u64, u64)] = if settings.smoke {
        &[(10, 2)]
    } else {
        // (interval ms, window s): at least 30 gaps each.
        &[(1000, 31), (100, 10), (10, 5)]
    };
    let lab = Lab::new(3)?;
    let mut out = Vec::new();
    for &(interval_ms, window_s) in intervals {
        for busy in [false, true] {
            let interval = Duration::from_millis(interval_ms);
            let window = Duration::from_secs(window_s);
            let case_name = format!("{} {}", label(interval), if busy { "busy" } else { "idle" });
            let mut cases: Vec<CaseResult> = settings
                .implementations
                .iter()
                .map(|imp| {
                    let mut r = CaseResult::new("timer", &case_name, imp.name());
                    r.set("advert_interval_ms", dur_ms(interval));
                    r.set("window_s", window_s);
                    r.set("busy", busy);
                    r
                })
                .collect();
            settings.say(format!("timer {case_name}:"));
            let done = interleaved(settings, &mut cases, 1, |_, imp| {
                Ok(Trial::Done(gaps(
                    &lab, settings, imp, interval, window, busy,
                )?))
            });
            for (r, gaps) in cases.iter_mut().zip(done) {
                r.metric(
                    "gap_error_ms",
                    "ms",
                    "inter-advert gap of the master minus the advert interval",
                    gaps.into_iter().flatten().collect(),
                );
            }
            out.extend(cases);
        }
    }
    Ok(out)
}
