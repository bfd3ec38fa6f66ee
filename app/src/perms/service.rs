//! Authorization for every domain, and the grant services.
use super::casbin::{apply, check, Rule, SUPERUSER_ROLE};
use super::types::*;
use crate::audit::service::{record, Entry};
use crate::common::{Message, Page, PageQuery};
use crate::ctx::{Actor, Ctx};
use crate::entities::{perm_grant, role, user, user_role};
use crate::error::{AppError, AppResult, ErrorCode};
use sea_orm::PaginatorTrait;
use sea_orm::QuerySelect;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

mod explain;
mod grants;
mod visible;
pub use explain::*;
pub use grants::*;
pub use visible::*;

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

/// The objects above a resource: parent applications and their product lines.
pub async fn resource_ancestors<C: sea_orm::ConnectionTrait>(
    db: &C,
    rtype: ResourceType,
    rid: i64,
) -> AppResult<Vec<String>> {
    use crate::entities::application;
    let mut out = vec![];
    if rtype != ResourceType::Application {
        return Ok(out);
    }
    let mut next = Some(rid);
    // The CMDB refuses cycles; the bound only protects against a corrupted table.
    for _ in 0..64 {
        let Some(id) = next else { break };
        let Some(a) = application::Entity::find_by_id(id).one(db).await? else {
            break;
        };
        if let Some(p) = a.production_id {
            out.push(format!("business:{p}"));
        }
        if let Some(p) = a.parent_id {
            out.push(format!("application:{p}"));
        }
        next = a.parent_id;
    }
    Ok(out)
}

/// Whether `sub` holds a module-wide flag (with the module enabled) that covers `perm` on every
/// resource of the kind.
fn module_wide(e: &super::casbin::Enforcer, sub: &str, rtype: ResourceType, perm: &str) -> bool {
    module_flags_covering(rtype, perm)
        .iter()
        .any(|(obj, flag)| {
            let module = obj.trim_start_matches("module:");
            super::types::module(module).is_some_and(|d| check(e, sub, obj, d.enable))
                && check(e, sub, obj, flag)
        })
}

/// Module-wide flags (object, flag) that grant `perm` on every resource of a kind.
fn module_flags_covering(rtype: ResourceType, perm: &str) -> Vec<(String, String)> {
    let m = |module: &str, flag: &str| (format!("module:{module}"), flag.to_string());
    match rtype {
        ResourceType::Application if matches!(perm, "view_app" | "edit_app" | "delete_app") => {
            vec![m("application", perm)]
        }
        ResourceType::Host if matches!(perm, "edit_host" | "delete_host") => {
            vec![m("host", perm), m("host", "manage_host")]
        }
        // Whoever may edit or delete any host may see every host.
        ResourceType::Host if perm == "view_host" => {
            vec![
                m("host", "edit_host"),
                m("host", "delete_host"),
                m("host", "manage_host"),
            ]
        }
        ResourceType::Host => vec![m("host", "manage_host")],
        ResourceType::Business if matches!(perm, "view_business" | "delete_business") => {
            vec![m("business", perm)]
        }
        // Whoever manages DNS servers holds every zone permission.
        ResourceType::DnsDomain => vec![m("dns", "manage_dns_server")],
        _ => vec![],
    }
}

// ---------------------------------------------------------------------------------------------
// Resource permissions: applications, hosts, product lines.

/// Whether the user holds `perm` on a resource: a grant on it or an ancestor (Casbin g2), or the
/// module-wide flag that covers every resource of its kind.
pub async fn holds_resource(
    ctx: &Ctx,
    user_id: i64,
    rtype: ResourceType,
    rid: i64,
    perm: &str,
) -> bool {
    if user_id <= 0 {
        return false;
    }
    let e = ctx.enforcer.read().await;
    let sub = format!("user:{user_id}");
    if check(&e, &sub, &format!("{}:{rid}", rtype.as_str()), perm) {
        return true;
    }
    module_wide(&e, &sub, rtype, perm)
}

