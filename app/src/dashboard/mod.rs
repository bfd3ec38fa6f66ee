//! The dashboard: counts and distributions of what the actor may see.
pub mod api;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod service;
pub mod types;
