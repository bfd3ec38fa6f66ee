//! Server functions of resource requests (the UI's calls), thin adapters over the service.
use super::types::*;
use crate::common::{Message, Page};
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

/// A page of requests of a kind.
#[server(prefix = "/rpc", input = Json)]
pub async fn list_requests(
    kind: RequestKind,
    filter: RequestFilter,
) -> Result<Page<ResourceRequest>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::list(&ctx, &actor, kind, filter).await
}

/// One request with its decisions and timeline.
#[server(prefix = "/rpc", input = Json)]
pub async fn get_request(kind: RequestKind, id: i64) -> Result<ResourceRequest, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::get(&ctx, &actor, kind, id).await
}

/// Files a request.
#[server(prefix = "/rpc", input = Json)]
pub async fn create_request(
    kind: RequestKind,
    input: RequestInput,
) -> Result<ResourceRequest, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::create(&ctx, &actor, kind, input).await
}

/// Edits one's request while it waits for review.
#[server(prefix = "/rpc", input = Json)]
pub async fn update_request(
    kind: RequestKind,
    id: i64,
    input: RequestInput,
) -> Result<ResourceRequest, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::update(&ctx, &actor, kind, id, input).await
}

/// Approve (with the `content_version` shown), reject (a reason is required here), close,
/// deliver, cancel.
#[server(prefix = "/rpc", input = Json)]
pub async fn request_action(
    kind: RequestKind,
    id: i64,
    action: String,
    reason: Option<String>,
    content_version: Option<String>,
) -> Result<Message, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    use super::service as s;
    match action.as_str() {
        "approve" => s::approve(&ctx, &actor, kind, id, ApproveInput { content_version }).await,
        "reject" => {
            let reason = reason.unwrap_or_default();
            crate::approvals::types::validate_reason(&reason, true)
                .map_err(|m| AppError::invalid("reason", m))?;
            let input = crate::approvals::types::RejectInput {
                reason: Some(reason),
            };
            s::reject(&ctx, &actor, kind, id, input).await
        }
        "close" => s::close(&ctx, &actor, kind, id).await,
        "deliver" => s::deliver(&ctx, &actor, id).await,
        "cancel" => s::cancel(&ctx, &actor, kind, id, CancelInput { reason }).await,
        _ => Err(AppError::invalid("action", "unknown action")),
    }
}

/// The approver inbox badge.
#[server(prefix = "/rpc", input = Json)]
pub async fn inbox_count() -> Result<super::types::InboxCount, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::inbox_count(&ctx, &actor).await
}

/// Finishes an approved SSL request with a certificate issued elsewhere (approvers).
#[server(prefix = "/rpc", input = Json)]
pub async fn upload_request_certificate(
    id: i64,
    input: CertificateUpload,
) -> Result<Message, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::upload(&ctx, &actor, id, input).await
}

/// A login user of a host request by exact username (requesters may not list users).
#[server(prefix = "/rpc", input = Json)]
pub async fn request_login_user(username: String) -> Result<UserRef, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::login_user(&ctx, &actor, &username).await
}
