//! Pushing a zone's outbox to its server in id order, one pusher per zone at a time.
//!
//! Each round (the zone's push lock held) reads up to `BATCH` outbox rows, computes every
//! touched RRset's content from the enabled rows as they are now (a set whose rows are all gone
//! or disabled is deleted on the server), sends them in one `apply`, then deletes those outbox
//! rows and marks `synced` the rows whose `push_seq` is at most the last id sent. Pushing the
//! current content makes a retry idempotent: add, edit and delete of one name while the server
//! is down leave the server with the final state only. A record is never `synced` before the
//! server has it: writers of a zone are serialized (its row is locked), so no change with a
//! smaller outbox id can commit after a larger one was read.
//!
//! A server that refuses the batch for its data (`Invalid`, `Refused`) gets its RRsets one by
//! one (deletions first; a refused set is tried once more after the others): the sets it still
//! refuses are marked `failed` with the server's words on their records and leave the outbox,
//! the rest is pushed, so one bad RRset never holds up its zone. Any other failure (the server
//! unreachable, the key refused, the zone missing) keeps the whole outbox waiting; the job
//! retries.
//!
//! The lock is taken per round and let go after it (PostgreSQL: the round's transaction
//! commits), so the zone row the bookkeeping locks is free again before the next round's network
//! calls. A `dns_push` job that finds the lock taken does not wait: it ends and comes back
//! shortly (`push_job`), so pushes of one zone never fill the job slots (nor the pool).
use super::records::rows_named;
use super::*;
use crate::dns::driver::RRSet;
use crate::dns::types::{to_content, DEFAULT_TTL};
use crate::entities::{dns_outbox, job};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{DatabaseTransaction, QueryOrder, Statement, TransactionSession, TransactionTrait};
use std::collections::BTreeSet;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

/// Outbox rows sent in one `apply`.
const BATCH: u64 = 2000;
/// Advisory-lock keys of zones: this base plus the zone id.
const ADVISORY_BASE: i64 = 0x0D45_0000_0000_0000;
/// Longest `push_error` kept on a zone.
const MAX_ERROR: usize = 1000;
/// Longest `push_error` kept on a refused record.
const MAX_RECORD_ERROR: usize = 300;
/// How long `push_zone` (request fulfilment) waits for another pusher of the zone.
const PUSH_WAIT: Duration = Duration::from_secs(20);
/// Seconds after which a `dns_push` job that found its zone busy runs again.
const BUSY_AGAIN_SECONDS: i64 = 2;

/// SQLite: one pusher per zone in this process (Opsdeck runs one process per SQLite file), by
/// database and zone id (tests run several databases in one process).
static ZONE_LOCKS: LazyLock<Mutex<HashMap<(String, i64), Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(Default::default);

fn zone_mutex(ctx: &Ctx, did: i64) -> Arc<tokio::sync::Mutex<()>> {
    ZONE_LOCKS
        .lock()
        .expect("zone locks")
        .entry((ctx.config.database_url.clone(), did))
        .or_default()
        .clone()
}

/// A zone's push lock, held. PostgreSQL: a transaction holding `pg_advisory_xact_lock` (one
/// per zone across processes; the holder's reads and writes go through it, so a push takes one
/// pool connection); SQLite: a process-wide mutex per zone. `release` lets go.
pub enum PushLock {
    /// The transaction that holds the advisory lock.
    Pg(DatabaseTransaction),
    /// The zone's mutex.
    Local(tokio::sync::OwnedMutexGuard<()>),
}

impl PushLock {
    /// Takes the lock if nobody holds it (`pg_try_advisory_xact_lock` / `try_lock`).
    async fn try_take(ctx: &Ctx, did: i64) -> AppResult<Option<PushLock>> {
        if ctx.db.get_database_backend() != sea_orm::DbBackend::Postgres {
            return Ok(zone_mutex(ctx, did)
                .try_lock_owned()
                .ok()
                .map(PushLock::Local));
        }
        let txn = ctx.db.begin().await?;
        let row = txn
            .query_one_raw(Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                "SELECT pg_try_advisory_xact_lock($1) AS ok",
                [(ADVISORY_BASE + did).into()],
            ))
            .await?;
        let ok = match row {
            Some(r) => r.try_get::<bool>("", "ok")?,
            None => false,
        };
        if ok {
            Ok(Some(PushLock::Pg(txn)))
        } else {
            txn.rollback().await?;
            Ok(None)
        }
    }

    /// Takes the lock, trying again every 100 ms for up to `wait` (holding no connection in
    /// between); None when it stayed taken.
    async fn take(ctx: &Ctx, did: i64, wait: Duration) -> AppResult<Option<PushLock>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(l) = Self::try_take(ctx, did).await? {
                return Ok(Some(l));
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Lets go of the lock (PostgreSQL: commits what was written through it).
    pub async fn release(self) -> AppResult<()> {
        if let PushLock::Pg(t) = self {
            t.commit().await?;
        }
        Ok(())
    }
}

