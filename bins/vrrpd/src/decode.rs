//! `vrrpd decode [--json] HEX...`: decodes captured VRRP traffic and runs every receive check.
//!
//! Each argument is an Ethernet frame, an IPv4/IPv6 packet or a bare VRRP message in hex
//! (whitespace, `:` and `-` separators and a leading `0x` are allowed); the layer is detected.
//! Exit status: 0 if every argument is valid, 1 if any check failed, 2 if an argument is not
//! hex or too short to be anything (8 bytes, a VRRP header).

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::{Value, json};
use vrrp_packet::ip::{IpHeader, MacDisplay};
use vrrp_packet::{
    AddressFamily, CheckName, Expectations, HEADER_LEN, Inspection, Layer, Outcome, inspect,
};

/// Arguments of `vrrpd decode`.
#[derive(Debug, clap::Args)]
pub(crate) struct DecodeArgs {
    /// Print one JSON object per argument per line instead of a readable report.
    #[arg(long)]
    json: bool,
    /// Ethernet frames, IP packets or bare VRRP messages, in hex.
    #[arg(value_name = "HEX", required = true)]
    hex: Vec<String>,
}

/// Exit status when an argument is not hex or too short.
const EXIT_BAD_ARGUMENT: u8 = 2;
/// Exit status when a receive check failed.
const EXIT_INVALID: u8 = 1;

/// Why an argument cannot be decoded at all.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HexError {
    /// A character that is not a hex digit or an allowed separator.
    NotHex { position: usize, found: char },
    /// An odd number of hex digits.
    OddDigits(usize),
    /// Fewer bytes than a VRRP header.
    TooShort(usize),
}

impl std::fmt::Display for HexError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HexError::NotHex { position, found } => {
                write!(f, "not hex: {found:?} at character {position}")
            }
            HexError::OddDigits(n) => write!(f, "not hex: odd number of digits ({n})"),
            HexError::TooShort(n) => write!(
                f,
                "too short: {n} bytes, not even a {HEADER_LEN}-byte VRRP header"
            ),
        }
    }
}

/// Parses one argument: hex digits with optional `0x` prefix and `:`, `-`, `_` or whitespace
/// separators, at least a VRRP header long.
pub(crate) fn parse_hex(arg: &str) -> Result<Vec<u8>, HexError> {
    let body = arg
        .strip_prefix("0x")
        .or_else(|| arg.strip_prefix("0X"))
        .unwrap_or(arg);
    let offset = arg.len() - body.len();
    let mut digits = Vec::with_capacity(body.len());
    for (i, c) in body.chars().enumerate() {
        match c.to_digit(16) {
            Some(d) => digits.push(d as u8),
            None if c == ':' || c == '-' || c == '_' || c.is_whitespace() => {}
            None => {
                return Err(HexError::NotHex {
                    position: offset + i + 1,
                    found: c,
                });
            }
        }
    }
    if digits.len() % 2 != 0 {
        return Err(HexError::OddDigits(digits.len()));
    }
    let bytes: Vec<u8> = digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect();
    if bytes.len() < HEADER_LEN {
        return Err(HexError::TooShort(bytes.len()));
    }
    Ok(bytes)
}

/// Runs `vrrpd decode`.
pub(crate) fn run(args: &DecodeArgs) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut bad_argument = false;
    let mut invalid = false;
    for (index, arg) in args.hex.iter().enumerate() {
        let bytes = match parse_hex(arg) {
            Ok(b) => b,
            Err(e) => {
                eprintln!(
                    "vrrpd decode: argument {} ({}): {e}",
                    index + 1,
                    shorten(arg)
                );
                bad_argument = true;
                continue;
            }
        };
        let report = inspect(&bytes, None, &Expectations::default());
        invalid |= !report.is_valid();
        let text = if args.json {
            let mut line = serde_json::to_string(&to_json(index + 1, &bytes, &report))
                .context("serialising the report")?;
            line.push('\n');
            line
        } else {
            let mut s = if index > 0 {
                String::from("\n")
            } else {
                String::new()
            };
            human(&mut s, index + 1, &bytes, &report)?;
            s
        };
        out.write_all(text.as_bytes())
            .context("writing to stdout")?;
    }
    out.flush().context("writing to stdout")?;
    Ok(if bad_argument {
        ExitCode::from(EXIT_BAD_ARGUMENT)
    } else if invalid {
        ExitCode::from(EXIT_INVALID)
    } else {
        ExitCode::SUCCESS
    })
}

/// An argument as quoted in an error message: at most 40 characters.
fn shorten(arg: &str) -> String {
    if arg.chars().count() <= 40 {
        format!("{arg:?}")
    } else {
        let head: String = arg.chars().take(37).collect();
        format!("{head:?}...")
    }
}

/// The fields every output shows, read from an inspection (null where a layer is missing).
struct Fields {
    src: Option<String>,
    dst: Option<String>,
    ttl: Option<u8>,
    version: Option<u8>,
    msg_type: Option<u8>,
    vrid: Option<u8>,
    priority: Option<u8>,
    count: Option<u8>,
    advert_interval_ms: Option<u32>,
    auth_type: Option<u8>,
    auth_data: Option<[u8; 8]>,
    checksum: Option<u16>,
    /// None when the checksum could not be verified (a bare VRRPv3 message has no IP
    /// addresses for the pseudo-header).
    checksum_valid: Option<bool>,
    addresses: Vec<String>,
}

