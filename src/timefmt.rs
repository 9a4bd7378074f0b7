//! Dates as IAM and CloudTrail write them.
//!
//! IAM date condition values are W3C ISO 8601 forms or epoch seconds (IAM User Guide, "Date
//! condition operators"). CloudTrail writes `eventTime` as `2024-08-01T12:19:17Z` and
//! `sessionContext.attributes.creationDate` either like that or as `20131102T010628Z`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Parses a date as epoch milliseconds; `None` when it is not a date IAM accepts.
pub fn parse_policy_date(v: &str) -> Option<i64> {
    let t = v.trim();
    if t.is_empty() {
        return None;
    }
    if t.bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
        && !t.contains("--")
    {
        // Epoch seconds (integer or decimal). A bare `2024-01-01` is handled below.
        if !t[1..].contains('-') {
            if let Ok(secs) = t.parse::<f64>() {
                if secs.is_finite() && secs.abs() < 1e13 {
                    return Some((secs * 1000.0).round() as i64);
                }
            }
        }
    }
    parse_datetime(t).map(|d| d.timestamp_millis())
}

/// Parses an ISO 8601 date-time (or date, or CloudTrail's compact form) as UTC.
pub fn parse_datetime(t: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.fZ",
        "%Y-%m-%dT%H:%M:%SZ",
        "%Y-%m-%dT%H:%MZ",
        "%Y%m%dT%H%M%SZ",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, fmt) {
            return Some(Utc.from_utc_datetime(&n));
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M:%S%z"] {
        if let Ok(d) = DateTime::parse_from_str(t, fmt) {
            return Some(d.with_timezone(&Utc));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|n| Utc.from_utc_datetime(&n));
    }
    None
}

/// Formats a time as ISO 8601 UTC with second precision (`2024-08-01T12:19:17Z`).
pub fn iso(t: &DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    // Hand-formatted: chrono's `format` parses its pattern on every call and `format!` pads
    // through the formatter machinery; both showed in a profile of the replay.
    let year = t.year().clamp(0, 9999) as u32;
    let mut b = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, v: u32, width: usize| {
        let mut v = v;
        for i in (0..width).rev() {
            b[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, year, 4);
    put(5, t.month(), 2);
    put(8, t.day(), 2);
    put(11, t.hour(), 2);
    put(14, t.minute(), 2);
    put(17, t.second(), 2);
    String::from_utf8_lossy(&b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let base = parse_policy_date("2024-08-01T12:19:17Z").expect("iso");
        assert_eq!(parse_policy_date("1722514757"), Some(base));
        assert_eq!(parse_policy_date("20240801T121917Z"), Some(base));
        assert_eq!(parse_policy_date("2024-08-01T14:19:17+02:00"), Some(base));
        assert!(parse_policy_date("2024-08-01").is_some());
        assert!(parse_policy_date("yesterday").is_none());
        assert!(parse_policy_date("").is_none());
        let t = parse_datetime("2024-08-01T02:03:04.5Z").expect("time");
        assert_eq!(iso(&t), "2024-08-01T02:03:04Z");
    }
}
