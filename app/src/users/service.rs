//! User services.
use super::types::*;
use crate::audit::service::{record, Entry};
use crate::common::{validate, Message, Page};
use crate::ctx::{Actor, Ctx};
use crate::entities::{role, user, user_role};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::perms::casbin::SUPERUSER_ROLE;
use crate::perms::service::{authorize_module, may_module};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::json;
use std::collections::HashMap;

fn snapshot(u: &user::Model) -> serde_json::Value {
    json!({ "username": u.username, "email": u.email, "phone": u.phone, "display_name": u.display_name, "status": u.status })
}

async fn load(ctx: &Ctx, id: i64) -> AppResult<user::Model> {
    user::Entity::find_by_id(id)
        .one(&ctx.db)
        .await?
        .ok_or_else(|| AppError::not_found("user"))
}

/// Maps users to the wire type, loading their roles in one query.
async fn to_wire(ctx: &Ctx, actor: &Actor, users: Vec<user::Model>) -> AppResult<Vec<User>> {
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    let links = user_role::Entity::find()
        .filter(user_role::Column::UserId.is_in(ids))
        .all(&ctx.db)
        .await?;
    let role_ids: Vec<i64> = links.iter().map(|l| l.role_id).collect();
    let roles: HashMap<i64, role::Model> = role::Entity::find()
        .filter(role::Column::Id.is_in(role_ids))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let manage = may_module(ctx, actor, "system", "manage_users").await;
    let actions = UserActions {
        edit: manage,
        disable: manage,
        grant: may_module(ctx, actor, "system", "grant_perms").await,
    };
    Ok(users
        .into_iter()
        .map(|u| {
            let mine: Vec<&role::Model> = links
                .iter()
                .filter(|l| l.user_id == u.id)
                .filter_map(|l| roles.get(&l.role_id))
                .collect();
            User {
                id: u.id,
                superuser: mine.iter().any(|r| r.builtin && r.name == SUPERUSER_ROLE),
                roles: mine
                    .iter()
                    .map(|r| RoleRef {
                        id: r.id,
                        name: r.name.clone(),
                    })
                    .collect(),
                username: u.username,
                email: u.email,
                phone: u.phone,
                display_name: u.display_name,
                status: u.status,
                last_login_at: crate::time::fmt_opt(&u.last_login_at),
                created_at: crate::time::fmt(&u.created_at),
                available_actions: UserActions {
                    disable: actions.disable && u.id != actor.id,
                    ..actions.clone()
                },
            }
        })
        .collect())
}

/// `GET /users/`: users matching the filter.
pub async fn list(ctx: &Ctx, actor: &Actor, f: UserFilter) -> AppResult<Page<User>> {
    authorize_module(ctx, actor, "system", "view_users").await?;
    use user::Column as C;
    let mut q = user::Entity::find();
    if let Some(v) = f.username.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(C::Username.contains(v));
    }
    if let Some(v) = f.email.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(C::Email.contains(v));
    }
    if let Some(v) = f.phone.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(C::Phone.contains(v));
    }
    if let Some(v) = f.status.as_deref().filter(|s| !s.is_empty()) {
        if v != "enabled" && v != "disabled" {
            return Err(AppError::invalid("status", "status is enabled or disabled"));
        }
        q = q.filter(C::Status.eq(v));
    }
    if let Some(v) = f.q.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(
            Condition::any()
                .add(C::Username.contains(v))
                .add(C::Email.contains(v))
                .add(C::Phone.contains(v))
                .add(C::DisplayName.contains(v)),
        );
    }
    let count = q.clone().count(&ctx.db).await?;
    let rows = q
        .order_by_asc(C::Id)
        .offset(f.page.offset())
        .limit(f.page.size())
        .all(&ctx.db)
        .await?;
    Ok(Page::new(count, &f.page, to_wire(ctx, actor, rows).await?))
}