/// Takes the push lock of zone `did`, waiting up to `wait` for another holder (None when it
/// kept it). Drift's "adopt" holds it while it reads the server and writes what it read.
pub async fn hold_push_lock(ctx: &Ctx, did: i64, wait: Duration) -> AppResult<Option<PushLock>> {
    PushLock::take(ctx, did, wait).await
}

/// How a push ended.
enum Pushed {
    /// The outbox is empty (or the zone is gone).
    Done,
    /// Another holder kept the zone's push lock.
    Busy,
}

/// Pushes the outbox of zone `domain_id` to its server (request fulfilment; the `dns_push` job
/// uses `push_job`). Waits up to 20 s for another pusher of the zone. Ok when the outbox is
/// empty afterwards (sets the server refused are `failed` and out of it) or the zone is gone;
/// Err with what went wrong otherwise, after recording it on the zone (`push_error`) and on the
/// outbox rows (`attempts`, `last_error`).
pub async fn push_zone(ctx: &Ctx, domain_id: i64) -> Result<(), String> {
    match push(ctx, domain_id, PUSH_WAIT).await? {
        Pushed::Done => Ok(()),
        Pushed::Busy => Err("another push of this zone is still running".into()),
    }
}

/// The `dns_push` job of zone `domain_id`. It never waits for the zone's push lock: when another
/// holder has it, the job ends and a push of the zone is queued to run shortly (unless one is
/// queued already, or the outbox is empty). A failure while a write has queued another push
/// ends this job (the queued one carries on), so failed jobs do not pile up beside it.
pub async fn push_job(ctx: &Ctx, domain_id: i64) -> Result<(), String> {
    match push(ctx, domain_id, Duration::ZERO).await {
        Ok(Pushed::Done) => Ok(()),
        Ok(Pushed::Busy) => again_soon(ctx, domain_id).await.map_err(|e| e.message),
        Err(e) => match queued_pushes(&ctx.db, domain_id).await {
            Ok(q) if !q.is_empty() => {
                tracing::warn!(zone = domain_id, error = %e, "DNS push failed; the zone's queued push retries");
                Ok(())
            }
            _ => Err(e),
        },
    }
}

