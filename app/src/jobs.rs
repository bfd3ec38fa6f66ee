//! Durable background jobs. A job is a row: queued → running → done | failed. Work that fails is
//! retried with backoff up to `max_attempts`; a job whose runner died (its lock expired) is picked
//! up again, so nothing stays "running" forever.
//!
//! A runner executes up to `Config::job_concurrency` jobs at once (a long import does not hold
//! up mail), and renews the lock of each running job every third of `Config::job_lock_seconds`,
//! so a job that runs longer than the lock is never taken over by another runner while its own
//! runner lives.
//!
//! Every attempt counts, including one whose runner died: a job whose lock lapsed after its
//! last attempt is failed, not claimed again (an import that kills its process would otherwise
//! restart it forever). Imports run one at a time (an import is not claimed while another
//! one's lock is live), so they never fill the job slots that mail needs.
use crate::ctx::Ctx;
use crate::entities::job;
use crate::error::AppResult;
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde::Serialize;
use std::time::Duration;
use tokio::task::JoinSet;

/// Queues a job on `db` (the caller's transaction, so the job exists only if the change commits).
pub async fn enqueue<C: ConnectionTrait, T: Serialize>(
    db: &C,
    kind: &str,
    payload: &T,
) -> AppResult<i64> {
    let now = crate::time::now();
    let j = job::ActiveModel {
        kind: Set(kind.into()),
        payload: Set(serde_json::to_string(payload).map_err(crate::error::AppError::internal)?),
        status: Set("queued".into()),
        attempts: Set(0),
        max_attempts: Set(max_attempts(kind)),
        last_error: Set(None),
        run_after: Set(now),
        locked_until: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(j.id)
}

/// Attempts a job of `kind` gets. An import re-runs once (a restart mid-import finishes it);
/// its own errors mark the import failed rather than fail the job.
/// Work that must eventually happen (a DNS push, a request's fulfilment) is retried until it
/// succeeds: its backoff is capped at `MAX_BACKOFF_SECONDS`.
fn max_attempts(kind: &str) -> i32 {
    match kind {
        IMPORT => 2,
        // A run is never executed twice: a run whose process died is failed as interrupted.
        crate::exec::runner::JOB => 1,
        k if UNTIL_DONE.contains(&k) => i32::MAX,
        _ => 5,
    }
}

/// Kinds retried until they succeed (see `max_attempts`).
const UNTIL_DONE: &[&str] = &["dns_push", "fulfil"];

/// How a job that panicked is recorded; such a job is failed at once (a retry would panic again).
const PANICKED: &str = "the job panicked";

/// The longest wait between two attempts of a job.
const MAX_BACKOFF_SECONDS: i64 = 300;

/// The kind of import jobs: at most one runs at a time.
const IMPORT: &str = "import";

fn lock_duration(ctx: &Ctx) -> chrono::Duration {
    chrono::Duration::seconds(ctx.config.job_lock_seconds.max(1) as i64)
}

/// Claims the next due job, atomically (a conditional update that only one runner can win).
/// A lapsed job that has had all its attempts is failed instead (`give_up`); an import waits
/// while another import's lock is live.
async fn claim(ctx: &Ctx, lane: Lane) -> AppResult<Option<job::Model>> {
    use sea_orm::sea_query::ExprTrait;
    let now = crate::time::now();
    let import_running = Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from_as(job::Entity, Alias::new("other"))
            .and_where(Expr::col((Alias::new("other"), job::Column::Kind)).eq(IMPORT))
            .and_where(Expr::col((Alias::new("other"), job::Column::Status)).eq("running"))
            .and_where(Expr::col((Alias::new("other"), job::Column::LockedUntil)).gt(now))
            .to_owned(),
    );
    let waits = Condition::all()
        .add(job::Column::Kind.eq(IMPORT))
        .add(import_running);
    let due = Condition::any()
        .add(
            Condition::all()
                .add(job::Column::Status.eq("queued"))
                .add(job::Column::RunAfter.lte(now)),
        )
        .add(
            Condition::all()
                .add(job::Column::Status.eq("running"))
                .add(job::Column::LockedUntil.lte(now)),
        );
    let lane = match lane {
        Lane::Runs => job::Column::Kind.eq(crate::exec::runner::JOB),
        Lane::Other => job::Column::Kind.ne(crate::exec::runner::JOB),
    };
    let due = Condition::all().add(due).add(waits.not()).add(lane);
    let candidates = job::Entity::find()
        .filter(due.clone())
        .order_by_asc(job::Column::Id)
        .limit(10)
        .all(&ctx.db)
        .await?;
    for c in candidates {
        if c.status == "running" && c.attempts >= c.max_attempts {
            give_up(ctx, &c).await?;
            continue;
        }
        let res = job::Entity::update_many()
            .col_expr(job::Column::Status, Expr::value("running"))
            .col_expr(
                job::Column::LockedUntil,
                Expr::value(now + lock_duration(ctx)),
            )
            .col_expr(job::Column::Attempts, Expr::value(c.attempts + 1))
            .col_expr(job::Column::UpdatedAt, Expr::value(now))
            .filter(job::Column::Id.eq(c.id))
            .filter(job::Column::Attempts.eq(c.attempts))
            .filter(due.clone())
            .exec(&ctx.db)
            .await?;
        if res.rows_affected == 1 {
            return Ok(job::Entity::find_by_id(c.id).one(&ctx.db).await?);
        }
    }
    Ok(None)
}

