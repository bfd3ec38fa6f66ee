//! The Opsdeck server: HTTP wiring around the app crate's services.
#![recursion_limit = "512"]
pub mod api;
pub mod bench;
pub mod config;
pub mod http;
pub mod rest;
pub mod ws;

use app::ctx::Ctx;
use axum::extract::{FromRef, State};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

/// Router state: the service context and Leptos' options.
#[derive(Clone)]
pub struct AppState {
    pub ctx: Ctx,
    pub leptos: LeptosOptions,
    /// The OpenAPI document, built once from the route table.
    pub openapi: std::sync::Arc<serde_json::Value>,
}

impl FromRef<AppState> for Ctx {
    fn from_ref(s: &AppState) -> Ctx {
        s.ctx.clone()
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(s: &AppState) -> LeptosOptions {
        s.leptos.clone()
    }
}

async fn openapi(State(s): State<AppState>) -> axum::Json<serde_json::Value> {
    axum::Json((*s.openapi).clone())
}

async fn api_docs() -> axum::response::Redirect {
    axum::response::Redirect::permanent("/api-docs.html")
}

/// A panic in a handler is a bug: log it once and answer the error envelope's 500.
fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let what = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into());
    app::error::AppError::internal(format!("handler panicked: {what}")).into_response()
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(ctx): State<Ctx>) -> axum::response::Response {
    match ctx.db.ping().await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "database unavailable",
            )
                .into_response()
        }
    }
}

/// The whole application: REST API, server functions, pages, static files, sessions and auth.
pub fn app(ctx: Ctx, leptos: LeptosOptions) -> Router {
    let rest = rest::api();
    let state = AppState {
        ctx: ctx.clone(),
        leptos: leptos.clone(),
        openapi: std::sync::Arc::new(rest.openapi()),
    };
    let routes = generate_route_list(app::App);
    let provide = {
        let ctx = ctx.clone();
        move || provide_context(ctx.clone())
    };
    let sessions = SessionManagerLayer::new(app::auth::session_store::SeaSessionStore::new(
        ctx.db.clone(),
    ))
    .with_name("opsdeck_session")
    .with_http_only(true)
    .with_same_site(SameSite::Lax)
    .with_secure(ctx.config.cookie_secure)
    .with_expiry(Expiry::OnInactivity(time::Duration::hours(12)));
    rest.router
        .merge(ws::routes())
        .route("/api/openapi.json", get(openapi))
        .route("/api/docs", get(api_docs))
        .route("/api/docs/", get(api_docs))
        // An unknown path under /api/ answers in the error envelope, not with the HTML 404 page.
        .route("/api/{*rest}", axum::routing::any(api_not_found))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .leptos_routes_with_context(&state, routes, provide.clone(), {
            let o = leptos.clone();
            move || app::shell(o.clone())
        })
        // The error pages render the whole app, whose resources call server functions in
        // process: they need the same context as the page routes.
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(provide.clone(), app::shell))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        // Bodies: 64 KB, imports 21 MB (`http::body_limit`, in front of every route and the
        // fallback); axum's extractors' own default limit (2 MB) is lifted to the import size.
        .layer(axum::extract::DefaultBodyLimit::max(
            http::IMPORT_BODY_LIMIT,
        ))
        // Refused server functions answer their error code's status, not 500.
        .layer(axum::middleware::from_fn(http::rpc_status))
        // Inside the actor layer: an anonymous import is refused before its body is read.
        .layer(axum::middleware::from_fn(http::body_limit))
        .layer(axum::middleware::from_fn_with_state(ctx, http::actor_layer))
        .layer(sessions)
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn api_not_found() -> app::error::AppError {
    app::error::AppError::not_found("endpoint")
}

/// Background work of a running server: the job runner and expired-session cleanup.
pub fn spawn_background(ctx: Ctx) {
    tokio::spawn(app::jobs::worker(ctx.clone()));
    // Other processes' changes to what this one caches (PostgreSQL; docs/architecture.md).
    tokio::spawn(app::changes::listen(ctx.clone()));
    tokio::spawn(async move {
        use tower_sessions::ExpiredDeletion;
        let store = app::auth::session_store::SeaSessionStore::new(ctx.db.clone());
        loop {
            if let Err(e) = app::db::optimize(&ctx.db).await {
                tracing::warn!(error = %e, "database optimize");
            }
            if let Err(e) = store.delete_expired().await {
                tracing::warn!(error = %e, "session cleanup");
            }
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        }
    });
}
