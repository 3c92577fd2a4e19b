//! From a validated spec to the set of Azure resources a deployment owns.
//!
//! [`model`] holds the shapes the saga walks; [`build`] turns a spec into a [`model::Plan`].

pub mod build;
pub mod model;
pub mod render;


pub use model::*;
