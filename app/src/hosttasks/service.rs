//! Host tasks: power actions through each host's provider (a cloud account, else SSH), their
//! lists, and status changes.
//!
//! Who: power actions need `restart_host` on every host; status changes `edit_host` (and
//! `deactivate_host` to take a host offline). Lists show the tasks the caller may see
//! (`exec::service`): all for superusers and host managers, else their own and those touching
//! a host they may view.
//!
//! A single-host action asks the provider first (the account's credentials and the machine's
//! state), so a refused signature or an unknown instance answers at once with the seed's
//! provider code (502), and starting a running machine answers 30002 (409). Batches check only
//! what Opsdeck knows; each host's provider result is in the task.
use super::types::*;
use crate::audit::service::{record, Entry};
use crate::common::Page;
use crate::ctx::{Actor, Ctx};
use crate::entities::{host, host_access, run, run_target};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::exec::cloud::{self, Power, State};
use crate::exec::power::kind_of;
use crate::exec::runner::{self, NewRun, NewTarget, Step};
use crate::exec::types::{Task, TaskStarted};
use crate::perms::service::authorize_resource;
use crate::perms::types::ResourceType;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;
use std::collections::HashMap;

/// Most hosts in one batch.
pub const MAX_BATCH: usize = 500;
/// Power actions run this many hosts at once.
const BATCH_CONCURRENCY: i32 = 10;
/// Run kind of a status change.
pub const HOST_STATUS: &str = "host_status";

/// The seed code of a provider failure as an error: per provider for stop and restart; for
/// start, the seed's 30003 (start failed), as 30002 means "running already" there.
fn provider_error(p: Power, e: cloud::CloudError) -> AppError {
    let code = match (p, e.code) {
        (Power::Start, _) => ErrorCode::StartFailed,
        (_, 30002) => ErrorCode::CloudStackFailed,
        (_, 30003) => ErrorCode::TencentFailed,
        _ => ErrorCode::TencentCpmFailed,
    };
    AppError::new(code, e.message)
}

async fn host_of<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<host::Model> {
    host::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("host"))
}

/// Locks the hosts' rows for the rest of `txn` (PostgreSQL; SQLite's write transaction
/// excludes other writers already), so two tasks cannot both find a host free.
async fn lock_hosts<C: ConnectionTrait>(txn: &C, ids: &[i64]) -> AppResult<()> {
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        host::Entity::find()
            .filter(host::Column::Id.is_in(ids.iter().copied()))
            .order_by_asc(host::Column::Id)
            .lock_exclusive()
            .all(txn)
            .await?;
    }
    Ok(())
}

/// Running power or init tasks with a target on one of `hosts`: (host id, task id). One host
/// has one such task at a time.
async fn busy<C: ConnectionTrait>(db: &C, hosts: &[i64]) -> AppResult<Vec<(i64, i64)>> {
    let running = Query::select()
        .column(run::Column::Id)
        .from(run::Entity)
        .and_where(run::Column::Status.eq("running"))
        .and_where(run::Column::Kind.is_in([
            crate::exec::power::HOST_START,
            crate::exec::power::HOST_STOP,
            crate::exec::power::HOST_RESTART,
            crate::exec::init::HOST_INIT,
        ]))
        .to_owned();
    Ok(run_target::Entity::find()
        .select_only()
        .column(run_target::Column::HostId)
        .column(run_target::Column::RunId)
        .filter(run_target::Column::HostId.is_in(hosts.iter().copied()))
        .filter(run_target::Column::RunId.in_subquery(running))
        .into_tuple()
        .all(db)
        .await?)
}

