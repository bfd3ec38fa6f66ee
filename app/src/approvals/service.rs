//! The approval engine. Every transition is one conditional write on the subject's row
//! (`… WHERE status = 'wait_review'`) inside the caller's transaction, which also holds the
//! decision, the timeline event and the audit record: of 50 simultaneous approvals exactly one
//! moves the request, and an approve racing a reject leaves one outcome.
//!
//! A subject is any table with the columns `id`, `status`, `creator_id`, `approvals_needed`,
//! `approvals_count`, `updated_at` (resource requests; deploy tasks next).
use super::types::*;
use crate::ctx::{Actor, Ctx};
use crate::entities::{approval, request_event, setting};
use crate::error::{AppError, AppResult, ErrorCode};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

/// The row a transition applies to.
#[derive(Debug, Clone, Copy)]
pub struct Subject {
    /// `resource_request` (the `subject_type` of decisions and events).
    pub kind: &'static str,
    /// The table holding the subject's status.
    pub table: &'static str,
    pub id: i64,
}

/// The engine's view of a subject row.
#[derive(Debug, Clone)]
pub struct State {
    pub status: String,
    pub creator_id: i64,
    pub approvals_needed: i32,
    pub approvals_count: i32,
}

/// Reads the subject's state (404 when it does not exist).
pub async fn state<C: ConnectionTrait>(db: &C, s: Subject) -> AppResult<State> {
    let q = Query::select()
        .columns([
            Alias::new("status"),
            Alias::new("creator_id"),
            Alias::new("approvals_needed"),
            Alias::new("approvals_count"),
        ])
        .from(Alias::new(s.table))
        .and_where(Expr::col(Alias::new("id")).eq(s.id))
        .to_owned();
    let row = db
        .query_one(&q)
        .await?
        .ok_or_else(|| AppError::not_found("request"))?;
    Ok(State {
        status: row.try_get("", "status")?,
        creator_id: row.try_get("", "creator_id")?,
        approvals_needed: row.try_get("", "approvals_needed")?,
        approvals_count: row.try_get("", "approvals_count")?,
    })
}

/// The error of a transition attempted in the wrong status: 30001 when the request is already
/// approved, 30002 when it is closed, rejected or finished.
pub fn refused(status: &str) -> AppError {
    match status {
        "approved" => AppError::new(
            ErrorCode::AlreadyApproved,
            "the request is already approved",
        ),
        "finished" => AppError::new(ErrorCode::RequestClosed, "the request is finished"),
        "rejected" => AppError::new(ErrorCode::RequestClosed, "the request was rejected"),
        _ => AppError::new(ErrorCode::RequestClosed, "the request is closed"),
    }
}

/// The error of a fulfilment action (deliver, upload) on a request that is not `approved`.
pub fn refused_for_fulfilment(status: &str) -> AppError {
    match status {
        "wait_review" => AppError::conflict("the request is not approved yet"),
        s => refused(s),
    }
}

/// Runs `UPDATE <table> SET … WHERE id = ? AND status = ?`; answers whether it applied.
async fn conditional<C: ConnectionTrait>(
    db: &C,
    s: Subject,
    from: &str,
    sets: Vec<(&str, Expr)>,
) -> AppResult<bool> {
    let mut q = Query::update();
    q.table(Alias::new(s.table));
    for (col, v) in sets {
        q.value(Alias::new(col), v);
    }
    q.value(Alias::new("updated_at"), Expr::value(crate::time::now()));
    q.and_where(Expr::col(Alias::new("id")).eq(s.id))
        .and_where(Expr::col(Alias::new("status")).eq(from));
    Ok(db.execute(&q).await?.rows_affected() == 1)
}

/// Moves a subject from `from` with `sets` (status and more) in one conditional write; answers
/// whether it applied (false: another status now). For subjects with states past the engine's
/// (a deploy task's `deploying`).
pub async fn transition<C: ConnectionTrait>(
    db: &C,
    s: Subject,
    from: &str,
    sets: Vec<(&str, Expr)>,
) -> AppResult<bool> {
    conditional(db, s, from, sets).await
}

