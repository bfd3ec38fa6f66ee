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
    QueryFilter, QueryOrder, QuerySelect, Select, Set, TransactionTrait,
};
use serde_json::json;
use std::collections::{HashMap, HashSet};

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
        let u = user::Entity::find()
            .filter(user::Column::Username.eq(name))
            .one(&ctx.db)
            .await?
            .ok_or_else(|| AppError::invalid("user", "no such user"))?;
        if u.id != actor.id {
            authorize_module(ctx, actor, "system", "view_users").await?;
        }
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

/// The ids of an application's subtree (itself included), parents before children.
async fn subtree<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<Vec<app::Model>> {
    let sub = Query::select()
        .column(path::Column::AppId)
        .from(path::Entity)
        .and_where(Expr::col(path::Column::AncestorType).eq("application"))
        .and_where(Expr::col(path::Column::AncestorId).eq(id))
        .to_owned();
    let mut rows = app::Entity::find()
        .filter(app::Column::Id.in_subquery(sub))
        .all(db)
        .await?;
    rows.sort_by_key(|a| a.full_name.matches('.').count());
    Ok(rows)
}

/// Recomputes the ancestor rows of each application (parents first): itself, its parent's
/// ancestors, and its own product line.
async fn rebuild_paths<C: ConnectionTrait>(db: &C, apps: &[app::Model]) -> AppResult<()> {
    for a in apps {
        path::Entity::delete_many()
            .filter(path::Column::AppId.eq(a.id))
            .exec(db)
            .await?;
        let mut rows: Vec<(String, i64)> = vec![("application".into(), a.id)];
        if let Some(p) = a.parent_id {
            for r in path::Entity::find()
                .filter(path::Column::AppId.eq(p))
                .all(db)
                .await?
            {
                rows.push((r.ancestor_type, r.ancestor_id));
            }
        }
        if let Some(b) = a.production_id {
            rows.push(("business".into(), b));
        }
        rows.sort();
        rows.dedup();
        path::Entity::insert_many(rows.into_iter().map(|(t, id)| path::ActiveModel {
            app_id: Set(a.id),
            ancestor_type: Set(t),
            ancestor_id: Set(id),
        }))
        .exec(db)
        .await?;
    }
    Ok(())
}

/// Casbin g2 lines of one application (its direct parent and product line).
fn links(a: &app::Model) -> Vec<Rule> {
    let me = format!("application:{}", a.id);
    let mut out = vec![];
    if let Some(p) = a.parent_id {
        out.push(Rule::G2(me.clone(), format!("application:{p}")));
    }
    if let Some(b) = a.production_id {
        out.push(Rule::G2(me, format!("business:{b}")));
    }
    out
}

/// Applications created earlier in the same transaction (an import): their creator may place
/// children under them although the enforcer learns of the creator's grants only at commit.
pub(crate) type CreatedHere = HashSet<i64>;

async fn check_placement<C: ConnectionTrait>(
    db: &C,
    ctx: &Ctx,
    actor: &Actor,
    parent: Option<i64>,
    production: Option<i64>,
    created_here: &CreatedHere,
) -> AppResult<Option<app::Model>> {
    let parent = match parent {
        Some(p) => {
            let m = load(db, p)
                .await
                .map_err(|_| AppError::invalid("parent_app", "no such parent application"))?;
            if !created_here.contains(&p) {
                authorize_resource(ctx, actor, APP, p, "edit_app").await?;
            }
            Some(m)
        }
        None => None,
    };
    if let Some(b) = production {
        if crate::entities::production::Entity::find_by_id(b)
            .one(db)
            .await?
            .is_none()
        {
            return Err(AppError::invalid("production", "no such product line"));
        }
        authorize_resource(ctx, actor, ResourceType::Business, b, "edit_business").await?;
    }
    Ok(parent)
}

