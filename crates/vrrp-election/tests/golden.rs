//! Golden conformance tests: one directory per case under `tests/golden/`, with
//!
//! - `config.json`: `{"routers": [{"name", "vrid", "primary_address", "virtual_addresses",
//!   ...optional RouterConfig fields}], "sync_groups": [["a", "b"]]}`;
//! - `input.jsonl`: one input per line, each at `t_ms` after the start (see [`apply`]);
//! - `expected.jsonl`: every output of the node, in order, with its time, then one `final`
//!   line per router (state, effective priority, non-zero counters).
//!
//! Before each input the runner fires every timer due up to and including its time, in
//! order, like a runtime would. `VRRP_GOLDEN_UPDATE=1 cargo test -p vrrp-election --test
//! golden` rewrites the expected files; every rewritten file must be reviewed by hand against
//! the RFC before it is committed.
// Test harness code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vrrp_election::{
    Action, Auth, ChecksumMode, Command, Event, InterfaceId, Interval, Node, NodeOutput, Output,
    RouterConfig, RouterId, RxMeta, Version,
};
use vrrp_packet::{AddressList, ChecksumContext, VrrpRepr};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn u(v: &Value, k: &str) -> Option<u64> {
    v.get(k).and_then(Value::as_u64)
}

fn b(v: &Value, k: &str) -> Option<bool> {
    v.get(k).and_then(Value::as_bool)
}

fn addr(v: &Value) -> IpAddr {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an address: {v}"))
}

fn addrs(v: Option<&Value>) -> Vec<IpAddr> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().map(addr).collect())
        .unwrap_or_default()
}

fn version(v: &Value) -> Version {
    match u(v, "version").unwrap_or(3) {
        2 => Version::V2,
        _ => Version::V3,
    }
}

fn checksum_mode(v: &Value) -> ChecksumMode {
    match s(v, "checksum_mode") {
        Some("message-only") => ChecksumMode::MessageOnly,
        _ => ChecksumMode::PseudoHeader,
    }
}

fn router_config(v: &Value) -> RouterConfig {
    let mut c = RouterConfig::new(
        u(v, "vrid").unwrap_or(51) as u8,
        InterfaceId(u(v, "interface").unwrap_or(1) as u32),
        addr(&v["primary_address"]),
        addrs(v.get("virtual_addresses")),
    );
    c.version = version(v);
    c.priority = u(v, "priority").unwrap_or(100) as u8;
    c.advert_interval = Interval::from_centis(u(v, "advert_interval_cs").unwrap_or(100) as u16);
    c.preempt = b(v, "preempt").unwrap_or(true);
    c.preempt_delay = Duration::from_millis(u(v, "preempt_delay_ms").unwrap_or(0));
    c.accept_mode = b(v, "accept_mode").unwrap_or(false);
    c.unicast_peers = addrs(v.get("unicast_peers"));
    if let Some(p) = s(v, "auth_pass") {
        c.auth = Auth::simple_password(p);
    }
    c.checksum_mode = checksum_mode(v);
    c.check_ttl = b(v, "check_ttl").unwrap_or(true);
    c.discard_address_mismatch = b(v, "discard_address_mismatch").unwrap_or(false);
    c
}

