//! Server functions of auth (the UI's adapters).
use super::types::*;
use crate::common::Message;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

#[cfg(feature = "ssr")]
async fn session() -> Result<tower_sessions::Session, AppError> {
    leptos_axum::extract::<tower_sessions::Session>()
        .await
        .map_err(AppError::internal)
}

/// Signs in and starts a session.
#[server(prefix = "/rpc", input = Json)]
pub async fn login(input: LoginInput) -> Result<Me, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::session::login(&ctx, &actor, &session().await?, input).await
}

/// Signs out.
#[server(prefix = "/rpc", input = Json)]
pub async fn logout() -> Result<Message, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::session::logout(&ctx, &actor, &session().await?).await
}

/// The signed-in user, or `None`.
#[server(prefix = "/rpc", input = Json)]
pub async fn current_user() -> Result<Option<Me>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    if actor.id == 0 {
        return Ok(None);
    }
    super::service::me(&ctx, &actor).await.map(Some)
}

/// Mails a reset link.
#[server(prefix = "/rpc", input = Json)]
pub async fn request_password_reset(input: ForgotPassword) -> Result<Message, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::forgot_password(&ctx, &actor, None, input).await
}

/// Sets a new password with a reset token.
#[server(prefix = "/rpc", input = Json)]
pub async fn apply_password_reset(input: ResetPassword) -> Result<Message, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::reset_password(&ctx, &actor, input).await
}
