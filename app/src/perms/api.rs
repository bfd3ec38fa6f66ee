//! Server functions of permissions.
use super::types::*;
use crate::common::Message;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

/// Module flags held directly by a user or role.
#[server(prefix = "/rpc", input = Json)]
pub async fn get_module_perms(subject: SubjectType, id: i64) -> Result<Vec<ModulePerms>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::module_perms_of(&ctx, &actor, subject, id).await
}

/// Grants or revokes module flags.
#[server(prefix = "/rpc", input = Json)]
pub async fn grant_module_perms(
    subject: SubjectType,
    id: i64,
    grants: Vec<ModuleGrant>,
) -> Result<Message, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::grant_module_perms(&ctx, &actor, subject, id, grants).await
}

/// A user's effective permissions and where each comes from.
#[server(prefix = "/rpc", input = Json)]
pub async fn explain_perms(user_id: i64, query: ExplainQuery) -> Result<EffectivePerms, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::explain(&ctx, &actor, user_id, query).await
}

/// A subject's grants on resources of one kind.
#[server(prefix = "/rpc", input = Json)]
pub async fn get_resource_perms(
    subject: SubjectType,
    id: i64,
    rtype: ResourceType,
    filter: ResourcePermFilter,
) -> Result<crate::common::Page<ResourcePermRow>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::resource_perms_of(&ctx, &actor, subject, id, rtype, filter).await
}

/// Grants or revokes flags on resources.
#[server(prefix = "/rpc", input = Json)]
pub async fn set_resource_perms(
    subject: SubjectType,
    id: i64,
    rtype: ResourceType,
    req: ResourceGrantRequest,
) -> Result<Message, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::grant_resource_perms(&ctx, &actor, subject, id, rtype, req).await
}
