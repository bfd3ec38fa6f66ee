//! Resource requests (hosts, domains, SSL certificates) with approval, fulfilled for real.
pub mod api;
#[cfg(feature = "ssr")]
pub mod notify;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod service;
pub mod types;
