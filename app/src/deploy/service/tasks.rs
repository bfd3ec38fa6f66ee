//! Deploy tasks: filed for an application by a holder of `deploy_app`, decided through the
//! approvals engine by holders of `review_app_deploy_task` (levels S and A need two different
//! approvers; nobody decides on their own task), started by the creator or the delegate once
//! approved and not before the planned time, carried out by sub-tasks (`subtasks`), closed.
//!
//! Who sees a task: holders of `view_app` on its application, its creator and its delegate.
use super::artifacts::source_of;
use crate::approvals::service::{self as engine, Subject};
use crate::audit::service::{record, Entry};
use crate::common::{Message, Page};
use crate::ctx::{Actor, Ctx};
use crate::deploy::types::*;
use crate::entities::{
    application, approval, deploy_task, instance, instance_release, perm_grant, role, run,
    user_role,
};
use crate::error::{AppError, AppResult};
use crate::perms::service::{granted_set, holds_resource, id_in};
use crate::perms::types::ResourceType;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::json;
use std::collections::{BTreeSet, HashMap};

const APP: ResourceType = ResourceType::Application;
/// The approvals engine's name for deploy tasks (decisions, timeline events, quorum setting).
pub const SUBJECT: &str = "deploy_task";
/// Run kinds of sub-tasks.
pub use crate::exec::deploy::{REVERT, UPGRADE};

pub(crate) fn subject(id: i64) -> Subject {
    Subject {
        kind: SUBJECT,
        table: "deploy_tasks",
        id,
    }
}

pub(crate) async fn load<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<deploy_task::Model> {
    deploy_task::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("deploy task"))
}

/// The creator or the delegate: who starts, deploys and closes a task.
pub fn runs_it(actor: &Actor, t: &deploy_task::Model) -> bool {
    t.creator_id == actor.id || t.delegate_id == Some(actor.id)
}

