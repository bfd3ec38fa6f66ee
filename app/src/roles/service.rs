//! Role services, including membership (the Casbin `g` lines).
use super::types::*;
use crate::audit::service::{record, Entry};
use crate::common::{validate, Message, Page};
use crate::ctx::{Actor, Ctx};
use crate::entities::{role, user, user_role};
use crate::error::{AppError, AppResult};
use crate::perms::casbin::{apply, Rule, SUPERUSER_ROLE};
use crate::perms::inherit::{self, Change};
use crate::perms::service::{authorize_module, drop_subject_grants};
use crate::perms::types::SubjectType;
use crate::users::types::{RoleRef, User};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::json;

async fn to_wire(ctx: &Ctx, actor: &Actor, r: role::Model) -> AppResult<Role> {
    let member_count = user_role::Entity::find()
        .filter(user_role::Column::RoleId.eq(r.id))
        .count(&ctx.db)
        .await?;
    let manage = crate::perms::service::may_module(ctx, actor, "system", "manage_roles").await;
    let grant = crate::perms::service::may_module(ctx, actor, "system", "grant_perms").await;
    Ok(Role {
        available_actions: RoleActions {
            edit: manage,
            delete: manage && !r.builtin,
            manage_members: manage,
            grant,
        },
        id: r.id,
        name: r.name,
        description: r.description,
        creator: r.creator,
        builtin: r.builtin,
        member_count,
        created_at: crate::time::fmt(&r.created_at),
    })
}

/// `GET /roles/`.
pub async fn list(ctx: &Ctx, actor: &Actor, f: RoleFilter) -> AppResult<Page<Role>> {
    authorize_module(ctx, actor, "system", "view_users").await?;
    let mut q = role::Entity::find();
    if let Some(v) = f.name.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(role::Column::Name.contains(v));
    }
    let count = q.clone().count(&ctx.db).await?;
    let rows = q
        .order_by_asc(role::Column::Id)
        .offset(f.page.offset())
        .limit(f.page.size())
        .all(&ctx.db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(to_wire(ctx, actor, r).await?);
    }
    Ok(Page::new(count, &f.page, out))
}

