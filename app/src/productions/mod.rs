//! Product lines (the seed's "productions"): the top of the catalogue.
pub mod api;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod service;
pub mod types;
