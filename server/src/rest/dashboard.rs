use crate::api::{Api, Op};
use crate::http::Who;
use app::ctx::Ctx;
use app::dashboard::{service, types::Summary};
use app::error::AppResult;
use axum::extract::State;
use axum::Json;

async fn summary(State(ctx): State<Ctx>, Who(a): Who) -> AppResult<Json<Summary>> {
    service::summary(&ctx, &a).await.map(Json)
}

pub fn routes(api: Api) -> Api {
    api.get(
        "/api/dashboard/",
        summary,
        Op::new("dashboard", "Counts and distributions of what you may see")
            .ok::<Summary>()
            .perm("signed in; every number covers only what you may view"),
    )
}
