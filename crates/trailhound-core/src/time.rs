//! Event-time parsing and formatting. Times are kept as Unix seconds (`i64`) everywhere.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};

/// Parses the timestamps found in CloudTrail and invocation logs:
/// `2024-10-29T15:51:44Z`, `2024-10-29T15:51:44.123Z`, `2024-10-29T15:51:44+00:00`
/// and the space-separated `2025-05-15 14:17:22.000000000` some exporters write.
pub fn parse(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    // Fast path: exactly `YYYY-MM-DDTHH:MM:SSZ`.
    if b.len() == 20 && b[10] == b'T' && b[19] == b'Z' {
        let n = |i: usize, len: usize| -> Option<i64> {
            let mut v = 0i64;
            for &c in &b[i..i + len] {
                if !c.is_ascii_digit() {
                    return None;
                }
                v = v * 10 + i64::from(c - b'0');
            }
            Some(v)
        };
        let (y, mo, d) = (n(0, 4)?, n(5, 2)?, n(8, 2)?);
        let (h, mi, se) = (n(11, 2)?, n(14, 2)?, n(17, 2)?);
        if b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
            return None;
        }
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
            return None;
        }
        return Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp());
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc().timestamp());
        }
    }
    None
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// RFC 3339 UTC with a `Z` suffix and whole seconds.
pub fn format(t: i64) -> String {
    DateTime::<Utc>::from_timestamp(t, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parses a duration such as `15m`, `1h`, `7d`, `90s`.
pub fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = s.split_at(split);
    let n: i64 = num.parse().ok()?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// Human form of a duration in seconds, for titles: `15 minutes`, `1 hour`, `7 days`.
pub fn humanize(secs: i64) -> String {
    let (n, unit) = if secs % 86_400 == 0 {
        (secs / 86_400, "day")
    } else if secs % 3600 == 0 {
        (secs / 3600, "hour")
    } else if secs % 60 == 0 {
        (secs / 60, "minute")
    } else {
        (secs, "second")
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_real_formats() {
        assert_eq!(parse("2024-10-29T15:51:44Z"), Some(1_730_217_104));
        assert_eq!(parse("2024-10-29T15:51:44.000Z"), Some(1_730_217_104));
        assert_eq!(parse("2024-10-29T16:51:44+01:00"), Some(1_730_217_104));
        assert_eq!(parse("2025-05-15 14:17:22.000000000"), Some(1_747_318_642));
        assert_eq!(parse("yesterday"), None);
        assert_eq!(parse("2024-13-29T15:51:44Z"), None);
        assert_eq!(format(1_730_217_104), "2024-10-29T15:51:44Z");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15m"), Some(900));
        assert_eq!(parse_duration("7d"), Some(604_800));
        assert_eq!(parse_duration("7 weeks"), None);
        assert_eq!(humanize(900), "15 minutes");
        assert_eq!(humanize(3600), "1 hour");
    }
}
