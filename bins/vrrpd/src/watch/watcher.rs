//! The state of one `vrrpd watch` run, without IO: frames and clock ticks in, text out.
//!
//! The capture loop hands each frame to [`Watcher::packet`] and wakes it at
//! [`Watcher::next_wake`] with [`Watcher::tick`]; both return what to print. Tests drive it
//! with made-up timestamps.

use std::time::Duration;

use vrrp_packet::{Expectations, Layer, inspect};

use super::format;
use super::view::{MasterView, Signature};

/// What to print, and when, for one interface.
#[derive(Debug)]
pub(crate) struct Watcher {
    interface: String,
    json: bool,
    /// Human mode: reprint an unchanged view this often while adverts arrive.
    view_every: Option<Duration>,
    view: MasterView,
    /// The view as last printed.
    printed: Vec<Signature>,
    /// When the view was last printed (monotonic).
    printed_at: Option<Duration>,
    /// A packet line was printed since the view was.
    packets_since_view: bool,
    packets: u64,
    invalid: u64,
}

impl Watcher {
    /// A watcher for `interface`, printing JSON or text; `view_every` (human mode only)
    /// reprints the view with fresh ages while adverts keep coming (`None`: on change only).
    pub(crate) fn new(interface: &str, json: bool, view_every: Option<Duration>) -> Self {
        Self {
            interface: interface.to_owned(),
            json,
            view_every: view_every.filter(|d| !d.is_zero()),
            view: MasterView::new(),
            printed: Vec::new(),
            printed_at: None,
            packets_since_view: false,
            packets: 0,
            invalid: 0,
        }
    }

    /// Packets seen so far.
    pub(crate) fn packets(&self) -> u64 {
        self.packets
    }

    /// Packets seen so far that failed a receive check.
    pub(crate) fn invalid(&self) -> u64 {
        self.invalid
    }

    /// One captured Ethernet frame, seen at `at` (monotonic) and `wall` (since the Unix
    /// epoch): its line or JSON object, then the view if that changed.
    pub(crate) fn packet(&mut self, at: Duration, wall: Duration, frame: &[u8]) -> String {
        self.packets += 1;
        let report = inspect(frame, Some(Layer::Ethernet), &Expectations::default());
        let mut out = if self.json {
            format::packet_json(wall, &self.interface, frame, &report).to_string()
        } else {
            format::packet_line(wall, frame, &report)
        };
        out.push('\n');
        if let (true, Some(repr), Some(ip)) = (report.is_valid(), report.repr, report.ip) {
            self.view.observe(at, ip.src(), &repr);
        } else {
            self.invalid += 1;
        }
        self.packets_since_view = true;
        out.push_str(&self.tick(at, wall));
        out
    }

    /// The view, if it changed by `at` or (human mode) is due for a reprint; else nothing.
    pub(crate) fn tick(&mut self, at: Duration, wall: Duration) -> String {
        let status = self.view.status(at);
        let signature: Vec<Signature> = status.iter().map(|s| s.signature()).collect();
        let changed = signature != self.printed;
        let due = !self.json
            && self.packets_since_view
            && match (self.view_every, self.printed_at) {
                (Some(every), Some(last)) => at >= last + every,
                _ => false,
            };
        if !changed && !due {
            return String::new();
        }
        self.printed = signature;
        self.printed_at = Some(at);
        self.packets_since_view = false;
        if self.json {
            let mut line = format::view_json(wall, &self.interface, &status).to_string();
            line.push('\n');
            line
        } else {
            format::view_text(wall, &self.interface, &status)
        }
    }

