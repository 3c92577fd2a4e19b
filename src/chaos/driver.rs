//! The seeded message scheduler between the queue and the handlers.
//!
//! It receives every due delivery, then decides from the seed which to hold back (a delay,
//! sometimes past the lock so the broker redelivers it meanwhile), in which order to handle
//! the ready ones, which to hand to two racing handlers at once and which to handle twice.
//! Time is virtual: when nothing is ready the clock jumps to the next due instant.

use std::time::Duration;

use polaris_core::ids::DeploymentId;
use rand::Rng;
use rand::rngs::StdRng;
use time::OffsetDateTime;

use super::observe::Observer;
use super::world::World;
use crate::clock::Clock;
use crate::queue::Delivery;
use crate::worker::Disposition;

/// How long a delivery stays locked, as in the embedded runtime.
const LOCK: Duration = Duration::from_secs(60);

/// Fractions of deliveries that get each treatment.
#[derive(Clone, Copy, Debug)]
pub struct Mischief {
    pub delay: f64,
    pub race: f64,
    pub duplicate: f64,
}

impl Default for Mischief {
    fn default() -> Self {
        Self { delay: 0.08, race: 0.04, duplicate: 0.05 }
    }
}

/// A deployment the driver tears down at some point.
#[derive(Clone, Debug)]
pub struct TeardownPlan {
    pub id: DeploymentId,
    /// After this many handled messages; `usize::MAX` means once it succeeded.
    pub after: usize,
    pub done: bool,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct DriveStats {
    pub handled: usize,
    pub delayed: usize,
    pub lock_losses: usize,
    pub races: usize,
    pub duplicates: usize,
    pub reordered: usize,
    pub teardowns: usize,
    /// The run stopped at the message cap or the time bound rather than going idle.
    pub cut_short: bool,
}

pub struct Driver<'a> {
    pub world: &'a World,
    pub rng: &'a mut StdRng,
    pub mischief: Mischief,
    pub max_messages: usize,
    pub deadline: OffsetDateTime,
    pub teardowns: Vec<TeardownPlan>,
    pub observer: &'a mut Observer,
}

impl Driver<'_> {
    pub async fn run(&mut self) -> DriveStats {
        let mut stats = DriveStats::default();
        let mut held: Vec<(OffsetDateTime, Delivery)> = Vec::new();
        loop {
            let now = self.world.clock.now();
            if stats.handled >= self.max_messages || now > self.deadline {
                stats.cut_short = true;
                break;
            }
            self.receive_due(&mut held, now, &mut stats);

            let ready: Vec<usize> = (0..held.len()).filter(|&i| held[i].0 <= now).collect();
            if ready.is_empty() {
                if !self.advance(&held, now) && !self.final_teardowns(&mut stats).await {
                    break;
                }
                continue;
            }

            let pick = ready[self.rng.random_range(0..ready.len())];
            if pick != ready[0] {
                stats.reordered += 1;
            }
            let (_, delivery) = held.swap_remove(pick);
            self.handle(delivery, &mut stats).await;
            stats.handled += 1;
            self.observer.observe(self.world).await;
            self.due_teardowns(stats.handled, &mut stats).await;
        }
        stats
    }

    fn receive_due(
        &mut self,
        held: &mut Vec<(OffsetDateTime, Delivery)>,
        now: OffsetDateTime,
        stats: &mut DriveStats,
    ) {
        while let Some(delivery) = self.world.queue.try_receive(LOCK) {
            let mut release = now;
            if self.rng.random_bool(self.mischief.delay) {
                stats.delayed += 1;
                // One in five delays outlasts the lock: the broker redelivers meanwhile (B17).
                let secs = if self.rng.random_bool(0.2) {
                    stats.lock_losses += 1;
                    self.rng.random_range(61..120)
                } else {
                    self.rng.random_range(1..30)
                };
                release = now + Duration::from_secs(secs);
            }
            held.push((release, delivery));
        }
    }

    /// Jumps virtual time to the next held release or queue due time; false when idle.
    fn advance(&self, held: &[(OffsetDateTime, Delivery)], now: OffsetDateTime) -> bool {
        let next_held = held.iter().map(|(at, _)| *at).min();
        let next_queue = self.world.queue.next_due_time();
        let next = match (next_held, next_queue) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => return false,
        };
        // An overdue instant that yields nothing still has to move time on.
        let target = if next <= now { now + Duration::from_millis(100) } else { next };
        self.world.clock.advance_to(target);
        true
    }

    async fn handle(&mut self, delivery: Delivery, stats: &mut DriveStats) {
        let app = &self.world.app;
        let body = &delivery.body;
        let count = delivery.delivery_count;
        let disposition = if self.rng.random_bool(self.mischief.race) {
            // Two handlers on one deployment at once: the lease decides, the loser must do
            // no harm.
            stats.races += 1;
            let (first, _) =
                futures::join!(app.handle_message(body, count), app.handle_message(body, count));
            first
        } else if self.rng.random_bool(self.mischief.duplicate) {
            // The settlement was lost: the same message is handled again afterwards.
            stats.duplicates += 1;
            let _ = app.handle_message(body, count).await;
            app.handle_message(body, count + 1).await
        } else {
            app.handle_message(body, count).await
        };
        settle(self.world, &delivery, disposition);
    }

    async fn due_teardowns(&mut self, handled: usize, stats: &mut DriveStats) {
        for i in 0..self.teardowns.len() {
            let plan = &self.teardowns[i];
            if plan.done || plan.after == usize::MAX || plan.after > handled {
                continue;
            }
            let id = plan.id.clone();
            self.teardowns[i].done = true;
            self.teardown(&id, stats).await;
        }
    }

    /// Tears down the deployments waiting for success once the queue ran dry; true if any
    /// was requested (so there is work again).
    async fn final_teardowns(&mut self, stats: &mut DriveStats) -> bool {
        let mut any = false;
        for i in 0..self.teardowns.len() {
            if self.teardowns[i].done {
                continue;
            }
            let id = self.teardowns[i].id.clone();
            self.teardowns[i].done = true;
            any |= self.teardown(&id, stats).await;
        }
        any
    }

    async fn teardown(&mut self, id: &DeploymentId, stats: &mut DriveStats) -> bool {
        let result = self.world.app.deployments.teardown(id).await;
        self.observer.observe(self.world).await;
        match result {
            Ok(state) => {
                stats.teardowns += 1;
                tracing::debug!(deployment_id = %id, status = state.status.as_str(), "teardown");
                true
            }
            Err(e) => {
                // Already compensated or stuck: nothing to tear down.
                tracing::debug!(deployment_id = %id, error = %e, "teardown refused");
                false
            }
        }
    }
}

fn settle(world: &World, delivery: &Delivery, disposition: Disposition) {
    let queue = &world.queue;
    let settled = match disposition {
        Disposition::Complete => queue.complete(delivery.lock_token),
        Disposition::Retry { .. } => queue.abandon(delivery.lock_token),
        Disposition::DeadLetter { reason, description } => {
            queue.dead_letter(delivery.lock_token, &reason, Some(&description))
        }
    };
    if let Err(e) = settled {
        // The lock was lost while the delivery was held back; the broker redelivered it.
        tracing::debug!(error = %e, "settlement refused");
    }
}
