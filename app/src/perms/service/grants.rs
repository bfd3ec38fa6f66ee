//! Grant services: module flags and resource grants of users and roles, who holds what on a
//! resource, and the grants that come and go with resources.
use super::*;

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
    let (_structure, txn) = crate::perms::inherit::begin(ctx).await?;
    for (def, p, on) in &wanted {
        let change = crate::perms::inherit::Change::Grant {
            subject: st,
            subject_id,
            obj: format!("module:{}", def.name),
            perm: p.to_string(),
            on: *on,
        };
        crate::perms::inherit::ensure(&txn, ctx, actor, &change).await?;
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
    let (_structure, txn) = crate::perms::inherit::begin(ctx).await?;
    for c in &changes {
        let change = crate::perms::inherit::Change::Grant {
            subject: c.st,
            subject_id: c.sid,
            obj: format!("{}:{}", c.rtype.as_str(), c.rid),
            perm: c.perm.to_string(),
            on: c.on,
        };
        crate::perms::inherit::ensure(&txn, ctx, actor, &change).await?;
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

/// Grants the creator of a resource full rights on it, in the creating transaction, so that a
/// user who may create (but not see every) product line can manage what they created.
pub async fn grant_creator<C: sea_orm::ConnectionTrait>(
    db: &C,
    actor: &Actor,
    rtype: ResourceType,
    rid: i64,
    perms: &[&str],
) -> AppResult<Vec<Rule>> {
    grant_user(db, actor, actor.id, rtype, rid, perms).await
}

/// Grants `perms` on a resource to a user in the caller's transaction, recorded as granted by
/// `granter` (no authorization check: for callers that decided already, as a request's
/// fulfilment after its approval). Answers the Casbin lines to add after commit.
pub async fn grant_user<C: sea_orm::ConnectionTrait>(
    db: &C,
    granter: &Actor,
    user_id: i64,
    rtype: ResourceType,
    rid: i64,
    perms: &[&str],
) -> AppResult<Vec<Rule>> {
    let mut rules = vec![];
    for p in perms {
        if set_grant(
            db,
            granter,
            SubjectType::User,
            user_id,
            rtype.as_str(),
            &rid.to_string(),
            Some(rid),
            p,
            true,
        )
        .await?
        {
            rules.push(Rule::P(
                format!("user:{user_id}"),
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
