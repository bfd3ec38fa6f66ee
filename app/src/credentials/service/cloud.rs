//! Cloud accounts: the API accounts that start, stop and restart hosts (`host.manage_host`).
//! The secret is encrypted under `OPSDECK_SECRET_KEY`, never answered, audited or logged.
use super::manage;
use crate::audit::service::{record, Entry};
use crate::common::{Message, Page, PageQuery};
use crate::credentials::types::*;
use crate::crypto::Keyring;
use crate::ctx::{Actor, Ctx};
use crate::entities::{cloud_account, host_access};
use crate::error::{AppError, AppResult};
use crate::exec::cloud;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::json;

const SECRET_CONTEXT: &str = "cloud_accounts.secret_enc";

async fn users_of<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<u64> {
    Ok(host_access::Entity::find()
        .filter(host_access::Column::CloudAccountId.eq(id))
        .count(db)
        .await?)
}

async fn wire(ctx: &Ctx, c: cloud_account::Model, hosts: u64) -> AppResult<CloudAccount> {
    let creator = ctx.names.name_of(&ctx.db, c.creator_id).await?;
    Ok(CloudAccount {
        id: c.id,
        name: c.name,
        provider: c.provider,
        endpoint: c.endpoint,
        region: c.region,
        secret_id: c.secret_id,
        secret: crate::exec::output::MASK.into(),
        hosts,
        creator,
        created_at: crate::time::fmt(&c.created_at),
        updated_at: crate::time::fmt(&c.updated_at),
    })
}

async fn load<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<cloud_account::Model> {
    cloud_account::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("cloud account"))
}

/// `GET /hosts/cloud-accounts/`: cloud accounts, by name.
pub async fn list_cloud_accounts(
    ctx: &Ctx,
    actor: &Actor,
    page: PageQuery,
) -> AppResult<Page<CloudAccount>> {
    manage(ctx, actor).await?;
    let q = cloud_account::Entity::find();
    let count = q.clone().count(&ctx.db).await?;
    let rows = q
        .order_by_asc(cloud_account::Column::Name)
        .offset(page.offset())
        .limit(page.size())
        .all(&ctx.db)
        .await?;
    let used: std::collections::HashMap<i64, i64> = host_access::Entity::find()
        .select_only()
        .column(host_access::Column::CloudAccountId)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(host_access::Column::CloudAccountId.is_in(rows.iter().map(|r| r.id)))
        .group_by(host_access::Column::CloudAccountId)
        .into_tuple::<(i64, i64)>()
        .all(&ctx.db)
        .await?
        .into_iter()
        .collect();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let n = used.get(&r.id).copied().unwrap_or(0) as u64;
        out.push(wire(ctx, r, n).await?);
    }
    Ok(Page::new(count, &page, out))
}

