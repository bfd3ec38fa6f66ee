//! Server functions of product lines.
use super::types::*;
use crate::common::{Message, Page};
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

/// Product lines the caller may see.
#[server(prefix = "/rpc", input = Json)]
pub async fn list_productions(filter: ProductionFilter) -> Result<Page<Production>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::list(&ctx, &actor, filter).await
}

/// Creates a product line.
/// A product line by its exact name.
#[server(prefix = "/rpc", input = Json)]
pub async fn production_by_name(name: String) -> Result<Production, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::by_name(&ctx, &actor, &name).await
}

#[server(prefix = "/rpc", input = Json)]
pub async fn create_production(input: ProductionInput) -> Result<Production, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::create(&ctx, &actor, input).await
}

/// Renames or describes a product line.
#[server(prefix = "/rpc", input = Json)]
pub async fn update_production(id: i64, input: ProductionInput) -> Result<Production, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::update(&ctx, &actor, id, input).await
}

/// Deletes an empty product line.
#[server(prefix = "/rpc", input = Json)]
pub async fn delete_production(id: i64) -> Result<Message, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::delete(&ctx, &actor, id).await
}
