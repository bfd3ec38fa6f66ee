//! Server functions of certificates (downloads are plain links to the REST API).
use super::types::*;
use crate::common::Page;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

/// Certificates the caller may see, soonest expiry first.
#[server(prefix = "/rpc", input = Json)]
pub async fn list_certificates(filter: CertFilter) -> Result<Page<Certificate>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::list(&ctx, &actor, filter).await
}

/// One certificate with its PEM.
#[server(prefix = "/rpc", input = Json)]
pub async fn get_certificate(id: i64) -> Result<Certificate, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::get(&ctx, &actor, id).await
}

/// Uploads a certificate issued elsewhere.
#[server(prefix = "/rpc", input = Json)]
pub async fn upload_certificate(input: CertUpload) -> Result<Certificate, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::upload(&ctx, &actor, input).await
}

/// Opsdeck's CA certificate, PEM.
#[server(prefix = "/rpc", input = Json)]
pub async fn ca_certificate() -> Result<String, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    Ok(super::service::ca_certificate(&ctx, &actor).await?.body)
}
