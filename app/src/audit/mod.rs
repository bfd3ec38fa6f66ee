//! The audit log: one mechanism for every domain, written in the same transaction as the change.
pub mod api;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod service;
pub mod types;