fn busy_error(names: &HashMap<i64, String>, busy: &[(i64, i64)]) -> AppError {
    let list = busy
        .iter()
        .map(|(h, r)| {
            format!(
                "{} (task {r})",
                names.get(h).cloned().unwrap_or_else(|| format!("#{h}"))
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    AppError::conflict(format!("a power or init task is running for {list}"))
}

/// Checks one host's provider before a single-host action: answers the provider's error, or
/// 30002 when starting a running machine.
async fn preflight(
    ctx: &Ctx,
    h: &host::Model,
    access: Option<&host_access::Model>,
    p: Power,
    force: bool,
) -> AppResult<()> {
    let account = match access {
        Some(a) => crate::credentials::service::cloud_account_of(ctx, a).await?,
        None => None,
    };
    let running = || {
        AppError::new(
            ErrorCode::HostRunning,
            format!("host {} is running already", h.hostname),
        )
    };
    match account {
        Some(((name, acct), instance)) => {
            if !cloud::fits(&acct.provider, &h.host_type) {
                return Err(AppError::invalid(
                    "host_id",
                    format!(
                        "cloud account {name} ({}) cannot power a host of type {}",
                        acct.provider, h.host_type
                    ),
                ));
            }
            let state = cloud::state(&acct, &instance)
                .await
                .map_err(|e| provider_error(p, e))?;
            match (p, state) {
                (Power::Start, State::Running) => Err(running()),
                (Power::Stop, State::Stopped) if !force => Err(AppError::conflict(format!(
                    "host {} is stopped already",
                    h.hostname
                ))),
                _ => Ok(()),
            }
        }
        None => {
            if p == Power::Start {
                if h.os_status == "running" {
                    return Err(running());
                }
                return Err(AppError::invalid(
                    "host_id",
                    format!(
                        "host {} has no cloud account: the ssh provider cannot start a machine",
                        h.hostname
                    ),
                ));
            }
            if access.and_then(|a| a.credential_id).is_none() {
                return Err(AppError::invalid(
                    "host_id",
                    format!(
                        "host {} has neither a cloud account nor SSH access to power it",
                        h.hostname
                    ),
                ));
            }
            Ok(())
        }
    }
}

/// Creates a power run over `hosts` (already authorized), with the hosts to force.
async fn create_power_run(
    ctx: &Ctx,
    actor: &Actor,
    p: Power,
    hosts: Vec<host::Model>,
    force: Vec<i64>,
) -> AppResult<TaskStarted> {
    let ids: Vec<i64> = hosts.iter().map(|h| h.id).collect();
    let txn = crate::db::begin(&ctx.db).await?;
    lock_hosts(&txn, &ids).await?;
    let b = busy(&txn, &ids).await?;
    if !b.is_empty() {
        let names = hosts.iter().map(|h| (h.id, h.hostname.clone())).collect();
        return Err(busy_error(&names, &b));
    }
    let r = runner::create(
        &txn,
        actor,
        NewRun {
            kind: kind_of(p).into(),
            subject: (hosts.len() == 1).then(|| ("host".to_string(), hosts[0].id)),
            steps: vec![Step {
                name: p.as_str().into(),
                script: String::new(),
                timeout_secs: None,
            }],
            targets: hosts
                .iter()
                .map(|h| NewTarget {
                    host_id: h.id,
                    host_name: h.hostname.clone(),
                    instance_id: None,
                })
                .collect(),
            concurrency: BATCH_CONCURRENCY,
            stop_on_failure: false,
            timeout_secs: 600,
            extra: json!({"force": force}),
        },
    )
    .await?;
    txn.commit().await?;
    ctx.jobs_notify.notify_one();
    Ok(crate::exec::service::started(ctx, &r))
}

/// `POST /hosts/{id}/actions/{start,stop,restart}/`: one host's power action.
pub async fn power_one(
    ctx: &Ctx,
    actor: &Actor,
    host_id: i64,
    p: Power,
    input: PowerInput,
) -> AppResult<TaskStarted> {
    authorize_resource(ctx, actor, ResourceType::Host, host_id, "restart_host").await?;
    let h = host_of(&ctx.db, host_id).await?;
    let access = host_access::Entity::find_by_id(host_id)
        .one(&ctx.db)
        .await?;
    let force = input.force && p != Power::Start;
    preflight(ctx, &h, access.as_ref(), p, force).await?;
    let forced = if force { vec![host_id] } else { vec![] };
    create_power_run(ctx, actor, p, vec![h], forced).await
}

/// `POST /hosts/{start,stop,restart}-tasks/`: one task over many hosts; each host's result
/// (and its provider's error code) is in the task.
pub async fn power_batch(
    ctx: &Ctx,
    actor: &Actor,
    p: Power,
    items: Vec<PowerItem>,
) -> AppResult<TaskStarted> {
    actor.require()?;
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(AppError::bad_request(format!(
            "send from 1 to {MAX_BATCH} hosts"
        )));
    }
    let mut ids: Vec<i64> = Vec::with_capacity(items.len());
    let mut force = vec![];
    for i in &items {
        if ids.contains(&i.host_id) {
            return Err(AppError::invalid(
                "host_id",
                format!("host {} is listed twice", i.host_id),
            ));
        }
        ids.push(i.host_id);
        if i.force && p != Power::Start {
            force.push(i.host_id);
        }
    }
    for id in &ids {
        authorize_resource(ctx, actor, ResourceType::Host, *id, "restart_host").await?;
    }
    let found: HashMap<i64, host::Model> = host::Entity::find()
        .filter(host::Column::Id.is_in(ids.iter().copied()))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|h| (h.id, h))
        .collect();
    let mut hosts = Vec::with_capacity(ids.len());
    for id in ids {
        hosts.push(
            found
                .get(&id)
                .cloned()
                .ok_or_else(|| AppError::not_found("host"))?,
        );
    }
    create_power_run(ctx, actor, p, hosts, force).await
}

/// `GET /hosts/{start,stop,restart}-tasks/`: the power tasks of one action the caller may
/// see, newest first.
pub async fn list(ctx: &Ctx, actor: &Actor, p: Power, f: HostTaskFilter) -> AppResult<Page<Task>> {
    list_kind(ctx, actor, kind_of(p), f).await
}

/// The tasks of one kind the caller may see, filtered, newest first.
pub async fn list_kind(
    ctx: &Ctx,
    actor: &Actor,
    kind: &str,
    f: HostTaskFilter,
) -> AppResult<Page<Task>> {
    let mut q = run::Entity::find().filter(run::Column::Kind.eq(kind));
    if let Some(c) = crate::exec::service::visible_condition(ctx, actor).await? {
        q = q.filter(c);
    }
    let seen = crate::exec::service::seen_targets(ctx, actor).await?;
    if let Some(s) = f.status.as_deref().filter(|s| !s.is_empty()) {
        if !TASK_STATUSES.contains(&s) {
            return Err(AppError::invalid(
                "status",
                format!("one of {}", TASK_STATUSES.join(", ")),
            ));
        }
        q = q.filter(run::Column::Status.eq(s));
    }
    if let Some(c) = f.creator.as_deref().filter(|s| !s.is_empty()) {
        let uid = crate::users::service::creator_filter_id(&ctx.db, c).await?;
        q = q.filter(run::Column::CreatorId.eq(uid));
    }
    if let Some(s) = f.time_gt.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(run::Column::CreatedAt.gt(crate::time::parse("time__gt", s)?));
    }
    if let Some(s) = f.time_lt.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(run::Column::CreatedAt.lt(crate::time::parse("time__lt", s)?));
    }
    if let Some(n) = f
        .hostname
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let mut named = Query::select()
            .column(run_target::Column::RunId)
            .from(run_target::Entity)
            .and_where(crate::db::like_text(
                ctx.db.get_database_backend(),
                "run_targets",
                "host_name",
                n,
            ))
            .to_owned();
        // Only names the caller may see match (no probing hidden hosts' names).
        if let Some(c) = seen {
            named.cond_where(c);
        }
        q = q.filter(run::Column::Id.in_subquery(named));
    }
    let count = q.clone().count(&ctx.db).await?;
    let rows = q
        .order_by_desc(run::Column::Id)
        .offset(f.page.offset())
        .limit(f.page.size())
        .all(&ctx.db)
        .await?;
    Ok(Page::new(
        count,
        &f.page,
        crate::exec::service::wire_page(ctx, actor, rows).await?,
    ))
}