/// Fails a job whose runner stopped (its lock lapsed) during its last attempt; an import's row
/// is marked failed too. Only the runner whose update wins does it.
async fn give_up(ctx: &Ctx, j: &job::Model) -> AppResult<()> {
    let now = crate::time::now();
    // A mail given up keeps no body (as in `finish`: a reset link must not stay readable).
    let payload = if j.kind == "mail" {
        crate::mail::without_body(&j.payload)
    } else {
        j.payload.clone()
    };
    let res = job::Entity::update_many()
        .col_expr(job::Column::Status, Expr::value("failed"))
        .col_expr(job::Column::Payload, Expr::value(payload))
        .col_expr(job::Column::LockedUntil, Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None))
        .col_expr(
            job::Column::LastError,
            Expr::value(format!(
                "stopped while running in each of its {} attempts (the process ended?); not retried",
                j.attempts
            )),
        )
        .col_expr(job::Column::UpdatedAt, Expr::value(now))
        .filter(job::Column::Id.eq(j.id))
        .filter(job::Column::Attempts.eq(j.attempts))
        .filter(job::Column::Status.eq("running"))
        .filter(job::Column::LockedUntil.lte(now))
        .exec(&ctx.db)
        .await?;
    if res.rows_affected == 1 {
        tracing::error!(job = j.id, kind = %j.kind, attempts = j.attempts, "job abandoned: its runner stopped on every attempt");
        if j.kind == IMPORT {
            if let Some(id) = import_id(&j.payload) {
                crate::bulk::service::abandon(ctx, id).await?;
            }
        }
        if let Some(id) = run_id(j) {
            crate::exec::runner::job_failed(ctx, id).await?;
        }
    }
    Ok(())
}

fn run_id(j: &job::Model) -> Option<i64> {
    if j.kind != crate::exec::runner::JOB {
        return None;
    }
    serde_json::from_str::<serde_json::Value>(&j.payload).ok()?["run_id"].as_i64()
}

fn import_id(payload: &str) -> Option<i64> {
    serde_json::from_str::<serde_json::Value>(payload).ok()?["import_id"].as_i64()
}

/// Extends the lock of a job this runner holds (same attempt, still running).
async fn renew(ctx: &Ctx, j: &job::Model) -> AppResult<bool> {
    let now = crate::time::now();
    let res = job::Entity::update_many()
        .col_expr(
            job::Column::LockedUntil,
            Expr::value(now + lock_duration(ctx)),
        )
        .col_expr(job::Column::UpdatedAt, Expr::value(now))
        .filter(job::Column::Id.eq(j.id))
        .filter(job::Column::Attempts.eq(j.attempts))
        .filter(job::Column::Status.eq("running"))
        .exec(&ctx.db)
        .await?;
    Ok(res.rows_affected == 1)
}

async fn execute(ctx: &Ctx, j: &job::Model) -> Result<(), String> {
    match j.kind.as_str() {
        "mail" => {
            let mail: crate::mail::Mail =
                serde_json::from_str(&j.payload).map_err(|e| e.to_string())?;
            crate::mail::send(&ctx.config, &mail).await
        }
        "import" => {
            let p: serde_json::Value =
                serde_json::from_str(&j.payload).map_err(|e| e.to_string())?;
            let id = p["import_id"]
                .as_i64()
                .ok_or("import job without import_id")?;
            crate::bulk::service::run(ctx, id).await
        }
        "dns_push" => {
            let p: serde_json::Value =
                serde_json::from_str(&j.payload).map_err(|e| e.to_string())?;
            let id = p["domain_id"]
                .as_i64()
                .ok_or("dns_push job without domain_id")?;
            crate::dns::service::push_job(ctx, id).await
        }
        "fulfil" => {
            let p: serde_json::Value =
                serde_json::from_str(&j.payload).map_err(|e| e.to_string())?;
            let id = p["request_id"]
                .as_i64()
                .ok_or("fulfil job without request_id")?;
            crate::requests::service::fulfil(ctx, id).await
        }
        "cert_expiry" => crate::certs::service::expiry_sweep(ctx).await,
        crate::exec::runner::JOB => {
            let id = run_id(j).ok_or("run job without run_id")?;
            crate::exec::runner::execute(ctx, id).await
        }
        other => Err(format!("unknown job kind {other}")),
    }
}

