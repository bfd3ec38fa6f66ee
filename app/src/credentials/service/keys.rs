//! Users' own SSH public keys (each user manages only theirs), and the keys host init installs
//! on a host: those of enabled users who may log in to it (`login_host`).
use crate::audit::service::{record, Entry};
use crate::common::Message;
use crate::credentials::types::*;
use crate::ctx::{Actor, Ctx};
use crate::entities::{user, user_ssh_key};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::perms::service::holds_resource;
use crate::perms::types::ResourceType;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::json;

/// Keys one user may hold.
const MAX_KEYS: u64 = 20;

fn wire(k: user_ssh_key::Model) -> UserSshKey {
    UserSshKey {
        id: k.id,
        name: k.name,
        public_key: k.public_key,
        fingerprint: k.fingerprint,
        created_at: crate::time::fmt(&k.created_at),
    }
}

/// `GET /account/ssh-keys/`: the caller's keys.
pub async fn my_ssh_keys(ctx: &Ctx, actor: &Actor) -> AppResult<Vec<UserSshKey>> {
    actor.require()?;
    Ok(user_ssh_key::Entity::find()
        .filter(user_ssh_key::Column::UserId.eq(actor.id))
        .order_by_asc(user_ssh_key::Column::Id)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(wire)
        .collect())
}

/// `POST /account/ssh-keys/`: adds a public key of the caller's.
pub async fn add_my_ssh_key(
    ctx: &Ctx,
    actor: &Actor,
    input: UserSshKeyInput,
) -> AppResult<UserSshKey> {
    actor.require()?;
    if actor.id <= 0 {
        return Err(AppError::forbidden("only users have SSH keys"));
    }
    let name = input.name.trim().to_string();
    crate::common::validate::name("name", &name)?;
    let raw = input.public_key.trim();
    // One line, a key OpenSSH reads (so no options in front), at most 4 KB, its comment cut to
    // 100 characters: a user's keys stay small enough to install in one command.
    let mut parts = raw.split_whitespace();
    let (algo, blob) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let comment: String = parts
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(100)
        .collect();
    let line = format!("{algo} {blob} {comment}").trim().to_string();
    let fingerprint = (!raw.contains(['\n', '\r', '\0']) && line.len() <= 4096)
        .then(|| crate::exec::ssh::fingerprint_of(&line))
        .flatten()
        .ok_or_else(|| AppError::invalid("public_key", "not an OpenSSH public key line"))?;
    let txn = crate::db::begin(&ctx.db).await?;
    let n = user_ssh_key::Entity::find()
        .filter(user_ssh_key::Column::UserId.eq(actor.id))
        .count(&txn)
        .await?;
    if n >= MAX_KEYS {
        return Err(AppError::invalid(
            "public_key",
            format!("at most {MAX_KEYS} keys"),
        ));
    }
    let k = user_ssh_key::ActiveModel {
        user_id: Set(actor.id),
        name: Set(name),
        public_key: Set(line),
        fingerprint: Set(fingerprint.clone()),
        created_at: Set(crate::time::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|e| {
        let e: AppError = e.into();
        if e.code == ErrorCode::Conflict {
            AppError::conflict("you have this key already").with_field("public_key")
        } else {
            e
        }
    })?;
    record(
        &txn,
        actor,
        Entry::new("user", "ssh_key_add")
            .target("user", Some(actor.id), &actor.username)
            .detail(json!({"name": k.name, "fingerprint": fingerprint})),
    )
    .await?;
    txn.commit().await?;
    Ok(wire(k))
}

/// `DELETE /account/ssh-keys/{id}/`: removes one of the caller's keys (hosts keep it until
/// they are inited again).
pub async fn delete_my_ssh_key(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<Message> {
    actor.require()?;
    let txn = crate::db::begin(&ctx.db).await?;
    let k = user_ssh_key::Entity::find_by_id(id)
        .filter(user_ssh_key::Column::UserId.eq(actor.id))
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::not_found("SSH key"))?;
    user_ssh_key::Entity::delete_by_id(id).exec(&txn).await?;
    record(
        &txn,
        actor,
        Entry::new("user", "ssh_key_delete")
            .target("user", Some(actor.id), &actor.username)
            .detail(json!({"name": k.name, "fingerprint": k.fingerprint})),
    )
    .await?;
    txn.commit().await?;
    Ok(Message::success())
}

/// The login names and public keys init installs on a host: enabled users holding
/// `login_host` on it who registered keys.
pub(crate) async fn login_keys(ctx: &Ctx, host_id: i64) -> AppResult<Vec<(String, Vec<String>)>> {
    let keys = user_ssh_key::Entity::find()
        .order_by_asc(user_ssh_key::Column::UserId)
        .order_by_asc(user_ssh_key::Column::Id)
        .all(&ctx.db)
        .await?;
    let ids: Vec<i64> = keys.iter().map(|k| k.user_id).collect();
    let users: std::collections::HashMap<i64, String> = user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .filter(user::Column::Status.eq("enabled"))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.username))
        .collect();
    let mut out: Vec<(i64, String, Vec<String>)> = vec![];
    for k in keys {
        let Some(name) = users.get(&k.user_id) else {
            continue;
        };
        match out.last_mut() {
            Some(last) if last.0 == k.user_id => last.2.push(k.public_key),
            _ => {
                if holds_resource(ctx, k.user_id, ResourceType::Host, host_id, "login_host").await {
                    out.push((k.user_id, name.clone(), vec![k.public_key]));
                }
            }
        }
    }
    Ok(out.into_iter().map(|(_, n, k)| (n, k)).collect())
}
