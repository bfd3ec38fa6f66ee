//! Changes of who inherits what: an application's parent or product line, role membership and
//! grants. Every such change starts with `begin` (the structure locks) and passes `ensure`
//! inside its transaction, so no check races the change it guards, enforcer updates apply in
//! commit order, and nobody gains a permission they were not granted (docs/architecture.md).
use super::casbin::{check, SUPERUSER_ROLE};
use super::service::{holds_resource, is_superuser};
use super::types::{ResourceType, SubjectType, APP_PERMS};
use crate::ctx::{Actor, Ctx};
use crate::entities::{application_path as path, perm_grant, role, user_role};
use crate::error::{AppError, AppResult, ErrorCode};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use std::collections::HashSet;

/// A change of who inherits what, as `ensure` checks it.
#[derive(Debug, Clone)]
pub enum Change {
    /// Application `app` (with its subtree) is placed under `parent` and in `production`.
    Place {
        app: i64,
        parent: Option<i64>,
        production: Option<i64>,
    },
    /// User `user` joins (`add`) or leaves role `role`.
    Membership { user: i64, role: i64, add: bool },
    /// A grant of `perm` on `obj` (`module:dns`, `application:5`) is given (`on`) to, or taken
    /// from, a user or role.
    Grant {
        subject: SubjectType,
        subject_id: i64,
        obj: String,
        perm: String,
        on: bool,
    },
}

/// Takes this process's structure lock, then begins a write transaction holding the database's
/// (`db::lock_structure`). Keep the guard until the enforcer has the change: then two changes
/// reach the enforcer in the order they committed.
pub async fn begin(
    ctx: &Ctx,
) -> AppResult<(tokio::sync::OwnedMutexGuard<()>, DatabaseTransaction)> {
    let guard = ctx.structure.clone().lock_owned().await;
    let txn = crate::db::begin(&ctx.db).await?;
    crate::db::lock_structure(&txn).await?;
    Ok((guard, txn))
}

fn refused(message: impl Into<String>) -> AppError {
    AppError::new(ErrorCode::NoGrantPermission, message)
}

/// The one check for every change of who inherits what; call it inside the change's transaction
/// (after `begin` or `db::lock_structure`). The rules:
/// - placing an application under ancestors it did not have (a parent application, or a product
///   line, whose grants would reach it) needs every application permission on it: otherwise
///   whoever holds rights over the new ancestors gains rights over it that the actor could not
///   have granted;
/// - a role membership changes only if the actor holds everything the role carries and
///   everything the user holds (only superusers touch the superuser role);
/// - a grant is given or taken only by someone who holds it.
pub async fn ensure<C: ConnectionTrait>(
    db: &C,
    ctx: &Ctx,
    actor: &Actor,
    change: &Change,
) -> AppResult<()> {
    actor.require()?;
    match change {
        Change::Place {
            app,
            parent,
            production,
        } => ensure_place(db, ctx, actor, *app, *parent, *production).await,
        Change::Membership { user, role, add } => {
            if *add && *user == actor.id {
                ensure_not_self(ctx, actor).await?;
            }
            ensure_role_within(db, ctx, actor, *role).await?;
            // The user's rights must be covered too (perms::guard).
            super::guard::ensure_covers(ctx, db, actor, *user).await
        }
        Change::Grant {
            subject,
            subject_id,
            obj,
            perm,
            on,
        } => {
            if !holds_object(ctx, actor, obj, perm).await {
                return Err(refused(format!("no permission to grant {perm} on {obj}")));
            }
            if *on && is_self(db, actor, *subject, *subject_id).await? {
                ensure_not_self(ctx, actor).await?;
            }
            Ok(())
        }
    }
}

/// Whether a grant to the subject is a grant to the actor: the actor, or a role they are in.
async fn is_self<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    st: SubjectType,
    sid: i64,
) -> AppResult<bool> {
    Ok(match st {
        SubjectType::User => sid == actor.id,
        SubjectType::Role => user_role::Entity::find_by_id((actor.id, sid))
            .one(db)
            .await?
            .is_some(),
    })
}

/// Nobody but a superuser grants to themselves (directly, through a role they are in, or by
/// joining a role): a right held through a role, or by a grant that will be revoked, would
/// outlive its source.
async fn ensure_not_self(ctx: &Ctx, actor: &Actor) -> AppResult<()> {
    if is_superuser(ctx, actor.id).await {
        Ok(())
    } else {
        Err(refused(
            "you cannot grant permissions to yourself or to a role you are in, nor add yourself to a role",
        ))
    }
}

/// Whether the actor holds `perm` on `obj`, resources through their ancestors and the
/// module-wide flags that cover them.
async fn holds_object(ctx: &Ctx, actor: &Actor, obj: &str, perm: &str) -> bool {
    let resource = super::casbin::split_key(obj)
        .and_then(|(kind, id)| Some((ResourceType::parse(kind)?, id.parse::<i64>().ok()?)));
    match resource {
        Some((rtype, rid)) => holds_resource(ctx, actor.id, rtype, rid, perm).await,
        None => {
            let e = ctx.enforcer.read().await;
            check(&e, &actor.subject(), obj, perm)
        }
    }
}

async fn ensure_place<C: ConnectionTrait>(
    db: &C,
    ctx: &Ctx,
    actor: &Actor,
    app: i64,
    parent: Option<i64>,
    production: Option<i64>,
) -> AppResult<()> {
    let ancestors = |id: i64| {
        path::Entity::find()
            .filter(path::Column::AppId.eq(id))
            .all(db)
    };
    let old: HashSet<(String, i64)> = ancestors(app)
        .await?
        .into_iter()
        .map(|r| (r.ancestor_type, r.ancestor_id))
        .collect();
    let mut new: HashSet<(String, i64)> = HashSet::new();
    if let Some(p) = parent {
        new.insert(("application".into(), p));
        new.extend(
            ancestors(p)
                .await?
                .into_iter()
                .map(|r| (r.ancestor_type, r.ancestor_id)),
        );
    }
    if let Some(b) = production {
        new.insert(("business".into(), b));
    }
    if new.is_subset(&old) {
        // Fewer or the same ancestors: nobody gains anything.
        return Ok(());
    }
    for p in APP_PERMS {
        if !holds_resource(ctx, actor.id, ResourceType::Application, app, p).await {
            return Err(refused(format!(
                "moving an application under a new parent or product line hands it to their \
                 permission holders: that needs every application permission on it ({p} is \
                 missing)"
            )));
        }
    }
    Ok(())
}

/// The actor holds everything role `role_id` carries (only superusers touch the superuser role).
pub async fn ensure_role_within<C: ConnectionTrait>(
    db: &C,
    ctx: &Ctx,
    actor: &Actor,
    role_id: i64,
) -> AppResult<()> {
    if is_superuser(ctx, actor.id).await {
        return Ok(());
    }
    let r = role::Entity::find_by_id(role_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("role"))?;
    if r.builtin && r.name == SUPERUSER_ROLE {
        return Err(refused("only a superuser can change the superuser role"));
    }
    let grants = perm_grant::Entity::find()
        .filter(perm_grant::Column::SubjectType.eq("role"))
        .filter(perm_grant::Column::SubjectId.eq(role_id))
        .all(db)
        .await?;
    for g in grants {
        let obj = format!("{}:{}", g.resource_type, g.resource_key);
        if !holds_object(ctx, actor, &obj, &g.perm).await {
            return Err(refused(format!(
                "role {} carries {} on {obj}, which you do not hold",
                r.name, g.perm
            )));
        }
    }
    Ok(())
}
