//! API token services. A token's value is shown once; only its SHA-256 and prefix are stored.
use super::types::*;
use crate::audit::service::{record, Entry};
use crate::common::{validate, Message, Page};
use crate::ctx::{Actor, Ctx};
use crate::entities::{api_token, user};
use crate::error::{AppError, AppResult};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::json;

/// Value prefix that marks Opsdeck tokens (helps secret scanners).
pub const TOKEN_PREFIX: &str = "odk_";
const SHOWN_PREFIX_LEN: usize = 12;

fn to_wire(t: api_token::Model, creator: &str, value: Option<String>) -> Token {
    Token {
        id: t.id,
        name: t.name,
        description: t.description,
        prefix: t.prefix,
        value,
        creator: creator.to_string(),
        expires_at: crate::time::fmt_opt(&t.expires_at),
        last_used_at: crate::time::fmt_opt(&t.last_used_at),
        created_at: crate::time::fmt(&t.created_at),
        available_actions: TokenActions {
            edit: true,
            delete: true,
        },
    }
}

async fn own(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<api_token::Model> {
    actor.require()?;
    api_token::Entity::find_by_id(id)
        .filter(api_token::Column::UserId.eq(actor.id))
        .one(&ctx.db)
        .await?
        .ok_or_else(|| AppError::not_found("token"))
}

/// `GET /auth-tokens/`: the caller's own tokens.
pub async fn list(ctx: &Ctx, actor: &Actor, f: TokenFilter) -> AppResult<Page<Token>> {
    actor.require()?;
    let mut q = api_token::Entity::find().filter(api_token::Column::UserId.eq(actor.id));
    if let Some(v) = f.name.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(api_token::Column::Name.contains(v));
    }
    if let Some(v) = f.description.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(api_token::Column::Description.contains(v));
    }
    if let Some(v) = f.value.as_deref().filter(|s| !s.is_empty()) {
        // A full value is matched by its hash; a fragment by the stored prefix.
        q = q.filter(
            sea_orm::Condition::any()
                .add(api_token::Column::TokenHash.eq(crate::security::sha256_hex(v)))
                .add(
                    api_token::Column::Prefix
                        .starts_with(v.chars().take(SHOWN_PREFIX_LEN).collect::<String>()),
                ),
        );
    }
    let count = q.clone().count(&ctx.db).await?;
    let rows = q
        .order_by_desc(api_token::Column::Id)
        .offset(f.page.offset())
        .limit(f.page.size())
        .all(&ctx.db)
        .await?;
    Ok(Page::new(
        count,
        &f.page,
        rows.into_iter()
            .map(|t| to_wire(t, &actor.username, None))
            .collect(),
    ))
}

