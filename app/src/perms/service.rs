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
    let (_structure, txn) = super::inherit::begin(ctx).await?;
    for (def, p, on) in &wanted {
        let change = super::inherit::Change::Grant {
            subject: st,
            subject_id,
            obj: format!("module:{}", def.name),
            perm: p.to_string(),
            on: *on,
        };
        super::inherit::ensure(&txn, ctx, actor, &change).await?;
    }
    let name = subject_name(&txn, st, subject_id).await?;
    let sub = format!("{}:{subject_id}", st.as_str());
    let (mut added, mut removed) = (vec![], vec![]);
    for (def, p, on) in wanted {
        let changed =
            set_grant(&txn, actor, st, subject_id, "module", def.name, None, p, on).await?;
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
    rid: Option<i64>,
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
                resource_id: Set(rid),
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
    // For a resource, grants on its ancestors and the module-wide flags that cover it explain it too.
    let object = q.object.clone().filter(|o| !o.is_empty());
    let perm = q.perm.clone().filter(|p| !p.is_empty());
    let resource = object.as_deref().and_then(|o| {
        let (kind, id) = super::casbin::split_key(o)?;
        Some((ResourceType::parse(kind)?, id.parse::<i64>().ok()?))
    });
    let mut objects: Vec<String> = object.iter().cloned().collect();
    let mut covering: Vec<(String, String)> = vec![];
    if let Some((rtype, rid)) = resource {
        objects.extend(resource_ancestors(&ctx.db, rtype, rid).await?);
        if let Some(p) = perm.as_deref() {
            covering = module_flags_covering(rtype, p);
        }
    }
    let mut map: BTreeMap<(String, String), Vec<PermSource>> = BTreeMap::new();
    for g in grants {
        let obj = format!("{}:{}", g.resource_type, g.resource_key);
        let covers = covering.iter().any(|(o, p)| *o == obj && *p == g.perm);
        if !covers {
            if object.is_some() && !objects.contains(&obj) {
                continue;
            }
            if perm.as_deref().is_some_and(|p| p != g.perm) {
                continue;
            }
        }
        let src = if g.subject_type == "user" {
            PermSource {
                via: "user".into(),
                role_id: None,
                role_name: None,
                object: obj.clone(),
            }
        } else {
            PermSource {
                via: "role".into(),
                role_id: Some(g.subject_id),
                role_name: roles.get(&g.subject_id).map(|r| r.name.clone()),
                object: obj.clone(),
            }
        };
        map.entry((obj, g.perm)).or_default().push(src);
    }
    let allowed = match (object.as_deref(), perm.as_deref(), resource) {
        (_, Some(p), Some((rtype, rid))) => Some(holds_resource(ctx, user_id, rtype, rid, p).await),
        (Some(o), Some(p), None) => Some(holds(ctx, user_id, o, p).await),
        _ => None,
    };
    Ok(EffectivePerms {
        user_id,
        username: u.username,
        superuser,
        allowed,
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
        _ => vec![],
    }
}

/// Removes the grants matching `cond`, answering the Casbin lines to drop.
async fn drop_grants<C: sea_orm::ConnectionTrait>(
    db: &C,
    cond: sea_orm::Condition,
) -> AppResult<Vec<Rule>> {
    let rows = perm_grant::Entity::find()
        .filter(cond.clone())
        .all(db)
        .await?;
    perm_grant::Entity::delete_many()
        .filter(cond)
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

/// Removes every grant of a subject (used when a user or role is deleted).
pub async fn drop_subject_grants<C: sea_orm::ConnectionTrait>(
    db: &C,
    st: SubjectType,
    id: i64,
) -> AppResult<Vec<Rule>> {
    drop_grants(db, subject_cond(st, id)).await
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
    use crate::entities::{application, host, production};
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
    })
}

