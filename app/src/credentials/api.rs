//! Server functions of SSH access.
use super::types::*;
use crate::common::{Message, Page};
use crate::error::AppError;
use crate::exec::types::TaskStarted;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

/// SSH credentials (host managers).
#[server(prefix = "/rpc", input = Json)]
pub async fn list_ssh_credentials(
    filter: SshCredentialFilter,
) -> Result<Page<SshCredential>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::list(&ctx, &actor, filter).await
}

/// Adds an SSH credential.
#[server(prefix = "/rpc", input = Json)]
pub async fn create_ssh_credential(input: SshCredentialInput) -> Result<SshCredential, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::create(&ctx, &actor, input).await
}

/// Edits an SSH credential (a new secret replaces the old one).
#[server(prefix = "/rpc", input = Json)]
pub async fn update_ssh_credential(
    id: i64,
    input: SshCredentialInput,
) -> Result<SshCredential, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::update(&ctx, &actor, id, input).await
}

/// Deletes an SSH credential no host uses.
#[server(prefix = "/rpc", input = Json)]
pub async fn delete_ssh_credential(id: i64) -> Result<Message, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::delete(&ctx, &actor, id).await
}

/// How Opsdeck reaches a host.
#[server(prefix = "/rpc", input = Json)]
pub async fn get_host_access(host_id: i64) -> Result<HostAccess, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::get_access(&ctx, &actor, host_id).await
}

/// Sets how Opsdeck reaches a host.
#[server(prefix = "/rpc", input = Json)]
pub async fn set_host_access(host_id: i64, input: HostAccessInput) -> Result<HostAccess, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::set_access(&ctx, &actor, host_id, input).await
}

/// Accepts the key a host offered instead of its pinned one.
#[server(prefix = "/rpc", input = Json)]
pub async fn accept_offered_host_key(
    host_id: i64,
    input: AcceptHostKey,
) -> Result<HostAccess, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::accept_host_key(&ctx, &actor, host_id, input).await
}

/// Starts an SSH check of a host.
#[server(prefix = "/rpc", input = Json)]
pub async fn check_host_ssh(host_id: i64) -> Result<TaskStarted, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::check_ssh(&ctx, &actor, host_id).await
}

/// My SSH public keys.
#[server(prefix = "/rpc", input = Json)]
pub async fn my_ssh_keys() -> Result<Vec<UserSshKey>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::my_ssh_keys(&ctx, &actor).await
}

/// Adds one of my SSH public keys.
#[server(prefix = "/rpc", input = Json)]
pub async fn add_my_ssh_key(input: UserSshKeyInput) -> Result<UserSshKey, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::add_my_ssh_key(&ctx, &actor, input).await
}

/// Removes one of my SSH public keys.
#[server(prefix = "/rpc", input = Json)]
pub async fn delete_my_ssh_key(id: i64) -> Result<Message, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::delete_my_ssh_key(&ctx, &actor, id).await
}