/// `GET /auth-tokens/{id}/`.
pub async fn get(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<Token> {
    Ok(to_wire(own(ctx, actor, id).await?, &actor.username, None))
}

/// `POST /auth-tokens/`: creates a token; the answer carries its value, this once. A request
/// authenticated by a token cannot create one that expires later than its own (400).
pub async fn create(ctx: &Ctx, actor: &Actor, input: TokenInput) -> AppResult<Token> {
    actor.require()?;
    let name = input.name.unwrap_or_default().trim().to_string();
    validate::name("name", &name)?;
    if input.expires_in_days == Some(0) || input.expires_in_days.is_some_and(|d| d > 3650) {
        return Err(AppError::invalid(
            "expires_in_days",
            "must be between 1 and 3650 days",
        ));
    }
    let now = crate::time::now();
    let expires_at = input
        .expires_in_days
        .map(|d| now + chrono::Duration::days(d as i64));
    // A token cannot mint a token that outlives it (a stolen short-lived token would otherwise
    // buy a permanent one): refused, naming the longest lifetime still allowed.
    if let Some(limit) = actor.via_token.as_ref().and_then(|t| t.expires_at) {
        if expires_at.is_none_or(|e| e > limit) {
            let days = (limit - now).num_days();
            return Err(AppError::invalid(
                "expires_in_days",
                if days >= 1 {
                    format!("a token cannot outlive the token that creates it: at most {days} days")
                } else {
                    "a token cannot outlive the token that creates it, which expires within a day"
                        .to_string()
                },
            ));
        }
    }
    let value = format!("{TOKEN_PREFIX}{}", crate::security::random_token(20));
    let txn = crate::db::begin(&ctx.db).await?;
    let t = api_token::ActiveModel {
        user_id: Set(actor.id),
        name: Set(name),
        description: Set(input.description.unwrap_or_default()),
        prefix: Set(value[..SHOWN_PREFIX_LEN].to_string()),
        token_hash: Set(crate::security::sha256_hex(&value)),
        expires_at: Set(expires_at),
        last_used_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    record(
        &txn,
        actor,
        Entry::new("token", "add")
            .target("token", Some(t.id), &t.name)
            .detail(json!({"prefix": t.prefix, "expires_at": crate::time::fmt_opt(&t.expires_at)})),
    )
    .await?;
    txn.commit().await?;
    Ok(to_wire(t, &actor.username, Some(value)))
}

/// `PATCH /auth-tokens/{id}/`: name and description.
pub async fn update(ctx: &Ctx, actor: &Actor, id: i64, input: TokenInput) -> AppResult<Token> {
    let before = own(ctx, actor, id).await?;
    let mut am: api_token::ActiveModel = before.clone().into();
    if let Some(n) = input.name {
        validate::name("name", &n)?;
        am.name = Set(n.trim().to_string());
    }
    if let Some(d) = input.description {
        am.description = Set(d);
    }
    let txn = crate::db::begin(&ctx.db).await?;
    let after = am.update(&txn).await?;
    record(
        &txn,
        actor,
        Entry::new("token", "update")
            .target("token", Some(id), &after.name)
            .change(
                json!({"name": before.name, "description": before.description}),
                json!({"name": after.name, "description": after.description}),
            ),
    )
    .await?;
    txn.commit().await?;
    Ok(to_wire(after, &actor.username, None))
}

/// `DELETE /auth-tokens/{id}/`: revokes the token at once.
pub async fn delete(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<Message> {
    let t = own(ctx, actor, id).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    api_token::Entity::delete_by_id(id).exec(&txn).await?;
    record(
        &txn,
        actor,
        Entry::new("token", "delete")
            .target("token", Some(id), &t.name)
            .detail(json!({"prefix": t.prefix})),
    )
    .await?;
    txn.commit().await?;
    forget_tokens(ctx);
    Ok(Message::success())
}

/// Per process: tokens recently resolved, with their owners, for `TOKEN_CACHE_SECS`. Scripts
/// call the API in bursts, and the lookup was a quarter of a short request's work. Revoking a
/// token and changing or disabling its owner clear it (`forget_tokens`), so in this process they
/// take effect at once; another process sharing the database sees them within the TTL.
#[derive(Default)]
pub struct TokenCache {
    entries: std::sync::Mutex<
        std::collections::HashMap<String, (std::time::Instant, api_token::Model, user::Model)>,
    >,
}

const TOKEN_CACHE_SECS: u64 = 5;
const TOKEN_CACHE_ENTRIES: usize = 10_000;

/// Drops every cached token resolution (a token was revoked, or a user changed).
pub fn forget_tokens(ctx: &Ctx) {
    ctx.tokens.entries.lock().expect("token cache").clear();
}

/// Resolves a presented token to its enabled, unexpired owner.
pub async fn authenticate(ctx: &Ctx, value: &str) -> AppResult<user::Model> {
    Ok(authenticate_token(ctx, value).await?.0)
}

/// Like `authenticate`, and answers the token too (the request layer keeps its expiry).
pub async fn authenticate_token(
    ctx: &Ctx,
    value: &str,
) -> AppResult<(user::Model, api_token::Model)> {
    let hash = crate::security::sha256_hex(value);
    let hit = {
        let entries = ctx.tokens.entries.lock().expect("token cache");
        entries
            .get(&hash)
            .filter(|(at, _, _)| at.elapsed().as_secs() < TOKEN_CACHE_SECS)
            .map(|(_, t, u)| (t.clone(), Some(u.clone())))
    };
    let (t, u) = match hit {
        Some(found) => found,
        None => {
            // One query for the token and its owner.
            let (t, u) = api_token::Entity::find()
                .filter(api_token::Column::TokenHash.eq(hash.clone()))
                .find_also_related(user::Entity)
                .one(&ctx.db)
                .await?
                .ok_or_else(|| {
                    AppError::new(crate::error::ErrorCode::Unauthenticated, "invalid token")
                })?;
            if let Some(owner) = &u {
                let mut entries = ctx.tokens.entries.lock().expect("token cache");
                if entries.len() >= TOKEN_CACHE_ENTRIES {
                    entries.clear();
                }
                entries.insert(hash, (std::time::Instant::now(), t.clone(), owner.clone()));
            }
            (t, u)
        }
    };
    let now = crate::time::now();
    if t.expires_at.is_some_and(|e| e <= now) {
        return Err(AppError::new(
            crate::error::ErrorCode::Unauthenticated,
            "token expired",
        ));
    }
    let u = u.ok_or_else(AppError::unauthenticated)?;
    if u.status != "enabled" {
        return Err(AppError::new(
            crate::error::ErrorCode::Unauthenticated,
            "user disabled",
        ));
    }
    // Record use at most once a minute per token, to keep reads cheap.
    if t.last_used_at
        .is_none_or(|l| now - l > chrono::Duration::minutes(1))
    {
        let mut am: api_token::ActiveModel = t.into();
        am.last_used_at = Set(Some(now));
        let t = am.update(&ctx.db).await?;
        if let Some(e) = ctx
            .tokens
            .entries
            .lock()
            .expect("token cache")
            .get_mut(&t.token_hash)
        {
            e.1 = t.clone();
        }
        return Ok((u, t));
    }
    Ok((u, t))
}
