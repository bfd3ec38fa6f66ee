//! Hosts: machines with their IP addresses, and the application instances on them.
pub mod api;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod service;
pub mod types;
