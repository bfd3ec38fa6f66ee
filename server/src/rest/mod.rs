//! The JSON API under `/api/`: thin adapters over the services, with the seed's paths.
//! Every path is served with and without its trailing slash.
pub mod audit;
pub mod auth;
pub mod perms;
pub mod roles;
pub mod tokens;
pub mod users;

use axum::routing::MethodRouter;
use axum::Router;

/// Registers `path` (written with its trailing slash) and the same path without it.
pub fn route(
    r: Router<crate::AppState>,
    path: &str,
    m: MethodRouter<crate::AppState>,
) -> Router<crate::AppState> {
    let bare = path.trim_end_matches('/');
    let r = r.route(path, m.clone());
    if bare.is_empty() || bare == path {
        r
    } else {
        r.route(bare, m)
    }
}

/// Every REST route.
pub fn router() -> Router<crate::AppState> {
    let r = Router::new();
    let r = auth::routes(r);
    let r = users::routes(r);
    let r = roles::routes(r);
    let r = perms::routes(r);
    let r = tokens::routes(r);
    audit::routes(r)
}
