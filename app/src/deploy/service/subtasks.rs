//! Sub-tasks of a started deploy task: upgrade instances to a version, or revert them to a
//! kept one. Each is a run (`exec::deploy`) whose plan (paths, users, rendered hooks) is fixed
//! here, when it is created by the task's creator or delegate.
use super::artifacts::{source_of, Source};
use super::config::{effective, instance_context, Config};
use super::tasks::{for_runner, subject};
use crate::ctx::{Actor, Ctx};
use crate::deploy::types::*;
use crate::entities::{application, deploy_script, deploy_task, instance, instance_release, run};
use crate::error::{AppError, AppResult};
use crate::exec::deploy::{DeployPlan, Hook, InstancePlan, REVERT, UPGRADE};
use crate::exec::runner::{self, NewRun, NewTarget};
use crate::exec::types::TaskStarted;
use crate::perms::types::ResourceType;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::json;
use std::collections::{BTreeSet, HashMap};

/// `POST /application/deploy-tasks/{id}/sub-upgrade-tasks/`: deploys a version to instances.
pub async fn sub_upgrade(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    i: SubTaskInput,
) -> AppResult<TaskStarted> {
    create(ctx, actor, id, i, false).await
}

/// `POST /application/deploy-tasks/{id}/sub-revert-tasks/`: switches instances back to a
/// version they keep.
pub async fn sub_revert(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    i: SubTaskInput,
) -> AppResult<TaskStarted> {
    create(ctx, actor, id, i, true).await
}

/// The hook of a configuration, rendered for one instance.
async fn hook<C: ConnectionTrait>(
    db: &C,
    cfg: &Config,
    name: &str,
    context: &serde_json::Value,
) -> AppResult<Option<Hook>> {
    let Some(h) = cfg.hooks.get(name) else {
        return Ok(None);
    };
    let s = deploy_script::Entity::find_by_id(h.script_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::conflict(format!("the script of {name} was deleted")))?;
    let script = super::render::render_blocking(s.language.clone(), s.content, context.clone())
        .await
        .map_err(|e| AppError::invalid("lifecycle_hooks", format!("{name}: {}", e.message)))?;
    Ok(Some(Hook {
        user: h
            .running_user
            .clone()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| cfg.hooks_user.clone()),
        language: s.language,
        script,
    }))
}