    /// When [`tick`](Self::tick) may next have something to print, if ever without a new
    /// packet.
    pub(crate) fn next_wake(&self, at: Duration) -> Option<Duration> {
        let reprint = match (self.json, self.view_every, self.printed_at) {
            (false, Some(every), Some(last)) if self.packets_since_view => Some(last + every),
            _ => None,
        };
        match (self.view.next_change(at), reprint) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::watch::test_frames::advert_v4;

    const WALL: Duration = Duration::from_secs(1_714_566_896);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn json_lines(text: &str) -> Vec<Value> {
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn is_masters(v: &Value) -> bool {
        v["type"] == "masters"
    }

    #[test]
    fn json_prints_every_packet_and_the_view_only_on_change() {
        let mut w = Watcher::new("eth0", true, Some(ms(1000)));
        let mut all = Vec::new();
        for t in 0..5 {
            let f = advert_v4(11, 255, 51, 200, 10, false);
            all.extend(json_lines(&w.packet(ms(t * 100), WALL + ms(t * 100), &f)));
        }
        let masters: Vec<&Value> = all.iter().filter(|v| is_masters(v)).collect();
        assert_eq!(all.len() - masters.len(), 5, "one object per packet");
        assert_eq!(masters.len(), 1, "the view changed once: {masters:?}");
        assert_eq!(masters[0]["masters"][0]["master"], "192.0.2.11");
        assert_eq!(all[0]["vrid"], 51);
        assert_eq!(all[0]["interface"], "eth0");

        // The master goes quiet: a tick after 3 intervals reports it down, once.
        assert_eq!(w.next_wake(ms(450)), Some(ms(700)));
        assert_eq!(w.tick(ms(650), WALL + ms(650)), "");
        let down = json_lines(&w.tick(ms(700), WALL + ms(700)));
        assert_eq!(down.len(), 1);
        assert_eq!(down[0]["masters"][0]["master_down"], true);
        assert_eq!(w.tick(ms(900), WALL + ms(900)), "");
        assert_eq!(w.packets(), 5);
        assert_eq!(w.invalid(), 0);
    }

    #[test]
    fn json_names_the_failed_check_of_an_invalid_packet() {
        let mut w = Watcher::new("eth0", true, None);
        let f = advert_v4(12, 64, 99, 77, 10, false);
        let out = json_lines(&w.packet(ms(0), WALL, &f));
        assert_eq!(out.len(), 1, "an invalid packet makes no master: {out:?}");
        assert_eq!(out[0]["valid"], false);
        let failed: Vec<&Value> = out[0]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["ok"] == false)
            .collect();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0]["name"], "ttl");
        assert_eq!(failed[0]["detail"], "TTL/hop limit 64 is not 255");
        assert_eq!(w.invalid(), 1);
    }

    #[test]
    fn json_view_follows_a_master_change_and_a_split_brain() {
        let mut w = Watcher::new("eth0", true, None);
        let mut views = Vec::new();
        let mut feed = |w: &mut Watcher, t: u64, host: u8, prio: u8| {
            let f = advert_v4(host, 255, 51, prio, 10, false);
            views.extend(
                json_lines(&w.packet(ms(t), WALL + ms(t), &f))
                    .into_iter()
                    .filter(is_masters),
            );
        };
        for t in 0..3 {
            feed(&mut w, t * 100, 11, 200);
        }
        // .11 dies; .12 takes over after its master-down interval.
        for t in 0..3 {
            feed(&mut w, 600 + t * 100, 12, 100);
        }
        // .11 comes back without hearing .12 (a partition): both advertise.
        for t in 0..3 {
            feed(&mut w, 850 + t * 100, 11, 200);
            feed(&mut w, 900 + t * 100, 12, 100);
        }
        let summary: Vec<(Value, Value, Value)> = views
            .iter()
            .map(|v| {
                let m = &v["masters"][0];
                (
                    m["master"].clone(),
                    m["master_down"].clone(),
                    m["split_brain"].clone(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("192.0.2.11".into(), false.into(), false.into()),
                ("192.0.2.12".into(), false.into(), false.into()),
                ("192.0.2.11".into(), false.into(), false.into()),
                // A B A: not yet a split brain (the start of a takeover looks the same)...
                ("192.0.2.12".into(), false.into(), false.into()),
                // ...A B A B is.
                ("192.0.2.11".into(), false.into(), true.into()),
            ],
            "{views:#?}"
        );
        let last = &views[4]["masters"][0]["advertisers"];
        assert_eq!(last[0]["src"], "192.0.2.11");
        assert_eq!(last[1]["src"], "192.0.2.12");
    }

    #[test]
    fn human_mode_reprints_the_view_while_adverts_arrive() {
        let mut w = Watcher::new("eth0", false, Some(ms(1000)));
        let f = advert_v4(11, 255, 51, 200, 10, false);
        let first = w.packet(ms(0), WALL, &f);
        assert!(first.contains("valid (checksum pseudo-header)"), "{first}");
        assert!(first.contains("-- masters on eth0"), "{first}");
        let mut reprints = 0;
        for t in 1..=20 {
            let out = w.packet(ms(t * 100), WALL + ms(t * 100), &f);
            assert!(out.starts_with("12:34:5"), "{out}");
            reprints += out.matches("-- masters").count();
        }
        assert_eq!(reprints, 2, "once a second over 2 s");
        // Quiet wire, nothing printed since: no reprint, only the down note.
        assert_eq!(w.next_wake(ms(2000)), Some(ms(2300)));
        let down = w.tick(ms(2300), WALL + ms(2300));
        assert!(down.contains("MASTER DOWN"), "{down}");
        assert_eq!(w.next_wake(ms(2300)), None);
    }
}
