//! What `vrrpd decode` and `vrrpd watch` print about one inspected packet: the header fields,
//! a detail for each receive check, and the JSON object with the field names both commands
//! share.

use std::fmt::Write as _;

use serde_json::{Value, json};
use vrrp_packet::ip::IpHeader;
use vrrp_packet::{AddressFamily, CheckName, Inspection, Outcome};

/// The fields every output shows, read from an inspection (null where a layer is missing).
pub(crate) struct Fields {
    pub(crate) src: Option<String>,
    pub(crate) dst: Option<String>,
    pub(crate) ttl: Option<u8>,
    pub(crate) version: Option<u8>,
    pub(crate) msg_type: Option<u8>,
    pub(crate) vrid: Option<u8>,
    pub(crate) priority: Option<u8>,
    pub(crate) count: Option<u8>,
    pub(crate) advert_interval_ms: Option<u32>,
    pub(crate) auth_type: Option<u8>,
    pub(crate) auth_data: Option<[u8; 8]>,
    pub(crate) checksum: Option<u16>,
    /// None when the checksum could not be verified (a bare VRRPv3 message has no IP
    /// addresses for the pseudo-header).
    pub(crate) checksum_valid: Option<bool>,
    pub(crate) addresses: Vec<String>,
}

pub(crate) fn fields(report: &Inspection<'_>) -> Fields {
    let ip = report.ip;
    let p = report.vrrp;
    let v2 = p.is_some_and(|p| p.version() == 2);
    let checksum_valid = match report.outcome(CheckName::Checksum) {
        Some(Outcome::Pass) => Some(true),
        Some(Outcome::Fail(_)) => Some(false),
        Some(Outcome::Skipped) | None => None,
    };
    let addresses = match (p, report.family) {
        (Some(p), Some(family)) => p
            .addresses(family)
            .map(|l| l.iter().map(|a| a.to_string()).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    Fields {
        src: ip.map(|h| h.src().to_string()),
        dst: ip.map(|h| h.dst().to_string()),
        ttl: ip.map(|h| h.ttl()),
        version: p.map(|p| p.version()),
        msg_type: p.map(|p| p.msg_type()),
        vrid: p.map(|p| p.vrid()),
        priority: p.map(|p| p.priority()),
        count: p.map(|p| p.count()),
        advert_interval_ms: p.map(|p| p.advert_interval().as_millis()),
        auth_type: p.filter(|_| v2).map(|p| p.auth_type_v2()),
        auth_data: p.filter(|_| v2).and_then(|p| p.auth_data()),
        checksum: p.map(|p| p.checksum()),
        checksum_valid: if p.is_some() { checksum_valid } else { None },
        addresses,
    }
}

pub(crate) fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The simple password as text, if it is printable ASCII followed by NUL padding.
pub(crate) fn password_text(data: &[u8; 8]) -> Option<String> {
    let end = data.iter().position(|b| *b == 0).unwrap_or(8);
    let (text, pad) = data.split_at(end);
    (text.iter().all(|b| b.is_ascii_graphic() || *b == b' ') && pad.iter().all(|b| *b == 0))
        .then(|| String::from_utf8_lossy(text).into_owned())
}

/// What a check looked at, for the report ("" when nothing useful can be said).
pub(crate) fn detail(name: CheckName, outcome: Outcome, report: &Inspection<'_>) -> String {
    match outcome {
        Outcome::Fail(f) => f.to_string(),
        Outcome::Skipped => match name {
            CheckName::Checksum => {
                "not verifiable without the IP header (the VRRPv3 checksum covers a pseudo-header)"
                    .to_string()
            }
            _ => "not evaluated".to_string(),
        },
        Outcome::Pass => {
            let p = report.vrrp;
            match name {
                CheckName::Ethernet => report.ethernet.map_or(String::new(), |e| {
                    format!("EtherType 0x{:04x}", e.ethertype())
                }),
                CheckName::Ttl => report.ip.map_or(String::new(), |h| match h {
                    IpHeader::V4(h) => format!("TTL {}", h.ttl()),
                    IpHeader::V6(h) => format!("hop limit {}", h.hop_limit()),
                }),
                CheckName::Protocol => "112 (VRRP)".to_string(),
                CheckName::SourceLinkLocal => report
                    .ip
                    .map_or(String::new(), |h| format!("{} is link-local", h.src())),
                CheckName::Version => p.map_or(String::new(), |p| format!("{}", p.version())),
                CheckName::Type => "1 (ADVERTISEMENT)".to_string(),
                CheckName::Length => p.map_or(String::new(), |p| {
                    format!("{} bytes for {} addresses", p.as_bytes().len(), p.count())
                }),
                CheckName::Checksum => match (p, report.checksum_mode) {
                    (Some(p), Some(mode)) => format!("0x{:04x} ({mode})", p.checksum()),
                    _ => String::new(),
                },
                CheckName::HeaderLength => {
                    p.map_or(String::new(), |p| format!("{} bytes", p.as_bytes().len()))
                }
                CheckName::Vrid => p.map_or(String::new(), |p| p.vrid().to_string()),
                CheckName::AddressCount => p.map_or(String::new(), |p| p.count().to_string()),
                CheckName::Interval => p.map_or(String::new(), |p| {
                    format!("{} ms", p.advert_interval().as_millis())
                }),
                CheckName::AuthType => p.map_or(String::new(), |p| match p.auth_type_v2() {
                    0 => "0 (none)".to_string(),
                    n => format!("{n} (simple password)"),
                }),
                CheckName::AddressFamily => report
                    .family
                    .map_or(String::new(), |f| f.as_str().to_string()),
                _ => String::new(),
            }
        }
    }
}

/// The JSON object `vrrpd decode --json` prints for one argument (without its `"argument"`
/// number) and `vrrpd watch --json` for one packet (before its timestamp and interface).
pub(crate) fn to_json(bytes: &[u8], report: &Inspection<'_>) -> Value {
    let f = fields(report);
    let checks: Vec<Value> = report
        .checks()
        .iter()
        .map(|c| {
            json!({
                "name": c.name.as_str(),
                "ok": match c.outcome {
                    Outcome::Pass => Value::Bool(true),
                    Outcome::Fail(_) => Value::Bool(false),
                    Outcome::Skipped => Value::Null,
                },
                "detail": detail(c.name, c.outcome, report),
            })
        })
        .collect();
    let mut obj = json!({
        "length": bytes.len(),
        "layer": report.layer.as_str(),
        "family": report.family.map(AddressFamily::as_str),
        "src": f.src,
        "dst": f.dst,
        "ttl": f.ttl,
        "version": f.version,
        "type": f.msg_type,
        "vrid": f.vrid,
        "priority": f.priority,
        "count": f.count,
        "advert_interval_ms": f.advert_interval_ms,
        "auth_type": f.auth_type,
        "auth_data": f.auth_data.map(|d| hex_string(&d)),
        "checksum": f.checksum.map(|c| format!("0x{c:04x}")),
        "checksum_valid": f.checksum_valid,
        "checksum_mode": report.checksum_mode.map(|m| m.as_str()),
        "addresses": f.addresses,
        "checks": checks,
        "valid": report.is_valid(),
    });
    if let (Some(1), Some(data), Some(map)) = (f.auth_type, f.auth_data, obj.as_object_mut()) {
        map.insert(
            "auth_password".to_string(),
            password_text(&data).map_or(Value::Null, Value::String),
        );
    }
    obj
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_text_needs_printable_and_nul_padding() {
        assert_eq!(password_text(b"1234abcd").as_deref(), Some("1234abcd"));
        assert_eq!(password_text(b"abc\0\0\0\0\0").as_deref(), Some("abc"));
        assert_eq!(password_text(b"ab\0c\0\0\0\0"), None);
        assert_eq!(password_text(b"\x01bc\0\0\0\0\0"), None);
    }
}
