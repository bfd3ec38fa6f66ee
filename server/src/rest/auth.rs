use super::route;
use crate::http::{Who, J};
use app::auth::{service, session, types::*};
use app::common::Message;
use app::ctx::Ctx;
use app::error::AppResult;
use axum::{
    extract::State,
    routing::{get, post},
    Json, Router,
};
use tower_sessions::Session;

async fn login(
    State(ctx): State<Ctx>,
    Who(a): Who,
    s: Session,
    J(input): J<LoginInput>,
) -> AppResult<Json<Me>> {
    session::login(&ctx, &a, &s, input).await.map(Json)
}
async fn logout(State(ctx): State<Ctx>, Who(a): Who, s: Session) -> AppResult<Json<Message>> {
    session::logout(&ctx, &a, &s).await.map(Json)
}
async fn me(State(ctx): State<Ctx>, Who(a): Who) -> AppResult<Json<Me>> {
    service::me(&ctx, &a).await.map(Json)
}
async fn forgot(
    State(ctx): State<Ctx>,
    Who(a): Who,
    J(input): J<ForgotPassword>,
) -> AppResult<Json<Message>> {
    service::forgot_password(&ctx, &a, None, input)
        .await
        .map(Json)
}
async fn reset(
    State(ctx): State<Ctx>,
    Who(a): Who,
    J(input): J<ResetPassword>,
) -> AppResult<Json<Message>> {
    service::reset_password(&ctx, &a, input).await.map(Json)
}

pub fn routes(r: Router<crate::AppState>) -> Router<crate::AppState> {
    let r = route(r, "/api/auth/login/", post(login));
    let r = route(r, "/api/auth/logout/", post(logout));
    let r = route(r, "/api/auth/me/", get(me));
    let r = route(r, "/api/auth/forgot-password/", post(forgot));
    route(r, "/api/auth/reset-password/", post(reset))
}
