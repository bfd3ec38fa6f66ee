//! People and applications: owners (response persons) and the applications of users.
use super::*;

/// `GET /applications/{id}/response-person/`: names for anyone who may view the application;
/// e-mail and phone only for callers with `system.view_users` (or of the caller themselves).
pub async fn owners(ctx: &Ctx, actor: &Actor, id: i64, page: PageQuery) -> AppResult<Page<Owner>> {
    authorize_resource(ctx, actor, APP, id, "view_app").await?;
    let contacts = crate::perms::service::may_module(ctx, actor, "system", "view_users").await;
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
            let shown = contacts || u.id == actor.id;
            Some(Owner {
                id: u.id,
                name: if u.display_name.is_empty() {
                    u.username.clone()
                } else {
                    u.display_name.clone()
                },
                username: u.username.clone(),
                email: if shown {
                    u.email.clone()
                } else {
                    String::new()
                },
                mobile: if shown {
                    u.phone.clone()
                } else {
                    String::new()
                },
                owner_type: r.owner_type,
            })
        })
        .collect();
    Ok(Page::new(count, &page, out))
}

/// `POST /applications/{id}/response-person/`: `[{"id": user, "type": "dev|ops|qa|pm"}]`.
/// Naming anyone but yourself needs `system.view_users`; without it, or for a missing user,
/// the id reads "not found or not permitted" alike.
pub async fn add_owners(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    items: Vec<OwnerRef>,
) -> AppResult<Page<Owner>> {
    crate::common::validate::items(items.len())?;
    authorize_resource(ctx, actor, APP, id, "edit_app").await?;
    // Users are looked up by id only with `view_users` (or one's own id), so ids cannot be
    // probed for names, e-mail addresses and phones.
    let may_view_users =
        crate::perms::service::may_module(ctx, actor, "system", "view_users").await;
    let txn = crate::db::begin(&ctx.db).await?;
    let a = load(&txn, id).await?;
    for o in &items {
        let t = o.owner_type.clone().unwrap_or_default();
        if !OWNER_TYPES.contains(&t.as_str()) {
            return Err(AppError::invalid("type", "type is dev, ops, qa or pm"));
        }
        let missing =
            || AppError::invalid("id", format!("user {} not found or not permitted", o.id));
        if o.id != actor.id && !may_view_users {
            return Err(missing());
        }
        let u = user::Entity::find_by_id(o.id)
            .one(&txn)
            .await?
            .ok_or_else(missing)?;
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
    crate::common::validate::items(items.len())?;
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
/// Most users one `get_by_users` call asks about (after removing repeated ids).
pub const BY_USERS_MAX: usize = 50;
/// Most applications one `get_by_users` answer holds in all: each user's list is cut at
/// `PER_USER` or at this divided by the number of users, whichever is smaller.
const BY_USERS_TOTAL: u64 = 5000;

/// `POST /applications/get-by-users/`: for each user, the applications they may view that the
/// caller may view too, with the user's own available_actions. Needs system.view_users unless
/// asking only about yourself.
pub async fn get_by_users(
    ctx: &Ctx,
    actor: &Actor,
    users: Vec<IdRef>,
) -> AppResult<Vec<UserApplications>> {
    actor.require()?;
    // A repeated id is asked once (thousands of copies of your own id cost no more than one).
    let mut seen = HashSet::new();
    let users: Vec<IdRef> = users.into_iter().filter(|u| seen.insert(u.id)).collect();
    if users.len() > BY_USERS_MAX {
        return Err(AppError::invalid(
            "users",
            format!("ask about at most {BY_USERS_MAX} users at once"),
        ));
    }
    if users.iter().any(|u| u.id != actor.id) {
        authorize_module(ctx, actor, "system", "view_users").await?;
    }
    let per_user = std::cmp::min(PER_USER, BY_USERS_TOTAL / users.len().max(1) as u64);
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
            .limit(per_user)
            .all(&ctx.db)
            .await?;
        out.push(UserApplications {
            user_id: m.id,
            applications: to_wire(ctx, &them, rows).await?,
        });
    }
    Ok(out)
}
