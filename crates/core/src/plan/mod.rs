//! From a validated spec to the set of Azure resources a deployment owns.
//!
//! [`model`] holds the shapes the saga walks; [`build`] turns a spec into a [`model::Plan`];
//! [`render`] prints one for people.

mod arm;
pub mod build;
mod container_group;
mod keyvault;
pub mod model;
mod network;
pub mod render;
mod vm;

pub use build::build_plan;
pub use model::*;
