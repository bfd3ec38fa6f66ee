//! Authorization for every domain, and the grant services.
use super::casbin::{apply, check, Rule, SUPERUSER_ROLE};
use super::types::*;
use crate::audit::service::{record, Entry};
use crate::common::Message;
use crate::ctx::{Actor, Ctx};
use crate::entities::{perm_grant, role, user, user_role};
use crate::error::{AppError, AppResult, ErrorCode};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};
use std::collections::{BTreeMap, HashMap};

/// Whether the user holds `perm` on `obj` (`module:dns`, `application:5`).
pub async fn holds(ctx: &Ctx, user_id: i64, obj: &str, perm: &str) -> bool {
    if user_id <= 0 {
        return false;
    }
    let e = ctx.enforcer.read().await;
    check(&e, &format!("user:{user_id}"), obj, perm)
}

/// Whether the user is a member of the superuser role.
pub async fn is_superuser(ctx: &Ctx, user_id: i64) -> bool {
    holds(ctx, user_id, "superuser:check", "superuser:check").await
}

/// Authorizes a module action: the actor must hold the module's enable flag and `perm`.
pub async fn authorize_module(ctx: &Ctx, actor: &Actor, module: &str, perm: &str) -> AppResult<()> {
    actor.require()?;
    let def = super::types::module(module)
        .ok_or_else(|| AppError::internal(format!("unknown module {module}")))?;
    let obj = format!("module:{module}");
    let e = ctx.enforcer.read().await;
    let sub = actor.subject();
    if check(&e, &sub, &obj, def.enable) && check(&e, &sub, &obj, perm) {
        Ok(())
    } else {
        Err(AppError::forbidden(format!(
            "permission {module}.{perm} required"
        )))
    }
}

/// Like `authorize_module`, but answers a bool (for `available_actions`).
pub async fn may_module(ctx: &Ctx, actor: &Actor, module: &str, perm: &str) -> bool {
    authorize_module(ctx, actor, module, perm).await.is_ok()
}

/// `GET /auth/me/` modules part: the modules and flags the actor holds.
pub async fn my_modules(ctx: &Ctx, actor: &Actor) -> AppResult<MyModules> {
    actor.require()?;
    let e = ctx.enforcer.read().await;
    let sub = actor.subject();
    let superuser = check(&e, &sub, "superuser:check", "superuser:check");
    let mut out = MyModules {
        superuser,
        ..Default::default()
    };
    for m in MODULES {
        let obj = format!("module:{}", m.name);
        if check(&e, &sub, &obj, m.enable) {
            out.modules.push(m.name.to_string());
        }
        for p in m.perms {
            if check(&e, &sub, &obj, p) {
                out.perms.push(format!("{}.{}", m.name, p));
            }
        }
    }
    Ok(out)
}

/// The display name of a grant subject; 404 when it does not exist.
pub async fn subject_name<C: sea_orm::ConnectionTrait>(
    db: &C,
    st: SubjectType,
    id: i64,
) -> AppResult<String> {
    match st {
        SubjectType::User => user::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|u| u.username)
            .ok_or_else(|| AppError::not_found("user")),
        SubjectType::Role => role::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|r| r.name)
            .ok_or_else(|| AppError::not_found("role")),
    }
}

