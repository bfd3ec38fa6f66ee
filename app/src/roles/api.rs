//! Server functions of roles.
use super::types::*;
use crate::common::{Message, Page};
use crate::error::AppError;
use crate::users::types::User;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

/// Lists roles.
#[server(prefix = "/rpc", input = Json)]
pub async fn list_roles(filter: RoleFilter) -> Result<Page<Role>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::list(&ctx, &actor, filter).await
}

/// One role.
/// A role by its exact name.
#[server(prefix = "/rpc", input = Json)]
pub async fn role_by_name(name: String) -> Result<Role, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::by_name(&ctx, &actor, &name).await
}

#[server(prefix = "/rpc", input = Json)]
pub async fn get_role(id: i64) -> Result<Role, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::get(&ctx, &actor, id).await
}

/// Creates a role.
#[server(prefix = "/rpc", input = Json)]
pub async fn create_role(input: RoleInput) -> Result<Role, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::create(&ctx, &actor, input).await
}

/// Deletes a role.
#[server(prefix = "/rpc", input = Json)]
pub async fn delete_role(id: i64) -> Result<Message, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::delete(&ctx, &actor, id).await
}

/// The members of a role.
#[server(prefix = "/rpc", input = Json)]
pub async fn role_members(id: i64) -> Result<Vec<User>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::members(&ctx, &actor, id).await
}

/// Adds (`add`) or removes users to/from a role.
#[server(prefix = "/rpc", input = Json)]
pub async fn change_members(
    role_id: i64,
    user_ids: Vec<i64>,
    add: bool,
) -> Result<Message, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    let pairs = user_ids.into_iter().map(|u| (u, role_id)).collect();
    super::service::change_membership(&ctx, &actor, pairs, add).await
}
