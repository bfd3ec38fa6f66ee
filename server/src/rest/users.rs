use super::route;
use crate::http::{paged, Who, J, Q};
use app::auth::types::ForgotPassword;
use app::common::{IdRef, Message, Page};
use app::ctx::Ctx;
use app::error::AppResult;
use app::users::{service, types::*};
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::routing::{get, post};
use axum::{Json, Router};

async fn list(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    Q(f): Q<UserFilter>,
) -> AppResult<Json<Page<User>>> {
    Ok(paged(&uri, service::list(&ctx, &a, f).await?))
}
async fn create(
    State(ctx): State<Ctx>,
    Who(a): Who,
    J(input): J<CreateUser>,
) -> AppResult<(axum::http::StatusCode, Json<User>)> {
    Ok((
        axum::http::StatusCode::CREATED,
        Json(service::create(&ctx, &a, input).await?),
    ))
}
async fn get_one(
    State(ctx): State<Ctx>,
    Who(a): Who,
    Path(id): Path<i64>,
) -> AppResult<Json<User>> {
    service::get(&ctx, &a, id).await.map(Json)
}
async fn patch(
    State(ctx): State<Ctx>,
    Who(a): Who,
    Path(id): Path<i64>,
    J(input): J<UpdateUser>,
) -> AppResult<Json<User>> {
    service::update(&ctx, &a, id, input).await.map(Json)
}
async fn add_roles(
    State(ctx): State<Ctx>,
    Who(a): Who,
    Path(id): Path<i64>,
    J(ids): J<Vec<IdRef>>,
) -> AppResult<Json<Message>> {
    let pairs = ids.into_iter().map(|r| (id, r.id)).collect();
    app::roles::service::change_membership(&ctx, &a, pairs, true)
        .await
        .map(Json)
}
async fn remove_roles(
    State(ctx): State<Ctx>,
    Who(a): Who,
    Path(id): Path<i64>,
    J(ids): J<Vec<IdRef>>,
) -> AppResult<Json<Message>> {
    let pairs = ids.into_iter().map(|r| (id, r.id)).collect();
    app::roles::service::change_membership(&ctx, &a, pairs, false)
        .await
        .map(Json)
}
async fn enable(
    State(ctx): State<Ctx>,
    Who(a): Who,
    Path(id): Path<i64>,
) -> AppResult<Json<Message>> {
    service::set_status(&ctx, &a, id, true).await.map(Json)
}
async fn disable(
    State(ctx): State<Ctx>,
    Who(a): Who,
    Path(id): Path<i64>,
) -> AppResult<Json<Message>> {
    service::set_status(&ctx, &a, id, false).await.map(Json)
}
async fn change_password(
    State(ctx): State<Ctx>,
    Who(a): Who,
    s: tower_sessions::Session,
    Path(id): Path<i64>,
    J(input): J<ChangePassword>,
) -> AppResult<Json<Message>> {
    app::auth::session::change_password(&ctx, &a, &s, id, input)
        .await
        .map(Json)
}
async fn forget_password(
    State(ctx): State<Ctx>,
    Who(a): Who,
    Path(id): Path<i64>,
    J(input): J<ForgotPassword>,
) -> AppResult<Json<Message>> {
    app::auth::service::forgot_password(&ctx, &a, Some(id), input)
        .await
        .map(Json)
}

pub fn routes(r: Router<crate::AppState>) -> Router<crate::AppState> {
    let r = route(r, "/api/users/", get(list).post(create));
    let r = route(r, "/api/users/{id}/", get(get_one).patch(patch));
    let r = route(
        r,
        "/api/users/{id}/roles/",
        post(add_roles).delete(remove_roles),
    );
    let r = route(r, "/api/users/{id}/actions/enable/", post(enable));
    let r = route(r, "/api/users/{id}/actions/disable/", post(disable));
    let r = route(
        r,
        "/api/users/{id}/actions/change-password/",
        post(change_password),
    );
    route(
        r,
        "/api/users/{id}/actions/forget-password/",
        post(forget_password),
    )
}
