//! Dates as IAM and CloudTrail write them.
//!
//! IAM date condition values are W3C ISO 8601 forms or epoch seconds (IAM User Guide, "Date
//! condition operators"). CloudTrail writes `eventTime` as `2024-08-01T12:19:17Z` and
//! `sessionContext.attributes.creationDate` either like that or as `20131102T010628Z`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Parses a date as epoch milliseconds; `None` when it is not a date IAM accepts.
///
/// IAM takes "W3C implementations of the ISO 8601 date formats" or epoch seconds (IAM User Guide,
/// "IAM JSON policy elements: Condition operators", "Date condition operators"). The W3C profile
/// ("Date and Time Formats", W3C note) lists `YYYY`, `YYYY-MM`, `YYYY-MM-DD`,
/// `YYYY-MM-DDThh:mmTZD`, `YYYY-MM-DDThh:mm:ssTZD` and `YYYY-MM-DDThh:mm:ss.sTZD`, with TZD `Z`
/// or `+hh:mm`/`-hh:mm`; a reduced form stands for its first instant. A bare four-digit value is
/// read as a year (see [`is_ambiguous_year`]).
pub fn parse_policy_date(v: &str) -> Option<i64> {
    let t = v.trim();
    if t.is_empty() {
        return None;
    }
    if let Some(ms) = parse_w3c(t) {
        return Some(ms);
    }
    let digits = t.strip_prefix('-').unwrap_or(t);
    if !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().filter(|b| *b == b'.').count() <= 1
    {
        // Epoch seconds, integer or decimal.
        if let Ok(secs) = t.parse::<f64>() {
            if secs.is_finite() && secs.abs() < 1e13 {
                return Some((secs * 1000.0).round() as i64);
            }
        }
    }
    parse_datetime(t).map(|d| d.timestamp_millis())
}

/// A four-digit value is both a W3C year and a number of epoch seconds; trailreplay reads it as
/// the year (a policy author writing `2026` means the year, not 00:33:46 on 1 January 1970), and
/// `validate` warns.
pub fn is_ambiguous_year(v: &str) -> bool {
    let t = v.trim();
    t.len() == 4 && t.bytes().all(|b| b.is_ascii_digit())
}

/// The W3C profile of ISO 8601; `None` for anything else.
fn parse_w3c(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    let num = |from: usize, len: usize| -> Option<u32> {
        let s = b.get(from..from + len)?;
        if !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(s).ok()?.parse().ok()
    };
    let year = num(0, 4)? as i32;
    let (mut month, mut day) = (1, 1);
    let mut at = 4;
    if b.len() > at {
        if b[at] != b'-' {
            return None;
        }
        month = num(at + 1, 2)?;
        at += 3;
        if b.len() > at {
            if b[at] != b'-' {
                return None;
            }
            day = num(at + 1, 2)?;
            at += 3;
        }
    }
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let mut ms: i64 = 0;
    let mut offset_min: i64 = 0;
    if b.len() > at {
        // A time needs the day and a time zone designator.
        if at != 10 || b[at] != b'T' {
            return None;
        }
        let hour = num(at + 1, 2)?;
        if b.get(at + 3) != Some(&b':') {
            return None;
        }
        let minute = num(at + 4, 2)?;
        at += 6;
        let mut second = 0;
        if b.get(at) == Some(&b':') {
            second = num(at + 1, 2)?;
            at += 3;
            if b.get(at) == Some(&b'.') {
                let start = at + 1;
                let mut end = start;
                while end < b.len() && b[end].is_ascii_digit() {
                    end += 1;
                }
                if end == start {
                    return None;
                }
                let frac = &t[start..end.min(start + 3)];
                ms = frac.parse::<i64>().ok()? * 10_i64.pow(3 - frac.len() as u32);
                at = end;
            }
        }
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        ms += (i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second)) * 1000;
        match b.get(at) {
            Some(b'Z') if at + 1 == b.len() => {}
            Some(sign @ (b'+' | b'-')) if at + 6 == b.len() && b[at + 3] == b':' => {
                let (h, m) = (num(at + 1, 2)?, num(at + 4, 2)?);
                if h > 23 || m > 59 {
                    return None;
                }
                let off = i64::from(h * 60 + m);
                offset_min = if *sign == b'+' { off } else { -off };
            }
            _ => return None,
        }
    }
    let midnight = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis();
    Some(midnight + ms - offset_min * 60_000)
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
        // Every W3C form (IAM User Guide, "Date condition operators").
        let d = |v: &str| parse_policy_date(v).expect(v);
        let iso_of = |ms: i64| iso(&DateTime::from_timestamp_millis(ms).expect("ms"));
        assert_eq!(iso_of(d("2026")), "2026-01-01T00:00:00Z");
        assert_eq!(iso_of(d("2026-03")), "2026-03-01T00:00:00Z");
        assert_eq!(iso_of(d("2026-03-04")), "2026-03-04T00:00:00Z");
        assert_eq!(iso_of(d("2026-01-01T00:00+02:00")), "2025-12-31T22:00:00Z");
        assert_eq!(iso_of(d("2026-01-01T10:20Z")), "2026-01-01T10:20:00Z");
        assert_eq!(
            iso_of(d("2026-01-01T10:20:30-05:30")),
            "2026-01-01T15:50:30Z"
        );
        assert_eq!(
            d("2026-01-01T10:20:30.45Z") - d("2026-01-01T10:20:30Z"),
            450
        );
        assert_eq!(d("1700000000.5"), 1_700_000_000_500);
        assert!(is_ambiguous_year("2026"));
        assert!(!is_ambiguous_year("1700000000"));
        for bad in [
            "2026-13",
            "2026-02-30",
            "2026-01-01T25:00Z",
            "2026-01-01T10:20+0200",
        ] {
            assert!(parse_policy_date(bad).is_none(), "{bad}");
        }
        assert!(parse_policy_date("").is_none());
        let t = parse_datetime("2024-08-01T02:03:04.5Z").expect("time");
        assert_eq!(iso(&t), "2024-08-01T02:03:04Z");
    }
}
