//! Time source for the simulator.
//!
//! Long-running operations complete when `now >= started + latency`, so the sim never
//! sleeps to finish work. Tests that drive a virtual clock plug their own [`SimClock`] in.

use std::sync::Mutex;
use std::time::Duration;

use time::OffsetDateTime;

/// Where the simulator reads "now" from.
pub trait SimClock: Send + Sync {
    /// The current instant as the simulated Azure sees it.
    fn now(&self) -> OffsetDateTime;
}

/// Wall-clock time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl SimClock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that only moves when told to, for deterministic tests.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<OffsetDateTime>,
}

impl ManualClock {
    /// Starts the clock at `start`.
    pub fn new(start: OffsetDateTime) -> Self {
        Self { now: Mutex::new(start) }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }

    /// Jumps to an absolute instant (may go backwards; the sim tolerates it).
    pub fn set(&self, to: OffsetDateTime) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = to;
    }
}

impl SimClock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let start = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);

        clock.advance(Duration::from_secs(90));

        assert_eq!(clock.now().unix_timestamp(), 1_700_000_090);
    }
}