/// `POST /users|roles/{id}/system/perms/`: sets module flags (true grants, false revokes).
/// Error 30001 for a flag the module does not define; 30002 when the actor does not hold a flag it
/// grants or revokes. Every change is audited in the same transaction.
pub async fn grant_module_perms(
    ctx: &Ctx,
    actor: &Actor,
    st: SubjectType,
    subject_id: i64,
    grants: Vec<ModuleGrant>,
) -> AppResult<Message> {
    authorize_module(ctx, actor, "system", "grant_perms").await?;
    // Validate everything before writing anything.
    let mut wanted: Vec<(&'static ModuleDef, &'static str, bool)> = vec![];
    for g in &grants {
        let def = module(&g.module_name).ok_or_else(|| {
            AppError::new(
                ErrorCode::UndefinedPermission,
                format!("undefined module {}", g.module_name),
            )
            .with_field("module_name")
        })?;
        for (flag, on) in &g.permissions {
            let p = canonical_module_perm(def, flag).ok_or_else(|| {
                AppError::new(
                    ErrorCode::UndefinedPermission,
                    format!("undefined permission {flag}"),
                )
                .with_field("permissions")
            })?;
            wanted.push((def, p, *on));
        }
    }
    for (def, p, _) in &wanted {
        if !holds(ctx, actor.id, &format!("module:{}", def.name), p).await {
            return Err(AppError::new(
                ErrorCode::NoGrantPermission,
                format!("no permission to grant {}.{}", def.name, p),
            ));
        }
    }
    let txn = ctx.db.begin().await?;
    let name = subject_name(&txn, st, subject_id).await?;
    let sub = format!("{}:{subject_id}", st.as_str());
    let (mut added, mut removed) = (vec![], vec![]);
    for (def, p, on) in wanted {
        let changed = set_grant(&txn, actor, st, subject_id, "module", def.name, p, on).await?;
        if changed {
            let mut e = Entry::new("module_perm", if on { "grant" } else { "revoke" })
                .target(st.as_str(), Some(subject_id), &name)
                .grant(p, on, st.as_str(), &name);
            e.module_name = def.name.to_string();
            record(&txn, actor, e).await?;
            let rule = Rule::P(sub.clone(), format!("module:{}", def.name), p.to_string());
            if on {
                added.push(rule)
            } else {
                removed.push(rule)
            }
        }
    }
    txn.commit().await?;
    let mut e = ctx.enforcer.write().await;
    apply(&mut e, added, removed).await?;
    Ok(Message::success())
}