/// `POST /hosts/{id}/actions/change-status/`: moves a host between `raw`, `inited`,
/// `attached` and `offline` (`STATUS_MOVES`); answers a finished task, as the seed does.
pub async fn change_status(
    ctx: &Ctx,
    actor: &Actor,
    host_id: i64,
    input: ChangeStatus,
) -> AppResult<TaskStarted> {
    authorize_resource(ctx, actor, ResourceType::Host, host_id, "edit_host").await?;
    let to = input.status.trim();
    if !crate::hosts::types::HOST_STATUSES.contains(&to) {
        return Err(AppError::invalid(
            "status",
            format!("one of {}", crate::hosts::types::HOST_STATUSES.join(", ")),
        ));
    }
    let txn = crate::db::begin(&ctx.db).await?;
    let h = host_of(&txn, host_id).await?;
    authorize_status(ctx, actor, host_id, &h.status, to).await?;
    if h.status == to {
        return Err(AppError::conflict(format!(
            "host {} is {to} already",
            h.hostname
        )));
    }
    if !may_move(&h.status, to) {
        let allowed: Vec<&str> = STATUS_MOVES
            .iter()
            .filter(|(f, _)| *f == h.status)
            .map(|(_, t)| *t)
            .collect();
        return Err(AppError::invalid(
            "status",
            format!(
                "host {} is {}: it may go to {}",
                h.hostname,
                h.status,
                allowed.join(", ")
            ),
        ));
    }
    if h.status == "attached" && to == "inited" {
        let apps = crate::hosts::service::apps_on(&txn, host_id).await?;
        if !apps.is_empty() {
            let names =
                crate::perms::service::visible_names(ctx, actor, ResourceType::Application, &apps)
                    .await?;
            return Err(AppError::conflict(format!(
                "host {} has instances of {}: move them first",
                h.hostname, names
            )));
        }
    }
    // Conditional on the status read: a concurrent change makes this one fail, not both win.
    let moved = host::Entity::update_many()
        .col_expr(host::Column::Status, Expr::value(to))
        .col_expr(host::Column::UpdatedAt, Expr::value(crate::time::now()))
        .filter(host::Column::Id.eq(host_id))
        .filter(host::Column::Status.eq(h.status.clone()))
        .exec(&txn)
        .await?;
    if moved.rows_affected != 1 {
        return Err(AppError::conflict(format!(
            "host {} changed meanwhile; try again",
            h.hostname
        )));
    }
    record(
        &txn,
        actor,
        Entry::new("host", "change_status")
            .target("host", Some(host_id), &h.hostname)
            .change(json!({"status": h.status}), json!({"status": to})),
    )
    .await?;
    let r = runner::create_done(
        &txn,
        actor,
        NewRun {
            kind: HOST_STATUS.into(),
            subject: Some(("host".into(), host_id)),
            steps: vec![Step {
                name: format!("{} → {to}", h.status),
                script: String::new(),
                timeout_secs: None,
            }],
            targets: vec![NewTarget {
                host_id,
                host_name: h.hostname.clone(),
                instance_id: None,
            }],
            concurrency: 1,
            stop_on_failure: false,
            timeout_secs: 1,
            extra: json!({"from": h.status, "to": to}),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(crate::exec::service::started(ctx, &r))
}

/// Taking a host offline, or back from offline, needs `deactivate_host` on it (whichever way
/// the status is written: change-status, PATCH, import).
pub async fn authorize_status(
    ctx: &Ctx,
    actor: &Actor,
    host_id: i64,
    from: &str,
    to: &str,
) -> AppResult<()> {
    if from != to && (to == "offline" || from == "offline") {
        authorize_resource(ctx, actor, ResourceType::Host, host_id, "deactivate_host").await?;
    }
    Ok(())
}

/// The power action named in a path or form (`start`, `stop`, `restart`).
pub fn power_of(action: &str) -> AppResult<Power> {
    match action {
        "start" => Ok(Power::Start),
        "stop" => Ok(Power::Stop),
        "restart" => Ok(Power::Restart),
        _ => Err(AppError::invalid("action", "start, stop or restart")),
    }
}

fn names_ok(field: &str, v: &[String]) -> AppResult<()> {
    if v.len() > 50
        || v.iter()
            .any(|n| n.trim().is_empty() || n.len() > 255 || n.chars().any(char::is_control))
    {
        return Err(AppError::invalid(
            field,
            "up to 50 names of at most 255 characters",
        ));
    }
    Ok(())
}

/// `POST /hosts/init-tasks/`: inits hosts (`init_host` on each; SSH access set). The Zabbix
/// groups and templates are checked before anything is queued.
pub async fn init_hosts(ctx: &Ctx, actor: &Actor, input: InitInput) -> AppResult<Task> {
    use crate::exec::init::{login_name_ok, InitPlan, DEFAULT_RUNNING_USER, HOST_INIT};
    actor.require()?;
    if input.hosts.is_empty() || input.hosts.len() > MAX_BATCH {
        return Err(AppError::invalid(
            "hosts",
            format!("from 1 to {MAX_BATCH} hosts"),
        ));
    }
    let mut ids: Vec<i64> = vec![];
    for h in &input.hosts {
        if ids.contains(&h.id) {
            return Err(AppError::invalid(
                "hosts",
                format!("host {} is listed twice", h.id),
            ));
        }
        ids.push(h.id);
    }
    for id in &ids {
        authorize_resource(ctx, actor, ResourceType::Host, *id, "init_host").await?;
    }
    let groups = input.opts.zabbix_groups.clone().unwrap_or_default();
    let templates = input.opts.zabbix_templates.clone().unwrap_or_default();
    names_ok("zabbix_groups", &groups)?;
    names_ok("zabbix_templates", &templates)?;
    let running_user = input
        .running_user
        .clone()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_RUNNING_USER.into());
    if !login_name_ok(&running_user) {
        return Err(AppError::invalid(
            "running_user",
            "a login name (a-z, 0-9, _ - .)",
        ));
    }
    let found: HashMap<i64, host::Model> = host::Entity::find()
        .filter(host::Column::Id.is_in(ids.iter().copied()))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|h| (h.id, h))
        .collect();
    let zabbix_wanted = !groups.is_empty() || !templates.is_empty();
    let mut hosts = Vec::with_capacity(ids.len());
    for id in &ids {
        let h = found
            .get(id)
            .cloned()
            .ok_or_else(|| AppError::not_found("host"))?;
        if h.status == "offline" {
            return Err(AppError::conflict(format!(
                "host {} is offline",
                h.hostname
            )));
        }
        if !crate::exec::init::system_hostname_ok(&h.hostname) {
            return Err(AppError::invalid(
                "hosts",
                format!(
                    "host {} cannot be a system's name (letters, digits, - and dots; 63 at most)",
                    h.hostname
                ),
            ));
        }
        let access = host_access::Entity::find_by_id(*id).one(&ctx.db).await?;
        if access.as_ref().and_then(|a| a.credential_id).is_none() {
            return Err(AppError::invalid(
                "hosts",
                format!("host {} has no SSH access set", h.hostname),
            ));
        }
        if zabbix_wanted {
            let ip = crate::credentials::service::address_of(&ctx.db, *id, access.as_ref()).await?;
            if !ip.is_some_and(|ip| ip.parse::<std::net::IpAddr>().is_ok()) {
                return Err(AppError::invalid(
                    "hosts",
                    format!("host {} has no IP address for Zabbix to watch", h.hostname),
                ));
            }
        }
        hosts.push(h);
    }
    if zabbix_wanted {
        let z = crate::exec::zabbix::config(ctx)?;
        crate::exec::zabbix::check(z, &groups, &templates).await?;
    }
    let txn = crate::db::begin(&ctx.db).await?;
    lock_hosts(&txn, &ids).await?;
    let b = busy(&txn, &ids).await?;
    if !b.is_empty() {
        let names = hosts.iter().map(|h| (h.id, h.hostname.clone())).collect();
        return Err(busy_error(&names, &b));
    }
    let plan = InitPlan {
        zabbix_groups: groups,
        zabbix_templates: templates,
        running_user,
    };
    let r = runner::create(
        &txn,
        actor,
        NewRun {
            kind: HOST_INIT.into(),
            subject: (hosts.len() == 1).then(|| ("host".to_string(), hosts[0].id)),
            steps: vec![Step {
                name: "init".into(),
                script: String::new(),
                timeout_secs: None,
            }],
            targets: hosts
                .iter()
                .map(|h| NewTarget {
                    host_id: h.id,
                    host_name: h.hostname.clone(),
                    instance_id: None,
                })
                .collect(),
            concurrency: BATCH_CONCURRENCY,
            stop_on_failure: false,
            timeout_secs: 600,
            extra: serde_json::to_value(&plan).map_err(AppError::internal)?,
        },
    )
    .await?;
    txn.commit().await?;
    ctx.jobs_notify.notify_one();
    crate::exec::service::get(ctx, actor, r.id).await
}

