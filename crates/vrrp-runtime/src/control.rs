//! The request line of the control socket (`vrrpd status`, `vrrpd reload`): what the daemon
//! accepts, as a pure function of the bytes a client sent, so that it can be fuzzed
//! (`fuzz/fuzz_targets/control_request.rs`) and replayed in `cargo test`.
//!
//! A client connects, writes one line and reads one JSON line back. Anyone who can open the
//! socket can send anything: the parser reads at most [`MAX_REQUEST_LEN`] bytes, never
//! panics, and the text it echoes back for an unknown request is short, printable and free of
//! quotes and control characters, so it cannot break the JSON reply or a log line.
//!
//! ```
//! use vrrp_runtime::control::{ControlRequest, RequestError, parse_request};
//!
//! assert_eq!(parse_request(b"status\n"), Ok(ControlRequest::Status));
//! assert_eq!(parse_request(b" reload \r\n"), Ok(ControlRequest::Reload));
//! let err = parse_request(b"shutdown\x1b[2J\n").unwrap_err();
//! assert_eq!(err, RequestError::Unknown("shutdown\\u{1b}[2J".into()));
//! assert_eq!(err.to_string(), "unknown request \"shutdown\\u{1b}[2J\" (known: status, reload)");
//! ```

use std::fmt;

/// The longest request the daemon reads, in bytes; the rest of a longer one is ignored.
pub const MAX_REQUEST_LEN: usize = 256;

/// How much of an unknown request is echoed back in the error, in characters.
const ECHO_LEN: usize = 64;

/// A request the control socket understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ControlRequest {
    /// `status`: the [`crate::Status`] as JSON.
    Status,
    /// `reload`: re-read the configuration file.
    Reload,
}

impl ControlRequest {
    /// Every request, in the order the help text lists them.
    pub const ALL: [ControlRequest; 2] = [ControlRequest::Status, ControlRequest::Reload];

    /// The word a client sends.
    pub fn as_str(self) -> &'static str {
        match self {
            ControlRequest::Status => "status",
            ControlRequest::Reload => "reload",
        }
    }
}

impl fmt::Display for ControlRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a request line was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// Nothing but white space before the end of the line.
    #[error("empty request (known: status, reload)")]
    Empty,
    /// Not UTF-8.
    #[error("the request is not UTF-8 text")]
    NotText,
    /// A word we do not know: the request, escaped (printable ASCII only, no quotes or
    /// backslashes unescaped) and cut to 64 characters.
    #[error("unknown request \"{0}\" (known: status, reload)")]
    Unknown(String),
}

/// Parses what a client sent: the first line (up to `\n`, or everything when there is none)
/// of the first [`MAX_REQUEST_LEN`] bytes, surrounding white space (`\r` included) ignored.
pub fn parse_request(bytes: &[u8]) -> Result<ControlRequest, RequestError> {
    let bytes = &bytes[..bytes.len().min(MAX_REQUEST_LEN)];
    let line = match bytes.iter().position(|b| *b == b'\n') {
        Some(end) => &bytes[..end],
        None => bytes,
    };
    let line = std::str::from_utf8(line).map_err(|_| RequestError::NotText)?;
    let word = line.trim();
    if word.is_empty() {
        return Err(RequestError::Empty);
    }
    ControlRequest::ALL
        .into_iter()
        .find(|r| r.as_str() == word)
        .ok_or_else(|| RequestError::Unknown(escape(word)))
}

/// Printable ASCII except `"` and `\` as is; everything else as `\u{..}` (and `\"`, `\\`);
/// at most [`ECHO_LEN`] characters of `text`, then `...`.
fn escape(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == ECHO_LEN {
            out.push_str("...");
            break;
        }
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            _ => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
        }
    }
    out
}

/// The property the `control_request` fuzz target checks, shared with the corpus replay:
/// parsing never panics; an accepted request is exactly one known word; a refusal's message
/// is one short line of printable ASCII in which every `"` is escaped.
pub fn fuzz_check(bytes: &[u8]) -> Result<(), String> {
    match parse_request(bytes) {
        Ok(request) => {
            let again = parse_request(format!("{request}\n").as_bytes());
            if again != Ok(request) {
                return Err(format!("{request} does not parse back: {again:?}"));
            }
            Ok(())
        }
        Err(e) => {
            let message = e.to_string();
            if message.len() > ECHO_LEN * 10 + 64 {
                return Err(format!("refusal message too long: {} bytes", message.len()));
            }
            if !message.chars().all(|c| matches!(c, ' '..='~')) {
                return Err(format!("refusal message not printable ASCII: {message:?}"));
            }
            if let RequestError::Unknown(echo) = &e {
                // Every quote in the echo is escaped (preceded by an odd run of backslashes).
                let mut backslashes = 0usize;
                for c in echo.chars() {
                    if c == '"' && backslashes.is_multiple_of(2) {
                        return Err(format!("unescaped quote in the echo: {echo:?}"));
                    }
                    backslashes = if c == '\\' { backslashes + 1 } else { 0 };
                }
                if backslashes % 2 == 1 {
                    return Err(format!("the echo ends in a lone backslash: {echo:?}"));
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_words_with_any_line_ending() {
        for (input, want) in [
            (&b"status\n"[..], ControlRequest::Status),
            (b"status", ControlRequest::Status),
            (b"status\r\n", ControlRequest::Status),
            (b"\t reload  \n", ControlRequest::Reload),
            (b"reload\nstatus\n", ControlRequest::Reload),
        ] {
            assert_eq!(parse_request(input), Ok(want), "{input:?}");
        }
    }

    #[test]
    fn refusals_name_what_was_wrong() {
        assert_eq!(parse_request(b"\n"), Err(RequestError::Empty));
        assert_eq!(parse_request(b""), Err(RequestError::Empty));
        assert_eq!(parse_request(b"\xff\xfe\n"), Err(RequestError::NotText));
        assert_eq!(
            parse_request(b"Status\n"),
            Err(RequestError::Unknown("Status".into())),
            "words are case-sensitive"
        );
        assert_eq!(
            parse_request(b"sta\"tus\\\n"),
            Err(RequestError::Unknown("sta\\\"tus\\\\".into()))
        );
    }

    #[test]
    fn only_the_first_256_bytes_count() {
        let mut long = vec![b' '; MAX_REQUEST_LEN];
        long.extend_from_slice(b"status\n");
        assert_eq!(parse_request(&long), Err(RequestError::Empty));
        let mut long = b"status".to_vec();
        long.resize(MAX_REQUEST_LEN + 10, b' ');
        assert_eq!(parse_request(&long), Ok(ControlRequest::Status));
    }

    #[test]
    fn the_echo_is_short_and_printable() {
        let junk = "é\u{7}\"".repeat(100);
        let Err(RequestError::Unknown(echo)) = parse_request(junk.as_bytes()) else {
            panic!("not refused as unknown");
        };
        assert!(echo.ends_with("..."), "{echo}");
        assert!(echo.is_ascii() && !echo.chars().any(|c| c.is_ascii_control()));
        assert!(echo.starts_with("\\u{e9}\\u{7}\\\""), "{echo}");
        fuzz_check(junk.as_bytes()).unwrap();
    }

    #[test]
    fn the_property_holds_on_edge_cases() {
        for input in [
            &b""[..],
            b"\n",
            b"\\",
            b"\"",
            b"\\\"",
            b"status",
            b"\xc3",
            &[b'x'; 1000],
        ] {
            fuzz_check(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        }
    }
}
