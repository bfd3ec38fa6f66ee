//! Opsdeck: the application crate. Domain folders (`users/`, `roles/`, …) each hold `types.rs`
//! (wire types, wasm-safe), `service.rs` (all logic, server only), `api.rs` (server functions) and
//! `pages/` (UI). See docs/architecture.md.
#![recursion_limit = "512"]

pub mod applications;
pub mod approvals;
pub mod audit;
pub mod auth;
pub mod bulk;
pub mod certs;
pub mod common;
pub mod credentials;
pub mod dashboard;
pub mod deploy;
pub mod dns;
pub mod error;
pub mod exec;
pub mod hosts;
pub mod hosttasks;
pub mod perms;
pub mod productions;
pub mod requests;
pub mod roles;
pub mod shell;
pub mod tokens;
pub mod users;

#[cfg(feature = "ssr")]
pub mod changes;
#[cfg(feature = "ssr")]
pub mod crypto;
#[cfg(feature = "ssr")]
pub mod ctx;
#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod entities;
#[cfg(feature = "ssr")]
pub mod jobs;
#[cfg(feature = "ssr")]
pub mod mail;
#[cfg(feature = "ssr")]
pub mod security;
#[cfg(feature = "ssr")]
pub mod time;

pub use shell::{shell, App};

/// Server-function plumbing: the context and actor of the current request.
#[cfg(feature = "ssr")]
pub mod rpc {
    use crate::ctx::{Actor, Ctx};
    use crate::error::{AppError, AppResult};

    /// The service context and the actor resolved by the server's auth middleware.
    pub async fn ctx_actor() -> AppResult<(Ctx, Actor)> {
        let ctx = leptos::prelude::use_context::<Ctx>()
            .ok_or_else(|| AppError::internal("Ctx not provided"))?;
        let axum::Extension(actor) = leptos_axum::extract::<axum::Extension<Actor>>()
            .await
            .map_err(|e| AppError::internal(format!("actor not resolved: {e}")))?;
        Ok((ctx, actor))
    }
}
