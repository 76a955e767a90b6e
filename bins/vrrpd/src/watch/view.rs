//! The running master view of `vrrpd watch`: per (address family, VRID), which router the
//! valid adverts say is master, with a note when two routers advertise at once (split brain)
//! or when the adverts stop (master down).
//!
//! Pure: every call takes the time (a monotonic offset from the start of the watch), so tests
//! feed adverts with made-up timestamps.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

use vrrp_packet::{AddressFamily, Interval, Version, VrrpRepr};

/// Intervals without an advert after which the master is reported down. RFC 9568 §6.1: a
/// backup declares the master down after Master_Down_Interval = 3 × Master_Adver_Interval +
/// Skew_Time; the skew depends on each backup's priority, which a watcher does not know.
pub(crate) const DOWN_INTERVALS: u32 = 3;

/// Adverts kept per virtual router for the split-brain check (the window is a few intervals,
/// so this is only reached when many routers flood one VRID).
const MAX_RECENT: usize = 256;

/// One valid advert, as the view keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Advert {
    /// When it was seen.
    pub(crate) at: Duration,
    /// Its IP source: the sending router.
    pub(crate) src: IpAddr,
    /// Its priority.
    pub(crate) priority: u8,
    /// Its advertisement interval.
    pub(crate) interval: Interval,
    /// Its VRRP version.
    pub(crate) version: Version,
}

impl Advert {
    /// When this advert stops counting as "recent": [`DOWN_INTERVALS`] of its interval later.
    fn expiry(&self) -> Duration {
        self.at + self.interval.as_duration() * DOWN_INTERVALS
    }

    fn is_live(&self, now: Duration) -> bool {
        now < self.expiry()
    }
}

#[derive(Debug, Default)]
struct Router {
    /// The last advert with a non-zero priority.
    master: Option<Advert>,
    /// A priority-0 advert from the master, newer than its last non-zero one.
    resigned: Option<Advert>,
    /// The non-zero-priority adverts of the last few intervals, oldest first.
    recent: VecDeque<Advert>,
}

/// The state of one virtual router at one moment, as printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RouterStatus {
    /// The address family of its adverts.
    pub(crate) family: AddressFamily,
    /// The VRID.
    pub(crate) vrid: u8,
    /// The last non-zero-priority advert (None if only priority-0 adverts were seen).
    pub(crate) master: Option<Advert>,
    /// How long ago that advert was seen.
    pub(crate) age: Option<Duration>,
    /// No advert from the master for [`DOWN_INTERVALS`] of its interval.
    pub(crate) down: bool,
    /// The master resigned (sent priority 0, RFC 9568 §5.2.4) and nobody advertised since:
    /// the router that resigned.
    pub(crate) resigned: Option<IpAddr>,
    /// Every router whose non-zero-priority adverts are recent, with its latest advert, by
    /// address.
    pub(crate) advertisers: Vec<Advert>,
    /// Two or more routers are advertising at once: each sent an advert between two of the
    /// other's, within [`DOWN_INTERVALS`] intervals (a normal takeover never interleaves).
    pub(crate) split_brain: bool,
}

impl RouterStatus {
    /// What a change of the view is made of: everything but the ages. During a split brain
    /// the master flips with every advert, so the set of advertisers counts instead.
    pub(crate) fn signature(&self) -> Signature {
        Signature {
            family: self.family,
            vrid: self.vrid,
            master: if self.split_brain {
                None
            } else {
                self.master
                    .map(|a| (a.src, a.priority, a.interval, a.version))
            },
            down: self.down,
            resigned: self.resigned,
            split_brain: self.split_brain.then(|| {
                self.advertisers
                    .iter()
                    .map(|a| (a.src, a.priority))
                    .collect()
            }),
        }
    }
}

/// The part of a [`RouterStatus`] whose change is worth printing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Signature {
    family: AddressFamily,
    vrid: u8,
    master: Option<(IpAddr, u8, Interval, Version)>,
    down: bool,
    resigned: Option<IpAddr>,
    split_brain: Option<Vec<(IpAddr, u8)>>,
}

/// Which router is master, per (family, VRID). See the module docs.
#[derive(Debug, Default)]
pub(crate) struct MasterView {
    routers: BTreeMap<(AddressFamily, u8), Router>,
}

impl MasterView {
    /// An empty view.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Takes in one valid advert from `src`, seen at `at`. Invalid packets must not be fed:
    /// receivers discard them, so they do not make a master.
    pub(crate) fn observe(&mut self, at: Duration, src: IpAddr, repr: &VrrpRepr<'_>) {
        let family = AddressFamily::of(&src);
        let router = self.routers.entry((family, repr.vrid)).or_default();
        let advert = Advert {
            at,
            src,
            priority: repr.priority,
            interval: repr.advert_interval,
            version: repr.version,
        };
        router.recent.retain(|a| a.is_live(at));
        if repr.priority == 0 {
            // RFC 9568 §5.2.4: priority 0 says the sender stopped participating; it is no
            // longer advertising mastership.
            if router.master.is_some_and(|m| m.src == src) {
                router.resigned = Some(advert);
            }
            router.recent.retain(|a| a.src != src);
            return;
        }
        router.master = Some(advert);
        router.resigned = None;
        if router.recent.len() >= MAX_RECENT {
            router.recent.pop_front();
        }
        router.recent.push_back(advert);
    }

