//! Dashboard numbers: every count is a SQL aggregate over what the actor may see (the same
//! permission subqueries as the lists), so no user learns how much exists beyond their grants.
use super::types::*;
use crate::ctx::{Actor, Ctx};
use crate::entities::{application as app, host, instance, production};
use crate::error::AppResult;
use crate::perms::service::granted_ids;
use crate::perms::types::ResourceType;
use sea_orm::sea_query::{Alias, Expr, Order};
use sea_orm::{
    ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};

/// Counts rows of `q` grouped by `col` (as text), largest first.
async fn grouped<E: EntityTrait>(
    ctx: &Ctx,
    q: Select<E>,
    col: impl ColumnTrait,
) -> AppResult<Vec<Bucket>> {
    let rows: Vec<(Option<String>, i64)> = q
        .select_only()
        .column_as(col, "key")
        .column_as(Expr::cust("COUNT(*)"), "n")
        .group_by(col)
        .order_by(Expr::col(Alias::new("n")), Order::Desc)
        .into_tuple()
        .all(&ctx.db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(k, n)| Bucket {
            key: k.unwrap_or_default(),
            count: n as u64,
        })
        .collect())
}

/// `GET /api/dashboard/`: counts of product lines, applications, hosts and instances the actor
/// may see, hosts by type and status, and applications per product line.
pub async fn summary(ctx: &Ctx, actor: &Actor) -> AppResult<Summary> {
    actor.require()?;
    let mut hosts = host::Entity::find();
    if let Some(sub) = granted_ids(ctx, actor, ResourceType::Host, "view_host").await? {
        hosts = hosts.filter(host::Column::Id.in_subquery(sub));
    }
    let mut apps = app::Entity::find();
    if let Some(sub) = granted_ids(ctx, actor, ResourceType::Application, "view_app").await? {
        apps = apps.filter(app::Column::Id.in_subquery(sub));
    }
    let mut lines = production::Entity::find();
    if let Some(sub) = granted_ids(ctx, actor, ResourceType::Business, "view_business").await? {
        lines = lines.filter(production::Column::Id.in_subquery(sub));
    }
    // Instances count when both their application and their host are visible.
    let mut inst = instance::Entity::find();
    if let Some(sub) = granted_ids(ctx, actor, ResourceType::Host, "view_host").await? {
        inst = inst.filter(instance::Column::HostId.in_subquery(sub));
    }
    if let Some(sub) = granted_ids(ctx, actor, ResourceType::Application, "view_app").await? {
        inst = inst.filter(instance::Column::AppId.in_subquery(sub));
    }
    let names: std::collections::HashMap<i64, String> = lines
        .clone()
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    let per_line: Vec<(Option<i64>, i64)> = apps
        .clone()
        .select_only()
        .column(app::Column::ProductionId)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .group_by(app::Column::ProductionId)
        .into_tuple()
        .all(&ctx.db)
        .await?;
    let mut apps_by_production: Vec<Bucket> = per_line
        .into_iter()
        .map(|(p, n)| Bucket {
            // A line the actor may not see is not named.
            key: p
                .map(|p| names.get(&p).cloned().unwrap_or_else(|| "…".into()))
                .unwrap_or_default(),
            count: n as u64,
        })
        .collect();
    apps_by_production.sort_by(|a, b| b.count.cmp(&a.count).then(a.key.cmp(&b.key)));
    Ok(Summary {
        productions: names.len() as u64,
        applications: apps.clone().count(&ctx.db).await?,
        hosts: hosts.clone().count(&ctx.db).await?,
        instances: inst.count(&ctx.db).await?,
        hosts_by_type: grouped(ctx, hosts.clone(), host::Column::HostType).await?,
        hosts_by_status: grouped(ctx, hosts, host::Column::Status).await?,
        apps_by_production,
    })
}
