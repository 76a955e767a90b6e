//! `[global] metrics = "ADDR:PORT"`: Prometheus metrics on `GET /metrics`.
//!
//! Each scrape takes a [`vrrp_runtime::Status`] snapshot through the runtime handle and
//! encodes it with the Prometheus project's client library (`prometheus-client`, OpenMetrics
//! text format, which Prometheus scrapes natively). The HTTP/1.1 around it is a few lines on
//! tokio: one request per connection, `GET /metrics` only.
//!
//! Metrics (labels: `instance`, plus those named):
//! - `vrrp_instance_info{interface, vrid, family, version}` = 1
//! - `vrrp_instance_state{state}`: 1 for the state the instance is in, 0 for the other three
//!   (`INIT`, `BACKUP`, `MASTER`, `FAULT`)
//! - `vrrp_instance_priority`, `vrrp_instance_effective_priority`
//! - `vrrp_instance_transitions_total{to}`: transitions by the state entered
//! - `vrrp_<counter>_total` for every counter of `vrrpd status` (`adverts_received`,
//!   `became_master`, `checksum_errors`, ...)
//! - `vrrp_probe_healthy{probe, kind}` (1/0), `vrrp_probe_consecutive_failures{probe}`
//! - `vrrp_unmatched_<counter>_total` (no `instance` label): packets no instance took
//! - `vrrp_build_info{version}` = 1

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use vrrp_runtime::{RuntimeHandle, Status};

/// The content type of the OpenMetrics text format.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Longest request head we read.
const MAX_REQUEST: usize = 8192;
/// The four states, as `vrrpd status` writes them.
const STATES: [&str; 4] = ["INIT", "BACKUP", "MASTER", "FAULT"];

type Labels = Vec<(String, String)>;

/// A running metrics endpoint; stops when dropped.
#[derive(Debug)]
pub(crate) struct MetricsServer {
    task: tokio::task::JoinHandle<()>,
}

