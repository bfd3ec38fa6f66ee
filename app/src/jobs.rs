//! Durable background jobs. A job is a row: queued → running → done | failed. Work that fails is
//! retried with backoff up to `max_attempts`; a job whose runner died (its lock expired) is picked
//! up again, so nothing stays "running" forever.
use crate::ctx::Ctx;
use crate::entities::job;
use crate::error::AppResult;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, Set,
};
use serde::Serialize;
use std::time::Duration;

const LOCK_SECONDS: i64 = 300;

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
        max_attempts: Set(5),
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

/// Claims the next due job, atomically (a conditional update that only one runner can win).
async fn claim(ctx: &Ctx) -> AppResult<Option<job::Model>> {
    let now = crate::time::now();
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
    let candidates = job::Entity::find()
        .filter(due.clone())
        .order_by_asc(job::Column::Id)
        .all(&ctx.db)
        .await?;
    for c in candidates.into_iter().take(10) {
        let res = job::Entity::update_many()
            .col_expr(job::Column::Status, Expr::value("running"))
            .col_expr(
                job::Column::LockedUntil,
                Expr::value(now + chrono::Duration::seconds(LOCK_SECONDS)),
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
        other => Err(format!("unknown job kind {other}")),
    }
}

/// Runs due jobs until none is left; answers how many ran. Tests call this directly.
pub async fn run_due(ctx: &Ctx) -> AppResult<usize> {
    let mut n = 0;
    while let Some(j) = claim(ctx).await? {
        n += 1;
        let result = execute(ctx, &j).await;
        let now = crate::time::now();
        let mut am: job::ActiveModel = j.clone().into();
        am.locked_until = Set(None);
        am.updated_at = Set(now);
        match result {
            Ok(()) => {
                am.status = Set("done".into());
                am.last_error = Set(None);
            }
            Err(e) => {
                tracing::warn!(job = j.id, kind = %j.kind, attempt = j.attempts, error = %e, "job failed");
                am.last_error = Set(Some(e));
                if j.attempts >= j.max_attempts {
                    am.status = Set("failed".into());
                } else {
                    am.status = Set("queued".into());
                    am.run_after =
                        Set(now + chrono::Duration::seconds(5 * 2i64.pow(j.attempts as u32)));
                }
            }
        }
        am.update(&ctx.db).await?;
    }
    Ok(n)
}

/// The runner loop: wakes when a job is queued, or every few seconds for retries.
pub async fn worker(ctx: Ctx) {
    loop {
        if let Err(e) = run_due(&ctx).await {
            tracing::error!(error = %e, "job runner");
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), ctx.jobs_notify.notified()).await;
    }
}
