//! Server functions of API tokens.
use super::types::*;
use crate::common::{Message, Page};
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

/// The caller's tokens.
#[server(prefix = "/rpc", input = Json)]
pub async fn list_tokens(filter: TokenFilter) -> Result<Page<Token>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::list(&ctx, &actor, filter).await
}

/// Creates a token; the answer carries its value once.
#[server(prefix = "/rpc", input = Json)]
pub async fn create_token(input: TokenInput) -> Result<Token, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::create(&ctx, &actor, input).await
}

/// Revokes a token.
#[server(prefix = "/rpc", input = Json)]
pub async fn delete_token(id: i64) -> Result<Message, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::delete(&ctx, &actor, id).await
}
