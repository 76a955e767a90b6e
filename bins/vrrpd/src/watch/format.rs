//! What `vrrpd watch` prints, as pure functions of what was seen: one line or one JSON object
//! per packet, and the master view as a block of text or a `{"type":"masters"}` object.
//!
//! Times come in as [`Duration`]s since the Unix epoch (wall clock, UTC) so that tests pass
//! fixed ones.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};
use vrrp_packet::Inspection;
use vrrp_packet::ip::IpHeader;

use super::view::{Advert, DOWN_INTERVALS, RouterStatus};
use crate::packet_report;

/// `2024-05-01T12:34:56.789012Z`: RFC 3339, UTC, microseconds.
pub(crate) fn utc_timestamp(wall: Duration) -> String {
    let secs = wall.as_secs();
    let (year, month, day) = civil_from_days(secs / 86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{}Z",
        time_of_day_of(secs, wall.subsec_micros())
    )
}

/// `12:34:56.789012`, UTC: the start of each packet line, as tcpdump's.
pub(crate) fn time_of_day(wall: Duration) -> String {
    time_of_day_of(wall.as_secs(), wall.subsec_micros())
}

fn time_of_day_of(secs: u64, micros: u32) -> String {
    let day_secs = secs % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{micros:06}",
        day_secs / 3600,
        day_secs / 60 % 60,
        day_secs % 60
    )
}

/// Year, month, day of a day number counted from 1970-01-01 (proleptic Gregorian calendar;
/// Howard Hinnant's `civil_from_days`, for non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// A short human duration: `40ms`, `1.2s`, `95s`.
pub(crate) fn short_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 10_000 {
        format!("{}.{}s", ms / 1000, ms % 1000 / 100)
    } else {
        format!("{}s", ms / 1000)
    }
}

/// One line per packet, like tcpdump's, with every failed receive check named:
///
/// `12:34:56.789012 192.0.2.11 > 224.0.0.18 ttl 255: VRRPv3 advert vrid 51 prio 200 intvl
/// 100ms addrs 1 [192.0.2.100], valid (checksum pseudo-header)`
pub(crate) fn packet_line(wall: Duration, bytes: &[u8], report: &Inspection<'_>) -> String {
    let mut s = time_of_day(wall);
    // Writing to a String cannot fail.
    let _ = match report.ip {
        Some(IpHeader::V4(h)) => write!(s, " {} > {} ttl {}: ", h.src(), h.dst(), h.ttl()),
        Some(IpHeader::V6(h)) => write!(s, " {} > {} hlim {}: ", h.src(), h.dst(), h.hop_limit()),
        None => write!(s, " {}-byte frame: ", bytes.len()),
    };
    let _ = match (report.repr, report.vrrp) {
        (Some(repr), _) => write!(s, "{repr}"),
        (None, Some(packet)) => write!(s, "{packet}"),
        (None, None) => write!(s, "no VRRP message"),
    };
    if report.is_valid() {
        match report.checksum_mode {
            Some(mode) => {
                let _ = write!(s, ", valid (checksum {mode})");
            }
            None => s.push_str(", valid"),
        }
        return s;
    }
    s.push_str(", INVALID");
    let mut first = true;
    for check in report.checks() {
        if let vrrp_packet::Outcome::Fail(failure) = check.outcome {
            let _ = write!(
                s,
                "{} {}: {failure}",
                if first { ":" } else { ";" },
                check.name.as_str()
            );
            first = false;
        }
    }
    if first {
        // Nothing failed but nothing parsed either (not reachable through `inspect` today).
        s.push_str(": not a complete advertisement");
    }
    s
}

/// The JSON object for one packet: `vrrpd decode --json`'s fields plus `timestamp` and
/// `interface`.
pub(crate) fn packet_json(
    wall: Duration,
    interface: &str,
    bytes: &[u8],
    report: &Inspection<'_>,
) -> Value {
    let mut obj = packet_report::to_json(bytes, report);
    if let Some(map) = obj.as_object_mut() {
        map.insert("timestamp".into(), utc_timestamp(wall).into());
        map.insert("interface".into(), interface.into());
    }
    obj
}

fn advert_json(a: &Advert) -> Value {
    json!({
        "src": a.src.to_string(),
        "priority": a.priority,
        "advert_interval_ms": a.interval.as_millis(),
        "version": a.version.number(),
    })
}

