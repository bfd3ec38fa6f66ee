//! Application services. Permissions: list/get need `view_app` (on the application, a parent or
//! its product line, or module-wide); create needs `application.create_app`, plus `edit_app` on the
//! parent and `edit_business` on the product line it goes into; edit needs `edit_app`; delete
//! needs `delete_app`. The creator holds every application permission on what they create.
use super::types::*;
use crate::audit::service::{record, Entry};
use crate::common::{IdRef, Message, Page, PageQuery};
use crate::ctx::{Actor, Ctx};
use crate::entities::{
    application as app, application_dependency as dep, application_owner as owner,
    application_path as path, user,
};
use crate::error::{AppError, AppResult};
use crate::perms::casbin::{apply, Rule};
use crate::perms::service::{
    authorize_module, authorize_resource, drop_resource_grants, grant_creator, granted_by_name,
    granted_ids, granted_set, page_slice, resource_perm_sets,
};
use crate::perms::types::{ResourceType, APP_PERMS};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Select, Set,
};
use serde_json::json;
use std::collections::{HashMap, HashSet};

mod deps;
mod people;
mod tree;
pub use deps::*;
pub use people::*;
pub use tree::*;

const APP: ResourceType = ResourceType::Application;

fn snapshot(a: &app::Model) -> serde_json::Value {
    json!({
        "name": a.name, "full_name": a.full_name, "production": a.production_id, "parent_app": a.parent_id,
        "application_type": a.application_type, "description": a.description, "run_user": a.run_user,
        "directory": a.directory, "startup_cmd": a.startup_cmd, "stop_cmd": a.stop_cmd,
        "stdout_path": a.stdout_path, "stderr_path": a.stderr_path, "pid_path": a.pid_path,
    })
}

/// Maps rows to the wire type: children and actions in one query each.
async fn to_wire(ctx: &Ctx, actor: &Actor, rows: Vec<app::Model>) -> AppResult<Vec<Application>> {
    let ids: Vec<i64> = rows.iter().map(|a| a.id).collect();
    let parents: HashSet<i64> = app::Entity::find()
        .select_only()
        .column(app::Column::ParentId)
        .distinct()
        .filter(app::Column::ParentId.is_in(ids.clone()))
        .into_tuple::<Option<i64>>()
        .all(&ctx.db)
        .await?
        .into_iter()
        .flatten()
        .collect();
    let mut perms = resource_perm_sets(ctx, actor, APP, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|a| Application {
            id: a.id,
            has_child: parents.contains(&a.id),
            available_actions: perms.remove(&a.id).unwrap_or_default(),
            full_path: a.full_name.clone(),
            name: a.name,
            full_name: a.full_name,
            production: a.production_id,
            parent_app: a.parent_id,
            application_type: a.application_type,
            description: a.description,
            run_user: a.run_user,
            directory: a.directory,
            startup_cmd: a.startup_cmd,
            stop_cmd: a.stop_cmd,
            stdout_path: a.stdout_path,
            stderr_path: a.stderr_path,
            pid_path: a.pid_path,
            created_at: crate::time::fmt(&a.created_at),
            updated_at: crate::time::fmt(&a.updated_at),
        })
        .collect())
}