async fn create(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    i: SubTaskInput,
    revert: bool,
) -> AppResult<TaskStarted> {
    let t = for_runner(ctx, actor, id).await?;
    crate::perms::service::authorize_resource(
        ctx,
        actor,
        ResourceType::Application,
        t.app_id,
        "deploy_app",
    )
    .await?;
    match t.status.as_str() {
        "deploying" => {}
        "approved" => return Err(AppError::conflict("start the task first")),
        "wait_review" => return Err(AppError::conflict("the task is not approved yet")),
        s => return Err(crate::approvals::service::refused(s)),
    }
    let ids: BTreeSet<i64> = i.instances.iter().map(|r| r.id).collect();
    if ids.is_empty() || ids.len() > 500 {
        return Err(AppError::invalid("instances", "1 to 500 instances"));
    }
    // An upgrade deploys what was approved: the task's version and package.
    let version = match (&i.version, revert) {
        (Some(v), false) if v.trim() != t.version => {
            return Err(AppError::invalid(
                "version",
                format!(
                    "this task deploys version {} (file a new task for another)",
                    t.version
                ),
            ))
        }
        (Some(v), _) => v.trim().to_string(),
        (None, false) => t.version.clone(),
        (None, true) => return Err(AppError::invalid("version", "required")),
    };
    if let Some(src) = i
        .update_source
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if !revert && src != t.package_source {
            return Err(AppError::invalid(
                "update_source",
                "this task deploys its approved package_source (file a new task for another)",
            ));
        }
    }
    if !super::version_ok(&version) {
        return Err(AppError::invalid(
            "version",
            "letters, digits and . _ - (64 at most)",
        ));
    }
    let db = &ctx.db;
    let a = application::Entity::find_by_id(t.app_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("application"))?;
    let (row, tpl, cfg) = effective(db, t.app_id).await?;
    if !super::config::path_ok(&cfg.deploy_path) {
        return Err(AppError::conflict(format!(
            "the deploy path {} is not allowed any more: change the deploy settings",
            cfg.deploy_path
        )));
    }
    changed_since_approval(db, &t, &a, row.as_ref(), tpl.as_ref(), &cfg).await?;
    if cfg.deploy_path.is_empty() || row.is_none() {
        return Err(AppError::conflict(
            "the application has no deploy settings (deploy_path) yet",
        ));
    }
    if !row.as_ref().is_some_and(|r| r.enabled) {
        return Err(AppError::conflict(
            "deploys are disabled in this application's deploy settings",
        ));
    }
    let timeout = i.timeout.unwrap_or(cfg.timeout);
    if !(1..=86_400).contains(&timeout) {
        return Err(AppError::invalid("timeout", "1 to 86400 seconds"));
    }
    let instances = instance::Entity::find()
        .filter(instance::Column::Id.is_in(ids.iter().copied()))
        .filter(instance::Column::AppId.eq(t.app_id))
        .all(db)
        .await?;
    if instances.len() != ids.len() {
        let found: BTreeSet<i64> = instances.iter().map(|i| i.id).collect();
        let missing: Vec<String> = ids.difference(&found).map(|i| i.to_string()).collect();
        return Err(AppError::invalid(
            "instances",
            format!("not instances of this application: {}", missing.join(", ")),
        ));
    }
    if revert {
        let kept: BTreeSet<i64> = instance_release::Entity::find()
            .filter(instance_release::Column::InstanceId.is_in(ids.iter().copied()))
            .filter(instance_release::Column::Version.eq(version.clone()))
            .filter(instance_release::Column::State.eq("kept"))
            .all(db)
            .await?
            .into_iter()
            .map(|r| r.instance_id)
            .collect();
        let without: Vec<String> = ids.difference(&kept).map(|i| i.to_string()).collect();
        if !without.is_empty() {
            return Err(AppError::invalid(
                "version",
                format!(
                    "version {version} is not a kept release of instance(s) {}",
                    without.join(", ")
                ),
            ));
        }
    }
    if !revert {
        if let Some(i) = instances
            .iter()
            .find(|i| i.version == version && i.status == "running")
        {
            return Err(AppError::invalid(
                "instances",
                format!("instance {} runs version {version} already", i.id),
            ));
        }
    }
    let source = t.package_source.clone();
    let mut repo_credential_id = None;
    if !revert {
        if let Source::Url(u) = source_of(ctx, None, "update_source", source.trim()).await? {
            // The repository's password goes only to the repository itself, over https.
            if let Ok(r) = reqwest::Url::parse(&cfg.repo_url) {
                if u.scheme() == "https"
                    && r.scheme() == "https"
                    && r.host_str().is_some()
                    && r.host_str() == u.host_str()
                    && r.port_or_known_default() == u.port_or_known_default()
                {
                    repo_credential_id = cfg.repo_credential_id;
                }
            }
        }
    }
    let allowed = &ctx.config.deploy_users;
    let hook_users = cfg.hooks.values().filter_map(|h| h.running_user.clone());
    for u in [cfg.script_running_user.clone(), cfg.hooks_user.clone()]
        .into_iter()
        .chain(hook_users)
    {
        if !allowed.contains(&u) {
            return Err(AppError::conflict(format!(
                "the deploy settings run as {u}, which the configuration no longer allows (OPSDECK_DEPLOY_USERS)"
            )));
        }
    }
    let hosts: HashMap<i64, String> = crate::entities::host::Entity::find()
        .filter(crate::entities::host::Column::Id.is_in(instances.iter().map(|i| i.host_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|h| (h.id, h.hostname))
        .collect();
    let kind = if revert { REVERT } else { UPGRADE };
    let n = instances.len() as i32;
    let txn = crate::db::begin(db).await?;
    // Take the instances: none may be in another sub-task (one conditional write decides).
    let busy = if revert { "reverting" } else { "updating" };
    let taken = instance::Entity::update_many()
        .col_expr(instance::Column::Status, Expr::value(busy))
        .filter(instance::Column::Id.is_in(ids.iter().copied()))
        .filter(instance::Column::Status.is_not_in(["updating", "reverting"]))
        .exec(&txn)
        .await?;
    if taken.rows_affected != ids.len() as u64 {
        return Err(AppError::conflict(
            "an instance is being updated or reverted by another sub-task",
        ));
    }
    let r = runner::create(
        &txn,
        actor,
        NewRun {
            kind: kind.into(),
            subject: Some((super::tasks::SUBJECT.into(), id)),
            steps: vec![],
            targets: instances
                .iter()
                .map(|x| NewTarget {
                    host_id: x.host_id,
                    host_name: hosts.get(&x.host_id).cloned().unwrap_or_default(),
                    instance_id: Some(x.id),
                })
                .collect(),
            concurrency: i.concurrency.unwrap_or(n).clamp(1, 200),
            stop_on_failure: true,
            timeout_secs: timeout,
            extra: json!({}),
        },
    )
    .await?;
    // Hooks are rendered now, with the sub-task's id in their context.
    let task_ctx = json!({"id": t.id, "sub_task_id": r.id, "kind": kind, "level": t.level,
        "description": t.description, "creator": ctx.names.name_of(db, Some(t.creator_id)).await?});
    let mut plans = Vec::with_capacity(instances.len());
    let (mut global_pre, mut global_post) = (None, None);
    for (k, x) in instances.iter().enumerate() {
        let c = instance_context(&txn, &a, x, &cfg, &version, task_ctx.clone(), true).await?;
        if !revert && k == 0 {
            global_pre = hook(&txn, &cfg, "global_pre_exec", &c).await?;
            global_post = hook(&txn, &cfg, "global_post_exec", &c).await?;
        }
        plans.push(InstancePlan {
            instance_id: x.id,
            previous_status: x.status.clone(),
            previous_version: x.version.clone(),
            pre_exec: if revert {
                None
            } else {
                hook(&txn, &cfg, "pre_exec", &c).await?
            },
            post_exec: if revert {
                None
            } else {
                hook(&txn, &cfg, "post_exec", &c).await?
            },
        });
    }
    let plan = DeployPlan {
        task_id: t.id,
        app_id: t.app_id,
        version: version.clone(),
        revert,
        source: if revert {
            String::new()
        } else {
            source.trim().to_string()
        },
        repo_credential_id,
        deploy_path: cfg.deploy_path.trim_end_matches('/').to_string(),
        user: cfg.script_running_user.clone(),
        app_user: cfg.script_running_user.clone(),
        keep_backups: cfg.keep_backups,
        startup_cmd: a.startup_cmd.clone(),
        stop_cmd: a.stop_cmd.clone(),
        pid_path: a.pid_path.clone(),
        global_pre,
        global_post,
        instances: plans,
    };
    let opts = runner::Opts {
        steps: vec![],
        extra: serde_json::to_value(&plan).map_err(AppError::internal)?,
    };
    run::Entity::update_many()
        .col_expr(
            run::Column::Opts,
            Expr::value(serde_json::to_string(&opts).map_err(AppError::internal)?),
        )
        .filter(run::Column::Id.eq(r.id))
        .exec(&txn)
        .await?;
    crate::approvals::service::event(
        &txn,
        subject(id),
        Some(actor),
        if revert { "revert" } else { "upgrade" },
        format!("{version} on {n} instance(s): sub-task {}", r.id),
    )
    .await?;
    // Still deploying (not closed meanwhile), or nothing is created.
    if !touch(&txn, &t).await? {
        return Err(AppError::conflict("the task is no longer deploying"));
    }
    txn.commit().await?;
    ctx.jobs_notify.notify_one();
    Ok(crate::exec::service::started(ctx, &r))
}

/// Refuses a sub-task when what it would run changed after the task was approved: the
/// application (its commands, paths), its deploy settings or template, or a hook's script.
/// Approvers approved those too; a change needs a new task.
async fn changed_since_approval<C: ConnectionTrait>(
    db: &C,
    t: &deploy_task::Model,
    a: &application::Model,
    row: Option<&crate::entities::deploy_setting::Model>,
    tpl: Option<&crate::entities::deploy_template::Model>,
    cfg: &Config,
) -> AppResult<()> {
    use crate::entities::approval;
    use sea_orm::QueryOrder;
    let Some(approved) = approval::Entity::find()
        .filter(approval::Column::SubjectType.eq(super::tasks::SUBJECT))
        .filter(approval::Column::SubjectId.eq(t.id))
        .filter(approval::Column::Decision.eq("approve"))
        .order_by_desc(approval::Column::CreatedAt)
        .one(db)
        .await?
        .map(|x| x.created_at)
    else {
        return Ok(());
    };
    let scripts = deploy_script::Entity::find()
        .filter(deploy_script::Column::Id.is_in(cfg.hooks.values().map(|h| h.script_id)))
        .all(db)
        .await?;
    let mut what = vec![];
    if a.updated_at > approved {
        what.push("the application".to_string());
    }
    if row.is_some_and(|r| r.updated_at > approved) || tpl.is_some_and(|x| x.updated_at > approved)
    {
        what.push("its deploy settings".to_string());
    }
    for s in scripts.iter().filter(|s| s.updated_at > approved) {
        what.push(format!("the script {}", s.name));
    }
    if what.is_empty() {
        Ok(())
    } else {
        Err(AppError::conflict(format!(
            "{} changed after the task was approved: file a new task",
            what.join(", ")
        )))
    }
}

async fn touch<C: ConnectionTrait>(txn: &C, t: &deploy_task::Model) -> AppResult<bool> {
    let r = deploy_task::Entity::update_many()
        .col_expr(
            deploy_task::Column::UpdatedAt,
            Expr::value(crate::time::now()),
        )
        .filter(deploy_task::Column::Id.eq(t.id))
        .filter(deploy_task::Column::Status.eq("deploying"))
        .exec(txn)
        .await?;
    Ok(r.rows_affected == 1)
}