/// `GET /roles/{id}/`.
pub async fn get(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<Role> {
    authorize_module(ctx, actor, "system", "view_users").await?;
    let r = role::Entity::find_by_id(id)
        .one(&ctx.db)
        .await?
        .ok_or_else(|| AppError::not_found("role"))?;
    to_wire(ctx, actor, r).await
}

/// A role by its exact name (forms that take a name). Same rule as `get`.
pub async fn by_name(ctx: &Ctx, actor: &Actor, name: &str) -> AppResult<Role> {
    authorize_module(ctx, actor, "system", "view_users").await?;
    let r = role::Entity::find()
        .filter(role::Column::Name.eq(name.trim()))
        .one(&ctx.db)
        .await?
        .ok_or_else(|| AppError::invalid("role", format!("no role {}", name.trim())))?;
    to_wire(ctx, actor, r).await
}

/// `POST /roles/` (not in the seed; Opsdeck adds it).
pub async fn create(ctx: &Ctx, actor: &Actor, input: RoleInput) -> AppResult<Role> {
    authorize_module(ctx, actor, "system", "manage_roles").await?;
    let name = input.name.unwrap_or_default().trim().to_string();
    validate::name("name", &name)?;
    let txn = crate::db::begin(&ctx.db).await?;
    if role::Entity::find()
        .filter(role::Column::Name.eq(&name))
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(AppError::conflict(format!("role {name} already exists")).with_field("name"));
    }
    let r = role::ActiveModel {
        name: Set(name),
        description: Set(input.description.unwrap_or_default()),
        creator: Set(actor.username.clone()),
        builtin: Set(false),
        created_at: Set(crate::time::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    record(
        &txn,
        actor,
        Entry::new("role", "add")
            .target("role", Some(r.id), &r.name)
            .change(
                json!(null),
                json!({"name": r.name, "description": r.description}),
            ),
    )
    .await?;
    txn.commit().await?;
    to_wire(ctx, actor, r).await
}

/// `PATCH /roles/{id}/`: rename or describe. Built-in roles keep their name. Needs holding
/// everything the role carries, like `delete` (`perms::inherit::ensure_role_within`).
pub async fn update(ctx: &Ctx, actor: &Actor, id: i64, input: RoleInput) -> AppResult<Role> {
    authorize_module(ctx, actor, "system", "manage_roles").await?;
    let txn = crate::db::begin(&ctx.db).await?;
    let before = role::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::not_found("role"))?;
    // Editing a role needs what deleting it needs: holding everything it carries. Otherwise a
    // `manage_roles` holder could swap the names of a powerful role and a harmless one, and whoever
    // hands out the harmless one by name would hand out the powerful one (the grants cannot change
    // under the check: they take the structure lock).
    crate::db::lock_structure(&txn).await?;
    inherit::ensure_role_within(&txn, ctx, actor, id).await?;
    let mut am: role::ActiveModel = before.clone().into();
    if let Some(n) = input.name {
        let n = n.trim().to_string();
        validate::name("name", &n)?;
        if before.builtin && n != before.name {
            return Err(AppError::invalid(
                "name",
                "a built-in role cannot be renamed",
            ));
        }
        am.name = Set(n);
    }
    if let Some(d) = input.description {
        am.description = Set(d);
    }
    let after = am.update(&txn).await?;
    record(
        &txn,
        actor,
        Entry::new("role", "update")
            .target("role", Some(id), &after.name)
            .change(
                json!({"name": before.name, "description": before.description}),
                json!({"name": after.name, "description": after.description}),
            ),
    )
    .await?;
    txn.commit().await?;
    to_wire(ctx, actor, after).await
}

/// `DELETE /roles/{id}/`: removes the role, its memberships and its grants.
pub async fn delete(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<Message> {
    authorize_module(ctx, actor, "system", "manage_roles").await?;
    let (_structure, txn) = inherit::begin(ctx).await?;
    inherit::ensure_role_within(&txn, ctx, actor, id).await?;
    let r = role::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::not_found("role"))?;
    if r.builtin {
        return Err(AppError::bad_request("a built-in role cannot be deleted"));
    }
    let members = user_role::Entity::find()
        .filter(user_role::Column::RoleId.eq(id))
        .all(&txn)
        .await?;
    user_role::Entity::delete_many()
        .filter(user_role::Column::RoleId.eq(id))
        .exec(&txn)
        .await?;
    let mut removed = drop_subject_grants(&txn, SubjectType::Role, id).await?;
    removed.extend(
        members
            .iter()
            .map(|m| Rule::G(format!("user:{}", m.user_id), format!("role:{id}"))),
    );
    role::Entity::delete_by_id(id).exec(&txn).await?;
    record(
        &txn,
        actor,
        Entry::new("role", "delete")
            .target("role", Some(id), &r.name)
            .change(
                json!({"name": r.name, "members": members.len()}),
                json!(null),
            ),
    )
    .await?;
    txn.commit().await?;
    apply(&mut *ctx.enforcer.write().await, vec![], removed).await?;
    Ok(Message::success())
}

/// `GET /roles/{id}/users/`: the members of a role.
pub async fn members(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<Vec<User>> {
    authorize_module(ctx, actor, "system", "view_users").await?;
    role::Entity::find_by_id(id)
        .one(&ctx.db)
        .await?
        .ok_or_else(|| AppError::not_found("role"))?;
    let ids: Vec<i64> = user_role::Entity::find()
        .filter(user_role::Column::RoleId.eq(id))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect();
    let mut out = vec![];
    for uid in ids {
        out.push(crate::users::service::get(ctx, actor, uid).await?);
    }
    Ok(out)
}

/// Adds (or removes) users to (from) roles: `POST|DELETE /users/{id}/roles/` and
/// `POST|DELETE /roles/{id}/users/` both land here.
pub async fn change_membership(
    ctx: &Ctx,
    actor: &Actor,
    pairs: Vec<(i64, i64)>,
    add: bool,
) -> AppResult<Message> {
    crate::common::validate::items(pairs.len())?;
    authorize_module(ctx, actor, "system", "manage_roles").await?;
    let (_structure, txn) = inherit::begin(ctx).await?;
    let mut rules = vec![];
    for (uid, rid) in pairs {
        let u = user::Entity::find_by_id(uid)
            .one(&txn)
            .await?
            .ok_or_else(|| AppError::not_found(&format!("user {uid}")))?;
        let r = role::Entity::find_by_id(rid)
            .one(&txn)
            .await?
            .ok_or_else(|| AppError::not_found(&format!("role {rid}")))?;
        inherit::ensure(
            &txn,
            ctx,
            actor,
            &Change::Membership {
                user: uid,
                role: rid,
                add,
            },
        )
        .await?;
        let exists = user_role::Entity::find_by_id((uid, rid))
            .one(&txn)
            .await?
            .is_some();
        if add && !exists {
            user_role::ActiveModel {
                user_id: Set(uid),
                role_id: Set(rid),
            }
            .insert(&txn)
            .await?;
        } else if !add && exists {
            if r.builtin && r.name == SUPERUSER_ROLE && uid == actor.id {
                return Err(AppError::bad_request(
                    "you cannot remove yourself from the superuser role",
                ));
            }
            user_role::Entity::delete_by_id((uid, rid))
                .exec(&txn)
                .await?;
        } else {
            continue;
        }
        record(
            &txn,
            actor,
            Entry::new("role", if add { "add_member" } else { "remove_member" })
                .target("role", Some(rid), &r.name)
                .detail(json!({"user": {"id": uid, "username": u.username}})),
        )
        .await?;
        rules.push(Rule::G(format!("user:{uid}"), format!("role:{rid}")));
    }
    txn.commit().await?;
    let mut e = ctx.enforcer.write().await;
    if add {
        apply(&mut e, rules, vec![]).await?;
    } else {
        apply(&mut e, vec![], rules).await?;
    }
    Ok(Message::success())
}

/// Creates the built-in superuser role if missing.
pub async fn ensure_superuser_role(ctx: &Ctx) -> AppResult<role::Model> {
    if let Some(r) = role::Entity::find()
        .filter(role::Column::Name.eq(SUPERUSER_ROLE))
        .one(&ctx.db)
        .await?
    {
        return Ok(r);
    }
    let r = role::ActiveModel {
        name: Set(SUPERUSER_ROLE.into()),
        description: Set("Holds every permission".into()),
        creator: Set("system".into()),
        builtin: Set(true),
        created_at: Set(crate::time::now()),
        ..Default::default()
    }
    .insert(&ctx.db)
    .await?;
    apply(
        &mut *ctx.enforcer.write().await,
        vec![Rule::G(format!("role:{}", r.id), SUPERUSER_ROLE.into())],
        vec![],
    )
    .await?;
    Ok(r)
}

/// Bootstrap only: makes a user a member of a role without the permission checks.
pub async fn add_member_unchecked(ctx: &Ctx, user_id: i64, role_id: i64) -> AppResult<()> {
    user_role::ActiveModel {
        user_id: Set(user_id),
        role_id: Set(role_id),
    }
    .insert(&ctx.db)
    .await?;
    apply(
        &mut *ctx.enforcer.write().await,
        vec![Rule::G(
            format!("user:{user_id}"),
            format!("role:{role_id}"),
        )],
        vec![],
    )
    .await?;
    Ok(())
}

/// Role references of a user (for the user menu and the explainer).
pub async fn roles_of(ctx: &Ctx, user_id: i64) -> AppResult<Vec<RoleRef>> {
    let ids: Vec<i64> = user_role::Entity::find()
        .filter(user_role::Column::UserId.eq(user_id))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|m| m.role_id)
        .collect();
    Ok(role::Entity::find()
        .filter(role::Column::Id.is_in(ids))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|r| RoleRef {
            id: r.id,
            name: r.name,
        })
        .collect())
}