    /// The view at `now`, ordered by family then VRID.
    pub(crate) fn status(&self, now: Duration) -> Vec<RouterStatus> {
        self.routers
            .iter()
            .map(|(&(family, vrid), router)| {
                let live: Vec<Advert> = router
                    .recent
                    .iter()
                    .copied()
                    .filter(|a| a.is_live(now))
                    .collect();
                let mut latest: BTreeMap<IpAddr, Advert> = BTreeMap::new();
                for a in &live {
                    latest.insert(a.src, *a);
                }
                let master = router.master;
                RouterStatus {
                    family,
                    vrid,
                    master,
                    age: master.map(|m| now.saturating_sub(m.at)),
                    down: master.is_some_and(|m| now >= m.expiry()),
                    resigned: router.resigned.map(|a| a.src),
                    split_brain: interleaved(&live),
                    advertisers: latest.into_values().collect(),
                }
            })
            .collect()
    }

    /// The next moment after `now` at which [`status`](Self::status) may change with time
    /// alone (a master goes down; with two or more advertisers, an advert leaves the
    /// split-brain window), if any.
    pub(crate) fn next_change(&self, now: Duration) -> Option<Duration> {
        self.routers
            .values()
            .flat_map(|r| {
                let first = r.recent.front().map(|a| a.src);
                let several = r.recent.iter().any(|a| Some(a.src) != first);
                let recent = several.then_some(r.recent.iter()).into_iter().flatten();
                r.master.iter().chain(recent)
            })
            .map(Advert::expiry)
            .filter(|&t| t > now)
            .min()
    }
}

