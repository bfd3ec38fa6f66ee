//! Permissions: module flags, resource grants, Casbin enforcement and the explainer.
pub mod api;
#[cfg(feature = "ssr")]
pub mod casbin;
#[cfg(feature = "ssr")]
pub mod guard;
#[cfg(feature = "ssr")]
pub mod inherit;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod service;
pub mod types;
