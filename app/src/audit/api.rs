//! Server functions of the audit log.
use super::types::*;
use crate::common::Page;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

/// The audit log, filtered.
#[server(prefix = "/rpc", input = Json)]
pub async fn list_audit(filter: AuditFilter) -> Result<Page<AuditEntry>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::list(&ctx, &actor, filter).await
}
