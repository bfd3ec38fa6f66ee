//! `push_zone`: sends a zone's outbox to its server in id order, one pusher per zone at a time.
//!
//! Each round reads up to `BATCH` outbox rows, computes every touched RRset's content from the
//! enabled rows as they are now (a set whose rows are all gone or disabled is deleted on the
//! server), sends them in one `apply`, then deletes those outbox rows and marks `synced` the
//! rows whose `push_seq` is at most the last id sent. Pushing the current content makes a
//! retry idempotent: add, edit and delete of one name while the server is down leave the
//! server with the final state only. A record is never `synced` before the server has it:
//! writers of a zone are serialized (its row is locked), so no change with a smaller outbox id
//! can commit after a larger one was read.
use super::records::rows_named;
use super::*;
use crate::dns::driver::RRSet;
use crate::dns::types::{to_content, DEFAULT_TTL};
use crate::entities::dns_outbox;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{QueryOrder, Statement, TransactionSession, TransactionTrait};
use std::collections::BTreeSet;
use std::sync::{Arc, LazyLock, Mutex};

/// Outbox rows sent in one `apply`.
const BATCH: u64 = 2000;
/// Advisory-lock keys of zones: this base plus the zone id.
const ADVISORY_BASE: i64 = 0x0D45_0000_0000_0000;
/// Longest `push_error` kept.
const MAX_ERROR: usize = 1000;

/// SQLite: one pusher per zone in this process (Opsdeck runs one process per SQLite file).
static ZONE_LOCKS: LazyLock<Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(Default::default);

fn zone_mutex(did: i64) -> Arc<tokio::sync::Mutex<()>> {
    ZONE_LOCKS
        .lock()
        .expect("zone locks")
        .entry(did)
        .or_default()
        .clone()
}

/// Pushes the outbox of zone `domain_id` to its server (the `dns_push` job, and the resource
/// requests' fulfilment). Ok when the outbox is empty afterwards (or the zone is gone); Err with
/// what went wrong otherwise, after recording it on the zone (`push_error`) and on the outbox
/// rows (`attempts`, `last_error`); the job retries. On PostgreSQL one pusher per zone across
/// processes (`pg_advisory_xact_lock` in a transaction held while pushing, which also carries
/// the pusher's reads and writes); on SQLite a process-wide mutex per zone.
pub async fn push_zone(ctx: &Ctx, domain_id: i64) -> Result<(), String> {
    let s = |e: sea_orm::DbErr| e.to_string();
    if ctx.db.get_database_backend() == sea_orm::DbBackend::Postgres {
        let txn = ctx.db.begin().await.map_err(s)?;
        txn.execute_raw(Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [(ADVISORY_BASE + domain_id).into()],
        ))
        .await
        .map_err(s)?;
        let r = push_locked(ctx, &txn, domain_id).await;
        txn.commit().await.map_err(s)?;
        r
    } else {
        let m = zone_mutex(domain_id);
        let _held = m.lock().await;
        push_locked(ctx, &ctx.db, domain_id).await
    }
}

