pub mod api;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod driver;
#[cfg(feature = "ssr")]
pub mod service;
pub mod types;
