//! People and applications: owners (response persons) and the applications of users.
use super::*;

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
    let txn = crate::db::begin(&ctx.db).await?;
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
    let txn = crate::db::begin(&ctx.db).await?;
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

/// Most applications answered per user by `get_by_users`.
const PER_USER: u64 = 1000;

/// `POST /applications/get-by-users/`: for each user, the applications they may view that the
/// caller may view too, with the user's own available_actions. Needs system.view_users unless
/// asking only about yourself.
pub async fn get_by_users(
    ctx: &Ctx,
    actor: &Actor,
    users: Vec<IdRef>,
) -> AppResult<Vec<UserApplications>> {
    actor.require()?;
    if users.iter().any(|u| u.id != actor.id) {
        authorize_module(ctx, actor, "system", "view_users").await?;
    }
    let mine = granted_ids(ctx, actor, APP, "view_app").await?;
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
        // Only what the caller may view too: `view_users` shows who sees what, not more.
        if let Some(sub) = mine.clone() {
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
