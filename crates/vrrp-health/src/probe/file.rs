//! `file`: keepalived's `track_file` (a number times the weight), or a file's presence.
//! Replaces `vrrp_script { script "test -f /etc/maintenance" }` and keepalived's track_file.

use std::io::ErrorKind;

use tokio::io::AsyncReadExt;

use crate::spec::{FileCheck, FileProbe};
use crate::tracker::ProbeResult;

/// Longest content read from a value file. keepalived reads at most 127 bytes; a number with
/// whitespace fits in far less, so more is a misconfigured path (a log file, say).
pub(crate) const MAX_VALUE_BYTES: usize = 128;

/// Reads or checks the file once.
pub(crate) async fn run(probe: &FileProbe) -> ProbeResult {
    let path = probe.path.display();
    match probe.check {
        FileCheck::Exists => match tokio::fs::metadata(&probe.path).await {
            Ok(_) => ProbeResult::Success,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                ProbeResult::failure(format!("{path} does not exist"))
            }
            Err(e) => ProbeResult::failure(format!("cannot stat {path}: {e}")),
        },
        FileCheck::Absent => match tokio::fs::metadata(&probe.path).await {
            Ok(_) => ProbeResult::failure(format!("{path} exists")),
            Err(e) if e.kind() == ErrorKind::NotFound => ProbeResult::Success,
            Err(e) => ProbeResult::failure(format!("cannot stat {path}: {e}")),
        },
        FileCheck::Value => {
            let file = match tokio::fs::File::open(&probe.path).await {
                Ok(f) => f,
                // keepalived/trackers/track_file.c, process_track_file: a file that cannot be
                // opened reads as 0.
                Err(e) if e.kind() == ErrorKind::NotFound => return ProbeResult::Value(0),
                Err(e) => return ProbeResult::failure(format!("cannot open {path}: {e}")),
            };
            let mut content = Vec::with_capacity(MAX_VALUE_BYTES + 1);
            let limit = u64::try_from(MAX_VALUE_BYTES + 1).unwrap_or(u64::MAX);
            if let Err(e) = file.take(limit).read_to_end(&mut content).await {
                return ProbeResult::failure(format!("cannot read {path}: {e}"));
            }
            parse_value(&content)
        }
    }
}

/// Parses a value file's content: a decimal integer with optional sign and surrounding
/// whitespace; empty reads as 0 (as in keepalived). Anything else is a failure naming the
/// content, where keepalived's `strtol` would silently read garbage as 0 (and `010` as 8).
pub(crate) fn parse_value(content: &[u8]) -> ProbeResult {
    if content.len() > MAX_VALUE_BYTES {
        return ProbeResult::failure(format!(
            "more than {MAX_VALUE_BYTES} bytes; expected a number"
        ));
    }
    let text = String::from_utf8_lossy(content);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return ProbeResult::Value(0);
    }
    match trimmed.parse::<i64>() {
        Ok(v) => ProbeResult::Value(v),
        Err(_) => {
            let shown: String = trimmed.chars().take(32).collect();
            ProbeResult::failure(format!("not a number: {shown:?}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(parse_value(b"5\n"), ProbeResult::Value(5));
        assert_eq!(parse_value(b"  -12  \n"), ProbeResult::Value(-12));
        assert_eq!(parse_value(b"+3"), ProbeResult::Value(3));
        assert_eq!(parse_value(b"010"), ProbeResult::Value(10));
        assert_eq!(parse_value(b""), ProbeResult::Value(0));
        assert_eq!(parse_value(b" \n\t"), ProbeResult::Value(0));
        assert_eq!(
            parse_value(b"9223372036854775807"),
            ProbeResult::Value(i64::MAX)
        );
    }

    #[test]
    fn garbage_is_a_failure_naming_the_content() {
        for garbage in [
            &b"banana"[..],
            b"5 apples",
            b"0x10",
            b"1.5",
            b"99999999999999999999",
            b"\xff\xfe",
            b"1\n2\n",
        ] {
            match parse_value(garbage) {
                ProbeResult::Failure { reason } => {
                    assert!(reason.starts_with("not a number"), "{reason}")
                }
                other => panic!("{garbage:?} gave {other:?}"),
            }
        }
        let huge = vec![b'1'; MAX_VALUE_BYTES + 1];
        assert!(matches!(parse_value(&huge), ProbeResult::Failure { .. }));
    }
}
