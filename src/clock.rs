//! Wall-clock time as a dependency.
//!
//! The embedded queue (scheduled delivery, lock expiry, duplicate detection) and the stores
//! (lease expiry) read time only through a [`Clock`], so a test can drive them with a
//! [`VirtualClock`] and show "not delivered before 17 s" in microseconds of real time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use time::OffsetDateTime;
use time::macros::datetime;

/// A source of UTC wall-clock time.
///
/// Implementations must never go backwards: lease and lock expiry compare instants taken at
/// different moments and would resurrect an expired lock if time stepped back.
pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// The operating system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// The instant every [`VirtualClock::new`] starts at, so test output is reproducible.
pub const VIRTUAL_EPOCH: OffsetDateTime = datetime!(2025-01-01 00:00:00 UTC);

/// Time that moves only when a test or a discrete-event driver says so.
///
/// Share it as `Arc<VirtualClock>`: keep one handle to advance time and hand a clone
/// (coerced to `Arc<dyn Clock>`) to the components under test. Elapsed time is one atomic
/// counter of nanoseconds, so reads never block and advancing is monotonic by construction.
#[derive(Debug)]
pub struct VirtualClock {
    start: OffsetDateTime,
    elapsed_nanos: AtomicU64,
}

impl VirtualClock {
    /// A clock standing at [`VIRTUAL_EPOCH`].
    pub fn new() -> Self {
        Self::starting_at(VIRTUAL_EPOCH)
    }

    /// A clock standing at `start`.
    pub fn starting_at(start: OffsetDateTime) -> Self {
        Self { start, elapsed_nanos: AtomicU64::new(0) }
    }

    /// Moves time forward by `by` and returns the new time.
    pub fn advance(&self, by: Duration) -> OffsetDateTime {
        let nanos = saturating_nanos(by);
        let previous = self.elapsed_nanos.fetch_add(nanos, Ordering::SeqCst);
        self.at(previous.saturating_add(nanos))
    }

    /// Moves time forward to `target`; a target in the past leaves the clock where it is,
    /// because a driver jumping to "the next due message" may find one already overdue.
    pub fn advance_to(&self, target: OffsetDateTime) -> OffsetDateTime {
        let offset = target - self.start;
        let nanos = u64::try_from(offset.whole_nanoseconds()).unwrap_or(0);
        let previous = self.elapsed_nanos.fetch_max(nanos, Ordering::SeqCst);
        self.at(previous.max(nanos))
    }

    /// Virtual time elapsed since the clock was created.
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.elapsed_nanos.load(Ordering::SeqCst))
    }

    fn at(&self, elapsed_nanos: u64) -> OffsetDateTime {
        self.start + Duration::from_nanos(elapsed_nanos)
    }
}

impl Default for VirtualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> OffsetDateTime {
        self.at(self.elapsed_nanos.load(Ordering::SeqCst))
    }
}

/// Nanoseconds in `duration`, capped at `u64::MAX` (about 584 years).
fn saturating_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}