fn full_name_of(parent: Option<&app::Model>, name: &str) -> String {
    match parent {
        Some(p) => format!("{}.{name}", p.full_name),
        None => name.to_string(),
    }
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
    let txn = ctx.db.begin().await?;
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
    let txn = ctx.db.begin().await?;
    let w = update_in(&txn, ctx, actor, id, input, &CreatedHere::new()).await?;
    record(
        &txn,
        actor,
        Entry::new("app", "update")
            .target("application", Some(id), &w.app.full_name)
            .change(w.before, w.after),
    )
    .await?;
    txn.commit().await?;
    crate::perms::service::catalog_changed(APP);
    apply(&mut *ctx.enforcer.write().await, w.added, w.removed).await?;
    Ok(to_wire(ctx, actor, vec![w.app]).await?.remove(0))
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

fn names(apps: &[app::Model]) -> String {
    let mut n: Vec<String> = apps.iter().take(5).map(|a| a.full_name.clone()).collect();
    if apps.len() > 5 {
        n.push(format!("and {} more", apps.len() - 5));
    }
    n.join(", ")
}

/// `DELETE /applications/{id}/`: refused while it has children, or while others depend on it
/// unless `force` (which removes those dependency links). Its grants, owners and links go with it.
pub async fn delete(ctx: &Ctx, actor: &Actor, id: i64, force: bool) -> AppResult<Message> {
    authorize_resource(ctx, actor, APP, id, "delete_app").await?;
    let txn = ctx.db.begin().await?;
    let a = load(&txn, id).await?;
    let children = app::Entity::find()
        .filter(app::Column::ParentId.eq(id))
        .order_by_asc(app::Column::FullName)
        .all(&txn)
        .await?;
    if !children.is_empty() {
        return Err(AppError::conflict(format!(
            "{} has child applications: {}; move or delete them first",
            a.full_name,
            names(&children)
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
            a.full_name,
            names(&dependants)
        )));
    }
    let on_hosts: Vec<String> = {
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
            .map(|h| h.hostname)
            .collect()
    };
    if !on_hosts.is_empty() && !force {
        return Err(AppError::conflict(format!(
            "{} has instances on {}; delete with force=true to remove them",
            a.full_name,
            on_hosts.join(", ")
        )));
    }
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

/// `GET /applications/{id}/child-apps/`.
pub async fn child_apps(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    f: AppFilter,
) -> AppResult<Page<Application>> {
    authorize_resource(ctx, actor, APP, id, "view_app").await?;
    page_of(
        ctx,
        actor,
        app::Entity::find().filter(app::Column::ParentId.eq(id)),
        f,
        false,
    )
    .await
}

/// `POST /applications/{id}/child-apps/`: moves existing applications under this one.
pub async fn add_children(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    ids: Vec<IdRef>,
) -> AppResult<Vec<Application>> {
    authorize_resource(ctx, actor, APP, id, "edit_app").await?;
    let mut out = vec![];
    for c in ids {
        out.push(
            update(
                ctx,
                actor,
                c.id,
                AppInput {
                    parent_app: Some(Some(id)),
                    ..Default::default()
                },
            )
            .await?,
        );
    }
    Ok(out)
}

/// `DELETE /applications/{id}/child-apps/`: makes children top-level applications (nothing is deleted).
pub async fn remove_children(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    ids: Vec<IdRef>,
) -> AppResult<Message> {
    authorize_resource(ctx, actor, APP, id, "edit_app").await?;
    for c in ids {
        let child = load(&ctx.db, c.id).await?;
        if child.parent_id != Some(id) {
            return Err(AppError::invalid(
                "id",
                format!("{} is not a child of this application", child.full_name),
            ));
        }
        update(
            ctx,
            actor,
            c.id,
            AppInput {
                parent_app: Some(None),
                ..Default::default()
            },
        )
        .await?;
    }
    Ok(Message::success())
}

fn required_of(id: i64) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(dep::Column::RequiredId)
        .from(dep::Entity)
        .and_where(Expr::col(dep::Column::AppId).eq(id))
        .to_owned()
}

/// The full names each of `ids` depends on (for exports).
pub(crate) async fn required_names<C: ConnectionTrait>(
    db: &C,
    ids: &[i64],
) -> AppResult<HashMap<i64, Vec<String>>> {
    let deps = dep::Entity::find()
        .filter(dep::Column::AppId.is_in(ids.to_vec()))
        .all(db)
        .await?;
    let targets: HashMap<i64, String> = app::Entity::find()
        .filter(app::Column::Id.is_in(deps.iter().map(|d| d.required_id).collect::<Vec<_>>()))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.id, a.full_name))
        .collect();
    let mut out: HashMap<i64, Vec<String>> = HashMap::new();
    for d in deps {
        if let Some(n) = targets.get(&d.required_id) {
            out.entry(d.app_id).or_default().push(n.clone());
        }
    }
    for v in out.values_mut() {
        v.sort();
    }
    Ok(out)
}

