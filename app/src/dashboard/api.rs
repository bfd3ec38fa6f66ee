//! Server functions of the dashboard.
use super::types::*;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

/// The dashboard numbers of the caller.
#[server(prefix = "/rpc", input = Json)]
pub async fn dashboard_summary() -> Result<Summary, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::summary(&ctx, &actor).await
}
