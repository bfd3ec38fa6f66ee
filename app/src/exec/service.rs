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
use crate::perms::service::{granted_set, holds_resource, id_in, is_superuser, may_module};
use crate::perms::types::ResourceType;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;
use std::collections::HashSet;
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

/// Which targets of a task the actor sees: all (`None`) for its creator, superusers and host
/// managers; else those on hosts the actor may view (their results, output and live frames;
/// the rest of the task stays hidden).
pub async fn visible_targets(
    ctx: &Ctx,
    actor: &Actor,
    r: &run::Model,
) -> AppResult<Option<Arc<HashSet<i64>>>> {
    actor.require()?;
    // A deploy sub-task's own creator follows the deploy task's rules (`deploy_task_runner`).
    let deploy = r.subject_type.as_deref() == Some(crate::deploy::service::SUBJECT);
    if (r.creator_id == Some(actor.id) && !deploy)
        || is_superuser(ctx, actor.id).await
        || may_module(ctx, actor, "host", "manage_host").await
        || deploy_task_runner(ctx, actor, r, "view_app").await?
    {
        return Ok(None);
    }
    let targets: Vec<(i64, i64)> = run_target::Entity::find()
        .select_only()
        .column(run_target::Column::Id)
        .column(run_target::Column::HostId)
        .filter(run_target::Column::RunId.eq(r.id))
        .into_tuple()
        .all(&ctx.db)
        .await?;
    let mut seen = HashSet::new();
    for (t, h) in targets {
        if holds_resource(ctx, actor.id, ResourceType::Host, h, "view_host").await {
            seen.insert(t);
        }
    }
    Ok(Some(Arc::new(seen)))
}

/// Whether a run is a sub-task of a deploy task the actor runs (its creator or delegate) and
/// the actor holds `perm` on its application. With `view_app` they see every instance of it
/// (others see the instances on hosts they may view, the host rule, as everywhere); with
/// `deploy_app` they may cancel it.
async fn deploy_task_runner(
    ctx: &Ctx,
    actor: &Actor,
    r: &run::Model,
    perm: &str,
) -> AppResult<bool> {
    if r.subject_type.as_deref() != Some(crate::deploy::service::SUBJECT) {
        return Ok(false);
    }
    let Some(t) = crate::entities::deploy_task::Entity::find_by_id(r.subject_id.unwrap_or(0))
        .one(&ctx.db)
        .await?
    else {
        return Ok(false);
    };
    Ok(crate::deploy::service::runs_it(actor, &t)
        && holds_resource(ctx, actor.id, ResourceType::Application, t.app_id, perm).await)
}

/// The runs the actor may see in lists, as a condition (`None`: all of them): the rule of
/// `visible_targets` in SQL.
pub async fn visible_condition(ctx: &Ctx, actor: &Actor) -> AppResult<Option<Condition>> {
    let Some(seen) = seen_targets(ctx, actor).await? else {
        return Ok(None);
    };
    let touching = Query::select()
        .column(run_target::Column::RunId)
        .from(run_target::Entity)
        .cond_where(seen)
        .to_owned();
    Ok(Some(
        Condition::all().add(run::Column::Id.in_subquery(touching)),
    ))
}

/// The targets the actor sees in lists, as a condition on `run_targets` (`None`: all): those of
/// runs it created, and those on hosts it may view. Filters on targets (a host name) use it, so
/// they match nothing the actor cannot see.
pub async fn seen_targets(ctx: &Ctx, actor: &Actor) -> AppResult<Option<Condition>> {
    actor.require()?;
    if is_superuser(ctx, actor.id).await || may_module(ctx, actor, "host", "manage_host").await {
        return Ok(None);
    }
    let Some(hosts) = granted_set(ctx, actor, ResourceType::Host, "view_host").await? else {
        return Ok(None);
    };
    let mine = Query::select()
        .column(run::Column::Id)
        .from(run::Entity)
        .and_where(run::Column::CreatorId.eq(actor.id))
        .to_owned();
    Ok(Some(
        Condition::any()
            .add(sea_orm::sea_query::ExprTrait::in_subquery(
                Expr::col((run_target::Entity, run_target::Column::RunId)),
                mine,
            ))
            .add(id_in(
                ctx.db.get_database_backend(),
                (run_target::Entity, run_target::Column::HostId),
                &hosts,
            )),
    ))
}

/// Runs of a list page as the actor sees them, each with the targets it may see.
pub async fn wire_page(ctx: &Ctx, actor: &Actor, runs: Vec<run::Model>) -> AppResult<Vec<Task>> {
    let mut out = Vec::with_capacity(runs.len());
    for r in runs {
        let scope = visible_targets(ctx, actor, &r).await?;
        out.push(to_wire(ctx, actor, r, scope.as_deref()).await?);
    }
    Ok(out)
}