impl MetricsServer {
    /// Binds `addr` (nothing is served until [`MetricsServer::serve`]).
    pub(crate) async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
        TcpListener::bind(addr)
            .await
            .with_context(|| format!("metrics: cannot listen on {addr}"))
    }

    /// Serves `/metrics` on `listener` from `handle`'s status.
    pub(crate) fn serve(listener: TcpListener, handle: RuntimeHandle) -> anyhow::Result<Self> {
        let addr = listener.local_addr().context("metrics: local address")?;
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let handle = handle.clone();
                tokio::spawn(async move {
                    let _ =
                        tokio::time::timeout(Duration::from_secs(5), answer(stream, handle)).await;
                });
            }
        });
        tracing::info!(%addr, "metrics on http://{addr}/metrics");
        Ok(MetricsServer { task })
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(mut stream: TcpStream, handle: RuntimeHandle) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < MAX_REQUEST {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let mut words = head.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, content_type, body) = match (method, path) {
        ("GET", "/metrics") => match handle.status().await {
            Ok(status) => ("200 OK", CONTENT_TYPE, render(&status)),
            Err(e) => (
                "503 Service Unavailable",
                "text/plain",
                format!("vrrpd: {e}\n"),
            ),
        },
        ("GET", _) => (
            "404 Not Found",
            "text/plain",
            "metrics are on /metrics\n".to_owned(),
        ),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n".to_owned(),
        ),
    };
    let reply = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(reply.as_bytes()).await?;
    stream.shutdown().await
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The exposition of one status snapshot (OpenMetrics text, ending in `# EOF`).
pub(crate) fn render(status: &Status) -> String {
    let mut registry = Registry::default();
    let info = Family::<Labels, Gauge>::default();
    let state = Family::<Labels, Gauge>::default();
    let priority = Family::<Labels, Gauge>::default();
    let effective = Family::<Labels, Gauge>::default();
    let transitions = Family::<Labels, Counter>::default();
    let probe_healthy = Family::<Labels, Gauge>::default();
    let probe_failures = Family::<Labels, Gauge>::default();
    // One family per counter name, in name order.
    let mut counters: std::collections::BTreeMap<String, Family<Labels, Counter>> =
        std::collections::BTreeMap::new();

    for inst in &status.instances {
        let name = inst.name.as_str();
        let vrid = inst.vrid.to_string();
        let version = inst.version.to_string();
        info.get_or_create(&labels(&[
            ("instance", name),
            ("interface", &inst.interface),
            ("vrid", &vrid),
            ("family", inst.family),
            ("version", &version),
        ]))
        .set(1);
        for s in STATES {
            state
                .get_or_create(&labels(&[("instance", name), ("state", s)]))
                .set(i64::from(inst.state == s));
        }
        priority
            .get_or_create(&labels(&[("instance", name)]))
            .set(i64::from(inst.priority));
        effective
            .get_or_create(&labels(&[("instance", name)]))
            .set(i64::from(inst.effective_priority));
        for s in STATES {
            let n = inst.transitions.get(s).copied().unwrap_or(0);
            transitions
                .get_or_create(&labels(&[("instance", name), ("to", s)]))
                .inc_by(n);
        }
        for (counter, value) in &inst.counters {
            counters
                .entry(counter.clone())
                .or_default()
                .get_or_create(&labels(&[("instance", name)]))
                .inc_by(*value);
        }
        for p in &inst.probes {
            probe_healthy
                .get_or_create(&labels(&[
                    ("instance", name),
                    ("probe", &p.name),
                    ("kind", p.kind),
                ]))
                .set(i64::from(p.healthy));
            probe_failures
                .get_or_create(&labels(&[("instance", name), ("probe", &p.name)]))
                .set(i64::from(p.consecutive_failures));
        }
    }

    let build = Family::<Labels, Gauge>::default();
    build
        .get_or_create(&labels(&[("version", env!("CARGO_PKG_VERSION"))]))
        .set(1);
    registry.register("vrrp_build_info", "vrrpd's version", build);
    registry.register(
        "vrrp_instance_info",
        "One per VRRP instance: its interface, VRID, family and version",
        info,
    );
    registry.register(
        "vrrp_instance_state",
        "1 for the state the instance is in (INIT, BACKUP, MASTER, FAULT), 0 for the others",
        state,
    );
    registry.register("vrrp_instance_priority", "Configured priority", priority);
    registry.register(
        "vrrp_instance_effective_priority",
        "Priority in force: configured plus probe weights, clamped to 1..254",
        effective,
    );
    registry.register(
        "vrrp_instance_transitions",
        "State transitions, by the state entered",
        transitions,
    );
    registry.register(
        "vrrp_probe_healthy",
        "1 while a tracked probe is healthy",
        probe_healthy,
    );
    registry.register(
        "vrrp_probe_consecutive_failures",
        "Consecutive failures of a tracked probe up to its last result",
        probe_failures,
    );
    for (counter, family) in counters {
        registry.register(
            format!("vrrp_{counter}"),
            format!("Counter {counter} of the instance (vrrpd status)"),
            family,
        );
    }
    for (counter, value) in &status.counters {
        let c = Counter::<u64>::default();
        c.inc_by(*value);
        registry.register(
            format!("vrrp_unmatched_{counter}"),
            format!("Counter {counter} of packets that no instance took"),
            c,
        );
    }
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = encode(&mut out, &registry);
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use vrrp_runtime::{InstanceStatus, ProbeView};

    /// One MASTER instance with a failed weighted probe.
    pub(crate) fn status() -> Status {
        let mut counters = BTreeMap::new();
        counters.insert("adverts_sent".to_owned(), 12);
        counters.insert("became_master".to_owned(), 1);
        counters.insert("ttl_errors".to_owned(), 0);
        let mut transitions = BTreeMap::new();
        transitions.insert("BACKUP".to_owned(), 1);
        transitions.insert("MASTER".to_owned(), 1);
        let mut node = BTreeMap::new();
        node.insert("vrid_errors".to_owned(), 3);
        Status {
            router_id: Some("a".into()),
            instances: vec![InstanceStatus {
                name: "VI_1".into(),
                interface: "eth0".into(),
                vrid: 51,
                family: "ipv4",
                version: 3,
                state: "MASTER",
                priority: 100,
                effective_priority: 90,
                master: Some("192.0.2.11".into()),
                master_priority: Some(90),
                advert_interval_ms: 100,
                virtual_ips: vec!["192.0.2.100/24".into()],
                last_transition: None,
                probes: vec![ProbeView {
                    name: "nginx".into(),
                    kind: "process",
                    healthy: false,
                    state: "unhealthy",
                    last_result: None,
                    consecutive_failures: 2,
                    weight: Some(-10),
                }],
                counters,
                transitions,
            }],
            counters: node,
        }
    }

    /// The value of the sample `line_start` (metric name with its labels as written).
    fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .find(|l| {
                l.split(['{', ' ']).next() == Some(name) && labels.iter().all(|lb| l.contains(lb))
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    #[test]
    fn renders_state_priorities_counters_probes_and_transitions() {
        let text = render(&status());
        assert!(text.ends_with("# EOF\n"), "{text}");
        let i = "instance=\"VI_1\"";
        assert_eq!(
            sample(&text, "vrrp_instance_state", &[i, "state=\"MASTER\""]),
            Some(1.0)
        );
        for s in ["INIT", "BACKUP", "FAULT"] {
            let state = format!("state=\"{s}\"");
            assert_eq!(
                sample(&text, "vrrp_instance_state", &[i, &state]),
                Some(0.0)
            );
        }
        assert_eq!(sample(&text, "vrrp_instance_priority", &[i]), Some(100.0));
        assert_eq!(
            sample(&text, "vrrp_instance_effective_priority", &[i]),
            Some(90.0)
        );
        assert_eq!(sample(&text, "vrrp_adverts_sent_total", &[i]), Some(12.0));
        assert_eq!(sample(&text, "vrrp_became_master_total", &[i]), Some(1.0));
        assert_eq!(sample(&text, "vrrp_ttl_errors_total", &[i]), Some(0.0));
        assert_eq!(
            sample(
                &text,
                "vrrp_instance_transitions_total",
                &[i, "to=\"MASTER\""]
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                "vrrp_instance_transitions_total",
                &[i, "to=\"FAULT\""]
            ),
            Some(0.0)
        );
        assert_eq!(
            sample(
                &text,
                "vrrp_probe_healthy",
                &[i, "probe=\"nginx\"", "kind=\"process\""]
            ),
            Some(0.0)
        );
        assert_eq!(
            sample(
                &text,
                "vrrp_probe_consecutive_failures",
                &[i, "probe=\"nginx\""]
            ),
            Some(2.0)
        );
        assert_eq!(
            sample(&text, "vrrp_unmatched_vrid_errors_total", &[]),
            Some(3.0)
        );
        assert_eq!(
            sample(
                &text,
                "vrrp_instance_info",
                &[i, "vrid=\"51\"", "interface=\"eth0\"", "version=\"3\""]
            ),
            Some(1.0)
        );
        assert!(text.contains("# TYPE vrrp_adverts_sent counter"), "{text}");
        assert!(text.contains("# TYPE vrrp_instance_state gauge"), "{text}");
    }

    #[test]
    fn no_instances_still_renders() {
        let text = render(&Status {
            router_id: None,
            instances: Vec::new(),
            counters: BTreeMap::new(),
        });
        assert!(text.contains("vrrp_build_info{version="), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }
}