/// `GET /hosts/cloud-accounts/{id}/`.
pub async fn get_cloud_account(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<CloudAccount> {
    manage(ctx, actor).await?;
    let c = load(&ctx.db, id).await?;
    let n = users_of(&ctx.db, id).await?;
    wire(ctx, c, n).await
}

fn check_text(field: &str, v: &str, max: usize) -> AppResult<()> {
    if v.is_empty() || v.len() > max || v.chars().any(char::is_control) {
        return Err(AppError::invalid(
            field,
            format!("{field} is required (at most {max} characters, one line)"),
        ));
    }
    Ok(())
}

/// Checks the account's fields (all of them, as they will be stored).
fn check(c: &cloud_account::ActiveModel) -> AppResult<()> {
    let provider = c.provider.as_ref();
    if !cloud::PROVIDERS.contains(&provider.as_str()) {
        return Err(AppError::invalid(
            "provider",
            format!("provider must be one of {}", cloud::PROVIDERS.join(", ")),
        ));
    }
    cloud::check_endpoint(c.endpoint.as_ref()).map_err(|m| AppError::invalid("endpoint", m))?;
    check_text("secret_id", c.secret_id.as_ref(), 256)?;
    let region = c.region.as_ref();
    if provider != cloud::CLOUDSTACK {
        check_text("region", region, 64)?;
    }
    if region.len() > 64 || region.chars().any(char::is_control) {
        return Err(AppError::invalid("region", "at most 64 characters"));
    }
    Ok(())
}

fn name_taken(e: AppError, name: &str) -> AppError {
    e.taken("name", format!("a cloud account named {name} exists"))
}

fn snapshot(c: &cloud_account::Model) -> serde_json::Value {
    json!({"name": c.name, "provider": c.provider, "endpoint": c.endpoint, "region": c.region,
           "secret_id": c.secret_id})
}

/// `POST /hosts/cloud-accounts/`.
pub async fn create_cloud_account(
    ctx: &Ctx,
    actor: &Actor,
    input: CloudAccountInput,
) -> AppResult<CloudAccount> {
    manage(ctx, actor).await?;
    let name = input.name.clone().unwrap_or_default().trim().to_string();
    crate::common::validate::name("name", &name)?;
    let secret = input.secret.clone().unwrap_or_default();
    check_text("secret", &secret, 1024)?;
    let now = crate::time::now();
    let keys = Keyring::from_config(&ctx.config)?;
    let am = cloud_account::ActiveModel {
        name: Set(name.clone()),
        provider: Set(input.provider.clone().unwrap_or_default()),
        endpoint: Set(input
            .endpoint
            .clone()
            .unwrap_or_default()
            .trim()
            .to_string()),
        region: Set(input.region.clone().unwrap_or_default().trim().to_string()),
        secret_id: Set(input
            .secret_id
            .clone()
            .unwrap_or_default()
            .trim()
            .to_string()),
        secret_enc: Set(keys.encrypt(&secret, SECRET_CONTEXT)?),
        creator_id: Set((actor.id > 0).then_some(actor.id)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    check(&am)?;
    let txn = crate::db::begin(&ctx.db).await?;
    let c = am
        .insert(&txn)
        .await
        .map_err(|e| name_taken(e.into(), &name))?;
    record(
        &txn,
        actor,
        Entry::new("host", "cloud_account_create")
            .target("cloud_account", Some(c.id), &c.name)
            .detail(snapshot(&c)),
    )
    .await?;
    txn.commit().await?;
    wire(ctx, c, 0).await
}

/// `PATCH /hosts/cloud-accounts/{id}/`: a new secret replaces the old one. The provider of an
/// account hosts use cannot change (their host types fit it).
pub async fn update_cloud_account(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    input: CloudAccountInput,
) -> AppResult<CloudAccount> {
    manage(ctx, actor).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    let old = load(&txn, id).await?;
    let mut am: cloud_account::ActiveModel = old.clone().into();
    if let Some(n) = &input.name {
        crate::common::validate::name("name", n.trim())?;
        am.name = Set(n.trim().to_string());
    }
    if let Some(p) = &input.provider {
        if *p != old.provider && users_of(&txn, id).await? > 0 {
            return Err(AppError::invalid(
                "provider",
                "hosts use this account: its provider cannot change",
            ));
        }
        am.provider = Set(p.clone());
    }
    if let Some(e) = &input.endpoint {
        am.endpoint = Set(e.trim().to_string());
    }
    if let Some(r) = &input.region {
        am.region = Set(r.trim().to_string());
    }
    if let Some(s) = &input.secret_id {
        am.secret_id = Set(s.trim().to_string());
    }
    let replaced = input.secret.is_some();
    let moved = |new: &Option<String>, old: &str| new.as_deref().is_some_and(|n| n.trim() != old);
    if !replaced
        && (moved(&input.endpoint, &old.endpoint)
            || moved(&input.provider, &old.provider)
            || moved(&input.secret_id, &old.secret_id))
    {
        // Else someone who cannot read the secret could have it signed for a server of theirs.
        return Err(AppError::invalid(
            "secret",
            "send the secret again to change the endpoint, provider or key id",
        ));
    }
    if let Some(s) = &input.secret {
        check_text("secret", s, 1024)?;
        let keys = Keyring::from_config(&ctx.config)?;
        am.secret_enc = Set(keys.encrypt(s, SECRET_CONTEXT)?);
    }
    check(&am)?;
    am.updated_at = Set(crate::time::now());
    let c = am
        .update(&txn)
        .await
        .map_err(|e| name_taken(e.into(), input.name.as_deref().unwrap_or_default()))?;
    record(
        &txn,
        actor,
        Entry::new("host", "cloud_account_update")
            .target("cloud_account", Some(c.id), &c.name)
            .detail(json!({"before": snapshot(&old), "after": snapshot(&c),
                           "secret_replaced": replaced})),
    )
    .await?;
    txn.commit().await?;
    let n = users_of(&ctx.db, id).await?;
    wire(ctx, c, n).await
}

/// `DELETE /hosts/cloud-accounts/{id}/`: refused while hosts are powered through it.
pub async fn delete_cloud_account(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<Message> {
    manage(ctx, actor).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    let c = load(&txn, id).await?;
    let n = users_of(&txn, id).await?;
    if n > 0 {
        return Err(AppError::conflict(format!(
            "{n} host(s) are powered through cloud account {}; give them another first",
            c.name
        )));
    }
    cloud_account::Entity::delete_by_id(id).exec(&txn).await?;
    record(
        &txn,
        actor,
        Entry::new("host", "cloud_account_delete").target("cloud_account", Some(id), &c.name),
    )
    .await?;
    txn.commit().await?;
    Ok(Message::success())
}

/// The cloud account (its name and client settings with the decrypted secret) and instance id
/// that power a host, if it has both.
pub(crate) async fn cloud_account_of(
    ctx: &Ctx,
    a: &host_access::Model,
) -> AppResult<Option<((String, cloud::Account), String)>> {
    let (id, instance) =
        match (a.cloud_account_id, a.cloud_instance_id.clone()) {
            (Some(id), Some(instance)) => (id, instance),
            (None, None) => return Ok(None),
            _ => return Err(AppError::invalid(
                "cloud_instance_id",
                "the host has a cloud account or an instance id, not both: fix its access settings",
            )),
        };
    let c = load(&ctx.db, id).await?;
    let keys = Keyring::from_config(&ctx.config)?;
    let secret = keys.decrypt(&c.secret_enc, SECRET_CONTEXT)?;
    Ok(Some((
        (
            c.name,
            cloud::Account {
                provider: c.provider,
                endpoint: c.endpoint,
                region: c.region,
                secret_id: c.secret_id,
                secret,
            },
        ),
        instance,
    )))
}

/// A cloud account as host access answers it.
pub(super) async fn cloud_ref<C: ConnectionTrait>(
    db: &C,
    id: Option<i64>,
) -> AppResult<Option<CloudAccountRef>> {
    let Some(id) = id else { return Ok(None) };
    Ok(cloud_account::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(|c| CloudAccountRef {
            id: c.id,
            name: c.name,
            provider: c.provider,
        }))
}

/// Checks a cloud account for a host: it exists and its provider powers the host's type.
pub(super) async fn check_for_host<C: ConnectionTrait>(
    db: &C,
    id: i64,
    host_type: &str,
) -> AppResult<()> {
    let c = cloud_account::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::invalid("cloud_account_id", "no such cloud account"))?;
    if !cloud::fits(&c.provider, host_type) {
        return Err(AppError::invalid(
            "cloud_account_id",
            format!(
                "a {} account cannot power a host of type {host_type}",
                c.provider
            ),
        ));
    }
    Ok(())
}