/// Loads a task the actor may see (404 otherwise, as if it did not exist).
pub(crate) async fn visible(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<deploy_task::Model> {
    actor.require()?;
    let t = load(&ctx.db, id).await?;
    if runs_it(actor, &t) || holds_resource(ctx, actor.id, APP, t.app_id, "view_app").await {
        Ok(t)
    } else {
        Err(AppError::not_found("deploy task"))
    }
}

/// A planned time: unix seconds (the seed) or RFC 3339.
fn planned_time(s: &str) -> AppResult<chrono::DateTime<chrono::Utc>> {
    let s = s.trim();
    let t = match s.parse::<i64>() {
        Ok(n) => chrono::DateTime::from_timestamp(n, 0)
            .ok_or_else(|| AppError::invalid("planned_exec_time", "not a time"))?,
        Err(_) => crate::time::parse("planned_exec_time", s)?,
    };
    // What every database stores.
    if !(0..=253_402_300_799).contains(&t.timestamp()) {
        return Err(AppError::invalid(
            "planned_exec_time",
            "between 1970 and 9999",
        ));
    }
    Ok(t)
}

/// `POST /application/deploy-tasks/`: files a task for approval (`deploy_app` on the
/// application) and mails its approvers.
pub async fn create_task(ctx: &Ctx, actor: &Actor, i: DeployTaskInput) -> AppResult<TaskCreated> {
    actor.require()?;
    let app_id = i
        .application_id
        .ok_or_else(|| AppError::invalid("application_id", "required"))?;
    crate::perms::service::authorize_resource(ctx, actor, APP, app_id, "deploy_app").await?;
    check_task_input(&i).map_err(|(f, m)| AppError::invalid(f, m))?;
    let planned = planned_time(
        i.planned_exec_time
            .as_deref()
            .ok_or_else(|| AppError::invalid("planned_exec_time", "required"))?,
    )?;
    source_of(ctx, Some(actor), "package_source", i.package_source.trim()).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    let a = application::Entity::find_by_id(app_id)
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::not_found("application"))?;
    let needed = if needs_two(&i.level) {
        2
    } else {
        engine::quorum(&txn, SUBJECT).await?
    };
    let now = crate::time::now();
    let version = i.version.clone().unwrap_or_default().trim().to_string();
    let row = deploy_task::ActiveModel {
        app_id: Set(app_id),
        creator_id: Set(actor.id),
        delegate_id: Set(None),
        status: Set("wait_review".into()),
        approvals_needed: Set(needed),
        approvals_count: Set(0),
        version: Set(version.clone()),
        description: Set(i.description.trim().to_string()),
        level: Set(i.level.clone()),
        package_source: Set(i.package_source.trim().to_string()),
        planned_exec_time: Set(planned),
        upgrade_checklist: Set(i.upgrade_checklist.clone()),
        upgrade_steps: Set(i.upgrade_steps.clone()),
        rollback_steps: Set(i.rollback_steps.clone()),
        started_at: Set(None),
        started_by: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        finished_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    engine::event(&txn, subject(row.id), Some(actor), "filed", "").await?;
    record(
        &txn,
        actor,
        Entry::new("deploy", "create_task")
            .target("deploy_task", Some(row.id), &a.full_name)
            .detail(
                json!({"application_id": app_id, "version": version, "level": i.level,
                "package_source": row.package_source, "approvals_needed": needed}),
            ),
    )
    .await?;
    let mut to = approvers(&txn, ctx, app_id).await?;
    to.remove(&actor.id);
    super::notify::send(
        &txn,
        ctx,
        &to,
        &row,
        &a.full_name,
        &actor.username,
        super::notify::What::Filed,
    )
    .await?;
    txn.commit().await?;
    Ok(TaskCreated {
        message: "success".into(),
        id: row.id,
    })
}

/// Who may decide on an application's deploy tasks: holders of `review_app_deploy_task` on it
/// (directly, through a role, an ancestor or a product line) and superusers.
pub(crate) async fn approvers<C: ConnectionTrait>(
    db: &C,
    ctx: &Ctx,
    app_id: i64,
) -> AppResult<BTreeSet<i64>> {
    let grants = perm_grant::Entity::find()
        .filter(perm_grant::Column::Perm.eq("review_app_deploy_task"))
        .all(db)
        .await?;
    let mut users = BTreeSet::new();
    let mut roles = vec![];
    for g in grants {
        if g.subject_type == "user" {
            users.insert(g.subject_id);
        } else {
            roles.push(g.subject_id);
        }
    }
    if let Some(su) = role::Entity::find()
        .filter(role::Column::Name.eq(crate::perms::casbin::SUPERUSER_ROLE))
        .one(db)
        .await?
    {
        roles.push(su.id);
    }
    for m in user_role::Entity::find()
        .filter(user_role::Column::RoleId.is_in(roles))
        .all(db)
        .await?
    {
        users.insert(m.user_id);
    }
    let mut out = BTreeSet::new();
    for u in users {
        if holds_resource(ctx, u, APP, app_id, "review_app_deploy_task").await {
            out.insert(u);
        }
    }
    Ok(out)
}

async fn actions(ctx: &Ctx, actor: &Actor, t: &deploy_task::Model) -> AppResult<DeployTaskActions> {
    let mine = runs_it(actor, t);
    let review = t.status == "wait_review"
        && t.creator_id != actor.id
        && t.delegate_id != Some(actor.id)
        && holds_resource(ctx, actor.id, APP, t.app_id, "review_app_deploy_task").await
        && !engine::decided(&ctx.db, actor, subject(t.id)).await?;
    let deployer = mine && holds_resource(ctx, actor.id, APP, t.app_id, "deploy_app").await;
    let open = matches!(t.status.as_str(), "wait_review" | "approved" | "deploying");
    Ok(DeployTaskActions {
        approve: review,
        reject: review,
        start: deployer && t.status == "approved",
        close: open && (t.creator_id == actor.id || (mine && t.status != "wait_review")),
        delegate: mine && open,
        deploy: deployer && t.status == "deploying",
    })
}

async fn to_wire(
    ctx: &Ctx,
    actor: &Actor,
    rows: Vec<deploy_task::Model>,
) -> AppResult<Vec<DeployTask>> {
    let mut ids: Vec<i64> = rows.iter().map(|r| r.creator_id).collect();
    ids.extend(rows.iter().filter_map(|r| r.delegate_id));
    let names = ctx.names.names(&ctx.db, ids).await?;
    let app_ids: Vec<i64> = rows.iter().map(|r| r.app_id).collect();
    let apps: HashMap<i64, String> = application::Entity::find()
        .filter(application::Column::Id.is_in(app_ids))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|a| (a.id, a.full_name))
        .collect();
    let mut out = Vec::with_capacity(rows.len());
    for t in rows {
        let shown = holds_resource(ctx, actor.id, APP, t.app_id, "view_app").await;
        out.push(DeployTask {
            id: t.id,
            application_id: t.app_id,
            application_name: if shown {
                apps.get(&t.app_id).cloned().unwrap_or_default()
            } else {
                format!("#{}", t.app_id)
            },
            available_actions: actions(ctx, actor, &t).await?,
            creator: names.get(&t.creator_id).cloned().unwrap_or_default(),
            delegate: t
                .delegate_id
                .map(|d| names.get(&d).cloned().unwrap_or_default()),
            planned_exec_time: crate::time::fmt(&t.planned_exec_time),
            created_time: crate::time::fmt(&t.created_at),
            started_time: crate::time::fmt_opt(&t.started_at),
            finished_time: crate::time::fmt_opt(&t.finished_at),
            version: t.version,
            description: t.description,
            level: t.level,
            package_source: t.package_source,
            upgrade_checklist: t.upgrade_checklist,
            upgrade_steps: t.upgrade_steps,
            rollback_steps: t.rollback_steps,
            status: t.status,
            approvals_needed: t.approvals_needed,
            approvals_count: t.approvals_count,
        });
    }
    Ok(out)
}

