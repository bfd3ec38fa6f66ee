//! Server functions of bulk import (exports are plain GET downloads: `/api/*/export.csv`).
use super::types::*;
use crate::common::{Page, PageQuery};
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

/// Queues a CSV import.
#[server(prefix = "/rpc", input = Json)]
pub async fn start_import(input: ImportInput) -> Result<ImportRun, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::start(&ctx, &actor, input).await
}

/// An import's progress and result.
#[server(prefix = "/rpc", input = Json)]
pub async fn get_import(id: i64) -> Result<ImportRun, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::get(&ctx, &actor, id).await
}

/// Your imports, newest first.
#[server(prefix = "/rpc", input = Json)]
pub async fn list_imports(page: PageQuery) -> Result<Page<ImportRun>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::list(&ctx, &actor, page).await
}