/// The `{"type":"masters", ...}` object: one entry per (family, VRID).
pub(crate) fn view_json(wall: Duration, interface: &str, status: &[RouterStatus]) -> Value {
    let masters: Vec<Value> = status
        .iter()
        .map(|r| {
            json!({
                "family": r.family.as_str(),
                "vrid": r.vrid,
                "master": r.master.map(|m| m.src.to_string()),
                "priority": r.master.map(|m| m.priority),
                "advert_interval_ms": r.master.map(|m| m.interval.as_millis()),
                "version": r.master.map(|m| m.version.number()),
                "last_advert_ms_ago": r.age.map(|a| u64::try_from(a.as_millis()).unwrap_or(u64::MAX)),
                "master_down": r.down,
                "resigned": r.resigned.map(|ip| ip.to_string()),
                "split_brain": r.split_brain,
                "advertisers": r.advertisers.iter().map(advert_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "type": "masters",
        "timestamp": utc_timestamp(wall),
        "interface": interface,
        "masters": masters,
    })
}

/// The master view as text, one line per (family, VRID), with the notes that matter.
pub(crate) fn view_text(wall: Duration, interface: &str, status: &[RouterStatus]) -> String {
    let mut s = format!("-- masters on {interface} at {} UTC", time_of_day(wall));
    if status.is_empty() {
        s.push_str(": no valid advert seen yet\n");
        return s;
    }
    s.push('\n');
    for r in status {
        let _ = write!(s, "   {} vrid {:<3} ", r.family, r.vrid);
        match (r.master, r.age) {
            (Some(m), Some(age)) => {
                let _ = write!(
                    s,
                    "master {} prio {} intvl {} VRRP{}, last advert {} ago",
                    m.src,
                    m.priority,
                    m.interval,
                    m.version,
                    short_duration(age)
                );
                if r.down {
                    let _ = write!(
                        s,
                        "  MASTER DOWN: no advert for more than {DOWN_INTERVALS} x {}",
                        m.interval
                    );
                }
            }
            _ => s.push_str("no master advertising"),
        }
        if let Some(ip) = r.resigned {
            let _ = write!(s, "  RESIGNED: {ip} sent priority 0");
        }
        if r.split_brain {
            s.push_str("  SPLIT BRAIN: ");
            for (i, a) in r.advertisers.iter().enumerate() {
                let _ = write!(
                    s,
                    "{}{} (prio {})",
                    if i > 0 { ", " } else { "" },
                    a.src,
                    a.priority
                );
            }
            s.push_str(" all advertise");
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use vrrp_packet::{Expectations, Layer, inspect};

    use super::super::view::MasterView;
    use super::*;
    use crate::watch::test_frames::advert_v4;

    fn frame(host: u8, ttl: u8, vrid: u8, priority: u8, corrupt: bool) -> Vec<u8> {
        advert_v4(host, ttl, vrid, priority, 10, corrupt)
    }

    /// 2024-05-01T12:34:56.789012Z.
    const WALL: Duration = Duration::new(1_714_566_896, 789_012_345);

    fn inspected(bytes: &[u8]) -> Inspection<'_> {
        inspect(bytes, Some(Layer::Ethernet), &Expectations::default())
    }

    #[test]
    fn timestamps_in_utc() {
        assert_eq!(utc_timestamp(WALL), "2024-05-01T12:34:56.789012Z");
        assert_eq!(time_of_day(WALL), "12:34:56.789012");
        assert_eq!(utc_timestamp(Duration::ZERO), "1970-01-01T00:00:00.000000Z");
        // A leap day, and the last second of a year.
        assert_eq!(
            utc_timestamp(Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000000Z"
        );
        assert_eq!(
            utc_timestamp(Duration::from_secs(1_735_689_599)),
            "2024-12-31T23:59:59.000000Z"
        );
    }

    #[test]
    fn short_durations() {
        assert_eq!(short_duration(Duration::from_millis(40)), "40ms");
        assert_eq!(short_duration(Duration::from_millis(1250)), "1.2s");
        assert_eq!(short_duration(Duration::from_millis(95_400)), "95s");
    }

    #[test]
    fn valid_packet_line() {
        let f = frame(11, 255, 51, 200, false);
        let line = packet_line(WALL, &f, &inspected(&f));
        assert_eq!(
            line,
            "12:34:56.789012 192.0.2.11 > 224.0.0.18 ttl 255: VRRPv3 advert vrid 51 prio 200 \
             intvl 100ms addrs 1 [192.0.2.100], valid (checksum pseudo-header)"
        );
    }

    #[test]
    fn invalid_packet_line_names_each_failed_check() {
        let f = frame(12, 64, 99, 77, false);
        let line = packet_line(WALL, &f, &inspected(&f));
        assert!(
            line.ends_with("INVALID: ttl: TTL/hop limit 64 is not 255"),
            "{line}"
        );
        let f = frame(12, 64, 99, 77, true);
        let line = packet_line(WALL, &f, &inspected(&f));
        assert!(line.contains("INVALID: ttl: TTL/hop limit 64"), "{line}");
        assert!(line.contains("; checksum: checksum 0x"), "{line}");
        // A message whose count promises more addresses than it carries: every field that is
        // there, and the length check named.
        let mut f = frame(12, 255, 99, 77, false);
        f[14 + 20 + 3] = 2;
        let line = packet_line(WALL, &f, &inspected(&f));
        assert!(
            line.contains(": VRRP version 3 type 1 vrid 99 prio 77 count 2"),
            "{line}"
        );
        assert!(
            line.contains(
                "INVALID: length: length 12 bytes does not match 16 for 2 addresses; checksum:"
            ),
            "{line}"
        );
        // A broken IP header: no VRRP fields, the IP check named.
        let f = frame(12, 255, 99, 77, false);
        let short = &f[..f.len() - 2];
        let line = packet_line(WALL, short, &inspected(short));
        assert!(
            line.ends_with(
                "44-byte frame: no VRRP message, INVALID: ip_header: malformed IP header: IP \
                 length 32 does not fit in 30 bytes"
            ),
            "{line}"
        );
    }

    #[test]
    fn packet_json_has_decode_fields_timestamp_and_interface() {
        let f = frame(11, 255, 51, 200, false);
        let v = packet_json(WALL, "eth0", &f, &inspected(&f));
        assert_eq!(v["timestamp"], "2024-05-01T12:34:56.789012Z");
        assert_eq!(v["interface"], "eth0");
        assert_eq!(v["src"], "192.0.2.11");
        assert_eq!(v["dst"], "224.0.0.18");
        assert_eq!(v["ttl"], 255);
        assert_eq!(v["version"], 3);
        assert_eq!(v["type"], 1);
        assert_eq!(v["vrid"], 51);
        assert_eq!(v["priority"], 200);
        assert_eq!(v["advert_interval_ms"], 100);
        assert_eq!(v["addresses"], json!(["192.0.2.100"]));
        assert_eq!(v["checksum_mode"], "pseudo-header");
        assert_eq!(v["layer"], "ethernet");
        assert_eq!(v["valid"], true);
        assert!(v.get("argument").is_none());

        let f = frame(12, 64, 99, 77, true);
        let v = packet_json(WALL, "eth0", &f, &inspected(&f));
        assert_eq!(v["valid"], false);
        let failed: Vec<&str> = v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["ok"] == false)
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(failed, ["ttl", "checksum"]);
        assert_eq!(v["checksum_valid"], false);
    }

    fn feed(view: &mut MasterView, at_ms: u64, frame: &[u8]) {
        let r = inspected(frame);
        if let (true, Some(repr), Some(ip)) = (r.is_valid(), r.repr, r.ip) {
            view.observe(Duration::from_millis(at_ms), ip.src(), &repr);
        }
    }

    #[test]
    fn view_text_and_json_for_a_steady_master() {
        let mut view = MasterView::new();
        feed(&mut view, 0, &frame(11, 255, 51, 200, false));
        // Invalid packets do not make a master.
        feed(&mut view, 10, &frame(12, 64, 51, 250, false));
        feed(&mut view, 20, &frame(12, 255, 51, 250, true));
        let status = view.status(Duration::from_millis(40));
        let text = view_text(WALL, "eth0", &status);
        assert_eq!(
            text,
            "-- masters on eth0 at 12:34:56.789012 UTC\n   ipv4 vrid 51  master 192.0.2.11 \
             prio 200 intvl 100ms VRRPv3, last advert 40ms ago\n"
        );
        let v = view_json(WALL, "eth0", &status);
        assert_eq!(v["type"], "masters");
        assert_eq!(v["interface"], "eth0");
        let m = &v["masters"][0];
        assert_eq!(m["family"], "ipv4");
        assert_eq!(m["vrid"], 51);
        assert_eq!(m["master"], "192.0.2.11");
        assert_eq!(m["priority"], 200);
        assert_eq!(m["advert_interval_ms"], 100);
        assert_eq!(m["last_advert_ms_ago"], 40);
        assert_eq!(m["master_down"], false);
        assert_eq!(m["split_brain"], false);
        assert_eq!(m["advertisers"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn view_text_notes_split_brain_and_master_down() {
        let mut view = MasterView::new();
        for t in 0..3 {
            feed(&mut view, t * 100, &frame(11, 255, 51, 200, false));
            feed(&mut view, t * 100 + 50, &frame(12, 255, 51, 100, false));
        }
        let text = view_text(WALL, "eth0", &view.status(Duration::from_millis(260)));
        assert!(
            text.contains(
                "SPLIT BRAIN: 192.0.2.11 (prio 200), 192.0.2.12 (prio 100) all advertise"
            ),
            "{text}"
        );
        let text = view_text(WALL, "eth0", &view.status(Duration::from_millis(600)));
        assert!(
            text.contains("last advert 350ms ago  MASTER DOWN: no advert for more than 3 x 100ms"),
            "{text}"
        );
        assert!(!text.contains("SPLIT BRAIN"), "{text}");
        let v = view_json(WALL, "eth0", &view.status(Duration::from_millis(600)));
        assert_eq!(v["masters"][0]["master_down"], true);
        assert_eq!(v["masters"][0]["master"], "192.0.2.12");
    }

    #[test]
    fn empty_view() {
        assert_eq!(
            view_text(WALL, "eth0", &[]),
            "-- masters on eth0 at 12:34:56.789012 UTC: no valid advert seen yet\n"
        );
        assert_eq!(view_json(WALL, "eth0", &[])["masters"], json!([]));
    }
}