/// Runs one claimed job to its end, renewing its lock meanwhile, and records the outcome.
async fn run_one(ctx: Ctx, j: job::Model) {
    let every = Duration::from_millis((ctx.config.job_lock_seconds.max(1) * 1000 / 3).max(100));
    // A panic in the work is an outcome like any other (`PANICKED`), not a job left running
    // whose lock lapses and that is claimed again and again.
    let work =
        futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(execute(&ctx, &j)));
    let work = async move {
        match work.await {
            Ok(r) => r,
            Err(_) => Err(format!("{PANICKED}: see the server log")),
        }
    };
    tokio::pin!(work);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let result = loop {
        tokio::select! {
            r = &mut work => break r,
            _ = ticks.tick() => match renew(&ctx, &j).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!(job = j.id, "job lock lost while running"),
                Err(e) => tracing::warn!(job = j.id, error = %e, "job lock renewal"),
            },
        }
    };
    if let Err(e) = finish(&ctx, &j, result).await {
        tracing::error!(job = j.id, error = %e, "recording a job's outcome");
    }
}

/// Marks a job done, or queues its retry, or fails it for good; only while this attempt holds it.
async fn finish(ctx: &Ctx, j: &job::Model, result: Result<(), String>) -> AppResult<()> {
    let now = crate::time::now();
    let mut am: job::ActiveModel = j.clone().into();
    am.locked_until = Set(None);
    am.updated_at = Set(now);
    // A mail delivered (or failed for good) keeps no body: a reset link must not stay readable.
    if j.kind == "mail" && (result.is_ok() || j.attempts >= j.max_attempts) {
        am.payload = Set(crate::mail::without_body(&j.payload));
    }
    match result {
        Ok(()) => {
            am.status = Set("done".into());
            am.last_error = Set(None);
        }
        Err(e) => {
            tracing::warn!(job = j.id, kind = %j.kind, attempt = j.attempts, error = %e, "job failed");
            let fatal = j.attempts >= j.max_attempts || e.starts_with(PANICKED);
            am.last_error = Set(Some(e));
            if fatal {
                am.status = Set("failed".into());
                // Its run fails too; the job's own outcome is recorded whatever happens here.
                if let Some(id) = run_id(j) {
                    if let Err(e) = crate::exec::runner::job_failed(ctx, id).await {
                        tracing::error!(job = j.id, run = id, error = %e, "failing the run of a failed job");
                    }
                }
            } else {
                am.status = Set("queued".into());
                let wait = 5i64.saturating_mul(2i64.saturating_pow(j.attempts.min(20) as u32));
                am.run_after = Set(now + chrono::Duration::seconds(wait.min(MAX_BACKOFF_SECONDS)));
            }
        }
    }
    job::Entity::update_many()
        .set(am)
        .filter(job::Column::Id.eq(j.id))
        .filter(job::Column::Attempts.eq(j.attempts))
        .exec(&ctx.db)
        .await?;
    Ok(())
}

/// The two lanes of the runner: runs (host tasks, deploys) and everything else, so long runs
/// never take the slots of mail and imports, nor the other way round.
#[derive(Clone, Copy)]
enum Lane {
    Runs,
    Other,
}

/// Jobs running in each lane.
#[derive(Default)]
struct Running {
    runs: JoinSet<()>,
    other: JoinSet<()>,
}

impl Running {
    fn is_empty(&self) -> bool {
        self.runs.is_empty() && self.other.is_empty()
    }
    async fn join_next(&mut self) -> Option<Result<(), tokio::task::JoinError>> {
        match (self.runs.is_empty(), self.other.is_empty()) {
            (true, true) => None,
            (false, true) => self.runs.join_next().await,
            (true, false) => self.other.join_next().await,
            (false, false) => tokio::select! {
                Some(r) = self.runs.join_next() => Some(r),
                Some(r) = self.other.join_next() => Some(r),
            },
        }
    }
}

