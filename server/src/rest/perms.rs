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
    route(r, "/api/users/{id}/effective-perms/", get(explain))
}