/// `GET /applications/{id}/required-apps/`: what this application depends on.
pub async fn required_apps(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    f: AppFilter,
) -> AppResult<Page<Application>> {
    authorize_resource(ctx, actor, APP, id, "view_app").await?;
    page_of(
        ctx,
        actor,
        app::Entity::find().filter(app::Column::Id.in_subquery(required_of(id))),
        f,
        false,
    )
    .await
}

/// `GET /applications/{id}/required-by-apps/`: what depends on this application.
pub async fn required_by_apps(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    f: AppFilter,
) -> AppResult<Page<Application>> {
    authorize_resource(ctx, actor, APP, id, "view_app").await?;
    let sub = Query::select()
        .column(dep::Column::AppId)
        .from(dep::Entity)
        .and_where(Expr::col(dep::Column::RequiredId).eq(id))
        .to_owned();
    page_of(
        ctx,
        actor,
        app::Entity::find().filter(app::Column::Id.in_subquery(sub)),
        f,
        false,
    )
    .await
}

/// Whether `from` already (transitively) requires `to`.
async fn requires<C: ConnectionTrait>(db: &C, from: i64, to: i64) -> AppResult<bool> {
    let mut seen = HashSet::from([from]);
    let mut frontier = vec![from];
    while !frontier.is_empty() {
        let next: Vec<i64> = dep::Entity::find()
            .filter(dep::Column::AppId.is_in(frontier.clone()))
            .all(db)
            .await?
            .into_iter()
            .map(|d| d.required_id)
            .collect();
        if next.contains(&to) {
            return Ok(true);
        }
        frontier = next.into_iter().filter(|n| seen.insert(*n)).collect();
    }
    Ok(false)
}

