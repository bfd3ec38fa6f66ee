use crate::api::{Api, Op};
use crate::http::{paged, Who, Q};
use app::audit::{service, types::*};
use app::common::Page;
use app::ctx::Ctx;
use app::error::AppResult;
use axum::extract::State;
use axum::http::Uri;
use axum::Json;

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

async fn app_ops(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    Q(f): Q<ObjectOpFilter>,
) -> AppResult<Json<Page<ObjectOp>>> {
    Ok(paged(&uri, service::object_ops(&ctx, &a, "app", f).await?))
}
async fn host_ops(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    Q(f): Q<ObjectOpFilter>,
) -> AppResult<Json<Page<ObjectOp>>> {
    Ok(paged(&uri, service::object_ops(&ctx, &a, "host", f).await?))
}

pub fn routes(api: Api) -> Api {
    let t = "audit";
    api.get(
        "/api/audit/authorize-operations/modules/",
        modules,
        Op::new(t, "Module grants and revokes")
            .query::<AuthOpFilter>()
            .ok_page::<ModuleAuthOp>()
            .perm("system.view_audit"),
    )
    .get(
        "/api/audit/authorize-operations/resources/",
        resources,
        Op::new(t, "Resource grants and revokes")
            .query::<AuthOpFilter>()
            .ok_page::<ResourceAuthOp>()
            .perm("system.view_audit"),
    )
    .get(
        "/api/audit/app-operations/",
        app_ops,
        Op::new(t, "Application operations")
            .query::<ObjectOpFilter>()
            .ok_page::<ObjectOp>()
            .perm("system.view_audit"),
    )
    .get(
        "/api/audit/host-operations/",
        host_ops,
        Op::new(t, "Host operations")
            .query::<ObjectOpFilter>()
            .ok_page::<ObjectOp>()
            .perm("system.view_audit"),
    )
    .get(
        "/api/audit/logs/",
        logs,
        Op::new(t, "Every audit record")
            .query::<AuditFilter>()
            .ok_page::<AuditEntry>()
            .perm("system.view_audit"),
    )
}