/// Whether two sources each sent an advert between two of the other's: the sequence of
/// their adverts, with repeats merged, alternates at least four times (A B A B).
fn interleaved(adverts: &[Advert]) -> bool {
    let sources: BTreeSet<IpAddr> = adverts.iter().map(|a| a.src).collect();
    let sources: Vec<IpAddr> = sources.into_iter().collect();
    for (i, x) in sources.iter().enumerate() {
        for y in sources.iter().skip(i + 1) {
            let mut runs = 0;
            let mut last = None;
            for a in adverts.iter().filter(|a| a.src == *x || a.src == *y) {
                if last != Some(a.src) {
                    runs += 1;
                    last = Some(a.src);
                }
            }
            if runs >= 4 {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use vrrp_packet::{AddressList, Auth};

    use super::*;

    const VIPS: [Ipv4Addr; 1] = [Ipv4Addr::new(192, 0, 2, 100)];

    fn repr(vrid: u8, priority: u8, centis: u16) -> VrrpRepr<'static> {
        VrrpRepr {
            version: Version::V3,
            vrid,
            priority,
            advert_interval: Interval::from_centis(centis),
            auth: Auth::None,
            addresses: AddressList::ipv4(&VIPS),
        }
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn only(view: &MasterView, now: Duration) -> RouterStatus {
        let status = view.status(now);
        assert_eq!(status.len(), 1, "{status:?}");
        status[0].clone()
    }

    #[test]
    fn steady_master_with_its_age() {
        let mut v = MasterView::new();
        for t in 0..5 {
            v.observe(ms(t * 100), ip(11), &repr(51, 200, 10));
        }
        let s = only(&v, ms(450));
        assert_eq!(s.family, AddressFamily::Ipv4);
        assert_eq!(s.vrid, 51);
        let m = s.master.unwrap();
        assert_eq!((m.src, m.priority), (ip(11), 200));
        assert_eq!(m.interval.as_millis(), 100);
        assert_eq!(s.age, Some(ms(50)));
        assert!(!s.down && !s.split_brain);
        assert_eq!(s.resigned, None);
        assert_eq!(s.advertisers.len(), 1);
    }

    #[test]
    fn master_down_after_three_intervals() {
        let mut v = MasterView::new();
        v.observe(ms(1000), ip(11), &repr(51, 200, 100));
        assert!(!only(&v, ms(3999)).down);
        assert_eq!(v.next_change(ms(1500)), Some(ms(4000)));
        assert!(only(&v, ms(4000)).down);
        assert_eq!(v.next_change(ms(4000)), None);
        // A new advert brings it back.
        v.observe(ms(5000), ip(11), &repr(51, 200, 100));
        assert!(!only(&v, ms(5000)).down);
    }

    #[test]
    fn master_change_is_a_takeover_not_a_split_brain() {
        let mut v = MasterView::new();
        for t in 0..10 {
            v.observe(ms(t * 100), ip(11), &repr(51, 200, 10));
        }
        let before = only(&v, ms(950));
        // Host .11 dies; .12 takes over after its master-down interval.
        for t in 0..10 {
            v.observe(ms(1300 + t * 100), ip(12), &repr(51, 100, 10));
        }
        let after = only(&v, ms(2250));
        let m = after.master.unwrap();
        assert_eq!((m.src, m.priority), (ip(12), 100));
        assert!(!after.split_brain && !after.down);
        assert_ne!(before.signature(), after.signature());
    }

    #[test]
    fn preemption_is_not_a_split_brain() {
        // .12 is master; .11 (higher) comes back and preempts: the last adverts of .12 and the
        // first of .11 fall in one window, but they do not interleave.
        let mut v = MasterView::new();
        for t in 0..5 {
            v.observe(ms(t * 100), ip(12), &repr(51, 100, 10));
        }
        for t in 0..5 {
            v.observe(ms(450 + t * 100), ip(11), &repr(51, 200, 10));
        }
        let s = only(&v, ms(660));
        assert!(!s.split_brain, "{s:?}");
        assert_eq!(s.master.unwrap().src, ip(11));
    }

    #[test]
    fn split_brain_when_two_sources_interleave() {
        let mut v = MasterView::new();
        for t in 0..4 {
            v.observe(ms(t * 100), ip(11), &repr(51, 200, 10));
            v.observe(ms(t * 100 + 50), ip(12), &repr(51, 100, 10));
        }
        let s = only(&v, ms(360));
        assert!(s.split_brain);
        let srcs: Vec<IpAddr> = s.advertisers.iter().map(|a| a.src).collect();
        assert_eq!(srcs, [ip(11), ip(12)]);
        // The master flips with each advert, but the signature does not.
        v.observe(ms(400), ip(11), &repr(51, 200, 10));
        let s2 = only(&v, ms(410));
        assert_eq!(s.signature(), s2.signature());
        // .12 stops: once its adverts leave the window, the split brain is over.
        for t in 5..10 {
            v.observe(ms(t * 100), ip(11), &repr(51, 200, 10));
        }
        let s3 = only(&v, ms(900));
        assert!(!s3.split_brain, "{s3:?}");
        assert_eq!(s3.advertisers.len(), 1);
    }

    #[test]
    fn split_brain_with_different_intervals() {
        // .11 every second, .12 every 100 ms: .11's adverts land between .12's and back.
        let mut v = MasterView::new();
        v.observe(ms(0), ip(11), &repr(51, 200, 100));
        for t in 1..=9 {
            v.observe(ms(t * 100), ip(12), &repr(51, 100, 10));
        }
        assert!(!only(&v, ms(950)).split_brain);
        v.observe(ms(1000), ip(11), &repr(51, 200, 100));
        v.observe(ms(1050), ip(12), &repr(51, 100, 10));
        assert!(only(&v, ms(1060)).split_brain);
    }

    #[test]
    fn startup_race_is_not_a_split_brain() {
        // Both start as master; the lower one yields at the higher one's immediate answer
        // (RFC 9568 §6.4.3): A B A, then only A.
        let mut v = MasterView::new();
        v.observe(ms(0), ip(11), &repr(51, 200, 10));
        v.observe(ms(10), ip(12), &repr(51, 100, 10));
        for t in 0..5 {
            v.observe(ms(11 + t * 100), ip(11), &repr(51, 200, 10));
        }
        assert!(!only(&v, ms(420)).split_brain);
    }

    #[test]
    fn priority_zero_marks_a_resignation() {
        let mut v = MasterView::new();
        v.observe(ms(0), ip(11), &repr(51, 200, 10));
        v.observe(ms(100), ip(11), &repr(51, 0, 10));
        let s = only(&v, ms(110));
        assert_eq!(s.resigned, Some(ip(11)));
        assert_eq!(
            s.master.unwrap().src,
            ip(11),
            "last non-zero advert's source"
        );
        assert!(s.advertisers.is_empty());
        // The backup takes over at once.
        v.observe(ms(120), ip(12), &repr(51, 100, 10));
        let s = only(&v, ms(130));
        assert_eq!(s.resigned, None);
        assert_eq!(s.master.unwrap().src, ip(12));
        // A priority 0 from a router that is not the master is no resignation.
        v.observe(ms(140), ip(13), &repr(51, 0, 10));
        assert_eq!(only(&v, ms(150)).resigned, None);
    }

    #[test]
    fn families_and_vrids_are_separate() {
        let mut v = MasterView::new();
        let ll: IpAddr = "fe80::11".parse().unwrap();
        v.observe(ms(0), ip(11), &repr(51, 200, 10));
        v.observe(ms(0), ll, &repr(51, 150, 10));
        v.observe(ms(0), ip(12), &repr(52, 100, 10));
        let s = v.status(ms(10));
        let keys: Vec<(AddressFamily, u8)> = s.iter().map(|r| (r.family, r.vrid)).collect();
        assert_eq!(
            keys,
            [
                (AddressFamily::Ipv4, 51),
                (AddressFamily::Ipv4, 52),
                (AddressFamily::Ipv6, 51)
            ]
        );
        assert!(s.iter().all(|r| !r.split_brain));
        assert_eq!(s[2].master.unwrap().src, ll);
    }
}
