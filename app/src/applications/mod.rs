//! Applications: the catalogue under product lines, with parents, dependencies and owners.
pub mod api;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod service;
pub mod types;
