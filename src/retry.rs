//! Retries, named by what is safe to repeat.
//!
//! A payment must never be sent twice by accident. So by default a request
//! is repeated only when it provably never reached WeChat Pay (the
//! connection could not be made); a GET — or a request the caller marks
//! idempotent with [`crate::Options::idempotent`] — is also repeated after a
//! timeout, a cut connection, a 5xx or a 429, honouring `Retry-After`. Every
//! attempt is signed afresh.

use std::time::Duration;

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
    /// else exponential backoff.
    pub(crate) fn delay(&self, next: u32, retry_after: Option<Duration>) -> Duration {
        retry_after.unwrap_or_else(|| {
            let factor = 2u32.saturating_pow(next.saturating_sub(2));
            self.base_delay.saturating_mul(factor).min(self.max_delay)
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

/// `Retry-After: <seconds>` (the HTTP-date form is not used by WeChat Pay).
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let text = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    text.trim().parse::<u64>().ok().map(Duration::from_secs)
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
    fn backoff_doubles_up_to_the_cap_and_retry_after_wins() {
        let policy =
            RetryPolicy::default().backoff(Duration::from_millis(100), Duration::from_millis(350));
        assert_eq!(policy.delay(2, None), Duration::from_millis(100));
        assert_eq!(policy.delay(3, None), Duration::from_millis(200));
        assert_eq!(policy.delay(4, None), Duration::from_millis(350));
        assert_eq!(
            policy.delay(2, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
    }
}
