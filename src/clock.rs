//! Times as WeChat Pay writes them, in Beijing time (UTC+8).
//!
//! ```
//! assert_eq!(wechatpay_chain::clock::rfc3339(1_767_240_000), "2026-01-01T12:00:00+08:00");
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

/// Current Unix time in seconds.
///
/// ```
/// assert!(wechatpay_chain::clock::unix_now() > 1_700_000_000);
/// ```
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

const BEIJING: i64 = 8 * 3600;

/// (year, month, day, hour, minute, second) in UTC+8 for Unix seconds.
fn civil(unix: i64) -> (i64, i64, i64, i64, i64, i64) {
    let local = unix.saturating_add(BEIJING);
    let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    // Howard Hinnant's days-from-civil inverse.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, secs / 3600, secs % 3600 / 60, secs % 60)
}

/// `2026-01-01T12:00:00+08:00` for Unix seconds.
pub fn rfc3339(unix: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(unix);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}+08:00")
}

/// `20260101120000` for now, as payscore writes paid times.
pub fn compact_now() -> String {
    compact(unix_now())
}

/// `20260101120000` for Unix seconds (Beijing time).
///
/// ```
/// assert_eq!(wechatpay_chain::clock::compact(1_767_240_000), "20260101120000");
/// ```
pub fn compact(unix: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(unix);
    format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}")
}

/// Unix seconds for an RFC 3339 time with an offset, as WeChat Pay writes
/// `time_expire` (`2018-06-08T10:34:56+08:00`, fractions of a second
/// ignored, `Z` accepted); `None` for anything else.
///
/// ```
/// use wechatpay_chain::clock::{parse_rfc3339, rfc3339};
/// assert_eq!(parse_rfc3339("2026-01-01T12:00:00+08:00"), Some(1_767_240_000));
/// assert_eq!(parse_rfc3339("2026-01-01T04:00:00Z"), Some(1_767_240_000));
/// assert_eq!(parse_rfc3339(&rfc3339(951_825_600)), Some(951_825_600));
/// assert_eq!(parse_rfc3339("2026-13-01T00:00:00+08:00"), None);
/// assert_eq!(parse_rfc3339("2099-02-30T00:00:00+08:00"), None);
/// assert_eq!(parse_rfc3339("2026-01-01T00:00:00+08:60"), None);
/// ```
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = text.get(range)?;
        digits
            .bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| digits.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = match mo {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=12).contains(&mo) || !(1..=month_days).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &fraction[digits..];
    }
    let offset = match rest.as_bytes() {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2]
            if [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()) =>
        {
            let hours = i64::from((h1 - b'0') * 10 + (h2 - b'0'));
            let minutes = i64::from((m1 - b'0') * 10 + (m2 - b'0'));
            if hours > 23 || minutes > 59 {
                return None;
            }
            let total = hours * 3600 + minutes * 60;
            if *sign == b'-' {
                -total
            } else {
                total
            }
        }
        _ => return None,
    };
    // Howard Hinnant's days-from-civil.
    let (y, m) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + s - offset)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_beijing_time() {
        assert_eq!(super::rfc3339(0), "1970-01-01T08:00:00+08:00");
        // 2026-01-01T04:00:00Z
        assert_eq!(super::rfc3339(1_767_240_000), "2026-01-01T12:00:00+08:00");
        assert_eq!(super::rfc3339(951_825_600), "2000-02-29T20:00:00+08:00");
    }
}
