//! Host tasks (seed 003): start, stop and restart hosts through their power provider, one or
//! many at once, the lists of those tasks, and host status changes.
pub mod api;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod service;
pub mod types;