/// `GET /application/deploy-tasks/`: the tasks the caller may see, newest first.
pub async fn list_tasks(
    ctx: &Ctx,
    actor: &Actor,
    f: DeployTaskFilter,
) -> AppResult<Page<DeployTask>> {
    actor.require()?;
    let backend = ctx.db.get_database_backend();
    let mut q = deploy_task::Entity::find();
    if let Some(apps) = granted_set(ctx, actor, APP, "view_app").await? {
        q = q.filter(
            Condition::any()
                .add(id_in(backend, deploy_task::Column::AppId, &apps))
                .add(deploy_task::Column::CreatorId.eq(actor.id))
                .add(deploy_task::Column::DelegateId.eq(actor.id)),
        );
    }
    if let Some(s) = f.status.as_deref().filter(|s| !s.is_empty()) {
        if !TASK_STATUSES.contains(&s) {
            return Err(AppError::invalid(
                "status",
                format!("one of {}", TASK_STATUSES.join(", ")),
            ));
        }
        q = q.filter(deploy_task::Column::Status.eq(s));
    }
    if let Some(l) = f.level.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(deploy_task::Column::Level.eq(l));
    }
    if let Some(a) = f.application_id {
        q = q.filter(deploy_task::Column::AppId.eq(a));
    }
    if let Some(c) = f.creator.as_deref().filter(|s| !s.is_empty()) {
        let uid = crate::users::service::creator_filter_id(&ctx.db, c).await?;
        q = q.filter(deploy_task::Column::CreatorId.eq(uid));
    }
    if let Some(s) = f.time_gt.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(deploy_task::Column::CreatedAt.gt(crate::time::parse("time__gt", s)?));
    }
    if let Some(s) = f.time_lt.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(deploy_task::Column::CreatedAt.lt(crate::time::parse("time__lt", s)?));
    }
    match f.view.as_deref().unwrap_or_default() {
        "" | "all" => {}
        "mine" => {
            q = q.filter(
                Condition::any()
                    .add(deploy_task::Column::CreatorId.eq(actor.id))
                    .add(deploy_task::Column::DelegateId.eq(actor.id)),
            )
        }
        "inbox" => {
            let decided = Query::select()
                .column(approval::Column::SubjectId)
                .from(approval::Entity)
                .and_where(approval::Column::SubjectType.eq(SUBJECT))
                .and_where(approval::Column::ApproverId.eq(actor.id))
                .to_owned();
            q = q
                .filter(deploy_task::Column::Status.eq("wait_review"))
                .filter(deploy_task::Column::CreatorId.ne(actor.id))
                .filter(deploy_task::Column::Id.not_in_subquery(decided));
            if let Some(apps) = granted_set(ctx, actor, APP, "review_app_deploy_task").await? {
                q = q.filter(id_in(backend, deploy_task::Column::AppId, &apps));
            }
        }
        _ => return Err(AppError::invalid("view", "all, mine or inbox")),
    }
    let count = q.clone().count(&ctx.db).await?;
    let rows = q
        .order_by_desc(deploy_task::Column::Id)
        .offset(f.page.offset())
        .limit(f.page.size())
        .all(&ctx.db)
        .await?;
    Ok(Page::new(count, &f.page, to_wire(ctx, actor, rows).await?))
}