/// Authorizes an action on one resource (403 unless `holds_resource`).
pub async fn authorize_resource(
    ctx: &Ctx,
    actor: &Actor,
    rtype: ResourceType,
    rid: i64,
    perm: &str,
) -> AppResult<()> {
    actor.require()?;
    if holds_resource(ctx, actor.id, rtype, rid, perm).await {
        Ok(())
    } else {
        Err(AppError::forbidden(format!(
            "permission {perm} on {} {rid} required",
            rtype.as_str()
        )))
    }
}

/// Display names of resources by id (application full name, host name, product line name).
pub async fn resource_names<C: sea_orm::ConnectionTrait>(
    db: &C,
    rtype: ResourceType,
    ids: &[i64],
) -> AppResult<HashMap<i64, String>> {
    use crate::entities::{application, dns_domain, host, production};
    let ids = ids.to_vec();
    Ok(match rtype {
        ResourceType::Application => application::Entity::find()
            .filter(application::Column::Id.is_in(ids))
            .all(db)
            .await?
            .into_iter()
            .map(|a| (a.id, a.full_name))
            .collect(),
        ResourceType::Host => host::Entity::find()
            .filter(host::Column::Id.is_in(ids))
            .all(db)
            .await?
            .into_iter()
            .map(|h| (h.id, h.hostname))
            .collect(),
        ResourceType::Business => production::Entity::find()
            .filter(production::Column::Id.is_in(ids))
            .all(db)
            .await?
            .into_iter()
            .map(|p| (p.id, p.name))
            .collect(),
        ResourceType::DnsDomain => dns_domain::Entity::find()
            .filter(dns_domain::Column::Id.is_in(ids))
            .all(db)
            .await?
            .into_iter()
            .map(|d| (d.id, d.name))
            .collect(),
    })
}

/// The permission that lets one see a resource of this kind (and its name).
pub fn view_perm(rtype: ResourceType) -> &'static str {
    match rtype {
        ResourceType::Application => "view_app",
        ResourceType::Host => "view_host",
        ResourceType::Business => "view_business",
        ResourceType::DnsDomain => "view_domain",
    }
}

/// For refusal messages that list related objects (dependants, children, instances): the names
/// of those the actor may view (at most five), the others only counted, so a message never
/// names what the caller cannot see ("web, auth and 2 more").
pub async fn visible_names(
    ctx: &Ctx,
    actor: &Actor,
    rtype: ResourceType,
    items: &[(i64, String)],
) -> AppResult<String> {
    let visible = granted_set(ctx, actor, rtype, view_perm(rtype)).await?;
    let mut shown: Vec<String> = vec![];
    let mut more = 0usize;
    for (id, name) in items {
        let may = visible
            .as_ref()
            .is_none_or(|ids| ids.binary_search(id).is_ok());
        if may && shown.len() < 5 {
            shown.push(name.clone());
        } else {
            more += 1;
        }
    }
    Ok(match (shown.is_empty(), more) {
        (_, 0) => shown.join(", "),
        (true, n) => format!("{n} {}", if n == 1 { "other" } else { "others" }),
        (false, n) => format!("{} and {n} more", shown.join(", ")),
    })
}

/// Reloads the whole policy from the database (after bulk changes to the resource hierarchy).
pub async fn reload(ctx: &Ctx) -> AppResult<()> {
    use casbin::{CachedApi, CoreApi};
    let mut e = ctx.enforcer.write().await;
    super::casbin::policy_changed();
    e.load_policy().await?;
    e.get_mut_cache().clear();
    super::casbin::policy_changed();
    Ok(())
}

/// Whether the actor holds `perm` on every resource of a kind (superuser or a module-wide flag).
async fn sees_all(ctx: &Ctx, actor: &Actor, rtype: ResourceType, perm: &str) -> bool {
    let e = ctx.enforcer.read().await;
    let sub = actor.subject();
    check(&e, &sub, "superuser:check", "superuser:check") || module_wide(&e, &sub, rtype, perm)
}