/// Applies the visibility and the filters of `f` to `q` (lists and exports).
pub(crate) async fn filtered(
    ctx: &Ctx,
    actor: &Actor,
    mut q: Select<app::Entity>,
    f: &AppFilter,
) -> AppResult<Select<app::Entity>> {
    use app::Column as C;
    if let Some(sub) = granted_ids(ctx, actor, APP, "view_app").await? {
        q = q.filter(C::Id.in_subquery(sub));
    }
    if let Some(v) = f.name.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(crate::db::contains_text(
            ctx.db.get_database_backend(),
            "applications",
            "name",
            v,
        ));
    }
    if let Some(v) = f.full_path.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(C::FullName.starts_with(v));
    }
    match f.has_parent {
        Some(0) => q = q.filter(C::ParentId.is_null()),
        Some(_) => q = q.filter(C::ParentId.is_not_null()),
        None => {}
    }
    match f.production {
        // 0: applications in no product line (the tree's last group).
        Some(0) => q = q.filter(C::ProductionId.is_null()),
        Some(p) => q = q.filter(C::ProductionId.eq(p)),
        None => {}
    }
    if let Some(t) = f.application_type.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(C::ApplicationType.eq(t));
    }
    if let Some(v) = f.q.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(
            Condition::any()
                .add(C::FullName.contains(v))
                .add(C::Description.contains(v)),
        );
    }
    if let Some(list) = f.response_persons.as_deref().filter(|s| !s.is_empty()) {
        let ids: Vec<i64> = list
            .split(',')
            .map(|s| {
                s.trim().parse().map_err(|_| {
                    AppError::invalid("response_persons", "a comma-separated list of user ids")
                })
            })
            .collect::<AppResult<_>>()?;
        let sub = Query::select()
            .column(owner::Column::AppId)
            .from(owner::Entity)
            .and_where(Expr::col(owner::Column::UserId).is_in(ids))
            .to_owned();
        q = q.filter(C::Id.in_subquery(sub));
    }
    if let Some(name) = f.user.as_deref().filter(|s| !s.is_empty()) {
        // Checked before looking the name up, so names cannot be probed without `view_users`.
        if name != actor.username {
            authorize_module(ctx, actor, "system", "view_users").await?;
        }
        let u = user::Entity::find()
            .filter(user::Column::Username.eq(name))
            .one(&ctx.db)
            .await?
            .ok_or_else(|| AppError::invalid("user", "no such user"))?;
        let them = Actor {
            id: u.id,
            username: u.username,
            ..actor.clone()
        };
        if let Some(sub) = granted_ids(ctx, &them, APP, "view_app").await? {
            q = q.filter(C::Id.in_subquery(sub));
        }
    }
    if let Some(name) = f.role.as_deref().filter(|s| !s.is_empty()) {
        // Roles (and what they were granted) are read with `view_users`, before any lookup.
        authorize_module(ctx, actor, "system", "view_users").await?;
        let r = crate::entities::role::Entity::find()
            .filter(crate::entities::role::Column::Name.eq(name))
            .one(&ctx.db)
            .await?
            .ok_or_else(|| AppError::invalid("role", "no such role"))?;
        q = q.filter(C::Id.in_subquery(crate::perms::service::role_granted_ids(
            APP, r.id, "view_app",
        )));
    }
    Ok(q)
}

/// Applies the visibility and the filters of `f` to `q`, then pages it.
/// The page's ids are chosen first (sorting only names and ids), then its rows are read.
async fn page_of(
    ctx: &Ctx,
    actor: &Actor,
    q: Select<app::Entity>,
    f: AppFilter,
    whole_table: bool,
) -> AppResult<Page<Application>> {
    use crate::db::Known;
    use sea_orm::QueryTrait;
    let known = if whole_table && crate::db::no_filter(&f, &[]) {
        match granted_set(ctx, actor, APP, "view_app").await? {
            None => Known::Table("applications"),
            Some(ids) => Known::Rows(ids.len() as u64),
        }
    } else {
        Known::Unknown
    };
    let only_visibility = matches!(known, Known::Rows(_));
    let q = filtered(ctx, actor, q, &f).await?;
    let count = crate::db::count_of(&ctx.db, q.clone(), known).await?;
    // Restricted by visibility alone: the page is a slice of the user's visible applications
    // kept in name order; otherwise the database sorts the candidates' ids.
    let sliced = if only_visibility {
        granted_by_name(ctx, actor, APP, "view_app")
            .await?
            .map(|all| page_slice(&all, &f.page))
    } else {
        None
    };
    let rows = match sliced {
        Some(ids) => app::Entity::find().filter(app::Column::Id.is_in(ids)),
        None => app::Entity::find().filter(
            app::Column::Id.in_subquery(
                q.select_only()
                    .column(app::Column::Id)
                    .order_by_asc(app::Column::FullName)
                    .offset(f.page.offset())
                    .limit(f.page.size())
                    .into_query(),
            ),
        ),
    };
    let rows = rows
        .order_by_asc(app::Column::FullName)
        .all(&ctx.db)
        .await?;
    Ok(Page::new(count, &f.page, to_wire(ctx, actor, rows).await?))
}

