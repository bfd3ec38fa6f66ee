use crate::api::{Api, Op};
use crate::http::{paged, Who, J, P, Q};
use app::common::{Message, Page};
use app::ctx::Ctx;
use app::error::AppResult;
use app::productions::{service, types::*};
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::Json;

async fn list(
    State(ctx): State<Ctx>,
    Who(a): Who,
    uri: Uri,
    Q(f): Q<ProductionFilter>,
) -> AppResult<Json<Page<Production>>> {
    Ok(paged(&uri, service::list(&ctx, &a, f).await?))
}
async fn create(
    State(ctx): State<Ctx>,
    Who(a): Who,
    J(input): J<ProductionInput>,
) -> AppResult<(StatusCode, Json<Production>)> {
    Ok((
        StatusCode::CREATED,
        Json(service::create(&ctx, &a, input).await?),
    ))
}
async fn get_one(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
) -> AppResult<Json<Production>> {
    service::get(&ctx, &a, id).await.map(Json)
}
async fn patch(
    State(ctx): State<Ctx>,
    Who(a): Who,
    P(id): P<i64>,
    J(input): J<ProductionInput>,
) -> AppResult<Json<Production>> {
    service::update(&ctx, &a, id, input).await.map(Json)
}
async fn delete(State(ctx): State<Ctx>, Who(a): Who, P(id): P<i64>) -> AppResult<Json<Message>> {
    service::delete(&ctx, &a, id).await.map(Json)
}

pub fn routes(api: Api) -> Api {
    let t = "productions";
    api.get(
        "/api/productions/",
        list,
        Op::new(t, "Product lines you may see")
            .query::<ProductionFilter>()
            .ok_page::<Production>()
            .perm("business.view_business, or view_business on each"),
    )
    .post(
        "/api/productions/",
        create,
        Op::new(
            t,
            "Create a product line (the creator may then view, edit and delete it)",
        )
        .body::<ProductionInput>()
        .ok::<Production>()
        .created()
        .perm("business.add_business"),
    )
    .get(
        "/api/productions/{id}/",
        get_one,
        Op::new(t, "Get a product line")
            .ok::<Production>()
            .perm("view_business on it"),
    )
    .patch(
        "/api/productions/{id}/",
        patch,
        Op::new(t, "Rename or describe a product line")
            .body::<ProductionInput>()
            .ok::<Production>()
            .perm("edit_business on it"),
    )
    .delete(
        "/api/productions/{id}/",
        delete,
        Op::new(t, "Delete an empty product line").perm("delete_business on it"),
    )
}
