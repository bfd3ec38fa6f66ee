//! The application tree: ancestor closure, placement checks, children and product lines.
use super::*;

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
    let mut items = vec![];
    for a in distinct(ids) {
        if !add && load(&ctx.db, a).await?.production_id != Some(production) {
            continue;
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