/// `GET /users/{id}/`: one user (anyone may read their own).
pub async fn get(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<User> {
    if actor.id != id {
        authorize_module(ctx, actor, "system", "view_users").await?;
    }
    actor.require()?;
    let u = load(ctx, id).await?;
    Ok(to_wire(ctx, actor, vec![u]).await?.remove(0))
}

fn check_profile(
    email: Option<&str>,
    phone: Option<&str>,
    display_name: Option<&str>,
) -> AppResult<()> {
    if let Some(e) = email {
        validate::email(e, false)?;
    }
    if let Some(p) = phone {
        validate::phone(p)?;
    }
    if display_name.is_some_and(|d| d.chars().count() > 64) {
        return Err(AppError::invalid(
            "display_name",
            "must be at most 64 characters",
        ));
    }
    Ok(())
}

/// `POST /users/`: creates a user (the seed leaves creation out; Opsdeck adds it). Only a
/// superuser may give the password; otherwise (and whenever none is given) the account gets an
/// unusable random one and the new user is mailed a link to choose theirs, so the creator never
/// knows the password of an account they may then hand rights to (an e-mail is then required).
pub async fn create(ctx: &Ctx, actor: &Actor, input: CreateUser) -> AppResult<User> {
    authorize_module(ctx, actor, "system", "manage_users").await?;
    let username = input.username.trim().to_string();
    validate::username(&username)?;
    let with_password = !input.password.is_empty();
    if with_password {
        if !crate::perms::service::is_superuser(ctx, actor.id).await {
            return Err(AppError::forbidden(
                "only a superuser sets another user's password: leave it out and the new user \
                 is mailed a link to choose one",
            )
            .with_field("password"));
        }
        validate::password("password", &input.password)?;
    } else if input.email.trim().is_empty() {
        return Err(AppError::invalid(
            "email",
            "an e-mail address is needed: the new user is mailed a link to choose a password",
        ));
    }
    check_profile(
        Some(&input.email),
        Some(&input.phone),
        Some(&input.display_name),
    )?;
    let password = if with_password {
        input.password.clone()
    } else {
        crate::security::random_token(32)
    };
    let password_hash = crate::security::hash_password_off(&password).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    if user::Entity::find()
        .filter(user::Column::Username.eq(&username))
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(
            AppError::conflict(format!("user {username} already exists")).with_field("username"),
        );
    }
    let now = crate::time::now();
    let u = user::ActiveModel {
        username: Set(username),
        email: Set(input.email.trim().to_string()),
        phone: Set(input.phone.trim().to_string()),
        display_name: Set(input.display_name.trim().to_string()),
        password_hash: Set(password_hash),
        status: Set("enabled".into()),
        locale: Set("en".into()),
        last_login_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    if !with_password {
        crate::auth::service::queue_reset_mail(&txn, ctx, &u, true).await?;
    }
    record(
        &txn,
        actor,
        Entry::new("user", "add")
            .target("user", Some(u.id), &u.username)
            .detail(json!({
                "before": null,
                "after": snapshot(&u),
                "password": if with_password { "set by creator" } else { "mailed link" },
            })),
    )
    .await?;
    txn.commit().await?;
    if !with_password {
        ctx.jobs_notify.notify_one();
    }
    Ok(to_wire(ctx, actor, vec![u]).await?.remove(0))
}

/// `PATCH /users/{id}/`: e-mail, phone, display name (anyone may edit their own). Another user's
/// profile needs `system.manage_users` and holding everything they hold (`perms::guard`); only a
/// superuser changes another user's e-mail (the reset link goes there). One's own e-mail changes
/// only in a signed-in session (not with an API token) and with `current_password`.
pub async fn update(ctx: &Ctx, actor: &Actor, id: i64, input: UpdateUser) -> AppResult<User> {
    if actor.id != id {
        authorize_module(ctx, actor, "system", "manage_users").await?;
    }
    actor.require()?;
    check_profile(
        input.email.as_deref(),
        input.phone.as_deref(),
        input.display_name.as_deref(),
    )?;
    let new_email = input.email.as_deref().map(str::trim);
    let email_changes = |u: &user::Model| new_email.is_some_and(|e| e != u.email);
    // One's own e-mail decides where reset links go: a copied API token or an unattended session
    // must not be enough to take the account over. Checked before the write transaction (Argon2
    // must not hold the writer lock) and confirmed inside it.
    let mut checked_hash = None;
    if actor.id == id {
        let current = load(ctx, id).await?;
        if email_changes(&current) {
            if actor.via_token.is_some() {
                return Err(AppError::forbidden(
                    "your e-mail cannot be changed with an API token: sign in and give your \
                     current password",
                )
                .with_field("email"));
            }
            let password = input.current_password.as_deref().unwrap_or_default();
            if password.is_empty() {
                return Err(AppError::invalid(
                    "current_password",
                    "give your current password to change your e-mail",
                ));
            }
            crate::auth::service::check_current_password(
                ctx,
                &current,
                password,
                "current_password",
            )
            .await?;
            checked_hash = Some(current.password_hash);
        }
    }
    let txn = crate::db::begin(&ctx.db).await?;
    let before = user::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::not_found("user"))?;
    if actor.id != id {
        // What the target holds cannot change under the check (grants and roles take this lock).
        crate::db::lock_structure(&txn).await?;
        crate::perms::guard::ensure_covers(ctx, &txn, actor, id).await?;
        if email_changes(&before) && !crate::perms::service::is_superuser(ctx, actor.id).await {
            return Err(AppError::forbidden(
                "only a superuser changes another user's e-mail (password-reset links go there)",
            )
            .with_field("email"));
        }
    } else if email_changes(&before)
        && checked_hash.as_deref() != Some(before.password_hash.as_str())
    {
        return Err(AppError::conflict(
            "your account changed meanwhile; reload and try again",
        ));
    }
    let mut am: user::ActiveModel = before.clone().into();
    if let Some(v) = input.email {
        am.email = Set(v.trim().to_string());
    }
    if let Some(v) = input.phone {
        am.phone = Set(v.trim().to_string());
    }
    if let Some(v) = input.display_name {
        am.display_name = Set(v.trim().to_string());
    }
    am.updated_at = Set(crate::time::now());
    let after = am.update(&txn).await?;
    if after.email != before.email {
        // Links mailed to the old address (a welcome link included) must not outlive it.
        close_reset_links(&txn, id).await?;
    }
    record(
        &txn,
        actor,
        Entry::new("user", "update")
            .target("user", Some(id), &after.username)
            .change(snapshot(&before), snapshot(&after)),
    )
    .await?;
    txn.commit().await?;
    crate::tokens::service::forget_tokens(ctx);
    Ok(to_wire(ctx, actor, vec![after]).await?.remove(0))
}