/// `GET /applications/`.
pub async fn list(ctx: &Ctx, actor: &Actor, f: AppFilter) -> AppResult<Page<Application>> {
    page_of(ctx, actor, app::Entity::find(), f, true).await
}

/// Lists applications from a narrower query (other domains' "applications of X"), with the same
/// visibility and filters as `list`.
pub async fn list_in(
    ctx: &Ctx,
    actor: &Actor,
    q: Select<app::Entity>,
    f: AppFilter,
) -> AppResult<Page<Application>> {
    page_of(ctx, actor, q, f, false).await
}

async fn load<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<app::Model> {
    app::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("application"))
}

/// An application by its full name, for forms that take a name. One the actor may not view is
/// answered like one that does not exist.
pub async fn by_full_name(ctx: &Ctx, actor: &Actor, full: &str) -> AppResult<Application> {
    actor.require()?;
    let missing = || AppError::invalid("full_name", format!("no application {full}"));
    let a = app::Entity::find()
        .filter(app::Column::FullName.eq(full.trim()))
        .one(&ctx.db)
        .await?
        .ok_or_else(missing)?;
    authorize_resource(ctx, actor, APP, a.id, "view_app")
        .await
        .map_err(|_| missing())?;
    Ok(to_wire(ctx, actor, vec![a]).await?.remove(0))
}

