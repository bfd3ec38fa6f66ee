//! DNS services: servers, zones, records, the push outbox and drift. Permissions: module `dns`
//! (`enable_dns_mgmt` to use it at all; `manage_dns_server` to create, edit and delete services
//! and zones, and it holds every zone permission); per zone `view_domain` (read records, drift)
//! and `edit_domain` (change records, resolve drift), granted as resource type `dns_domain`.
//!
//! Every record change writes, in one transaction (the zone's row locked first on PostgreSQL;
//! SQLite's `BEGIN IMMEDIATE` serializes writers anyway): the rows (state `pending`), one
//! `dns_outbox` row per touched name and type (the rows' `push_seq`), the audit record and a
//! `dns_push` job. `push_zone` sends the outbox in order (see `push.rs`).
use crate::audit::service::Entry;
use crate::ctx::{Actor, Ctx};
use crate::dns::driver::{Conn, DriverError, ErrorKind};
use crate::entities::{dns_domain, dns_record, dns_service, user};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::perms::service::{authorize_module, authorize_resource};
use crate::perms::types::ResourceType;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde_json::{json, Value};
use std::collections::HashMap;

mod drift;
mod push;
mod records;
pub mod requested;
mod servers;
mod zones;

pub use drift::*;
pub use push::{hold_push_lock, push_job, push_zone, PushLock};
pub use records::*;
pub use servers::*;
pub use zones::*;

pub(crate) const DOMAIN: ResourceType = ResourceType::DnsDomain;
/// Encryption contexts of the two secret columns (registered in `crypto::SECRET_COLUMNS`).
pub const API_KEY_CTX: &str = "dns_services.api_key_enc";
/// Encryption context of `dns_services.tsig_secret_enc`.
pub const TSIG_SECRET_CTX: &str = "dns_services.tsig_secret_enc";

/// The module's enable flag.
async fn may_use(ctx: &Ctx, actor: &Actor) -> AppResult<()> {
    authorize_module(ctx, actor, "dns", "enable_dns_mgmt").await
}

/// Managing servers and zones.
async fn may_manage(ctx: &Ctx, actor: &Actor) -> AppResult<()> {
    authorize_module(ctx, actor, "dns", "manage_dns_server").await
}

/// The module enabled and `perm` (`view_domain`/`edit_domain`) on the zone.
async fn authorize_zone(ctx: &Ctx, actor: &Actor, did: i64, perm: &str) -> AppResult<()> {
    may_use(ctx, actor).await?;
    authorize_resource(ctx, actor, DOMAIN, did, perm).await
}

async fn load_service<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<dns_service::Model> {
    dns_service::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("DNS service"))
}

/// The zone `did` of service `sid` (404 when it is not that service's).
async fn load_zone<C: ConnectionTrait>(db: &C, sid: i64, did: i64) -> AppResult<dns_domain::Model> {
    dns_domain::Entity::find_by_id(did)
        .one(db)
        .await?
        .filter(|d| d.service_id == sid)
        .ok_or_else(|| AppError::not_found("domain"))
}

/// Reads the zone's row for the rest of `txn`, locked on PostgreSQL (`FOR UPDATE`): every
/// transaction that changes a zone's records (and the pusher's bookkeeping) takes it first, so
/// writers of one zone queue and clash checks see what they guard.
async fn lock_zone<C: ConnectionTrait>(txn: &C, did: i64) -> AppResult<dns_domain::Model> {
    let mut q = dns_domain::Entity::find_by_id(did);
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        q = q.lock_exclusive();
    }
    q.one(txn)
        .await?
        .ok_or_else(|| AppError::not_found("domain"))
}

