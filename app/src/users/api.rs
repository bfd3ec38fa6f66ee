//! Server functions of users.
use super::types::*;
use crate::common::{Message, Page};
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

/// Lists users.
#[server(prefix = "/rpc", input = Json)]
pub async fn list_users(filter: UserFilter) -> Result<Page<User>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::list(&ctx, &actor, filter).await
}

/// One user.
#[server(prefix = "/rpc", input = Json)]
pub async fn get_user(id: i64) -> Result<User, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::get(&ctx, &actor, id).await
}

/// Creates a user.
#[server(prefix = "/rpc", input = Json)]
pub async fn add_user(input: CreateUser) -> Result<User, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::create(&ctx, &actor, input).await
}

/// Edits a user's profile.
#[server(prefix = "/rpc", input = Json)]
pub async fn edit_user(id: i64, input: UpdateUser) -> Result<User, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::update(&ctx, &actor, id, input).await
}

/// Enables or disables a user.
#[server(prefix = "/rpc", input = Json)]
pub async fn set_user_status(id: i64, enabled: bool) -> Result<Message, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::set_status(&ctx, &actor, id, enabled).await
}

/// Changes the caller's own password.
#[server(prefix = "/rpc", input = Json)]
pub async fn change_my_password(input: ChangePassword) -> Result<Message, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    let session = leptos_axum::extract::<tower_sessions::Session>()
        .await
        .map_err(AppError::internal)?;
    crate::auth::session::change_password(&ctx, &actor, &session, actor.id, input).await
}

/// One user by exact username.
#[server(prefix = "/rpc", input = Json)]
pub async fn find_user(username: String) -> Result<User, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::by_username(&ctx, &actor, &username).await
}
