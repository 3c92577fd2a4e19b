//! Embedded state stores: saga documents on local disk (the single-machine default) or in
//! memory (benchmarks, chaos tests), both with Blob Storage's conditional-write and lease
//! semantics, and the [`contract`] suite every store must pass.

pub(crate) mod atomic_file;
pub mod contract;
mod disk;
pub(crate) mod file_lock;
pub(crate) mod key;
mod lease_book;
mod memory;
mod record;

pub use disk::LocalDiskStore;
pub use memory::MemoryStore;
pub use record::{MAX_LEASE_SECS, MIN_LEASE_SECS};
