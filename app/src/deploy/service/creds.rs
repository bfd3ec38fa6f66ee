//! Repository password credentials (`deploy_template.enable_deploy_template_mgmt`): the
//! password is encrypted under `OPSDECK_SECRET_KEY`, never answered, audited or logged.
//! (The seed's answers echo the password; Opsdeck answers `******`.)
use super::manage;
use crate::audit::service::{record, Entry};
use crate::common::{Message, Page};
use crate::crypto::Keyring;
use crate::ctx::{Actor, Ctx};
use crate::deploy::types::*;
use crate::entities::{deploy_setting, deploy_template, repository_credential};
use crate::error::{AppError, AppResult};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::json;

const CONTEXT: &str = "repository_credentials.password_enc";

pub(super) fn wire_cred(c: repository_credential::Model, creator: String) -> RepoCredential {
    RepoCredential {
        id: c.id,
        name: c.name,
        kind: c.kind,
        username: c.username,
        password: crate::exec::output::MASK.into(),
        creator,
        created_time: crate::time::fmt(&c.created_at),
        updated_time: crate::time::fmt(&c.updated_at),
    }
}

async fn load<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<repository_credential::Model> {
    repository_credential::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("repository credential"))
}

/// `GET /application/repository-credentials/password/`.
pub async fn list_repo_creds(
    ctx: &Ctx,
    actor: &Actor,
    f: RepoCredentialFilter,
) -> AppResult<Page<RepoCredential>> {
    manage(ctx, actor).await?;
    let backend = ctx.db.get_database_backend();
    let mut q = repository_credential::Entity::find();
    if let Some(n) = f.name.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        q = q.filter(crate::db::like_text(
            backend,
            "repository_credentials",
            "name",
            n,
        ));
    }
    if let Some(u) = f
        .username
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        q = q.filter(crate::db::like_text(
            backend,
            "repository_credentials",
            "username",
            u,
        ));
    }
    let count = q.clone().count(&ctx.db).await?;
    let rows = q
        .order_by_asc(repository_credential::Column::Name)
        .offset(f.page.offset())
        .limit(f.page.size())
        .all(&ctx.db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let creator = ctx.names.name_of(&ctx.db, r.creator_id).await?;
        out.push(wire_cred(r, creator));
    }
    Ok(Page::new(count, &f.page, out))
}