/// Starts due jobs while fewer than `run_concurrency` runs and `job_concurrency` other jobs
/// run; answers how many were started.
async fn fill(ctx: &Ctx, running: &mut Running) -> AppResult<usize> {
    let mut n = 0;
    while running.runs.len() < ctx.config.run_concurrency.max(1) {
        let Some(j) = claim(ctx, Lane::Runs).await? else {
            break;
        };
        running.runs.spawn(run_one(ctx.clone(), j));
        n += 1;
    }
    while running.other.len() < ctx.config.job_concurrency.max(1) {
        let Some(j) = claim(ctx, Lane::Other).await? else {
            break;
        };
        running.other.spawn(run_one(ctx.clone(), j));
        n += 1;
    }
    Ok(n)
}

/// Runs due jobs, up to `job_concurrency` at a time, until none is left and all have finished;
/// answers how many ran. Tests call this directly.
pub async fn run_due(ctx: &Ctx) -> AppResult<usize> {
    let mut running = Running::default();
    let mut n = 0;
    loop {
        match fill(ctx, &mut running).await {
            Ok(k) => n += k,
            Err(e) if running.is_empty() => return Err(e),
            Err(e) => tracing::error!(error = %e, "job runner"),
        }
        match running.join_next().await {
            Some(Err(e)) => tracing::error!(error = %e, "job task"),
            Some(Ok(())) => {}
            None => return Ok(n),
        }
    }
}

/// Job kinds the runner queues once a day (see `schedule_daily`).
const DAILY: &[&str] = &["cert_expiry"];

/// Queues a job of `kind` (empty payload) if none was queued in the last 24 hours; answers
/// whether it did. The last run is the `settings` row `<kind>_last_run` (RFC 3339, UTC), moved by
/// one conditional write in the job's transaction, so several runners queue it once.
pub async fn schedule_daily(ctx: &Ctx, kind: &str) -> AppResult<bool> {
    use crate::entities::setting;
    use sea_orm::sea_query::OnConflict;
    let name = format!("{kind}_last_run");
    let now = crate::time::now();
    let stamp =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let txn = crate::db::begin(&ctx.db).await?;
    let inserted = setting::Entity::insert(setting::ActiveModel {
        name: Set(name.clone()),
        value: Set(stamp(now)),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(setting::Column::Name)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    let due = inserted == 1
        || setting::Entity::update_many()
            .col_expr(setting::Column::Value, Expr::value(stamp(now)))
            .col_expr(setting::Column::UpdatedAt, Expr::value(now))
            .filter(setting::Column::Name.eq(name))
            .filter(setting::Column::Value.lte(stamp(now - chrono::Duration::hours(24))))
            .exec(&txn)
            .await?
            .rows_affected
            == 1;
    if due {
        enqueue(&txn, kind, &serde_json::json!({})).await?;
    }
    txn.commit().await?;
    if due {
        ctx.jobs_notify.notify_one();
    }
    Ok(due)
}

/// The runner loop: starts jobs when one is queued, when a running one ends, or every few
/// seconds (retries, and jobs whose runner died).
pub async fn worker(ctx: Ctx) {
    let mut running = Running::default();
    // Daily jobs: first looked at a minute after start, then every ten minutes.
    let mut daily_at = tokio::time::Instant::now() + Duration::from_secs(60);
    // Runs that this machine's dead processes left running fail before any job starts.
    match crate::exec::runner::recover(&ctx, true).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(runs = n, "failed runs interrupted by a stop"),
        Err(e) => tracing::error!(error = %e, "failing interrupted runs"),
    }
    let mut recover_at = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if tokio::time::Instant::now() >= daily_at {
            daily_at = tokio::time::Instant::now() + Duration::from_secs(600);
            for kind in DAILY {
                if let Err(e) = schedule_daily(&ctx, kind).await {
                    tracing::error!(error = %e, kind, "scheduling a daily job");
                }
            }
        }
        if tokio::time::Instant::now() >= recover_at {
            recover_at = tokio::time::Instant::now() + Duration::from_secs(5);
            if let Err(e) = crate::exec::runner::recover(&ctx, false).await {
                tracing::error!(error = %e, "failing interrupted runs");
            }
        }
        if let Err(e) = fill(&ctx, &mut running).await {
            tracing::error!(error = %e, "job runner");
        }
        tokio::select! {
            Some(r) = running.join_next(), if !running.is_empty() => {
                if let Err(e) = r {
                    tracing::error!(error = %e, "job task");
                }
            }
            _ = ctx.jobs_notify.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}
