//! Lets the simulator read the runtime's clock, so simulated LROs finish in simulated time.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::clock::Clock;

pub struct SimClockAdapter(pub Arc<dyn Clock>);

impl polaris_sim::SimClock for SimClockAdapter {
    fn now(&self) -> OffsetDateTime {
        self.0.now()
    }
}