/// `GET /application/deploy-tasks/{id}/`: a task with its decisions, timeline, sub-tasks and
/// the application's instances.
pub async fn get_task(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<DeployTaskDetail> {
    let t = visible(ctx, actor, id).await?;
    let s = subject(id);
    let runs = run::Entity::find()
        .filter(run::Column::SubjectType.eq(SUBJECT))
        .filter(run::Column::SubjectId.eq(id))
        .order_by_desc(run::Column::Id)
        .all(&ctx.db)
        .await?;
    let names = ctx
        .names
        .names(
            &ctx.db,
            runs.iter().filter_map(|r| r.creator_id).collect::<Vec<_>>(),
        )
        .await?;
    let sub_tasks = runs
        .into_iter()
        .map(|r| SubTask {
            version: crate::exec::deploy::version_of(&r.opts),
            creator: r
                .creator_id
                .and_then(|c| names.get(&c).cloned())
                .unwrap_or_default(),
            created_time: crate::time::fmt(&r.created_at),
            task_output: crate::exec::service::output_url(ctx, r.id),
            id: r.id,
            kind: r.kind,
            status: r.status,
        })
        .collect();
    let instances = instances_of(ctx, actor, t.app_id).await?;
    Ok(DeployTaskDetail {
        decisions: engine::decisions(ctx, s).await?,
        timeline: engine::timeline(&ctx.db, s).await?,
        task: to_wire(ctx, actor, vec![t]).await?.remove(0),
        sub_tasks,
        instances,
    })
}

/// An application's instances with their kept releases; hosts the actor may not view appear as
/// `#<id>`.
pub(crate) async fn instances_of(
    ctx: &Ctx,
    actor: &Actor,
    app_id: i64,
) -> AppResult<Vec<InstanceState>> {
    let rows = instance::Entity::find()
        .filter(instance::Column::AppId.eq(app_id))
        .order_by_asc(instance::Column::Id)
        .all(&ctx.db)
        .await?;
    let ids: Vec<i64> = rows.iter().map(|i| i.id).collect();
    let mut kept: HashMap<i64, Vec<String>> = HashMap::new();
    for r in instance_release::Entity::find()
        .filter(instance_release::Column::InstanceId.is_in(ids))
        .filter(instance_release::Column::State.eq("kept"))
        .order_by_desc(instance_release::Column::DeployedAt)
        .order_by_desc(instance_release::Column::Id)
        .all(&ctx.db)
        .await?
    {
        kept.entry(r.instance_id).or_default().push(r.version);
    }
    let hosts: HashMap<i64, String> = crate::entities::host::Entity::find()
        .filter(crate::entities::host::Column::Id.is_in(rows.iter().map(|i| i.host_id)))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|h| (h.id, h.hostname))
        .collect();
    let mut out = Vec::with_capacity(rows.len());
    for i in rows {
        let seen = holds_resource(ctx, actor.id, ResourceType::Host, i.host_id, "view_host").await;
        out.push(InstanceState {
            id: i.id,
            host_id: i.host_id,
            host_name: match hosts.get(&i.host_id) {
                Some(n) if seen => n.clone(),
                _ => format!("#{}", i.host_id),
            },
            status: i.status,
            version: i.version,
            kept: kept.remove(&i.id).unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Loads a task to decide on: the caller may see it, holds `review_app_deploy_task`, and is
/// neither its creator (the engine refuses that) nor its delegate.
async fn for_review(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<deploy_task::Model> {
    let t = visible(ctx, actor, id).await?;
    if t.delegate_id == Some(actor.id) {
        return Err(AppError::forbidden(
            "the task's delegate does not decide on it",
        ));
    }
    crate::perms::service::authorize_resource(ctx, actor, APP, t.app_id, "review_app_deploy_task")
        .await?;
    Ok(t)
}

async fn audit<C: ConnectionTrait>(
    txn: &C,
    actor: &Actor,
    action: &str,
    t: &deploy_task::Model,
    detail: serde_json::Value,
) -> AppResult<()> {
    record(
        txn,
        actor,
        Entry::new("deploy", action)
            .target(
                "deploy_task",
                Some(t.id),
                &format!("{} {}", t.id, t.version),
            )
            .detail(detail),
    )
    .await
}

async fn app_name<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<String> {
    Ok(application::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(|a| a.full_name)
        .unwrap_or_default())
}

/// `POST …/{id}/actions/approve/`: one approval; the last one needed approves the task and
/// mails its creator.
pub async fn approve_task(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<Message> {
    let t = for_review(ctx, actor, id).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    let done = engine::approve(&txn, actor, subject(id)).await?;
    audit(&txn, actor, "approve_task", &t, json!({"approved": done})).await?;
    if done {
        let name = app_name(&txn, t.app_id).await?;
        super::notify::send(
            &txn,
            ctx,
            &BTreeSet::from([t.creator_id]),
            &t,
            &name,
            &actor.username,
            super::notify::What::Approved,
        )
        .await?;
    }
    txn.commit().await?;
    Ok(Message::success())
}

/// `POST …/{id}/actions/reject/` (an optional `reason`).
pub async fn reject_task(ctx: &Ctx, actor: &Actor, id: i64, reason: &str) -> AppResult<Message> {
    let t = for_review(ctx, actor, id).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    engine::reject(&txn, actor, subject(id), reason).await?;
    audit(
        &txn,
        actor,
        "reject_task",
        &t,
        json!({"reason": reason.trim()}),
    )
    .await?;
    let name = app_name(&txn, t.app_id).await?;
    super::notify::send(
        &txn,
        ctx,
        &BTreeSet::from([t.creator_id]),
        &t,
        &name,
        &actor.username,
        super::notify::What::Rejected(reason.trim().to_string()),
    )
    .await?;
    txn.commit().await?;
    Ok(Message::success())
}

/// Loads a task its creator or delegate acts on (403 for others who may see it).
pub(crate) async fn for_runner(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<deploy_task::Model> {
    let t = visible(ctx, actor, id).await?;
    if !runs_it(actor, &t) {
        return Err(AppError::forbidden(
            "only the task's creator or its delegate may do this",
        ));
    }
    Ok(t)
}

/// `POST …/{id}/actions/start/`: an approved task starts (`deploying`) once its planned time
/// has come; by its creator or delegate, who holds `deploy_app`.
pub async fn start_task(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<Message> {
    let t = for_runner(ctx, actor, id).await?;
    crate::perms::service::authorize_resource(ctx, actor, APP, t.app_id, "deploy_app").await?;
    let now = crate::time::now();
    if t.status == "approved" && now < t.planned_exec_time {
        return Err(AppError::conflict(format!(
            "the task is planned for {}; it cannot start before",
            crate::time::fmt(&t.planned_exec_time)
        )));
    }
    let txn = crate::db::begin(&ctx.db).await?;
    let moved = engine::transition(
        &txn,
        subject(id),
        "approved",
        vec![
            ("status", Expr::value("deploying")),
            ("started_at", Expr::value(now)),
            ("started_by", Expr::value(actor.id)),
        ],
    )
    .await?;
    if !moved {
        let st = load(&txn, id).await?.status;
        return Err(match st.as_str() {
            "wait_review" => AppError::conflict("the task is not approved yet"),
            "deploying" => AppError::conflict("the task has started already"),
            s => engine::refused(s),
        });
    }
    // Approved in between (the check above read another status): the planned time holds too.
    if load(&txn, id).await?.planned_exec_time > now {
        return Err(AppError::conflict(format!(
            "the task is planned for {}; it cannot start before",
            crate::time::fmt(&t.planned_exec_time)
        )));
    }
    engine::event(&txn, subject(id), Some(actor), "started", "").await?;
    audit(&txn, actor, "start_task", &t, json!({})).await?;
    txn.commit().await?;
    Ok(Message::success())
}

/// Whether a sub-task of the task is still running.
pub(crate) async fn busy<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<bool> {
    Ok(run::Entity::find()
        .filter(run::Column::SubjectType.eq(SUBJECT))
        .filter(run::Column::SubjectId.eq(id))
        .filter(run::Column::Status.eq("running"))
        .count(db)
        .await?
        > 0)
}

/// `POST …/{id}/actions/close/`: a task waiting for review is withdrawn by its creator; an
/// approved one is closed by its creator or delegate; a deploying one is finished (409 while
/// a sub-task runs).
pub async fn close_task(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<Message> {
    let t = for_runner(ctx, actor, id).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    let s = subject(id);
    match t.status.as_str() {
        "wait_review" => engine::close(&txn, actor, s).await?,
        "approved" => {
            if !engine::transition(&txn, s, "approved", vec![("status", Expr::value("closed"))])
                .await?
            {
                return Err(engine::refused(&load(&txn, id).await?.status));
            }
            engine::event(&txn, s, Some(actor), "closed", "").await?;
        }
        "deploying" => {
            if busy(&txn, id).await? {
                return Err(AppError::conflict(
                    "a sub-task of this task is running; close it once it ended",
                ));
            }
            let now = crate::time::now();
            if !engine::transition(
                &txn,
                s,
                "deploying",
                vec![
                    ("status", Expr::value("finished")),
                    ("finished_at", Expr::value(now)),
                ],
            )
            .await?
            {
                return Err(engine::refused(&load(&txn, id).await?.status));
            }
            engine::event(&txn, s, Some(actor), "finished", "").await?;
        }
        other => return Err(engine::refused(other)),
    }
    audit(&txn, actor, "close_task", &t, json!({"from": t.status})).await?;
    txn.commit().await?;
    Ok(Message::success())
}

/// `POST …/{id}/actions/delegate/`: the creator (or the delegate) hands the task to a user who
/// may deploy the application.
pub async fn delegate_task(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    d: DelegateInput,
) -> AppResult<Message> {
    let t = for_runner(ctx, actor, id).await?;
    if !matches!(t.status.as_str(), "wait_review" | "approved" | "deploying") {
        return Err(engine::refused(&t.status));
    }
    let enabled = crate::entities::user::Entity::find_by_id(d.user_id)
        .one(&ctx.db)
        .await?
        .is_some_and(|u| u.status == "enabled");
    // One answer for "no such user" and "may not deploy": no probing of accounts.
    if !enabled || !holds_resource(ctx, d.user_id, APP, t.app_id, "deploy_app").await {
        return Err(AppError::invalid(
            "user_id",
            "not a user who may deploy this application",
        ));
    }
    let name = ctx.names.name_of(&ctx.db, Some(d.user_id)).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    let r = deploy_task::Entity::update_many()
        .col_expr(deploy_task::Column::DelegateId, Expr::value(d.user_id))
        .col_expr(
            deploy_task::Column::UpdatedAt,
            Expr::value(crate::time::now()),
        )
        .filter(deploy_task::Column::Id.eq(id))
        .filter(deploy_task::Column::Status.is_in(["wait_review", "approved", "deploying"]))
        .exec(&txn)
        .await?;
    if r.rows_affected != 1 {
        return Err(engine::refused(&load(&txn, id).await?.status));
    }
    engine::event(&txn, subject(id), Some(actor), "delegated", name.clone()).await?;
    audit(
        &txn,
        actor,
        "delegate_task",
        &t,
        json!({"to": {"id": d.user_id, "name": name}}),
    )
    .await?;
    txn.commit().await?;
    Ok(Message::success())
}
