use super::route;
use crate::http::{paged, Who, J, Q};
use app::common::{Message, Page};
use app::ctx::Ctx;
use app::error::AppResult;
use app::tokens::{service, types::*};
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::routing::get;
use axum::{Json, Router};

async fn list(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    Q(f): Q<TokenFilter>,
) -> AppResult<Json<Page<Token>>> {
    Ok(paged(&uri, service::list(&ctx, &a, f).await?))
}
async fn create(
    State(ctx): State<Ctx>,
    Who(a): Who,
    J(input): J<TokenInput>,
) -> AppResult<(StatusCode, Json<Token>)> {
    Ok((
        StatusCode::CREATED,
        Json(service::create(&ctx, &a, input).await?),
    ))
}
async fn get_one(
    State(ctx): State<Ctx>,
    Who(a): Who,
    Path(id): Path<i64>,
) -> AppResult<Json<Token>> {
    service::get(&ctx, &a, id).await.map(Json)
}
async fn patch(
    State(ctx): State<Ctx>,
    Who(a): Who,
    Path(id): Path<i64>,
    J(input): J<TokenInput>,
) -> AppResult<Json<Token>> {
    service::update(&ctx, &a, id, input).await.map(Json)
}
async fn delete(
    State(ctx): State<Ctx>,
    Who(a): Who,
    Path(id): Path<i64>,
) -> AppResult<Json<Message>> {
    service::delete(&ctx, &a, id).await.map(Json)
}

pub fn routes(r: Router<crate::AppState>) -> Router<crate::AppState> {
    let r = route(r, "/api/auth-tokens/", get(list).post(create));
    route(
        r,
        "/api/auth-tokens/{id}/",
        get(get_one).patch(patch).delete(delete),
    )
}