fn fields(report: &Inspection<'_>) -> Fields {
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

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The simple password as text, if it is printable ASCII followed by NUL padding.
fn password_text(data: &[u8; 8]) -> Option<String> {
    let end = data.iter().position(|b| *b == 0).unwrap_or(8);
    let (text, pad) = data.split_at(end);
    (text.iter().all(|b| b.is_ascii_graphic() || *b == b' ') && pad.iter().all(|b| *b == 0))
        .then(|| String::from_utf8_lossy(text).into_owned())
}

/// What a check looked at, for the report ("" when nothing useful can be said).
fn detail(name: CheckName, outcome: Outcome, report: &Inspection<'_>) -> String {
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

fn to_json(index: usize, bytes: &[u8], report: &Inspection<'_>) -> Value {
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
        "argument": index,
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

fn human(s: &mut String, index: usize, bytes: &[u8], report: &Inspection<'_>) -> std::fmt::Result {
    let f = fields(report);
    let layer = match report.layer {
        Layer::Ethernet => "Ethernet frame",
        Layer::Ip => "IP packet",
        Layer::Vrrp => "bare VRRP message",
    };
    writeln!(s, "argument {index}: {layer}, {} bytes", bytes.len())?;
    if let Some(e) = report.ethernet {
        writeln!(
            s,
            "  ethernet  {} > {}, EtherType 0x{:04x}",
            MacDisplay(e.src_mac()),
            MacDisplay(e.dst_mac()),
            e.ethertype()
        )?;
    }
    if let Some(ip) = report.ip {
        match ip {
            IpHeader::V4(h) => writeln!(
                s,
                "  ipv4      {} > {}, ttl {}, protocol {}, length {}",
                h.src(),
                h.dst(),
                h.ttl(),
                h.protocol(),
                h.total_len()
            )?,
            IpHeader::V6(h) => writeln!(
                s,
                "  ipv6      {} > {}, hop limit {}, next header {}, payload length {}",
                h.src(),
                h.dst(),
                h.hop_limit(),
                h.next_header(),
                h.payload_len()
            )?,
        }
    }
    if let Some(p) = report.vrrp {
        writeln!(
            s,
            "  vrrp      version {}, type {}, vrid {}, priority {}, count {}",
            p.version(),
            p.msg_type(),
            p.vrid(),
            p.priority(),
            p.count()
        )?;
        if p.version() == 2 {
            write!(
                s,
                "            adver int {} s, auth type {}",
                p.advert_interval_v2(),
                p.auth_type_v2()
            )?;
            if let Some(d) = f.auth_data {
                write!(s, ", auth data {}", hex_string(&d))?;
                if p.auth_type_v2() == 1
                    && let Some(text) = password_text(&d)
                {
                    write!(s, " ({text:?})")?;
                }
            }
            writeln!(s)?;
        } else {
            writeln!(
                s,
                "            max advert interval {} cs ({} ms), reserved {}",
                p.max_advert_interval_v3(),
                p.advert_interval().as_millis(),
                p.reserved_v3()
            )?;
        }
        let verdict = match (f.checksum_valid, report.checksum_mode) {
            (Some(true), Some(mode)) => format!("valid, {mode}"),
            (Some(false), _) => "WRONG".to_string(),
            _ => "not verified".to_string(),
        };
        writeln!(s, "            checksum 0x{:04x} ({verdict})", p.checksum())?;
        if let Some(family) = report.family {
            writeln!(
                s,
                "            addresses ({}) {}",
                family,
                if f.addresses.is_empty() {
                    "none readable".to_string()
                } else {
                    f.addresses.join(", ")
                }
            )?;
        }
    }
    writeln!(s, "  checks")?;
    for c in report.checks() {
        let mark = match c.outcome {
            Outcome::Pass => "ok  ",
            Outcome::Fail(_) => "FAIL",
            Outcome::Skipped => "skip",
        };
        let d = detail(c.name, c.outcome, report);
        if d.is_empty() {
            writeln!(s, "    {mark}  {}", c.name.as_str())?;
        } else {
            writeln!(s, "    {mark}  {:<22} {d}", c.name.as_str())?;
        }
    }
    match report.first_failure() {
        None => writeln!(s, "  result: valid")?,
        Some((name, failure)) => writeln!(
            s,
            "  result: INVALID, a receiver discards it at {} ({failure}; counter {})",
            name.as_str(),
            failure.counter()
        )?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_forms() {
        assert_eq!(parse_hex("0x2133960100018665").unwrap().len(), 8);
        assert_eq!(
            parse_hex("21:33:96:01 00-01-86_65").unwrap(),
            [0x21, 0x33, 0x96, 0x01, 0, 0x01, 0x86, 0x65]
        );
        assert_eq!(
            parse_hex("21339601000186zz"),
            Err(HexError::NotHex {
                position: 15,
                found: 'z'
            })
        );
        assert_eq!(parse_hex("0x213"), Err(HexError::OddDigits(3)));
        assert_eq!(parse_hex("21339601"), Err(HexError::TooShort(4)));
        assert_eq!(parse_hex(""), Err(HexError::TooShort(0)));
    }

    #[test]
    fn password_text_needs_printable_and_nul_padding() {
        assert_eq!(password_text(b"1234abcd").as_deref(), Some("1234abcd"));
        assert_eq!(password_text(b"abc\0\0\0\0\0").as_deref(), Some("abc"));
        assert_eq!(password_text(b"ab\0c\0\0\0\0"), None);
        assert_eq!(password_text(b"\x01bc\0\0\0\0\0"), None);
    }
}