/// `POST /users/{id}/actions/enable|disable/`. A disabled user can neither log in nor use tokens.
/// Needs `system.manage_users` and holding everything the user holds (`perms::guard`).
pub async fn set_status(ctx: &Ctx, actor: &Actor, id: i64, enabled: bool) -> AppResult<Message> {
    authorize_module(ctx, actor, "system", "manage_users").await?;
    if !enabled && actor.id == id {
        return Err(AppError::bad_request("you cannot disable yourself"));
    }
    let txn = crate::db::begin(&ctx.db).await?;
    let before = user::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::not_found("user"))?;
    crate::db::lock_structure(&txn).await?;
    crate::perms::guard::ensure_covers(ctx, &txn, actor, id).await?;
    let status = if enabled { "enabled" } else { "disabled" };
    if before.status != status {
        let mut am: user::ActiveModel = before.clone().into();
        am.status = Set(status.into());
        am.updated_at = Set(crate::time::now());
        let after = am.update(&txn).await?;
        record(
            &txn,
            actor,
            Entry::new("user", if enabled { "enable" } else { "disable" })
                .target("user", Some(id), &after.username)
                .change(snapshot(&before), snapshot(&after)),
        )
        .await?;
    }
    txn.commit().await?;
    crate::tokens::service::forget_tokens(ctx);
    Ok(Message::success())
}

/// `POST /users/{id}/actions/change-password/`: the user's own password; error 300001 when the
/// original password is wrong.
pub async fn change_password(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    input: ChangePassword,
) -> AppResult<Message> {
    actor.require()?;
    if actor.id != id {
        return Err(AppError::forbidden("you can only change your own password"));
    }
    validate::password("new_password", &input.new_password)?;
    // Checked under the login throttle (per user) and before the write transaction, so Argon2
    // never holds the writer lock; the hash is confirmed unchanged inside it.
    let current = load(ctx, id).await?;
    crate::auth::service::check_current_password(
        ctx,
        &current,
        &input.original_password,
        "original_password",
    )
    .await?;
    let new_hash = crate::security::hash_password_off(&input.new_password).await?;
    let txn = crate::db::begin(&ctx.db).await?;
    let u = user::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::not_found("user"))?;
    if u.password_hash != current.password_hash {
        return Err(AppError::new(
            ErrorCode::WrongOriginalPassword,
            "the original password is wrong",
        )
        .with_field("original_password"));
    }
    set_password(&txn, actor, u, new_hash, "change_password").await?;
    txn.commit().await?;
    crate::tokens::service::forget_tokens(ctx);
    Ok(Message::success())
}