/// `GET /applications/{id}/dependency-graph/`: dependencies and dependants, transitively, one
/// query per step; applications the caller may not view appear without their name.
pub async fn dependency_graph(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<DepGraph> {
    authorize_resource(ctx, actor, APP, id, "view_app").await?;
    let center = load(&ctx.db, id).await?;
    let mut levels: HashMap<i64, i32> = HashMap::from([(id, 0)]);
    let mut edges: HashSet<(i64, i64)> = HashSet::new();
    let mut truncated = false;
    for dir in [1i32, -1] {
        let mut frontier = vec![id];
        let mut added = 0usize;
        for step in 1..=GRAPH_DEPTH {
            if frontier.is_empty() {
                break;
            }
            let from_col = if dir > 0 {
                dep::Column::AppId
            } else {
                dep::Column::RequiredId
            };
            let rows = dep::Entity::find()
                .filter(from_col.is_in(frontier.clone()))
                .all(&ctx.db)
                .await?;
            let mut next = vec![];
            for r in rows {
                edges.insert((r.app_id, r.required_id));
                let other = if dir > 0 { r.required_id } else { r.app_id };
                if !levels.contains_key(&other) {
                    if added >= GRAPH_NODES {
                        truncated = true;
                        continue;
                    }
                    added += 1;
                    levels.insert(other, dir * step);
                    next.push(other);
                }
            }
            frontier = next;
        }
        truncated |= !frontier.is_empty();
    }
    let ids: Vec<i64> = levels.keys().copied().collect();
    let visible: HashSet<i64> = match granted_ids(ctx, actor, APP, "view_app").await? {
        None => ids.iter().copied().collect(),
        Some(sub) => app::Entity::find()
            .select_only()
            .column(app::Column::Id)
            .filter(app::Column::Id.is_in(ids.clone()))
            .filter(app::Column::Id.in_subquery(sub))
            .into_tuple::<i64>()
            .all(&ctx.db)
            .await?
            .into_iter()
            .collect(),
    };
    let names: HashMap<i64, String> = app::Entity::find()
        .filter(app::Column::Id.is_in(ids))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|a| (a.id, a.full_name))
        .collect();
    let mut nodes: Vec<GraphNode> = levels
        .iter()
        .map(|(id, level)| GraphNode {
            id: *id,
            full_name: if visible.contains(id) {
                names.get(id).cloned().unwrap_or_default()
            } else {
                String::new()
            },
            level: *level,
        })
        .collect();
    nodes.sort_by(|a, b| a.level.cmp(&b.level).then(a.full_name.cmp(&b.full_name)));
    let mut edges: Vec<[i64; 2]> = edges
        .into_iter()
        .filter(|(a, b)| levels.contains_key(a) && levels.contains_key(b))
        .map(|(a, b)| [a, b])
        .collect();
    edges.sort();
    Ok(DepGraph {
        center: center.id,
        nodes,
        edges,
        truncated,
    })
}

/// Makes `a` depend on `req` (false when it already does); a cycle is refused on `field`.
async fn add_dep_in<C: ConnectionTrait>(
    txn: &C,
    a: &app::Model,
    req: &app::Model,
    field: &str,
) -> AppResult<bool> {
    if req.id == a.id || requires(txn, req.id, a.id).await? {
        return Err(AppError::invalid(
            field,
            format!(
                "{} already depends on {}: that would be a cycle",
                req.full_name, a.full_name
            ),
        ));
    }
    if dep::Entity::find_by_id((a.id, req.id))
        .one(txn)
        .await?
        .is_some()
    {
        return Ok(false);
    }
    dep::ActiveModel {
        app_id: Set(a.id),
        required_id: Set(req.id),
    }
    .insert(txn)
    .await?;
    Ok(true)
}

/// Makes `a`'s dependencies exactly `required` inside `txn` (the caller authorized `edit_app`
/// on `a`); answers the full names before and after, for the audit record.
pub(crate) async fn set_required_in<C: ConnectionTrait>(
    txn: &C,
    a: &app::Model,
    required: &[app::Model],
) -> AppResult<(Vec<String>, Vec<String>)> {
    let current = app::Entity::find()
        .filter(app::Column::Id.in_subquery(required_of(a.id)))
        .order_by_asc(app::Column::FullName)
        .all(txn)
        .await?;
    let before: Vec<String> = current.iter().map(|r| r.full_name.clone()).collect();
    for c in &current {
        if !required.iter().any(|r| r.id == c.id) {
            dep::Entity::delete_by_id((a.id, c.id)).exec(txn).await?;
        }
    }
    for r in required {
        add_dep_in(txn, a, r, "required_apps").await?;
    }
    let mut after: Vec<String> = required.iter().map(|r| r.full_name.clone()).collect();
    after.sort();
    Ok((before, after))
}