/// An advert described in JSON, encoded with a correct checksum.
fn encode_advert(a: &Value, src: IpAddr, dst: IpAddr) -> Vec<u8> {
    let list = addrs(a.get("addresses"));
    let v4: Vec<_> = list
        .iter()
        .filter_map(|a| match a {
            IpAddr::V4(a) => Some(*a),
            IpAddr::V6(_) => None,
        })
        .collect();
    let v6: Vec<_> = list
        .iter()
        .filter_map(|a| match a {
            IpAddr::V6(a) => Some(*a),
            IpAddr::V4(_) => None,
        })
        .collect();
    let addresses = if v6.is_empty() {
        AddressList::ipv4(&v4)
    } else {
        AddressList::ipv6(&v6)
    };
    let repr = VrrpRepr {
        version: version(a),
        vrid: u(a, "vrid").unwrap_or(51) as u8,
        priority: u(a, "priority").unwrap_or(100) as u8,
        advert_interval: Interval::from_centis(u(a, "interval_cs").unwrap_or(100) as u16),
        auth: s(a, "auth_pass").map_or(Auth::None, Auth::simple_password),
        addresses,
    };
    let mut buf = vec![0u8; repr.buffer_len()];
    let n = repr
        .emit(
            &mut buf,
            &ChecksumContext {
                src,
                dst,
                mode: checksum_mode(a),
            },
        )
        .unwrap_or_else(|e| panic!("cannot encode {a}: {e}"));
    buf.truncate(n);
    buf
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn time(t0: Instant, t: Instant) -> String {
    let d = t - t0;
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

struct Case {
    node: Node,
    names: Vec<String>,
    t0: Instant,
    lines: Vec<String>,
}

impl Case {
    fn id(&self, name: &str) -> RouterId {
        RouterId(
            self.names
                .iter()
                .position(|n| n == name)
                .unwrap_or_else(|| panic!("unknown router {name}")),
        )
    }

    fn record(&mut self, now: Instant) {
        while let Some(NodeOutput { router, output }) = self.node.poll_output() {
            let router = router.map(|r| self.names[r.0].clone());
            let mut line = json!({"t": time(self.t0, now), "router": router});
            let obj = line.as_object_mut().unwrap();
            match output {
                Output::Transmit(t) => {
                    let decoded = VrrpRepr::decode(&t.payload, t.src, t.dst)
                        .map(|(r, m)| format!("{r} cksum {m}"))
                        .unwrap_or_else(|e| format!("UNDECODABLE: {e}"));
                    obj.insert(
                        "tx".into(),
                        json!({"src": t.src.to_string(), "dst": t.dst.to_string(), "ttl": t.ttl,
                               "interface": t.interface.0, "advert": decoded, "hex": hex(&t.payload)}),
                    );
                }
                Output::Action(a) => {
                    let (kind, addresses, accept) = match a {
                        Action::AddAddresses {
                            addresses, accept, ..
                        } => ("add_addresses", addresses, Some(accept)),
                        Action::RemoveAddresses { addresses, .. } => {
                            ("remove_addresses", addresses, None)
                        }
                        Action::Announce { addresses, .. } => ("announce", addresses, None),
                        other => panic!("unexpected action {other:?}"),
                    };
                    obj.insert("action".into(), json!(kind));
                    obj.insert(
                        "addresses".into(),
                        json!(addresses.iter().map(|a| a.to_string()).collect::<Vec<_>>()),
                    );
                    if let Some(accept) = accept {
                        obj.insert("accept".into(), json!(accept));
                    }
                }
                Output::Event(Event::StateChanged { from, to, reason }) => {
                    obj.insert(
                        "state".into(),
                        json!({"from": from.as_str(), "to": to.as_str(), "reason": reason.as_str()}),
                    );
                }
                Output::Event(Event::Discarded { src, reason }) => {
                    obj.insert(
                        "discarded".into(),
                        json!({"src": src.to_string(), "counter": reason.counter(), "why": reason.to_string()}),
                    );
                }
                Output::Event(Event::AddressListMismatch { src }) => {
                    obj.insert(
                        "address_list_mismatch".into(),
                        json!({"src": src.to_string()}),
                    );
                }
                Output::Event(Event::PriorityChanged { from, to }) => {
                    obj.insert("priority".into(), json!({"from": from, "to": to}));
                }
                Output::Event(other) => panic!("unexpected event {other:?}"),
            }
            self.lines.push(line.to_string());
        }
    }

    fn run_until(&mut self, target: Instant) {
        while let Some(due) = self.node.poll_timeout().filter(|d| *d <= target) {
            self.node.handle_timeout(due);
            self.record(due);
        }
    }

    /// Applies one input line:
    /// - `{"t_ms": N}`: only fire timers up to N;
    /// - `"command": "startup" | "shutdown" | "fault" | "fault_clear" | "interface_up" |
    ///   "interface_down" | "priority_offset"` (with `"offset"`), to `"router"` or to all;
    /// - `"advert": {src, dst?, ttl?, interface?, version?, vrid?, priority?, interval_cs?,
    ///   addresses?, auth_pass?, checksum_mode?}` (addresses default to 192.0.2.100);
    /// - `"raw": {src, dst?, ttl?, interface?, hex}`: bytes as given.
    fn apply(&mut self, input: &Value) {
        let now = self.t0 + Duration::from_millis(u(input, "t_ms").expect("t_ms"));
        self.run_until(now);
        if let Some(cmd) = s(input, "command") {
            let cmd = match cmd {
                "startup" => Command::Startup,
                "shutdown" => Command::Shutdown,
                "fault" => Command::SetFault(true),
                "fault_clear" => Command::SetFault(false),
                "interface_up" => Command::InterfaceUp,
                "interface_down" => Command::InterfaceDown,
                "priority_offset" => {
                    Command::SetPriorityOffset(input["offset"].as_i64().expect("offset") as i16)
                }
                other => panic!("unknown command {other}"),
            };
            match s(input, "router") {
                Some(name) => {
                    let id = self.id(name);
                    self.node.handle_command(now, id, cmd);
                }
                None => self.node.handle_command_all(now, cmd),
            }
        }
        for key in ["advert", "raw"] {
            let Some(a) = input.get(key) else { continue };
            let src = addr(&a["src"]);
            let dst = a.get("dst").map(addr).unwrap_or(match src {
                IpAddr::V4(_) => "224.0.0.18".parse().unwrap(),
                IpAddr::V6(_) => "ff02::12".parse().unwrap(),
            });
            let meta = RxMeta {
                interface: InterfaceId(u(a, "interface").unwrap_or(1) as u32),
                src,
                dst,
                ttl: u(a, "ttl").unwrap_or(255) as u8,
            };
            let bytes = if key == "raw" {
                unhex(s(a, "hex").expect("hex"))
            } else {
                let mut a = a.clone();
                if a.get("addresses").is_none() {
                    let default = if src.is_ipv4() {
                        "192.0.2.100"
                    } else {
                        "2001:db8::100"
                    };
                    a["addresses"] = json!([default]);
                }
                encode_advert(&a, src, dst)
            };
            self.node.handle_packet(now, meta, &bytes);
        }
        self.record(now);
    }

    fn finish(&mut self) {
        let finals: Vec<String> = self
            .node
            .routers()
            .map(|(id, r)| {
                let stats: serde_json::Map<String, Value> = r
                    .stats()
                    .fields()
                    .iter()
                    .filter(|(_, v)| *v != 0)
                    .map(|(k, v)| ((*k).to_string(), json!(v)))
                    .collect();
                json!({"final": self.names[id.0], "state": r.state().as_str(),
                       "priority": r.priority(), "stats": stats})
                .to_string()
            })
            .collect();
        self.lines.extend(finals);
        let node_stats: serde_json::Map<String, Value> = self
            .node
            .stats()
            .fields()
            .iter()
            .filter(|(_, v)| *v != 0)
            .map(|(k, v)| ((*k).to_string(), json!(v)))
            .collect();
        if !node_stats.is_empty() {
            self.lines
                .push(json!({"final": "node", "stats": node_stats}).to_string());
        }
    }
}

#[allow(clippy::disallowed_methods)] // The origin of the fake clock; only offsets matter.
fn run_case(dir: &Path) -> Vec<String> {
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let mut node = Node::new();
    let mut names = Vec::new();
    for r in config["routers"].as_array().expect("routers") {
        names.push(s(r, "name").expect("name").to_string());
        node.add_router(router_config(r))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    }
    let mut case = Case {
        node,
        names,
        t0: Instant::now(),
        lines: Vec::new(),
    };
    if let Some(groups) = config.get("sync_groups").and_then(Value::as_array) {
        for g in groups {
            let ids: Vec<RouterId> = g
                .as_array()
                .unwrap()
                .iter()
                .map(|n| case.id(n.as_str().unwrap()))
                .collect();
            case.node.add_sync_group(&ids).unwrap();
        }
    }
    let input = std::fs::read_to_string(dir.join("input.jsonl")).unwrap();
    for line in input.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{}: bad input line {line}: {e}", dir.display()));
        case.apply(&v);
    }
    case.finish();
    case.lines
}

#[test]
fn golden_cases() {
    let update = std::env::var("VRRP_GOLDEN_UPDATE").is_ok_and(|v| v == "1");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("config.json").exists())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 25, "only {} golden cases", dirs.len());
    let mut failures = Vec::new();
    for dir in &dirs {
        let got = run_case(dir);
        let path = dir.join("expected.jsonl");
        if update {
            std::fs::write(&path, got.join("\n") + "\n").unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        let want: Vec<&str> = want.lines().collect();
        if want != got {
            let first = want
                .iter()
                .zip(&got)
                .position(|(w, g)| w != g)
                .unwrap_or(want.len().min(got.len()));
            failures.push(format!(
                "{}: first difference at line {}\n  want: {}\n  got:  {}",
                dir.file_name().unwrap().to_string_lossy(),
                first + 1,
                want.get(first).unwrap_or(&"<end>"),
                got.get(first).map_or("<end>", String::as_str),
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden case(s) differ (VRRP_GOLDEN_UPDATE=1 regenerates; review by hand):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
