//! When and how long to retry a send. Retries are ours (with `backon`), not the pipeline's,
//! so that `Retry-After` is honoured and the total wait stays inside one function invocation.

use std::time::Duration;

use azure_core::http::headers::{HeaderName, Headers};
use backon::ExponentialBuilder;
use time::OffsetDateTime;

const RETRY_AFTER: HeaderName = HeaderName::from_static("retry-after");

/// Bounds of the retry loop around one send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendRetry {
    /// Attempts in total, the first included.
    pub max_attempts: usize,
    /// Backoff before the first retry when the broker gives no `Retry-After`; doubles.
    pub first_delay: Duration,
    /// Largest backoff between attempts when the broker gives no `Retry-After`.
    pub max_delay: Duration,
    /// Sum of all waits. A wait that would exceed it (a long `Retry-After`, B15) ends the
    /// send with `Unavailable` instead, so the caller can persist and reschedule.
    pub max_total_wait: Duration,
    /// One attempt that has not answered by then counts as a connection failure.
    pub attempt_timeout: Duration,
}

impl Default for SendRetry {
    /// Sized for a function invocation that must stay well under a minute (B20).
    fn default() -> Self {
        Self {
            max_attempts: 4,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_total_wait: Duration::from_secs(20),
            attempt_timeout: Duration::from_secs(15),
        }
    }
}

impl SendRetry {
    pub(crate) fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.first_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_attempts.saturating_sub(1))
            .with_jitter()
    }

    /// Decides the next wait: `Retry-After` when the broker sent one, else the backoff's.
    /// `None` stops retrying: attempts exhausted, or the wait would break the budget.
    pub(crate) fn next_wait(
        &self,
        retry_after: Option<Duration>,
        backoff: Option<Duration>,
        waited: &mut Duration,
    ) -> Option<Duration> {
        let backoff = backoff?;
        let wait = retry_after.unwrap_or(backoff);
        if *waited + wait > self.max_total_wait {
            tracing::warn!(?wait, ?waited, "next retry would exceed the wait budget; giving up");
            return None;
        }
        *waited += wait;
        Some(wait)
    }
}

/// Reads `Retry-After` in both forms: delta-seconds, or an HTTP-date (relative to `now`).
/// A date in the past means "now"; garbage means "no advice".
pub(crate) fn retry_after(headers: &Headers, now: OffsetDateTime) -> Option<Duration> {
    let value = headers.get_optional_str(&RETRY_AFTER)?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }

    let at = azure_core::time::parse_rfc7231(value).ok()?;
    let seconds = (at - now).whole_seconds().max(0);
    Some(Duration::from_secs(u64::try_from(seconds).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn headers(value: &str) -> Headers {
        let mut headers = Headers::new();
        headers.insert(RETRY_AFTER, value.to_owned());
        headers
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = datetime!(2024-11-06 10:30:00 UTC);
        assert_eq!(retry_after(&headers("17"), now), Some(Duration::from_secs(17)));

        let date = headers("Wed, 06 Nov 2024 10:30:42 GMT");
        assert_eq!(retry_after(&date, now), Some(Duration::from_secs(42)));

        let past = headers("Wed, 06 Nov 2024 10:29:00 GMT");
        assert_eq!(retry_after(&past, now), Some(Duration::ZERO));

        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&Headers::new(), now), None);
    }

    #[test]
    fn next_wait_prefers_retry_after_and_respects_the_budget() {
        let policy = SendRetry { max_total_wait: Duration::from_secs(40), ..SendRetry::default() };
        let mut waited = Duration::ZERO;
        let backoff = Some(Duration::from_millis(500));

        let first = policy.next_wait(Some(Duration::from_secs(17)), backoff, &mut waited);
        assert_eq!(first, Some(Duration::from_secs(17)));
        let second = policy.next_wait(Some(Duration::from_secs(17)), backoff, &mut waited);
        assert_eq!(second, Some(Duration::from_secs(17)));
        assert_eq!(policy.next_wait(Some(Duration::from_secs(17)), backoff, &mut waited), None);
        assert_eq!(waited, Duration::from_secs(34));

        let mut waited = Duration::ZERO;
        assert_eq!(policy.next_wait(Some(Duration::from_secs(900)), backoff, &mut waited), None);
        assert_eq!(policy.next_wait(None, None, &mut waited), None, "attempts exhausted");
        assert_eq!(policy.next_wait(None, backoff, &mut waited), backoff);
    }
}
