//! Product line services. Visibility: `view_business` module-wide or granted on the product line;
//! create needs `business.add_business` (the creator then holds view/edit/delete on it); edit needs
//! `edit_business` on it; delete needs `delete_business` and no applications left in it.
use super::types::*;
use crate::audit::service::{record, Entry};
use crate::common::{validate, Message, Page};
use crate::ctx::{Actor, Ctx};
use crate::entities::{application, production};
use crate::error::{AppError, AppResult};
use crate::perms::casbin::apply;
use crate::perms::service::{
    authorize_module, authorize_resource, drop_resource_grants, grant_creator, granted_ids,
    resource_perm_sets,
};
use crate::perms::types::ResourceType;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::json;
use std::collections::HashMap;

const BUSINESS: ResourceType = ResourceType::Business;

fn snapshot(p: &production::Model) -> serde_json::Value {
    json!({ "name": p.name, "description": p.description })
}

/// Maps rows to the wire type: one grouped count query (of the applications the actor may
/// view), actions from the enforcer.
async fn to_wire(
    ctx: &Ctx,
    actor: &Actor,
    rows: Vec<production::Model>,
) -> AppResult<Vec<Production>> {
    let ids: Vec<i64> = rows.iter().map(|p| p.id).collect();
    let mut apps = application::Entity::find();
    if let Some(sub) = granted_ids(ctx, actor, ResourceType::Application, "view_app").await? {
        apps = apps.filter(application::Column::Id.in_subquery(sub));
    }
    let counts: HashMap<i64, i64> = apps
        .select_only()
        .column(application::Column::ProductionId)
        .column_as(Expr::col(application::Column::Id).count(), "n")
        .filter(application::Column::ProductionId.is_in(ids))
        .group_by(application::Column::ProductionId)
        .into_tuple::<(Option<i64>, i64)>()
        .all(&ctx.db)
        .await?
        .into_iter()
        .filter_map(|(p, n)| p.map(|p| (p, n)))
        .collect();
    let perms = resource_perm_sets(
        ctx,
        actor,
        BUSINESS,
        &rows.iter().map(|p| p.id).collect::<Vec<_>>(),
    )
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for p in rows {
        let flag = |name: &str| {
            perms
                .get(&p.id)
                .and_then(|f| f.get(name))
                .copied()
                .unwrap_or(false)
        };
        let available_actions = ProductionActions {
            view: flag("view_business"),
            edit: flag("edit_business"),
            delete: flag("delete_business"),
        };
        out.push(Production {
            id: p.id,
            application_count: counts.get(&p.id).copied().unwrap_or(0) as u64,
            name: p.name,
            description: p.description,
            created_at: crate::time::fmt(&p.created_at),
            updated_at: crate::time::fmt(&p.updated_at),
            available_actions,
        });
    }
    Ok(out)
}

/// `GET /productions/`: the product lines the actor may see.
pub async fn list(ctx: &Ctx, actor: &Actor, f: ProductionFilter) -> AppResult<Page<Production>> {
    let mut q = production::Entity::find();
    if let Some(sub) = granted_ids(ctx, actor, BUSINESS, "view_business").await? {
        q = q.filter(production::Column::Id.in_subquery(sub));
    }
    if let Some(n) = f.name.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(production::Column::Name.contains(n));
    }
    let count = q.clone().count(&ctx.db).await?;
    let rows = q
        .order_by_asc(production::Column::Name)
        .offset(f.page.offset())
        .limit(f.page.size())
        .all(&ctx.db)
        .await?;
    Ok(Page::new(count, &f.page, to_wire(ctx, actor, rows).await?))
}

async fn load(ctx: &Ctx, id: i64) -> AppResult<production::Model> {
    production::Entity::find_by_id(id)
        .one(&ctx.db)
        .await?
        .ok_or_else(|| AppError::not_found("product line"))
}

