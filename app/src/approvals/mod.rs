//! The approval engine: the states of a request (`wait_review` → `approved` → `finished`;
//! `rejected`; `closed`), one conditional write per transition, approvers' decisions with a
//! quorum, and a timeline. Resource requests use it; deploy tasks will.
pub mod api;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod service;
pub mod types;