/// `GET /hosts/init-tasks/`.
pub async fn list_init(ctx: &Ctx, actor: &Actor, f: HostTaskFilter) -> AppResult<Page<Task>> {
    list_kind(ctx, actor, crate::exec::init::HOST_INIT, f).await
}

/// `POST /hosts/{id}/actions/change-zabbix-opts/`: sets the host's Zabbix groups and
/// templates (absent: kept as the CMDB has them), creating the host in Zabbix if needed.
pub async fn change_zabbix_opts(
    ctx: &Ctx,
    actor: &Actor,
    host_id: i64,
    input: ZabbixOpts,
) -> AppResult<crate::common::Message> {
    authorize_resource(ctx, actor, ResourceType::Host, host_id, "edit_host").await?;
    let z = crate::exec::zabbix::config(ctx)?;
    let h = host_of(&ctx.db, host_id).await?;
    let access = host_access::Entity::find_by_id(host_id)
        .one(&ctx.db)
        .await?;
    let ip = crate::credentials::service::address_of(&ctx.db, host_id, access.as_ref())
        .await?
        .ok_or_else(|| AppError::invalid("host", format!("host {} has no address", h.hostname)))?;
    let row = crate::entities::ip_address::Entity::find()
        .filter(crate::entities::ip_address::Column::HostId.eq(host_id))
        .filter(crate::entities::ip_address::Column::Address.eq(ip.clone()))
        .one(&ctx.db)
        .await?;
    let parse = |s: Option<&String>| -> Vec<String> {
        s.and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default()
    };
    let (old_g, old_t) = (
        parse(row.as_ref().map(|r| &r.zabbix_groups)),
        parse(row.as_ref().map(|r| &r.zabbix_templates)),
    );
    names_ok(
        "zabbix_groups",
        input.zabbix_groups.as_deref().unwrap_or_default(),
    )?;
    names_ok(
        "zabbix_templates",
        input.zabbix_templates.as_deref().unwrap_or_default(),
    )?;
    // Absent lists are left alone in Zabbix; the CMDB keeps its copy of them.
    let known = access.as_ref().and_then(|a| a.zabbix_host_id.clone());
    let zid = crate::exec::zabbix::enrol(
        z,
        &h.hostname,
        &ip,
        known.as_deref(),
        input.zabbix_groups.as_deref(),
        input.zabbix_templates.as_deref(),
    )
    .await?;
    let groups = input.zabbix_groups.clone().unwrap_or_else(|| old_g.clone());
    let templates = input
        .zabbix_templates
        .clone()
        .unwrap_or_else(|| old_t.clone());
    let txn = crate::db::begin(&ctx.db).await?;
    crate::exec::init::record_zabbix(
        &txn,
        host_id,
        input.zabbix_groups.as_deref(),
        input.zabbix_templates.as_deref(),
    )
    .await?;
    host_access::Entity::update_many()
        .col_expr(host_access::Column::ZabbixHostId, Expr::value(zid.clone()))
        .filter(host_access::Column::HostId.eq(host_id))
        .exec(&txn)
        .await?;
    record(
        &txn,
        actor,
        Entry::new("host", "change_zabbix_opts")
            .target("host", Some(host_id), &h.hostname)
            .detail(json!({
                "before": {"zabbix_groups": old_g, "zabbix_templates": old_t},
                "after": {"zabbix_groups": groups, "zabbix_templates": templates},
                "zabbix_host_id": zid,
                "address": ip,
            })),
    )
    .await?;
    txn.commit().await?;
    Ok(crate::common::Message::success())
}