/// Queues a push of zone `did` a little later, if there is something to push and no push waits
/// (the zone's row locked first, as writers do, so this and a writer never both queue one).
async fn again_soon(ctx: &Ctx, did: i64) -> AppResult<()> {
    let txn = crate::db::begin(&ctx.db).await?;
    match lock_zone(&txn, did).await {
        Ok(_) => {}
        Err(e) if e.code == ErrorCode::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    let waiting = dns_outbox::Entity::find()
        .filter(dns_outbox::Column::DomainId.eq(did))
        .one(&txn)
        .await?
        .is_some();
    if waiting && queued_pushes(&txn, did).await?.is_empty() {
        let id = crate::jobs::enqueue(&txn, "dns_push", &json!({ "domain_id": did })).await?;
        job::Entity::update_many()
            .col_expr(
                job::Column::RunAfter,
                Expr::value(crate::time::now() + chrono::Duration::seconds(BUSY_AGAIN_SECONDS)),
            )
            .filter(job::Column::Id.eq(id))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Rounds of one batch each, the lock taken (waiting up to `wait`) and let go around each.
async fn push(ctx: &Ctx, did: i64, wait: Duration) -> Result<Pushed, String> {
    loop {
        let Some(held) = PushLock::take(ctx, did, wait)
            .await
            .map_err(|e| e.message)?
        else {
            return Ok(Pushed::Busy);
        };
        let r = match &held {
            PushLock::Pg(t) => round(ctx, t, did).await,
            PushLock::Local(_) => round(ctx, &ctx.db, did).await,
        };
        let released = held.release().await;
        let more = r?;
        released.map_err(|e| e.message)?;
        if !more {
            return Ok(Pushed::Done);
        }
    }
}

/// Whether a driver error is about the data sent (the server refused it), so the RRsets are
/// tried one by one; anything else (unreachable, the key refused, the zone missing) concerns
/// the whole zone and keeps its outbox waiting.
fn per_set(e: &DriverError) -> bool {
    !e.retryable() && matches!(e.kind, ErrorKind::Invalid | ErrorKind::Refused)
}

/// One batch: Ok(true) when it was pushed (more may follow), Ok(false) when the outbox is empty.
async fn round<C: ConnectionTrait + TransactionTrait>(
    ctx: &Ctx,
    db: &C,
    did: i64,
) -> Result<bool, String> {
    let dberr = |e: AppError| e.message;
    let Some(zone) = dns_domain::Entity::find_by_id(did)
        .one(db)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(false);
    };
    let batch = dns_outbox::Entity::find()
        .filter(dns_outbox::Column::DomainId.eq(did))
        .order_by_asc(dns_outbox::Column::Id)
        .limit(BATCH)
        .all(db)
        .await
        .map_err(|e| e.to_string())?;
    let Some(last) = batch.last().map(|o| o.id) else {
        if zone.push_error.is_some() {
            done(db, did, &[], 0, &[]).await.map_err(dberr)?;
        }
        return Ok(false);
    };
    let service = load_service(db, zone.service_id).await.map_err(dberr)?;
    let conn = match conn_of(ctx, &service).await {
        Ok(c) => c,
        Err(e) => {
            failed(db, did, None, &e.message).await.map_err(dberr)?;
            return Err(e.message);
        }
    };
    let ids: Vec<i64> = batch.iter().map(|o| o.id).collect();
    let sets: BTreeSet<(String, String)> = batch.into_iter().map(|o| (o.name, o.rtype)).collect();
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
    let refused = match conn.apply(&zone.name, &rrsets).await {
        Ok(()) => vec![],
        Err(e) if !per_set(&e) => {
            let msg = servers::redact(&conn, e.to_string());
            failed(db, did, Some(&ids), &msg).await.map_err(dberr)?;
            return Err(msg);
        }
        Err(_) => match one_by_one(&conn, &zone.name, rrsets).await {
            Ok(refused) => refused
                .into_iter()
                .map(|(n, t, m)| (n, t, servers::redact(&conn, m)))
                .collect(),
            Err(e) => {
                let msg = servers::redact(&conn, e.to_string());
                failed(db, did, Some(&ids), &msg).await.map_err(dberr)?;
                return Err(msg);
            }
        },
    };
    for (name, rtype, msg) in &refused {
        tracing::warn!(zone = %zone.name, %name, %rtype, error = %msg, "the DNS server refused an RRset; its records are failed");
    }
    done(db, did, &ids, last, &refused).await.map_err(dberr)?;
    Ok(true)
}

/// Sends `sets` one by one, deletions first (a CNAME that replaces other data needs them gone);
/// a set refused for its data is tried once more after the others went through. Answers the
/// sets still refused with the server's words; Err on a failure that concerns the zone.
async fn one_by_one(
    conn: &Conn,
    zone: &str,
    sets: Vec<RRSet>,
) -> Result<Vec<(String, String, String)>, DriverError> {
    let (mut order, rest): (Vec<RRSet>, Vec<RRSet>) =
        sets.into_iter().partition(|s| s.contents.is_empty());
    order.extend(rest);
    let mut again = vec![];
    let mut applied = 0usize;
    for s in order {
        match conn.apply(zone, std::slice::from_ref(&s)).await {
            Ok(()) => applied += 1,
            Err(e) if per_set(&e) => again.push((s, e)),
            Err(e) => return Err(e),
        }
    }
    let mut refused = vec![];
    for (s, first) in again {
        // Nothing went through: the server is as it was, asking again changes nothing.
        let e = if applied == 0 {
            first
        } else {
            match conn.apply(zone, std::slice::from_ref(&s)).await {
                Ok(()) => continue,
                Err(e) if per_set(&e) => e,
                Err(e) => return Err(e),
            }
        };
        refused.push((s.name, s.rtype, e.to_string()));
    }
    Ok(refused)
}

/// After a round: the sent outbox rows go; the records of the `refused` sets changed up to
/// `last` become `failed` with the server's words, the other rows changed up to `last` become
/// `synced`; the zone's push error is cleared. The zone's row is locked first (the writers'
/// lock order) and only until the round's transaction commits, right after.
async fn done<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    did: i64,
    ids: &[i64],
    last: i64,
    refused: &[(String, String, String)],
) -> AppResult<()> {
    let w = crate::db::begin(db).await?;
    lock_zone(&w, did).await?;
    for chunk in ids.chunks(500) {
        dns_outbox::Entity::delete_many()
            .filter(dns_outbox::Column::Id.is_in(chunk.to_vec()))
            .exec(&w)
            .await?;
    }
    for (name, rtype, msg) in refused {
        let msg: String = msg.chars().take(MAX_RECORD_ERROR).collect();
        dns_record::Entity::update_many()
            .col_expr(dns_record::Column::State, Expr::value("failed"))
            .col_expr(dns_record::Column::PushError, Expr::value(Some(msg)))
            .filter(dns_record::Column::DomainId.eq(did))
            .filter(dns_record::Column::Name.eq(name.as_str()))
            .filter(dns_record::Column::Rtype.eq(rtype.as_str()))
            .filter(dns_record::Column::State.eq("pending"))
            .filter(dns_record::Column::PushSeq.lte(last))
            .exec(&w)
            .await?;
    }
    if !ids.is_empty() {
        dns_record::Entity::update_many()
            .col_expr(dns_record::Column::State, Expr::value("synced"))
            .col_expr(
                dns_record::Column::PushError,
                Expr::value(Option::<String>::None),
            )
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