/// Ids of resources whose name contains `fragment` (ignoring case; `%`, `_` and `\` in it are
/// plain characters), as a subquery.
fn ids_named(
    backend: sea_orm::DbBackend,
    rtype: ResourceType,
    fragment: &str,
) -> sea_orm::sea_query::SelectStatement {
    use sea_orm::sea_query::{Alias, Expr, Query};
    let (table, col) = (rtype.table(), rtype.name_column());
    // `LIKE` needs its `ESCAPE` clause on SQLite (no default escape character); PostgreSQL's
    // default is `\` but says so too. `$1`: sea-query numbers PostgreSQL placeholders.
    let sql = if backend == sea_orm::DbBackend::Sqlite {
        format!(r#""{table}"."{col}" LIKE ? ESCAPE '\'"#)
    } else {
        format!(r#""{table}"."{col}" ILIKE $1 ESCAPE '\'"#)
    };
    Query::select()
        .column(Alias::new("id"))
        .from(Alias::new(table))
        .and_where(Expr::cust_with_values(
            sql,
            [crate::db::contains_pattern(fragment)],
        ))
        .to_owned()
}

/// The permission that lets one see a resource of this kind (and its name).
pub fn view_perm(rtype: ResourceType) -> &'static str {
    match rtype {
        ResourceType::Application => "view_app",
        ResourceType::Host => "view_host",
        ResourceType::Business => "view_business",
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

/// One flag change on one resource for one subject.
struct Change {
    st: SubjectType,
    sid: i64,
    rtype: ResourceType,
    rid: i64,
    perm: &'static str,
    on: bool,
}

fn parse_flags(rtype: ResourceType, flags: &PermFlags) -> AppResult<Vec<(&'static str, bool)>> {
    flags
        .iter()
        .map(|(f, on)| {
            rtype
                .perms()
                .iter()
                .copied()
                .find(|p| p == f)
                .map(|p| (p, *on))
                .ok_or_else(|| {
                    AppError::new(
                        ErrorCode::UndefinedPermission,
                        format!("undefined permission {f}"),
                    )
                    .with_field("permission")
                })
        })
        .collect()
}

/// The one place resource grants change: checks escalation, writes grants and audit records in
/// one transaction, then updates the enforcer.
async fn apply_resource_changes(
    ctx: &Ctx,
    actor: &Actor,
    changes: Vec<Change>,
) -> AppResult<Message> {
    authorize_module(ctx, actor, "system", "grant_perms").await?;
    let (_structure, txn) = super::inherit::begin(ctx).await?;
    for c in &changes {
        let change = super::inherit::Change::Grant {
            subject: c.st,
            subject_id: c.sid,
            obj: format!("{}:{}", c.rtype.as_str(), c.rid),
            perm: c.perm.to_string(),
            on: c.on,
        };
        super::inherit::ensure(&txn, ctx, actor, &change).await?;
    }
    let mut names: HashMap<(ResourceType, i64), String> = HashMap::new();
    let mut subjects: HashMap<(SubjectType, i64), String> = HashMap::new();
    let (mut added, mut removed) = (vec![], vec![]);
    for c in changes {
        if let std::collections::hash_map::Entry::Vacant(v) = names.entry((c.rtype, c.rid)) {
            let n = resource_names(&txn, c.rtype, &[c.rid]).await?;
            v.insert(
                n.get(&c.rid)
                    .cloned()
                    .ok_or_else(|| AppError::not_found(c.rtype.as_str()))?,
            );
        }
        if let std::collections::hash_map::Entry::Vacant(v) = subjects.entry((c.st, c.sid)) {
            v.insert(subject_name(&txn, c.st, c.sid).await?);
        }
        let key = c.rid.to_string();
        if set_grant(
            &txn,
            actor,
            c.st,
            c.sid,
            c.rtype.as_str(),
            &key,
            Some(c.rid),
            c.perm,
            c.on,
        )
        .await?
        {
            let (rname, sname) = (&names[&(c.rtype, c.rid)], &subjects[&(c.st, c.sid)]);
            let e = Entry::new("resource_perm", if c.on { "grant" } else { "revoke" })
                .target(c.rtype.as_str(), Some(c.rid), rname)
                .grant(c.perm, c.on, c.st.as_str(), sname);
            record(&txn, actor, e).await?;
            let rule = Rule::P(
                format!("{}:{}", c.st.as_str(), c.sid),
                format!("{}:{}", c.rtype.as_str(), c.rid),
                c.perm.to_string(),
            );
            if c.on {
                added.push(rule)
            } else {
                removed.push(rule)
            }
        }
    }
    txn.commit().await?;
    apply(&mut *ctx.enforcer.write().await, added, removed).await?;
    Ok(Message::success())
}

/// `POST /users|roles/{id}/application|host|business/perms/`: sets flags on resources for a subject.
pub async fn grant_resource_perms(
    ctx: &Ctx,
    actor: &Actor,
    st: SubjectType,
    sid: i64,
    rtype: ResourceType,
    req: ResourceGrantRequest,
) -> AppResult<Message> {
    authorize_module(ctx, actor, "system", "grant_perms").await?;
    let mut changes = vec![];
    for entry in &req.authorizations {
        for (perm, on) in parse_flags(rtype, &entry.permission)? {
            changes.push(Change {
                st,
                sid,
                rtype,
                rid: entry.id,
                perm,
                on,
            });
        }
    }
    apply_resource_changes(ctx, actor, changes).await
}

/// `PATCH /applications|hosts|productions/{id}/authorization/users|roles/`: updates or deletes
/// the grants of several users (or roles) on one resource.
pub async fn patch_resource_authorizations(
    ctx: &Ctx,
    actor: &Actor,
    rtype: ResourceType,
    rid: i64,
    st: SubjectType,
    items: Vec<AuthorizationChange>,
) -> AppResult<Message> {
    authorize_module(ctx, actor, "system", "grant_perms").await?;
    let mut changes = vec![];
    for item in &items {
        let who = match st {
            SubjectType::User => item.user.as_ref(),
            SubjectType::Role => item.role.as_ref(),
        }
        .ok_or_else(|| {
            AppError::invalid(st.as_str(), format!("each entry needs a {}", st.as_str()))
        })?;
        match item.action.as_str() {
            "update" => {
                for (perm, on) in parse_flags(rtype, &item.permission)? {
                    changes.push(Change {
                        st,
                        sid: who.id,
                        rtype,
                        rid,
                        perm,
                        on,
                    });
                }
            }
            "delete" => {
                let held = perm_grant::Entity::find()
                    .filter(perm_grant::Column::SubjectType.eq(st.as_str()))
                    .filter(perm_grant::Column::SubjectId.eq(who.id))
                    .filter(perm_grant::Column::ResourceType.eq(rtype.as_str()))
                    .filter(perm_grant::Column::ResourceKey.eq(rid.to_string()))
                    .all(&ctx.db)
                    .await?;
                for g in held {
                    if let Some(p) = rtype.perms().iter().copied().find(|p| *p == g.perm) {
                        changes.push(Change {
                            st,
                            sid: who.id,
                            rtype,
                            rid,
                            perm: p,
                            on: false,
                        });
                    }
                }
            }
            other => {
                return Err(AppError::invalid(
                    "action",
                    format!("action is update or delete, not {other}"),
                ))
            }
        }
    }
    apply_resource_changes(ctx, actor, changes).await
}

fn subject_cond(st: SubjectType, sid: i64) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(perm_grant::Column::SubjectType.eq(st.as_str()))
        .add(perm_grant::Column::SubjectId.eq(sid))
}

/// `GET /users|roles/{id}/application|host|business/perms/`: a subject's direct grants, one row per resource.
pub async fn resource_perms_of(
    ctx: &Ctx,
    actor: &Actor,
    st: SubjectType,
    sid: i64,
    rtype: ResourceType,
    f: ResourcePermFilter,
) -> AppResult<Page<ResourcePermRow>> {
    if !(st == SubjectType::User && actor.id == sid) {
        authorize_module(ctx, actor, "system", "view_users").await?;
    }
    actor.require()?;
    subject_name(&ctx.db, st, sid).await?;
    let mut q = perm_grant::Entity::find()
        .select_only()
        .column(perm_grant::Column::ResourceId)
        .distinct()
        .filter(subject_cond(st, sid))
        .filter(perm_grant::Column::ResourceType.eq(rtype.as_str()));
    // Another subject's grants: only on what the caller may view (rows and count alike), so
    // `view_users` does not name every resource someone else was granted.
    if !(st == SubjectType::User && actor.id == sid) {
        if let Some(sub) = granted_ids(ctx, actor, rtype, view_perm(rtype)).await? {
            q = q.filter(perm_grant::Column::ResourceId.in_subquery(sub));
        }
    }
    if let Some(name) = f.name().filter(|s| !s.is_empty()) {
        q = q.filter(perm_grant::Column::ResourceId.in_subquery(ids_named(
            ctx.db.get_database_backend(),
            rtype,
            name,
        )));
    }
    let count = q.clone().count(&ctx.db).await?;
    let ids: Vec<i64> = q
        .order_by_asc(perm_grant::Column::ResourceId)
        .offset(f.page.offset())
        .limit(f.page.size())
        .into_tuple::<Option<i64>>()
        .all(&ctx.db)
        .await?
        .into_iter()
        .flatten()
        .collect();
    let grants = perm_grant::Entity::find()
        .filter(subject_cond(st, sid))
        .filter(perm_grant::Column::ResourceType.eq(rtype.as_str()))
        .filter(perm_grant::Column::ResourceId.is_in(ids.clone()))
        .all(&ctx.db)
        .await?;
    let names = resource_names(&ctx.db, rtype, &ids).await?;
    let rows = ids
        .into_iter()
        .map(|id| {
            let name = names.get(&id).cloned().unwrap_or_default();
            let permission = rtype
                .perms()
                .iter()
                .map(|p| {
                    (
                        p.to_string(),
                        grants
                            .iter()
                            .any(|g| g.resource_id == Some(id) && g.perm == *p),
                    )
                })
                .collect();
            ResourcePermRow::new(rtype, id, name, permission)
        })
        .collect();
    Ok(Page::new(count, &f.page, rows))
}

/// `GET /applications|hosts|productions/{id}/authorization/users|roles/`: who holds what on one resource.
pub async fn resource_authorizations(
    ctx: &Ctx,
    actor: &Actor,
    rtype: ResourceType,
    rid: i64,
    st: SubjectType,
    page: PageQuery,
) -> AppResult<Page<ResourceAuthorization>> {
    authorize_module(ctx, actor, "system", "view_users").await?;
    // Who holds what on a resource is read about a resource one may view (a hidden one and a
    // missing one are answered alike).
    authorize_resource(ctx, actor, rtype, rid, view_perm(rtype)).await?;
    if resource_names(&ctx.db, rtype, &[rid]).await?.is_empty() {
        return Err(AppError::not_found(rtype.as_str()));
    }
    let base = perm_grant::Entity::find()
        .filter(perm_grant::Column::SubjectType.eq(st.as_str()))
        .filter(perm_grant::Column::ResourceType.eq(rtype.as_str()))
        .filter(perm_grant::Column::ResourceId.eq(rid));
    let q = base
        .clone()
        .select_only()
        .column(perm_grant::Column::SubjectId)
        .distinct();
    let count = q.clone().count(&ctx.db).await?;
    let sids: Vec<i64> = q
        .order_by_asc(perm_grant::Column::SubjectId)
        .offset(page.offset())
        .limit(page.size())
        .into_tuple::<i64>()
        .all(&ctx.db)
        .await?;
    let grants = base
        .filter(perm_grant::Column::SubjectId.is_in(sids.clone()))
        .all(&ctx.db)
        .await?;
    let mut out = vec![];
    for sid in sids {
        let name = subject_name(&ctx.db, st, sid).await?;
        let permission = rtype
            .perms()
            .iter()
            .map(|p| {
                (
                    p.to_string(),
                    grants.iter().any(|g| g.subject_id == sid && g.perm == *p),
                )
            })
            .collect();
        let who = match st {
            SubjectType::User => SubjectRef {
                id: sid,
                username: Some(name),
                name: None,
            },
            SubjectType::Role => SubjectRef {
                id: sid,
                username: None,
                name: Some(name),
            },
        };
        out.push(match st {
            SubjectType::User => ResourceAuthorization {
                user: Some(who),
                role: None,
                permission,
            },
            SubjectType::Role => ResourceAuthorization {
                user: None,
                role: Some(who),
                permission,
            },
        });
    }
    Ok(Page::new(count, &page, out))
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

/// `perm_grants` rows (aliased `g`) that belong to the actor: direct, or through a role.
fn actor_grants_cond(actor_id: i64) -> sea_orm::sea_query::Condition {
    use sea_orm::sea_query::{Alias, Cond, Expr, ExprTrait, Query};
    let roles = Query::select()
        .column(Alias::new("role_id"))
        .from(Alias::new("user_roles"))
        .and_where(Expr::col(Alias::new("user_id")).eq(actor_id))
        .to_owned();
    let g = |c: &str| Expr::col((Alias::new("g"), Alias::new(c)));
    Cond::any()
        .add(
            Cond::all()
                .add(g("subject_type").eq("user"))
                .add(g("subject_id").eq(actor_id)),
        )
        .add(
            Cond::all()
                .add(g("subject_type").eq("role"))
                .add(g("subject_id").in_subquery(roles)),
        )
}

/// The actor's grants, joined to the resources they cover: for applications through the
/// ancestor closure (grants on parents and product lines apply), otherwise directly.
/// Selects `(resource id, perm)`.
fn covered_query(
    rtype: ResourceType,
    whose: sea_orm::sea_query::Condition,
) -> sea_orm::sea_query::SelectStatement {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    let g = |c: &str| Expr::col((Alias::new("g"), Alias::new(c)));
    let mut q = Query::select();
    if rtype == ResourceType::Application {
        let p = |c: &str| Expr::col((Alias::new("p"), Alias::new(c)));
        q.expr_as(p("app_id"), Alias::new("rid"))
            .expr_as(g("perm"), Alias::new("perm"))
            .from_as(Alias::new("application_paths"), Alias::new("p"))
            .join_as(
                sea_orm::sea_query::JoinType::InnerJoin,
                Alias::new("perm_grants"),
                Alias::new("g"),
                sea_orm::sea_query::Cond::all()
                    .add(g("resource_type").equals((Alias::new("p"), Alias::new("ancestor_type"))))
                    .add(g("resource_id").equals((Alias::new("p"), Alias::new("ancestor_id")))),
            );
    } else {
        q.expr_as(g("resource_id"), Alias::new("rid"))
            .expr_as(g("perm"), Alias::new("perm"))
            .from_as(Alias::new("perm_grants"), Alias::new("g"))
            .and_where(g("resource_type").eq(rtype.as_str()));
    }
    q.cond_where(whose);
    q
}

/// Per process: the ids each user holds a permission on through grants (direct, through a role,
/// through the application hierarchy), computed once per policy epoch. Lists, counts and
/// `available_actions` of a user without module-wide rights read these instead of joining the
/// grants with the hierarchy closure on every query. The sets are bounded by the user's grants
/// (users who see everything never get one), and the cache by `VISIBLE_ENTRIES`.
#[derive(Default)]
pub struct VisibleCache {
    /// Valid for a policy epoch.
    sets: Stamped<u64>,
    /// The same sets in name order (then id), valid for a policy epoch and a catalog epoch.
    by_name: Stamped<(u64, u64)>,
    /// Held while a missing set is computed, so concurrent requests compute it once.
    computing: tokio::sync::Mutex<()>,
}

/// (user, resource kind, permission).
type SetKey = (i64, &'static str, String);

/// Id sets, each served only under the stamp (epochs) it was computed under; at most
/// `VISIBLE_ENTRIES` of them.
struct Stamped<S> {
    map: std::sync::Mutex<HashMap<SetKey, (S, Arc<Vec<i64>>)>>,
}

impl<S> Default for Stamped<S> {
    fn default() -> Self {
        Stamped {
            map: Default::default(),
        }
    }
}

impl<S: PartialEq + Copy> Stamped<S> {
    fn get(&self, key: &SetKey, stamp: S) -> Option<Arc<Vec<i64>>> {
        let map = self.map.lock().expect("visible cache");
        map.get(key)
            .filter(|(s, _)| *s == stamp)
            .map(|(_, ids)| ids.clone())
    }

    fn put(&self, key: SetKey, stamp: S, ids: Arc<Vec<i64>>) {
        let mut map = self.map.lock().expect("visible cache");
        if map.len() >= VISIBLE_ENTRIES {
            map.clear();
        }
        map.insert(key, (stamp, ids));
    }
}

const VISIBLE_ENTRIES: usize = 4096;

/// Per resource kind: counts committed writes to its rows in this process (see `catalog_changed`).
static CATALOG: [std::sync::atomic::AtomicU64; 3] = [
    std::sync::atomic::AtomicU64::new(0),
    std::sync::atomic::AtomicU64::new(0),
    std::sync::atomic::AtomicU64::new(0),
];

fn catalog_slot(rtype: ResourceType) -> &'static std::sync::atomic::AtomicU64 {
    &CATALOG[match rtype {
        ResourceType::Application => 0,
        ResourceType::Host => 1,
        ResourceType::Business => 2,
    }]
}

/// Marks resources of a kind as created, renamed, moved or deleted, after the writing
/// transaction committed: name-ordered visible sets of that kind are stale.
pub fn catalog_changed(rtype: ResourceType) {
    catalog_slot(rtype).fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

/// The ids of one page of `all`.
pub fn page_slice(all: &[i64], page: &PageQuery) -> Vec<i64> {
    all.iter()
        .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
        .take(usize::try_from(page.size()).unwrap_or(0))
        .copied()
        .collect()
}

/// The ids of `granted_set`, sorted by the kind's name column (then id), for any page of a list
/// restricted by nothing but visibility: a page is then a slice of this, read by primary key,
/// instead of sorting every visible row on every request. Valid while neither the policy nor
/// the kind's rows change (both epochs are read before anything else).
pub async fn granted_by_name(
    ctx: &Ctx,
    actor: &Actor,
    rtype: ResourceType,
    perm: &str,
) -> AppResult<Option<Arc<Vec<i64>>>> {
    use sea_orm::sea_query::{Alias, Order, Query};
    use sea_orm::ConnectionTrait;
    actor.require()?;
    let key = (actor.id, rtype.as_str(), perm.to_string());
    // Both epochs before anything is read: what is computed during a change is never served.
    let stamp = (
        super::casbin::epoch(),
        catalog_slot(rtype).load(std::sync::atomic::Ordering::SeqCst),
    );
    if let Some(sorted) = ctx.visible.by_name.get(&key, stamp) {
        return Ok(Some(sorted));
    }
    let Some(ids) = granted_set(ctx, actor, rtype, perm).await? else {
        return Ok(None);
    };
    let _one_at_a_time = ctx.visible.computing.lock().await;
    if let Some(sorted) = ctx.visible.by_name.get(&key, stamp) {
        return Ok(Some(sorted));
    }
    let backend = ctx.db.get_database_backend();
    let table = Alias::new(rtype.table());
    let q = Query::select()
        .column((table.clone(), Alias::new("id")))
        .from(table.clone())
        .and_where(id_in(backend, (table.clone(), Alias::new("id")), &ids))
        .order_by((table.clone(), Alias::new(rtype.name_column())), Order::Asc)
        .order_by((table, Alias::new("id")), Order::Asc)
        .to_owned();
    let mut sorted = Vec::with_capacity(ids.len());
    for row in ctx.db.query_all_raw(backend.build(&q)).await? {
        sorted.push(row.try_get_by_index::<i64>(0)?);
    }
    let sorted = Arc::new(sorted);
    ctx.visible.by_name.put(key, stamp, sorted.clone());
    Ok(Some(sorted))
}

/// The sorted ids `user_id` holds `perm` on through grants, from the cache when it is current.
async fn held_ids(
    ctx: &Ctx,
    user_id: i64,
    rtype: ResourceType,
    perm: &str,
) -> AppResult<Arc<Vec<i64>>> {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    use sea_orm::ConnectionTrait;
    // Read the epoch before the query: a set computed while the policy changes is stored under
    // the old epoch and never served.
    let key = (user_id, rtype.as_str(), perm.to_string());
    if let Some(ids) = ctx.visible.sets.get(&key, super::casbin::epoch()) {
        return Ok(ids);
    }
    let _one_at_a_time = ctx.visible.computing.lock().await;
    let epoch = super::casbin::epoch();
    if let Some(ids) = ctx.visible.sets.get(&key, epoch) {
        return Ok(ids);
    }
    let q = Query::select()
        .distinct()
        .column(Alias::new("rid"))
        .from_subquery(
            covered_query(rtype, actor_grants_cond(user_id)),
            Alias::new("c"),
        )
        .and_where(Expr::col(Alias::new("perm")).eq(perm))
        // Only resources that exist, so a list restricted by nothing else counts `ids.len()`.
        // EXISTS per grant row: as `rid IN (SELECT id FROM …)` SQLite walked every host.
        .and_where(Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(Alias::new(rtype.table()))
                .and_where(
                    Expr::col((Alias::new(rtype.table()), Alias::new("id")))
                        .equals((Alias::new("c"), Alias::new("rid"))),
                )
                .to_owned(),
        ))
        .order_by(Alias::new("rid"), sea_orm::sea_query::Order::Asc)
        .to_owned();
    let stmt = ctx.db.get_database_backend().build(&q);
    let mut ids = vec![];
    for row in ctx.db.query_all_raw(stmt).await? {
        ids.push(row.try_get::<i64>("", "rid")?);
    }
    let ids = Arc::new(ids);
    ctx.visible.sets.put(key, epoch, ids.clone());
    Ok(ids)
}

/// `SELECT` of the given ids, bound as one parameter whatever their number: a JSON array read
/// by `json_each` on SQLite, a `bigint[]` literal read by `unnest` on PostgreSQL (a third faster
/// than `jsonb_array_elements_text`; `id = ANY(…)` made PostgreSQL walk the name index instead).
fn id_list(backend: sea_orm::DbBackend, ids: &[i64]) -> sea_orm::sea_query::SelectStatement {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Query};
    let mut q = Query::select();
    if backend == sea_orm::DbBackend::Sqlite {
        let json = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
        q.expr(Expr::cust("value")).from_function(
            Func::cust(Alias::new("json_each")).arg(json),
            Alias::new("v"),
        );
    } else {
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        q.expr(Expr::cust("v")).from_function(
            Func::cust(Alias::new("unnest"))
                .arg(Expr::val(format!("{{{}}}", list.join(","))).cast_as(Alias::new("bigint[]"))),
            Alias::new("v"),
        );
    }
    q
}

/// For list queries: `None` when the actor sees every resource of this kind (superuser or the
/// module-wide flag), else a subquery of the ids they hold `perm` on directly, through a role,
/// or (applications) through a parent or product line. Lists filter with `id IN (subquery)` so
/// counts and pages come from SQL; the ids come from the per-process `VisibleCache`.
pub async fn granted_ids(
    ctx: &Ctx,
    actor: &Actor,
    rtype: ResourceType,
    perm: &str,
) -> AppResult<Option<sea_orm::sea_query::SelectStatement>> {
    Ok(granted_set(ctx, actor, rtype, perm)
        .await?
        .map(|ids| id_list(ctx.db.get_database_backend(), &ids)))
}

/// Like `granted_ids`, with the ids themselves (sorted, existing resources only), for lists that
/// can count them without a query.
pub async fn granted_set(
    ctx: &Ctx,
    actor: &Actor,
    rtype: ResourceType,
    perm: &str,
) -> AppResult<Option<Arc<Vec<i64>>>> {
    actor.require()?;
    if sees_all(ctx, actor, rtype, perm).await {
        return Ok(None);
    }
    Ok(Some(held_ids(ctx, actor.id, rtype, perm).await?))
}

/// `id IN (ids)` as one bound parameter (see `id_list`).
pub fn id_in(
    backend: sea_orm::DbBackend,
    col: impl sea_orm::sea_query::IntoColumnRef,
    ids: &[i64],
) -> sea_orm::sea_query::Expr {
    use sea_orm::sea_query::{Expr, ExprTrait};
    Expr::col(col).in_subquery(id_list(backend, ids))
}

/// The permissions the actor holds on each of `ids` (for `available_actions` of a page of
/// results): grants through the hierarchy, module-wide flags, superuser.
pub async fn resource_perm_sets(
    ctx: &Ctx,
    actor: &Actor,
    rtype: ResourceType,
    ids: &[i64],
) -> AppResult<HashMap<i64, PermFlags>> {
    let mut held: Vec<(&str, Option<Arc<Vec<i64>>>)> = vec![];
    for p in rtype.perms() {
        let set = if sees_all(ctx, actor, rtype, p).await {
            None
        } else if actor.id > 0 && !ids.is_empty() {
            Some(held_ids(ctx, actor.id, rtype, p).await?)
        } else {
            Some(Arc::new(vec![]))
        };
        held.push((p, set));
    }
    Ok(ids
        .iter()
        .map(|id| {
            let flags = held
                .iter()
                .map(|(p, set)| {
                    let on = match set {
                        None => true,
                        Some(s) => s.binary_search(id).is_ok(),
                    };
                    (p.to_string(), on)
                })
                .collect();
            (*id, flags)
        })
        .collect())
}

/// Grants the creator of a resource full rights on it, in the creating transaction, so that a
/// user who may create (but not see every) product line can manage what they created.
pub async fn grant_creator<C: sea_orm::ConnectionTrait>(
    db: &C,
    actor: &Actor,
    rtype: ResourceType,
    rid: i64,
    perms: &[&str],
) -> AppResult<Vec<Rule>> {
    let mut rules = vec![];
    for p in perms {
        if set_grant(
            db,
            actor,
            SubjectType::User,
            actor.id,
            rtype.as_str(),
            &rid.to_string(),
            Some(rid),
            p,
            true,
        )
        .await?
        {
            rules.push(Rule::P(
                actor.subject(),
                format!("{}:{rid}", rtype.as_str()),
                p.to_string(),
            ));
        }
    }
    Ok(rules)
}

/// Removes every grant on a deleted resource; answers the Casbin lines to drop.
pub async fn drop_resource_grants<C: sea_orm::ConnectionTrait>(
    db: &C,
    rtype: ResourceType,
    rid: i64,
) -> AppResult<Vec<Rule>> {
    let cond = sea_orm::Condition::all()
        .add(perm_grant::Column::ResourceType.eq(rtype.as_str()))
        .add(perm_grant::Column::ResourceId.eq(rid));
    drop_grants(db, cond).await
}

/// Ids of resources a role holds `perm` on (through the hierarchy for applications), as a subquery.
pub fn role_granted_ids(
    rtype: ResourceType,
    role_id: i64,
    perm: &str,
) -> sea_orm::sea_query::SelectStatement {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    let g = |c: &str| Expr::col((Alias::new("g"), Alias::new(c)));
    let whose = sea_orm::sea_query::Cond::all()
        .add(g("subject_type").eq("role"))
        .add(g("subject_id").eq(role_id));
    let inner = covered_query(rtype, whose);
    Query::select()
        .column(Alias::new("rid"))
        .from_subquery(inner, Alias::new("c"))
        .and_where(Expr::col(Alias::new("perm")).eq(perm))
        .to_owned()
}