/// Appends an event to the subject's timeline (`actor` None: the system).
pub async fn event<C: ConnectionTrait>(
    db: &C,
    s: Subject,
    actor: Option<&Actor>,
    event: &str,
    detail: impl Into<String>,
) -> AppResult<()> {
    request_event::ActiveModel {
        subject_type: Set(s.kind.into()),
        subject_id: Set(s.id),
        event: Set(event.into()),
        actor_id: Set(actor.map(|a| a.id).filter(|id| *id > 0)),
        actor_name: Set(actor
            .map(|a| a.username.clone())
            .unwrap_or_else(|| "system".into())),
        detail: Set(detail.into()),
        created_at: Set(crate::time::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

fn not_own(actor: &Actor, st: &State) -> AppResult<()> {
    if st.creator_id == actor.id {
        Err(AppError::forbidden(
            "nobody approves or rejects their own request",
        ))
    } else {
        Ok(())
    }
}

/// Records one approval. Answers `true` when it completed the quorum (the subject is now
/// `approved` and its fulfilment should start). The caller has authorized the approver.
/// Invariant (request lists and inbox counts rely on it): a subject waiting for review that
/// carries someone's approval has `approvals_count > 0`; the row and the count change together.
pub async fn approve<C: ConnectionTrait>(db: &C, actor: &Actor, s: Subject) -> AppResult<bool> {
    let st = state(db, s).await?;
    not_own(actor, &st)?;
    if st.status != "wait_review" {
        return Err(refused(&st.status));
    }
    // One statement decides: it counts this approval and moves the subject when the count
    // reaches the quorum. Losers of a race update nothing and read the winner's status.
    let count = Expr::col(Alias::new("approvals_count")).add(1);
    let status = Expr::case(
        Expr::col(Alias::new("approvals_count"))
            .add(1)
            .gte(Expr::col(Alias::new("approvals_needed"))),
        "approved",
    )
    .finally("wait_review");
    if !conditional(
        db,
        s,
        "wait_review",
        vec![("approvals_count", count), ("status", status.into())],
    )
    .await?
    {
        return Err(refused(&state(db, s).await?.status));
    }
    decide(db, actor, s, "approve", "").await?;
    let after = state(db, s).await?;
    let done = after.status == "approved";
    event(
        db,
        s,
        Some(actor),
        "approved",
        format!("{}/{}", after.approvals_count, after.approvals_needed),
    )
    .await?;
    Ok(done)
}

/// Stores an approver's decision; a second decision by the same approver is refused (a quorum
/// of two needs two people).
async fn decide<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    s: Subject,
    decision: &str,
    reason: &str,
) -> AppResult<()> {
    let dup = approval::Entity::find()
        .filter(approval::Column::SubjectType.eq(s.kind))
        .filter(approval::Column::SubjectId.eq(s.id))
        .filter(approval::Column::ApproverId.eq(actor.id))
        .one(db)
        .await?;
    if dup.is_some() {
        return Err(AppError::conflict(
            "you already decided on this request; another approver must give the next approval",
        ));
    }
    approval::ActiveModel {
        subject_type: Set(s.kind.into()),
        subject_id: Set(s.id),
        approver_id: Set(actor.id),
        decision: Set(decision.into()),
        reason: Set(reason.into()),
        created_at: Set(crate::time::now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|e| match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
            AppError::conflict("you already decided on this request")
        }
        _ => e.into(),
    })?;
    Ok(())
}

/// Rejects the subject with a reason (may be empty through the API).
pub async fn reject<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    s: Subject,
    reason: &str,
) -> AppResult<()> {
    validate_reason(reason, false).map_err(|m| AppError::invalid("reason", m))?;
    let st = state(db, s).await?;
    not_own(actor, &st)?;
    if !conditional(
        db,
        s,
        "wait_review",
        vec![("status", Expr::value("rejected"))],
    )
    .await?
    {
        return Err(refused(&state(db, s).await?.status));
    }
    decide(db, actor, s, "reject", reason.trim()).await?;
    event(db, s, Some(actor), "rejected", reason.trim()).await
}

/// The requester withdraws the subject while it waits for review.
pub async fn close<C: ConnectionTrait>(db: &C, actor: &Actor, s: Subject) -> AppResult<()> {
    let st = state(db, s).await?;
    if st.creator_id != actor.id {
        return Err(AppError::forbidden(
            "only the requester may close a request",
        ));
    }
    if !conditional(
        db,
        s,
        "wait_review",
        vec![("status", Expr::value("closed"))],
    )
    .await?
    {
        return Err(refused(&state(db, s).await?.status));
    }
    event(db, s, Some(actor), "closed", "").await
}

