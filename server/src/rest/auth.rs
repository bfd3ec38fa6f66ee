use crate::api::{Api, Op};
use crate::http::{Who, J};
use app::auth::{service, session, types::*};
use app::common::Message;
use app::ctx::Ctx;
use app::error::AppResult;
use axum::{extract::State, Json};
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

pub fn routes(api: Api) -> Api {
    api.post(
        "/api/auth/login/",
        login,
        Op::new("auth", "Sign in; sets the session cookie")
            .body::<LoginInput>()
            .ok::<Me>()
            .perm("none"),
    )
    .post(
        "/api/auth/logout/",
        logout,
        Op::new("auth", "Sign out").perm("signed in"),
    )
    .get(
        "/api/auth/me/",
        me,
        Op::new("auth", "The signed-in user and the modules they may use")
            .ok::<Me>()
            .perm("signed in"),
    )
    .post(
        "/api/auth/forgot-password/",
        forgot,
        Op::new(
            "auth",
            "Mail a single-use reset link (always answers success)",
        )
        .body::<ForgotPassword>()
        .perm("none"),
    )
    .post(
        "/api/auth/reset-password/",
        reset,
        Op::new("auth", "Set a new password with a mailed token")
            .body::<ResetPassword>()
            .perm("none"),
    )
}
