use super::route;
use crate::http::{paged, Who, J, Q};
use app::common::{IdRef, Message, Page};
use app::ctx::Ctx;
use app::error::AppResult;
use app::roles::{service, types::*};
use app::users::types::User;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::routing::get;
use axum::{Json, Router};

async fn list(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    Q(f): Q<RoleFilter>,
) -> AppResult<Json<Page<Role>>> {
    Ok(paged(&uri, service::list(&ctx, &a, f).await?))
}
async fn create(
    State(ctx): State<Ctx>,
    Who(a): Who,
    J(input): J<RoleInput>,
) -> AppResult<(StatusCode, Json<Role>)> {
    Ok((
        StatusCode::CREATED,
        Json(service::create(&ctx, &a, input).await?),
    ))
}
async fn get_one(
    State(ctx): State<Ctx>,
    Who(a): Who,
    Path(id): Path<i64>,
) -> AppResult<Json<Role>> {
    service::get(&ctx, &a, id).await.map(Json)
}
async fn patch(
    State(ctx): State<Ctx>,
    Who(a): Who,
    Path(id): Path<i64>,
    J(input): J<RoleInput>,
) -> AppResult<Json<Role>> {
    service::update(&ctx, &a, id, input).await.map(Json)
}
async fn delete(
    State(ctx): State<Ctx>,
    Who(a): Who,
    Path(id): Path<i64>,
) -> AppResult<Json<Message>> {
    service::delete(&ctx, &a, id).await.map(Json)
}
async fn members(
    State(ctx): State<Ctx>,
    Who(a): Who,
    Path(id): Path<i64>,
) -> AppResult<Json<Vec<User>>> {
    service::members(&ctx, &a, id).await.map(Json)
}
async fn add_members(
    State(ctx): State<Ctx>,
    Who(a): Who,
    Path(id): Path<i64>,
    J(ids): J<Vec<IdRef>>,
) -> AppResult<Json<Message>> {
    service::change_membership(
        &ctx,
        &a,
        ids.into_iter().map(|u| (u.id, id)).collect(),
        true,
    )
    .await
    .map(Json)
}
async fn remove_members(
    State(ctx): State<Ctx>,
    Who(a): Who,
    Path(id): Path<i64>,
    J(ids): J<Vec<IdRef>>,
) -> AppResult<Json<Message>> {
    service::change_membership(
        &ctx,
        &a,
        ids.into_iter().map(|u| (u.id, id)).collect(),
        false,
    )
    .await
    .map(Json)
}

pub fn routes(r: Router<crate::AppState>) -> Router<crate::AppState> {
    let r = route(r, "/api/roles/", get(list).post(create));
    let r = route(
        r,
        "/api/roles/{id}/",
        get(get_one).patch(patch).delete(delete),
    );
    route(
        r,
        "/api/roles/{id}/users/",
        get(members).post(add_members).delete(remove_members),
    )
}
