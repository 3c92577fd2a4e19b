//! Deterministic simulation: one seed fixes simulated time, message order, duplicated,
//! delayed and reordered deliveries, handler crashes, racing handlers, Azure faults and the
//! deployments themselves; the invariants are checked after every seed.
//!
//! Run it with `polaris chaos --seeds N --from S`; `tests/chaos_batch.rs` runs a CI batch.
//! A seed replays the same run: the scheduler, crash hook, fault plan and specs all draw
//! from generators seeded by it, time is virtual, and messages are handled one at a time
//! (two at once only where the seed asks for a race).

mod cli;
mod driver;
mod faults;
mod harness;
mod inject;
pub mod invariants;
mod logs;
mod observe;
mod seed;
pub mod specs;
mod world;

pub use cli::run_cli;
pub use driver::{DriveStats, Mischief};
pub use harness::Harness;
pub use inject::{InjectingExecutor, Injection, is_undo};
pub use invariants::{Violation, planned_ids};
pub use logs::LogBuffer;
pub use seed::{ChaosConfig, SeedReport, run_batch, run_seed, run_seed_blocking};
pub use world::{SeededCrashes, TENANT, World, WorldOptions};
