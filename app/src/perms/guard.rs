//! "The actor covers the target": nobody changes the e-mail, password, status or roles of a user
//! who holds anything they do not hold themselves. Otherwise a holder of `system.manage_users`
//! could point a superuser's e-mail at themselves, reset the password and take the account over,
//! or disable every superuser.
use crate::ctx::{Actor, Ctx};
use crate::entities::{perm_grant, user_role};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::perms::service::{holds, holds_resource, is_superuser};
use crate::perms::types::ResourceType;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

/// The one refusal: it names nothing (not what the target holds, nor that it is a superuser).
fn refused() -> AppError {
    AppError::new(
        ErrorCode::NoGrantPermission,
        "you cannot change this user: they hold permissions you do not hold",
    )
}

/// Whether `actor` holds everything user `target` holds: every module flag and resource grant the
/// target has directly or through its roles (compared with Casbin checks of the actor, so a grant
/// on an ancestor or a module-wide flag covers), and superuser membership (only a superuser covers
/// a superuser). A user always covers themselves. `db` is read for the target's grants (pass the
/// transaction that makes the change).
pub async fn covers<C: ConnectionTrait>(
    ctx: &Ctx,
    db: &C,
    actor: &Actor,
    target: i64,
) -> AppResult<bool> {
    actor.require()?;
    if actor.id == target || is_superuser(ctx, actor.id).await {
        return Ok(true);
    }
    if is_superuser(ctx, target).await {
        return Ok(false);
    }
    let role_ids: Vec<i64> = user_role::Entity::find()
        .select_only()
        .column(user_role::Column::RoleId)
        .filter(user_role::Column::UserId.eq(target))
        .into_tuple()
        .all(db)
        .await?;
    let grants = perm_grant::Entity::find()
        .filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(perm_grant::Column::SubjectType.eq("user"))
                        .add(perm_grant::Column::SubjectId.eq(target)),
                )
                .add(
                    Condition::all()
                        .add(perm_grant::Column::SubjectType.eq("role"))
                        .add(perm_grant::Column::SubjectId.is_in(role_ids)),
                ),
        )
        .all(db)
        .await?;
    for g in grants {
        let held = match (ResourceType::parse(&g.resource_type), g.resource_id) {
            (Some(rt), Some(rid)) => holds_resource(ctx, actor.id, rt, rid, &g.perm).await,
            _ => {
                holds(
                    ctx,
                    actor.id,
                    &format!("{}:{}", g.resource_type, g.resource_key),
                    &g.perm,
                )
                .await
            }
        };
        if !held {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Refuses (30002, naming nothing) unless `actor` covers user `target` (see `covers`).
pub async fn ensure_covers<C: ConnectionTrait>(
    ctx: &Ctx,
    db: &C,
    actor: &Actor,
    target: i64,
) -> AppResult<()> {
    if covers(ctx, db, actor, target).await? {
        Ok(())
    } else {
        Err(refused())
    }
}
