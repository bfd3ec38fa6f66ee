//! Server functions of applications.
use super::types::*;
use crate::common::{IdRef, Message, Page};
use crate::error::AppError;
use crate::hosts::types::{Instance, InstanceOnHost};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

/// Rows per page of the lists on the application and host pages (they page, never truncate).
pub const UI_PAGE: u64 = 50;

/// Applications the caller may see.
#[server(prefix = "/rpc", input = Json)]
pub async fn list_applications(filter: AppFilter) -> Result<Page<Application>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::list(&ctx, &actor, filter).await
}

/// One application.
#[server(prefix = "/rpc", input = Json)]
pub async fn get_application(id: i64) -> Result<Application, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::get(&ctx, &actor, id).await
}

/// An application by its full name.
#[server(prefix = "/rpc", input = Json)]
pub async fn application_by_name(full_name: String) -> Result<Application, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::by_full_name(&ctx, &actor, &full_name).await
}

/// Creates an application.
#[server(prefix = "/rpc", input = Json)]
pub async fn create_application(input: AppInput) -> Result<Application, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::create(&ctx, &actor, input).await
}

/// Edits, renames or moves an application.
#[server(prefix = "/rpc", input = Json)]
pub async fn update_application(id: i64, input: AppInput) -> Result<Application, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::update(&ctx, &actor, id, input).await
}

/// Deletes an application.
#[server(prefix = "/rpc", input = Json)]
pub async fn delete_application(id: i64, force: bool) -> Result<Message, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::delete(&ctx, &actor, id, force).await
}

/// Children of an application, a page (1-based; pages of `UI_PAGE`) at a time.
#[server(prefix = "/rpc", input = Json)]
pub async fn application_children(
    id: i64,
    #[server(default)] page: u64,
) -> Result<Page<Application>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    let f = AppFilter {
        page: crate::common::PageQuery {
            page: Some(page.max(1)),
            page_size: Some(UI_PAGE),
        },
        ..Default::default()
    };
    super::service::child_apps(&ctx, &actor, id, f).await
}

/// Dependencies and dependants of an application, for the picture.
#[server(prefix = "/rpc", input = Json)]
pub async fn application_graph(id: i64) -> Result<DepGraph, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::dependency_graph(&ctx, &actor, id).await
}

/// Adds dependencies.
#[server(prefix = "/rpc", input = Json)]
pub async fn add_dependency(id: i64, required: Vec<IdRef>) -> Result<Message, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::add_required(&ctx, &actor, id, required).await
}

/// Removes dependencies.
#[server(prefix = "/rpc", input = Json)]
pub async fn remove_dependency(id: i64, required: Vec<IdRef>) -> Result<Message, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::remove_required(&ctx, &actor, id, required).await
}

/// Response persons of an application, a page at a time.
#[server(prefix = "/rpc", input = Json)]
pub async fn application_owners(
    id: i64,
    #[server(default)] page: u64,
) -> Result<Page<super::types::Owner>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    let page = crate::common::PageQuery {
        page: Some(page.max(1)),
        page_size: Some(UI_PAGE),
    };
    super::service::owners(&ctx, &actor, id, page).await
}

/// Instances of an application, a page at a time.
#[server(prefix = "/rpc", input = Json)]
pub async fn application_instances(
    id: i64,
    #[server(default)] page: u64,
) -> Result<Page<Instance>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    let page = crate::common::PageQuery {
        page: Some(page.max(1)),
        page_size: Some(UI_PAGE),
    };
    crate::hosts::service::instances(&ctx, &actor, id, page).await
}

/// Adds instances of an application on hosts (given by id or name).
#[server(prefix = "/rpc", input = Json)]
pub async fn attach_instances(id: i64, on: Vec<InstanceOnHost>) -> Result<Vec<Instance>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    crate::hosts::service::add_instances(&ctx, &actor, id, on).await
}

/// Removes instances.
#[server(prefix = "/rpc", input = Json)]
pub async fn detach_instances(id: i64, ids: Vec<IdRef>) -> Result<Message, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    crate::hosts::service::remove_instances(&ctx, &actor, id, ids).await
}
