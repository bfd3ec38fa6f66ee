//! The application tree: ancestor closure, placement checks, children and product lines.
use super::*;
use crate::perms::service::holds_resource;

/// The ids of an application's subtree (itself included), parents before children.
pub(super) async fn subtree<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<Vec<app::Model>> {
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
pub(super) async fn rebuild_paths<C: ConnectionTrait>(
    db: &C,
    apps: &[app::Model],
) -> AppResult<()> {
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
pub(super) fn links(a: &app::Model) -> Vec<Rule> {
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

/// Checks a new parent application and product line: each must exist and be editable by the
/// actor. One the actor may not view (nor edit) reads exactly like a missing one (400 on the
/// field, "not found or not permitted"); one they may view but not edit is a 403.
pub(super) async fn check_placement<C: ConnectionTrait>(
    db: &C,
    ctx: &Ctx,
    actor: &Actor,
    parent: Option<i64>,
    production: Option<i64>,
    created_here: &CreatedHere,
) -> AppResult<Option<app::Model>> {
    let parent = match parent {
        Some(p) => {
            let missing = || {
                AppError::invalid(
                    "parent_app",
                    format!("parent application {p} not found or not permitted"),
                )
            };
            let m = app::Entity::find_by_id(p)
                .one(db)
                .await?
                .ok_or_else(missing)?;
            if !created_here.contains(&p) {
                if let Err(e) = authorize_resource(ctx, actor, APP, p, "edit_app").await {
                    return Err(if holds_resource(ctx, actor.id, APP, p, "view_app").await {
                        e
                    } else {
                        missing()
                    });
                }
            }
            Some(m)
        }
        None => None,
    };
    if let Some(b) = production {
        let missing = || {
            AppError::invalid(
                "production",
                format!("product line {b} not found or not permitted"),
            )
        };
        let business = ResourceType::Business;
        if crate::entities::production::Entity::find_by_id(b)
            .one(db)
            .await?
            .is_none()
        {
            return Err(missing());
        }
        if let Err(e) = authorize_resource(ctx, actor, business, b, "edit_business").await {
            return Err(
                if holds_resource(ctx, actor.id, business, b, "view_business").await {
                    e
                } else {
                    missing()
                },
            );
        }
    }
    Ok(parent)
}

pub(super) fn full_name_of(parent: Option<&app::Model>, name: &str) -> String {
    match parent {
        Some(p) => format!("{}.{name}", p.full_name),
        None => name.to_string(),
    }
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

/// `POST /applications/{id}/child-apps/`: moves existing applications under this one (all or
/// nothing).
pub async fn add_children(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    ids: Vec<IdRef>,
) -> AppResult<Vec<Application>> {
    crate::common::validate::items(ids.len())?;
    authorize_resource(ctx, actor, APP, id, "edit_app").await?;
    let items = distinct(ids)
        .into_iter()
        .map(|c| {
            let input = AppInput {
                parent_app: Some(Some(id)),
                ..Default::default()
            };
            (c, input)
        })
        .collect();
    let rows = update_many(ctx, actor, items).await?;
    to_wire(ctx, actor, rows).await
}

/// Ids in their first order, each once.
fn distinct(ids: Vec<IdRef>) -> Vec<i64> {
    let mut seen = HashSet::new();
    ids.into_iter()
        .map(|r| r.id)
        .filter(|id| seen.insert(*id))
        .collect()
}

/// `DELETE /applications/{id}/child-apps/`: makes children top-level applications (nothing is
/// deleted; all or nothing).
pub async fn remove_children(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    ids: Vec<IdRef>,
) -> AppResult<Message> {
    crate::common::validate::items(ids.len())?;
    authorize_resource(ctx, actor, APP, id, "edit_app").await?;
    let mut items = vec![];
    for c in distinct(ids) {
        // A missing application and one that is not a child are answered alike, by the id
        // the caller sent (the child may be one they cannot view).
        let child = load(&ctx.db, c).await.ok();
        if child.is_none_or(|ch| ch.parent_id != Some(id)) {
            return Err(AppError::invalid(
                "id",
                format!("application {c} is not a child of this application (or not permitted)"),
            ));
        }
        let input = AppInput {
            parent_app: Some(None),
            ..Default::default()
        };
        items.push((c, input));
    }
    update_many(ctx, actor, items).await?;
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
/// Taking out: an application the actor may not view (nor edit) reads like a missing one (400,
/// "not found or not permitted"), wherever it is; a visible one in another line is skipped.
pub async fn set_production(
    ctx: &Ctx,
    actor: &Actor,
    production: i64,
    ids: Vec<IdRef>,
    add: bool,
) -> AppResult<Message> {
    crate::common::validate::items(ids.len())?;
    authorize_resource(
        ctx,
        actor,
        ResourceType::Business,
        production,
        "edit_business",
    )
    .await?;
    let mut items = vec![];
    for a in distinct(ids) {
        if !add {
            let missing =
                || AppError::invalid("id", format!("application {a} not found or not permitted"));
            let m = app::Entity::find_by_id(a)
                .one(&ctx.db)
                .await?
                .ok_or_else(missing)?;
            if !holds_resource(ctx, actor.id, APP, a, "view_app").await
                && !holds_resource(ctx, actor.id, APP, a, "edit_app").await
            {
                return Err(missing());
            }
            if m.production_id != Some(production) {
                continue;
            }
        }
        let target = if add { Some(production) } else { None };
        let input = AppInput {
            production: Some(target),
            ..Default::default()
        };
        items.push((a, input));
    }
    update_many(ctx, actor, items).await?;
    Ok(Message::success())
}