async fn push_locked<C: ConnectionTrait + TransactionTrait>(
    ctx: &Ctx,
    db: &C,
    did: i64,
) -> Result<(), String> {
    let dberr = |e: AppError| e.message;
    let Some(zone) = dns_domain::Entity::find_by_id(did)
        .one(db)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    let pending = dns_outbox::Entity::find()
        .filter(dns_outbox::Column::DomainId.eq(did))
        .order_by_asc(dns_outbox::Column::Id)
        .one(db)
        .await
        .map_err(|e| e.to_string())?;
    if pending.is_none() {
        if zone.push_error.is_some() {
            done(db, did, &[], 0).await.map_err(dberr)?;
        }
        return Ok(());
    }
    let service = load_service(db, zone.service_id).await.map_err(dberr)?;
    let conn = match conn_of(ctx, &service).await {
        Ok(c) => c,
        Err(e) => {
            failed(db, did, None, &e.message).await.map_err(dberr)?;
            return Err(e.message);
        }
    };
    loop {
        let batch = dns_outbox::Entity::find()
            .filter(dns_outbox::Column::DomainId.eq(did))
            .order_by_asc(dns_outbox::Column::Id)
            .limit(BATCH)
            .all(db)
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = batch.last().map(|o| o.id) else {
            return Ok(());
        };
        let ids: Vec<i64> = batch.iter().map(|o| o.id).collect();
        let sets: BTreeSet<(String, String)> =
            batch.into_iter().map(|o| (o.name, o.rtype)).collect();
        let names: BTreeSet<String> = sets.iter().map(|(n, _)| n.clone()).collect();
        let rows = rows_named(db, did, &names).await.map_err(dberr)?;
        let grouped = group(rows.into_iter().filter(|r| !r.disabled).collect());
        let rrsets: Vec<RRSet> = sets
            .into_iter()
            .map(|key| {
                let rows = grouped.get(&key).map(Vec::as_slice).unwrap_or(&[]);
                RRSet {
                    ttl: rows
                        .first()
                        .map(|r| r.ttl as u32)
                        .unwrap_or(DEFAULT_TTL as u32),
                    contents: rows
                        .iter()
                        .map(|r| to_content(&r.rtype, &r.value, r.priority.map(i64::from)))
                        .collect(),
                    name: key.0,
                    rtype: key.1,
                }
            })
            .collect();
        match conn.apply(&zone.name, &rrsets).await {
            Ok(()) => done(db, did, &ids, last).await.map_err(dberr)?,
            Err(e) => {
                let msg = servers::redact(&conn, e.to_string());
                failed(db, did, Some(&ids), &msg).await.map_err(dberr)?;
                return Err(msg);
            }
        }
    }
}

/// After a successful apply: the sent outbox rows go, rows changed up to `last` are synced,
/// the zone's push error is cleared. The zone's row is locked first (the writers' lock order).
async fn done<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    did: i64,
    ids: &[i64],
    last: i64,
) -> AppResult<()> {
    let w = crate::db::begin(db).await?;
    lock_zone(&w, did).await?;
    for chunk in ids.chunks(500) {
        dns_outbox::Entity::delete_many()
            .filter(dns_outbox::Column::Id.is_in(chunk.to_vec()))
            .exec(&w)
            .await?;
    }
    if !ids.is_empty() {
        dns_record::Entity::update_many()
            .col_expr(dns_record::Column::State, Expr::value("synced"))
            .filter(dns_record::Column::DomainId.eq(did))
            .filter(dns_record::Column::State.eq("pending"))
            .filter(dns_record::Column::PushSeq.lte(last))
            .exec(&w)
            .await?;
    }
    dns_domain::Entity::update_many()
        .col_expr(
            dns_domain::Column::PushError,
            Expr::value(Option::<String>::None),
        )
        .filter(dns_domain::Column::Id.eq(did))
        .exec(&w)
        .await?;
    w.commit().await?;
    Ok(())
}

/// After a failed push: the zone's `push_error`, and on the outbox rows sent (`ids`) one more
/// attempt and the error.
async fn failed<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    did: i64,
    ids: Option<&[i64]>,
    msg: &str,
) -> AppResult<()> {
    let msg: String = msg.chars().take(MAX_ERROR).collect();
    let w = crate::db::begin(db).await?;
    lock_zone(&w, did).await?;
    for chunk in ids.unwrap_or(&[]).chunks(500) {
        dns_outbox::Entity::update_many()
            .col_expr(
                dns_outbox::Column::Attempts,
                Expr::col(dns_outbox::Column::Attempts).add(1),
            )
            .col_expr(
                dns_outbox::Column::LastError,
                Expr::value(Some(msg.clone())),
            )
            .filter(dns_outbox::Column::Id.is_in(chunk.to_vec()))
            .exec(&w)
            .await?;
    }
    dns_domain::Entity::update_many()
        .col_expr(dns_domain::Column::PushError, Expr::value(Some(msg)))
        .filter(dns_domain::Column::Id.eq(did))
        .exec(&w)
        .await?;
    w.commit().await?;
    Ok(())
}