/// `GET /productions/{id}/`.
pub async fn get(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<Production> {
    authorize_resource(ctx, actor, BUSINESS, id, "view_business").await?;
    let p = load(ctx, id).await?;
    Ok(to_wire(ctx, actor, vec![p]).await?.remove(0))
}

/// A product line by its exact name (forms that take a name). One the actor may not view is
/// answered like one that does not exist.
pub async fn by_name(ctx: &Ctx, actor: &Actor, name: &str) -> AppResult<Production> {
    actor.require()?;
    let missing = || AppError::invalid("production", format!("no product line {}", name.trim()));
    let p = production::Entity::find()
        .filter(production::Column::Name.eq(name.trim()))
        .one(&ctx.db)
        .await?
        .ok_or_else(missing)?;
    authorize_resource(ctx, actor, BUSINESS, p.id, "view_business")
        .await
        .map_err(|_| missing())?;
    Ok(to_wire(ctx, actor, vec![p]).await?.remove(0))
}

fn check_input(name: Option<&str>, description: Option<&str>) -> AppResult<()> {
    if let Some(n) = name {
        validate::name("name", n)?;
        // The CSV export's (and the dashboard's) stand-in for a line the reader may not view.
        if n.trim() == crate::bulk::service::HIDDEN_LINE {
            return Err(AppError::invalid(
                "name",
                "… is reserved (it stands for a hidden product line)",
            ));
        }
    }
    if description.is_some_and(|d| d.chars().count() > 1000) {
        return Err(AppError::invalid(
            "description",
            "must be at most 1000 characters",
        ));
    }
    Ok(())
}

/// `POST /productions/` (not in the seed; Opsdeck adds it).
pub async fn create(ctx: &Ctx, actor: &Actor, input: ProductionInput) -> AppResult<Production> {
    authorize_module(ctx, actor, "business", "add_business").await?;
    let name = input.name.clone().unwrap_or_default().trim().to_string();
    check_input(Some(&name), input.description.as_deref())?;
    let txn = crate::db::begin(&ctx.db).await?;
    if production::Entity::find()
        .filter(production::Column::Name.eq(&name))
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(
            AppError::conflict(format!("product line {name} already exists")).with_field("name"),
        );
    }
    let now = crate::time::now();
    let p = production::ActiveModel {
        name: Set(name),
        description: Set(input.description.unwrap_or_default()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let rules = grant_creator(
        &txn,
        actor,
        BUSINESS,
        p.id,
        &["view_business", "edit_business", "delete_business"],
    )
    .await?;
    record(
        &txn,
        actor,
        Entry::new("business", "add")
            .target("business", Some(p.id), &p.name)
            .change(json!(null), snapshot(&p)),
    )
    .await?;
    txn.commit().await?;
    apply(&mut *ctx.enforcer.write().await, rules, vec![]).await?;
    Ok(to_wire(ctx, actor, vec![p]).await?.remove(0))
}

/// `PATCH /productions/{id}/`.
pub async fn update(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    input: ProductionInput,
) -> AppResult<Production> {
    authorize_resource(ctx, actor, BUSINESS, id, "edit_business").await?;
    let name = input.name.as_deref().map(str::trim);
    check_input(name, input.description.as_deref())?;
    let txn = crate::db::begin(&ctx.db).await?;
    let before = production::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::not_found("product line"))?;
    let mut am: production::ActiveModel = before.clone().into();
    if let Some(n) = name {
        if n != before.name
            && production::Entity::find()
                .filter(production::Column::Name.eq(n))
                .one(&txn)
                .await?
                .is_some()
        {
            return Err(
                AppError::conflict(format!("product line {n} already exists")).with_field("name"),
            );
        }
        am.name = Set(n.to_string());
    }
    if let Some(d) = input.description {
        am.description = Set(d);
    }
    am.updated_at = Set(crate::time::now());
    let after = am.update(&txn).await?;
    record(
        &txn,
        actor,
        Entry::new("business", "update")
            .target("business", Some(id), &after.name)
            .change(snapshot(&before), snapshot(&after)),
    )
    .await?;
    txn.commit().await?;
    Ok(to_wire(ctx, actor, vec![after]).await?.remove(0))
}

/// `DELETE /productions/{id}/`: refused while applications belong to it (the message names them).
pub async fn delete(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<Message> {
    authorize_resource(ctx, actor, BUSINESS, id, "delete_business").await?;
    let txn = crate::db::begin(&ctx.db).await?;
    let p = production::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::not_found("product line"))?;
    let apps = application::Entity::find()
        .filter(application::Column::ProductionId.eq(id))
        .order_by_asc(application::Column::FullName)
        .limit(6)
        .all(&txn)
        .await?;
    if !apps.is_empty() {
        // Only the applications the caller may view are named.
        let items: Vec<(i64, String)> = apps
            .iter()
            .take(5)
            .map(|a| (a.id, a.full_name.clone()))
            .collect();
        let mut names = crate::perms::service::visible_names(
            ctx,
            actor,
            crate::perms::types::ResourceType::Application,
            &items,
        )
        .await?;
        if apps.len() > 5 {
            names.push_str(", …");
        }
        // Module-wide `delete_business` does not imply `view_business`: the line itself is
        // named only for those who may view it (its id was sent by the caller).
        let me =
            if crate::perms::service::holds_resource(ctx, actor.id, BUSINESS, id, "view_business")
                .await
            {
                p.name.clone()
            } else {
                id.to_string()
            };
        return Err(AppError::conflict(format!(
            "product line {me} still has applications: {names}"
        )));
    }
    let removed = drop_resource_grants(&txn, BUSINESS, id).await?;
    production::Entity::delete_by_id(id).exec(&txn).await?;
    record(
        &txn,
        actor,
        Entry::new("business", "delete")
            .target("business", Some(id), &p.name)
            .change(snapshot(&p), json!(null)),
    )
    .await?;
    txn.commit().await?;
    apply(&mut *ctx.enforcer.write().await, vec![], removed).await?;
    Ok(Message::success())
}
