//! Tasks (runs) as callers see them: one task with its per-host results, its output (stored
//! and live), cancel.
//!
//! Who sees a task: its creator, superusers, and for host tasks holders of `host.manage_host`
//! or of `view_host` on one of its hosts. Others are answered 404, as if it did not exist.
//! Hosts of a task the caller may not view appear as `#<id>`.
use super::hub::Frame;
use super::types::*;
use crate::audit::service::{record, Entry};
use crate::common::Message;
use crate::ctx::{Actor, Ctx};
use crate::entities::{run, run_output, run_target};
use crate::error::{AppError, AppResult};
use crate::perms::service::{holds_resource, is_superuser, may_module};
use crate::perms::types::ResourceType;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc};

/// The live output address of a task: `ws(s)://<public url>/channel/<id>`.
pub fn output_url(ctx: &Ctx, id: i64) -> String {
    let base = ctx.config.public_url.trim_end_matches('/');
    let base = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        base.to_string()
    };
    format!("{base}/channel/{id}")
}

/// What an action that started `run` answers.
pub fn started(ctx: &Ctx, run: &run::Model) -> TaskStarted {
    TaskStarted {
        task_id: run.id.to_string(),
        task_output: output_url(ctx, run.id),
    }
}

/// Whether the actor may see a task (see the module docs).
pub async fn may_view(ctx: &Ctx, actor: &Actor, r: &run::Model) -> AppResult<bool> {
    actor.require()?;
    if r.creator_id == Some(actor.id) || is_superuser(ctx, actor.id).await {
        return Ok(true);
    }
    if may_module(ctx, actor, "host", "manage_host").await {
        return Ok(true);
    }
    let hosts: Vec<i64> = run_target::Entity::find()
        .select_only()
        .column(run_target::Column::HostId)
        .filter(run_target::Column::RunId.eq(r.id))
        .into_tuple()
        .all(&ctx.db)
        .await?;
    for h in hosts {
        if holds_resource(ctx, actor.id, ResourceType::Host, h, "view_host").await {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Loads a task the actor may see (404 otherwise).
pub async fn visible(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<run::Model> {
    actor.require()?;
    let missing = || AppError::not_found("task");
    let r = run::Entity::find_by_id(id)
        .one(&ctx.db)
        .await?
        .ok_or_else(missing)?;
    if may_view(ctx, actor, &r).await? {
        Ok(r)
    } else {
        Err(missing())
    }
}

async fn to_wire(ctx: &Ctx, actor: &Actor, r: run::Model) -> AppResult<Task> {
    let targets = run_target::Entity::find()
        .filter(run_target::Column::RunId.eq(r.id))
        .order_by_asc(run_target::Column::Seq)
        .all(&ctx.db)
        .await?;
    let creator = match r.creator_id {
        Some(id) => ctx
            .names
            .names(&ctx.db, [id])
            .await?
            .remove(&id)
            .unwrap_or_default(),
        None => String::new(),
    };
    let mut results = Vec::with_capacity(targets.len());
    let mut hosts: Vec<TaskHost> = Vec::new();
    for t in targets {
        let name = if holds_resource(ctx, actor.id, ResourceType::Host, t.host_id, "view_host")
            .await
            || r.creator_id == Some(actor.id)
        {
            t.host_name.clone()
        } else {
            format!("#{}", t.host_id)
        };
        let host = TaskHost {
            id: t.host_id,
            name,
        };
        if !hosts.iter().any(|h| h.id == host.id) {
            hosts.push(host.clone());
        }
        results.push(TargetResult {
            id: t.id,
            host,
            instance_id: t.instance_id,
            status: t.status,
            step: t.step,
            steps_total: t.steps_total,
            step_name: t.step_name,
            exit_code: t.exit_code,
            error_code: t.error_code,
            error: t.error,
            started_time: t.started_at.as_ref().map(crate::time::fmt),
            finished_time: t.finished_at.as_ref().map(crate::time::fmt),
        });
    }
    Ok(Task {
        id: r.id,
        kind: r.kind,
        status: r.status,
        creator,
        hosts,
        created_time: crate::time::fmt(&r.created_at),
        finished_time: r.finished_at.as_ref().map(crate::time::fmt),
        error: r.error,
        cancel_requested: r.cancel_requested,
        progress: Progress {
            total: r.total,
            done: r.done,
            failed: r.failed,
        },
        results,
        task_output: output_url(ctx, r.id),
    })
}

/// `GET /tasks/{id}/`: a task with its per-host results.
pub async fn get(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<Task> {
    let r = visible(ctx, actor, id).await?;
    to_wire(ctx, actor, r).await
}

fn chunk(o: run_output::Model) -> OutputChunk {
    OutputChunk {
        id: o.id,
        target_id: o.target_id,
        stream: o.stream,
        data: String::from_utf8_lossy(&o.data).into_owned(),
    }
}

async fn read_output(
    ctx: &Ctx,
    run_id: i64,
    target: Option<i64>,
    after: i64,
    limit: u64,
) -> AppResult<Vec<run_output::Model>> {
    let mut q = run_output::Entity::find()
        .filter(run_output::Column::RunId.eq(run_id))
        .filter(run_output::Column::Id.gt(after));
    if let Some(t) = target {
        q = q.filter(run_output::Column::TargetId.eq(t));
    }
    Ok(q.order_by_asc(run_output::Column::Id)
        .limit(limit)
        .all(&ctx.db)
        .await?)
}

/// `GET /tasks/{id}/output/`: stored output after a chunk id.
pub async fn output(ctx: &Ctx, actor: &Actor, id: i64, q: OutputQuery) -> AppResult<OutputPage> {
    let r = visible(ctx, actor, id).await?;
    let after = q.after.unwrap_or(0).max(0);
    let limit = q.limit.unwrap_or(256).clamp(1, 1000) as u64;
    let rows = read_output(ctx, r.id, q.target, after, limit).await?;
    let next_after = rows.last().map_or(after, |o| o.id);
    Ok(OutputPage {
        chunks: rows.into_iter().map(chunk).collect(),
        next_after,
        status: r.status,
    })
}

/// `POST /tasks/{id}/actions/cancel/`: asks the executing process to stop the task: running
/// steps are killed on their hosts, pending targets are skipped, the task fails. Its creator,
/// superusers and (host tasks) `host.manage_host` holders may.
pub async fn cancel(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<Message> {
    let r = visible(ctx, actor, id).await?;
    let may = r.creator_id == Some(actor.id)
        || is_superuser(ctx, actor.id).await
        || may_module(ctx, actor, "host", "manage_host").await;
    if !may {
        return Err(AppError::forbidden(
            "only the creator of a task or a host manager may cancel it",
        ));
    }
    if r.status != "running" {
        return Err(AppError::conflict(format!(
            "the task is {} already",
            r.status
        )));
    }
    let txn = crate::db::begin(&ctx.db).await?;
    run::Entity::update_many()
        .col_expr(run::Column::CancelRequested, Expr::value(true))
        .col_expr(run::Column::CancelledBy, Expr::value(actor.id))
        .filter(run::Column::Id.eq(id))
        .filter(run::Column::Status.eq("running"))
        .exec(&txn)
        .await?;
    record(
        &txn,
        actor,
        Entry::new("task", "cancel").target("task", Some(id), &r.kind),
    )
    .await?;
    txn.commit().await?;
    Ok(Message::success())
}

/// Query of the live output channel.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct FollowQuery {
    /// Resume after this chunk id.
    #[serde(default, deserialize_with = "crate::common::de::opt_num")]
    pub after: Option<i64>,
    /// Only this target's output and changes.
    #[serde(default, deserialize_with = "crate::common::de::opt_num")]
    pub target: Option<i64>,
}

/// Live output of a task, authorized now: `hello` (the task and its targets), the stored
/// output after `after`, then what follows as it is written, then `end`. Frames are JSON
/// texts; the stream ends after `end`, or when the receiver is dropped.
pub async fn follow(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    q: FollowQuery,
) -> AppResult<mpsc::Receiver<Arc<str>>> {
    let r = visible(ctx, actor, id).await?;
    // Subscribe before reading what is stored, so nothing written in between is missed.
    let live = ctx.hub.subscribe(id);
    let task = to_wire(ctx, actor, r).await?;
    let (tx, rx) = mpsc::channel(64);
    let hello: Arc<str> = json!({
        "type": "hello",
        "task_id": task.id.to_string(),
        "status": task.status,
        "targets": task.results,
    })
    .to_string()
    .into();
    tokio::spawn(pump(ctx.clone(), id, q, live, hello, tx));
    Ok(rx)
}

/// Sends stored output after `last` (all of it); answers the last id sent, or `None` when the
/// receiver is gone.
async fn replay(
    ctx: &Ctx,
    id: i64,
    target: Option<i64>,
    mut last: i64,
    tx: &mpsc::Sender<Arc<str>>,
) -> Option<i64> {
    loop {
        let rows = match read_output(ctx, id, target, last, 256).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(run = id, error = %e, "reading task output");
                return Some(last);
            }
        };
        if rows.is_empty() {
            return Some(last);
        }
        for o in rows {
            last = o.id;
            let f = super::output::output_frame(o.id, o.target_id, &o.stream, &o.data);
            tx.send(f.text).await.ok()?;
        }
    }
}

async fn pump(
    ctx: Ctx,
    id: i64,
    q: FollowQuery,
    live: Option<broadcast::Receiver<Frame>>,
    hello: Arc<str>,
    tx: mpsc::Sender<Arc<str>>,
) {
    if tx.send(hello).await.is_err() {
        return;
    }
    let Some(mut last) = replay(&ctx, id, q.target, q.after.unwrap_or(0).max(0), &tx).await else {
        return;
    };
    let wanted = |f: &Frame| q.target.is_none() || f.target_id.is_none() || f.target_id == q.target;
    if let Some(mut live) = live {
        loop {
            match live.recv().await {
                Ok(f) if !wanted(&f) => {}
                Ok(f) if f.kind == "output" => {
                    let fid = f.id.unwrap_or(0);
                    if fid > last {
                        last = fid;
                        if tx.send(f.text).await.is_err() {
                            return;
                        }
                    }
                }
                Ok(f) => {
                    let end = f.kind == "end";
                    if tx.send(f.text).await.is_err() || end {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    match replay(&ctx, id, q.target, last, &tx).await {
                        Some(l) => last = l,
                        None => return,
                    }
                }
                // The run ended in this process without an end frame we saw: read the rest.
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    }
    // Executed elsewhere (or already over): poll the database until the run ends.
    loop {
        let status = match run::Entity::find_by_id(id).one(&ctx.db).await {
            Ok(Some(r)) => (r.status, r.error),
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(run = id, error = %e, "reading a task");
                ("running".into(), None)
            }
        };
        match replay(&ctx, id, q.target, last, &tx).await {
            Some(l) => last = l,
            None => return,
        }
        if status.0 != "running" {
            let end = super::runner::end_frame(&status.0, status.1.as_deref());
            let _ = tx.send(end.text).await;
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}