/// Loads a task the actor may see, with the targets it sees (404 when none).
pub async fn visible(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
) -> AppResult<(run::Model, Option<Arc<HashSet<i64>>>)> {
    actor.require()?;
    let missing = || AppError::not_found("task");
    let r = run::Entity::find_by_id(id)
        .one(&ctx.db)
        .await?
        .ok_or_else(missing)?;
    match visible_targets(ctx, actor, &r).await? {
        Some(s) if s.is_empty() => Err(missing()),
        scope => Ok((r, scope)),
    }
}

async fn to_wire(
    ctx: &Ctx,
    actor: &Actor,
    r: run::Model,
    scope: Option<&HashSet<i64>>,
) -> AppResult<Task> {
    let mut targets = run_target::Entity::find()
        .filter(run_target::Column::RunId.eq(r.id))
        .order_by_asc(run_target::Column::Seq)
        .all(&ctx.db)
        .await?;
    if let Some(s) = scope {
        targets.retain(|t| s.contains(&t.id));
    }
    let creator = ctx.names.name_of(&ctx.db, r.creator_id).await?;
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
    let opts = init_opts(&r.kind, &r.opts);
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
        opts,
    })
}

/// The options an init task answers (its Zabbix groups and templates).
fn init_opts(kind: &str, opts: &str) -> Option<serde_json::Value> {
    if kind != super::init::HOST_INIT {
        return None;
    }
    let o: super::runner::Opts = serde_json::from_str(opts).ok()?;
    let p: super::init::InitPlan = serde_json::from_value(o.extra).ok()?;
    Some(json!({"zabbix_groups": p.zabbix_groups, "zabbix_templates": p.zabbix_templates}))
}

