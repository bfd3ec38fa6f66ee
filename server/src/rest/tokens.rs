use crate::api::{Api, Op};
use crate::http::{paged, Who, J, P, Q};
use app::common::{Message, Page};
use app::ctx::Ctx;
use app::error::AppResult;
use app::tokens::{service, types::*};
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::Json;

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
async fn get_one(State(ctx): State<Ctx>, Who(a): Who, P(id): P<i64>) -> AppResult<Json<Token>> {
    service::get(&ctx, &a, id).await.map(Json)
}
async fn patch(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(input): J<TokenInput>,
) -> AppResult<Json<Token>> {
    service::update(&ctx, &a, id, input).await.map(Json)
}
async fn delete(State(ctx): State<Ctx>, Who(a): Who, P(id): P<i64>) -> AppResult<Json<Message>> {
    service::delete(&ctx, &a, id).await.map(Json)
}

pub fn routes(api: Api) -> Api {
    let t = "auth-tokens";
    api.get(
        "/api/auth-tokens/",
        list,
        Op::new(t, "Your API tokens (prefix only)")
            .query::<TokenFilter>()
            .ok_page::<Token>()
            .perm("signed in"),
    )
    .post(
        "/api/auth-tokens/",
        create,
        Op::new(t, "Create a token; the answer carries its value, once")
            .body::<TokenInput>()
            .ok::<Token>()
            .created()
            .perm("signed in"),
    )
    .get(
        "/api/auth-tokens/{id}/",
        get_one,
        Op::new(t, "One of your tokens")
            .ok::<Token>()
            .perm("your own"),
    )
    .patch(
        "/api/auth-tokens/{id}/",
        patch,
        Op::new(t, "Rename or describe a token")
            .body::<TokenInput>()
            .ok::<Token>()
            .perm("your own"),
    )
    .delete(
        "/api/auth-tokens/{id}/",
        delete,
        Op::new(t, "Revoke a token").perm("your own"),
    )
}
