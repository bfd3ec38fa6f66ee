//! Dependencies between applications: lists, the dependency picture, adding and removing.
use super::*;

fn required_of(id: i64) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(dep::Column::RequiredId)
        .from(dep::Entity)
        .and_where(Expr::col(dep::Column::AppId).eq(id))
        .to_owned()
}

/// The full names each of `ids` depends on (for exports), only those among `visible` (sorted
/// ids; `None`: all).
pub(crate) async fn required_names<C: ConnectionTrait>(
    db: &C,
    ids: &[i64],
    visible: Option<&[i64]>,
) -> AppResult<HashMap<i64, Vec<String>>> {
    let deps: Vec<dep::Model> = dep::Entity::find()
        .filter(dep::Column::AppId.is_in(ids.to_vec()))
        .all(db)
        .await?
        .into_iter()
        .filter(|d| visible.is_none_or(|v| v.binary_search(&d.required_id).is_ok()))
        .collect();
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
    // Two concurrent additions (a→b, b→a) must not both pass the cycle check.
    crate::db::lock_structure(txn).await?;
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
    crate::common::validate::items(ids.len())?;
    authorize_resource(ctx, actor, APP, id, "edit_app").await?;
    let txn = crate::db::begin(&ctx.db).await?;
    let a = load(&txn, id).await?;
    for r in ids {
        // One the caller may not view is answered like a missing one (its name would show in
        // the cycle message and the audit record): depending on it needs seeing it.
        let missing = || {
            AppError::invalid(
                "id",
                format!("application {} not found or not permitted", r.id),
            )
        };
        let req = load(&txn, r.id).await.map_err(|_| missing())?;
        if !crate::perms::service::holds_resource(ctx, actor.id, APP, req.id, "view_app").await {
            return Err(missing());
        }
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
    crate::common::validate::items(ids.len())?;
    authorize_resource(ctx, actor, APP, id, "edit_app").await?;
    let txn = crate::db::begin(&ctx.db).await?;
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
