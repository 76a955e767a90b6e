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
use serde_json::Value;
use vrrp_packet::ip::{IpHeader, MacDisplay};
use vrrp_packet::{Expectations, HEADER_LEN, Inspection, Layer, Outcome, inspect};

use crate::packet_report::{self, detail, fields, hex_string, password_text};

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

fn to_json(index: usize, bytes: &[u8], report: &Inspection<'_>) -> Value {
    let mut obj = packet_report::to_json(bytes, report);
    if let Some(map) = obj.as_object_mut() {
        map.insert("argument".to_string(), index.into());
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
}