/// The connection to a service's server, secrets decrypted.
async fn conn_of(ctx: &Ctx, s: &dns_service::Model) -> AppResult<Conn> {
    let keys = crate::crypto::Keyring::from_config(&ctx.config)?;
    let secret = |v: &Option<String>, c: &str| -> AppResult<String> {
        match v {
            Some(v) => keys.decrypt(v, c),
            None => Ok(String::new()),
        }
    };
    Ok(match s.service_type.as_str() {
        "powerdns" => Conn::PowerDns {
            endpoint: s.api_endpoint.clone(),
            api_key: secret(&s.api_key_enc, API_KEY_CTX)?,
            server_id: s.server_id.clone(),
        },
        _ => Conn::Bind {
            addr: servers::resolve_addr(&s.api_endpoint).await.map_err(|m| {
                AppError::new(
                    ErrorCode::Unavailable,
                    format!("DNS service {}: {m}", s.name),
                )
            })?,
            tsig_key_name: s.tsig_key_name.clone().unwrap_or_default(),
            tsig_algorithm: s.tsig_algorithm.clone().unwrap_or_default(),
            tsig_secret: secret(&s.tsig_secret_enc, TSIG_SECRET_CTX)?,
        },
    })
}

/// A driver failure as the caller sees it: unreachable → 503, zone exists → 409, anything
/// else the server refused → 400; always with what the server said.
fn driver_err(e: DriverError) -> AppError {
    let m = format!("the DNS server answered: {}", e);
    match e.kind {
        ErrorKind::Unreachable => AppError::new(ErrorCode::Unavailable, m),
        ErrorKind::Conflict => AppError::conflict(m),
        _ => AppError::bad_request(m),
    }
}

/// An audit entry of the DNS log: `target` is `server`, `domain` or `record`; `message` is
/// what `/audit/dns-operations/` shows as `op_detail`.
fn entry(op: &str, target: &str, id: i64, name: &str, message: String, extra: Value) -> Entry {
    let mut detail = json!({ "message": message });
    if let (Value::Object(d), Value::Object(x)) = (&mut detail, extra) {
        d.extend(x);
    }
    Entry::new("dns", op)
        .target(target, Some(id), name)
        .detail(detail)
}

/// User names by id (`users::service::NameCache`).
async fn user_names(ctx: &Ctx, ids: &[i64]) -> AppResult<HashMap<i64, String>> {
    ctx.names.names(&ctx.db, ids.iter().copied()).await
}

/// The `dns_push` jobs of zone `did` waiting to run (`status = queued`).
async fn queued_pushes<C: ConnectionTrait>(
    db: &C,
    did: i64,
) -> AppResult<Vec<crate::entities::job::Model>> {
    use crate::entities::job;
    Ok(job::Entity::find()
        .filter(job::Column::Status.eq("queued"))
        .filter(job::Column::Kind.eq("dns_push"))
        .filter(job::Column::Payload.eq(json!({ "domain_id": did }).to_string()))
        .all(db)
        .await?)
}

/// Queues a push of zone `did`, inside the writing transaction. At most one `dns_push` job of a
/// zone waits: when one is queued it is woken, unless it waits out the backoff of a failed
/// attempt (its `last_error`: writes never cut that short, so a server that is down is not
/// hammered); otherwise one is queued. A job that is running does not count: it may have read
/// the outbox before this change, and the queued one runs after it (a pusher that finds the
/// zone's push lock taken ends and comes back shortly, see `push::push_job`), so a zone has at
/// most one queued and one running push.
async fn queue_push<C: ConnectionTrait>(txn: &C, did: i64) -> AppResult<()> {
    use crate::entities::job;
    use sea_orm::sea_query::Expr;
    let queued = queued_pushes(txn, did).await?;
    if queued.is_empty() {
        crate::jobs::enqueue(txn, "dns_push", &json!({ "domain_id": did })).await?;
        return Ok(());
    }
    let now = crate::time::now();
    let wake: Vec<i64> = queued
        .iter()
        .filter(|j| j.last_error.is_none() && j.run_after > now)
        .map(|j| j.id)
        .collect();
    if !wake.is_empty() {
        job::Entity::update_many()
            .col_expr(job::Column::RunAfter, Expr::value(now))
            .filter(job::Column::Id.is_in(wake))
            .filter(job::Column::Status.eq("queued"))
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// Records of zone `did` grouped by (name, type): used by push and drift.
fn group(
    rows: Vec<dns_record::Model>,
) -> std::collections::BTreeMap<(String, String), Vec<dns_record::Model>> {
    let mut out: std::collections::BTreeMap<(String, String), Vec<dns_record::Model>> =
        Default::default();
    for r in rows {
        out.entry((r.name.clone(), r.rtype.clone()))
            .or_default()
            .push(r);
    }
    out
}
