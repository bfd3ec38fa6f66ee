//! SSH access to hosts: credentials (write-only secrets), per-host access settings, pinned
//! host keys.
pub mod api;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod service;
pub mod types;
