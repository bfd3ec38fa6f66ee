//! Server functions of hosts.
use super::types::*;
use crate::applications::types::Application;
use crate::common::{Message, Page};
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

/// Hosts the caller may see.
#[server(prefix = "/rpc", input = Json)]
pub async fn list_hosts(filter: HostFilter) -> Result<Page<Host>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::list(&ctx, &actor, filter).await
}

/// One host.
#[server(prefix = "/rpc", input = Json)]
pub async fn get_host(id: i64) -> Result<Host, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::get(&ctx, &actor, id).await
}

/// A host by its name.
#[server(prefix = "/rpc", input = Json)]
pub async fn host_by_name(name: String) -> Result<Host, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::by_name(&ctx, &actor, &name).await
}

/// Adds a host.
#[server(prefix = "/rpc", input = Json)]
pub async fn create_host(input: HostInput) -> Result<Host, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::create(&ctx, &actor, input).await
}

/// Edits a host.
#[server(prefix = "/rpc", input = Json)]
pub async fn update_host(id: i64, input: HostInput) -> Result<Host, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::update(&ctx, &actor, id, input).await
}

/// Deletes a host.
#[server(prefix = "/rpc", input = Json)]
pub async fn delete_host(id: i64, force: bool) -> Result<Message, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::delete(&ctx, &actor, id, force).await
}

/// Applications with an instance on a host, a page at a time.
#[server(prefix = "/rpc", input = Json)]
pub async fn host_applications(
    id: i64,
    #[server(default)] page: u64,
) -> Result<Page<Application>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    let f = crate::applications::types::AppFilter {
        page: crate::common::PageQuery {
            page: Some(page.max(1)),
            page_size: Some(crate::applications::api::UI_PAGE),
        },
        ..Default::default()
    };
    super::service::applications(&ctx, &actor, id, f).await
}
