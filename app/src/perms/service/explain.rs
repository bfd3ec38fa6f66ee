//! The explainer: every permission a user holds and where it comes from.
use super::*;

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
        let (kind, id) = crate::perms::casbin::split_key(o)?;
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
