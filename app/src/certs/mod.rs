//! Certificates: Opsdeck's own certificate authority, certificates issued for SSL certificate
//! requests or uploaded by operators, their downloads, and the mail before they expire.
pub mod api;
#[cfg(feature = "ssr")]
pub mod ca;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod service;
pub mod types;
