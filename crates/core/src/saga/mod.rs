//! Saga engine (being written).