/// `GET /applications/{id}/`.
pub async fn get(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<Application> {
    authorize_resource(ctx, actor, APP, id, "view_app").await?;
    let a = load(&ctx.db, id).await?;
    Ok(to_wire(ctx, actor, vec![a]).await?.remove(0))
}

fn validate_input(i: &AppInput) -> AppResult<()> {
    if let Some(n) = &i.name {
        validate_name(n.trim())?;
    }
    if let Some(t) = &i.application_type {
        if !APP_TYPES.contains(&t.as_str()) {
            return Err(AppError::invalid(
                "application_type",
                "application_type is process, paas or container",
            ));
        }
    }
    for (field, v) in [
        ("description", &i.description),
        ("run_user", &i.run_user),
        ("directory", &i.directory),
        ("startup_cmd", &i.startup_cmd),
        ("stop_cmd", &i.stop_cmd),
        ("stdout_path", &i.stdout_path),
        ("stderr_path", &i.stderr_path),
        ("pid_path", &i.pid_path),
    ] {
        if v.as_deref().is_some_and(|s| s.chars().count() > 1000) {
            return Err(AppError::invalid(field, "must be at most 1000 characters"));
        }
    }
    Ok(())
}

async fn ensure_free<C: ConnectionTrait>(
    db: &C,
    full_name: &str,
    except: Option<i64>,
) -> AppResult<()> {
    let mut q = app::Entity::find().filter(app::Column::FullName.eq(full_name));
    if let Some(id) = except {
        q = q.filter(app::Column::Id.ne(id));
    }
    if q.one(db).await?.is_some() {
        return Err(
            AppError::conflict(format!("application {full_name} already exists"))
                .with_field("name"),
        );
    }
    Ok(())
}

/// An application written by `create_in`/`update_in`: the row, audit snapshots, and the
/// enforcer lines to add and remove after commit.
pub(crate) struct Written {
    pub app: app::Model,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
    pub added: Vec<Rule>,
    pub removed: Vec<Rule>,
}

/// Creates an application inside `txn` (authorized and validated; no audit record).
pub(crate) async fn create_in<C: ConnectionTrait>(
    txn: &C,
    ctx: &Ctx,
    actor: &Actor,
    input: AppInput,
    created_here: &CreatedHere,
) -> AppResult<Written> {
    authorize_module(ctx, actor, "application", "create_app").await?;
    validate_input(&input)?;
    let name = input.name.clone().unwrap_or_default().trim().to_string();
    validate_name(&name)?;
    let production = input.production.flatten();
    let parent = check_placement(
        txn,
        ctx,
        actor,
        input.parent_app.flatten(),
        production,
        created_here,
    )
    .await?;
    let full_name = full_name_of(parent.as_ref(), &name);
    validate_depth(&full_name, 0)?;
    ensure_free(txn, &full_name, None).await?;
    let now = crate::time::now();
    let a = app::ActiveModel {
        name: Set(name),
        full_name: Set(full_name),
        production_id: Set(production),
        parent_id: Set(parent.as_ref().map(|p| p.id)),
        application_type: Set(input.application_type.unwrap_or_else(|| "process".into())),
        description: Set(input.description.unwrap_or_default()),
        run_user: Set(input.run_user.unwrap_or_default()),
        directory: Set(input.directory.unwrap_or_default()),
        startup_cmd: Set(input.startup_cmd.unwrap_or_default()),
        stop_cmd: Set(input.stop_cmd.unwrap_or_default()),
        stdout_path: Set(input.stdout_path.unwrap_or_default()),
        stderr_path: Set(input.stderr_path.unwrap_or_default()),
        pid_path: Set(input.pid_path.unwrap_or_default()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    rebuild_paths(txn, std::slice::from_ref(&a)).await?;
    let mut rules = grant_creator(txn, actor, APP, a.id, APP_PERMS).await?;
    rules.extend(links(&a));
    Ok(Written {
        before: json!(null),
        after: snapshot(&a),
        app: a,
        added: rules,
        removed: vec![],
    })
}

/// `POST /applications/` (the seed leaves creation out; Opsdeck adds it).
pub async fn create(ctx: &Ctx, actor: &Actor, input: AppInput) -> AppResult<Application> {
    let (_structure, txn) = crate::perms::inherit::begin(ctx).await?;
    let w = create_in(&txn, ctx, actor, input, &CreatedHere::new()).await?;
    record(
        &txn,
        actor,
        Entry::new("app", "add")
            .target("application", Some(w.app.id), &w.app.full_name)
            .change(w.before, w.after),
    )
    .await?;
    txn.commit().await?;
    crate::perms::service::catalog_changed(APP);
    apply(&mut *ctx.enforcer.write().await, w.added, w.removed).await?;
    Ok(to_wire(ctx, actor, vec![w.app]).await?.remove(0))
}

/// `PATCH /applications/{id}/`: fields, rename, move (parent, product line). The full path of the
/// application and of everything under it follows; a move under its own subtree is refused.
pub async fn update(ctx: &Ctx, actor: &Actor, id: i64, input: AppInput) -> AppResult<Application> {
    let rows = update_many(ctx, actor, vec![(id, input)]).await?;
    Ok(to_wire(ctx, actor, rows).await?.remove(0))
}

/// Updates several applications in one transaction (all or nothing), one audit record each,
/// under the structure lock (moves change who inherits what).
async fn update_many(
    ctx: &Ctx,
    actor: &Actor,
    items: Vec<(i64, AppInput)>,
) -> AppResult<Vec<app::Model>> {
    let (_structure, txn) = crate::perms::inherit::begin(ctx).await?;
    let mut written = vec![];
    for (id, input) in items {
        let w = update_in(&txn, ctx, actor, id, input, &CreatedHere::new()).await?;
        record(
            &txn,
            actor,
            Entry::new("app", "update")
                .target("application", Some(id), &w.app.full_name)
                .change(w.before.clone(), w.after.clone()),
        )
        .await?;
        written.push(w);
    }
    txn.commit().await?;
    crate::perms::service::catalog_changed(APP);
    let mut e = ctx.enforcer.write().await;
    let mut rows = vec![];
    for w in written {
        apply(&mut e, w.added, w.removed).await?;
        rows.push(w.app);
    }
    Ok(rows)
}

/// Updates an application inside `txn` (authorized, validated, cycle-checked; no audit record).
pub(crate) async fn update_in<C: ConnectionTrait>(
    txn: &C,
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    input: AppInput,
    created_here: &CreatedHere,
) -> AppResult<Written> {
    authorize_resource(ctx, actor, APP, id, "edit_app").await?;
    validate_input(&input)?;
    let before = load(txn, id).await?;
    let new_parent_id = input.parent_app.unwrap_or(before.parent_id);
    let new_production = input.production.unwrap_or(before.production_id);
    let moved = new_parent_id != before.parent_id;
    if moved || new_production != before.production_id {
        // Everything below reads the tree under the structure lock: concurrent moves cannot
        // both pass the cycle check, and the rights check sees the tree it changes.
        crate::db::lock_structure(txn).await?;
        crate::perms::inherit::ensure(
            txn,
            ctx,
            actor,
            &crate::perms::inherit::Change::Place {
                app: id,
                parent: new_parent_id,
                production: new_production,
            },
        )
        .await?;
    }
    let parent = check_placement(
        txn,
        ctx,
        actor,
        if moved { new_parent_id } else { None },
        if new_production != before.production_id {
            new_production
        } else {
            None
        },
        created_here,
    )
    .await?;
    let parent = match (moved, parent, new_parent_id) {
        (true, p, _) => p,
        (false, _, Some(p)) => Some(load(txn, p).await?),
        (false, _, None) => None,
    };
    let tree = subtree(txn, id).await?;
    if let Some(p) = &parent {
        if tree.iter().any(|a| a.id == p.id) {
            return Err(AppError::invalid(
                "parent_app",
                format!(
                    "{} is {} itself or under it: that would be a cycle",
                    p.full_name, before.full_name
                ),
            ));
        }
    }
    let name = input
        .name
        .as_deref()
        .map(str::trim)
        .unwrap_or(&before.name)
        .to_string();
    let full_name = full_name_of(parent.as_ref(), &name);
    if full_name != before.full_name {
        let own = before.full_name.matches('.').count();
        let below = tree
            .iter()
            .map(|a| a.full_name.matches('.').count().saturating_sub(own))
            .max()
            .unwrap_or(0);
        validate_depth(&full_name, below)?;
        ensure_free(txn, &full_name, Some(id)).await?;
    }
    let mut am: app::ActiveModel = before.clone().into();
    am.name = Set(name);
    am.full_name = Set(full_name.clone());
    am.parent_id = Set(new_parent_id);
    am.production_id = Set(new_production);
    macro_rules! take {
        ($($f:ident),*) => { $( if let Some(v) = input.$f.clone() { am.$f = Set(v); } )* };
    }
    take!(
        application_type,
        description,
        run_user,
        directory,
        startup_cmd,
        stop_cmd,
        stdout_path,
        stderr_path,
        pid_path
    );
    am.updated_at = Set(crate::time::now());
    let after = am.update(txn).await?;
    // Descendants' full paths follow a rename or move.
    if full_name != before.full_name {
        let old_prefix = format!("{}.", before.full_name);
        for d in tree.iter().filter(|a| a.id != id) {
            if let Some(rest) = d.full_name.strip_prefix(&old_prefix) {
                let mut dm: app::ActiveModel = d.clone().into();
                dm.full_name = Set(format!("{full_name}.{rest}"));
                dm.update(txn).await?;
            }
        }
    }
    if moved || new_production != before.production_id {
        let fresh = subtree(txn, id).await?;
        rebuild_paths(txn, &fresh).await?;
    }
    Ok(Written {
        before: snapshot(&before),
        after: snapshot(&after),
        added: links(&after),
        removed: links(&before),
        app: after,
    })
}

/// Names for a refusal message: those the actor may view (at most five), the rest counted.
async fn names(ctx: &Ctx, actor: &Actor, apps: &[app::Model]) -> AppResult<String> {
    let items: Vec<(i64, String)> = apps.iter().map(|a| (a.id, a.full_name.clone())).collect();
    crate::perms::service::visible_names(ctx, actor, APP, &items).await
}

/// `DELETE /applications/{id}/`: refused while it has children, or while others depend on it
/// unless `force` (which removes those dependency links). Its grants, owners and links go with it.
pub async fn delete(ctx: &Ctx, actor: &Actor, id: i64, force: bool) -> AppResult<Message> {
    authorize_resource(ctx, actor, APP, id, "delete_app").await?;
    let (_structure, txn) = crate::perms::inherit::begin(ctx).await?;
    let a = load(&txn, id).await?;
    // Module-wide `delete_app` does not imply `view_app`: refusals name the application itself
    // only for those who may view it (its id was sent by the caller).
    let me = if crate::perms::service::holds_resource(ctx, actor.id, APP, id, "view_app").await {
        a.full_name.clone()
    } else {
        format!("application {id}")
    };
    let children = app::Entity::find()
        .filter(app::Column::ParentId.eq(id))
        .order_by_asc(app::Column::FullName)
        .all(&txn)
        .await?;
    if !children.is_empty() {
        return Err(AppError::conflict(format!(
            "{} has child applications: {}; move or delete them first",
            me,
            names(ctx, actor, &children).await?
        )));
    }
    let dependants = app::Entity::find()
        .filter(
            app::Column::Id.in_subquery(
                Query::select()
                    .column(dep::Column::AppId)
                    .from(dep::Entity)
                    .and_where(Expr::col(dep::Column::RequiredId).eq(id))
                    .to_owned(),
            ),
        )
        .order_by_asc(app::Column::FullName)
        .all(&txn)
        .await?;
    if !dependants.is_empty() && !force {
        return Err(AppError::conflict(format!(
            "{} is required by {}; delete with force=true to remove those links",
            me,
            names(ctx, actor, &dependants).await?
        )));
    }
    let on_hosts: Vec<(i64, String)> = {
        use crate::entities::{host, instance};
        let sub = Query::select()
            .column(instance::Column::HostId)
            .from(instance::Entity)
            .and_where(Expr::col(instance::Column::AppId).eq(id))
            .to_owned();
        host::Entity::find()
            .filter(host::Column::Id.in_subquery(sub))
            .order_by_asc(host::Column::Hostname)
            .all(&txn)
            .await?
            .into_iter()
            .map(|h| (h.id, h.hostname))
            .collect()
    };
    if !on_hosts.is_empty() && !force {
        return Err(AppError::conflict(format!(
            "{} has instances on {}; delete with force=true to remove them",
            me,
            crate::perms::service::visible_names(ctx, actor, ResourceType::Host, &on_hosts).await?
        )));
    }
    let on_hosts: Vec<String> = on_hosts.into_iter().map(|(_, n)| n).collect();
    crate::entities::instance::Entity::delete_many()
        .filter(crate::entities::instance::Column::AppId.eq(id))
        .exec(&txn)
        .await?;
    dep::Entity::delete_many()
        .filter(
            Condition::any()
                .add(dep::Column::AppId.eq(id))
                .add(dep::Column::RequiredId.eq(id)),
        )
        .exec(&txn)
        .await?;
    owner::Entity::delete_many()
        .filter(owner::Column::AppId.eq(id))
        .exec(&txn)
        .await?;
    path::Entity::delete_many()
        .filter(path::Column::AppId.eq(id))
        .exec(&txn)
        .await?;
    // Its deploy settings go with it (a foreign key); their hook index too.
    crate::entities::deploy_hook_script::Entity::delete_many()
        .filter(crate::entities::deploy_hook_script::Column::OwnerType.eq("settings"))
        .filter(crate::entities::deploy_hook_script::Column::OwnerId.eq(id))
        .exec(&txn)
        .await?;
    let mut removed = drop_resource_grants(&txn, APP, id).await?;
    removed.extend(links(&a));
    app::Entity::delete_by_id(id).exec(&txn).await?;
    let detail = json!({ "before": snapshot(&a), "after": null, "removed_dependants": dependants.iter().map(|d| &d.full_name).collect::<Vec<_>>(), "removed_instances_on": on_hosts });
    record(
        &txn,
        actor,
        Entry::new("app", "delete")
            .target("application", Some(id), &a.full_name)
            .detail(detail),
    )
    .await?;
    txn.commit().await?;
    crate::perms::service::catalog_changed(APP);
    apply(&mut *ctx.enforcer.write().await, vec![], removed).await?;
    Ok(Message::success())
}