/// `GET /tasks/{id}/`: a task with its per-host results.
pub async fn get(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<Task> {
    let (r, scope) = visible(ctx, actor, id).await?;
    to_wire(ctx, actor, r, scope.as_deref()).await
}

fn chunk(o: run_output::Model) -> OutputChunk {
    OutputChunk {
        id: o.id,
        target_id: o.target_id,
        stream: o.stream,
        data: String::from_utf8_lossy(&o.data).into_owned(),
    }
}

/// Whose output a reader gets: one target, and only targets it may see.
#[derive(Clone, Default)]
struct Scope {
    target: Option<i64>,
    allowed: Option<Arc<HashSet<i64>>>,
}

impl Scope {
    /// Whether a frame (or chunk) of `target_id` is for this reader; frames of the whole task
    /// (`None`) are.
    fn wants(&self, target_id: Option<i64>) -> bool {
        let Some(t) = target_id else { return true };
        self.target.is_none_or(|only| only == t)
            && self.allowed.as_ref().is_none_or(|a| a.contains(&t))
    }
}

async fn read_output(
    ctx: &Ctx,
    run_id: i64,
    scope: &Scope,
    after: i64,
    limit: u64,
) -> AppResult<Vec<run_output::Model>> {
    let mut q = run_output::Entity::find()
        .filter(run_output::Column::RunId.eq(run_id))
        .filter(run_output::Column::Id.gt(after));
    if let Some(t) = scope.target {
        q = q.filter(run_output::Column::TargetId.eq(t));
    }
    if let Some(a) = &scope.allowed {
        q = q.filter(run_output::Column::TargetId.is_in(a.iter().copied()));
    }
    Ok(q.order_by_asc(run_output::Column::Id)
        .limit(limit)
        .all(&ctx.db)
        .await?)
}

/// `GET /tasks/{id}/output/`: stored output after a chunk id.
pub async fn output(ctx: &Ctx, actor: &Actor, id: i64, q: OutputQuery) -> AppResult<OutputPage> {
    let (r, allowed) = visible(ctx, actor, id).await?;
    let after = q.after.unwrap_or(0).max(0);
    let limit = q.limit.unwrap_or(256).clamp(1, 1000) as u64;
    let scope = Scope {
        target: q.target,
        allowed,
    };
    let rows = read_output(ctx, r.id, &scope, after, limit).await?;
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
    let (r, _) = visible(ctx, actor, id).await?;
    let deploy = r.subject_type.as_deref() == Some(crate::deploy::service::SUBJECT);
    let may = (r.creator_id == Some(actor.id) && !deploy)
        || is_superuser(ctx, actor.id).await
        || may_module(ctx, actor, "host", "manage_host").await
        || deploy_task_runner(ctx, actor, &r, "deploy_app").await?;
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
    let asked = run::Entity::update_many()
        .col_expr(run::Column::CancelRequested, Expr::value(true))
        .col_expr(run::Column::CancelledBy, Expr::value(actor.id))
        .filter(run::Column::Id.eq(id))
        .filter(run::Column::Status.eq("running"))
        .filter(run::Column::CancelRequested.eq(false))
        .exec(&txn)
        .await?;
    if asked.rows_affected != 1 {
        return Err(AppError::conflict(
            "the task ended or is being cancelled already",
        ));
    }
    record(
        &txn,
        actor,
        Entry::new("task", "cancel").target("task", Some(id), &r.kind),
    )
    .await?;
    txn.commit().await?;
    Ok(Message::success())
}

/// Live output of a task, authorized now (`q.after`, `q.target`; `q.limit` is not used):
/// `hello` (the task and its targets), the stored output after `after`, then what follows as
/// it is written, then `end`. Frames are JSON texts; the stream ends after `end`, or when the
/// receiver is dropped.
pub async fn follow(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    q: OutputQuery,
) -> AppResult<mpsc::Receiver<Arc<str>>> {
    let (r, allowed) = visible(ctx, actor, id).await?;
    // Subscribe before reading what is stored, so nothing written in between is missed.
    let live = ctx.hub.subscribe(id);
    let task = to_wire(ctx, actor, r, allowed.as_deref()).await?;
    let scope = Scope {
        target: q.target,
        allowed,
    };
    let (tx, rx) = mpsc::channel(64);
    let hello: Arc<str> = json!({
        "type": "hello",
        "task_id": task.id.to_string(),
        "status": task.status,
        "targets": task.results,
    })
    .to_string()
    .into();
    tokio::spawn(pump(
        ctx.clone(),
        id,
        q.after.unwrap_or(0).max(0),
        scope,
        live,
        hello,
        tx,
    ));
    Ok(rx)
}

/// Sends stored output after `last` (all of it); answers the last id sent, or `None` when the
/// receiver is gone.
async fn replay(
    ctx: &Ctx,
    id: i64,
    scope: &Scope,
    mut last: i64,
    tx: &mpsc::Sender<Arc<str>>,
) -> Option<i64> {
    loop {
        let rows = match read_output(ctx, id, scope, last, 256).await {
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
    after: i64,
    scope: Scope,
    mut live: Option<broadcast::Receiver<Frame>>,
    hello: Arc<str>,
    tx: mpsc::Sender<Arc<str>>,
) {
    if tx.send(hello).await.is_err() {
        return;
    }
    let Some(mut last) = replay(&ctx, id, &scope, after, &tx).await else {
        return;
    };
    let wanted = |f: &Frame| scope.wants(f.target_id);
    let mut targets: std::collections::HashMap<i64, (String, i32)> = Default::default();
    loop {
        if let Some(mut rx) = live.take() {
            loop {
                match rx.recv().await {
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
                        match replay(&ctx, id, &scope, last, &tx).await {
                            Some(l) => last = l,
                            None => return,
                        }
                    }
                    // The run ended here without an end frame seen: read the rest below.
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        }
        // Not (or no longer) executed by this process: read the database until the run ends,
        // and switch to the live channel if this process starts executing it.
        let status = match run::Entity::find_by_id(id).one(&ctx.db).await {
            Ok(Some(r)) => (r.status, r.error),
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(run = id, error = %e, "reading a task");
                ("running".into(), None)
            }
        };
        if status.0 == "running" {
            live = ctx.hub.subscribe(id);
        }
        match replay(&ctx, id, &scope, last, &tx).await {
            Some(l) => last = l,
            None => return,
        }
        if changed_targets(&ctx, id, &scope, &mut targets, &tx)
            .await
            .is_none()
        {
            return;
        }
        if status.0 != "running" {
            let end = super::runner::end_frame(&status.0, status.1.as_deref());
            let _ = tx.send(end.text).await;
            return;
        }
        if live.is_none() {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }
}

/// Sends a `target` frame for each target whose status or step changed since last seen
/// (followers reading the database); `None` when the receiver is gone.
async fn changed_targets(
    ctx: &Ctx,
    id: i64,
    scope: &Scope,
    seen: &mut std::collections::HashMap<i64, (String, i32)>,
    tx: &mpsc::Sender<Arc<str>>,
) -> Option<()> {
    let q = run_target::Entity::find().filter(run_target::Column::RunId.eq(id));
    let rows = match q.all(&ctx.db).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(run = id, error = %e, "reading task targets");
            return Some(());
        }
    };
    for t in rows.into_iter().filter(|t| scope.wants(Some(t.id))) {
        let now = (t.status.clone(), t.step);
        if seen.get(&t.id) != Some(&now) {
            seen.insert(t.id, now);
            tx.send(super::runner::target_frame(&t).text).await.ok()?;
        }
    }
    Some(())
}