/// Inserts or deletes one grant row; answers whether anything changed.
#[allow(clippy::too_many_arguments)]
async fn set_grant<C: sea_orm::ConnectionTrait>(
    db: &C,
    actor: &Actor,
    st: SubjectType,
    subject_id: i64,
    rtype: &str,
    rkey: &str,
    perm: &str,
    on: bool,
) -> AppResult<bool> {
    let existing = perm_grant::Entity::find()
        .filter(perm_grant::Column::SubjectType.eq(st.as_str()))
        .filter(perm_grant::Column::SubjectId.eq(subject_id))
        .filter(perm_grant::Column::ResourceType.eq(rtype))
        .filter(perm_grant::Column::ResourceKey.eq(rkey))
        .filter(perm_grant::Column::Perm.eq(perm))
        .one(db)
        .await?;
    match (existing, on) {
        (None, true) => {
            perm_grant::ActiveModel {
                subject_type: Set(st.as_str().into()),
                subject_id: Set(subject_id),
                resource_type: Set(rtype.into()),
                resource_key: Set(rkey.into()),
                perm: Set(perm.into()),
                granted_by: Set((actor.id > 0).then_some(actor.id)),
                created_at: Set(crate::time::now()),
                ..Default::default()
            }
            .insert(db)
            .await?;
            Ok(true)
        }
        (Some(g), false) => {
            perm_grant::Entity::delete_by_id(g.id).exec(db).await?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// `GET /users|roles/{id}/system/perms/`: the module flags granted directly to a user or role.
pub async fn module_perms_of(
    ctx: &Ctx,
    actor: &Actor,
    st: SubjectType,
    subject_id: i64,
) -> AppResult<Vec<ModulePerms>> {
    if !(st == SubjectType::User && actor.id == subject_id) {
        authorize_module(ctx, actor, "system", "view_users").await?;
    } else {
        actor.require()?;
    }
    subject_name(&ctx.db, st, subject_id).await?;
    let rows = perm_grant::Entity::find()
        .filter(perm_grant::Column::SubjectType.eq(st.as_str()))
        .filter(perm_grant::Column::SubjectId.eq(subject_id))
        .filter(perm_grant::Column::ResourceType.eq("module"))
        .all(&ctx.db)
        .await?;
    Ok(MODULES
        .iter()
        .map(|m| ModulePerms {
            module_name: m.name.to_string(),
            permissions: m
                .perms
                .iter()
                .map(|p| {
                    (
                        p.to_string(),
                        rows.iter()
                            .any(|r| r.resource_key == m.name && r.perm == *p),
                    )
                })
                .collect(),
        })
        .collect())
}

/// `GET /users/{id}/effective-perms/`: every permission the user holds and where each comes from.
pub async fn explain(
    ctx: &Ctx,
    actor: &Actor,
    user_id: i64,
    q: ExplainQuery,
) -> AppResult<EffectivePerms> {
    if actor.id != user_id {
        authorize_module(ctx, actor, "system", "view_users").await?;
    } else {
        actor.require()?;
    }
    let u = user::Entity::find_by_id(user_id)
        .one(&ctx.db)
        .await?
        .ok_or_else(|| AppError::not_found("user"))?;
    let memberships = user_role::Entity::find()
        .filter(user_role::Column::UserId.eq(user_id))
        .all(&ctx.db)
        .await?;
    let role_ids: Vec<i64> = memberships.iter().map(|m| m.role_id).collect();
    let roles: HashMap<i64, role::Model> = role::Entity::find()
        .filter(role::Column::Id.is_in(role_ids.clone()))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let superuser = roles
        .values()
        .any(|r| r.builtin && r.name == SUPERUSER_ROLE);
    let grants = perm_grant::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(
                    sea_orm::Condition::all()
                        .add(perm_grant::Column::SubjectType.eq("user"))
                        .add(perm_grant::Column::SubjectId.eq(user_id)),
                )
                .add(
                    sea_orm::Condition::all()
                        .add(perm_grant::Column::SubjectType.eq("role"))
                        .add(perm_grant::Column::SubjectId.is_in(role_ids)),
                ),
        )
        .order_by_asc(perm_grant::Column::ResourceType)
        .order_by_asc(perm_grant::Column::ResourceKey)
        .order_by_asc(perm_grant::Column::Perm)
        .all(&ctx.db)
        .await?;
    let mut map: BTreeMap<(String, String), Vec<PermSource>> = BTreeMap::new();
    for g in grants {
        let object = format!("{}:{}", g.resource_type, g.resource_key);
        if q.object
            .as_deref()
            .is_some_and(|o| !o.is_empty() && o != object)
        {
            continue;
        }
        if q.perm
            .as_deref()
            .is_some_and(|p| !p.is_empty() && p != g.perm)
        {
            continue;
        }
        let src = if g.subject_type == "user" {
            PermSource {
                via: "user".into(),
                role_id: None,
                role_name: None,
                object: object.clone(),
            }
        } else {
            PermSource {
                via: "role".into(),
                role_id: Some(g.subject_id),
                role_name: roles.get(&g.subject_id).map(|r| r.name.clone()),
                object: object.clone(),
            }
        };
        map.entry((object, g.perm)).or_default().push(src);
    }
    Ok(EffectivePerms {
        user_id,
        username: u.username,
        superuser,
        perms: map
            .into_iter()
            .map(|((object, perm), sources)| EffectivePerm {
                object,
                perm,
                sources,
            })
            .collect(),
    })
}

/// Removes every grant of a subject (used when a user or role is deleted), returning the Casbin lines.
pub async fn drop_subject_grants<C: sea_orm::ConnectionTrait>(
    db: &C,
    st: SubjectType,
    id: i64,
) -> AppResult<Vec<Rule>> {
    let rows = perm_grant::Entity::find()
        .filter(perm_grant::Column::SubjectType.eq(st.as_str()))
        .filter(perm_grant::Column::SubjectId.eq(id))
        .all(db)
        .await?;
    perm_grant::Entity::delete_many()
        .filter(perm_grant::Column::SubjectType.eq(st.as_str()))
        .filter(perm_grant::Column::SubjectId.eq(id))
        .exec(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|g| {
            Rule::P(
                format!("{}:{}", g.subject_type, g.subject_id),
                format!("{}:{}", g.resource_type, g.resource_key),
                g.perm,
            )
        })
        .collect())
}
