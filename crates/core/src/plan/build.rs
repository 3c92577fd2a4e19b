//! Spec to plan (being written).
