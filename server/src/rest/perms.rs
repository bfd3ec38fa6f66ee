use super::route;
use crate::http::{OneOrMany, Who, J, Q};
use app::common::Message;
use app::ctx::Ctx;
use app::error::AppResult;
use app::perms::{service, types::*};
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};

async fn user_modules(
    State(ctx): State<Ctx>,
    Who(a): Who,
    Path(id): Path<i64>,
) -> AppResult<Json<Vec<ModulePerms>>> {
    service::module_perms_of(&ctx, &a, SubjectType::User, id)
        .await
        .map(Json)
}
async fn role_modules(
    State(ctx): State<Ctx>,
    Who(a): Who,
    Path(id): Path<i64>,
) -> AppResult<Json<Vec<ModulePerms>>> {
    service::module_perms_of(&ctx, &a, SubjectType::Role, id)
        .await
        .map(Json)
}
async fn grant_user(
    State(ctx): State<Ctx>,
    Who(a): Who,
    Path(id): Path<i64>,
    J(g): J<OneOrMany<ModuleGrant>>,
) -> AppResult<Json<Message>> {
    service::grant_module_perms(&ctx, &a, SubjectType::User, id, g.into_vec())
        .await
        .map(Json)
}
async fn grant_role(
    State(ctx): State<Ctx>,
    Who(a): Who,
    Path(id): Path<i64>,
    J(g): J<OneOrMany<ModuleGrant>>,
) -> AppResult<Json<Message>> {
    service::grant_module_perms(&ctx, &a, SubjectType::Role, id, g.into_vec())
        .await
        .map(Json)
}
async fn explain(
    State(ctx): State<Ctx>,
    Who(a): Who,
    Path(id): Path<i64>,
    Q(q): Q<ExplainQuery>,
) -> AppResult<Json<EffectivePerms>> {
    service::explain(&ctx, &a, id, q).await.map(Json)
}

pub fn routes(r: Router<crate::AppState>) -> Router<crate::AppState> {
    let r = route(
        r,
        "/api/users/{id}/system/perms/",
        get(user_modules).post(grant_user),
    );
    let r = route(
        r,
        "/api/roles/{id}/system/perms/",
        get(role_modules).post(grant_role),
    );
    let r = route(r, "/api/users/{id}/effective-perms/", get(explain));
    resource_routes(r)
}

/// Subject-centric (`/users/{id}/application/perms/`) and resource-centric
/// (`/applications/{id}/authorization/users/`) grant endpoints, for every resource type.
pub fn resource_routes(mut r: Router<crate::AppState>) -> Router<crate::AppState> {
    use crate::http::paged;
    use app::common::{Page, PageQuery};
    use app::error::AppError;
    use axum::http::Uri;
    let kinds = [
        (
            ResourceType::Application,
            "application",
            &["applications", "application"][..],
        ),
        (ResourceType::Host, "host", &["hosts", "host"][..]),
        (ResourceType::Business, "business", &["productions"][..]),
    ];
    for (rtype, seg, bases) in kinds {
        for (plural, st) in [("users", SubjectType::User), ("roles", SubjectType::Role)] {
            let list = move |State(ctx): State<Ctx>,
                             Who(a): Who,
                             uri: Uri,
                             Path(id): Path<i64>,
                             Q(f): Q<ResourcePermFilter>| async move {
                Ok::<Json<Page<ResourcePermRow>>, AppError>(paged(
                    &uri,
                    service::resource_perms_of(&ctx, &a, st, id, rtype, f).await?,
                ))
            };
            let grant = move |State(ctx): State<Ctx>,
                              Who(a): Who,
                              Path(id): Path<i64>,
                              J(req): J<ResourceGrantRequest>| async move {
                service::grant_resource_perms(&ctx, &a, st, id, rtype, req)
                    .await
                    .map(Json)
            };
            r = route(
                r,
                &format!("/api/{plural}/{{id}}/{seg}/perms/"),
                get(list).post(grant),
            );
            for base in bases {
                let who = move |State(ctx): State<Ctx>,
                                Who(a): Who,
                                uri: Uri,
                                Path(id): Path<i64>,
                                Q(p): Q<PageQuery>| async move {
                    Ok::<Json<Page<ResourceAuthorization>>, AppError>(paged(
                        &uri,
                        service::resource_authorizations(&ctx, &a, rtype, id, st, p).await?,
                    ))
                };
                let patch =
                    move |State(ctx): State<Ctx>,
                          Who(a): Who,
                          Path(id): Path<i64>,
                          J(items): J<Vec<AuthorizationChange>>| async move {
                        service::patch_resource_authorizations(&ctx, &a, rtype, id, st, items)
                            .await
                            .map(Json)
                    };
                r = route(
                    r,
                    &format!("/api/{base}/{{id}}/authorization/{plural}/"),
                    get(who).patch(patch),
                );
            }
        }
    }
    r
}
