//! Server functions of tasks.
use super::types::*;
use crate::common::Message;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

/// One task with its per-host results.
#[server(prefix = "/rpc", input = Json)]
pub async fn get_task(id: i64) -> Result<Task, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::get(&ctx, &actor, id).await
}

/// Stored output of a task.
#[server(prefix = "/rpc", input = Json)]
pub async fn task_output(id: i64, query: OutputQuery) -> Result<OutputPage, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::output(&ctx, &actor, id, query).await
}

/// Cancels a running task.
#[server(prefix = "/rpc", input = Json)]
pub async fn cancel_task(id: i64) -> Result<Message, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::cancel(&ctx, &actor, id).await
}
