
pub mod clock;
pub mod queue;
pub mod secrets;
pub mod store;