/// Stores a new password hash (made by the caller with `security::hash_password_off` before its
/// transaction, so Argon2 never holds the writer lock), revokes every API token of the user (a
/// changed or reset password must also shut out whoever copied a token; the caller clears the
/// token cache after commit with `tokens::service::forget_tokens`), marks every open reset link
/// of the user used, and audits (the hash itself is never audited).
pub async fn set_password<C: sea_orm::ConnectionTrait>(
    db: &C,
    actor: &Actor,
    u: user::Model,
    password_hash: String,
    op: &str,
) -> AppResult<()> {
    let (id, name) = (u.id, u.username.clone());
    let mut am: user::ActiveModel = u.into();
    am.password_hash = Set(password_hash);
    am.updated_at = Set(crate::time::now());
    am.update(db).await?;
    let revoked = crate::entities::api_token::Entity::delete_many()
        .filter(crate::entities::api_token::Column::UserId.eq(id))
        .exec(db)
        .await?
        .rows_affected;
    // Every other open reset link of the user dies with the old password.
    close_reset_links(db, id).await?;
    record(
        db,
        actor,
        Entry::new("user", op)
            .target("user", Some(id), name)
            .detail(json!({"tokens_revoked": revoked})),
    )
    .await
}

/// Marks every open reset link of user `id` used (a new password, a changed e-mail).
async fn close_reset_links<C: sea_orm::ConnectionTrait>(db: &C, id: i64) -> AppResult<()> {
    use crate::entities::password_reset;
    password_reset::Entity::update_many()
        .col_expr(
            password_reset::Column::UsedAt,
            sea_orm::sea_query::Expr::value(Some(crate::time::now())),
        )
        .filter(password_reset::Column::UserId.eq(id))
        .filter(password_reset::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Creates the bootstrap administrator (member of the superuser role) if no such user exists.
/// Answers the generated password when none was given and the user was created. The e-mail comes
/// from `OPSDECK_ADMIN_EMAIL` (`Config::admin_email`): set at creation, or on an existing
/// administrator whose e-mail is still empty (never overwriting one set since).
pub async fn ensure_admin(
    ctx: &Ctx,
    username: &str,
    password: Option<&str>,
) -> AppResult<Option<String>> {
    validate::username(username)?;
    let email = ctx
        .config
        .admin_email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    if let Some(e) = email {
        validate::email(e, false)?;
    }
    let su = crate::roles::service::ensure_superuser_role(ctx).await?;
    if let Some(u) = user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(&ctx.db)
        .await?
    {
        if let Some(e) = email.filter(|_| u.email.is_empty()) {
            let txn = crate::db::begin(&ctx.db).await?;
            let mut am: user::ActiveModel = u.clone().into();
            am.email = Set(e.to_string());
            am.updated_at = Set(crate::time::now());
            let after = am.update(&txn).await?;
            record(
                &txn,
                &Actor::system(),
                Entry::new("user", "update")
                    .target("user", Some(u.id), &u.username)
                    .change(snapshot(&u), snapshot(&after)),
            )
            .await?;
            txn.commit().await?;
        }
        if user_role::Entity::find_by_id((u.id, su.id))
            .one(&ctx.db)
            .await?
            .is_none()
        {
            crate::roles::service::add_member_unchecked(ctx, u.id, su.id).await?;
        }
        return Ok(None);
    }
    let generated = password
        .is_none()
        .then(|| crate::security::random_token(12));
    let pw = password
        .map(str::to_string)
        .or(generated.clone())
        .unwrap_or_default();
    validate::password("password", &pw)?;
    let password_hash = crate::security::hash_password_off(&pw).await?;
    let now = crate::time::now();
    let txn = crate::db::begin(&ctx.db).await?;
    let u = user::ActiveModel {
        username: Set(username.into()),
        email: Set(email.unwrap_or_default().to_string()),
        phone: Set(String::new()),
        display_name: Set("Administrator".into()),
        password_hash: Set(password_hash),
        status: Set("enabled".into()),
        locale: Set("en".into()),
        last_login_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    record(
        &txn,
        &Actor::system(),
        Entry::new("user", "add")
            .target("user", Some(u.id), &u.username)
            .detail(json!({"bootstrap": true})),
    )
    .await?;
    txn.commit().await?;
    crate::roles::service::add_member_unchecked(ctx, u.id, su.id).await?;
    Ok(generated)
}

/// One user by exact username (forms that take a name rather than an id). Same rule as `get`.
pub async fn by_username(ctx: &Ctx, actor: &Actor, username: &str) -> AppResult<User> {
    actor.require()?;
    let u = user::Entity::find()
        .filter(user::Column::Username.eq(username.trim()))
        .one(&ctx.db)
        .await?;
    // Checked before answering "no such user", so names cannot be probed without the permission.
    if u.as_ref().map(|u| u.id) != Some(actor.id) {
        authorize_module(ctx, actor, "system", "view_users").await?;
    }
    let u = u.ok_or_else(|| AppError::not_found("user").with_field("username"))?;
    Ok(to_wire(ctx, actor, vec![u]).await?.remove(0))
}

/// Usernames by id, kept per process for lists that name many users (requests, their login
/// users). A username never changes and an id is never reused (PostgreSQL sequences, SQLite
/// `AUTOINCREMENT`), so an entry cannot go stale and needs no invalidation, in this process or
/// another; a deleted user keeps his name here. (Restoring an older backup into a running
/// database, or resetting its sequences, breaks the second premise: restart Opsdeck after it.)
/// It reads through `&DatabaseConnection` only, never a transaction: a rolled-back insert's id
/// is given again on SQLite, so only committed rows may fill it. Bounded: cleared past `NameCache::MAX`.
/// The id of the user named `name`, for `creator=` filters of lists: `-1` (which matches
/// nothing) when there is no such user.
pub async fn creator_filter_id(db: &sea_orm::DatabaseConnection, name: &str) -> AppResult<i64> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
    Ok(crate::entities::user::Entity::find()
        .select_only()
        .column(crate::entities::user::Column::Id)
        .filter(crate::entities::user::Column::Username.eq(name))
        .into_tuple::<i64>()
        .one(db)
        .await?
        .unwrap_or(-1))
}

#[derive(Default)]
pub struct NameCache {
    map: std::sync::RwLock<HashMap<i64, String>>,
}

impl NameCache {
    const MAX: usize = 100_000;

    /// The username of `id` (empty for none, or an id that never existed).
    pub async fn name_of(
        &self,
        db: &sea_orm::DatabaseConnection,
        id: Option<i64>,
    ) -> AppResult<String> {
        match id {
            Some(id) => Ok(self.names(db, [id]).await?.remove(&id).unwrap_or_default()),
            None => Ok(String::new()),
        }
    }

    /// The usernames of `ids` that exist, reading only those not known yet.
    pub async fn names(
        &self,
        db: &sea_orm::DatabaseConnection,
        ids: impl IntoIterator<Item = i64>,
    ) -> AppResult<HashMap<i64, String>> {
        let mut out = HashMap::new();
        let mut missing = vec![];
        {
            let m = self.map.read().unwrap_or_else(|e| e.into_inner());
            let ids: std::collections::BTreeSet<i64> = ids.into_iter().collect();
            for id in ids {
                match m.get(&id) {
                    Some(n) => {
                        out.insert(id, n.clone());
                    }
                    None => missing.push(id),
                }
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let rows: Vec<(i64, String)> = user::Entity::find()
            .select_only()
            .columns([user::Column::Id, user::Column::Username])
            .filter(user::Column::Id.is_in(missing))
            .into_tuple()
            .all(db)
            .await?;
        let mut m = self.map.write().unwrap_or_else(|e| e.into_inner());
        if m.len() + rows.len() > Self::MAX {
            m.clear();
        }
        for (id, n) in rows {
            m.insert(id, n.clone());
            out.insert(id, n);
        }
        Ok(out)
    }
}