/// `POST /applications/{id}/required-apps/`: adds dependencies; a cycle is refused.
pub async fn add_required(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    ids: Vec<IdRef>,
) -> AppResult<Message> {
    authorize_resource(ctx, actor, APP, id, "edit_app").await?;
    let txn = ctx.db.begin().await?;
    let a = load(&txn, id).await?;
    for r in ids {
        let req = load(&txn, r.id)
            .await
            .map_err(|_| AppError::invalid("id", format!("no application {}", r.id)))?;
        if !add_dep_in(&txn, &a, &req, "id").await? {
            continue;
        }
        record(
            &txn,
            actor,
            Entry::new("app", "add_dependency")
                .target("application", Some(id), &a.full_name)
                .detail(json!({"required": {"id": req.id, "full_name": req.full_name}})),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(Message::success())
}

/// `DELETE /applications/{id}/required-apps/`.
pub async fn remove_required(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    ids: Vec<IdRef>,
) -> AppResult<Message> {
    authorize_resource(ctx, actor, APP, id, "edit_app").await?;
    let txn = ctx.db.begin().await?;
    let a = load(&txn, id).await?;
    for r in ids {
        let n = dep::Entity::delete_by_id((id, r.id)).exec(&txn).await?;
        if n.rows_affected > 0 {
            let name = load(&txn, r.id)
                .await
                .map(|x| x.full_name)
                .unwrap_or_default();
            record(
                &txn,
                actor,
                Entry::new("app", "remove_dependency")
                    .target("application", Some(id), &a.full_name)
                    .detail(json!({"required": {"id": r.id, "full_name": name}})),
            )
            .await?;
        }
    }
    txn.commit().await?;
    Ok(Message::success())
}

/// `GET /applications/{id}/response-person/`.
pub async fn owners(ctx: &Ctx, actor: &Actor, id: i64, page: PageQuery) -> AppResult<Page<Owner>> {
    authorize_resource(ctx, actor, APP, id, "view_app").await?;
    let q = owner::Entity::find().filter(owner::Column::AppId.eq(id));
    let count = q.clone().count(&ctx.db).await?;
    let rows = q
        .order_by_asc(owner::Column::OwnerType)
        .order_by_asc(owner::Column::UserId)
        .offset(page.offset())
        .limit(page.size())
        .all(&ctx.db)
        .await?;
    let users: HashMap<i64, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(rows.iter().map(|r| r.user_id).collect::<Vec<_>>()))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let out = rows
        .into_iter()
        .filter_map(|r| {
            let u = users.get(&r.user_id)?;
            Some(Owner {
                id: u.id,
                name: if u.display_name.is_empty() {
                    u.username.clone()
                } else {
                    u.display_name.clone()
                },
                username: u.username.clone(),
                email: u.email.clone(),
                mobile: u.phone.clone(),
                owner_type: r.owner_type,
            })
        })
        .collect();
    Ok(Page::new(count, &page, out))
}

/// `POST /applications/{id}/response-person/`: `[{"id": user, "type": "dev|ops|qa|pm"}]`.
pub async fn add_owners(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    items: Vec<OwnerRef>,
) -> AppResult<Page<Owner>> {
    authorize_resource(ctx, actor, APP, id, "edit_app").await?;
    let txn = ctx.db.begin().await?;
    let a = load(&txn, id).await?;
    for o in &items {
        let t = o.owner_type.clone().unwrap_or_default();
        if !OWNER_TYPES.contains(&t.as_str()) {
            return Err(AppError::invalid("type", "type is dev, ops, qa or pm"));
        }
        let u = user::Entity::find_by_id(o.id)
            .one(&txn)
            .await?
            .ok_or_else(|| AppError::invalid("id", format!("no user {}", o.id)))?;
        if owner::Entity::find_by_id((id, u.id, t.clone()))
            .one(&txn)
            .await?
            .is_none()
        {
            owner::ActiveModel {
                app_id: Set(id),
                user_id: Set(u.id),
                owner_type: Set(t.clone()),
            }
            .insert(&txn)
            .await?;
            record(
                &txn,
                actor,
                Entry::new("app", "add_owner")
                    .target("application", Some(id), &a.full_name)
                    .detail(json!({"user": u.username, "type": t})),
            )
            .await?;
        }
    }
    txn.commit().await?;
    owners(
        ctx,
        actor,
        id,
        PageQuery {
            page: Some(1),
            page_size: Some(100),
        },
    )
    .await
}

/// `DELETE /applications/{id}/response-person/`: `[{"id": user}]` (all types) or with `type`.
pub async fn remove_owners(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    items: Vec<OwnerRef>,
) -> AppResult<Message> {
    authorize_resource(ctx, actor, APP, id, "edit_app").await?;
    let txn = ctx.db.begin().await?;
    let a = load(&txn, id).await?;
    for o in items {
        let mut cond = Condition::all()
            .add(owner::Column::AppId.eq(id))
            .add(owner::Column::UserId.eq(o.id));
        if let Some(t) = &o.owner_type {
            cond = cond.add(owner::Column::OwnerType.eq(t.clone()));
        }
        let n = owner::Entity::delete_many().filter(cond).exec(&txn).await?;
        if n.rows_affected > 0 {
            record(
                &txn,
                actor,
                Entry::new("app", "remove_owner")
                    .target("application", Some(id), &a.full_name)
                    .detail(json!({"user_id": o.id, "type": o.owner_type})),
            )
            .await?;
        }
    }
    txn.commit().await?;
    Ok(Message::success())
}

/// `GET /productions/{id}/applications/`.
pub async fn of_production(
    ctx: &Ctx,
    actor: &Actor,
    production: i64,
    f: AppFilter,
) -> AppResult<Page<Application>> {
    authorize_resource(
        ctx,
        actor,
        ResourceType::Business,
        production,
        "view_business",
    )
    .await?;
    page_of(
        ctx,
        actor,
        app::Entity::find().filter(app::Column::ProductionId.eq(production)),
        f,
        false,
    )
    .await
}

/// `POST|DELETE /productions/{id}/applications/`: puts applications into (or takes them out of) a product line.
pub async fn set_production(
    ctx: &Ctx,
    actor: &Actor,
    production: i64,
    ids: Vec<IdRef>,
    add: bool,
) -> AppResult<Message> {
    authorize_resource(
        ctx,
        actor,
        ResourceType::Business,
        production,
        "edit_business",
    )
    .await?;
    for a in ids {
        if !add && load(&ctx.db, a.id).await?.production_id != Some(production) {
            continue;
        }
        let target = if add { Some(production) } else { None };
        update(
            ctx,
            actor,
            a.id,
            AppInput {
                production: Some(target),
                ..Default::default()
            },
        )
        .await?;
    }
    Ok(Message::success())
}

/// Most applications answered per user by `get_by_users`.
const PER_USER: u64 = 1000;

/// `POST /applications/get-by-users/`: for each user, the applications they may view, with
/// their own available_actions. Needs system.view_users unless asking only about yourself.
pub async fn get_by_users(
    ctx: &Ctx,
    actor: &Actor,
    users: Vec<IdRef>,
) -> AppResult<Vec<UserApplications>> {
    actor.require()?;
    if users.iter().any(|u| u.id != actor.id) {
        authorize_module(ctx, actor, "system", "view_users").await?;
    }
    let mut out = vec![];
    for u in users {
        let m = user::Entity::find_by_id(u.id)
            .one(&ctx.db)
            .await?
            .ok_or_else(|| AppError::invalid("id", format!("no user {}", u.id)))?;
        let them = Actor {
            id: m.id,
            username: m.username,
            ..actor.clone()
        };
        let mut q = app::Entity::find();
        if let Some(sub) = granted_ids(ctx, &them, APP, "view_app").await? {
            q = q.filter(app::Column::Id.in_subquery(sub));
        }
        let rows = q
            .order_by_asc(app::Column::FullName)
            .limit(PER_USER)
            .all(&ctx.db)
            .await?;
        out.push(UserApplications {
            user_id: m.id,
            applications: to_wire(ctx, &them, rows).await?,
        });
    }
    Ok(out)
}
