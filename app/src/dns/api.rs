//! Server functions of DNS, for the UI: services, zones, records and drift.
use super::types::*;
use crate::common::{Message, Page};
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

/// DNS services (no secrets).
#[server(prefix = "/rpc", input = Json)]
pub async fn list_dns_services(filter: DnsServiceFilter) -> Result<Page<DnsService>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::list_services(&ctx, &actor, filter).await
}

/// Asks a service's server whether it answers.
#[server(prefix = "/rpc", input = Json)]
pub async fn test_dns_service(id: i64) -> Result<ConnTest, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::test_service(&ctx, &actor, id).await
}

/// Zones of a service the caller may view.
#[server(prefix = "/rpc", input = Json)]
pub async fn list_dns_domains(
    service_id: i64,
    filter: DomainFilter,
) -> Result<Page<DnsDomain>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::list_domains(&ctx, &actor, service_id, filter).await
}

/// Records of a zone.
#[server(prefix = "/rpc", input = Json)]
pub async fn list_dns_records(
    service_id: i64,
    domain_id: i64,
    filter: RecordFilter,
) -> Result<Page<DnsRecord>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::list_records(&ctx, &actor, service_id, domain_id, filter).await
}

/// Adds records to a zone (all or nothing).
#[server(prefix = "/rpc", input = Json)]
pub async fn add_dns_records(
    service_id: i64,
    domain_id: i64,
    records: Vec<RecordInput>,
) -> Result<Vec<DnsRecord>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::create_records(&ctx, &actor, service_id, domain_id, records, true).await
}

/// Edits one record.
#[server(prefix = "/rpc", input = Json)]
pub async fn update_dns_record(
    service_id: i64,
    domain_id: i64,
    record_id: i64,
    patch: RecordPatch,
) -> Result<DnsRecord, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::update_record(&ctx, &actor, service_id, domain_id, record_id, patch).await
}

/// Deletes one record.
#[server(prefix = "/rpc", input = Json)]
pub async fn delete_dns_record(
    service_id: i64,
    domain_id: i64,
    record_id: i64,
) -> Result<Message, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::delete_record(&ctx, &actor, service_id, domain_id, record_id).await
}

/// Disables (`disabled` true) or enables records.
#[server(prefix = "/rpc", input = Json)]
pub async fn set_dns_records_disabled(
    service_id: i64,
    domain_id: i64,
    ids: Vec<i64>,
    disabled: bool,
) -> Result<Message, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    let ids = ids
        .into_iter()
        .map(|id| crate::common::IdRef { id })
        .collect();
    super::service::set_disabled(&ctx, &actor, service_id, domain_id, ids, disabled).await
}

/// Differences between Opsdeck's records and the server's.
#[server(prefix = "/rpc", input = Json)]
pub async fn dns_drift(service_id: i64, domain_id: i64) -> Result<Vec<DriftEntry>, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::drift(&ctx, &actor, service_id, domain_id).await
}

/// Resolves one difference: push ours or adopt theirs.
#[server(prefix = "/rpc", input = Json)]
pub async fn resolve_dns_drift(
    service_id: i64,
    domain_id: i64,
    resolve: DriftResolve,
) -> Result<Message, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::resolve_drift(&ctx, &actor, service_id, domain_id, resolve).await
}

/// One DNS service (no secrets).
#[server(prefix = "/rpc", input = Json)]
pub async fn get_dns_service(id: i64) -> Result<DnsService, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::get_service(&ctx, &actor, id).await
}

/// Registers a DNS service (secrets are write-only).
#[server(prefix = "/rpc", input = Json)]
pub async fn create_dns_service(input: DnsServiceInput) -> Result<DnsService, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::create_service(&ctx, &actor, input).await
}

/// One zone, with its push state.
#[server(prefix = "/rpc", input = Json)]
pub async fn get_dns_domain(service_id: i64, domain_id: i64) -> Result<DnsDomain, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::get_domain(&ctx, &actor, service_id, domain_id).await
}

/// Creates a zone on a service, or adopts one the server already serves.
#[server(prefix = "/rpc", input = Json)]
pub async fn create_dns_domain(service_id: i64, input: DomainInput) -> Result<DnsDomain, AppError> {
    let (ctx, actor) = crate::rpc::ctx_actor().await?;
    super::service::create_domain(&ctx, &actor, service_id, input).await
}
