//! In-process retries: `backon` paces the attempts, `Retry-After` sets each wait, and a
//! wait budget caps the total, so one invocation never sleeps longer than it can afford.
//!
//! When the server asks for a longer wait than the budget has left (ARM throttling can ask
//! for 900 s, field report B15), no sleep happens at all: the error is returned with its
//! `retry_after_secs` and the saga schedules a continuation for that time instead.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio::time::Instant;
use tracing::debug;

use crate::clock::Clock;
use crate::error::ArmError;

/// Bounds on in-process retries of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts including the first; 1 disables retries.
    pub max_attempts: u32,
    /// Longest total time one invocation may spend in these retries (waits plus the requests
    /// in between). Shared by every request of one executor action.
    pub max_total_wait: Duration,
    /// First backoff step when the server gave no `Retry-After`.
    pub min_delay: Duration,
    /// Cap of the backoff steps (not of `Retry-After`, which the budget bounds instead).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Four attempts within 40 s: enough for B14's "429, 429, 200" with `Retry-After: 17`,
    /// and short enough for a Functions invocation kept under 60 s (B20).
    fn default() -> Self {
        Self {
            max_attempts: 4,
            max_total_wait: Duration::from_secs(40),
            min_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// No retries at all: every error goes straight back to the caller.
    pub fn none() -> Self {
        Self { max_attempts: 1, max_total_wait: Duration::ZERO, ..Self::default() }
    }
}

/// The time left for waiting in this invocation, measured on the injected clock.
#[derive(Clone, Debug)]
pub struct WaitBudget {
    deadline: Instant,
}

impl WaitBudget {
    pub fn starting_now(clock: &dyn Clock, total: Duration) -> Self {
        Self { deadline: clock.now() + total }
    }

    pub fn remaining(&self, clock: &dyn Clock) -> Duration {
        self.deadline.saturating_duration_since(clock.now())
    }
}

/// Runs `attempt` until it succeeds, fails for good, runs out of attempts, or would have to
/// wait longer than `budget` allows.
///
/// `backon` computes the backoff steps; the loop itself is written out rather than built
/// with `Retryable`, because the closure-typed `Retry` future is not `Send` for every
/// borrow lifetime, and the executor's futures must be (the worker spawns them).
pub(crate) async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    clock: &Arc<dyn Clock>,
    budget: &WaitBudget,
    what: &str,
    mut attempt: F,
) -> Result<T, ArmError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ArmError>>,
{
    let mut backoff = ExponentialBuilder::default()
        .with_min_delay(policy.min_delay)
        .with_max_delay(policy.max_delay)
        .with_max_times(policy.max_attempts.saturating_sub(1) as usize)
        .with_jitter()
        .build();

    loop {
        let err = match attempt().await {
            Ok(value) => return Ok(value),
            Err(err) if !err.is_retryable() => return Err(err),
            Err(err) => err,
        };

        let remaining = budget.remaining(clock.as_ref());
        let Some(delay) = next_delay(&err, backoff.next(), remaining) else {
            return Err(err);
        };
        debug!(request = what, ?delay, error = %err.summary(), "retrying");
        clock.sleep(delay).await;
    }
}

/// The wait before the next attempt: the server's `Retry-After` when it sent one, else the
/// backoff step; `None` (give up now) when attempts are spent or the wait exceeds what is
/// left of the budget.
fn next_delay(
    err: &ArmError,
    proposed: Option<Duration>,
    remaining: Duration,
) -> Option<Duration> {
    let proposed = proposed?;
    let delay = err.retry_after_secs().map(Duration::from_secs).unwrap_or(proposed);
    (delay <= remaining).then_some(delay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ServiceError;

    fn throttled(secs: Option<u64>) -> ArmError {
        let mut e = Box::new(ServiceError::from_body(429, b""));
        e.retry_after_secs = secs;
        ArmError::Throttled(e)
    }

    #[test]
    fn retry_after_wins_over_backoff_when_it_fits() {
        let d = next_delay(&throttled(Some(17)), Some(Duration::from_secs(1)), secs(40));
        assert_eq!(d, Some(secs(17)));
    }

    #[test]
    fn a_wait_beyond_the_budget_gives_up_instead_of_sleeping() {
        assert_eq!(next_delay(&throttled(Some(900)), Some(secs(1)), secs(300)), None);
    }

    #[test]
    fn spent_attempts_give_up() {
        assert_eq!(next_delay(&throttled(Some(1)), None, secs(300)), None);
    }

    #[test]
    fn backoff_is_used_without_retry_after() {
        assert_eq!(next_delay(&throttled(None), Some(secs(2)), secs(300)), Some(secs(2)));
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }
}
