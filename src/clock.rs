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
    let (y, mo, d, h, mi, s) = civil(unix_now());
    format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}")
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
