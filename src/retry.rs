//! Retries, named by what is safe to repeat.
//!
//! A payment must never be sent twice by accident. So by default a request
//! is repeated only when it provably never reached WeChat Pay (the
//! connection could not be made); a GET — or a request the caller marks
//! idempotent with [`crate::Options::idempotent`] — is also repeated after a
//! timeout, a cut connection, a 5xx or a 429, honouring `Retry-After`. Every
//! attempt is signed afresh.

use std::time::{Duration, SystemTime};

/// The longest wait a server's `Retry-After` can impose; a larger value is
/// clamped to it (and then usually exceeds `max_elapsed`, so the error is
/// returned instead of waiting).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// How many times, and for how long, a request may be attempted.
///
/// ```
/// use std::time::Duration;
/// use wechatpay_chain::retry::RetryPolicy;
///
/// let policy = RetryPolicy::default().max_attempts(5).max_elapsed(Duration::from_secs(20));
/// assert_eq!(RetryPolicy::never().attempts(), 1);
/// # let _ = policy;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct RetryPolicy {
    max_attempts: u32,
    max_elapsed: Duration,
    base_delay: Duration,
    max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 3 attempts within 30 s, waiting 200 ms, then 400 ms, … (at most 5 s)
    /// unless `Retry-After` says otherwise.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            max_elapsed: Duration::from_secs(30),
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// One attempt, never repeated.
    pub fn never() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// Attempts in all (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// No new attempt starts after this much time since the first.
    pub fn max_elapsed(mut self, elapsed: Duration) -> Self {
        self.max_elapsed = elapsed;
        self
    }

    /// First wait; doubled each time up to `max_delay`.
    pub fn backoff(mut self, base_delay: Duration, max_delay: Duration) -> Self {
        self.base_delay = base_delay;
        self.max_delay = max_delay.max(base_delay);
        self
    }

    /// Attempts in all.
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The wait before attempt `next` (2, 3, …): `Retry-After` when given,
    /// else exponential backoff with "equal jitter" (between half and all of
    /// the step), so that clients failing together do not retry together.
    pub(crate) fn delay(&self, next: u32, retry_after: Option<Duration>) -> Duration {
        retry_after.unwrap_or_else(|| {
            let factor = 2u32.saturating_pow(next.saturating_sub(2));
            let step = self.base_delay.saturating_mul(factor).min(self.max_delay);
            let half = step / 2;
            half.saturating_add(half.mul_f64(jitter()))
        })
    }

    pub(crate) fn max_elapsed_time(&self) -> Duration {
        self.max_elapsed
    }
}

/// How an attempt failed, as far as repeating it is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No connection was made: nothing reached the server.
    NotSent,
    /// The request may have reached the server (timeout, cut connection).
    MaybeSent,
    /// The server answered with this status.
    Answered(u16),
}

/// Whether a failed attempt may be repeated.
pub(crate) fn may_retry(failure: Failure, safe_to_repeat: bool) -> bool {
    match failure {
        Failure::NotSent => true,
        Failure::MaybeSent => safe_to_repeat,
        Failure::Answered(status) => {
            safe_to_repeat && (status == 429 || (500..600).contains(&status))
        }
    }
}

/// `Retry-After` as seconds or as an HTTP date, clamped to
/// [`MAX_RETRY_AFTER`]; a date in the past means now.
pub(crate) fn retry_after(
    headers: &reqwest::header::HeaderMap,
    now: SystemTime,
) -> Option<Duration> {
    let text = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let wait = match text.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => httpdate::parse_http_date(text)
            .ok()?
            .duration_since(now)
            .unwrap_or(Duration::ZERO),
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// A fraction in [0, 1) from OpenSSL's generator (jitter needs no more).
fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    match openssl::rand::rand_bytes(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_is_safe_is_repeated() {
        assert!(may_retry(Failure::NotSent, false));
        assert!(!may_retry(Failure::MaybeSent, false));
        assert!(may_retry(Failure::MaybeSent, true));
        assert!(!may_retry(Failure::Answered(503), false));
        assert!(may_retry(Failure::Answered(503), true));
        assert!(may_retry(Failure::Answered(429), true));
        assert!(!may_retry(Failure::Answered(400), true));
        assert!(!may_retry(Failure::Answered(401), true));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_and_retry_after_wins() {
        let policy =
            RetryPolicy::default().backoff(Duration::from_millis(100), Duration::from_millis(400));
        for _ in 0..50 {
            let d2 = policy.delay(2, None);
            assert!(
                d2 >= Duration::from_millis(50) && d2 <= Duration::from_millis(100),
                "{d2:?}"
            );
            let d3 = policy.delay(3, None);
            assert!(
                d3 >= Duration::from_millis(100) && d3 <= Duration::from_millis(200),
                "{d3:?}"
            );
            let d9 = policy.delay(9, None);
            assert!(
                d9 >= Duration::from_millis(200) && d9 <= Duration::from_millis(400),
                "{d9:?}"
            );
        }
        assert_eq!(
            policy.delay(2, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
    }

    fn headers(value: &str) -> reqwest::header::HeaderMap {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::RETRY_AFTER,
            reqwest::header::HeaderValue::from_str(value).unwrap(),
        );
        headers
    }

    #[test]
    fn retry_after_is_clamped_and_understands_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // Wed, 21 Oct 2015 07:28:00 GMT
        assert_eq!(
            retry_after(&headers("7"), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(&headers("18446744073709551615"), now),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:28:30 GMT"), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:27:00 GMT"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            retry_after(&headers("Fri, 31 Dec 9999 23:59:59 GMT"), now),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&headers("-1"), now), None);
    }
}