/// Guards an edit by the requester: only while `wait_review`. Approvals given to the earlier
/// content no longer count (they approved something else). The caller writes the new content in
/// the same transaction. Drops the approval rows and the count together (see `approve`).
pub async fn edit<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    s: Subject,
    detail: impl Into<String>,
) -> AppResult<()> {
    let st = state(db, s).await?;
    if st.creator_id != actor.id {
        return Err(AppError::forbidden("only the requester may edit a request"));
    }
    if !conditional(
        db,
        s,
        "wait_review",
        vec![("approvals_count", Expr::value(0))],
    )
    .await?
    {
        return Err(refused(&state(db, s).await?.status));
    }
    approval::Entity::delete_many()
        .filter(approval::Column::SubjectType.eq(s.kind))
        .filter(approval::Column::SubjectId.eq(s.id))
        .exec(db)
        .await?;
    event(db, s, Some(actor), "edited", detail).await
}

/// An approver gives up an approved subject whose fulfilment cannot finish: `closed`, with the
/// reason in the timeline (`cancelled`).
pub async fn cancel<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    s: Subject,
    reason: &str,
) -> AppResult<()> {
    if !conditional(db, s, "approved", vec![("status", Expr::value("closed"))]).await? {
        return Err(refused_for_fulfilment(&state(db, s).await?.status));
    }
    event(db, s, Some(actor), "cancelled", reason).await
}

/// Moves an approved subject to `finished`; answers false when it was not `approved` (already
/// finished by another runner, say).
pub async fn finish<C: ConnectionTrait>(
    db: &C,
    actor: Option<&Actor>,
    s: Subject,
    detail: impl Into<String>,
) -> AppResult<bool> {
    if !conditional(
        db,
        s,
        "approved",
        vec![
            ("status", Expr::value("finished")),
            ("finished_at", Expr::value(crate::time::now())),
        ],
    )
    .await?
    {
        return Ok(false);
    }
    event(db, s, actor, "finished", detail).await?;
    Ok(true)
}

/// The subject's timeline, oldest first.
pub async fn timeline<C: ConnectionTrait>(db: &C, s: Subject) -> AppResult<Vec<TimelineEvent>> {
    Ok(request_event::Entity::find()
        .filter(request_event::Column::SubjectType.eq(s.kind))
        .filter(request_event::Column::SubjectId.eq(s.id))
        .order_by_asc(request_event::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|e| TimelineEvent {
            id: e.id,
            event: e.event,
            actor: e.actor_name,
            detail: e.detail,
            time: crate::time::fmt(&e.created_at),
        })
        .collect())
}

/// The decisions on the subject, oldest first.
pub async fn decisions(ctx: &Ctx, s: Subject) -> AppResult<Vec<Decision>> {
    let db = &ctx.db;
    let rows = approval::Entity::find()
        .filter(approval::Column::SubjectType.eq(s.kind))
        .filter(approval::Column::SubjectId.eq(s.id))
        .order_by_asc(approval::Column::Id)
        .all(db)
        .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.approver_id).collect();
    let names = ctx.names.names(db, ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| Decision {
            approver: names.get(&r.approver_id).cloned().unwrap_or_default(),
            decision: r.decision,
            reason: r.reason,
            time: crate::time::fmt(&r.created_at),
        })
        .collect())
}

/// Whether the actor already decided on the subject (the UI hides the buttons then).
pub async fn decided<C: ConnectionTrait>(db: &C, actor: &Actor, s: Subject) -> AppResult<bool> {
    Ok(approval::Entity::find()
        .filter(approval::Column::SubjectType.eq(s.kind))
        .filter(approval::Column::SubjectId.eq(s.id))
        .filter(approval::Column::ApproverId.eq(actor.id))
        .one(db)
        .await?
        .is_some())
}

/// The number of approvals a new subject of `kind` needs: the setting `quorum.<kind>`
/// (1 or 2; default 1).
pub async fn quorum<C: ConnectionTrait>(db: &C, kind: &str) -> AppResult<i32> {
    let v = setting::Entity::find_by_id(format!("quorum.{kind}"))
        .one(db)
        .await?
        .and_then(|s| s.value.parse::<i32>().ok())
        .unwrap_or(1);
    Ok(v.clamp(1, 2))
}

/// Sets the quorum of a kind (1 or 2); applies to subjects filed afterwards.
pub async fn set_quorum<C: ConnectionTrait>(db: &C, kind: &str, n: i32) -> AppResult<()> {
    if !(1..=2).contains(&n) {
        return Err(AppError::invalid("quorum", "a quorum is 1 or 2 approvals"));
    }
    let name = format!("quorum.{kind}");
    let row = setting::ActiveModel {
        name: Set(name.clone()),
        value: Set(n.to_string()),
        updated_at: Set(crate::time::now()),
    };
    if setting::Entity::find_by_id(name).one(db).await?.is_some() {
        row.update(db).await?;
    } else {
        row.insert(db).await?;
    }
    Ok(())
}
