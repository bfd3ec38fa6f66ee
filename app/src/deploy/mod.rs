//! Deployments: scripts, repository credentials, templates and per-application settings
//! (seed 003); deploy tasks build on them.
pub mod api;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod service;
pub mod types;