/// `GET /application/repository-credentials/password/{id}/`.
pub async fn get_repo_cred(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<RepoCredential> {
    manage(ctx, actor).await?;
    let c = load(&ctx.db, id).await?;
    let creator = ctx.names.name_of(&ctx.db, c.creator_id).await?;
    Ok(wire_cred(c, creator))
}

fn check_line(field: &str, v: &str, max: usize) -> AppResult<()> {
    if v.is_empty() || v.len() > max || v.chars().any(char::is_control) {
        return Err(AppError::invalid(
            field,
            format!("{field} is required: one line of at most {max} characters"),
        ));
    }
    Ok(())
}

fn taken(e: AppError, name: &str) -> AppError {
    e.taken(
        "name",
        format!("a repository credential named {name} exists"),
    )
}

/// `POST /application/repository-credentials/password/`.
pub async fn create_repo_cred(
    ctx: &Ctx,
    actor: &Actor,
    input: RepoCredentialInput,
) -> AppResult<RepoCredential> {
    manage(ctx, actor).await?;
    let name = input.name.clone().unwrap_or_default().trim().to_string();
    crate::common::validate::name("name", &name)?;
    let username = input
        .username
        .clone()
        .unwrap_or_default()
        .trim()
        .to_string();
    check_line("username", &username, 256)?;
    let password = input.password.clone().unwrap_or_default();
    check_line("password", &password, 1024)?;
    let keys = Keyring::from_config(&ctx.config)?;
    let now = crate::time::now();
    let txn = crate::db::begin(&ctx.db).await?;
    let c = repository_credential::ActiveModel {
        name: Set(name.clone()),
        kind: Set("PASSWORD".into()),
        username: Set(username),
        password_enc: Set(keys.encrypt(&password, CONTEXT)?),
        creator_id: Set((actor.id > 0).then_some(actor.id)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|e| taken(e.into(), &name))?;
    record(
        &txn,
        actor,
        Entry::new("deploy", "repo_credential_create")
            .target("repository_credential", Some(c.id), &c.name)
            .detail(json!({"username": c.username})),
    )
    .await?;
    txn.commit().await?;
    Ok(wire_cred(c, actor.username.clone()))
}

/// `PATCH /application/repository-credentials/password/{id}/` (or the bare path with `id`):
/// a new password replaces the old one.
pub async fn update_repo_cred(
    ctx: &Ctx,
    actor: &Actor,
    id: Option<i64>,
    input: RepoCredentialInput,
) -> AppResult<RepoCredential> {
    manage(ctx, actor).await?;
    let id = id
        .or(input.id)
        .ok_or_else(|| AppError::invalid("id", "which credential: send its id"))?;
    let txn = crate::db::begin(&ctx.db).await?;
    let old = load(&txn, id).await?;
    let mut am: repository_credential::ActiveModel = old.clone().into();
    if let Some(n) = &input.name {
        crate::common::validate::name("name", n.trim())?;
        am.name = Set(n.trim().to_string());
    }
    if let Some(u) = &input.username {
        check_line("username", u.trim(), 256)?;
        am.username = Set(u.trim().to_string());
    }
    if let Some(p) = &input.password {
        check_line("password", p, 1024)?;
        am.password_enc = Set(Keyring::from_config(&ctx.config)?.encrypt(p, CONTEXT)?);
    }
    am.updated_at = Set(crate::time::now());
    let c = am
        .update(&txn)
        .await
        .map_err(|e| taken(e.into(), input.name.as_deref().unwrap_or_default()))?;
    record(
        &txn,
        actor,
        Entry::new("deploy", "repo_credential_update")
            .target("repository_credential", Some(c.id), &c.name)
            .detail(
                json!({"before": {"name": old.name, "username": old.username},
                           "after": {"name": c.name, "username": c.username},
                           "password_replaced": input.password.is_some()}),
            ),
    )
    .await?;
    txn.commit().await?;
    let creator = ctx.names.name_of(&ctx.db, c.creator_id).await?;
    Ok(wire_cred(c, creator))
}

/// `DELETE /application/repository-credentials/password/{id}/`: refused while configurations
/// use it.
pub async fn delete_repo_cred(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<Message> {
    manage(ctx, actor).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    let c = load(&txn, id).await?;
    let n = deploy_template::Entity::find()
        .filter(deploy_template::Column::RepoCredentialId.eq(id))
        .count(&txn)
        .await?
        + deploy_setting::Entity::find()
            .filter(deploy_setting::Column::RepoCredentialId.eq(id))
            .count(&txn)
            .await?;
    if n > 0 {
        return Err(AppError::conflict(format!(
            "{n} deploy template(s) or application setting(s) use repository credential {}",
            c.name
        )));
    }
    repository_credential::Entity::delete_by_id(id)
        .exec(&txn)
        .await?;
    record(
        &txn,
        actor,
        Entry::new("deploy", "repo_credential_delete").target(
            "repository_credential",
            Some(id),
            &c.name,
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(Message::success())
}

/// A credential as configurations answer it (password masked), if it still exists.
pub(super) async fn cred_ref<C: ConnectionTrait>(
    db: &C,
    id: Option<i64>,
) -> AppResult<Option<RepoCredential>> {
    let Some(id) = id else { return Ok(None) };
    Ok(repository_credential::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(|c| wire_cred(c, String::new())))
}

/// A repository credential's user name and password, for fetching a package from the
/// repository's host (never answered).
pub(crate) async fn repo_login(ctx: &Ctx, id: i64) -> AppResult<(String, String)> {
    let c = load(&ctx.db, id).await?;
    let p = Keyring::from_config(&ctx.config)?
        .decrypt(&c.password_enc, CONTEXT)
        .map_err(|_| {
            AppError::internal(format!(
                "repository credential {} cannot be decrypted",
                c.name
            ))
        })?;
    Ok((c.username, p))
}
