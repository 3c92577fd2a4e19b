//! Deployment spec (being written).
