use super::route;
use crate::http::{paged, Who, Q};
use app::audit::{service, types::*};
use app::common::Page;
use app::ctx::Ctx;
use app::error::AppResult;
use axum::extract::State;
use axum::http::Uri;
use axum::routing::get;
use axum::{Json, Router};

async fn modules(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    Q(f): Q<AuthOpFilter>,
) -> AppResult<Json<Page<ModuleAuthOp>>> {
    Ok(paged(&uri, service::module_auth_ops(&ctx, &a, f).await?))
}
async fn resources(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    Q(f): Q<AuthOpFilter>,
) -> AppResult<Json<Page<ResourceAuthOp>>> {
    Ok(paged(&uri, service::resource_auth_ops(&ctx, &a, f).await?))
}
async fn logs(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    Q(f): Q<AuditFilter>,
) -> AppResult<Json<Page<AuditEntry>>> {
    Ok(paged(&uri, service::list(&ctx, &a, f).await?))
}

pub fn routes(r: Router<crate::AppState>) -> Router<crate::AppState> {
    let r = route(r, "/api/audit/authorize-operations/modules/", get(modules));
    let r = route(
        r,
        "/api/audit/authorize-operations/resources/",
        get(resources),
    );
    route(r, "/api/audit/logs/", get(logs))
}
