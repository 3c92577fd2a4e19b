//! Time as a dependency: every wait in this crate goes through a [`Clock`], so tests run
//! throttling and polling scenarios in virtual time and can assert on each sleep.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::time::Instant;

/// A monotonic clock that can also wait.
///
/// The retry loop reads `now` to know how much of the invocation's wait budget is left and
/// calls `sleep` between attempts; nothing else in the crate reads time.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> Instant;
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// Real time through tokio (which also honours `tokio::time::pause`).
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Virtual time for tests: `sleep` returns at once, advances `now` by the duration and
/// records it, so a test can assert "each wait >= 17 s" without waiting at all.
#[derive(Clone, Debug)]
pub struct VirtualClock {
    inner: Arc<Mutex<VirtualState>>,
}

#[derive(Debug)]
struct VirtualState {
    start: Instant,
    elapsed: Duration,
    sleeps: Vec<Duration>,
}

impl VirtualClock {
    pub fn new() -> Self {
        let state =
            VirtualState { start: Instant::now(), elapsed: Duration::ZERO, sleeps: vec![] };
        Self { inner: Arc::new(Mutex::new(state)) }
    }

    /// Every sleep taken so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.lock().sleeps.clone()
    }

    /// Total virtual time slept.
    pub fn total_slept(&self) -> Duration {
        self.lock().sleeps.iter().sum()
    }

    /// Moves time forward without recording a sleep (time spent elsewhere).
    pub fn advance(&self, duration: Duration) {
        self.lock().elapsed += duration;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VirtualState> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for VirtualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> Instant {
        let state = self.lock();
        state.start + state.elapsed
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        let mut state = self.lock();
        state.elapsed += duration;
        state.sleeps.push(duration);
        Box::pin(std::future::ready(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn virtual_clock_records_sleeps_and_advances() {
        let clock = VirtualClock::new();
        let before = clock.now();

        clock.sleep(Duration::from_secs(17)).await;
        clock.sleep(Duration::from_secs(3)).await;

        assert_eq!(clock.sleeps(), vec![Duration::from_secs(17), Duration::from_secs(3)]);
        assert_eq!(clock.total_slept(), Duration::from_secs(20));
        assert_eq!(clock.now() - before, Duration::from_secs(20));
    }
}
