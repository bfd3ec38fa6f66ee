pub mod api;
#[cfg(feature = "ssr")]
pub mod driver;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod service;
pub mod types;
