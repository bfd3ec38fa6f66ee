//! The execution engine: SSH to managed hosts (`ssh`), and runs (tasks) of steps on many hosts
//! with per-host results and live output (`runner`, `output`, `hub`, `service`); power
//! through cloud APIs or SSH (`cloud`, `power`).
pub mod api;
#[cfg(feature = "ssr")]
pub mod cloud;
#[cfg(feature = "ssr")]
pub mod deploy;
#[cfg(feature = "ssr")]
pub mod hub;
#[cfg(feature = "ssr")]
pub mod init;
#[cfg(feature = "ssr")]
pub mod output;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod power;
#[cfg(feature = "ssr")]
pub mod runner;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod ssh;
pub mod types;
#[cfg(feature = "ssr")]
pub mod zabbix;
