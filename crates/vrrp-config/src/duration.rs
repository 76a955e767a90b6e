//! The duration syntax of the config: a decimal number and a unit, as in `"1s"`, `"100ms"`,
//! `"1.5s"` or `"2m"`.

use std::time::Duration;

const UNITS: [(&str, u128); 6] = [
    ("ns", 1),
    ("us", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Parses a duration: digits, an optional fraction, and one unit out of `ns`, `us`, `ms`,
/// `s`, `m`, `h` (no spaces, no sign). The value must be exact in nanoseconds.
///
/// ```
/// use std::time::Duration;
/// use vrrp_config::parse_duration;
///
/// assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
/// assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
/// assert!(parse_duration("2").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let hint = "a duration is a number and a unit, e.g. \"1s\", \"100ms\", \"1.5s\"";
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    if number.is_empty() {
        return Err(format!("invalid duration {text:?}: {hint}"));
    }
    let Some(&(_, scale)) = UNITS.iter().find(|(u, _)| *u == unit) else {
        return Err(if unit.is_empty() {
            format!("duration {text:?} has no unit: {hint}")
        } else {
            format!("unknown unit {unit:?} in duration {text:?} (units: ns, us, ms, s, m, h)")
        });
    };
    let (whole, frac) = match number.split_once('.') {
        Some((w, f)) => (w, f),
        None => (number, ""),
    };
    if whole.is_empty() || frac.contains('.') || (number.contains('.') && frac.is_empty()) {
        return Err(format!("invalid duration {text:?}: {hint}"));
    }
    let too_big = || format!("duration {text:?} is too long");
    let whole: u128 = whole.parse().map_err(|_| too_big())?;
    let mut nanos = whole.checked_mul(scale).ok_or_else(too_big)?;
    let mut place = scale;
    for digit in frac.bytes() {
        if place % 10 != 0 {
            return Err(format!(
                "duration {text:?} is more precise than a nanosecond"
            ));
        }
        place /= 10;
        nanos = nanos
            .checked_add(u128::from(digit - b'0') * place)
            .ok_or_else(too_big)?;
    }
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| too_big())?;
    // The remainder is below 10^9 and fits in u32.
    let sub = u32::try_from(nanos % 1_000_000_000).map_err(|_| too_big())?;
    Ok(Duration::new(secs, sub))
}

/// Formats a duration in the config syntax, the shortest exact way: `"2s"`, `"100ms"`,
/// `"1.5s"`, `"250us"`, `"0s"`.
///
/// ```
/// use std::time::Duration;
/// use vrrp_config::format_duration;
///
/// assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
/// assert_eq!(format_duration(Duration::from_millis(100)), "100ms");
/// ```
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos.is_multiple_of(3_600_000_000_000) {
        return format!("{}h", nanos / 3_600_000_000_000);
    }
    if nanos.is_multiple_of(60_000_000_000) {
        return format!("{}m", nanos / 60_000_000_000);
    }
    if nanos >= 1_000_000_000 || !nanos.is_multiple_of(1_000_000) && nanos >= 1_000_000 {
        // decimal seconds, trailing zeros trimmed
        let secs = nanos / 1_000_000_000;
        let frac = nanos % 1_000_000_000;
        if frac == 0 {
            return format!("{secs}s");
        }
        let digits = format!("{frac:09}");
        return format!("{secs}.{}s", digits.trim_end_matches('0'));
    }
    if nanos.is_multiple_of(1_000_000) {
        return format!("{}ms", nanos / 1_000_000);
    }
    if nanos.is_multiple_of(1_000) {
        return format!("{}us", nanos / 1_000);
    }
    format!("{nanos}ns")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0.01s"), Ok(Duration::from_millis(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for bad in [
            "",
            "s",
            "1",
            "1 s",
            "-1s",
            "1.s",
            ".5s",
            "1..5s",
            "1.5.5s",
            "1sec",
            "1S",
            "1.0001ns",
            "99999999999999999999999999999999999999999h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_duration("2").unwrap_err().contains("no unit"));
    }

    #[test]
    fn formats_the_shortest_exact_way() {
        assert_eq!(format_duration(Duration::from_secs(2)), "2s");
        assert_eq!(format_duration(Duration::from_millis(100)), "100ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_millis(1001)), "1.001s");
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
        assert_eq!(format_duration(Duration::from_micros(250)), "250us");
        assert_eq!(format_duration(Duration::from_nanos(1_500_000)), "0.0015s");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(secs in 0u64..1_000_000, nanos in 0u32..1_000_000_000) {
            let d = Duration::new(secs, nanos);
            prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,24}") {
            let _ = parse_duration(&s);
        }
    }
}
